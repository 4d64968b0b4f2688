package rdb

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// MIGRATE between ferry (with Values, its DUMP codec) and redis-server
// 7.0, both ways: keys of every type and encoding arrive with the same
// values (DEBUG DIGEST-VALUE), encodings and TTLs; and a ferry source and
// a redis-server source, given the same commands against the same target,
// reply byte for byte alike and leave the same keys behind.

func hostPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

// TestMigrateWithRedis moves fillRedis's dataset from redis-server to
// ferry with MIGRATE COPY, then from ferry to a second redis-server with
// MIGRATE, database by database, and compares the keys.
func TestMigrateWithRedis(t *testing.T) {
	redistest.Need(t, "redis-server")
	src := redisIn(t, t.TempDir(), "--list-compress-depth", "1")
	pipeline(t, src, [][]string{{"DEBUG", "SET-ACTIVE-EXPIRE", "0"}})
	fillRedis(t, src)
	// KEYS skips str:expired, which DBSIZE counts until a lookup deletes it.
	if r := src.Do("EXISTS", "str:expired"); r != ":0\r\n" {
		t.Fatalf("EXISTS str:expired: %q", r)
	}
	_, faddr := redistest.Ferry(t, command.Config{Values: Values{}})
	fc := redistest.Dial(t, faddr)
	daddr := redistest.Redis(t, "--list-compress-depth", "1")
	dst := redistest.Dial(t, daddr)
	fhost, fport := hostPort(t, faddr)
	dhost, dport := hostPort(t, daddr)
	moved := 0
	for _, db := range dumpDBs {
		for _, c := range []*redistest.Conn{src, fc, dst} {
			status(t, c.Do("SELECT", db))
		}
		keys := bulks(t, src.Do("KEYS", "*"))
		if len(keys) == 0 {
			t.Fatalf("db %s: no keys", db)
		}
		args := append([]string{"MIGRATE", fhost, fport, "", db, "5000", "COPY", "KEYS"}, keys...)
		if r := src.Do(args...); r != "+OK\r\n" {
			t.Fatalf("db %s: redis-server MIGRATE to ferry: %q", db, r)
		}
		args = append([]string{"MIGRATE", dhost, dport, "", db, "5000", "KEYS"}, keys...)
		if r := fc.Do(args...); r != "+OK\r\n" {
			t.Fatalf("db %s: ferry MIGRATE to redis-server: %q", db, r)
		}
		if r := fc.Do("DBSIZE"); r != ":0\r\n" {
			t.Errorf("db %s: ferry's DBSIZE after MIGRATE: %q", db, r)
		}
		if a, b := src.Do("DBSIZE"), dst.Do("DBSIZE"); a != b {
			t.Errorf("db %s: DBSIZE %q at the source, %q at the destination", db, a, b)
		}
		for _, key := range keys {
			for _, cmd := range []string{"DEBUG DIGEST-VALUE", "OBJECT ENCODING", "TYPE"} {
				args := append(strings.Fields(cmd), key)
				if a, b := src.Do(args...), dst.Do(args...); a != b {
					t.Errorf("db %s %s %q: %q and %q", db, cmd, truncateKey(key), a, b)
				}
			}
			// MIGRATE sends relative TTLs, as Redis does: the times
			// differ by the time the transfers took.
			a, b := intReply(t, src.Do("PEXPIRETIME", key)), intReply(t, dst.Do("PEXPIRETIME", key))
			if (a < 0) != (b < 0) || a-b > 5000 || b-a > 5000 {
				t.Errorf("db %s PEXPIRETIME %q: %d and %d", db, truncateKey(key), a, b)
			}
			moved++
		}
	}
	if moved < 50 {
		t.Errorf("only %d keys moved", moved)
	}
}

// TestMigrateRepliesLikeRedis runs the same steps with a redis-server
// source and with a ferry source against one redis-server target (which
// requires a password): the replies, what stays at the source and what
// arrives at the target are compared. The cached connections (AUTH stays
// on them, SELECT is skipped) behave alike too.
func TestMigrateRepliesLikeRedis(t *testing.T) {
	redistest.Need(t, "redis-server")
	taddr := redistest.Redis(t, "--requirepass", "secret")
	tc := redistest.Dial(t, taddr)
	status(t, tc.Do("AUTH", "secret"))
	thost, tport := hostPort(t, taddr)
	rc := redistest.Dial(t, redistest.Redis(t))
	_, faddr := redistest.Ferry(t, command.Config{Values: Values{}})
	fc := redistest.Dial(t, faddr)

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := strconv.Itoa(closed.Addr().(*net.TCPAddr).Port)
	closed.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	silentPort := strconv.Itoa(silent.Addr().(*net.TCPAddr).Port)

	type step struct {
		name     string
		src, dst [][]string // set-up at the source and at the target
		migrate  []string   // after MIGRATE host port (the target's unless given)
		host     []string
		check    [][]string // run at both, after
	}
	m := func(args ...string) []string { return args }
	steps := []step{
		{name: "noauth", src: [][]string{{"SET", "k", "v"}}, migrate: m("k", "0", "1000"), check: [][]string{{"EXISTS", "k"}}},
		{name: "wrongpass", src: [][]string{{"SET", "k", "v"}}, migrate: m("k", "0", "1000", "AUTH", "wrong"), check: [][]string{{"EXISTS", "k"}}},
		{name: "auth", src: [][]string{{"SET", "k", "v"}}, migrate: m("k", "0", "1000", "AUTH", "secret"), check: [][]string{{"EXISTS", "k"}, {"GET", "k"}}},
		{name: "cached-auth", src: [][]string{{"SET", "k", "v"}}, migrate: m("k", "0", "1000"), check: [][]string{{"EXISTS", "k"}, {"GET", "k"}}},
		{name: "busykey", src: [][]string{{"SET", "k", "v"}}, dst: [][]string{{"SET", "k", "old"}}, migrate: m("k", "0", "1000"), check: [][]string{{"GET", "k"}}},
		{name: "replace", src: [][]string{{"SET", "k", "v"}}, dst: [][]string{{"SET", "k", "old"}}, migrate: m("k", "0", "1000", "REPLACE"), check: [][]string{{"GET", "k"}}},
		{name: "partial", src: [][]string{{"MSET", "a", "1", "b", "2", "c", "3"}}, dst: [][]string{{"SET", "b", "old"}},
			migrate: m("", "0", "1000", "KEYS", "a", "b", "c", "nosuch"), check: [][]string{{"MGET", "a", "b", "c"}}},
		{name: "db-out-of-range", src: [][]string{{"SET", "k", "v"}}, migrate: m("k", "99", "1000"), check: [][]string{{"EXISTS", "k"}}},
		{name: "other-db", src: [][]string{{"RPUSH", "l", "a", "b"}, {"HSET", "h", "f", "v"}}, migrate: m("", "5", "1000", "AUTH2", "default", "secret", "KEYS", "l", "h"),
			check: [][]string{{"EXISTS", "l", "h"}, {"SELECT", "5"}, {"LRANGE", "l", "0", "-1"}, {"HGETALL", "h"}, {"DEBUG", "DIGEST-VALUE", "l", "h"}, {"SELECT", "0"}}},
		{name: "copy-ttl", src: [][]string{{"SET", "k", "v", "PX", "100000"}}, migrate: m("k", "0", "1000", "COPY"),
			check: [][]string{{"EXISTS", "k"}, {"GET", "k"}, {"EVAL", "return redis.call('PTTL', KEYS[1]) > 90000", "1", "k"}}},
		{name: "twice", src: [][]string{{"SET", "a", "1"}}, migrate: m("", "0", "1000", "KEYS", "a", "a"), check: [][]string{{"EXISTS", "a"}}},
		{name: "twice-replace", src: [][]string{{"SET", "a", "1"}}, migrate: m("", "0", "1000", "REPLACE", "KEYS", "a", "a"), check: [][]string{{"EXISTS", "a"}}},
		{name: "nokey", migrate: m("", "0", "1000", "KEYS", "x", "y"), check: [][]string{{"DBSIZE"}}},
		{name: "keys-and-key", src: [][]string{{"SET", "k", "v"}}, migrate: m("k", "0", "1000", "KEYS", "k"), check: [][]string{{"EXISTS", "k"}}},
		{name: "refused", src: [][]string{{"SET", "k", "v"}}, host: m("127.0.0.1", closedPort), migrate: m("k", "0", "1000"), check: [][]string{{"EXISTS", "k"}}},
		{name: "unresolvable", src: [][]string{{"SET", "k", "v"}}, host: m("nosuch.invalid", "6379"), migrate: m("k", "0", "1000"), check: [][]string{{"EXISTS", "k"}}},
		{name: "silent", src: [][]string{{"SET", "k", "v"}}, host: m("127.0.0.1", silentPort), migrate: m("k", "0", "200"), check: [][]string{{"EXISTS", "k"}}},
		{name: "after-silent", src: [][]string{{"SET", "k", "v"}}, migrate: m("k", "0", "1000", "AUTH", "secret"), check: [][]string{{"EXISTS", "k"}}},
	}
	for _, s := range steps {
		var transcripts [2]string
		for i, c := range []*redistest.Conn{rc, fc} {
			status(t, c.Do("FLUSHALL"))
			status(t, tc.Do("FLUSHALL"))
			for _, cmd := range s.src {
				c.Do(cmd...)
			}
			for _, cmd := range s.dst {
				tc.Do(cmd...)
			}
			host := s.host
			if host == nil {
				host = m(thost, tport)
			}
			var b strings.Builder
			b.WriteString(c.Do(append(append([]string{"MIGRATE"}, host...), s.migrate...)...))
			for _, cmd := range s.check {
				b.WriteString("source " + strings.Join(cmd, " ") + ": " + c.Do(cmd...))
				b.WriteString("target " + strings.Join(cmd, " ") + ": " + tc.Do(cmd...))
			}
			transcripts[i] = b.String()
		}
		if transcripts[0] != transcripts[1] {
			t.Errorf("%s:\n redis-server: %q\n ferry:        %q", s.name, transcripts[0], transcripts[1])
		}
	}
}
