package luaenv

import (
	"encoding/binary"
	"math"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// The struct library (Roberto Ierusalimschy's lstruct as Redis 7.0 builds
// it on x86-64: long and size_t of 8 bytes, int of 4, short of 2, native
// little-endian, maximum alignment 8).

const (
	structMaxIntSize = 32
	structMaxAlign   = 8
)

// structHeader is the format's current byte order and alignment.
type structHeader struct {
	little bool
	align  int
}

func newStruct(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	t.RawSetString("pack", L.NewFunction(structPack))
	t.RawSetString("unpack", L.NewFunction(structUnpack))
	t.RawSetString("size", L.NewFunction(structSize))
	return t
}

// structFormat reads a format as the C library does: up to its first NUL.
type structFormat struct {
	L *lua.LState
	s string
	i int
}

func (f *structFormat) more() bool { return f.i < len(f.s) }

func (f *structFormat) next() byte {
	c := f.s[f.i]
	f.i++
	return c
}

// num reads a decimal number, or returns def when there is none.
func (f *structFormat) num(def int) int {
	if !f.more() || !isDigit(f.s[f.i]) {
		return def
	}
	a := 0
	for f.more() && isDigit(f.s[f.i]) {
		d := int(f.s[f.i] - '0')
		if a > math.MaxInt32/10 || a*10 > math.MaxInt32-d {
			raisef(f.L, "integral size overflow")
		}
		a = a*10 + d
		f.i++
	}
	return a
}

// size is the size of option opt (reading its number, if any).
func (f *structFormat) size(opt byte) int {
	switch opt {
	case 'B', 'b':
		return 1
	case 'H', 'h':
		return 2
	case 'L', 'l', 'T', 'd':
		return 8
	case 'f':
		return 4
	case 'i', 'I':
		n := f.num(4)
		if n > structMaxIntSize {
			raisef(f.L, "integral size %d is larger than limit of %d", n, structMaxIntSize)
		}
		return n
	case 'x':
		return 1
	case 'c':
		return f.num(1)
	}
	return 0
}

// toAlign is the padding before an item of size at offset n.
func toAlign(n uint64, h *structHeader, opt byte, size int) uint64 {
	if size == 0 || opt == 'c' {
		return 0
	}
	if size > h.align {
		size = h.align
	}
	s := uint64(size)
	return (s - (n & (s - 1))) & (s - 1)
}

// control handles the options that are not items.
func (f *structFormat) control(opt byte, h *structHeader) {
	switch opt {
	case ' ':
	case '>':
		h.little = false
	case '<':
		h.little = true
	case '!':
		a := f.num(structMaxAlign)
		if a <= 0 || a&(a-1) != 0 {
			raisef(f.L, "alignment %d is not a power of 2", a)
		}
		h.align = a
	default:
		badArg(f.L, 1, "invalid format option '"+string([]byte{opt})+"'")
	}
}

func newStructFormat(L *lua.LState) (*structFormat, structHeader) {
	s := checkString(L, 1)
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return &structFormat{L: L, s: s}, structHeader{little: true, align: 1}
}

// toUint64 is the C cast of a Lua number to the unsigned long that
// struct.pack writes, as gcc compiles it on x86-64.
func toUint64(n float64) uint64 {
	cvt := func(x float64) uint64 { return uint64(luaInteger(x)) }
	if n < 0 {
		return cvt(n)
	}
	if n >= 1<<63 {
		return cvt(n-(1<<63)) ^ 1<<63
	}
	return cvt(n)
}

func structPack(L *lua.LState) int {
	f, h := newStructFormat(L)
	// lstruct pushes a nil to mark the end of the arguments: a missing
	// first argument is "nil" in its error, not "no value".
	L.Push(lua.LNil)
	arg := 2
	var b []byte
	total := uint64(0)
	for f.more() {
		opt := f.next()
		size := f.size(opt)
		pad := toAlign(total, &h, opt, size)
		total += pad
		for ; pad > 0; pad-- {
			b = append(b, 0)
		}
		switch opt {
		case 'b', 'B', 'h', 'H', 'l', 'L', 'T', 'i', 'I':
			v := toUint64(checkNumber(L, arg))
			arg++
			buf := make([]byte, size)
			for i := 0; i < size; i++ {
				j := i
				if !h.little {
					j = size - 1 - i
				}
				buf[j] = byte(v)
				v >>= 8
			}
			b = append(b, buf...)
		case 'x':
			b = append(b, 0)
		case 'f':
			bits := math.Float32bits(float32(checkNumber(L, arg)))
			arg++
			if h.little {
				b = binary.LittleEndian.AppendUint32(b, bits)
			} else {
				b = binary.BigEndian.AppendUint32(b, bits)
			}
		case 'd':
			bits := math.Float64bits(checkNumber(L, arg))
			arg++
			if h.little {
				b = binary.LittleEndian.AppendUint64(b, bits)
			} else {
				b = binary.BigEndian.AppendUint64(b, bits)
			}
		case 'c', 's':
			s := checkString(L, arg)
			arg++
			if size == 0 {
				size = len(s)
			}
			if len(s) < size {
				badArg(L, arg, "string too short")
			}
			b = append(b, s[:size]...)
			if opt == 's' {
				b = append(b, 0)
				size++
			}
		default:
			f.control(opt, &h)
		}
		total += uint64(size)
	}
	L.Push(lua.LString(b))
	return 1
}

// structInteger reads an integer of size bytes.
func structInteger(b string, little, signed bool, size int) float64 {
	var v uint64
	for i := 0; i < size; i++ {
		j := i
		if little {
			j = size - 1 - i
		}
		v = v<<8 | uint64(b[j])
	}
	if !signed {
		return float64(v)
	}
	// The sign mask as x86-64 shifts it: the count taken modulo 64.
	mask := ^uint64(0) << (uint(size*8-1) & 63)
	if v&mask != 0 {
		v |= mask
	}
	return float64(int64(v))
}

func structUnpack(L *lua.LState) int {
	f, h := newStructFormat(L)
	data := checkString(L, 2)
	ld := uint64(len(data))
	pos := uint64(luaInteger(optNumber(L, 3, 1)))
	if pos == 0 {
		badArg(L, 3, "offset must be 1 or greater")
	}
	pos--
	top := L.GetTop()
	var out []lua.LValue
	for f.more() {
		opt := f.next()
		size := uint64(f.size(opt))
		pos += toAlign(pos, &h, opt, int(size))
		if size > ld || pos > ld-size {
			badArg(L, 2, "data string too short")
		}
		if top+len(out)+2 > luaMaxCStack {
			raisef(L, "stack overflow (too many results)")
		}
		switch opt {
		case 'b', 'B', 'h', 'H', 'l', 'L', 'T', 'i', 'I':
			signed := opt >= 'a'
			out = append(out, lua.LNumber(structInteger(data[pos:pos+size], h.little, signed, int(size))))
		case 'x':
		case 'f':
			bits := binary.LittleEndian.Uint32([]byte(data[pos : pos+4]))
			if !h.little {
				bits = binary.BigEndian.Uint32([]byte(data[pos : pos+4]))
			}
			out = append(out, lua.LNumber(math.Float32frombits(bits)))
		case 'd':
			bits := binary.LittleEndian.Uint64([]byte(data[pos : pos+8]))
			if !h.little {
				bits = binary.BigEndian.Uint64([]byte(data[pos : pos+8]))
			}
			out = append(out, lua.LNumber(math.Float64frombits(bits)))
		case 'c':
			if size == 0 {
				var prev float64
				ok := false
				if len(out) > 0 {
					switch v := out[len(out)-1].(type) {
					case lua.LNumber:
						prev, ok = float64(v), true
					case lua.LString:
						prev, ok = str2number(string(v))
					}
				}
				if !ok {
					raisef(L, "format 'c0' needs a previous size")
				}
				size = toUint64(prev)
				out = out[:len(out)-1]
				if size > ld || pos > ld-size {
					badArg(L, 2, "data string too short")
				}
			}
			out = append(out, lua.LString(data[pos:pos+size]))
		case 's':
			e := strings.IndexByte(data[pos:], 0)
			if e < 0 {
				raisef(L, "unfinished string in data")
			}
			out = append(out, lua.LString(data[pos:pos+uint64(e)]))
			size = uint64(e) + 1
		default:
			f.control(opt, &h)
		}
		pos += size
	}
	for _, v := range out {
		L.Push(v)
	}
	L.Push(lua.LNumber(int64(pos + 1)))
	return len(out) + 1
}

func structSize(L *lua.LState) int {
	f, h := newStructFormat(L)
	pos := uint64(0)
	for f.more() {
		opt := f.next()
		size := f.size(opt)
		pos += toAlign(pos, &h, opt, size)
		if opt == 's' {
			badArg(L, 1, "option 's' has no fixed size")
		} else if opt == 'c' && size == 0 {
			badArg(L, 1, "option 'c0' has no fixed size")
		}
		if !isDigit(opt) && !('a' <= opt|0x20 && opt|0x20 <= 'z') {
			f.control(opt, &h)
		}
		pos += uint64(size)
	}
	L.Push(lua.LNumber(int64(pos)))
	return 1
}
