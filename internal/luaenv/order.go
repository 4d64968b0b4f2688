package luaenv

import (
	"math"
	"math/bits"

	lua "github.com/yuin/gopher-lua"
)

// tableEntries returns t's keys and values in the order Lua 5.1's lua_next
// visits them in Redis, which is the order cjson and cmsgpack write them:
// gopher-lua keeps tables differently, so the keys are inserted, in
// gopher-lua's order (array part, then insertion order), into a model of
// Lua 5.1's table (ltable.c: array part, hash nodes with their main
// positions, collisions and rehashes) and read back from it. The order is
// Redis's for tables built key by key (cjson.decode's and cmsgpack's among
// them); a constructor such as {a=1, b=2} presizes Lua's table, so colliding
// keys may come out in another order, and keys that are tables, functions
// or coroutines hash by their address in Lua, which no model has.
func tableEntries(t *lua.LTable) (keys, vals []lua.LValue) {
	var m luaTable
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		m.insert(k)
	}
	for i, set := range m.array {
		if set {
			keys = append(keys, lua.LNumber(i+1))
		}
	}
	for _, n := range m.nodes {
		if n.key != nil {
			keys = append(keys, n.key)
		}
	}
	vals = make([]lua.LValue, len(keys))
	for i, k := range keys {
		vals[i] = t.RawGet(k)
	}
	return keys, vals
}

// luaMaxBits is ltable.c's MAXBITS: array parts hold up to 2^26 slots.
const luaMaxBits = 26

type luaNode struct {
	key  lua.LValue // nil: free
	next int        // the next node of the chain, -1 for none
}

// luaTable models the layout of a Lua 5.1 table whose values are all
// non-nil: which array slots are set, and the hash nodes.
type luaTable struct {
	array    []bool
	nodes    []luaNode // nil: Lua's dummy node
	lastFree int
}

// luaStringHash is the hash Lua 5.1 gives a string.
func luaStringHash(s string) uint32 {
	l := len(s)
	h := uint32(l)
	step := l>>5 + 1
	for l1 := l; l1 >= step; l1 -= step {
		h ^= (h << 5) + (h >> 2) + uint32(s[l1-1])
	}
	return h
}

// mainPosition is the node key hashes to.
func (t *luaTable) mainPosition(key lua.LValue) int {
	size := uint32(len(t.nodes))
	if size == 0 {
		return 0
	}
	switch k := key.(type) {
	case lua.LNumber:
		if k == 0 {
			return 0
		}
		b := math.Float64bits(float64(k))
		return int((uint32(b) + uint32(b>>32)) % ((size - 1) | 1))
	case lua.LString:
		return int(luaStringHash(string(k)) & (size - 1))
	case lua.LBool:
		if k {
			return int(1 & (size - 1))
		}
	}
	return 0
}

// arrayIndex returns key as an array index, or 0.
func arrayIndex(key lua.LValue) int {
	n, ok := key.(lua.LNumber)
	if !ok {
		return 0
	}
	f := float64(n)
	if f != math.Trunc(f) || f < 1 || f > 1<<luaMaxBits {
		return 0
	}
	return int(f)
}

func ceilLog2(x int) int { return bits.Len(uint(x - 1)) }

func (t *luaTable) insert(key lua.LValue) {
	if k := arrayIndex(key); k >= 1 && k <= len(t.array) {
		t.array[k-1] = true
		return
	}
	mp := t.mainPosition(key)
	if t.nodes == nil || t.nodes[mp].key != nil {
		free := t.freePosition()
		if free < 0 {
			t.rehash(key)
			t.insert(key)
			return
		}
		other := t.mainPosition(t.nodes[mp].key)
		if other != mp {
			// The node in the way is not in its main position: move it.
			for t.nodes[other].next != mp {
				other = t.nodes[other].next
			}
			t.nodes[other].next = free
			t.nodes[free] = t.nodes[mp]
			t.nodes[mp] = luaNode{next: -1}
		} else {
			t.nodes[free].next = t.nodes[mp].next
			t.nodes[mp].next = free
			mp = free
		}
	}
	t.nodes[mp].key = key
}

func (t *luaTable) freePosition() int {
	for t.lastFree > 0 {
		t.lastFree--
		if t.nodes[t.lastFree].key == nil {
			return t.lastFree
		}
	}
	return -1
}

// rehash resizes the table for its keys and the new key ek, as ltable.c's
// rehash and computesizes choose the sizes.
func (t *luaTable) rehash(ek lua.LValue) {
	var nums [luaMaxBits + 1]int
	count := func(k int) {
		if k > 0 {
			nums[ceilLog2(k)]++
		}
	}
	nasize := 0
	for i, set := range t.array {
		if set {
			count(i + 1)
			nasize++
		}
	}
	total := nasize
	for _, n := range t.nodes {
		if n.key != nil {
			if k := arrayIndex(n.key); k > 0 {
				count(k)
				nasize++
			}
			total++
		}
	}
	if k := arrayIndex(ek); k > 0 {
		count(k)
		nasize++
	}
	total++
	a, na, n := 0, 0, 0
	for i, twotoi := 0, 1; twotoi/2 < nasize && i <= luaMaxBits; i, twotoi = i+1, twotoi*2 {
		if nums[i] > 0 {
			a += nums[i]
			if a > twotoi/2 {
				n, na = twotoi, a
			}
		}
	}
	t.resize(n, total-na)
}

func (t *luaTable) resize(nasize, nhsize int) {
	oldArray, oldNodes := t.array, t.nodes
	if nasize > len(oldArray) {
		t.array = append(t.array, make([]bool, nasize-len(oldArray))...)
	}
	t.nodes = nil
	if nhsize > 0 {
		t.nodes = make([]luaNode, 1<<ceilLog2(nhsize))
		for i := range t.nodes {
			t.nodes[i].next = -1
		}
	}
	t.lastFree = len(t.nodes)
	if nasize < len(oldArray) {
		t.array = t.array[:nasize]
		for i := nasize; i < len(oldArray); i++ {
			if oldArray[i] {
				t.insert(lua.LNumber(i + 1))
			}
		}
	}
	for i := len(oldNodes) - 1; i >= 0; i-- {
		if oldNodes[i].key != nil {
			t.insert(oldNodes[i].key)
		}
	}
}
