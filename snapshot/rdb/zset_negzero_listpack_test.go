package rdb

import (
	"strconv"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/redistest"
)

// Redis's own writes store a listpack score of -0 as the integer 0, but a
// listpack (or an old dump's ziplist) holding the score as the string
// "-0" gives back -0: zzlGetScore reads it with strtod. RESTORE keeps it,
// and so does every copy of the value (DUMP, COPY, snapshots).

// negZeroCompactPayloads returns DUMP payloads of sorted sets whose compact
// encoding holds "neg" with the score written as text that reads as -0,
// and whether to compare ZSCAN replies: ZSCAN of a listpack replies with
// the stored text, which ferry does not keep ("-0.0" comes back as "-0"),
// and walks a skiplist's dict in an order of its own.
func negZeroCompactPayloads() map[string]struct {
	payload string
	scan    bool
} {
	lp := func(entries ...any) string {
		var r rawRDB
		r.WriteByte(typeZSetListpack)
		r.str(buildListpack(entries...))
		return payloadOf(r.Bytes(), 10)
	}
	zl := func(entries ...any) string {
		var r rawRDB
		r.WriteByte(typeZSetZiplist)
		r.str(buildZiplist(entries...))
		return payloadOf(r.Bytes(), 9)
	}
	// More members than a listpack holds: Redis converts the set to a
	// skiplist after loading it, keeping -0.
	var many []any
	for i := 0; i < 130; i++ {
		many = append(many, "m"+strconv.Itoa(i), int64(i%3))
	}
	many = append(many, "neg", "-0")
	out := map[string]struct {
		payload string
		scan    bool
	}{
		"listpack":          {lp("neg", "-0", "one", int64(1)), true},
		"listpack, last":    {lp("a", int64(-1), "neg", "-0"), true},
		"listpack, zeros":   {lp("neg", "-0", "pos", "0", "zero", int64(0)), true},
		"listpack, -0.0":    {lp("neg", "-0.0", "one", "1.5"), false},
		"ziplist":           {zl("neg", "-0", "one", int64(1)), true},
		"listpack, to a sl": {lp(many...), false},
	}
	return out
}

// TestZSetNegativeZeroListpackRestore: such payloads restore in ferry to
// what redis-server restores (ZSCORE, ZRANGE WITHSCORES, ZSCAN,
// DEBUG DIGEST-VALUE, OBJECT ENCODING), a ZINCRBY of 0 answers the same
// and leaves the same value, and the value goes through DUMP both ways
// and through COPY unchanged.
func TestZSetNegativeZeroListpackRestore(t *testing.T) {
	redistest.Need(t, "redis-server")
	red := redistest.Dial(t, redistest.Redis(t))
	_, fc := ferryConn(t, command.Config{})
	for name, c := range negZeroCompactPayloads() {
		for _, conn := range []*redistest.Conn{red, fc} {
			if r := conn.Do("RESTORE", "k", "0", c.payload, "REPLACE"); r != "+OK\r\n" {
				t.Fatalf("%s: RESTORE: %q", name, r)
			}
		}
		reads := [][]string{
			{"DEBUG", "DIGEST-VALUE", "k"}, {"ZSCORE", "k", "neg"}, {"ZRANGE", "k", "0", "3", "WITHSCORES"},
			{"ZRANGEBYSCORE", "k", "-0", "0", "WITHSCORES"}, {"ZMSCORE", "k", "neg", "pos", "zero"},
			{"OBJECT", "ENCODING", "k"},
		}
		if c.scan {
			reads = append(reads, []string{"ZSCAN", "k", "0", "COUNT", "1000"})
		}
		compare := func(what string, cmds [][]string) {
			t.Helper()
			for _, cmd := range cmds {
				if a, b := red.Do(cmd...), fc.Do(cmd...); a != b {
					t.Errorf("%s, %s %q: ferry %q, redis-server %q", name, what, cmd, b, a)
				}
			}
		}
		compare("restored", reads)
		// The value's copies.
		for _, from := range []*redistest.Conn{red, fc} {
			to := fc
			if from == fc {
				to = red
			}
			p := status(t, from.Do("DUMP", "k"))
			if r := to.Do("RESTORE", "d", "0", p, "REPLACE"); r != "+OK\r\n" {
				t.Fatalf("%s: RESTORE of the DUMP: %q", name, r)
			}
			if a, b := from.Do("DEBUG", "DIGEST-VALUE", "k"), to.Do("DEBUG", "DIGEST-VALUE", "d"); a != b {
				t.Errorf("%s: DUMP then RESTORE: digest %q, was %q", name, b, a)
			}
			if a, b := from.Do("ZSCORE", "k", "neg"), to.Do("ZSCORE", "d", "neg"); a != b {
				t.Errorf("%s: DUMP then RESTORE: ZSCORE %q, was %q", name, b, a)
			}
		}
		compare("copied", [][]string{{"COPY", "k", "c", "REPLACE"}, {"DEBUG", "DIGEST-VALUE", "c"}, {"ZSCORE", "c", "neg"}})
		compare("incremented", append([][]string{{"ZINCRBY", "k", "0", "neg"}, {"ZADD", "k", "INCR", "0", "neg"}, {"ZADD", "k", "CH", "0", "neg"}}, reads...))
	}
}

// TestZSetNegativeZeroListpackSnapshot: a set holding -0 in its listpack
// goes through a snapshot and through the effect log's replica unchanged.
func TestZSetNegativeZeroListpackSnapshot(t *testing.T) {
	ks := newKeyspace()
	for name, c := range negZeroCompactPayloads() {
		_, coll, err := Values{}.Restore([]byte(c.payload), ks.Limits)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ks.DB(0).SetCollection(name, coll, false)
	}
	again, _, err := loadBytes(encodeBytes(t, ks, Meta{}))
	if err != nil {
		t.Fatal(err)
	}
	for name := range negZeroCompactPayloads() {
		a, b := ks.DB(0).Get(name), again.DB(0).Get(name)
		if keyspace.ValueDigest(a) != keyspace.ValueDigest(b) {
			t.Errorf("%s: digest changed by a snapshot", name)
		}
		if za, zb := a.Collection().(*keyspace.ZSet), b.Collection().(*keyspace.ZSet); za.Encoding() != zb.Encoding() {
			t.Errorf("%s: encoding %s after a snapshot, was %s", name, zb.Encoding(), za.Encoding())
		}
	}
	r := newReplicated(t)
	for name, c := range negZeroCompactPayloads() {
		r.do("RESTORE", name, "0", c.payload) // checks the replica's digest
		r.do("ZINCRBY", name, "0", "neg")
	}
}
