package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ferrydb/ferry/internal/redistest"
)

// TestDumpRestoreGoRedis moves keys with go-redis's Dump and Restore, as a
// migration tool does: from a redis-server to a ferry master, whose replica
// follows through the log and refuses RESTORE itself; then from the master
// to a second redis-server. A master restarted on the log rebuilds the
// restored keys from their RESTORE effects.
func TestDumpRestoreGoRedis(t *testing.T) {
	redistest.Need(t, "redis-server")
	ctx := context.Background()
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "dump", nil)
	r := startReplica(t, ns.URL(), "dump", true)
	src := redis.NewClient(&redis.Options{Addr: redistest.Redis(t)})
	dst := redis.NewClient(&redis.Options{Addr: redistest.Redis(t)})
	mc := redis.NewClient(&redis.Options{Addr: m.addr})
	rc := redis.NewClient(&redis.Options{Addr: r.addr})
	for _, c := range []*redis.Client{src, dst, mc, rc} {
		defer c.Close()
	}

	// Every type, small (compact encodings) and large, and a stream.
	src.Set(ctx, "s", "hello", 0)
	src.Set(ctx, "n", "-12345", time.Hour)
	src.Set(ctx, "long", strings.Repeat("compressible ", 1000), 0)
	var big []any
	for i := 0; i < 700; i++ {
		big = append(big, "f"+strconv.Itoa(i), strconv.Itoa(i))
	}
	src.HSet(ctx, "h", "a", "1", "b", "2")
	src.HSet(ctx, "h:big", big...)
	src.RPush(ctx, "l", "a", 1, "b")
	src.RPush(ctx, "l:big", big...)
	src.SAdd(ctx, "set:ints", 1, 2, 3)
	src.SAdd(ctx, "set:big", big...)
	src.ZAdd(ctx, "z", redis.Z{Score: 1.5, Member: "a"}, redis.Z{Score: -2, Member: "b"})
	src.Expire(ctx, "z", time.Hour)
	src.XAdd(ctx, &redis.XAddArgs{Stream: "st", Values: []string{"f", "v"}})
	src.XGroupCreate(ctx, "st", "g", "0")

	move := func(from, to *redis.Client, keys []string) {
		t.Helper()
		for _, k := range keys {
			payload, err := from.Dump(ctx, k).Result()
			if err != nil {
				t.Fatalf("DUMP %s: %v", k, err)
			}
			ttl := from.PTTL(ctx, k).Val()
			if ttl < 0 {
				ttl = 0
			}
			if err := to.RestoreReplace(ctx, k, ttl, payload).Err(); err != nil {
				t.Fatalf("RESTORE %s (%d bytes): %v", k, len(payload), err)
			}
		}
	}
	same := func(a, b *redis.Client, keys []string, what string) {
		t.Helper()
		for _, k := range keys {
			da, _ := a.Do(ctx, "DEBUG", "DIGEST-VALUE", k).Result()
			db, _ := b.Do(ctx, "DEBUG", "DIGEST-VALUE", k).Result()
			if fa, fb := fmtReply(da), fmtReply(db); fa == "" || fa == "[]" || fa != fb {
				t.Errorf("%s: %s: DIGEST-VALUE %v and %v", what, k, da, db)
			}
			ta, tb := a.PTTL(ctx, k).Val(), b.PTTL(ctx, k).Val()
			if (ta < 0) != (tb < 0) || ta-tb > 5*time.Second || tb-ta > 5*time.Second {
				t.Errorf("%s: %s: PTTL %s and %s", what, k, ta, tb)
			}
		}
	}

	keys := src.Keys(ctx, "*").Val()
	if len(keys) != 11 {
		t.Fatalf("source keys %q", keys)
	}
	move(src, mc, keys)
	same(src, mc, keys, "redis-server -> master")
	waitCaughtUp(t, m, r, 10*time.Second)
	same(mc, rc, keys, "master -> replica")
	payload := mc.Dump(ctx, "s").Val()
	if err := rc.Restore(ctx, "new", 0, payload).Err(); err == nil || err.Error() != "READONLY You can't write against a read only replica." {
		t.Errorf("RESTORE on the replica: %v", err)
	}
	move(mc, dst, keys)
	same(src, dst, keys, "redis-server -> master -> redis-server")

	before, err := digest(m.addr)
	if err != nil {
		t.Fatal(err)
	}
	m.stop(t)
	lg := openLog(t, ns.URL(), "dump", false)
	m2, err := newMaster(lg, "dump", nil)
	if err != nil {
		t.Fatal(err)
	}
	restarted := serveMaster(t, m2, lg)
	if after, err := digest(restarted.addr); err != nil || after != before {
		t.Fatalf("restarted master: digest %s (%v), before %s", after, err, before)
	}
}

// fmtReply formats a go-redis reply for comparison.
func fmtReply(v any) string {
	if s, ok := v.([]any); ok {
		parts := make([]string, len(s))
		for i, e := range s {
			parts[i] = fmtReply(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}
