package rdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// Libraries for the function tests: one function each (Redis lists a
// library's functions in its dict's order, which its random hash seed
// makes vary), compressible and not.
var testLibraries = []string{
	"#!lua name=alpha\nredis.register_function('a1', function(keys, args) return redis.call('set', keys[1], args[1]) end)",
	"#!lua name=beta\nredis.register_function{function_name='b1', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes', 'allow-stale'}, description='reads it'}",
	"#!lua name=gamma\nlocal s = 'gamma gamma gamma gamma gamma gamma gamma gamma gamma gamma gamma gamma gamma gamma gamma'\nredis.register_function('g1', function() return s end)",
}

// randomLibrary returns a library whose code holds n random letters (which
// LZF cannot shorten much, or at all).
func randomLibrary(name string, n int, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rng.IntN(26))
	}
	return "#!lua name=" + name + "\nredis.register_function('" + name + "_f', function() return '" + string(b) + "' end)"
}

// listWithCode returns FUNCTION LIST WITHCODE's reply with its libraries
// sorted (Redis's order is its dict's).
func listWithCode(t *testing.T, c *redistest.Conn) string {
	t.Helper()
	return redistest.SortReply(c.Do("FUNCTION", "LIST", "WITHCODE"), false)
}

// TestFunctionDumpLikeRedis: FUNCTION DUMP of one library is redis-server's
// byte for byte (LZF included) for code of every size around the
// compression thresholds; payloads of several libraries restore on the
// other server with the same FUNCTION LIST.
func TestFunctionDumpLikeRedis(t *testing.T) {
	redistest.Need(t, "redis-server")
	rc := redistest.Dial(t, redistest.Redis(t))
	_, fc := ferryConn(t, command.Config{})
	libs := slices.Clone(testLibraries)
	for i, n := range []int{0, 1, 5, 20, 40, 100, 300, 1000, 9000} {
		libs = append(libs, randomLibrary(fmt.Sprintf("rnd%d", i), n, uint64(i)))
	}
	libs = append(libs, "#!lua name=rep\nredis.register_function('rep', function() return '"+strings.Repeat("abcdefgh", 2000)+"' end)")
	for _, code := range libs {
		for _, c := range []*redistest.Conn{rc, fc} {
			pipeline(t, c, [][]string{{"FUNCTION", "FLUSH"}, {"FUNCTION", "LOAD", code}})
		}
		want, got := rc.Do("FUNCTION", "DUMP"), fc.Do("FUNCTION", "DUMP")
		if got != want {
			t.Fatalf("FUNCTION DUMP of %.40q:\n ferry %q\n redis %q", code, got, want)
		}
	}
	// Several libraries: each side restores the other's payload.
	for _, c := range []*redistest.Conn{rc, fc} {
		cmds := [][]string{{"FUNCTION", "FLUSH"}}
		for _, code := range libs {
			cmds = append(cmds, []string{"FUNCTION", "LOAD", code})
		}
		pipeline(t, c, cmds)
	}
	want := listWithCode(t, rc)
	fromRedis, fromFerry := status(t, rc.Do("FUNCTION", "DUMP")), status(t, fc.Do("FUNCTION", "DUMP"))
	for _, c := range []*redistest.Conn{rc, fc} {
		for _, payload := range []string{fromRedis, fromFerry} {
			if r := c.Do("FUNCTION", "RESTORE", payload, "FLUSH"); r != "+OK\r\n" {
				t.Fatalf("FUNCTION RESTORE: %q", r)
			}
			if got := listWithCode(t, c); got != want {
				t.Fatalf("after FUNCTION RESTORE:\n got %q\nwant %q", got, want)
			}
		}
	}
}

// TestFunctionRestoreLikeRedis: the policies and every error of FUNCTION
// RESTORE reply as redis-server's, and leave the same libraries.
func TestFunctionRestoreLikeRedis(t *testing.T) {
	redistest.Need(t, "redis-server")
	rc := redistest.Dial(t, redistest.Redis(t))
	_, fc := ferryConn(t, command.Config{})
	pipeline(t, rc, [][]string{{"FUNCTION", "FLUSH"}, {"FUNCTION", "LOAD", testLibraries[0]}, {"FUNCTION", "LOAD", testLibraries[1]}})
	both := status(t, rc.Do("FUNCTION", "DUMP"))
	pipeline(t, rc, [][]string{{"FUNCTION", "DELETE", "beta"}})
	alpha := status(t, rc.Do("FUNCTION", "DUMP"))
	pipeline(t, rc, [][]string{{"FUNCTION", "FLUSH"}})
	empty := status(t, rc.Do("FUNCTION", "DUMP"))
	pipeline(t, rc, [][]string{{"SET", "k", "v"}})
	keyDump := status(t, rc.Do("DUMP", "k"))
	// alpha's function under another library name, and a library whose
	// code does not load.
	clash := string(Values{}.DumpFunctions([]string{"#!lua name=other\nredis.register_function('a1', function() return 1 end)"}))
	broken := string(Values{}.DumpFunctions([]string{"#!lua name=broken\nreturn 1"}))
	twice := string(Values{}.DumpFunctions([]string{testLibraries[2], testLibraries[2]}))
	// A library that does not load, then a record cut short: Redis
	// reports the first.
	brokenFirst := withFooter(string(appendRDBString([]byte{opFunction2}, []byte("#!lua name=broken\nreturn 1"))) + string([]byte{opFunction2, 0x40}))
	truncated := withFooter(string([]byte{opFunction2, 0x40}))
	notFunction := withFooter(string([]byte{0}) + "\x01x")
	old := withFooter(string(appendRDBString([]byte{opFunction, 3, 'o', 'l', 'd', 3, 'L', 'U', 'A', 1, 4, 'd', 'e', 's', 'c'},
		[]byte("\nredis.register_function('oldf', function() return 'old' end)"))))
	badSum := alpha[:len(alpha)-1] + string(alpha[len(alpha)-1]^1)
	newer := alpha[:len(alpha)-10] + "\x0b\x00" + alpha[len(alpha)-8:]
	steps := [][]string{
		{"FUNCTION", "RESTORE", alpha},
		{"FUNCTION", "RESTORE", alpha},
		{"FUNCTION", "RESTORE", alpha, "APPEND"},
		{"FUNCTION", "RESTORE", both},
		{"FUNCTION", "RESTORE", both, "replace"},
		{"FUNCTION", "RESTORE", clash},
		{"FUNCTION", "RESTORE", clash, "REPLACE"},
		{"FUNCTION", "RESTORE", clash, "FLUSH"},
		{"FCALL", "a1", "0"},
		{"FUNCTION", "RESTORE", both, "flush"},
		{"FUNCTION", "RESTORE", broken},
		{"FUNCTION", "RESTORE", brokenFirst},
		{"FUNCTION", "RESTORE", twice},
		{"FUNCTION", "RESTORE", truncated},
		{"FUNCTION", "RESTORE", notFunction},
		{"FUNCTION", "RESTORE", keyDump},
		{"FUNCTION", "RESTORE", badSum},
		{"FUNCTION", "RESTORE", newer},
		{"FUNCTION", "RESTORE", "short"},
		{"FUNCTION", "RESTORE", ""},
		{"FUNCTION", "RESTORE", alpha, "bad"},
		{"FUNCTION", "RESTORE", "x", "bad"},
		{"FUNCTION", "RESTORE", alpha, "FLUSH", "x"},
		{"FUNCTION", "RESTORE", empty},
		{"FUNCTION", "RESTORE", old},
		{"FCALL", "oldf", "0"},
		{"FUNCTION", "RESTORE", empty, "FLUSH"},
		{"FUNCTION", "DUMP"},
	}
	for _, c := range []*redistest.Conn{rc, fc} {
		pipeline(t, c, [][]string{{"FUNCTION", "FLUSH"}})
	}
	for _, cmd := range steps {
		want, got := rc.Do(cmd...), fc.Do(cmd...)
		if got != want {
			t.Errorf("%.60q:\n ferry %q\n redis %q", cmd, got, want)
		}
		if g, w := listWithCode(t, fc), listWithCode(t, rc); g != w {
			t.Fatalf("after %.60q:\n ferry %q\n redis %q", cmd, g, w)
		}
	}
}

// withFooter appends a DUMP footer (RDB 10 and the checksum) to records.
func withFooter(records string) string {
	b := binary.LittleEndian.AppendUint16([]byte(records), 10)
	return string(binary.LittleEndian.AppendUint64(b, crcUpdate(0, b)))
}

// TestRedisLoadsSnapshotFunctions: a ferry snapshot with function
// libraries passes redis-check-rdb, and redis-server loads it with the same
// libraries, whose functions run.
func TestRedisLoadsSnapshotFunctions(t *testing.T) {
	redistest.Need(t, "redis-check-rdb")
	redistest.Need(t, "redis-server")
	ks := newKeyspace()
	ks.DB(0).SetString("k", []byte("v"), false)
	dir := t.TempDir()
	path := filepath.Join(dir, "dump.rdb")
	b := encodeBytes(t, ks, Meta{Offset: 7, Dataset: "ds", Functions: testLibraries})
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	checkRDB(t, path)
	c := redisIn(t, dir)
	ref := redistest.Dial(t, redistest.Redis(t))
	for _, code := range testLibraries {
		pipeline(t, ref, [][]string{{"FUNCTION", "LOAD", code}})
	}
	if got, want := listWithCode(t, c), listWithCode(t, ref); got != want {
		t.Fatalf("FUNCTION LIST WITHCODE:\n got %q\nwant %q", got, want)
	}
	if r := c.Do("FCALL_RO", "b1", "1", "k"); r != "$1\r\nv\r\n" {
		t.Fatalf("FCALL_RO b1: %q", r)
	}
	// And back: ferry reads its own file's libraries, in order.
	_, meta, err := loadBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(meta.Functions, testLibraries) {
		t.Fatalf("functions %q", meta.Functions)
	}
}

// TestLoadRedisDumpFunctions: the libraries of a dump.rdb saved by
// redis-server load (Load and ReadMeta), with and without LZF.
func TestLoadRedisDumpFunctions(t *testing.T) {
	redistest.Need(t, "redis-server")
	for _, compression := range []string{"yes", "no"} {
		t.Run("rdbcompression="+compression, func(t *testing.T) {
			dir := t.TempDir()
			c := redisIn(t, dir, "--rdbcompression", compression)
			cmds := [][]string{{"SET", "k", "v"}}
			for _, code := range testLibraries {
				cmds = append(cmds, []string{"FUNCTION", "LOAD", code})
			}
			pipeline(t, c, append(cmds, []string{"SAVE"}))
			b, err := os.ReadFile(filepath.Join(dir, "dump.rdb"))
			if err != nil {
				t.Fatal(err)
			}
			ks, meta, err := loadBytes(b)
			if err != nil {
				t.Fatal(err)
			}
			compareDigest(t, c, ks)
			got := slices.Sorted(slices.Values(meta.Functions))
			if !slices.Equal(got, testLibraries) {
				t.Fatalf("functions %q", got)
			}
			meta, err = ReadMeta(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if len(meta.Functions) != len(testLibraries) {
				t.Fatalf("ReadMeta: %d functions", len(meta.Functions))
			}
			// A ferry engine takes them: the functions run.
			e := command.New(command.Config{Values: Values{}})
			e.Lock()
			err = e.ReplaceFunctions(meta.Functions)
			libs := e.FunctionLibraries()
			e.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(libs, testLibraries) {
				t.Fatalf("engine libraries %q", libs)
			}
		})
	}
}

// TestLZFPack: what lzfPack writes decompresses to its input, and it
// gives up exactly when the output would not fit.
func TestLZFPack(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		n := rng.IntN(3000) + 1
		in := make([]byte, n)
		alphabet := rng.IntN(255) + 1
		for j := range in {
			in[j] = byte(rng.IntN(alphabet))
		}
		if rng.IntN(3) == 0 {
			copy(in[n/2:], in)
		}
		room := n + n/32 + 8 // a literal run's length byte every 32 bytes
		out := lzfPack(in, room)
		if out == nil {
			t.Fatalf("%d bytes: did not fit in %d", n, room)
		}
		back, err := lzfDecompress(nil, out, n)
		if err != nil || !bytes.Equal(back, in) {
			t.Fatalf("%d bytes (alphabet %d): round trip: %v", n, alphabet, err)
		}
		if small := lzfPack(in, len(out)-1); small != nil {
			t.Fatalf("%d bytes: %d fit in %d", n, len(small), len(out)-1)
		}
		if same := lzfPack(in, len(out)+rng.IntN(64)); same != nil && !bytes.Equal(same, out) {
			t.Fatalf("%d bytes: another output with other room", n)
		}
	}
}

// TestFunctionRestoreReplicates: FUNCTION RESTORE (every policy), DELETE
// and FLUSH go to the log as received, and a replica applying them has the
// master's libraries; a refused RESTORE logs nothing.
func TestFunctionRestoreReplicates(t *testing.T) {
	r := newReplicated(t)
	libs := func(e *command.Engine) []string {
		e.Lock()
		defer e.Unlock()
		return e.FunctionLibraries()
	}
	payload := func(codes ...string) string { return string(Values{}.DumpFunctions(codes)) }
	other := "#!lua name=other\nredis.register_function('o1', function() return 'o' end)"
	for _, tc := range []struct {
		args   []string
		logged bool
	}{
		{[]string{"FUNCTION", "RESTORE", payload(testLibraries...)}, true},
		{[]string{"FUNCTION", "RESTORE", payload(testLibraries[0])}, false},
		{[]string{"FUNCTION", "RESTORE", payload(testLibraries[0], other), "REPLACE"}, true},
		{[]string{"FCALL", "a1", "1", "k", "v"}, true},
		{[]string{"FUNCTION", "DELETE", "beta"}, true},
		{[]string{"FUNCTION", "DELETE", "beta"}, false},
		{[]string{"FUNCTION", "RESTORE", payload(other), "FLUSH"}, true},
		{[]string{"FUNCTION", "RESTORE", payload(testLibraries[1]), "APPEND"}, true},
		{[]string{"FUNCTION", "RESTORE", "junk"}, false},
		{[]string{"FUNCTION", "FLUSH", "ASYNC"}, true},
		{[]string{"FUNCTION", "RESTORE", payload(testLibraries[2])}, true},
	} {
		reply, units := r.do(tc.args...)
		if logged := len(units) > 0; logged != tc.logged {
			t.Fatalf("%.50q: reply %q, units %q", tc.args, reply, units)
		}
		if tc.logged && tc.args[0] == "FUNCTION" && (len(units) != 1 || units[0] != resp(tc.args)) {
			t.Fatalf("%.50q: units %q, want the command as received", tc.args, units)
		}
		if m, rp := libs(r.master), libs(r.replica); !slices.Equal(m, rp) {
			t.Fatalf("after %.50q: master's libraries %q, replica's %q", tc.args, m, rp)
		}
	}
	if got := libs(r.replica); !slices.Equal(got, testLibraries[2:]) {
		t.Fatalf("replica's libraries %q", got)
	}
}
