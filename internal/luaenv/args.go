package luaenv

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Lua 5.1's library functions read their number arguments with
// luaL_checknumber and luaL_checkinteger, which take strings that read as
// numbers ("10", " 0x10 ", "1e1"), and their string arguments with
// luaL_checklstring, which takes numbers written as "%.14g". gopher-lua's
// CheckInt and OptInt take numbers only, its CheckNumber reads strings by
// Go's rules ("010" is 8, "1_0" is 10) and its OptString refuses numbers.
// New wraps the library functions once so that each argument a function
// takes as a number or a string is checked, and converted in place, as
// Lua 5.1 does before the original function runs; a few functions whose
// gopher-lua versions differ in more than their arguments are replaced.

// argSpecs gives, for each wrapped library function, the arguments it
// checks in Lua 5.1, one letter per position:
//
//	n  a number (luaL_checknumber, luaL_checkinteger)
//	o  a number or none/nil (luaL_optinteger)
//	i  a number taken as a C int (luaL_checkint): truncated to 32 bits
//	j  the same or none/nil (luaL_optint)
//	s  a string (luaL_checklstring: a number becomes its "%.14g" text)
//	t  a table
//	.  not checked here
//
// A trailing '*' repeats the letter before it for every further argument.
var argSpecs = map[string]map[string]string{
	"string": {
		"byte": "soo", "find": "sso", "gmatch": "ss", "gfind": "ss",
		"len": "s", "lower": "s", "match": "sso", "rep": "si", "reverse": "s",
		"sub": "sno", "upper": "s",
	},
	"table": {"getn": "t", "maxn": "t", "remove": "tj"},
	"math": {
		"abs": "n", "acos": "n", "asin": "n", "atan": "n", "atan2": "nn", "ceil": "n",
		"cos": "n", "cosh": "n", "deg": "n", "exp": "n", "floor": "n", "fmod": "nn",
		"frexp": "n", "ldexp": "ni", "log": "n", "log10": "n", "max": "n*", "min": "n*",
		"modf": "n", "pow": "nn", "rad": "n", "sin": "n", "sinh": "n", "sqrt": "n",
		"tan": "n", "tanh": "n",
	},
	"": {"error": ".j"},
}

// fixArgs installs the checked library functions in the globals g.
func fixArgs(L *lua.LState, g *lua.LTable) {
	for lib, fns := range argSpecs {
		t := g
		if lib != "" {
			t = g.RawGetString(lib).(*lua.LTable)
		}
		for name, spec := range fns {
			t.RawSetString(name, withArgs(L, t.RawGetString(name).(*lua.LFunction), spec))
		}
	}
	str := g.RawGetString("string").(*lua.LTable)
	str.RawSetString("char", L.NewFunction(strChar))
	str.RawSetString("format", L.NewFunction(strFormat))
	str.RawSetString("gsub", withGsubArgs(L, str.RawGetString("gsub").(*lua.LFunction)))
	tab := g.RawGetString("table").(*lua.LTable)
	tab.RawSetString("concat", L.NewFunction(tabConcat))
	tab.RawSetString("insert", withInsertArgs(L, tab.RawGetString("insert").(*lua.LFunction)))
	m := g.RawGetString("math").(*lua.LTable)
	// Lua 5.1's math.mod is fmod (gopher-lua's is the % operator), and
	// math.huge is HUGE_VAL.
	m.RawSetString("mod", m.RawGetString("fmod"))
	m.RawSetString("huge", lua.LNumber(math.Inf(1)))
	g.RawSetString("select", L.NewFunction(baseSelect))
	g.RawSetString("unpack", L.NewFunction(baseUnpack))
	ipairsAux := L.NewFunction(baseIpairsAux)
	g.RawSetString("ipairs", L.NewFunction(func(L *lua.LState) int {
		t := tableArg(L, 1)
		L.Push(ipairsAux)
		L.Push(t)
		L.Push(lua.LNumber(0))
		return 3
	}))
	g.RawSetString("tonumber", L.NewFunction(baseTonumber))
}

// withArgs returns fn (a Go function) behind the argument checks of spec.
func withArgs(L *lua.LState, fn *lua.LFunction, spec string) *lua.LFunction {
	var rest byte
	if strings.HasSuffix(spec, "*") {
		rest = spec[len(spec)-2]
		spec = spec[:len(spec)-1]
	}
	return wrapGo(L, fn, func(L *lua.LState) {
		for i := 0; i < len(spec); i++ {
			checkArg(L, i+1, spec[i])
		}
		if rest != 0 {
			for i := len(spec) + 1; i <= L.GetTop(); i++ {
				checkArg(L, i, rest)
			}
		}
	})
}

// wrapGo returns a Go function that runs check, then fn's Go code in the
// same call, on the arguments check converted, with fn's upvalues
// (string.gmatch keeps its iterator in one).
func wrapGo(L *lua.LState, fn *lua.LFunction, check func(*lua.LState)) *lua.LFunction {
	orig := fn.GFunction
	up := make([]lua.LValue, len(fn.Upvalues))
	for i, u := range fn.Upvalues {
		up[i] = u.Value()
	}
	return L.NewClosure(func(L *lua.LState) int {
		check(L)
		return orig(L)
	}, up...)
}

// checkArg checks argument n as kind (see argSpecs) and converts it in
// place.
func checkArg(L *lua.LState, n int, kind byte) {
	v := L.Get(n)
	switch kind {
	case 'o', 'j':
		if v == lua.LNil {
			return
		}
	}
	switch kind {
	case 'n', 'o':
		if _, ok := v.(lua.LNumber); !ok {
			L.Replace(n, numberArg(L, n))
		}
	case 'i', 'j':
		if i := lua.LNumber(intArg(L, n)); i != v {
			L.Replace(n, i)
		}
	case 's':
		if _, ok := v.(lua.LString); !ok {
			L.Replace(n, lua.LString(stringArg(L, n)))
		}
	case 't':
		tableArg(L, n)
	}
}

// badArg raises Lua 5.1's error for argument n of the running Go
// function, named as the caller calls it (luaL_argerror).
func badArg(L *lua.LState, n int, msg string) {
	raise(L, "bad argument #"+strconv.Itoa(n)+" to '"+callName(L)+"' ("+msg+")")
}

// raise is luaL_error in a Go function: msg after the position of the
// caller, none when the caller is a Go function too (pcall(f, ...)).
func raise(L *lua.LState, msg string) {
	if dbg, ok := L.GetStack(1); ok {
		if _, err := L.GetInfo("S", dbg, lua.LNil); err == nil && dbg.What == "G" {
			L.Error(lua.LString(msg), 0)
		}
	}
	L.Error(lua.LString(msg), 1)
}

// callName is the name the caller gave the running Go function, "?" when
// it has none (called through pcall, or from a table slot).
func callName(L *lua.LState) string {
	dbg, ok := L.GetStack(0)
	if !ok {
		return "?"
	}
	if _, err := L.GetInfo("n", dbg, lua.LNil); err != nil {
		return "?"
	}
	switch dbg.Name {
	case "", "(anonymous)", "main chunk", "corountine":
		return "?"
	}
	return dbg.Name
}

// numberArg is luaL_checknumber: argument n as a number, read from a
// string as Lua reads numbers.
func numberArg(L *lua.LState, n int) lua.LNumber {
	switch v := L.Get(n).(type) {
	case lua.LNumber:
		return v
	case lua.LString:
		if f, ok := str2number(string(v)); ok {
			return lua.LNumber(f)
		}
	}
	badArg(L, n, "number expected, got "+argTypeName(L, n))
	return 0
}

// intArg is luaL_checkint: numberArg converted to a C int.
func intArg(L *lua.LState, n int) int32 { return int32(luaInteger(float64(numberArg(L, n)))) }

// optIntArg is luaL_optint: def when argument n is none or nil.
func optIntArg(L *lua.LState, n int, def int32) int32 {
	if L.Get(n) == lua.LNil {
		return def
	}
	return intArg(L, n)
}

// stringArg is luaL_checklstring: argument n as a string, a number
// written as Lua 5.1 writes numbers.
func stringArg(L *lua.LState, n int) string {
	switch v := L.Get(n).(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return formatG(float64(v), 14)
	}
	badArg(L, n, "string expected, got "+argTypeName(L, n))
	return ""
}

// tableArg is luaL_checktype(L, n, LUA_TTABLE).
func tableArg(L *lua.LState, n int) *lua.LTable {
	if t, ok := L.Get(n).(*lua.LTable); ok {
		return t
	}
	badArg(L, n, "table expected, got "+argTypeName(L, n))
	return nil
}

// withInsertArgs checks table.insert's arguments as Lua 5.1 does: the
// position only when there are three arguments, and no more than three.
func withInsertArgs(L *lua.LState, fn *lua.LFunction) *lua.LFunction {
	return wrapGo(L, fn, func(L *lua.LState) {
		tableArg(L, 1)
		switch L.GetTop() {
		case 2:
		case 3:
			checkArg(L, 2, 'i')
		default:
			raise(L, "wrong number of arguments to 'insert'")
		}
	})
}

// withGsubArgs checks string.gsub's arguments as Lua 5.1 does: the
// count before the replacement, which may be a number (used as its text).
func withGsubArgs(L *lua.LState, fn *lua.LFunction) *lua.LFunction {
	return wrapGo(L, fn, func(L *lua.LState) {
		checkArg(L, 1, 's')
		checkArg(L, 2, 's')
		checkArg(L, 4, 'j')
		switch v := L.Get(3).(type) {
		case lua.LNumber:
			L.Replace(3, lua.LString(formatG(float64(v), 14)))
		case lua.LString, *lua.LTable, *lua.LFunction:
		default:
			badArg(L, 3, "string/function/table expected")
		}
	})
}

// strChar is string.char: bytes from integers, each within 0..255.
func strChar(L *lua.LState) int {
	top := L.GetTop()
	b := make([]byte, top)
	for i := 1; i <= top; i++ {
		c := intArg(L, i)
		if c < 0 || c > 255 {
			badArg(L, i, "invalid value")
		}
		b[i-1] = byte(c)
	}
	L.Push(lua.LString(b))
	return 1
}

// tabConcat is table.concat(t [, sep [, i [, j]]]): t[i..j] joined by
// sep, each a string or a number ("%.14g").
func tabConcat(L *lua.LState) int {
	sep := ""
	if L.Get(2) != lua.LNil {
		sep = stringArg(L, 2)
	}
	t := tableArg(L, 1)
	i := int64(optIntArg(L, 3, 1))
	var last int64
	if L.Get(4) == lua.LNil {
		last = int64(int32(t.Len()))
	} else {
		last = int64(intArg(L, 4))
	}
	var b strings.Builder
	for ; i <= last; i++ {
		switch v := t.RawGetInt(int(i)).(type) {
		case lua.LString:
			b.WriteString(string(v))
		case lua.LNumber:
			b.WriteString(formatG(float64(v), 14))
		default:
			raise(L, fmt.Sprintf("invalid value (%s) at index %d in table for 'concat'", typeName(v), i))
		}
		if i != last {
			b.WriteString(sep)
		}
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// baseSelect is select(n, ...): the arguments after the nth, counted from
// the end when negative, or their count for a string starting with '#'.
func baseSelect(L *lua.LState) int {
	n := L.GetTop()
	if s, ok := L.Get(1).(lua.LString); ok && len(s) > 0 && s[0] == '#' {
		L.Push(lua.LNumber(n - 1))
		return 1
	}
	i := int(intArg(L, 1))
	if i < 0 {
		i += n
	} else if i > n {
		i = n
	}
	if i < 1 {
		badArg(L, 1, "index out of range")
	}
	return n - i
}

// maxCStack is LUAI_MAXCSTACK, the most values a Lua 5.1 C function may
// push.
const maxCStack = 8000

// baseUnpack is unpack(t [, i [, j]]): t[i], ..., t[j], no more values
// than Lua 5.1 lets a C function return.
func baseUnpack(L *lua.LState) int {
	t := tableArg(L, 1)
	i := optIntArg(L, 2, 1)
	var e int32
	if L.Get(3) == lua.LNil {
		e = int32(t.Len())
	} else {
		e = intArg(L, 3)
	}
	if i > e {
		return 0
	}
	n := e - i + 1 // wraps as C's int does: <= 0 on overflow
	if n <= 0 || n > maxCStack || L.GetTop()+int(n) > maxCStack {
		raise(L, "too many results to unpack")
	}
	for k := int64(i); k <= int64(e); k++ {
		L.Push(t.RawGetInt(int(k)))
	}
	return int(n)
}

// baseIpairsAux is the iterator ipairs returns: the index after i and
// its value in t, nothing at the first nil.
func baseIpairsAux(L *lua.LState) int {
	i := intArg(L, 2) + 1
	t := tableArg(L, 1)
	v := t.RawGetInt(int(i))
	if v == lua.LNil {
		return 0
	}
	L.Push(lua.LNumber(i))
	L.Push(v)
	return 2
}

// baseTonumber is tonumber(e [, base]): in base 10 a number, or a string
// read as Lua reads numbers; in another base a string of digits read as
// C's strtoul reads them. nil when e does not convert.
func baseTonumber(L *lua.LState) int {
	base := optIntArg(L, 2, 10)
	if base == 10 {
		if L.GetTop() < 1 {
			badArg(L, 1, "value expected")
		}
		switch v := L.Get(1).(type) {
		case lua.LNumber:
			L.Push(v)
			return 1
		case lua.LString:
			if f, ok := str2number(string(v)); ok {
				L.Push(lua.LNumber(f))
				return 1
			}
		}
		L.Push(lua.LNil)
		return 1
	}
	s := stringArg(L, 1)
	if base < 2 || base > 36 {
		badArg(L, 2, "base out of range")
	}
	if u, end := strtoul(s, int(base)); end > 0 && strings.TrimLeft(s[end:], " \t\n\v\f\r") == "" {
		L.Push(lua.LNumber(float64(u)))
	} else {
		L.Push(lua.LNil)
	}
	return 1
}

// strtoul reads s as glibc's strtoul does in base (2..36): white space, a
// sign, "0x" in base 16, then digits; a value past 64 bits is the largest
// one, a negative value wraps. end is how many bytes it read, 0 when
// there were no digits.
func strtoul(s string, base int) (u uint64, end int) {
	i := 0
	for i < len(s) && strings.IndexByte(" \t\n\v\f\r", s[i]) >= 0 {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	if base == 16 && i+2 < len(s) && s[i] == '0' && s[i+1]|0x20 == 'x' && digitValue(s[i+2]) < 16 {
		i += 2
	}
	start, over := i, false
	for ; i < len(s); i++ {
		d := digitValue(s[i])
		if d >= base {
			break
		}
		hi, lo := mulAdd(u, uint64(base), uint64(d))
		if hi != 0 {
			over = true
		}
		u = lo
	}
	if i == start {
		return 0, 0
	}
	switch {
	case over:
		u = math.MaxUint64
	case neg:
		u = -u
	}
	return u, i
}

// mulAdd returns u*m+a as a 128-bit number.
func mulAdd(u, m, a uint64) (hi, lo uint64) {
	hi, lo = bits.Mul64(u, m)
	lo, carry := bits.Add64(lo, a, 0)
	return hi + carry, lo
}

// digitValue is c's value as a digit in bases up to 36, 36 when none.
func digitValue(c byte) int {
	switch {
	case isDigit(c):
		return int(c - '0')
	case 'a' <= c|0x20 && c|0x20 <= 'z':
		return int(c|0x20-'a') + 10
	}
	return 36
}
