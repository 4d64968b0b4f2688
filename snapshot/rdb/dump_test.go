package rdb

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/redistest"
)

// DUMP and RESTORE (Values, the engine's codec) against a stock
// redis-server 7.0: keys of every type and encoding move both ways with
// their values (DEBUG DIGEST-VALUE), expiry times and encodings; bad
// commands and payloads get the same replies; RESTORE replicates through
// the effect log.

// ferryConn starts a ferry engine with the codec and connects to it.
func ferryConn(t *testing.T, cfg command.Config) (*command.Engine, *redistest.Conn) {
	t.Helper()
	cfg.Values = Values{}
	e, addr := redistest.Ferry(t, cfg)
	return e, redistest.Dial(t, addr)
}

// bulks parses an array reply of bulk strings.
func bulks(t *testing.T, raw string) []string {
	t.Helper()
	br := bufio.NewReader(strings.NewReader(raw))
	head, _ := br.ReadString('\n')
	if !strings.HasPrefix(head, "*") {
		t.Fatalf("not an array: %q", truncateKey(raw))
	}
	n, _ := strconv.Atoi(strings.TrimSpace(head[1:]))
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		el, err := redistest.ReadReply(br)
		if err != nil {
			t.Fatalf("array reply %q: %v", truncateKey(raw), err)
		}
		out = append(out, status(t, string(el)))
	}
	return out
}

// intReply parses an integer reply.
func intReply(t *testing.T, raw string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(raw, ":"), "\r\n"), 10, 64)
	if err != nil || !strings.HasPrefix(raw, ":") {
		t.Fatalf("not an integer reply: %q", raw)
	}
	return n
}

// dumpDBs are the databases fillRedis writes.
var dumpDBs = []string{"0", "3", "15"}

// migrate moves every key of from's databases dbs to to, as migration tools
// do: DUMP, PEXPIRETIME, then RESTORE with ABSTTL (or 0). It returns the
// keys moved, by database.
func migrate(t *testing.T, from, to *redistest.Conn) map[string][]string {
	t.Helper()
	moved := map[string][]string{}
	for _, db := range dumpDBs {
		status(t, from.Do("SELECT", db))
		status(t, to.Do("SELECT", db))
		for _, key := range bulks(t, from.Do("KEYS", "*")) {
			p := from.Do("DUMP", key)
			if p == "$-1\r\n" {
				continue // expired since KEYS
			}
			payload := status(t, p)
			at := intReply(t, from.Do("PEXPIRETIME", key))
			ttl := "0"
			if at > 0 {
				ttl = strconv.FormatInt(at, 10)
			}
			if r := to.Do("RESTORE", key, ttl, payload, "ABSTTL"); r != "+OK\r\n" {
				t.Fatalf("RESTORE db %s %q (%d-byte payload): %q", db, truncateKey(key), len(payload), r)
			}
			moved[db] = append(moved[db], key)
		}
	}
	status(t, from.Do("SELECT", "0"))
	status(t, to.Do("SELECT", "0"))
	return moved
}

// compareKeys checks that a and b hold the same keys with the same values,
// expiry times and encodings, and that reads whose order depends on the
// encoding (listpacks, intsets, lists) reply the same bytes.
func compareKeys(t *testing.T, a, b *redistest.Conn, keys map[string][]string, what string) {
	t.Helper()
	encodings := map[string]int{}
	for _, db := range dumpDBs {
		status(t, a.Do("SELECT", db))
		status(t, b.Do("SELECT", db))
		if da, db2 := a.Do("DBSIZE"), b.Do("DBSIZE"); da != db2 || intReply(t, da) != int64(len(keys[db])) {
			t.Errorf("%s: db %s: DBSIZE %q and %q, %d keys moved", what, db, da, db2, len(keys[db]))
		}
		for _, key := range keys[db] {
			for _, cmd := range []string{"DEBUG DIGEST-VALUE", "PEXPIRETIME", "OBJECT ENCODING", "TYPE"} {
				args := append(strings.Fields(cmd), key)
				if ra, rb := a.Do(args...), b.Do(args...); ra != rb {
					t.Errorf("%s: db %s %s %q: %q and %q", what, db, cmd, truncateKey(key), ra, rb)
				}
			}
			enc := status(t, a.Do("OBJECT", "ENCODING", key))
			encodings[enc]++
			var read []string
			switch status(t, a.Do("TYPE", key)) {
			case "list":
				read = []string{"LRANGE", key, "0", "-1"}
			case "hash":
				read = []string{"HGETALL", key}
			case "set":
				read = []string{"SMEMBERS", key}
			case "zset":
				read = []string{"ZRANGE", key, "0", "-1", "WITHSCORES"}
			case "string":
				read = []string{"GET", key}
			case "stream":
				read = []string{"XRANGE", key, "-", "+"}
			default:
				t.Fatalf("%s: db %s %q: no read for its type", what, db, truncateKey(key))
			}
			if enc == "hashtable" {
				continue // Redis's and ferry's tables iterate in different orders
			}
			if ra, rb := a.Do(read...), b.Do(read...); ra != rb {
				t.Errorf("%s: db %s %q (%s): %s replies differ:\n%q\n%q", what, db, truncateKey(key), enc, read[0], truncateKey(ra), truncateKey(rb))
			}
		}
	}
	status(t, a.Do("SELECT", "0"))
	status(t, b.Do("SELECT", "0"))
	for _, enc := range []string{"listpack", "hashtable", "intset", "skiplist", "quicklist", "int", "embstr", "raw"} {
		if encodings[enc] == 0 {
			t.Errorf("%s: no key in encoding %s: %v", what, enc, encodings)
		}
	}
	if da, db := status(t, a.Do("DEBUG", "DIGEST")), status(t, b.Do("DEBUG", "DIGEST")); da != db {
		t.Errorf("%s: DEBUG DIGEST %s and %s", what, da, db)
	}
}

// TestDumpRestoreWithRedis moves a dataset of every type and encoding
// (fillRedis: integers, LZF strings, binary, listpacks, intsets, hash
// tables, skiplists, quicklists with compressed and plain nodes, expiry
// times) from redis-server to ferry with DUMP and RESTORE, then from ferry
// to a second redis-server, and compares each step key by key.
func TestDumpRestoreWithRedis(t *testing.T) {
	redistest.Need(t, "redis-server")
	src := redisIn(t, t.TempDir(), "--list-compress-depth", "1")
	pipeline(t, src, [][]string{{"DEBUG", "SET-ACTIVE-EXPIRE", "0"}})
	fillRedis(t, src)
	// KEYS skips str:expired, which DBSIZE counts until a lookup deletes it.
	if r := src.Do("EXISTS", "str:expired"); r != ":0\r\n" {
		t.Fatalf("EXISTS str:expired: %q", r)
	}
	random := make([]byte, 600<<10)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	pipeline(t, src, [][]string{
		{"SET", "str:binary", "\x00\xff\r\n$-1\r\n\x00"},
		{"SET", "str:big:random", string(random)},
		{"SET", "str:embstr", "short string"},
		{"SET", "str:min", "-9223372036854775808"},
		{"HSET", "hash:binary", "\x00", "\xff", "k\r\n", ""},
		{"SADD", "set:negative", "-1", "-9223372036854775808"},
		{"ZADD", "zset:int", "1", "1", "2", "2", "-3", "-3"},
	})
	_, fc := ferryConn(t, command.Config{})
	toFerry := migrate(t, src, fc)
	compareKeys(t, src, fc, toFerry, "redis-server -> ferry")

	dst := redistest.Dial(t, redistest.Redis(t, "--list-compress-depth", "1"))
	toRedis := migrate(t, fc, dst)
	compareKeys(t, fc, dst, toRedis, "ferry -> redis-server")
	compareKeys(t, src, dst, toRedis, "redis-server -> ferry -> redis-server")
}

// TestRestoreRelativeTTL: RESTORE with a relative TTL (as redis-shake and
// go-redis's Restore send it) sets the expiry from now, on both servers,
// and DUMP of a missing key is a null in RESP2 and RESP3.
func TestRestoreRelativeTTL(t *testing.T) {
	redistest.Need(t, "redis-server")
	rc := redistest.Dial(t, redistest.Redis(t))
	_, fc := ferryConn(t, command.Config{})
	for _, c := range []*redistest.Conn{rc, fc} {
		pipeline(t, c, [][]string{{"RPUSH", "l", "a", "1", "b"}, {"SET", "s", "12345"}, {"HSET", "h", "f", "v"}})
	}
	for _, from := range []*redistest.Conn{rc, fc} {
		for _, to := range []*redistest.Conn{rc, fc} {
			for _, key := range []string{"l", "s", "h"} {
				p := status(t, from.Do("DUMP", key))
				if r := to.Do("RESTORE", "copy:"+key, "100000", p, "REPLACE"); r != "+OK\r\n" {
					t.Fatalf("RESTORE: %q", r)
				}
				if ttl := intReply(t, to.Do("PTTL", "copy:"+key)); ttl <= 95000 || ttl > 100000 {
					t.Errorf("PTTL after RESTORE with TTL 100000: %d", ttl)
				}
				// The digest of a value covers its expiry too.
				to.Do("PERSIST", "copy:"+key)
				if a, b := from.Do("DEBUG", "DIGEST-VALUE", key), to.Do("DEBUG", "DIGEST-VALUE", "copy:"+key); a != b {
					t.Errorf("%s: DIGEST-VALUE %q, of the copy %q", key, a, b)
				}
			}
		}
	}
	for _, c := range []*redistest.Conn{rc, fc} {
		if r := c.Do("DUMP", "missing"); r != "$-1\r\n" {
			t.Errorf("DUMP missing: %q", r)
		}
		c.Do("HELLO", "3")
		if r := c.Do("DUMP", "missing"); r != "_\r\n" {
			t.Errorf("DUMP missing in RESP3: %q", r)
		}
	}
}

// payloadOf returns body followed by a DUMP footer: RDB version and CRC.
func payloadOf(body []byte, version uint16) string {
	p := binary.LittleEndian.AppendUint16(bytes.Clone(body), version)
	return string(binary.LittleEndian.AppendUint64(p, crcUpdate(0, p)))
}

// TestRestoreErrorsLikeRedis sends the same commands, bad ones and good
// ones, to redis-server and ferry in RESP2 and RESP3, and compares every
// reply byte for byte.
func TestRestoreErrorsLikeRedis(t *testing.T) {
	redistest.Need(t, "redis-server")
	rc := redistest.Dial(t, redistest.Redis(t))
	_, fc := ferryConn(t, command.Config{})

	good := payloadOf([]byte("\x00\x05hello"), 10)
	if d := rc.Do("DUMP", "nothing"); d != "$-1\r\n" {
		t.Fatal(d)
	}
	rc.Do("SET", "probe", "hello")
	if d := status(t, rc.Do("DUMP", "probe")); d != good {
		t.Fatalf("redis-server dumps %q, the test builds %q", d, good)
	}
	badCRC := []byte(good)
	badCRC[len(badCRC)-1] ^= 1
	future := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)
	cmds := [][]string{
		{"COMMAND", "INFO", "dump", "restore"}, {"COMMAND", "GETKEYSANDFLAGS", "RESTORE", "k", "0", good},
		{"DUMP"}, {"DUMP", "a", "b"}, {"DUMP", "nothing"}, {"DUMP", "busy"},
		{"RESTORE"}, {"RESTORE", "k"}, {"RESTORE", "k", "0"},
		// Options, checked first.
		{"RESTORE", "busy", "0", good, "bogus"},
		{"RESTORE", "busy", "x", "short", "REPLACE", "bogus"},
		{"RESTORE", "k", "0", good, "IDLETIME"},
		{"RESTORE", "k", "0", good, "FREQ"},
		{"RESTORE", "k", "0", good, "IDLETIME", "x"},
		{"RESTORE", "k", "0", good, "IDLETIME", "99999999999999999999"},
		{"RESTORE", "k", "0", good, "IDLETIME", "-1"},
		{"RESTORE", "k", "0", good, "FREQ", "x"},
		{"RESTORE", "k", "0", good, "FREQ", "-1"},
		{"RESTORE", "k", "0", good, "FREQ", "256"},
		{"RESTORE", "k", "0", good, "IDLETIME", "1", "FREQ", "1"},
		{"RESTORE", "k", "0", good, "FREQ", "1", "IDLETIME", "1"},
		{"RESTORE", "k", "0", good, "IDLETIME", "-1", "FREQ", "1"},
		// Then the key, the TTL, the footer, the value.
		{"RESTORE", "busy", "0", good},
		{"RESTORE", "busy", "x", "short"},
		{"RESTORE", "k", "x", good},
		{"RESTORE", "k", "1.5", good},
		{"RESTORE", "k", "-1", good},
		{"RESTORE", "k", "-1", "short"},
		{"RESTORE", "k", "0", "short"},
		{"RESTORE", "k", "0", ""},
		{"RESTORE", "k", "0", good[:9]},
		{"RESTORE", "k", "0", string(badCRC)},
		{"RESTORE", "k", "0", payloadOf([]byte("\x00\x05hello"), 11)},
		{"RESTORE", "k", "0", payloadOf([]byte("\x00\x05hello"), 0x100)},
		{"RESTORE", "k", "0", payloadOf(nil, 10)},
		{"RESTORE", "k", "0", payloadOf([]byte("\x00\xc4"), 10)},
		{"RESTORE", "k", "0", payloadOf([]byte("\x00\x40"), 10)},
		{"RESTORE", "k", "0", payloadOf([]byte("\x01\x00"), 10)},
		{"RESTORE", "k", "0", payloadOf([]byte("\x02\x00"), 10)},
		{"RESTORE", "k", "0", payloadOf([]byte("\x08\x00"), 10)},
		{"RESTORE", "k", "0", payloadOf([]byte("\x14\x01\x01a"), 10)},
		{"RESTORE", "k", "0", payloadOf([]byte("\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00"), 10)},
		{"RESTORE", "k", "0", payloadOf([]byte("\x02\x02\x01a\x01a"), 10)},
		{"RESTORE", "k", "0", payloadOf([]byte("\x05\x02\x01a\x00\x00\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x00\x00\x00\x00\x00\x00"), 10)},
		{"RESTORE", "k", "0", payloadOf([]byte("\x05\x01\x01a\x00\x00\x00\x00\x00\x00\xf8\x7f"), 10)},
		{"RESTORE", "k", "0", payloadOf([]byte("\x01\x05\x01a"), 10)},
		{"RESTORE", "k", "0", payloadOf([]byte("\x0e\x01\x00"), 10)},
		// Good ones: what they store is read back.
		{"RESTORE", "k", "0", good}, {"GET", "k"}, {"PTTL", "k"},
		{"RESTORE", "k", "0", good}, // BUSYKEY now
		{"RESTORE", "k", "0", payloadOf([]byte("\x00\xc0\x05"), 10), "REPLACE"}, {"GET", "k"}, {"OBJECT", "ENCODING", "k"},
		{"RESTORE", "k", "0", payloadOf([]byte("\x00\x05helloXYZ"), 0), "replace", "absttl"}, {"GET", "k"},
		// A value cut short reads on into the footer, in Redis.
		{"RESTORE", "cut", "0", payloadOf([]byte("\x00\x05hel"), 10)}, {"GET", "cut"},
		{"RESTORE", "k", "0", good, "REPLACE", "IDLETIME", "5", "IDLETIME", "6", "REPLACE"},
		{"RESTORE", "k", "0", good, "REPLACE", "FREQ", "5", "FREQ", "255"},
		{"RESTORE", "t", future, good, "ABSTTL"}, {"PEXPIRETIME", "t"},
		{"RESTORE", "t2", "0", good, "ABSTTL"}, {"PTTL", "t2"},
		// ABSTTL in the past: OK, and nothing stored (REPLACE deletes).
		{"RESTORE", "gone", "1", good, "ABSTTL"}, {"EXISTS", "gone"},
		{"RESTORE", "busy", "1", good, "ABSTTL", "REPLACE"}, {"EXISTS", "busy"},
		// A relative TTL past the largest time wraps into the past.
		{"RESTORE", "huge", "9223372036854775807", good}, {"EXISTS", "huge"},
		{"RESTORE", "huge", "9223372036854775807", good, "ABSTTL"}, {"PEXPIRETIME", "huge"},
		{"RESTORE", "list", "0", payloadOf([]byte("\x01\x03\x01a\xc0\x05\x01b"), 10)}, {"LRANGE", "list", "0", "-1"},
		// DUMP of a string is the same bytes; of a list it is not (ferry's
		// plain list type, Redis's quicklist of listpacks).
		{"RESTORE", "list", "0", good}, {"DUMP", "k"},
	}
	for _, proto := range []string{"2", "3"} {
		for _, c := range []*redistest.Conn{rc, fc} {
			c.Do("FLUSHALL")
			c.Do("HELLO", proto)
			c.Do("SET", "busy", "v")
		}
		for _, cmd := range cmds {
			if a, b := rc.Do(cmd...), fc.Do(cmd...); a != b {
				t.Errorf("RESP%s %q:\nredis-server %q\nferry        %q", proto, cmd, a, b)
			}
		}
	}
}

// TestRestoreStream: a stream with a consumer group moves from
// redis-server to ferry and back.
func TestRestoreStream(t *testing.T) {
	redistest.Need(t, "redis-server")
	rc := redistest.Dial(t, redistest.Redis(t))
	_, fc := ferryConn(t, command.Config{})
	rc.Do("XADD", "st", "1-1", "a", "1")
	rc.Do("XADD", "st", "2-1", "b", "2")
	rc.Do("XGROUP", "CREATE", "st", "g", "0")
	rc.Do("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "st", ">")
	p := status(t, rc.Do("DUMP", "st"))
	restored := fc.Do("RESTORE", "st", "0", p)
	if restored != "+OK\r\n" {
		t.Fatalf("RESTORE of a stream: %q", restored)
	}
	back := status(t, fc.Do("DUMP", "st"))
	if r := rc.Do("RESTORE", "back", "0", back); r != "+OK\r\n" {
		t.Fatalf("redis-server's RESTORE of ferry's DUMP of a stream: %q", r)
	}
	for _, cmd := range [][]string{{"DEBUG", "DIGEST-VALUE", "st"}, {"XRANGE", "st", "-", "+"}, {"XINFO", "GROUPS", "st"}, {"XPENDING", "st", "g"}} {
		if a, b := rc.Do(cmd...), fc.Do(cmd...); a != b {
			t.Errorf("%q: redis-server %q, ferry %q", cmd, a, b)
		}
	}
	if a, b := rc.Do("DEBUG", "DIGEST-VALUE", "st"), rc.Do("DEBUG", "DIGEST-VALUE", "back"); a != b {
		t.Errorf("DIGEST-VALUE of the stream %q, of it back from ferry %q", a, b)
	}
}

// TestRestoreNotifications: the keyspace events of DUMP and RESTORE, as
// redis-server publishes them.
func TestRestoreNotifications(t *testing.T) {
	redistest.Need(t, "redis-server")
	raddr := redistest.Redis(t)
	_, faddr := redistest.Ferry(t, command.Config{Values: Values{}})
	p := payloadOf([]byte("\x00\x05hello"), 10)
	events := func(addr string) []string {
		c, sub := redistest.Dial(t, addr), redistest.Dial(t, addr)
		status(t, c.Do("CONFIG", "SET", "notify-keyspace-events", "KEA"))
		sub.Do("PSUBSCRIBE", "__key*@0__:*")
		for _, cmd := range [][]string{
			{"DUMP", "missing"},
			{"RESTORE", "k", "0", p},
			{"RESTORE", "k", "0", p, "REPLACE"},
			{"RESTORE", "k", "1", p, "ABSTTL", "REPLACE"},
			{"RESTORE", "gone", "1", p, "ABSTTL"},
			{"RESTORE", "t", "100000", p},
			{"SET", "end", "1"},
		} {
			c.Do(cmd...)
		}
		var out []string
		for {
			m := sub.Read()
			out = append(out, m)
			if strings.Contains(m, "__keyevent@0__:set") {
				break // SET end's second event
			}
			if len(out) > 40 {
				t.Fatalf("no end: %q", out)
			}
		}
		return out
	}
	r, f := events(raddr), events(faddr)
	if !strings.Contains(fmt.Sprint(r), "__keyevent@0__:restore") || !strings.Contains(fmt.Sprint(r), "__keyevent@0__:del") {
		t.Errorf("redis-server's events have no restore or del: %q", r)
	}
	if fmt.Sprint(r) != fmt.Sprint(f) {
		t.Errorf("keyspace events:\nredis-server %q\nferry        %q", r, f)
	}
}

// TestRestoreOnReplica: RESTORE is a write, refused on a replica; DUMP is
// served there.
func TestRestoreOnReplica(t *testing.T) {
	_, fc := ferryConn(t, command.Config{Role: "slave"})
	p := payloadOf([]byte("\x00\x05hello"), 10)
	if r := fc.Do("RESTORE", "k", "0", p); r != "-READONLY You can't write against a read only replica.\r\n" {
		t.Errorf("RESTORE on a replica: %q", r)
	}
	if r := fc.Do("DUMP", "k"); r != "$-1\r\n" {
		t.Errorf("DUMP on a replica: %q", r)
	}
}

// unitLog keeps the units an engine logs.
type unitLog struct{ units [][]byte }

func (l *unitLog) Append(u command.Unit) { l.units = append(l.units, bytes.Clone(u.Data)) }

// run executes one command on e for cl and returns the raw reply.
func run(e *command.Engine, cl *command.Client, args ...string) string {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	e.Lock()
	defer e.Unlock()
	cl.W.Reset()
	e.Exec(cl, b)
	return string(cl.W.Buf)
}

// replicated is a master engine logging its effects and a replica engine
// that applies them, both with the codec, on one clock.
type replicated struct {
	t        *testing.T
	now      time.Time
	master   *command.Engine
	mc       *command.Client
	log      *unitLog
	replica  *command.Engine
	rc       *command.Client
	ap       *command.Applier
	appplied int
}

func newReplicated(t *testing.T) *replicated {
	r := &replicated{t: t, now: time.UnixMilli(1_700_000_000_000), log: &unitLog{}}
	clock := func() time.Time { return r.now }
	r.master = command.New(command.Config{Clock: clock, Values: Values{}})
	r.master.SetLog(r.log)
	r.master.Lock()
	r.mc = r.master.NewClient("client", "")
	r.master.Unlock()
	r.replica = command.New(command.Config{Clock: clock, Values: Values{}, Role: "slave"})
	r.replica.Lock()
	r.replica.Keyspace().Mode = keyspace.ExpireHide
	r.rc = r.replica.NewClient("reader", "")
	r.replica.Unlock()
	r.ap = r.replica.NewApplier()
	return r
}

// do runs a command on the master, applies what it logged to the replica
// and checks that both have the same DEBUG DIGEST. It returns the reply
// and the units logged.
func (r *replicated) do(args ...string) (string, []string) {
	r.t.Helper()
	reply := run(r.master, r.mc, args...)
	var units []string
	for ; r.appplied < len(r.log.units); r.appplied++ {
		u := r.log.units[r.appplied]
		units = append(units, string(u))
		if err := r.ap.Apply(u); err != nil {
			r.t.Fatalf("%q: the replica cannot apply %q: %v", args, truncateKey(string(u)), err)
		}
	}
	if a, b := run(r.master, r.mc, "DEBUG", "DIGEST"), run(r.replica, r.rc, "DEBUG", "DIGEST"); a != b {
		r.t.Fatalf("%q (units %q): master digest %q, replica %q", args, units, a, b)
	}
	return reply, units
}

// resp encodes commands as a unit's RESP.
func resp(cmds ...[]string) string {
	var b bytes.Buffer
	for _, c := range cmds {
		b.Write(redistest.Encode(c...))
	}
	return b.String()
}

// TestRestoreEffects checks what RESTORE hands to the log in each case,
// and that a replica applying it ends with the master's digest.
func TestRestoreEffects(t *testing.T) {
	r := newReplicated(t)
	p := payloadOf([]byte("\x00\x05hello"), 10)
	now := r.now.UnixMilli()
	at := func(ms int64) string { return strconv.FormatInt(ms, 10) }
	for _, c := range []struct {
		args  []string
		reply string
		units []string
	}{
		{[]string{"RESTORE", "k", "5000", p}, "+OK\r\n", []string{resp([]string{"RESTORE", "k", at(now + 5000), p, "ABSTTL"})}},
		{[]string{"restore", "k", "7000", p, "replace", "idletime", "3"}, "+OK\r\n",
			[]string{resp([]string{"restore", "k", at(now + 7000), p, "replace", "idletime", "3", "ABSTTL"})}},
		{[]string{"RESTORE", "k2", "0", p}, "+OK\r\n", []string{resp([]string{"RESTORE", "k2", "0", p})}},
		{[]string{"RESTORE", "k3", at(now + 10), p, "ABSTTL"}, "+OK\r\n", []string{resp([]string{"RESTORE", "k3", at(now + 10), p, "ABSTTL"})}},
		// Past times: nothing stored; DEL when REPLACE deleted a key.
		{[]string{"RESTORE", "k4", at(now), p, "ABSTTL"}, "+OK\r\n", nil},
		{[]string{"RESTORE", "k", at(now - 1), p, "ABSTTL", "REPLACE"}, "+OK\r\n", []string{resp([]string{"DEL", "k"})}},
		{[]string{"RESTORE", "k", "9223372036854775807", p}, "+OK\r\n", nil},
		// Errors log nothing.
		{[]string{"RESTORE", "k2", "0", p}, "-BUSYKEY Target key name already exists.\r\n", nil},
		{[]string{"RESTORE", "k5", "0", p[:len(p)-1]}, "-ERR DUMP payload version or checksum are wrong\r\n", nil},
		{[]string{"RESTORE", "k5", "0", payloadOf([]byte("\x01\x00"), 10)}, "-ERR Bad data format\r\n", nil},
	} {
		reply, units := r.do(c.args...)
		if reply != c.reply || fmt.Sprint(units) != fmt.Sprint(c.units) {
			t.Errorf("%q: reply %q, units %q; want %q, %q", c.args, reply, units, c.reply, c.units)
		}
	}
	// An expired key met by the BUSYKEY check goes out as its own DEL, in
	// the same unit.
	r.now = r.now.Add(time.Second)
	reply, units := r.do("RESTORE", "k3", "0", p)
	want := resp([]string{"MULTI"}, []string{"DEL", "k3"}, []string{"RESTORE", "k3", "0", p}, []string{"EXEC"})
	if reply != "+OK\r\n" || len(units) != 1 || units[0] != want {
		t.Errorf("RESTORE over an expired key: %q, units %q; want %q", reply, units, want)
	}
	// The replica hides a restored key once its time has passed, and
	// DUMP there replies null.
	r.do("RESTORE", "soon", "100", p)
	if got := run(r.replica, r.rc, "DUMP", "soon"); got != "$"+strconv.Itoa(len(p))+"\r\n"+p+"\r\n" {
		t.Errorf("DUMP on the replica: %q", got)
	}
	r.now = r.now.Add(200 * time.Millisecond)
	if got := run(r.replica, r.rc, "DUMP", "soon"); got != "$-1\r\n" {
		t.Errorf("DUMP of an expired key on the replica: %q", got)
	}
}

// TestRestoreReplicates runs random RESTOREs of payloads dumped by
// redis-server (compact encodings) and by ferry, with every kind of TTL,
// REPLACE, and writes and clock moves between, checking after each command
// that a replica applying the log has the master's DEBUG DIGEST.
func TestRestoreReplicates(t *testing.T) {
	redistest.Need(t, "redis-server")
	src := redisIn(t, t.TempDir(), "--list-compress-depth", "1")
	fillRedis(t, src)
	var payloads []string
	for _, key := range bulks(t, src.Do("KEYS", "*")) {
		if p := src.Do("DUMP", key); p != "$-1\r\n" && (len(payloads) < 40 || !strings.HasPrefix(key, "k:")) {
			payloads = append(payloads, status(t, p))
		}
	}
	r := newReplicated(t)
	for _, p := range payloads[:20] {
		r.do("RESTORE", "seed", "0", p, "REPLACE")
		d, _ := r.do("DUMP", "seed")
		payloads = append(payloads, status(t, d))
	}
	rng := rand.New(rand.NewPCG(7, 8))
	keys := []string{"a", "b", "c", "d", "e"}
	restores := 0
	for step := 0; step < 1500; step++ {
		key := keys[rng.IntN(len(keys))]
		now := r.now.UnixMilli()
		switch rng.IntN(10) {
		case 0:
			r.do("SET", key, "x", "PX", strconv.Itoa(1+rng.IntN(500)))
		case 1:
			r.now = r.now.Add(time.Duration(rng.IntN(400)) * time.Millisecond)
		case 2:
			r.do("DEL", key)
		default:
			args := []string{"RESTORE", key}
			abs := false
			switch rng.IntN(4) {
			case 0:
				args = append(args, "0")
			case 1:
				args = append(args, strconv.Itoa(1+rng.IntN(1000)))
			case 2:
				args = append(args, strconv.FormatInt(now-500+int64(rng.IntN(1000)), 10))
				abs = true
			case 3:
				args = append(args, strconv.FormatInt(now+int64(rng.IntN(1000)), 10))
				abs = true
			}
			args = append(args, payloads[rng.IntN(len(payloads))])
			if rng.IntN(2) == 0 {
				args = append(args, "REPLACE")
			}
			if abs {
				args = append(args, "ABSTTL")
			}
			if rng.IntN(4) == 0 {
				args = append(args, "IDLETIME", "10")
			}
			reply, units := r.do(args...)
			if reply == "+OK\r\n" {
				restores++
			} else if reply != "-BUSYKEY Target key name already exists.\r\n" {
				t.Fatalf("%q: %q", truncateKey(fmt.Sprint(args)), reply)
			}
			for _, u := range units {
				if strings.Contains(u, "RESTORE") && !strings.Contains(u, "ABSTTL") && !strings.Contains(u, "$1\r\n0\r\n") {
					t.Fatalf("a RESTORE with a relative TTL in the log: %q", truncateKey(u))
				}
			}
		}
		if step%100 == 0 {
			r.master.ActiveExpire()
			r.do("PING")
		}
	}
	if restores < 300 {
		t.Errorf("only %d RESTOREs stored a key", restores)
	}
}

// TestRestoreLargerThanAnEntry: a RESTORE whose request is more than one
// log entry holds is refused before it runs, as other writes are: its
// effect is the request with the TTL rewritten.
func TestRestoreLargerThanAnEntry(t *testing.T) {
	r := newReplicated(t)
	r.master.Lock()
	r.master.SetMaxWriteBytes(8 << 10)
	r.master.Unlock()
	big := payloadOf(append([]byte{0, 0x80, 0, 0, 0x30, 0}, bytes.Repeat([]byte("x"), 12<<10)...), 10)
	reply, units := r.do("RESTORE", "big", "1000", big)
	if !strings.HasPrefix(reply, "-ERR ferry: this write is ") || len(units) != 0 {
		t.Errorf("RESTORE of 12 KiB with entries of 8 KiB: %q, units %d", reply, len(units))
	}
	small := payloadOf(append([]byte{0, 0x80, 0, 0, 0x1c, 0}, bytes.Repeat([]byte("x"), 7<<10)...), 10)
	if reply, units := r.do("RESTORE", "big", "1000", small); reply != "+OK\r\n" || len(units) != 1 || len(units[0]) > 8<<10 {
		t.Errorf("RESTORE of 7 KiB: %q, %d units", reply, len(units))
	}
}

// digestOf returns the DEBUG DIGEST-VALUE of a restored value.
func digestOf(str []byte, coll keyspace.Collection) string {
	ks := newKeyspace()
	var o *keyspace.Object
	if coll != nil {
		o = ks.DB(0).SetCollection("k", coll, false)
	} else {
		o = ks.DB(0).SetString("k", str, false)
	}
	d := keyspace.ValueDigest(o)
	return d.Hex()
}

// checkRestore checks what Values.Restore makes of a payload: an error of
// the documented kinds, or a value whose DUMP restores to the same digest.
func checkRestore(t *testing.T, payload []byte) {
	in := bytes.Clone(payload)
	str, coll, err := Values{}.Restore(payload, keyspace.DefaultLimits)
	if !bytes.Equal(in, payload) {
		t.Fatalf("Restore modified its payload")
	}
	if err != nil {
		var e *Error
		if !errors.As(err, &e) && !errors.Is(err, command.ErrDumpPayload) {
			t.Fatalf("error %T %v of no documented kind", err, err)
		}
		if str != nil || coll != nil {
			t.Fatalf("a value with the error %v", err)
		}
		return
	}
	if coll != nil && coll.Len() == 0 && coll.Kind() != keyspace.KindStream {
		t.Fatalf("an empty %s restored", coll.Kind())
	}
	ks := newKeyspace()
	var o *keyspace.Object
	if coll != nil {
		o = ks.DB(0).SetCollection("k", coll.Clone(), false)
	} else {
		o = ks.DB(0).SetString("k", str, false)
	}
	p, err := Values{}.Dump(nil, o)
	if err != nil {
		t.Fatalf("dump what was restored: %v", err)
	}
	str2, coll2, err := Values{}.Restore(p, keyspace.DefaultLimits)
	if err != nil {
		t.Fatalf("restore what was dumped: %v", err)
	}
	if a, b := digestOf(str, coll), digestOf(str2, coll2); a != b {
		t.Fatalf("digest changed by DUMP and RESTORE: %s, %s", a, b)
	}
}

// FuzzRestore feeds Values.Restore arbitrary values with a valid footer
// (most mutations would fail the checksum otherwise): it never panics,
// fails with a documented error, or restores a value that DUMP and RESTORE
// keep. The seeds are ferry's dumps of smallDataset and of streams, and
// payloads in Redis's compact encodings.
func FuzzRestore(f *testing.F) {
	ks := smallDataset()
	addStreams(ks.DB(0), 1, 20)
	for i := 0; i < keyspace.NumDBs; i++ {
		ks.DB(i).Range(func(_ string, o *keyspace.Object) bool {
			p, err := Values{}.Dump(nil, o)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(p[:len(p)-dumpFooter])
			return true
		})
	}
	seed := func(t byte, blob []byte) {
		var r rawRDB
		r.WriteByte(t)
		r.str(blob)
		f.Add(bytes.Clone(r.Bytes()))
	}
	seed(typeHashListpack, buildListpack("f", int64(1), "g", "long value"))
	seed(typeZSetListpack, buildListpack("m", "1.5", "n", int64(2)))
	seed(typeSetIntset, buildIntset(4, 1, 70000, -5))
	seed(typeListZiplist, buildZiplist("a", int64(-3), "b"))
	seed(typeHashZiplist, buildZiplist("f", "v"))
	seed(typeHashZipmap, buildZipmap("f", "v", "g", "w"))
	var q rawRDB
	q.WriteByte(typeListQuicklist2)
	q.len(2)
	q.len(2)
	q.str(buildListpack("a", int64(1)))
	q.len(1)
	q.str([]byte("plain node"))
	f.Add(bytes.Clone(q.Bytes()))
	var z rawRDB
	z.WriteByte(typeString)
	z.lzf(bytes.Repeat([]byte("abc"), 40))
	f.Add(bytes.Clone(z.Bytes()))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkRestore(t, []byte(payloadOf(body, 10)))
		checkRestore(t, body)
	})
}
