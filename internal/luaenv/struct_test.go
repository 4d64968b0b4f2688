package luaenv

import "testing"

func TestStruct(t *testing.T) {
	runAll(t, map[string]string{
		"return struct.pack('>i', 1)":                                              "\x00\x00\x00\x01",
		"return struct.pack('<i16', -1)":                                           "\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00",
		"return struct.pack('>L', 0/0)":                                            "\x80\x00\x00\x00\x00\x00\x00\x00",
		"return struct.pack('>L', 2^64)":                                           "\x00\x00\x00\x00\x00\x00\x00\x00",
		"return struct.pack('!4 b i', 1, 2)":                                       "\x01\x00\x00\x00\x02\x00\x00\x00",
		"return struct.pack('s', 'ab')":                                            "ab\x00",
		"return struct.pack('c4', 'ab')":                                           "error: bad argument #3 to 'pack' (string too short)",
		"return struct.pack('>B')":                                                 "error: bad argument #2 to 'pack' (number expected, got nil)",
		"return struct.pack('q', 1)":                                               "error: bad argument #1 to 'pack' (invalid format option 'q')",
		"return struct.pack('!3', 1)":                                              "error: alignment 3 is not a power of 2",
		"return struct.pack('i33', 1)":                                             "error: integral size 33 is larger than limit of 32",
		"return table.concat({struct.unpack('>hB', '\\255\\254\\7')}, ',')":        "-2,7,4",
		"return table.concat({struct.unpack('>i9', string.rep('\\255', 9))}, ',')": "-1,10",
		"return table.concat({struct.unpack('bc0', '\\2abc')}, ',')":               "ab,4",
		"return table.concat({struct.unpack('s', 'ab\\0c')}, ',')":                 "ab,4",
		"return struct.unpack('s', 'abc')":                                         "error: unfinished string in data",
		"return struct.unpack('i', 'abc')":                                         "error: bad argument #2 to 'unpack' (data string too short)",
		"return struct.unpack('b', 'a', 0)":                                        "error: bad argument #3 to 'unpack' (offset must be 1 or greater)",
		"return struct.unpack('c0', 'a')":                                          "error: format 'c0' needs a previous size",
		"return struct.size('!4 b i b d')":                                         "20",
		"return struct.size('q5z')":                                                "0",
		"return struct.size('s')":                                                  "error: bad argument #1 to 'size' (option 's' has no fixed size)",
	})
}
