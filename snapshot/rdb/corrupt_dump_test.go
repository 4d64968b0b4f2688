package rdb

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/redistest"
)

// Corrupt DUMP payloads, in the spirit of Redis's corrupt-dump-fuzzer:
// values of every type and encoding are dumped by redis-server and by
// ferry, corrupted (bytes flipped or overwritten, cut short, extended,
// spliced, lengths nudged), and restored into a ferry master whose effects
// a replica applies, and into a redis-server with sanitize-dump-payload
// yes. Both must give the same reply; where both take the value, they must
// hold the same value (DEBUG DIGEST-VALUE, also of ferry's DUMP of it
// restored in redis-server) and answer the same to
// type-appropriate reads and writes on it; after every command the replica
// has the master's DEBUG DIGEST. Nothing may panic or hang.

// corruptSources fills c with one key of each type and encoding the
// fuzzer corrupts.
func corruptSources(t *testing.T, c *redistest.Conn) {
	t.Helper()
	var cmds [][]string
	add := func(args ...string) { cmds = append(cmds, args) }
	add("SET", "str:int", "12345")
	add("SET", "str:neg", "-9000000000")
	add("SET", "str:raw", "hello world")
	add("SET", "str:lzf", strings.Repeat("abcabcab", 20))
	add("RPUSH", "list:lp", "a", "1", "-70000", "5000000000", "", strings.Repeat("x", 70))
	big := []string{"RPUSH", "list:nodes"}
	for i := 0; i < 300; i++ {
		big = append(big, fmt.Sprintf("e%d", i), strconv.Itoa(i*1000))
	}
	add(big...)
	add("HSET", "hash:lp", "a", "1", "b", "-200", "c", "hello", "d", "5000000000")
	hb := []string{"HSET", "hash:ht"}
	for i := 0; i < 140; i++ {
		hb = append(hb, fmt.Sprintf("f%d", i), strconv.Itoa(i))
	}
	add(hb...)
	add("SADD", "set:int16", "1", "-2", "300")
	add("SADD", "set:int64", "1", "5000000000", "-9223372036854775808")
	add("SADD", "set:ht", "a", "b", "c", "1")
	add("ZADD", "zset:lp", "1", "a", "1.5", "b", "-2.5", "c", "inf", "d", "7", "8")
	zb := []string{"ZADD", "zset:sl"}
	for i := 0; i < 140; i++ {
		zb = append(zb, strconv.Itoa(i%17), fmt.Sprintf("m%d", i))
	}
	add(zb...)
	for i := 1; i <= 12; i++ {
		add("XADD", "stream", fmt.Sprintf("5-%d", i), "f", strconv.Itoa(i), "g", "v")
	}
	add("XADD", "stream", "6-1", "other", "fields", "here", "x")
	add("XDEL", "stream", "5-3")
	add("XGROUP", "CREATE", "stream", "g1", "0")
	add("XGROUP", "CREATE", "stream", "g2", "5-5")
	add("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "3", "STREAMS", "stream", ">")
	add("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "2", "STREAMS", "stream", ">")
	add("XGROUP", "CREATECONSUMER", "stream", "g2", "carol")
	add("XADD", "stream:small", "1-1", "a", "b")
	add("XGROUP", "CREATE", "stream:empty", "g", "$", "MKSTREAM")
	pipeline(t, c, cmds)
	if r := c.Do("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "50"); strings.HasPrefix(r, "+") {
		pipeline(t, c, [][]string{{"RPUSH", "list:plain", "small", strings.Repeat("P", 60), "tail"}})
		c.Do("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1073741824")
	}
}

// olderEncodings returns values in the encodings of RDB versions before
// 10, which redis-server 7.0 no longer dumps but still restores (and
// converts): ziplists, zipmaps, quicklists of ziplists, plain sorted sets
// with string scores, 5.0's streams.
func olderEncodings() [][]byte {
	var out [][]byte
	add := func(t byte, parts ...func(r *rawRDB)) {
		var r rawRDB
		r.WriteByte(t)
		for _, p := range parts {
			p(&r)
		}
		out = append(out, bytes.Clone(r.Bytes()))
	}
	blob := func(b []byte) func(r *rawRDB) { return func(r *rawRDB) { r.str(b) } }
	lens := func(ns ...uint64) func(r *rawRDB) {
		return func(r *rawRDB) {
			for _, n := range ns {
				r.len(n)
			}
		}
	}
	add(typeListZiplist, blob(buildZiplist("a", int64(7), int64(-300), int64(70000), int64(5000000000), "bb", int64(12))))
	add(typeHashZiplist, blob(buildZiplist("f", "v", "n", int64(-2), "long", strings.Repeat("x", 70))))
	add(typeZSetZiplist, blob(buildZiplist("a", "1.5", "b", int64(2), "c", "inf")))
	add(typeHashZipmap, blob(buildZipmap("a", "1", "bb", "two", "c", "")))
	add(typeListQuicklist, lens(2), blob(buildZiplist("x", int64(1))), blob(buildZiplist("y", "z", int64(-1))))
	add(typeSetIntset, blob(buildIntset(8, -5000000000, 1, 2)))
	add(typeZSet, lens(2), blob([]byte("m")), blob([]byte("1.25")), blob([]byte("n")), blob([]byte("-3")))
	add(typeSetListpack, blob(buildListpack("a", int64(1), "b")))
	return out
}

// mutate corrupts a payload body (the value without its footer).
func mutate(rng *rand.Rand, b []byte) []byte {
	b = append([]byte(nil), b...)
	for n := 1 + rng.IntN(3); n > 0; n-- {
		if len(b) == 0 {
			b = append(b, byte(rng.Uint32()))
			continue
		}
		i := rng.IntN(len(b))
		switch rng.IntN(8) {
		case 0: // a bit flipped
			b[i] ^= 1 << rng.IntN(8)
		case 1: // a byte overwritten
			b[i] = byte(rng.Uint32())
		case 2: // a byte overwritten with an interesting value
			b[i] = []byte{0, 1, 0x7f, 0x80, 0xfe, 0xff, 0x40, 0xc0}[rng.IntN(8)]
		case 3: // a length or count nudged
			b[i] += byte(rng.IntN(5)) - 2
		case 4: // cut short
			b = b[:i]
		case 5: // extended
			for k := rng.IntN(8) + 1; k > 0; k-- {
				b = append(b, byte(rng.Uint32()))
			}
		case 6: // a range repeated
			j := i + rng.IntN(len(b)-i+1)
			b = append(b[:j:j], append(b[i:j:j], b[j:]...)...)
		case 7: // a range removed
			j := i + rng.IntN(min(len(b)-i, 16)+1)
			b = append(b[:i:i], b[j:]...)
		}
	}
	return b
}

// probes are commands run on a restored key of each type, on both
// servers. A leading "sort:" or "sortpairs:" compares the replies sorted.
var probes = map[string][][]string{
	"string": {{"GET"}, {"STRLEN"}, {"GETRANGE", "0", "5"}, {"INCRBYFLOAT", "0.5"}, {"INCR"}, {"APPEND", "x"},
		{"SETRANGE", "3", "zz"}, {"GET"}},
	"list": {{"LLEN"}, {"LRANGE", "0", "-1"}, {"LINDEX", "-1"}, {"LPOS", "1"}, {"LPOP"}, {"RPOP", "2"},
		{"RPUSH", "new", "12"}, {"LINSERT", "BEFORE", "a", "ins"}, {"LREM", "0", "1"}, {"LSET", "0", "set"},
		{"LTRIM", "0", "20"}, {"LRANGE", "0", "-1"}},
	"hash": {{"HLEN"}, {"sortpairs:HGETALL"}, {"HGET", "a"}, {"HSTRLEN", "b"}, {"HEXISTS", "f3"}, {"HINCRBY", "a", "5"},
		{"HSET", "new", "v", "a", "1"}, {"HDEL", "b", "f7"}, {"sort:HKEYS"}, {"sort:HVALS"}, {"HINCRBYFLOAT", "d", "1.5"}},
	"set": {{"SCARD"}, {"sort:SMEMBERS"}, {"SISMEMBER", "1"}, {"SMISMEMBER", "a", "300", "c"}, {"SADD", "9", "new"},
		{"SREM", "1", "b"}, {"SINTERCARD", "1", "{k}"}, {"sort:SMEMBERS"}},
	"zset": {{"ZCARD"}, {"ZRANGE", "0", "-1", "WITHSCORES"}, {"ZRANGEBYSCORE", "-inf", "+inf", "LIMIT", "1", "3"},
		{"ZRANK", "a"}, {"ZSCORE", "b"}, {"ZMSCORE", "c", "m3"}, {"ZRANGEBYLEX", "-", "+"}, {"ZINCRBY", "2", "a"},
		{"ZADD", "3", "new"}, {"ZREM", "b", "m5"}, {"ZPOPMIN"}, {"ZPOPMAX", "2"}, {"ZRANGE", "0", "-1", "WITHSCORES"}},
	// Read-only probes first: the writes set delivery and seen times from
	// each server's clock.
	"stream": {{"XLEN"}, {"XRANGE", "-", "+"}, {"XREVRANGE", "+", "-", "COUNT", "3"}, {"XINFO", "STREAM", "{k}"},
		{"XINFO", "STREAM", "{k}", "FULL"}, {"XINFO", "GROUPS", "{k}"}, {"XPENDING", "{k}", "g1"},
		{"XADD", "{k}", "99999999999999-1", "f", "v"}, {"XDEL", "{k}", "5-2", "5-4"},
		{"XACK", "{k}", "g1", "5-1", "5-2"}, {"XCLAIM", "{k}", "g1", "dave", "0", "5-4", "5-5", "JUSTID"},
		{"XREADGROUP", "GROUP", "g1", "erin", "COUNT", "2", "STREAMS", "{k}", ">"},
		{"XREADGROUP", "GROUP", "g2", "carol", "COUNT", "2", "STREAMS", "{k}", "0"},
		{"XAUTOCLAIM", "{k}", "g1", "frank", "0", "0-0", "COUNT", "3", "JUSTID"},
		{"XTRIM", "{k}", "MAXLEN", "4"}, {"XSETID", "{k}", "99999999999999-5"}, {"XINFO", "STREAM", "{k}"},
		{"XINFO", "GROUPS", "{k}"}, {"XPENDING", "{k}", "g1"}},
}

const errBadFormat = "-ERR Bad data format\r\n"

// stricter tells the payloads ferry refuses and redis-server 7.0 restores
// even with sanitize-dump-payload yes, by ferry's error. Ferry keeps its
// values consistent where Redis restores them as they come:
//   - a sorted set score that is not a number, in a listpack or ziplist
//     (Redis reads what strtod makes of it: 0 for "x", NaN for "nan") or
//     as a string (sscanf: "1>25" is 1);
//   - a length byte that is not one (10xxxxxx but 0x80 and 0x81) in a
//     stream's metadata, which Redis reads as 2^64-1 there;
//   - a stream whose length is not the number of its entries, whose node
//     header counts live and deleted entries other than its flags do,
//     whose entries are out of order or below their node's ID, or whose
//     last ID is below its last entry's (Redis would then add entries out
//     of order), or a node with an entry whose flags Redis does not
//     write.
func stricter(err error) string {
	if err == nil {
		return ""
	}
	for _, s := range []string{"is not a number", "invalid length encoding", "is below its last entry's",
		"its nodes hold", "stream node counts", "empty listpack inside stream", "invalid score",
		"does not follow entry", "is below its node's master ID", "has flags"} {
		if strings.Contains(err.Error(), s) {
			return s
		}
	}
	return ""
}

// sortedZSet tells whether a ZRANGE WITHSCORES reply is in score then
// member order: Redis keeps a sorted set listpack in the order it was
// restored in, which ferry sorts.
func sortedZSet(t *testing.T, reply string) bool {
	els := bulks(t, reply)
	for i := 2; i+1 < len(els); i += 2 {
		a, _ := strconv.ParseFloat(els[i-1], 64)
		b, _ := strconv.ParseFloat(els[i+1], 64)
		if a > b || a == b && els[i-2] >= els[i] {
			return false
		}
	}
	return true
}

// probe returns the command of a probe on key and how to compare it.
func probe(p []string, key string) (args []string, sortMode string) {
	name := p[0]
	if m, rest, ok := strings.Cut(name, ":"); ok {
		sortMode, name = m, rest
	}
	args = []string{name}
	if !strings.Contains(strings.Join(p, " "), "{k}") {
		args = append(args, key)
	}
	for _, a := range p[1:] {
		args = append(args, strings.ReplaceAll(a, "{k}", key))
	}
	return args, sortMode
}

// ferryUnderTest returns how TestCorruptDumpFuzz runs commands on ferry,
// and a function that checks the replica caught up with the same DEBUG
// DIGEST. By default that is an engine in the test whose effects a
// replica engine applies after each command (which checks the digest each
// time). With FERRY_CORRUPT_DUMP_ADDR and FERRY_CORRUPT_DUMP_REPLICA (host:port
// of a running ferry master and of its replica, such as ferry dev's), it
// is those servers, over their effect log, the replica checked every 100
// commands and at the end; the master's data is flushed.
func ferryUnderTest(t *testing.T) (do func(args ...string) string, settle func()) {
	addr, raddr := os.Getenv("FERRY_CORRUPT_DUMP_ADDR"), os.Getenv("FERRY_CORRUPT_DUMP_REPLICA")
	if addr == "" || raddr == "" {
		r := newReplicated(t)
		r.now = time.Now()
		return func(args ...string) string {
			reply, _ := r.do(args...)
			return reply
		}, func() {}
	}
	m, rep := redistest.Dial(t, addr), redistest.Dial(t, raddr)
	settle = func() {
		t.Helper()
		want := m.Do("DEBUG", "DIGEST")
		deadline := time.Now().Add(10 * time.Second)
		for got := rep.Do("DEBUG", "DIGEST"); got != want; got = rep.Do("DEBUG", "DIGEST") {
			if m.Do("PING") != "+PONG\r\n" {
				t.Fatalf("the master does not answer PING")
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica digest %q, master %q", got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	n := 0
	return func(args ...string) string {
		if n++; n%100 == 0 {
			settle()
		}
		return m.Do(args...)
	}, settle
}

// TestCorruptDumpFuzz restores corrupted payloads into ferry and
// redis-server (see the comment at the top of the file).
// FERRY_CORRUPT_DUMP_N sets the number of payloads (default 1500),
// FERRY_CORRUPT_DUMP_SEED the seed (default random, logged) and
// FERRY_CORRUPT_DUMP_KEYS a prefix of the source keys to corrupt (such as
// "zset", default all; the older encodings are always in).
func TestCorruptDumpFuzz(t *testing.T) {
	redistest.Need(t, "redis-server")
	n := 1500
	if testing.Short() {
		n = 300
	}
	if s, err := strconv.Atoi(os.Getenv("FERRY_CORRUPT_DUMP_N")); err == nil {
		n = s
	}
	seed := rand.Uint64()
	if s, err := strconv.ParseUint(os.Getenv("FERRY_CORRUPT_DUMP_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d (FERRY_CORRUPT_DUMP_SEED), %d payloads", seed, n)
	rng := rand.New(rand.NewPCG(seed, 1))

	red := redistest.Dial(t, redistest.Redis(t, "--sanitize-dump-payload", "yes"))
	corruptSources(t, red)
	do, settle := ferryUnderTest(t)
	var bodies [][]byte
	keys := bulks(t, red.Do("KEYS", os.Getenv("FERRY_CORRUPT_DUMP_KEYS")+"*"))
	slices.Sort(keys) // for the seed to reproduce a run
	for _, key := range keys {
		p := status(t, red.Do("DUMP", key))
		bodies = append(bodies, []byte(p[:len(p)-dumpFooter]))
		// ferry's own serialization of the same value.
		if reply := do("RESTORE", key, "0", p); reply != "+OK\r\n" {
			t.Fatalf("RESTORE of redis-server's %s: %q", key, reply)
		}
		d := do("DUMP", key)
		fp := status(t, d)
		bodies = append(bodies, []byte(fp[:len(fp)-dumpFooter]))
	}
	bodies = append(bodies, olderEncodings()...)
	red.Do("FLUSHALL")
	do("FLUSHALL")

	var accepted, rejected, unsorted, failures, done int
	refusedByFerry := map[string]int{}
	kinds := map[string]int{}
	for i := 0; i < n && failures < 5; i++ {
		done++
		src := bodies[rng.IntN(len(bodies))]
		body := mutate(rng, src)
		payload := payloadOf(body, 10)
		switch rng.IntN(20) {
		case 0: // the footer of the original: a checksum mismatch, mostly
			payload = string(body) + payloadOf(src, 10)[len(src):]
		case 1: // an RDB version redis-server 7.0 does not restore
			payload = payloadOf(body, uint16(11+rng.IntN(3)))
		}
		key := "k" + strconv.Itoa(i%4)
		fail := func(format string, args ...any) {
			t.Helper()
			failures++
			t.Errorf("%s\n(payload %s, restored as %s)", fmt.Sprintf(format, args...), hex.EncodeToString([]byte(payload)), key)
		}
		// redis-server may take seconds to refuse a payload that claims
		// billions of elements (it tries to allocate for them first).
		red.WriteRaw(redistest.Encode("RESTORE", key, "0", payload, "REPLACE"))
		want, err := red.ReadTimeout(2 * time.Minute)
		if err != nil {
			t.Fatalf("redis-server: %v", err)
		}
		start := time.Now()
		got := do("RESTORE", key, "0", payload, "REPLACE")
		if d := time.Since(start); d > 2*time.Second {
			fail("RESTORE took %v in ferry", d)
		}
		if got != want {
			_, _, err = (Values{}).Restore([]byte(payload), keyspace.DefaultLimits)
			if why := stricter(err); got == errBadFormat && want == "+OK\r\n" && why != "" {
				refusedByFerry[why]++
				red.Do("DEL", key)
				continue
			}
			fail("RESTORE: ferry %q (%v), redis-server %q", got, err, want)
			continue
		}
		if got != "+OK\r\n" {
			rejected++
			continue
		}
		accepted++
		typ := status(t, red.Do("TYPE", key))
		kinds[typ]++
		if g := do("TYPE", key); status(t, g) != typ {
			fail("TYPE: ferry %q, redis-server %q", g, typ)
			continue
		}
		if g, w := do("DEBUG", "DIGEST-VALUE", key), red.Do("DEBUG", "DIGEST-VALUE", key); g != w {
			fail("DEBUG DIGEST-VALUE: ferry %q, redis-server %q", g, w)
			continue
		}
		// ferry's DUMP of what it restored restores in redis-server to the
		// same value.
		if back := red.Do("RESTORE", key+":back", "0", status(t, do("DUMP", key)), "REPLACE"); back != "+OK\r\n" {
			fail("redis-server refuses ferry's DUMP: %q", back)
			continue
		} else if g, w := do("DEBUG", "DIGEST-VALUE", key), red.Do("DEBUG", "DIGEST-VALUE", key+":back"); g != w {
			fail("ferry's DUMP restores in redis-server as %q, ferry has %q", w, g)
			continue
		}
		red.Do("DEL", key+":back")
		if typ == "zset" && !sortedZSet(t, red.Do("ZRANGE", key, "0", "-1", "WITHSCORES")) {
			unsorted++
			continue
		}
		for _, p := range probes[typ] {
			args, mode := probe(p, key)
			w := red.Do(args...)
			g := do(args...)
			if mode != "" {
				w, g = redistest.SortReply(w, mode == "sortpairs"), redistest.SortReply(g, mode == "sortpairs")
			}
			if g != w {
				fail("%q: ferry %q, redis-server %q", args, truncateKey(g), truncateKey(w))
				break
			}
		}
		if g, w := do("DEBUG", "DIGEST-VALUE", key), red.Do("DEBUG", "DIGEST-VALUE", key); g != w {
			fail("DEBUG DIGEST-VALUE after the probes: ferry %q, redis-server %q", g, w)
		}
	}
	settle()
	t.Logf("%d restored (%v; %d unsorted sorted sets), %d refused by both, by ferry only: %v",
		accepted, kinds, unsorted, rejected, refusedByFerry)
	if done >= 300 && (accepted < done/20 || rejected < done/4) {
		t.Errorf("%d payloads restored, %d refused: the mutations are not reaching both outcomes", accepted, rejected)
	}
}

// TestRestoreOddPayloadsLikeRedis: payloads that are not what Redis
// writes but that redis-server 7.0 restores with sanitize-dump-payload yes
// are restored by ferry to the same value, and the payloads ferry refuses
// on purpose (see stricter) are refused. Each was found by
// TestCorruptDumpFuzz.
func TestRestoreOddPayloadsLikeRedis(t *testing.T) {
	redistest.Need(t, "redis-server")
	red := redistest.Dial(t, redistest.Redis(t, "--sanitize-dump-payload", "yes"))
	r := newReplicated(t)
	r.now = time.Now()
	blob := func(t byte, parts ...[]byte) []byte {
		var b rawRDB
		b.WriteByte(t)
		for _, p := range parts {
			b.Write(p)
		}
		return bytes.Clone(b.Bytes())
	}
	str := func(s []byte) []byte {
		var b rawRDB
		b.str(s)
		return bytes.Clone(b.Bytes())
	}
	// A back-length of 0x81 after an entry that is the integer 0 reads as
	// 1 (the high bit takes the 0 before it), as the canonical 0x01 does.
	oddBacklen := func(lp []byte) []byte {
		i := bytes.Index(lp[6:], []byte{0x00, 0x01}) + 6
		if i < 6 {
			t.Fatalf("no integer 0 in % x", lp)
		}
		lp = bytes.Clone(lp)
		lp[i+1] = 0x81
		return lp
	}
	// A stream of one entry as redis-server dumps it, with the master
	// entry's terminator given the odd back-length, and with its length
	// set to n (-1: as it is).
	red.Do("XADD", "src", "1-1", "a", "b")
	dumped := status(t, red.Do("DUMP", "src"))
	red.Do("DEL", "src")
	stream := func(odd bool, length int) []byte {
		b := []byte(dumped[:len(dumped)-dumpFooter])
		if b[0] != typeStreamListpacks2 || b[1] != 1 || b[2] != 16 || b[19] >= 0x40 {
			t.Fatalf("unexpected stream dump % x", b)
		}
		lpEnd := 20 + int(b[19])
		b = bytes.Clone(b)
		if odd {
			copy(b[20:], oddBacklen(b[20:lpEnd]))
		}
		if length >= 0 {
			b[lpEnd] = byte(length)
		}
		return b
	}
	quicklist := func(lp []byte) []byte {
		return blob(typeListQuicklist2, []byte{1, 2}, str(lp))
	}
	for _, c := range []struct {
		name    string
		body    []byte
		refused bool // by ferry, on purpose; redis-server restores it
	}{
		{"a count byte of 0xc2 reads as 2", blob(typeSet, []byte{0xc2}, str([]byte("a")), str([]byte("b"))), false},
		{"a list count byte of 0xc1", blob(typeList, []byte{0xc1}, str([]byte("only"))), false},
		{"LZF of length 0, data that does not decompress", blob(typeString, []byte{0xc3, 3, 0, 0xab, 0xcd, 0xef}), false},
		{"LZF of length 0 and no data", blob(typeString, []byte{0xc3, 0, 0}), false},
		{"hash listpack, odd back-length", blob(typeHashListpack, str(oddBacklen(buildListpack("f", int64(0), "g", "v")))), false},
		{"quicklist node, odd back-length", quicklist(oddBacklen(buildListpack("x", int64(0), "y"))), false},
		{"stream node, odd back-length", stream(true, -1), false},
		{"zipmap ending at its first end marker", blob(typeHashZipmap, str(append(buildZipmap("a", "1"), 'x', 0xff))), false},
		{"zipmap value length byte 255", blob(typeHashZipmap, str(slices.Concat([]byte{1, 1, 'a', 0xff, 44, 1, 0, 0, 0},
			bytes.Repeat([]byte("v"), 300), []byte{0xff}))), false},
		{"zipmap count 254 (unknown)", blob(typeHashZipmap, str(append([]byte{254}, buildZipmap("a", "1", "b", "2")[1:]...))), false},
		{"sorted set listpack score not a number", blob(typeZSetListpack, str(buildListpack("m", "x1", "n", int64(2)))), true},
		{"sorted set string score not a number", blob(typeZSet, []byte{1}, str([]byte("m")), str([]byte("1>25"))), true},
		{"stream length above its entries", stream(false, 3), true},
	} {
		payload := payloadOf(c.body, 10)
		want := red.Do("RESTORE", "k", "0", payload, "REPLACE")
		got, _ := r.do("RESTORE", "k", "0", payload, "REPLACE")
		if want != "+OK\r\n" {
			t.Errorf("%s: redis-server replies %q", c.name, want)
			continue
		}
		if c.name == "zipmap count 254 (unknown)" {
			// Zipmaps both refuse: a count of 255, a short length in 5
			// bytes (which zipmap.c reads wrong).
			for _, zm := range [][]byte{append([]byte{255}, buildZipmap("a", "1", "b", "2")[1:]...),
				{1, 1, 'a', 0xfe, 1, 0, 0, 0, 0, '1', 0xff}, {1, 0xfe, 1, 0, 0, 0, 'a', 1, 0, '1', 0xff}} {
				bad := payloadOf(append([]byte{typeHashZipmap}, str(zm)...), 10)
				if w, g := red.Do("RESTORE", "k2", "0", bad), run(r.master, r.mc, "RESTORE", "k2", "0", bad); w != errBadFormat || g != w {
					t.Errorf("zipmap % x: ferry %q, redis-server %q", zm, g, w)
				}
			}
		}
		if c.refused {
			if got != errBadFormat {
				t.Errorf("%s: ferry replies %q, want %q", c.name, got, errBadFormat)
			}
			continue
		}
		if got != want {
			t.Errorf("%s: ferry replies %q, redis-server %q", c.name, got, want)
			continue
		}
		typ := status(t, red.Do("TYPE", "k"))
		for _, p := range append([][]string{{"DEBUG", "DIGEST-VALUE", "{k}"}}, probes[typ]...) {
			args, mode := probe(p, "k")
			w := red.Do(args...)
			g, _ := r.do(args...)
			if mode != "" {
				w, g = redistest.SortReply(w, mode == "sortpairs"), redistest.SortReply(g, mode == "sortpairs")
			}
			if g != w {
				t.Errorf("%s: %q: ferry %q, redis-server %q", c.name, args, g, w)
				break
			}
		}
	}
}
