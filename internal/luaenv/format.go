package luaenv

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// strFormat is Lua 5.1's string.format: C's printf directives (flags
// "-+ #0", a width and a precision of at most two digits each) over the
// arguments, numbers read as luaL_checknumber reads them and strings as
// luaL_checklstring does. gopher-lua's goes through Go's fmt, whose verbs
// differ (%g, %x of a negative number, %c above 127, %q, %s of a number).
func strFormat(L *lua.LState) int {
	format := stringArg(L, 1)
	top := L.GetTop()
	arg := 1
	var b []byte
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		i++
		if i < len(format) && format[i] == '%' {
			b = append(b, '%')
			continue
		}
		arg++
		if arg > top {
			badArg(L, arg, "no value")
		}
		spec, next := scanFormat(L, format, i)
		i = next
		var conv byte
		if i < len(format) {
			conv = format[i]
		}
		switch conv {
		case 'c':
			c := appendPadded(nil, spec, []byte{byte(cInt(float64(numberArg(L, arg))))})
			if z := bytes.IndexByte(c, 0); z >= 0 {
				c = c[:z] // Lua adds the directive's text up to a NUL
			}
			b = append(b, c...)
		case 'd', 'i':
			b = appendInt(b, spec, luaInteger(float64(numberArg(L, arg))))
		case 'o', 'u', 'x', 'X':
			b = appendUint(b, spec, conv, cUlong(float64(numberArg(L, arg))))
		case 'e', 'E', 'f', 'g', 'G':
			b = appendFloat(b, spec, conv, float64(numberArg(L, arg)))
		case 'q':
			b = appendQuoted(b, stringArg(L, arg))
		case 's':
			s := stringArg(L, arg)
			if !spec.hasPrec && len(s) >= 100 {
				// Lua adds a long string whole, without the directive.
				b = append(b, s...)
				break
			}
			if z := strings.IndexByte(s, 0); z >= 0 {
				s = s[:z] // sprintf stops at the first NUL
			}
			if spec.hasPrec && len(s) > spec.prec {
				s = s[:spec.prec]
			}
			b = appendPadded(b, spec, []byte(s))
		default:
			opt := "%"
			if conv != 0 {
				opt += string([]byte{conv})
			}
			raise(L, "invalid option '"+opt+"' to 'format'")
		}
	}
	L.Push(lua.LString(b))
	return 1
}

// fmtSpec is one directive's flags, width and precision.
type fmtSpec struct {
	flags          string
	width, prec    int
	hasPrec, minus bool
}

func (s fmtSpec) has(flag byte) bool { return strings.IndexByte(s.flags, flag) >= 0 }

// scanFormat reads the flags, width and precision of the directive at
// format[i:], as Lua 5.1's scanformat does, and returns where its
// conversion letter is.
func scanFormat(L *lua.LState, format string, i int) (fmtSpec, int) {
	at := func(i int) byte {
		if i < len(format) {
			return format[i]
		}
		return 0
	}
	var spec fmtSpec
	start := i
	for at(i) != 0 && strings.IndexByte("-+ #0", at(i)) >= 0 {
		i++
	}
	if i-start >= 6 {
		raise(L, "invalid format (repeated flags)")
	}
	spec.flags = format[start:i]
	spec.minus = spec.has('-')
	digits := func() int {
		n := 0
		for k := 0; k < 2 && isDigit(at(i)); k++ {
			n = n*10 + int(at(i)-'0')
			i++
		}
		return n
	}
	spec.width = digits()
	if at(i) == '.' {
		i++
		spec.hasPrec = true
		spec.prec = digits()
	}
	if isDigit(at(i)) {
		raise(L, "invalid format (width or precision too long)")
	}
	return spec, i
}

// goVerb is the Go directive for spec with the given flags and verb.
func (s fmtSpec) goVerb(flags string, verb byte) string {
	var b strings.Builder
	b.WriteByte('%')
	for _, f := range []byte("-+ #0") {
		if strings.IndexByte(flags, f) >= 0 {
			b.WriteByte(f)
		}
	}
	if s.width > 0 {
		b.WriteString(strconv.Itoa(s.width))
	}
	if s.hasPrec {
		b.WriteByte('.')
		b.WriteString(strconv.Itoa(s.prec))
	}
	b.WriteByte(verb)
	return b.String()
}

// without returns flags less those in drop.
func without(flags, drop string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(drop, r) {
			return -1
		}
		return r
	}, flags)
}

// appendPadded appends s padded with spaces to the width, on the left or,
// with '-', on the right (C pads %c and %s with spaces even with '0').
func appendPadded(b []byte, spec fmtSpec, s []byte) []byte {
	pad := spec.width - len(s)
	if !spec.minus {
		for ; pad > 0; pad-- {
			b = append(b, ' ')
		}
	}
	b = append(b, s...)
	for ; pad > 0; pad-- {
		b = append(b, ' ')
	}
	return b
}

func appendInt(b []byte, spec fmtSpec, v int64) []byte {
	if v == 0 && spec.hasPrec && spec.prec == 0 {
		// no digits, but C still writes the sign a flag asks for
		// (%+.0d of 0 is "+"; Go writes nothing)
		sign := ""
		if spec.has('+') {
			sign = "+"
		} else if spec.has(' ') {
			sign = " "
		}
		return appendPadded(b, spec, []byte(sign))
	}
	return fmt.Appendf(b, spec.goVerb(without(spec.flags, "#"), 'd'), v)
}

func appendUint(b []byte, spec fmtSpec, conv byte, v uint64) []byte {
	flags := without(spec.flags, "+ ")
	if v == 0 && conv == 'o' && spec.hasPrec && spec.prec == 0 && spec.has('#') {
		return appendPadded(b, spec, []byte("0")) // C's # makes one digit, Go writes none
	}
	if v == 0 && conv != 'o' {
		flags = without(flags, "#") // C writes no 0x before 0
	}
	if conv == 'u' {
		conv = 'd'
	}
	if (conv == 'x' || conv == 'X') && strings.Contains(flags, "#") && strings.Contains(flags, "0") &&
		!spec.minus && !spec.hasPrec && spec.width > 2 {
		// C's width counts the 0x the zeros follow, Go's does not:
		// %#08x is 0x0000ff in C, 0x000000ff in Go
		spec.width -= 2
	}
	return fmt.Appendf(b, spec.goVerb(flags, conv), v)
}

func appendFloat(b []byte, spec fmtSpec, conv byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		s := "inf"
		if math.IsNaN(f) {
			s = "nan"
		}
		if conv == 'E' || conv == 'G' {
			s = strings.ToUpper(s)
		}
		switch {
		case math.Signbit(f):
			s = "-" + s
		case spec.has('+'):
			s = "+" + s
		case spec.has(' '):
			s = " " + s
		}
		return appendPadded(b, spec, []byte(s))
	}
	if !spec.hasPrec {
		spec.hasPrec, spec.prec = true, 6 // Go's %g would be shortest
	}
	if (conv == 'g' || conv == 'G') && spec.prec == 0 {
		spec.prec = 1
	}
	return fmt.Appendf(b, spec.goVerb(spec.flags, conv), f)
}

// appendQuoted is %q: s between double quotes, with '"', '\\', newline,
// '\r' and NUL escaped as Lua reads them back.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\', '\n':
			b = append(b, '\\', c)
		case '\r':
			b = append(b, '\\', 'r')
		case 0:
			b = append(b, '\\', '0', '0', '0')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// cInt is C's (int) conversion of a double on x86-64: truncated, INT_MIN
// when out of range or NaN.
func cInt(f float64) int32 {
	if math.IsNaN(f) || f >= 1<<31 || f < -(1<<31) {
		return math.MinInt32
	}
	return int32(f)
}

// cUlong is C's (unsigned long) conversion of a double as gcc does it on
// x86-64: below 2^63 through a signed conversion (so negative numbers
// wrap), above it offset by 2^63.
func cUlong(f float64) uint64 {
	if !(f >= 1<<63) {
		return uint64(luaInteger(f))
	}
	return uint64(luaInteger(f-(1<<63))) ^ 1<<63
}
