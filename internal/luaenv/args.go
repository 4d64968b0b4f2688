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
// A leading '<' checks the arguments last to first: Lua 5.1 checks them
// inside a call to a C function (pow(luaL_checknumber(L, 1),
// luaL_checknumber(L, 2))), whose arguments Redis's compiler evaluates
// right to left, so math.pow('x') complains of argument #2.
var argSpecs = map[string]map[string]string{
	"string": {
		"find": "sso", "gmatch": "ss", "gfind": "ss",
		"len": "s", "match": "sso", "rep": "si", "reverse": "s",
	},
	"table": {"getn": "t", "maxn": "t"},
	"math": {
		"abs": "n", "acos": "n", "asin": "n", "atan": "n", "atan2": "<nn", "ceil": "n",
		"cos": "n", "cosh": "n", "exp": "n", "floor": "n",
		"frexp": "n", "ldexp": "<ni", "log": "n", "log10": "n", "max": "n*", "min": "n*",
		"pow": "<nn", "sin": "n", "sinh": "n", "sqrt": "n",
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
	str.RawSetString("gsub", withGsubNone(L, str.RawGetString("gsub").(*lua.LFunction)))
	str.RawSetString("match", withNilForNone(L, str.RawGetString("match").(*lua.LFunction)))
	str.RawSetString("match", withFindInit(L, str.RawGetString("match").(*lua.LFunction), false))
	str.RawSetString("find", withFindInit(L, str.RawGetString("find").(*lua.LFunction), true))
	str.RawSetString("gmatch", withPlainCaret(L, str.RawGetString("gmatch").(*lua.LFunction)))
	str.RawSetString("byte", L.NewFunction(strByte))
	str.RawSetString("sub", L.NewFunction(strSub))
	str.RawSetString("upper", L.NewFunction(strUpper))
	str.RawSetString("lower", L.NewFunction(strLower))
	g.RawSetString("error", withNumberError(L, g.RawGetString("error").(*lua.LFunction)))
	g.RawSetString("assert", L.NewFunction(baseAssert))
	tab := g.RawGetString("table").(*lua.LTable)
	tab.RawSetString("concat", L.NewFunction(tabConcat))
	tab.RawSetString("insert", L.NewFunction(tabInsert))
	tab.RawSetString("remove", L.NewFunction(tabRemove))
	m := g.RawGetString("math").(*lua.LTable)
	for _, name := range []string{"acos", "asin", "atan", "atan2", "cos", "cosh", "exp", "log", "log10",
		"pow", "sin", "sinh", "sqrt", "tan", "tanh"} {
		m.RawSetString(name, withCNaN(L, m.RawGetString(name).(*lua.LFunction), negNaN[name]))
	}
	m.RawSetString("modf", L.NewFunction(mathModf))
	m.RawSetString("deg", L.NewFunction(mathDeg))
	m.RawSetString("rad", L.NewFunction(mathRad))
	// Lua 5.1's math.mod is fmod (gopher-lua's is the % operator), and
	// math.huge is HUGE_VAL.
	m.RawSetString("fmod", L.NewFunction(mathFmod))
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
	reverse := strings.HasPrefix(spec, "<")
	spec = strings.TrimPrefix(spec, "<")
	return wrapGo(L, fn, func(L *lua.LState) {
		for i := 0; i < len(spec); i++ {
			if reverse {
				checkArg(L, len(spec)-i, spec[len(spec)-1-i])
			} else {
				checkArg(L, i+1, spec[i])
			}
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

// raisef is raise with a message formatted as fmt.Sprintf does: the
// errors of the libraries (cjson, cmsgpack, struct) are luaL_error's.
func raisef(L *lua.LState, format string, a ...any) {
	raise(L, fmt.Sprintf(format, a...))
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

// tabInsert is Lua 5.1's table.insert(t, [pos,] v): the position
// checked only when there are three arguments, no more than three, and
// the elements from pos to #t moved up one whatever pos is (at 0 or
// below too: table.insert(t, 0, v) leaves t[1] nil, where gopher-lua's
// moves nothing).
func tabInsert(L *lua.LState) int {
	t := tableArg(L, 1)
	e := int64(t.Len()) + 1
	pos := e
	switch L.GetTop() {
	case 2:
	case 3:
		pos = int64(intArg(L, 2))
		e = max(e, pos)
		for i := e; i > pos; i-- {
			t.RawSetInt(int(i), t.RawGetInt(int(i-1)))
		}
	default:
		raise(L, "wrong number of arguments to 'insert'")
	}
	t.RawSetInt(int(pos), L.Get(L.GetTop()))
	return 0
}

// strUpper and strLower are string.upper and string.lower: C's toupper
// and tolower in the C locale, byte by byte, ASCII letters only (Go's
// strings.ToUpper, gopher-lua's, reads UTF-8 and turns each invalid byte
// into the 3 bytes of U+FFFD).
func strUpper(L *lua.LState) int { return mapASCII(L, 'a', 'z', 'A') }

// strLower: see strUpper.
func strLower(L *lua.LState) int { return mapASCII(L, 'A', 'Z', 'a') }

// mapASCII returns argument 1 with the bytes in lo..hi moved to the
// range starting at to.
func mapASCII(L *lua.LState, lo, hi, to byte) int {
	b := []byte(stringArg(L, 1))
	for i, c := range b {
		if lo <= c && c <= hi {
			b[i] = c - lo + to
		}
	}
	L.Push(lua.LString(b))
	return 1
}

// gsubRepl rewrites a gsub replacement string so that gopher-lua reads it
// as Lua 5.1 does: '%' before a character other than a digit stands for
// that character ("%a" is "a", where gopher-lua keeps "%a"), and a '%'
// at the end for a NUL byte (Lua reads the string's terminator).
func gsubRepl(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		switch {
		case i == len(s):
			b.WriteByte(0)
		case s[i] >= '0' && s[i] <= '9' || s[i] == '%':
			b.WriteByte('%')
			b.WriteByte(s[i])
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// mathFmod is math.fmod: C's fmod, its arguments checked right to left
// (see argSpecs). Where fmod has no number (y 0, x infinite, a NaN) it
// returns (x*y)/(x*y) as glibc does, so the NaN has the sign Redis shows
// ("-nan" for fmod(5, 0)), where Go's math.Mod returns a positive NaN.
func mathFmod(L *lua.LState) int {
	y := float64(numberArg(L, 2))
	x := float64(numberArg(L, 1))
	if y == 0 || math.IsInf(x, 0) || math.IsNaN(x) || math.IsNaN(y) {
		p := x * y
		L.Push(lua.LNumber(p / p))
		return 1
	}
	L.Push(lua.LNumber(math.Mod(x, y)))
	return 1
}

// negNaN names the math functions whose glibc versions return a negative
// NaN (printed "-nan") for arguments out of their domain, such as
// log(-1), sqrt(-1), sin(1/0) or pow(-8, 1/3); the others return a
// positive one.
var negNaN = map[string]bool{"log": true, "sin": true, "cos": true, "tan": true, "pow": true, "sqrt": true}

// withCNaN returns fn (a math function of one result) with the NaNs of
// C's libm: a NaN argument comes back as it is (its sign kept), and a NaN
// from other arguments is negative when neg is set, where Go's math
// functions return a positive NaN either way.
func withCNaN(L *lua.LState, fn *lua.LFunction, neg bool) *lua.LFunction {
	orig := fn.GFunction
	return L.NewFunction(func(L *lua.LState) int {
		n := orig(L)
		if r, ok := L.Get(-1).(lua.LNumber); n != 1 || !ok || !math.IsNaN(float64(r)) {
			return n
		}
		for i := 1; i <= 2 && i < L.GetTop(); i++ {
			if a, ok := L.Get(i).(lua.LNumber); ok && math.IsNaN(float64(a)) {
				L.Push(a)
				return 1
			}
		}
		nan := math.NaN()
		if neg {
			nan = math.Copysign(nan, -1)
		}
		L.Push(lua.LNumber(nan))
		return 1
	})
}

// withFindInit returns string.find (find set) or string.match with Lua
// 5.1's init: negative from the end, then within 1 and the string's
// length plus one (gopher-lua's plain find fails on an init past the end,
// and its match finds nothing there where the empty match is found:
// string.match('ab', '()', 5) is 3); and string.find with the empty
// pattern finding it at init (string.find('abc', ”, 2) is 2, 1), where
// gopher-lua's finds it at 1 whatever init.
func withFindInit(L *lua.LState, fn *lua.LFunction, find bool) *lua.LFunction {
	orig := fn.GFunction
	up := make([]lua.LValue, len(fn.Upvalues))
	for i, u := range fn.Upvalues {
		up[i] = u.Value()
	}
	return L.NewClosure(func(L *lua.LState) int {
		p, ok := L.Get(2).(lua.LString)
		empty := find && ok && p == ""
		if !empty && L.Get(3) == lua.LNil {
			return orig(L)
		}
		l := int64(len(stringArg(L, 1)))
		stringArg(L, 2)
		init := int64(1)
		if L.Get(3) != lua.LNil {
			init = luaInteger(float64(numberArg(L, 3)))
		}
		if init < 0 {
			init += l + 1
		}
		init = min(max(init-1, 0), l)
		if !empty {
			L.Replace(3, lua.LNumber(init+1))
			return orig(L)
		}
		L.Push(lua.LNumber(init + 1))
		L.Push(lua.LNumber(init))
		return 2
	}, up...)
}

// withNumberError returns error turning a number it raises with a level
// into a string with the position, as Lua 5.1's error does for anything
// lua_isstring takes (error(5) raises "user_script:1: 5"); gopher-lua
// adds the position to strings only. Where the level names a Go function
// the position is empty, as Lua's for a C function (pcall(error, 'x')
// returns false, 'x').
func withNumberError(L *lua.LState, fn *lua.LFunction) *lua.LFunction {
	orig := fn.GFunction
	return L.NewFunction(func(L *lua.LState) int {
		if L.GetTop() == 0 {
			L.Push(lua.LNil) // error() raises nil
		}
		level := optIntArg(L, 2, 1)
		if v, ok := L.Get(1).(lua.LNumber); ok && level > 0 {
			L.Replace(1, lua.LString(formatG(float64(v), 14)))
		}
		if dbg, ok := L.GetStack(int(level)); ok && level > 0 {
			if _, err := L.GetInfo("S", dbg, lua.LNil); err == nil && dbg.What == "G" {
				// no position for a Go function (pcall(error, 'x'))
				L.SetTop(max(L.GetTop(), 2))
				L.Replace(2, lua.LNumber(0))
			}
		}
		return orig(L)
	})
}

// baseAssert is Lua 5.1's assert: its message may be a number (written
// as "%.14g"), and its errors are Lua's.
func baseAssert(L *lua.LState) int {
	if L.GetTop() == 0 {
		badArg(L, 1, "value expected")
	}
	if !lua.LVAsBool(L.Get(1)) {
		msg := "assertion failed!"
		if L.Get(2) != lua.LNil {
			msg = stringArg(L, 2)
		}
		raise(L, msg)
	}
	return L.GetTop()
}

// strByte is Lua 5.1's string.byte(s [, i [, j]]): j defaults to i
// (gopher-lua's to the end), i below 1 is 1 and j past the end the end
// (string.byte('ab', 0, 5) is 97, 98; gopher-lua's returns nothing).
func strByte(L *lua.LState) int {
	s := stringArg(L, 1)
	l := int64(len(s))
	posi := int64(1)
	if L.Get(2) != lua.LNil {
		posi = luaInteger(float64(numberArg(L, 2)))
	}
	posi = posrelat(posi, l)
	pose := posi
	if L.Get(3) != lua.LNil {
		pose = posrelat(luaInteger(float64(numberArg(L, 3))), l)
	}
	posi, pose = max(posi, 1), min(pose, l)
	for i := posi; i <= pose; i++ {
		L.Push(lua.LNumber(s[i-1]))
	}
	return int(max(pose-posi+1, 0))
}

// posrelat is Lua 5.1's: a negative string position counted from the
// end (-1 is the last byte), 0 for one before the start.
func posrelat(pos, l int64) int64 {
	if pos < 0 {
		pos += l + 1
	}
	return max(pos, 0)
}

// strSub is Lua 5.1's string.sub(s, i [, j]), its positions read as C's
// lua_Integer (string.sub('abc', 1/0) is 'abc': the infinity becomes
// LONG_MIN, before the start; gopher-lua's returns ”).
func strSub(L *lua.LState) int {
	s := stringArg(L, 1)
	l := int64(len(s))
	start := posrelat(luaInteger(float64(numberArg(L, 2))), l)
	end := int64(-1)
	if L.Get(3) != lua.LNil {
		end = luaInteger(float64(numberArg(L, 3)))
	}
	start, end = max(start, 1), min(posrelat(end, l), l)
	if start > end {
		L.Push(lua.LString(""))
	} else {
		L.Push(lua.LString(s[start-1 : end]))
	}
	return 1
}

// tabRemove is Lua 5.1's table.remove(t [, pos]): nothing when pos is
// not within 1..#t (gopher-lua's counts a negative pos from the end).
func tabRemove(L *lua.LState) int {
	t := tableArg(L, 1)
	e := int64(t.Len())
	pos := e
	if L.Get(2) != lua.LNil {
		pos = int64(intArg(L, 2))
	}
	if pos < 1 || pos > e {
		return 0
	}
	v := t.RawGetInt(int(pos))
	for ; pos < e; pos++ {
		t.RawSetInt(int(pos), t.RawGetInt(int(pos+1)))
	}
	t.RawSetInt(int(e), lua.LNil)
	L.Push(v)
	return 1
}

// radiansPerDegree is Lua 5.1's RADIANS_PER_DEGREE.
const radiansPerDegree = math.Pi / 180.0

// mathDeg is math.deg as Lua 5.1 computes it, x / (pi/180) (gopher-lua's
// x * 180 / pi can differ in the last digit).
func mathDeg(L *lua.LState) int {
	L.Push(lua.LNumber(float64(numberArg(L, 1)) / radiansPerDegree))
	return 1
}

// mathRad is math.rad as Lua 5.1 computes it, x * (pi/180).
func mathRad(L *lua.LState) int {
	L.Push(lua.LNumber(float64(numberArg(L, 1)) * radiansPerDegree))
	return 1
}

// mathModf is math.modf as C's modf: an infinity's fraction is 0 (Go's
// math.Modf gives NaN), a NaN's parts are the NaN.
func mathModf(L *lua.LState) int {
	x := float64(numberArg(L, 1))
	var ip, fp float64
	switch {
	case math.IsInf(x, 0):
		ip, fp = x, math.Copysign(0, x)
	case math.IsNaN(x):
		ip, fp = x, x
	default:
		ip, fp = math.Modf(x)
	}
	L.Push(lua.LNumber(ip))
	L.Push(lua.LNumber(fp))
	return 2
}

// withGsubNone returns string.gsub (behind withGsubArgs) returning its
// subject unchanged, without reading the pattern, when its count is 0 or
// less, as Lua 5.1 does (string.gsub('a', '(', 'x', 0) is 'a', 0, where
// gopher-lua's reads the pattern first and fails).
func withGsubNone(L *lua.LState, fn *lua.LFunction) *lua.LFunction {
	orig := fn.GFunction
	return L.NewFunction(func(L *lua.LState) int {
		if L.Get(4) == lua.LNil {
			return orig(L)
		}
		s := stringArg(L, 1)
		stringArg(L, 2)
		if intArg(L, 4) > 0 {
			return orig(L)
		}
		switch L.Get(3).(type) {
		case lua.LNumber, lua.LString, *lua.LTable, *lua.LFunction:
		default:
			badArg(L, 3, "string/function/table expected")
		}
		L.Push(lua.LString(s))
		L.Push(lua.LNumber(0))
		return 2
	})
}

// withPlainCaret returns string.gmatch reading a '^' at the start of its
// pattern as the character, as Lua 5.1's gmatch does (no anchor there),
// where gopher-lua's anchors.
func withPlainCaret(L *lua.LState, fn *lua.LFunction) *lua.LFunction {
	orig := fn.GFunction
	up := make([]lua.LValue, len(fn.Upvalues))
	for i, u := range fn.Upvalues {
		up[i] = u.Value()
	}
	return L.NewClosure(func(L *lua.LState) int {
		if p, ok := L.Get(2).(lua.LString); ok && strings.HasPrefix(string(p), "^") {
			stringArg(L, 1)
			L.Replace(2, "%"+p)
		}
		return orig(L)
	}, up...)
}

// withNilForNone returns fn returning nil where it returns no value:
// gopher-lua's string.match returns none when nothing matches, Lua 5.1's
// returns nil (select('#', string.match('a', 'x')) is 1).
func withNilForNone(L *lua.LState, fn *lua.LFunction) *lua.LFunction {
	orig := fn.GFunction
	up := make([]lua.LValue, len(fn.Upvalues))
	for i, u := range fn.Upvalues {
		up[i] = u.Value()
	}
	return L.NewClosure(func(L *lua.LState) int {
		if n := orig(L); n > 0 {
			return n
		}
		L.Push(lua.LNil)
		return 1
	}, up...)
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
		case lua.LString:
			L.Replace(3, lua.LString(gsubRepl(string(v))))
		case *lua.LTable, *lua.LFunction:
			L.Replace(3, gsubValues(L, v))
		default:
			badArg(L, 3, "string/function/table expected")
		}
	})
}

// gsubValues returns a function gopher-lua's gsub calls in place of the
// table or function repl, giving the replacement as Lua 5.1 takes it:
// nil or false keeps the match, a number is its "%.14g" text, and any
// other value is the error "invalid replacement value (a table)", where
// gopher-lua keeps the match.
func gsubValues(L *lua.LState, repl lua.LValue) *lua.LFunction {
	return L.NewFunction(func(L *lua.LState) int {
		var r lua.LValue
		if t, ok := repl.(*lua.LTable); ok {
			r = L.GetTable(t, L.Get(1))
		} else {
			n := L.GetTop()
			L.Push(repl)
			for i := 1; i <= n; i++ {
				L.Push(L.Get(i))
			}
			L.Call(n, 1)
			r = L.Get(-1)
		}
		switch v := r.(type) {
		case lua.LString:
			L.Push(v)
		case lua.LNumber:
			L.Push(lua.LString(formatG(float64(v), 14)))
		default:
			if lua.LVAsBool(r) {
				// level 2: gsub's caller, as luaL_error in gsub
				L.Error(lua.LString("invalid replacement value (a "+r.Type().String()+")"), 2)
			}
			L.Push(lua.LNil)
		}
		return 1
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
	if z := strings.IndexByte(s, 0); z >= 0 {
		s = s[:z] // strtoul reads a C string: tonumber('10\0', 32) is 32
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
