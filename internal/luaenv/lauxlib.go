package luaenv

import (
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Helpers the cjson, cmsgpack and struct libraries share: Lua 5.1's
// argument checks and their error texts, strtod, and C's conversions.

// typeName is Lua's name for v's type.
func typeName(v lua.LValue) string { return v.Type().String() }

// argTypeName is luaL_typename of argument n: "no value" past the top.
func argTypeName(L *lua.LState, n int) string {
	if n > L.GetTop() {
		return "no value"
	}
	return typeName(L.Get(n))
}

// checkString is luaL_checklstring: a string, or a number converted as
// Lua 5.1 converts numbers ("%.14g").
func checkString(L *lua.LState, n int) string {
	switch v := L.Get(n).(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return formatG(float64(v), 14)
	}
	badArg(L, n, "string expected, got "+argTypeName(L, n))
	return ""
}

// checkNumber is luaL_checknumber: a number, or a string that reads as one.
func checkNumber(L *lua.LState, n int) float64 {
	switch v := L.Get(n).(type) {
	case lua.LNumber:
		return float64(v)
	case lua.LString:
		if f, ok := str2number(string(v)); ok {
			return f
		}
	}
	badArg(L, n, "number expected, got "+argTypeName(L, n))
	return 0
}

// optNumber is luaL_optinteger's reading: def when argument n is none or
// nil, else checkNumber.
func optNumber(L *lua.LState, n int, def float64) float64 {
	if L.Get(n) == lua.LNil {
		return def
	}
	return checkNumber(L, n)
}

// str2number is Lua 5.1's luaO_str2d: strtod over the whole string but for
// surrounding white space. Lua reads the string as C does, up to a NUL.
func str2number(s string) (float64, bool) {
	if z := strings.IndexByte(s, 0); z >= 0 {
		s = s[:z]
	}
	n := strtodLen(s)
	if n == 0 {
		return 0, false
	}
	f := strtod(s[:n])
	if n < len(s) && (s[n] == 'x' || s[n] == 'X') {
		// strtoul over the whole string, whose end is then checked as
		// strtod's: "1xcd" stops at the x and is no number
		u, end := strtoul(s, 16)
		f, n = float64(u), end
	}
	if strings.Trim(s[n:], " \t\n\v\f\r") != "" {
		return 0, false
	}
	return f, true
}

// luaInteger is lua_Integer's conversion of a number on x86-64: truncated,
// the minimum int64 when out of range or NaN.
func luaInteger(f float64) int64 {
	if math.IsNaN(f) || f >= math.MaxInt64 || f < math.MinInt64 {
		return math.MinInt64
	}
	return int64(f)
}

func isDigit(c byte) bool    { return '0' <= c && c <= '9' }
func isHexDigit(c byte) bool { return isDigit(c) || ('a' <= c|0x20 && c|0x20 <= 'f') }

// strtodLen returns how many bytes of s glibc's strtod reads: leading
// white space, a sign, then a decimal or hexadecimal number, "inf",
// "infinity" or "nan" with an optional "(chars)". 0 when none.
func strtodLen(s string) int {
	at := func(i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	i := 0
	for strings.IndexByte(" \t\n\v\f\r", at(i)) >= 0 && at(i) != 0 {
		i++
	}
	if at(i) == '+' || at(i) == '-' {
		i++
	}
	lower := strings.ToLower(s[i:min(i+8, len(s))])
	switch {
	case strings.HasPrefix(lower, "infinity"):
		return i + 8
	case strings.HasPrefix(lower, "inf"):
		return i + 3
	case strings.HasPrefix(lower, "nan"):
		i += 3
		if at(i) == '(' {
			j := i + 1
			for c := at(j); isDigit(c) || ('a' <= c|0x20 && c|0x20 <= 'z') || c == '_'; c = at(j) {
				j++
			}
			if at(j) == ')' {
				return j + 1
			}
		}
		return i
	}
	digit, exp := isDigit, byte('e')
	if at(i) == '0' && at(i+1)|0x20 == 'x' && (isHexDigit(at(i+2)) || (at(i+2) == '.' && isHexDigit(at(i+3)))) {
		i += 2
		digit, exp = isHexDigit, 'p'
	}
	digits := 0
	for ; digit(at(i)); i++ {
		digits++
	}
	if at(i) == '.' {
		i++
		for ; digit(at(i)); i++ {
			digits++
		}
	}
	if digits == 0 {
		return 0
	}
	if at(i)|0x20 == exp {
		j := i + 1
		if at(j) == '+' || at(j) == '-' {
			j++
		}
		if isDigit(at(j)) {
			for isDigit(at(j)) {
				j++
			}
			i = j
		}
	}
	return i
}

// strtod returns the value of s, which strtodLen read whole.
func strtod(s string) float64 {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	body := s
	if body != "" && (body[0] == '+' || body[0] == '-') {
		neg = body[0] == '-'
		body = body[1:]
	}
	var f float64
	lower := strings.ToLower(body)
	switch {
	case strings.HasPrefix(lower, "inf"):
		f = math.Inf(1)
	case strings.HasPrefix(lower, "nan"):
		f = math.Float64frombits(0x7ff8000000000000) // glibc's NaN
	case strings.HasPrefix(lower, "0x"):
		if !strings.ContainsAny(lower, "p") {
			body += "p0"
		}
		f, _ = strconv.ParseFloat(body, 64)
	default:
		f, _ = strconv.ParseFloat(body, 64)
	}
	if neg {
		f = -f
	}
	return f
}

// ToNumber is lua_tonumber: a number, or a string that reads as one in
// Lua 5.1's syntax; ok is false for anything else.
func ToNumber(v lua.LValue) (n float64, ok bool) {
	switch v := v.(type) {
	case lua.LNumber:
		return float64(v), true
	case lua.LString:
		return str2number(string(v))
	}
	return 0, false
}
