package resp

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// chunkReader returns its chunks one Read at a time, each cut to the size
// asked for; it records the sizes asked for.
type chunkReader struct {
	chunks [][]byte
	asked  []int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	c.asked = append(c.asked, len(p))
	for len(c.chunks) > 0 && len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks[0] = c.chunks[0][n:]
	return n, nil
}

// parseAll feeds chunks to a Reader and returns the requests (each joined
// with "|") and the error that ended parsing (nil at EOF).
func parseAll(t testing.TB, authed bool, chunks ...[]byte) ([]string, error) {
	t.Helper()
	rd := NewReader(&chunkReader{chunks: chunks})
	var out []string
	for {
		for {
			args, err := rd.Next(authed)
			if err != nil {
				return out, err
			}
			if args == nil {
				break
			}
			parts := make([]string, len(args))
			for i, a := range args {
				parts[i] = string(a)
			}
			out = append(out, strings.Join(parts, "|"))
		}
		if err := rd.Fill(); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
	}
}

func bytesOneByOne(s string) [][]byte {
	out := make([][]byte, len(s))
	for i := range s {
		out[i] = []byte{s[i]}
	}
	return out
}

func TestReaderRequests(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		err  string // the protocol error ending the input, if any
	}{
		{"PING\r\n", []string{"PING"}, ""},
		{"PING\n", []string{"PING"}, ""},
		{"PING", nil, ""},
		{"\r\n\n  \r\nPING a b\r\n", []string{"PING|a|b"}, ""},
		{"PING\r\r\n", []string{"PING"}, ""},
		{"ECHO a\vb\r\n", []string{"ECHO|a\vb"}, ""},
		{"ECHO \"a b\" 'c d'\r\n", []string{"ECHO|a b|c d"}, ""},
		{"ECHO \"x\r\n", nil, "unbalanced quotes in request"},
		{"PING\x00\r\nPING\r\n", nil, ""},
		{"*1\r\n$4\r\nPING\r\n", []string{"PING"}, ""},
		{"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", []string{"ECHO|"}, ""},
		{"*0\r\n*-1\r\n*-9\r\n*1\r\n$1\r\nx\r\n", []string{"x"}, ""},
		{"*1\r\n$4\r\nPINGxx*1\r\n$1\r\ny\r\n", []string{"PING", "y"}, ""},
		{"*1\rX$4\rXPING\r\n", []string{"PING"}, ""},
		{"*1\r\n$4\r\nPING\r\nPING\r\n", []string{"PING", "PING"}, ""},
		{"*x\r\n", nil, "invalid multibulk length"},
		{"*-0\r\n", nil, "invalid multibulk length"},
		{"*01\r\n", nil, "invalid multibulk length"},
		{"*2147483648\r\n", nil, "invalid multibulk length"},
		{"*2147483647\r\n$1\r\na\r\n", nil, ""},
		{"*1\r\n$-1\r\n", nil, "invalid bulk length"},
		{"*1\r\n$536870913\r\n", nil, "invalid bulk length"},
		{"*1\r\n$536870912\r\nabc", nil, ""},
		{"*1\r\nPING\r\n", nil, "expected '$', got 'P'"},
		{"*1\r\n\xff\r\n", nil, "expected '$', got '\xff'"},
		{"*1\r\n\r\n", nil, "expected '$', got '\r'"},
		{"*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n", []string{"PING"}, "invalid bulk length"},
		{"*1\x00\r\n", nil, ""},
		{"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na\x00b\r\n", []string{"SET|k|a\x00b"}, ""},
	}
	for _, c := range cases {
		for _, split := range []bool{false, true} {
			chunks := [][]byte{[]byte(c.in)}
			if split {
				chunks = bytesOneByOne(c.in)
			}
			got, err := parseAll(t, true, chunks...)
			var gotErr string
			if err != nil {
				var pe ProtocolError
				if !errors.As(err, &pe) {
					t.Fatalf("%q: %v", c.in, err)
				}
				gotErr = string(pe)
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") || gotErr != c.err {
				t.Errorf("%q (one byte at a time: %v): got %q, error %q; want %q, error %q", c.in, split, got, gotErr, c.want, c.err)
			}
		}
	}
}

func TestReaderUnauthenticated(t *testing.T) {
	eleven := "*11\r\n" + strings.Repeat("$1\r\na\r\n", 11)
	cases := []struct {
		in     string
		authed bool
		err    string
	}{
		{eleven, true, ""},
		{eleven, false, "unauthenticated multibulk length"},
		{"*10\r\n" + strings.Repeat("$1\r\na\r\n", 10), false, ""},
		{"*1\r\n$16385\r\n", false, "unauthenticated bulk length"},
		{"*1\r\n$16384\r\n" + strings.Repeat("a", 16384) + "\r\n", false, ""},
		{"*1\r\n$16385\r\n" + strings.Repeat("a", 16385) + "\r\n", true, ""},
		{"ECHO " + strings.Repeat("a", 20000) + "\r\n", false, ""},
	}
	for _, c := range cases {
		_, err := parseAll(t, c.authed, []byte(c.in))
		got := ""
		if err != nil {
			got = string(err.(ProtocolError))
		}
		if got != c.err {
			t.Errorf("%.30q authed=%v: error %q, want %q", c.in, c.authed, got, c.err)
		}
	}
}

func TestReaderTooBig(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct {
		in  string
		err string
	}{
		// Redis reads 16384 bytes, then 65526: a line must end within 81910.
		{"ECHO " + a(81903) + "\r\n", ""},
		{"ECHO " + a(81904) + "\r\n", "too big inline request"},
		{a(65536), ""},
		{a(65537), "too big inline request"},
		{"*" + a(70000), "too big mbulk count string"},
		{"*" + a(70000) + "\r\n", "invalid multibulk length"},
		{"*1\r\n$" + a(70000), "too big bulk count string"},
		{"*1\r\n$" + a(70000) + "\r\n", "invalid bulk length"},
		{"PING\x00" + a(70000) + "\r\n", "too big inline request"},
	}
	for _, c := range cases {
		_, err := parseAll(t, true, []byte(c.in))
		got := ""
		if err != nil {
			got = string(err.(ProtocolError))
		}
		if got != c.err {
			t.Errorf("%.30q (%d bytes): error %q, want %q", c.in, len(c.in), got, c.err)
		}
	}
}

// TestReaderReadSizes checks that reads ask for what redis-server's reads
// ask for.
func TestReaderReadSizes(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []int
	}{
		// 16384 into a fresh buffer; then the buffer doubles to 64 KB,
		// which jemalloc serves from its 80 KB class.
		{"inline", strings.Repeat("a", 200000), []int{16384, 65526}},
		// A 100000-byte argument: the rest of it, then the whole new buffer
		// the argument leaves behind.
		{"big-arg", "*1\r\n$100000\r\n" + strings.Repeat("x", 100002) + "PING\r\n", []int{16384, 83631, 114678, 114678}},
		// Consumed bytes are trimmed: the second read fills the buffer but
		// for the 4 bytes of the partial request.
		{"small", strings.Repeat("PING\r\n", 5000), []int{16384, 20470}},
	}
	for _, c := range cases {
		cr := &chunkReader{chunks: [][]byte{[]byte(c.in)}}
		rd := NewReader(cr)
		for len(cr.asked) < len(c.want) {
			err := rd.Fill()
			for err == nil {
				var args [][]byte
				args, err = rd.Next(true)
				if args == nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		if len(cr.asked) < len(c.want) || !equalInts(cr.asked[:len(c.want)], c.want) {
			t.Errorf("%s: read sizes %v, want %v", c.name, cr.asked, c.want)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestJemallocSize(t *testing.T) {
	for n, want := range map[int64]int64{1: 8, 8: 8, 9: 16, 17: 32, 49: 64, 128: 128, 129: 160, 16384: 16384, 16390: 20480, 65546: 81920, 100012: 114688} {
		if got := jemallocSize(n); got != want {
			t.Errorf("jemallocSize(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestSplitArgs(t *testing.T) {
	cases := []struct {
		in   string
		want []string // nil with ok=false: unbalanced
		ok   bool
	}{
		{"", nil, true},
		{"   ", nil, true},
		{"a b  c", []string{"a", "b", "c"}, true},
		{"\t a\tb \v", []string{"a", "b"}, true},
		{"a\vb a\fb", []string{"a\vb", "a\fb"}, true},
		{`"a b"`, []string{"a b"}, true},
		{`""`, []string{""}, true},
		{`''`, []string{""}, true},
		{`"\n\r\t\b\a\\\"\q"`, []string{"\n\r\t\b\a\\\"q"}, true},
		{`"\x41\x4a\x4B"`, []string{"AJK"}, true},
		{`"\x4" "\xg1"`, []string{"x4", "xg1"}, true},
		{`'it\'s' 'a\nb'`, []string{"it's", `a\nb`}, true},
		{`a"b c"`, []string{"ab c"}, true},
		{`a'b c' d`, []string{"ab c", "d"}, true},
		{`"a"b`, nil, false},
		{`'a'b`, nil, false},
		{`"a"	b`, []string{"a", "b"}, true},
		{`"abc`, nil, false},
		{`'abc`, nil, false},
		{`"abc\"`, nil, false},
		{"a\x00b c", []string{"a"}, true},
		{`"a` + "\x00" + `"`, nil, false},
	}
	for _, c := range cases {
		got, ok := SplitArgs([]byte(c.in), nil)
		var strs []string
		for _, a := range got {
			strs = append(strs, string(a))
		}
		if ok != c.ok || (ok && strings.Join(strs, "|") != strings.Join(c.want, "|")) || (ok && len(strs) != len(c.want)) {
			t.Errorf("SplitArgs(%q) = %q, %v; want %q, %v", c.in, strs, ok, c.want, c.ok)
		}
	}
}

// TestReaderArgsStable checks that the arguments of a request stay valid
// while later requests in the same buffer are parsed, as the server relies
// on between Fill calls.
func TestReaderArgsStable(t *testing.T) {
	in := bytes.Repeat([]byte("*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\n"), 3)
	rd := NewReader(bytes.NewReader(in))
	if err := rd.Fill(); err != nil {
		t.Fatal(err)
	}
	first, _ := rd.Next(true)
	saved := string(first[1])
	for {
		args, err := rd.Next(true)
		if err != nil || args == nil {
			break
		}
	}
	if saved != "abc" || rd.Buffered() != 0 {
		t.Fatalf("saved %q, buffered %d", saved, rd.Buffered())
	}
}

func TestParseCommands(t *testing.T) {
	var got []string
	_, err := ParseCommands([]byte("*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n*0\r\n*1\r\n$4\r\nPING\r\n"), nil, func(args [][]byte, _ []byte) error {
		got = append(got, string(bytes.Join(args, []byte(" "))))
		return nil
	})
	if err != nil || len(got) != 2 || got[0] != "DEL k" || got[1] != "PING" {
		t.Fatalf("got %q, %v", got, err)
	}
	for _, bad := range []string{"PING\r\n", "*1\r\n$4\r\nPIN", "*1\r\n$4\r\nPINGxx", "*1\r\n$-1\r\n", "*2\r\n$1\r\na\r\n", "*1\r\n:1\r\n", "*x\r\n"} {
		if _, err := ParseCommands([]byte(bad), nil, func([][]byte, []byte) error { return nil }); err == nil {
			t.Errorf("ParseCommands(%q): no error", bad)
		}
	}
	// With its scratch kept, parsing an entry allocates nothing.
	entry := []byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n")
	var scratch [][]byte
	n := 0
	count := func([][]byte, []byte) error { n++; return nil }
	allocs := testing.AllocsPerRun(100, func() {
		scratch, err = ParseCommands(entry, scratch[:0], count)
	})
	if err != nil || allocs != 0 || n != 2*101 {
		t.Fatalf("reused scratch: %v allocations per entry, %d commands, %v", allocs, n, err)
	}
}
