package rdb

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/redistest"
)

// A score of -0 stays -0 in a skiplist sorted set (Redis's ZADD keeps it;
// a listpack writes it as 0). Loading one, from a snapshot or a RESTORE,
// must keep it: sets of more members than a listpack holds are loaded as
// a skiplist, and so are sets with a long member, as Redis loads them.

// negZeroSets returns the sorted sets the tests load: big, with -0 among
// many members; long, with -0 before a member too long for a listpack;
// small, where -0 becomes 0 as it does in Redis's listpack. The long one
// has its -0 member first, as a snapshot or DUMP may have it, so that a
// loader that starts with a listpack writes it as 0 before the long member
// comes.
func negZeroSets(lim keyspace.Limits) map[string]*keyspace.ZSet {
	negZero := math.Copysign(0, -1)
	big := keyspace.NewZSet()
	for i := 0; i < 140; i++ {
		big.Add("m"+strconv.Itoa(i), float64(i%3), 0, lim)
	}
	big.Add("neg", negZero, 0, lim)
	long := keyspace.NewZSetSkiplist()
	long.Add("neg", negZero, 0, lim)
	long.Add(strings.Repeat("l", 100), -1, 0, lim)
	small := keyspace.NewZSetSkiplist()
	small.Add("neg", negZero, 0, lim)
	small.Add("one", 1, 0, lim)
	return map[string]*keyspace.ZSet{"big": big, "long": long, "small": small}
}

// TestZSetNegativeZeroSnapshot: a snapshot of sets holding -0 loads to
// the same digest.
func TestZSetNegativeZeroSnapshot(t *testing.T) {
	ks := newKeyspace()
	for k, z := range negZeroSets(ks.Limits) {
		ks.DB(0).SetCollection(k, z, false)
	}
	again, _, err := loadBytes(encodeBytes(t, ks, Meta{}))
	if err != nil {
		t.Fatal(err)
	}
	// The small set is loaded as a listpack, where -0 is 0, as Redis
	// loads it; the others keep their digest.
	for _, k := range []string{"big", "long"} {
		a, b := keyspace.ValueDigest(ks.DB(0).Get(k)), keyspace.ValueDigest(again.DB(0).Get(k))
		if a != b {
			t.Errorf("%s: digest changed by a snapshot", k)
		}
	}
	for k, neg := range map[string]bool{"big": true, "long": true, "small": false} {
		s, _ := again.DB(0).Get(k).Collection().(*keyspace.ZSet).Score("neg")
		if s != 0 || math.Signbit(s) != neg {
			t.Errorf("%s: score %v after loading, want -0: %v", k, s, neg)
		}
	}
}

// TestZSetNegativeZeroRestore: redis-server's DUMP of such sets restores
// in ferry to the same value (DEBUG DIGEST-VALUE, ZSCORE), and ferry's
// DUMP restores in redis-server to the same value.
func TestZSetNegativeZeroRestore(t *testing.T) {
	redistest.Need(t, "redis-server")
	red := redistest.Dial(t, redistest.Redis(t))
	_, fc := ferryConn(t, command.Config{})
	for name, src := range map[string][][]string{
		"big":   append(zaddMany(140), []string{"ZADD", "k", "-0", "neg"}),
		"long":  {{"ZADD", "k", "-0", "neg", "-1", strings.Repeat("l", 100)}},
		"small": {{"ZADD", "k", "-0", "neg", "1", "one"}},
	} {
		for _, from := range []*redistest.Conn{red, fc} {
			to := fc
			if from == fc {
				to = red
			}
			from.Do("DEL", "k")
			pipeline(t, from, src)
			p := status(t, from.Do("DUMP", "k"))
			if r := to.Do("RESTORE", "k", "0", p, "REPLACE"); r != "+OK\r\n" {
				t.Fatalf("%s: RESTORE: %q", name, r)
			}
			for _, cmd := range [][]string{{"DEBUG", "DIGEST-VALUE", "k"}, {"ZSCORE", "k", "neg"}, {"ZRANGE", "k", "0", "2", "WITHSCORES"}} {
				if a, b := from.Do(cmd...), to.Do(cmd...); a != b {
					t.Errorf("%s, %q: restored %q, dumped %q", name, cmd, b, a)
				}
			}
		}
	}
}

// TestZSetNegativeZeroRestoreOrder: a payload with -0 before a member too
// long for a listpack keeps it, as redis-server does.
func TestZSetNegativeZeroRestoreOrder(t *testing.T) {
	redistest.Need(t, "redis-server")
	red := redistest.Dial(t, redistest.Redis(t))
	_, fc := ferryConn(t, command.Config{})
	var r rawRDB
	r.WriteByte(typeZSet2)
	r.len(2)
	r.str([]byte("neg"))
	r.Write([]byte{0, 0, 0, 0, 0, 0, 0, 0x80})
	r.str([]byte(strings.Repeat("l", 100)))
	r.Write([]byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f})
	p := payloadOf(r.Bytes(), 10)
	for _, c := range []*redistest.Conn{red, fc} {
		if got := c.Do("RESTORE", "k", "0", p); got != "+OK\r\n" {
			t.Fatalf("RESTORE: %q", got)
		}
	}
	for _, cmd := range [][]string{{"DEBUG", "DIGEST-VALUE", "k"}, {"ZSCORE", "k", "neg"}} {
		if a, b := red.Do(cmd...), fc.Do(cmd...); a != b {
			t.Errorf("%q: ferry %q, redis-server %q", cmd, b, a)
		}
	}
}

// zaddMany returns ZADD commands adding n members to k.
func zaddMany(n int) [][]string {
	var out [][]string
	for i := 0; i < n; i++ {
		out = append(out, []string{"ZADD", "k", strconv.Itoa(i % 3), "m" + strconv.Itoa(i)})
	}
	return out
}
