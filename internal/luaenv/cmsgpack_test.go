package luaenv

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

func TestCmsgpack(t *testing.T) {
	runAll(t, map[string]string{
		"return cmsgpack.pack(0, 127, 128, -32, -33, 65536, -2^31 - 1)":           "\x00\x7f\xcc\x80\xe0\xd0\xdf\xce\x00\x01\x00\x00\xd3\xff\xff\xff\xff\x7f\xff\xff\xff",
		"return cmsgpack.pack(0.5, 0.1)":                                          "\xca\x3f\x00\x00\x00\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a",
		"return cmsgpack.pack(2^63)":                                              "\xca\x5f\x00\x00\x00",
		"return cmsgpack.pack(string.rep('x', 32))":                               "\xd9\x20" + strings.Repeat("x", 32),
		"return cmsgpack.pack({}, {1, 2}, {a=true}, {[2]=1})":                     "\x90\x92\x01\x02\x81\xa1a\xc3\x81\x02\x01",
		"local t = {} t[1] = t return #cmsgpack.pack(t)":                          "17",
		"return cmsgpack.pack()":                                                  "error: bad argument #0 to 'pack' (MessagePack pack needs input.)",
		"return cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255')": "-1",
		"return cmsgpack.unpack('\\193')":                                         "error: Bad data format in input.",
		"return cmsgpack.unpack('\\205\\1')":                                      "error: Missing bytes in input.",
		"return cmsgpack.unpack('\\129\\192\\1')":                                 "error: table index is nil",
		"return table.concat({cmsgpack.unpack_one('\\1\\2\\3', 1)}, ',')":         "2,2",
		"return table.concat({cmsgpack.unpack_limit('\\1\\2\\3', 5, 1)}, ',')":    "-1,2,3",
		"return cmsgpack.unpack_one('\\1', -1)":                                   "error: Invalid request to unpack with offset of -1 and limit of 1.",
		"return cmsgpack.unpack_one('\\1', 2)":                                    "error: Start offset 2 greater than input length 1.",
		"return select('#', cmsgpack.unpack(string.rep('\\1', 8000)))":            "error: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)",
		// Sparse integer keys: gopher-lua would fill a dense array up to
		// the key, so keys beyond 2n+64 are refused; dense maps in any
		// order and keys past lua.MaxArrayIndex decode.
		"return cmsgpack.unpack('\\129\\206\\3\\195\\195\\195\\1')":              "error: Integer key 63161283 too sparse for this Lua: a map of 1 pairs may use integer keys up to 66.",
		"local t = cmsgpack.unpack('\\131\\3\\3\\2\\2\\1\\1') return #t .. t[3]": "33",
		"return cmsgpack.unpack('\\129\\66\\7')[66]":                             "7",
		"return cmsgpack.unpack('\\129\\206\\4\\0\\0\\0\\7')[2^26]":              "7",
	})
}

// FuzzCmsgpackUnpack: any input unpacks or raises a Lua error, and what
// unpacks packs again without an error.
func FuzzCmsgpackUnpack(f *testing.F) {
	for _, s := range []string{"\x93\x01\xa1a\xc0", "\x81\xa1k\xcb\x00\x00\x00\x00\x00\x00\x00\x00", "\xdd\xff\xff\xff\xff", "\xc1", "\xdb\x00\x00\x00\x05ab"} {
		f.Add(s)
	}
	env := New()
	defer env.Close()
	env.Seal()
	fn, err := env.Compile(`local r = {pcall(cmsgpack.unpack, ARG)}
if not r[1] then return 'error' end
return cmsgpack.pack(unpack(r))`, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 4096 {
			return
		}
		env.Globals.RawSetString("ARG", lua.LString(s))
		env.L.Push(fn)
		if err := env.L.PCall(0, 1, nil); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		env.L.SetTop(0)
	})
}
