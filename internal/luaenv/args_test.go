package luaenv

import (
	"math"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// Library functions take numeric strings where they take numbers, as Lua
// 5.1's do, and keep Lua's errors for strings that are not numbers
// (internal/compat/testdata/script_numstr.txt compares them with
// redis-server).
func TestNumericStringArguments(t *testing.T) {
	env := New()
	defer env.Close()
	env.Seal()
	for _, tc := range []struct{ body, want string }{
		{"return string.sub('abcdef', '2', ' 3 ')", "bc"},
		{"return ('abcdef'):sub('0x2', '1e1')", "bcdef"},
		{"return string.rep('ab', '3')", "ababab"},
		{"return string.char('104', 105)", "hi"},
		{"return table.concat({1, 2, 3, 4}, '-', '2', '3')", "2-3"},
		{"return table.concat({1/3}, '')", "0.33333333333333"},
		{"return select('2', 'a', 'b')", "b"},
		{"return (unpack({'x', 'y'}, '2'))", "y"},
		{"return string.format('%d|%5.2f|%x|%s', '42', '3.14159', '255', 1/3)", "42| 3.14|ff|0.33333333333333"},
		{"return string.format('%g|%x|%c', 1/3, -1, 65)", "0.333333|ffffffffffffffff|A"},
		{"return math.floor('010') .. ''", "10"},
		{"return bit.band('0xff', '15') .. ''", "15"},
		{"return tonumber('1e3') .. ''", "1000"},
		{"return tonumber('ff', '16') .. ''", "255"},
		{"local r = '' for w in ('a1b22'):gmatch('%d+') do r = r .. w end return r", "122"},
	} {
		v, err := run(t, env, tc.body)
		if err != nil {
			t.Errorf("%s: %v", tc.body, err)
			continue
		}
		if got := lua.LVAsString(v); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.body, got, tc.want)
		}
	}
	for _, tc := range []struct{ body, want string }{
		{"return string.sub('abc', 'x')", "bad argument #2 to 'sub' (number expected, got string)"},
		{"return string.rep('ab')", "bad argument #2 to 'rep' (number expected, got no value)"},
		{"local s = string.sub return s('abc', {})", "bad argument #2 to 's' (number expected, got table)"},
		{"return math.floor('1_0')", "bad argument #1 to 'floor' (number expected, got string)"},
		{"return select('x')", "bad argument #1 to 'select' (number expected, got string)"},
		{"return string.char(256)", "bad argument #1 to 'char' (invalid value)"},
		{"return string.format('%d')", "bad argument #2 to 'format' (no value)"},
		{"return tonumber('1', 99)", "bad argument #2 to 'tonumber' (base out of range)"},
	} {
		_, err := run(t, env, tc.body)
		if err == nil || !strings.Contains(err.Error(), "user_script:1: "+tc.want) {
			t.Errorf("%s: error %v, want %q", tc.body, err, tc.want)
		}
	}
	// Through pcall, a Go function's error has no position, as in Lua.
	v, err := run(t, env, "local ok, e = pcall(string.sub, 'a', 'x') return e")
	if err != nil || lua.LVAsString(v) != "bad argument #2 to '?' (number expected, got string)" {
		t.Errorf("pcall(string.sub): %v %v", v, err)
	}
}

func TestStr2numberAndStrtoul(t *testing.T) {
	for s, want := range map[string]float64{
		"10": 10, " 10 ": 10, "0x10": 16, " 0X1f\t": 31, "1e2": 100, ".5": 0.5, "5.": 5,
		"-0x10": -16, "010": 10, "inf": math.Inf(1), "0x1p4": 16, "5\r": 5,
	} {
		if got, ok := str2number(s); !ok || got != want {
			t.Errorf("str2number(%q) = %v %v, want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"", " ", "1_0", "0b1", "0o7", "1e", "x", "1 2", "0x"} {
		if got, ok := str2number(s); ok {
			t.Errorf("str2number(%q) = %v, want none", s, got)
		}
	}
	for _, tc := range []struct {
		s    string
		base int
		u    uint64
		end  int
	}{
		{"ff", 16, 255, 2}, {" -1", 16, math.MaxUint64, 3}, {"0x10", 16, 16, 4}, {"0x", 16, 0, 1},
		{"zz", 36, 1295, 2}, {"12", 2, 1, 1}, {"x", 10, 0, 0},
		{"99999999999999999999", 16, math.MaxUint64, 20},
	} {
		u, end := strtoul(tc.s, tc.base)
		if u != tc.u || end != tc.end {
			t.Errorf("strtoul(%q, %d) = %d %d, want %d %d", tc.s, tc.base, u, end, tc.u, tc.end)
		}
	}
}

// BenchmarkLibraryCalls runs a script that calls the wrapped library
// functions in a loop: the cost of the argument checks.
func BenchmarkLibraryCalls(b *testing.B) {
	env := New()
	defer env.Close()
	env.Seal()
	fn, err := env.Compile(`
local n, parts = 0, {}
for i = 1, 100 do
	local s = string.sub('abcdefgh', 2, 5) .. string.rep('x', 3)
	n = n + string.len(s) + math.floor(i / 3) + math.max(i, 50) + string.byte(s, 1)
	parts[#parts + 1] = string.format('%d:%s', i, s)
	n = n + tonumber('42') + select(2, 'a', i)
end
return table.concat(parts, ','):len() + n`, "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		env.L.Push(fn)
		if err := env.L.PCall(0, 1, nil); err != nil {
			b.Fatal(err)
		}
		env.L.Pop(1)
	}
}
