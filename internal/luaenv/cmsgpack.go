package luaenv

import (
	"encoding/binary"
	"math"

	lua "github.com/yuin/gopher-lua"
)

// msgpackMaxNesting is how deep cmsgpack.pack goes into tables: deeper
// tables (and cycles) are packed as nil.
const msgpackMaxNesting = 16

// msgpackSparseSlack is how far past twice its pair count a decoded map's
// integer keys may go (see msgpackDecoder.hash).
const msgpackSparseSlack = 64

// newCmsgpack returns the cmsgpack library (lua-cmsgpack 0.4.0 as Redis
// ships it).
func newCmsgpack(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	t.RawSetString("pack", L.NewFunction(msgpackPack))
	t.RawSetString("unpack", L.NewFunction(func(L *lua.LState) int {
		return msgpackUnpack(L, 0, 0)
	}))
	t.RawSetString("unpack_one", L.NewFunction(func(L *lua.LState) int {
		offset := luaInteger(optNumber(L, 2, 0))
		L.SetTop(1)
		return msgpackUnpack(L, 1, offset)
	}))
	t.RawSetString("unpack_limit", L.NewFunction(func(L *lua.LState) int {
		limit := luaInteger(checkNumber(L, 2))
		offset := luaInteger(optNumber(L, 3, 0))
		L.SetTop(1)
		return msgpackUnpack(L, limit, offset)
	}))
	t.RawSetString("_NAME", lua.LString("cmsgpack"))
	t.RawSetString("_VERSION", lua.LString("lua-cmsgpack 0.4.0"))
	t.RawSetString("_COPYRIGHT", lua.LString("Copyright (C) 2012, Salvatore Sanfilippo"))
	t.RawSetString("_DESCRIPTION", lua.LString("MessagePack C implementation for Lua"))
	return t
}

// msgpackPack is cmsgpack.pack: its arguments packed one after another.
func msgpackPack(L *lua.LState) int {
	n := L.GetTop()
	if n == 0 {
		badArg(L, 0, "MessagePack pack needs input.")
	}
	var buf []byte
	for i := 1; i <= n; i++ {
		buf = msgpackAppend(buf, L.Get(i), 0)
	}
	L.Push(lua.LString(buf))
	return 1
}

// msgpackAppend appends v packed at nesting level.
func msgpackAppend(buf []byte, v lua.LValue, level int) []byte {
	switch v := v.(type) {
	case lua.LString:
		return msgpackAppendString(buf, string(v))
	case lua.LBool:
		if v {
			return append(buf, 0xc3)
		}
		return append(buf, 0xc2)
	case lua.LNumber:
		f := float64(v)
		// A number an int64 holds exactly is an integer; the test is C's
		// cast, which turns 2^63 into -2^63, so that one stays a double.
		if !math.IsInf(f, 0) && !math.IsNaN(f) && f >= math.MinInt64 && f < math.MaxInt64 && float64(int64(f)) == f {
			return msgpackAppendInt(buf, int64(f))
		}
		if f32 := float32(f); float64(f32) == f {
			buf = append(buf, 0xca)
			return binary.BigEndian.AppendUint32(buf, math.Float32bits(f32))
		}
		buf = append(buf, 0xcb)
		return binary.BigEndian.AppendUint64(buf, math.Float64bits(f))
	case *lua.LTable:
		if level == msgpackMaxNesting {
			return append(buf, 0xc0)
		}
		keys, vals := tableEntries(v)
		if n, ok := msgpackArrayLength(keys); ok {
			buf = msgpackAppendHeader(buf, 0x90, 0xdc, uint64(n))
			for i := 1; i <= n; i++ {
				buf = msgpackAppend(buf, v.RawGetInt(i), level+1)
			}
			return buf
		}
		buf = msgpackAppendHeader(buf, 0x80, 0xde, uint64(len(keys)))
		for i, k := range keys {
			buf = msgpackAppend(buf, k, level+1)
			buf = msgpackAppend(buf, vals[i], level+1)
		}
		return buf
	}
	return append(buf, 0xc0)
}

// msgpackArrayLength tells whether keys are exactly 1..n, each a number a
// C int holds, and returns n.
func msgpackArrayLength(keys []lua.LValue) (int, bool) {
	max := 0
	for _, k := range keys {
		n, ok := k.(lua.LNumber)
		f := float64(n)
		if !ok || f <= 0 || f >= 1<<31 || math.Trunc(f) != f {
			return 0, false
		}
		max = int(math.Max(float64(max), f))
	}
	return max, max == len(keys)
}

// msgpackAppendHeader appends an array (fix 0x90, 16-bit 0xdc) or map
// (0x80, 0xde) header: the 32-bit form is the byte after the 16-bit one.
func msgpackAppendHeader(buf []byte, fix, b16 byte, n uint64) []byte {
	switch {
	case n <= 15:
		return append(buf, fix|byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(buf, b16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(buf, b16+1), uint32(n))
}

func msgpackAppendString(buf []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		buf = append(buf, 0xa0|byte(n))
	case n <= 0xff:
		buf = append(buf, 0xd9, byte(n))
	case n <= 0xffff:
		buf = binary.BigEndian.AppendUint16(append(buf, 0xda), uint16(n))
	default:
		buf = binary.BigEndian.AppendUint32(append(buf, 0xdb), uint32(n))
	}
	return append(buf, s...)
}

// msgpackAppendInt appends n in its smallest form.
func msgpackAppendInt(buf []byte, n int64) []byte {
	if n >= 0 {
		switch {
		case n <= 127:
			return append(buf, byte(n))
		case n <= 0xff:
			return append(buf, 0xcc, byte(n))
		case n <= 0xffff:
			return binary.BigEndian.AppendUint16(append(buf, 0xcd), uint16(n))
		case n <= 0xffffffff:
			return binary.BigEndian.AppendUint32(append(buf, 0xce), uint32(n))
		}
		return binary.BigEndian.AppendUint64(append(buf, 0xcf), uint64(n))
	}
	switch {
	case n >= -32:
		return append(buf, byte(n))
	case n >= -128:
		return append(buf, 0xd0, byte(n))
	case n >= -32768:
		return binary.BigEndian.AppendUint16(append(buf, 0xd1), uint16(n))
	case n >= -2147483648:
		return binary.BigEndian.AppendUint32(append(buf, 0xd2), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(buf, 0xd3), uint64(n))
}

// msgpackErr is why a decode stopped.
type msgpackErr int

const (
	msgpackOK msgpackErr = iota
	msgpackEOF
	msgpackBadFormat
)

// msgpackDecoder reads values from data; top counts the stack slots
// lua-cmsgpack would be using, for its stack checks.
type msgpackDecoder struct {
	L    *lua.LState
	data string
	pos  int
	err  msgpackErr
	top  int
}

// msgpackUnpack decodes up to limit values from offset (all of them when
// both are 0, without the offset result).
func msgpackUnpack(L *lua.LState, limit, offset int64) int {
	s := checkString(L, 1)
	if offset < 0 || limit < 0 {
		// lua-cmsgpack prints the input's length as the limit.
		raisef(L, "Invalid request to unpack with offset of %d and limit of %d.", int32(offset), int32(len(s)))
	}
	if offset > int64(len(s)) {
		raisef(L, "Start offset %d greater than input length %d.", int32(offset), int32(len(s)))
	}
	all := limit == 0 && offset == 0
	if all {
		limit = math.MaxInt32
	}
	d := &msgpackDecoder{L: L, data: s, pos: int(offset), top: L.GetTop()}
	var out []lua.LValue
	for n := int64(0); d.pos < len(s) && n < limit; n++ {
		v := d.value()
		switch d.err {
		case msgpackEOF:
			raisef(L, "Missing bytes in input.")
		case msgpackBadFormat:
			raisef(L, "Bad data format in input.")
		}
		out = append(out, v)
		d.top++
	}
	n := len(out)
	if !all {
		d.checkStack("in function mp_unpack_full")
		next := lua.LNumber(d.pos)
		if d.pos == len(s) {
			next = -1
		}
		L.Push(next)
		n++
	}
	for _, v := range out {
		L.Push(v)
	}
	return n
}

// need reports whether n more bytes are there, setting the EOF error if
// not.
func (d *msgpackDecoder) need(n int) bool {
	if len(d.data)-d.pos < n {
		d.err = msgpackEOF
		return false
	}
	return true
}

// checkStack is luaL_checkstack(L, 1, msg) with top slots in use.
func (d *msgpackDecoder) checkStack(msg string) {
	if d.top+1 > luaMaxCStack {
		raisef(d.L, "stack overflow (%s)", msg)
	}
}

func (d *msgpackDecoder) uint(n int) uint64 {
	var u uint64
	for _, c := range []byte(d.data[d.pos+1 : d.pos+1+n]) {
		u = u<<8 | uint64(c)
	}
	return u
}

// value decodes one value; on an error it returns nil with d.err set.
func (d *msgpackDecoder) value() lua.LValue {
	if !d.need(1) {
		return lua.LNil
	}
	d.checkStack("too many return values at once; use unpack_one or unpack_limit instead.")
	c := d.data[d.pos]
	// fixed reads a number of n bytes after the type byte.
	fixed := func(n int, conv func(uint64) float64) lua.LValue {
		if !d.need(1 + n) {
			return lua.LNil
		}
		v := conv(d.uint(n))
		d.pos += 1 + n
		return lua.LNumber(v)
	}
	unsigned := func(u uint64) float64 { return float64(int64(u)) } // lua_pushinteger's cast
	str := func(n int) lua.LValue {
		if !d.need(1 + n) {
			return lua.LNil
		}
		l := int(d.uint(n))
		d.pos += 1 + n
		if !d.need(l) {
			return lua.LNil
		}
		s := d.data[d.pos : d.pos+l]
		d.pos += l
		return lua.LString(s)
	}
	length := func(n int) (int, bool) {
		if !d.need(1 + n) {
			return 0, false
		}
		l := int(d.uint(n))
		d.pos += 1 + n
		return l, true
	}
	switch {
	case c == 0xcc:
		return fixed(1, unsigned)
	case c == 0xcd:
		return fixed(2, unsigned)
	case c == 0xce:
		return fixed(4, unsigned)
	case c == 0xcf:
		return fixed(8, unsigned)
	case c == 0xd0:
		return fixed(1, func(u uint64) float64 { return float64(int8(u)) })
	case c == 0xd1:
		return fixed(2, func(u uint64) float64 { return float64(int16(u)) })
	case c == 0xd2:
		return fixed(4, func(u uint64) float64 { return float64(int32(u)) })
	case c == 0xd3:
		return fixed(8, func(u uint64) float64 { return float64(int64(u)) })
	case c == 0xca:
		return fixed(4, func(u uint64) float64 { return float64(math.Float32frombits(uint32(u))) })
	case c == 0xcb:
		return fixed(8, math.Float64frombits)
	case c == 0xc0:
		d.pos++
		return lua.LNil
	case c == 0xc2 || c == 0xc3:
		d.pos++
		return lua.LBool(c == 0xc3)
	case c == 0xd9:
		return str(1)
	case c == 0xda:
		return str(2)
	case c == 0xdb:
		return str(4)
	case c == 0xdc || c == 0xdd:
		if n, ok := length(2 << (c - 0xdc)); ok {
			return d.array(n)
		}
		return lua.LNil
	case c == 0xde || c == 0xdf:
		if n, ok := length(2 << (c - 0xde)); ok {
			return d.hash(n)
		}
		return lua.LNil
	case c&0x80 == 0:
		d.pos++
		return lua.LNumber(c)
	case c&0xe0 == 0xe0:
		d.pos++
		return lua.LNumber(int8(c))
	case c&0xe0 == 0xa0:
		n := int(c & 0x1f)
		if !d.need(1 + n) {
			return lua.LNil
		}
		s := d.data[d.pos+1 : d.pos+1+n]
		d.pos += 1 + n
		return lua.LString(s)
	case c&0xf0 == 0x90:
		d.pos++
		return d.array(int(c & 0xf))
	case c&0xf0 == 0x80:
		d.pos++
		return d.hash(int(c & 0xf))
	}
	d.err = msgpackBadFormat
	return lua.LNil
}

// array decodes n elements into a table keyed 1..n (nil elements leave
// holes).
func (d *msgpackDecoder) array(n int) lua.LValue {
	t := d.L.NewTable()
	d.top++ // the table
	d.checkStack("in function mp_decode_to_lua_array")
	for i := 1; i <= n; i++ {
		d.top++ // the index
		v := d.value()
		d.top--
		if d.err != msgpackOK {
			return lua.LNil
		}
		if v != lua.LNil {
			t.RawSetInt(i, v)
		}
	}
	d.top--
	return t
}

// hash decodes n key-value pairs into a table; nil and NaN keys are Lua's
// errors.
//
// gopher-lua keeps every integer key below lua.MaxArrayIndex (2^26) in a
// dense array, so one key such as 60,000,000 would fill a gigabyte with
// nils; five bytes of input could take the server's memory. Real Lua
// would put such a key in its hash part, which gopher-lua cannot do and
// still find it. A map's integer keys may therefore reach at most
// 2n+msgpackSparseSlack, n its number of pairs: the array then costs at
// most a few slots per input byte, and every map whose keys are anywhere
// near dense (any order) decodes as before. A sparser map is an error
// rather than a memory blow-up.
func (d *msgpackDecoder) hash(n int) lua.LValue {
	t := d.L.NewTable()
	d.top++
	type pair struct{ k, v lua.LValue }
	var pairs []pair
	for i := 0; i < n; i++ {
		k := d.value()
		if d.err != msgpackOK {
			return lua.LNil
		}
		d.top++
		v := d.value()
		d.top--
		if d.err != msgpackOK {
			return lua.LNil
		}
		switch {
		case k == lua.LNil:
			d.L.Error(lua.LString("table index is nil"), 0)
		case k.Type() == lua.LTNumber && math.IsNaN(float64(k.(lua.LNumber))):
			d.L.Error(lua.LString("table index is NaN"), 0)
		}
		pairs = append(pairs, pair{k, v})
	}
	limit := float64(2*len(pairs) + msgpackSparseSlack)
	for _, p := range pairs {
		if k, ok := p.k.(lua.LNumber); ok && float64(k) > limit && float64(k) < float64(lua.MaxArrayIndex) && float64(k) == math.Trunc(float64(k)) {
			raisef(d.L, "Integer key %d too sparse for this Lua: a map of %d pairs may use integer keys up to %d.", int64(k), len(pairs), int64(limit))
		}
	}
	for _, p := range pairs {
		t.RawSet(p.k, p.v)
	}
	d.top--
	return t
}
