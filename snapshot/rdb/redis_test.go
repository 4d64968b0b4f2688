package rdb

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/redistest"
)

// Interop with a stock redis-server 7.0 and redis-check-rdb: each side
// loads what the other writes, and both agree on DEBUG DIGEST.

// redisIn starts a redis-server whose working directory (where it loads
// and saves dump.rdb) is dir.
func redisIn(t *testing.T, dir string, extra ...string) *redistest.Conn {
	t.Helper()
	addr := redistest.Redis(t, append([]string{"--dir", dir, "--dbfilename", "dump.rdb"}, extra...)...)
	return redistest.Dial(t, addr)
}

// status returns a simple or bulk string reply's text.
func status(t *testing.T, reply string) string {
	t.Helper()
	switch {
	case strings.HasPrefix(reply, "+"):
		return strings.TrimSuffix(reply[1:], "\r\n")
	case strings.HasPrefix(reply, "$"):
		_, body, _ := strings.Cut(reply, "\r\n")
		return strings.TrimSuffix(body, "\r\n")
	}
	t.Fatalf("unexpected reply %q", reply)
	return ""
}

// pipeline sends every command, then reads every reply, failing on errors.
func pipeline(t *testing.T, c *redistest.Conn, cmds [][]string) {
	t.Helper()
	var buf bytes.Buffer
	for _, cmd := range cmds {
		buf.Write(redistest.Encode(cmd...))
	}
	c.WriteRaw(buf.Bytes())
	for i := range cmds {
		if r := c.Read(); strings.HasPrefix(r, "-") {
			t.Fatalf("%q: %s", cmds[i], r)
		}
	}
}

// checkRDB runs redis-check-rdb on path.
func checkRDB(t *testing.T, path string) {
	t.Helper()
	bin := redistest.Need(t, "redis-check-rdb")
	out, err := exec.Command(bin, path).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("RDB looks OK")) {
		t.Fatalf("redis-check-rdb %s: %v\n%s", path, err, out)
	}
}

// compareDigest compares redis-server's DEBUG DIGEST with ks's; on a
// mismatch it reports the keys whose values differ.
func compareDigest(t *testing.T, c *redistest.Conn, ks *keyspace.Keyspace) {
	t.Helper()
	want := ks.Digest()
	got := status(t, c.Do("DEBUG", "DIGEST"))
	if got == want.Hex() {
		return
	}
	var diffs []string
	for i := 0; i < keyspace.NumDBs; i++ {
		c.Do("SELECT", strconv.Itoa(i))
		ks.DB(i).Range(func(key string, o *keyspace.Object) bool {
			d := keyspace.ValueDigest(o)
			if r := status(t, c.Do("DEBUG", "DIGEST-VALUE", key)); !strings.Contains(r, d.Hex()) {
				diffs = append(diffs, fmt.Sprintf("db %d %q (%s, %s in redis)", i, key, o.Encoding(), c.Do("OBJECT", "ENCODING", key)))
			}
			return len(diffs) < 10
		})
		if n := strings.TrimSpace(strings.TrimPrefix(c.Do("DBSIZE"), ":")); n != strconv.Itoa(ks.DB(i).Len()) {
			diffs = append(diffs, fmt.Sprintf("db %d: %s keys in redis, %d in ferry", i, n, ks.DB(i).Len()))
		}
	}
	t.Fatalf("DEBUG DIGEST %s, ferry %s:\n%s", got, want.Hex(), strings.Join(diffs, "\n"))
}

// TestRedisLoadsSnapshot: ferry's encoding passes redis-check-rdb and loads
// in redis-server with the same digest.
func TestRedisLoadsSnapshot(t *testing.T) {
	redistest.Need(t, "redis-check-rdb")
	redistest.Need(t, "redis-server")
	// A redis-server master drops keys whose time has passed when it loads
	// a file: expiries here are in the future of the real clock.
	ks := buildDataset(t, datasetOptions{future: time.Now().Add(time.Hour).UnixMilli()})
	dir := t.TempDir()
	path := filepath.Join(dir, "dump.rdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := Encode(ks, f, Meta{Offset: 42, Generation: "gen", Dataset: "ds", Log: "2026-12-07T08:00:00.123456789Z"}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	checkRDB(t, path)
	c := redisIn(t, dir)
	if n := c.Do("DBSIZE"); n == ":0\r\n" {
		t.Fatal("redis-server did not load the file")
	}
	compareDigest(t, c, ks)
}

// TestLoadRedisDump: what redis-server 7.0 saves, in all its compact
// encodings, loads with the same digest; with and without LZF.
func TestLoadRedisDump(t *testing.T) {
	redistest.Need(t, "redis-server")
	dir := t.TempDir()
	// Compressed quicklist nodes are saved as they are, LZF-compressed.
	c := redisIn(t, dir, "--list-compress-depth", "1")
	pipeline(t, c, [][]string{{"DEBUG", "SET-ACTIVE-EXPIRE", "0"}})
	fillRedis(t, c)
	encodings := map[string]bool{}
	for _, key := range []string{"hash:small", "hash:big", "set:int16", "set:big", "set:strings", "zset:small", "zset:big", "list:big", "str:int", "str:lzf"} {
		encodings[status(t, c.Do("OBJECT", "ENCODING", key))] = true
	}
	for _, enc := range []string{"listpack", "hashtable", "intset", "skiplist", "quicklist", "int", "raw"} {
		if !encodings[enc] {
			t.Errorf("no key in encoding %s: %v", enc, encodings)
		}
	}

	save := func() []byte {
		pipeline(t, c, [][]string{{"SAVE"}})
		b, err := os.ReadFile(filepath.Join(dir, "dump.rdb"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	lzf := save()
	pipeline(t, c, [][]string{{"CONFIG", "SET", "rdbcompression", "no"}})
	plain := save()
	if len(lzf) > len(plain)/2 {
		t.Errorf("dump.rdb has %d bytes with LZF, %d without: strings are not LZF-compressed", len(lzf), len(plain))
	}
	for name, b := range map[string][]byte{"lzf": lzf, "plain": plain} {
		ks, meta, err := loadBytes(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if meta.Version != 10 || !strings.HasPrefix(meta.Aux["redis-ver"], "7.0.") {
			t.Errorf("%s: meta %+v", name, meta)
		}
		compareDigest(t, c, ks)

		// And back: ferry's encoding of what it loaded loads in Redis.
		ks.Mode = keyspace.ExpireIgnore
		b2 := encodeBytes(t, ks, Meta{})
		ks2, _, err := loadBytes(b2)
		if err != nil {
			t.Fatal(err)
		}
		if ks2.Digest() != ks.Digest() {
			t.Fatalf("%s: re-encoded digest differs", name)
		}
	}
}

// fillRedis writes every type in every encoding redis-server 7.0 has.
func fillRedis(t *testing.T, c *redistest.Conn) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	future := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)
	var cmds [][]string
	add := func(args ...string) { cmds = append(cmds, args) }

	// Strings: integers of each width, non-canonical integers, long
	// compressible and incompressible values.
	for i, v := range []string{"0", "100", "-30000", "2000000000", "-2147483649", "9000000000000000000",
		"-0", "007", "", "1.5", "12345678901"} {
		add("SET", fmt.Sprintf("str:%d", i), v)
	}
	add("SET", "str:int", "12345")
	add("SET", "str:lzf", strings.Repeat("compress me ", 30000))
	add("SET", "str:lzf:short", strings.Repeat("ab", 15))
	random := make([]byte, 3000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	add("SET", "str:random", string(random))
	add("SET", strings.Repeat("long key ", 20), "v")
	add("SET", "777", "integer key")
	for i := 0; i < 500; i++ {
		add("SET", fmt.Sprintf("k:%d", i), fmt.Sprintf("value-%d", i*7))
	}
	add("PEXPIREAT", "str:1", future)
	add("PEXPIREAT", "k:3", future)

	// Hashes.
	add("HSET", "hash:small", "a", "1", "b", "-200", "c", "hello", "d", "70000", "e", "5000000000", "f", "")
	big := []string{"HSET", "hash:big"}
	for i := 0; i < 1000; i++ {
		big = append(big, fmt.Sprintf("field:%d", i), strconv.Itoa(i*31))
	}
	add(big...)
	add("HSET", "hash:longvalue", "x", strings.Repeat("y", 200))
	add("HSET", "hash:lzf", "x", strings.Repeat("z", 50), "y", strings.Repeat("w", 60))
	add("PEXPIREAT", "hash:small", future)

	// Sets: intsets of 16, 32 and 64-bit integers, big, strings.
	add("SADD", "set:int16", "1", "-2", "300", "32000")
	add("SADD", "set:int32", "1", "70000", "-2000000000")
	add("SADD", "set:int64", "1", "5000000000", "-9223372036854775808", "9223372036854775807")
	bigSet := []string{"SADD", "set:big"}
	for i := 0; i < 1000; i++ {
		bigSet = append(bigSet, strconv.Itoa(i*3))
	}
	add(bigSet...)
	add("SADD", "set:strings", "a", "b", "c", "1", "-1", strings.Repeat("s", 100))

	// Sorted sets.
	add("ZADD", "zset:small", "1", "a", "1.5", "b", "-2.5", "c", "inf", "d", "-inf", "e", "0", "f",
		"-0", "g", "1e300", "h", "3.141592653589793", "i", "100", "12", "-5", "-5")
	bigZ := []string{"ZADD", "zset:big"}
	for i := 0; i < 500; i++ {
		bigZ = append(bigZ, strconv.FormatFloat(rng.NormFloat64()*1e6, 'g', -1, 64), fmt.Sprintf("member:%d", i))
	}
	bigZ = append(bigZ, "-0", "negzero")
	add(bigZ...)
	add("ZADD", "zset:longmember", "1", strings.Repeat("m", 100))
	add("PEXPIREAT", "zset:big", future)

	// Lists: small, and long enough for many quicklist nodes (compressed,
	// as the server runs with list-compress-depth 1).
	add("RPUSH", "list:small", "a", "1", "-1", "70000", "5000000000", "")
	for n := 0; n < 20; n++ {
		push := []string{"RPUSH", "list:big"}
		for i := 0; i < 1000; i++ {
			v := n*1000 + i
			if v%4 == 0 {
				push = append(push, strconv.Itoa(v-10000))
			} else {
				push = append(push, fmt.Sprintf("element %d %s", v, strings.Repeat("q", v%40)))
			}
		}
		add(push...)
	}

	// Other databases.
	for _, db := range []string{"3", "15"} {
		add("SELECT", db)
		add("SET", "k", "db"+db)
		add("RPUSH", "l", "x", "y")
		add("SADD", "s", "1", "2")
		add("PEXPIREAT", "k", future)
	}
	add("SELECT", "0")
	// Streams: several nodes, tombstones, trims, groups, an empty stream.
	for i := 1; i <= 250; i++ {
		add("XADD", "stream:big", fmt.Sprintf("%d-%d", 1000+i/3, i), "f", strconv.Itoa(i), "g", strings.Repeat("s", i%40))
	}
	add("XDEL", "stream:big", "1010-30", "1020-60")
	add("XTRIM", "stream:big", "MAXLEN", "~", "200")
	add("XGROUP", "CREATE", "stream:big", "g", "0")
	add("XREADGROUP", "GROUP", "g", "c1", "COUNT", "10", "STREAMS", "stream:big", ">")
	add("XGROUP", "CREATE", "stream:empty", "g", "$", "MKSTREAM")

	pipeline(t, c, cmds)

	// Plain quicklist nodes hold elements above a threshold on their own.
	if r := c.Do("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100"); strings.HasPrefix(r, "+") {
		pipeline(t, c, [][]string{
			{"RPUSH", "list:plain", "small", strings.Repeat("P", 500), "small2", strings.Repeat("Q", 300)},
		})
	} else {
		t.Logf("no plain quicklist nodes: %s", r)
	}

	// A key whose time has passed, not yet deleted (active expiry is off):
	// Redis saves it, and ferry loads it.
	at := time.Now().Add(30 * time.Millisecond)
	pipeline(t, c, [][]string{{"SET", "str:expired", "gone"}, {"PEXPIREAT", "str:expired", strconv.FormatInt(at.UnixMilli(), 10)}})
	time.Sleep(time.Until(at) + 20*time.Millisecond)
}

// TestLoadRedisDumpNoChecksum: a file saved with rdbchecksum no ends with a
// zero checksum, which is not checked.
func TestLoadRedisDumpNoChecksum(t *testing.T) {
	redistest.Need(t, "redis-server")
	dir := t.TempDir()
	c := redisIn(t, dir, "--rdbchecksum", "no")
	pipeline(t, c, [][]string{{"SET", "a", "1"}, {"HSET", "h", "f", "v"}, {"SAVE"}})
	b, err := os.ReadFile(filepath.Join(dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(b, make([]byte, 8)) {
		t.Fatal("checksum written")
	}
	ks, _, err := loadBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	compareDigest(t, c, ks)
}
