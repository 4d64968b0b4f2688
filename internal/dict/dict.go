// Package dict is a string-keyed hash table with incremental rehashing and a
// stateless cursor scan, the two properties Redis's SCAN family and its
// random sampling need and Go's built-in map does not offer.
//
// A cursor returned by Scan stays meaningful across inserts, deletes and
// resizes: every key present for the whole of a scan is visited at least once
// (the reverse-binary cursor of Redis's dict.c). A Dict is not safe for
// concurrent use.
package dict

import (
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"strings"
	"sync"
	"unsafe"
)

const (
	minSize    = 4
	rehashStep = 1
	// shrink when fewer than 1 in minFill buckets would hold a key.
	minFill = 10
)

type node[V any] struct {
	key  string
	next *node[V]
	val  V
}

// newNode returns a node holding a copy of key. A short key's bytes share
// the node's allocation, right after it, when that takes no more memory
// than two allocations would (embed): a lookup that reaches the node then
// compares the key without another cache miss, and a new key costs one
// allocation. (The bytes are never written again; the string keeps the
// whole node alive, as any pointer into it does.)
func (d *Dict[V]) newNode(key string) *node[V] {
	n := len(key)
	if n == 0 || n > maxEmbedded || d.embed&(1<<(n-1)) == 0 {
		return &node[V]{key: strings.Clone(key)}
	}
	switch {
	case n <= 8:
		return embedded[V, [8]byte](key)
	case n <= 16:
		return embedded[V, [16]byte](key)
	case n <= 24:
		return embedded[V, [24]byte](key)
	case n <= 32:
		return embedded[V, [32]byte](key)
	case n <= 48:
		return embedded[V, [48]byte](key)
	}
	return embedded[V, [64]byte](key)
}

// embedded allocates a node followed by a buffer of type B (a byte array)
// holding key.
func embedded[V, B any](key string) *node[V] {
	p := new(struct {
		n node[V]
		b B
	})
	b := unsafe.Slice((*byte)(unsafe.Pointer(&p.b)), unsafe.Sizeof(p.b))
	p.n.key = unsafe.String(&b[0], copy(b, key))
	return &p.n
}

// maxEmbedded is the longest key whose bytes can share its node's
// allocation.
const maxEmbedded = 64

// embedBuf is the buffer an embedded key of n bytes gets.
func embedBuf(n int) uintptr {
	for _, b := range [...]uintptr{8, 16, 24, 32, 48} {
		if uintptr(n) <= b {
			return b
		}
	}
	return 64
}

// embedMasks memoizes embedMask by node size: a Dict is made for every
// large collection, and working the mask out takes about a microsecond.
var embedMasks sync.Map // uintptr -> uint64

// embedMaskOf is embedMask, worked out once per node size.
func embedMaskOf(nodeSize uintptr) uint64 {
	if m, ok := embedMasks.Load(nodeSize); ok {
		return m.(uint64)
	}
	m := embedMask(nodeSize)
	embedMasks.Store(nodeSize, m)
	return m
}

// embedMask returns the key lengths (bit n-1 for n bytes) whose node with
// the key's bytes after it falls in a size class no larger than the node's
// and the key's separate ones together.
func embedMask(nodeSize uintptr) uint64 {
	var m uint64
	for n := 1; n <= maxEmbedded; n++ {
		if sizeClass(nodeSize+embedBuf(n)) <= sizeClass(nodeSize)+sizeClass(uintptr(n)) {
			m |= 1 << (n - 1)
		}
	}
	return m
}

// smallSizes are the Go runtime's allocation size classes up to 512 bytes
// (runtime/sizeclasses.go). Should they change, the choice embedMask makes
// costs or saves a little memory; nothing else depends on it.
var smallSizes = [...]uintptr{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416, 448, 480, 512}

// sizeClass returns the bytes an allocation of n bytes takes (n itself
// past 512: never smaller than any sum it is compared with here).
func sizeClass(n uintptr) uintptr {
	for _, c := range smallSizes {
		if n <= c {
			return c
		}
	}
	return n
}

type table[V any] struct {
	buckets []*node[V]
	used    int
}

func (t *table[V]) mask() uint64 { return uint64(len(t.buckets) - 1) }

// Dict maps strings to values of type V.
type Dict[V any] struct {
	seed      maphash.Seed
	t         [2]table[V]
	rehashIdx int     // -1 when not rehashing
	embed     uint64  // the key lengths kept in their node's allocation (embedMask)
	touched   uintptr // what Touch read, kept so that the reads are not dropped
}

// New returns an empty Dict.
func New[V any]() *Dict[V] {
	return &Dict[V]{seed: maphash.MakeSeed(), rehashIdx: -1, embed: embedMaskOf(unsafe.Sizeof(node[V]{}))}
}

// Len returns the number of keys.
func (d *Dict[V]) Len() int { return d.t[0].used + d.t[1].used }

// Buckets returns the number of buckets of the main table (for INFO-style stats).
func (d *Dict[V]) Buckets() int { return len(d.t[0].buckets) + len(d.t[1].buckets) }

func (d *Dict[V]) rehashing() bool { return d.rehashIdx >= 0 }

func (d *Dict[V]) hash(key string) uint64 { return maphash.String(d.seed, key) }

// Get returns a pointer to key's value, or nil. The pointer stays valid until
// the key is deleted.
func (d *Dict[V]) Get(key string) *V {
	if d.Len() == 0 {
		return nil
	}
	if d.rehashing() {
		d.step(rehashStep)
	}
	return d.find(d.hash(key), key)
}

// maxTouch is the most keys one Touch reads.
const maxTouch = 16

// maxTouchChain is how many nodes of a chain Touch reads at most.
const maxTouchChain = 4

// Touch reads the buckets keys hash to, then the first node of each, so
// that the lookups of those keys that follow find them in the cache: the
// reads of one pass do not depend on each other, so their cache misses
// overlap, where lookups one after the other wait for each miss in turn
// (Valkey prefetches a batch of commands' keys the same way). At most
// maxTouch keys are read; a key need not be there.
func (d *Dict[V]) Touch(keys [][]byte, deep func(*V) uintptr) {
	var heads [2 * maxTouch]*node[V]
	keys = keys[:min(len(keys), maxTouch)]
	n := 0
	for i := range d.t {
		t := &d.t[i]
		if len(t.buckets) == 0 {
			break
		}
		m := t.mask()
		for _, k := range keys {
			heads[n] = t.buckets[maphash.Bytes(d.seed, k)&m]
			n++
		}
		if !d.rehashing() {
			break
		}
	}
	// Walk the chains a node deep at a time across all keys, so that the
	// misses of one step overlap too, until each key's node is found (a
	// successful lookup at the table's load visits 1.5 nodes on average).
	var found [2 * maxTouch]*node[V]
	var sum uintptr
	for step := 0; step < maxTouchChain; step++ {
		more := false
		for j, h := range heads[:n] {
			if h == nil {
				continue
			}
			if h.key == string(keys[j%len(keys)]) {
				found[j], heads[j] = h, nil
				continue
			}
			heads[j] = h.next
			more = more || h.next != nil
		}
		if !more {
			break
		}
	}
	if deep != nil {
		for _, f := range found[:n] {
			if f != nil {
				sum += deep(&f.val)
			}
		}
	}
	d.touched = sum
}

// find returns the value of key, whose hash is h, or nil.
func (d *Dict[V]) find(h uint64, key string) *V {
	for i := 0; i < 2; i++ {
		t := &d.t[i]
		if len(t.buckets) == 0 {
			break
		}
		for n := t.buckets[h&t.mask()]; n != nil; n = n.next {
			if n.key == key {
				return &n.val
			}
		}
		if !d.rehashing() {
			break
		}
	}
	return nil
}

// Put returns a pointer to key's value, inserting a zero value (under a copy
// of key) when the key is absent; created reports whether it was.
func (d *Dict[V]) Put(key string) (v *V, created bool) {
	return d.put(key, true)
}

// PutOwned is Put keeping key itself rather than a copy, for a caller that
// made the string for the table (a snapshot loader).
func (d *Dict[V]) PutOwned(key string) (v *V, created bool) {
	return d.put(key, false)
}

func (d *Dict[V]) put(key string, clone bool) (v *V, created bool) {
	if d.rehashing() {
		d.step(rehashStep)
	}
	h := d.hash(key)
	if d.Len() > 0 {
		if p := d.find(h, key); p != nil {
			return p, false
		}
	}
	d.expandIfNeeded()
	t := &d.t[0]
	if d.rehashing() {
		t = &d.t[1]
	}
	var n *node[V]
	if clone {
		n = d.newNode(key)
	} else {
		n = &node[V]{key: key}
	}
	i := h & t.mask()
	n.next = t.buckets[i]
	t.buckets[i] = n
	t.used++
	return &n.val, true
}

// Delete removes key and returns its value.
func (d *Dict[V]) Delete(key string) (V, bool) {
	var zero V
	if d.Len() == 0 {
		return zero, false
	}
	if d.rehashing() {
		d.step(rehashStep)
	}
	h := d.hash(key)
	for i := 0; i < 2; i++ {
		t := &d.t[i]
		if len(t.buckets) == 0 {
			break
		}
		idx := h & t.mask()
		var prev *node[V]
		for n := t.buckets[idx]; n != nil; n = n.next {
			if n.key == key {
				if prev == nil {
					t.buckets[idx] = n.next
				} else {
					prev.next = n.next
				}
				t.used--
				v := n.val
				// A key string held elsewhere keeps the node alive: not
				// its value. (next stays: a Range may be on the node.)
				var zero V
				n.val = zero
				d.shrinkIfNeeded()
				return v, true
			}
			prev = n
		}
		if !d.rehashing() {
			break
		}
	}
	return zero, false
}

// Reserve sizes an empty Dict's table for n keys, so that filling it does
// not rehash; it does nothing to a Dict that holds keys.
func (d *Dict[V]) Reserve(n int) {
	if d.Len() != 0 || n <= len(d.t[0].buckets) {
		return
	}
	size := minSize
	for size < n {
		size *= 2
	}
	d.t = [2]table[V]{{buckets: make([]*node[V], size)}}
	d.rehashIdx = -1
}

// Clear removes every key.
func (d *Dict[V]) Clear() {
	d.t = [2]table[V]{}
	d.rehashIdx = -1
}

func (d *Dict[V]) expandIfNeeded() {
	if d.rehashing() {
		return
	}
	if len(d.t[0].buckets) == 0 {
		d.t[0].buckets = make([]*node[V], minSize)
		return
	}
	if d.t[0].used >= len(d.t[0].buckets) {
		d.resize(d.t[0].used + 1)
	}
}

func (d *Dict[V]) shrinkIfNeeded() {
	if d.rehashing() {
		return
	}
	size := len(d.t[0].buckets)
	if size > minSize && d.t[0].used*100/size < 100/minFill {
		d.resize(d.t[0].used)
	}
}

// resize starts rehashing into a table of the next power of two >= size.
func (d *Dict[V]) resize(size int) {
	n := minSize
	for n < size {
		n *= 2
	}
	if n == len(d.t[0].buckets) {
		return
	}
	d.t[1] = table[V]{buckets: make([]*node[V], n)}
	d.rehashIdx = 0
	if d.t[0].used == 0 {
		d.finishRehash()
	}
}

// step moves up to n buckets from the old table to the new one.
func (d *Dict[V]) step(n int) {
	empty := n * 10
	old, nt := &d.t[0], &d.t[1]
	for ; n > 0 && old.used > 0; n-- {
		for old.buckets[d.rehashIdx] == nil {
			d.rehashIdx++
			if empty--; empty == 0 {
				return
			}
		}
		for e := old.buckets[d.rehashIdx]; e != nil; {
			next := e.next
			i := d.hash(e.key) & nt.mask()
			e.next = nt.buckets[i]
			nt.buckets[i] = e
			old.used--
			nt.used++
			e = next
		}
		old.buckets[d.rehashIdx] = nil
		d.rehashIdx++
	}
	if old.used == 0 {
		d.finishRehash()
	}
}

func (d *Dict[V]) finishRehash() {
	d.t[0] = d.t[1]
	d.t[1] = table[V]{}
	d.rehashIdx = -1
}

// Scan visits the keys of the bucket(s) at cursor and returns the next
// cursor; 0 means the scan is complete. fn must not modify the Dict.
func (d *Dict[V]) Scan(cursor uint64, fn func(key string, v *V)) uint64 {
	if d.Len() == 0 {
		return 0
	}
	visit := func(t *table[V], i uint64) {
		for n := t.buckets[i]; n != nil; n = n.next {
			fn(n.key, &n.val)
		}
	}
	v := cursor
	if !d.rehashing() {
		t := &d.t[0]
		m := t.mask()
		visit(t, v&m)
		v |= ^m
		v = bits.Reverse64(bits.Reverse64(v) + 1)
		return v
	}
	t0, t1 := &d.t[0], &d.t[1]
	if len(t0.buckets) > len(t1.buckets) {
		t0, t1 = t1, t0
	}
	m0, m1 := t0.mask(), t1.mask()
	visit(t0, v&m0)
	for {
		visit(t1, v&m1)
		v |= ^m1
		v = bits.Reverse64(bits.Reverse64(v) + 1)
		if v&(m0^m1) == 0 {
			break
		}
	}
	return v
}

// Range calls fn for every key until fn returns false. fn must not modify
// the Dict.
func (d *Dict[V]) Range(fn func(key string, v *V) bool) {
	for i := 0; i < 2; i++ {
		for _, n := range d.t[i].buckets {
			for ; n != nil; n = n.next {
				if !fn(n.key, &n.val) {
					return
				}
			}
		}
	}
}

// fairSample is how many keys Random chooses among (Redis's
// GETFAIR_NUM_ENTRIES).
const fairSample = 15

// Random returns a random key and its value; ok is false when d is empty.
// As Redis's dictGetFairRandomKey, it takes up to fairSample keys from
// consecutive buckets from a random one and picks one of them: picking a
// random bucket and then a key of its chain would make a key that shares
// its bucket half as likely as one alone (Redis's test suite measures
// SRANDMEMBER's and HRANDFIELD's spread with a chi-square test).
func (d *Dict[V]) Random() (key string, v *V, ok bool) {
	if d.Len() == 0 {
		return "", nil, false
	}
	if d.rehashing() {
		d.step(rehashStep)
	}
	var sample [fairSample]*node[V]
	if n := d.sample(sample[:]); n > 0 {
		e := sample[rand.IntN(n)]
		return e.key, &e.val, true
	}
	var head *node[V]
	for head == nil {
		if d.rehashing() {
			// buckets below rehashIdx of the old table are empty.
			n0, n1 := len(d.t[0].buckets), len(d.t[1].buckets)
			i := d.rehashIdx + rand.IntN(n0+n1-d.rehashIdx)
			if i >= n0 {
				head = d.t[1].buckets[i-n0]
			} else {
				head = d.t[0].buckets[i]
			}
		} else {
			head = d.t[0].buckets[rand.IntN(len(d.t[0].buckets))]
		}
	}
	n := 0
	for e := head; e != nil; e = e.next {
		n++
	}
	e := head
	for i := rand.IntN(n); i > 0; i-- {
		e = e.next
	}
	return e.key, &e.val, true
}

// sample fills out with keys from consecutive buckets of both tables,
// starting at a random index, visiting at most 10 buckets per key wanted
// and at most every bucket once, and jumping elsewhere after a run of
// empty buckets longer than len(out) (as Redis's dictGetSomeKeys). It
// returns how many it found.
func (d *Dict[V]) sample(out []*node[V]) int {
	size := len(d.t[0].buckets)
	if d.rehashing() {
		size = max(size, len(d.t[1].buckets))
	}
	i, n, empty := rand.IntN(size), 0, 0
	// Never past one round of the table: a small dict is sampled whole,
	// each key once.
	for steps := 0; n < len(out) && steps < min(10*len(out), size); steps++ {
		found := false
		for t := range d.t {
			if t == 1 && !d.rehashing() {
				break
			}
			b := d.t[t].buckets
			if i >= len(b) || t == 0 && d.rehashing() && i < d.rehashIdx {
				continue // out of this table, or already moved
			}
			for e := b[i]; e != nil && n < len(out); e = e.next {
				out[n] = e
				n++
				found = true
			}
		}
		if found {
			empty = 0
		} else if empty++; empty >= 5 && empty > len(out) {
			i, empty = rand.IntN(size), 0
			continue
		}
		i = (i + 1) % size
	}
	return n
}
