package e2e

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// result is a go-redis command with a typed reply.
type result[T any] interface {
	redis.Cmder
	Result() (T, error)
}

// eq fails unless cmd succeeded with want.
func eq[T any](t *testing.T, cmd result[T], want T) {
	t.Helper()
	got, err := cmd.Result()
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("%v = %#v (err %v), want %#v", cmd.Args(), got, err, want)
	}
}

// eqSorted is eq for an unordered reply.
func eqSorted(t *testing.T, cmd *redis.StringSliceCmd, want ...string) {
	t.Helper()
	got, err := cmd.Result()
	slices.Sort(got)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("%v = %q (err %v), want %q", cmd.Args(), got, err, want)
	}
}

// TestGoRedis drives a master and a replica through go-redis v9, with its
// defaults (RESP3 through HELLO 3) and with Protocol: 2, each in its own
// database.
func TestGoRedis(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "goredis", nil)
	r := startReplica(t, ns.URL(), "goredis", true)
	for _, proto := range []int{3, 2} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			opt := func(addr string) *redis.Options {
				o := &redis.Options{Addr: addr, DB: proto}
				if proto == 2 {
					o.Protocol = 2 // 0 is go-redis's default, 3
				}
				return o
			}
			mc, rc := redis.NewClient(opt(m.addr)), redis.NewClient(opt(r.addr))
			defer mc.Close()
			defer rc.Close()
			testGoRedis(t, mc, rc, proto)
		})
	}
}

func testGoRedis(t *testing.T, mc, rc *redis.Client, proto int) {
	ctx, ch := context.Background(), strconv.Itoa(proto)
	// go-redis sent HELLO with its protocol: RESP3 replies are maps.
	if hello, err := mc.Do(ctx, "HELLO").Result(); err != nil || (proto == 3) != (reflect.TypeOf(hello).Kind() == reflect.Map) {
		t.Fatalf("HELLO in RESP%d = %#v, err %v", proto, hello, err)
	}

	// Strings and TTLs.
	eq(t, mc.Set(ctx, "s", "v", 100*time.Second), "OK")
	eq(t, mc.TTL(ctx, "s"), 100*time.Second)
	eq(t, mc.SetNX(ctx, "s", "x", 0), false)
	eq(t, mc.SetArgs(ctx, "s", "v2", redis.SetArgs{KeepTTL: true, Get: true}), "v")
	if d := mc.PTTL(ctx, "s").Val(); d <= 99*time.Second || d > 100*time.Second {
		t.Fatalf("PTTL s after KEEPTTL = %s, want about 100s", d)
	}
	eq(t, mc.GetEx(ctx, "s", 5*time.Second), "v2")
	eq(t, mc.TTL(ctx, "s"), 5*time.Second)
	eq(t, mc.TTL(ctx, "missing"), time.Duration(-2))
	eq(t, mc.Persist(ctx, "s"), true)
	eq(t, mc.TTL(ctx, "s"), time.Duration(-1))
	//lint:ignore SA1019 SETEX is a command ferry serves: its client method is the test
	eq(t, mc.SetEx(ctx, "ttl", "v", 100*time.Second), "OK")
	//lint:ignore SA1019 SETEX is a command ferry serves: its client method is the test
	eq(t, mc.SetEx(ctx, "gone", "v", time.Second), "OK")
	eq(t, mc.PExpire(ctx, "gone", 10*time.Millisecond), true)
	eq(t, mc.IncrByFloat(ctx, "f", 1.5), 1.5)
	eq(t, mc.MSet(ctx, "a", 1, "b", "two"), "OK")
	eq(t, mc.MGet(ctx, "a", "b", "missing"), []any{"1", "two", nil})

	// Hashes, lists, sets.
	eq(t, mc.HSet(ctx, "h", map[string]any{"f1": "v1", "f2": 2}), int64(2))
	eq(t, mc.HIncrBy(ctx, "h", "f2", 5), int64(7))
	eq(t, mc.HGetAll(ctx, "h"), map[string]string{"f1": "v1", "f2": "7"})
	eq(t, mc.HMGet(ctx, "h", "f1", "nope"), []any{"v1", nil})
	eq(t, mc.RPush(ctx, "l", "a", "b", "c"), int64(3))
	eq(t, mc.LPush(ctx, "l", "z"), int64(4))
	eq(t, mc.LRange(ctx, "l", 0, -1), []string{"z", "a", "b", "c"})
	eq(t, mc.LPos(ctx, "l", "b", redis.LPosArgs{}), int64(2))
	eq(t, mc.LPopCount(ctx, "l", 2), []string{"z", "a"})
	eq(t, mc.SAdd(ctx, "set", "x", "y", "z"), int64(3))
	eq(t, mc.SMIsMember(ctx, "set", "x", "w"), []bool{true, false})
	eqSorted(t, mc.SMembers(ctx, "set"), "x", "y", "z")

	// Sorted sets.
	eq(t, mc.ZAdd(ctx, "z", redis.Z{Score: 1, Member: "one"}, redis.Z{Score: 2.5, Member: "two"}, redis.Z{Score: 3, Member: "three"}), int64(3))
	eq(t, mc.ZAddArgs(ctx, "z", redis.ZAddArgs{GT: true, Ch: true, Members: []redis.Z{{Score: 0, Member: "one"}, {Score: 4, Member: "three"}}}), int64(1))
	eq(t, mc.ZScore(ctx, "z", "two"), 2.5)
	eq(t, mc.ZIncrBy(ctx, "z", 0.25, "two"), 2.75)
	eq(t, mc.ZRangeArgs(ctx, redis.ZRangeArgs{Key: "z", Start: "+inf", Stop: "(1", ByScore: true, Rev: true}), []string{"three", "two"})
	eq(t, mc.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: "z", Start: 0, Stop: 1}), []redis.Z{{Score: 1, Member: "one"}, {Score: 2.75, Member: "two"}})
	//lint:ignore SA1019 ZRANGEBYSCORE is a command ferry serves: its client method is the test
	eq(t, mc.ZRangeByScore(ctx, "z", &redis.ZRangeBy{Min: "-inf", Max: "4", Offset: 1, Count: 5}), []string{"two", "three"})
	eq(t, mc.ZRevRangeWithScores(ctx, "z", 0, 0), []redis.Z{{Score: 4, Member: "three"}})
	eq(t, mc.ZRank(ctx, "z", "three"), int64(2))

	// Pipelines and transactions.
	cmds, err := mc.Pipelined(ctx, func(p redis.Pipeliner) error {
		for range 50 {
			p.Incr(ctx, "pc")
		}
		p.Get(ctx, "pc")
		return nil
	})
	if err != nil || len(cmds) != 51 || cmds[49].(*redis.IntCmd).Val() != 50 || cmds[50].(*redis.StringCmd).Val() != "50" {
		t.Fatalf("Pipelined: %v, err %v", cmds, err)
	}
	cmds, err = mc.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.IncrBy(ctx, "pc", 10)
		p.RPush(ctx, "l", "tx")
		p.Get(ctx, "pc")
		return nil
	})
	if err != nil || cmds[0].(*redis.IntCmd).Val() != 60 || cmds[1].(*redis.IntCmd).Val() != 3 || cmds[2].(*redis.StringCmd).Val() != "60" {
		t.Fatalf("TxPipelined: %v, err %v", cmds, err)
	}

	// Optimistic locking: 4 clients each commit 15 GET + MULTI SET under
	// WATCH, retried on conflict; the counter ends at the number of commits.
	incr := func(tx *redis.Tx) error {
		n, err := tx.Get(ctx, "wc").Int()
		if err != nil && err != redis.Nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error { return p.Set(ctx, "wc", n+1, 0).Err() })
		return err
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	committed, conflicts := 0, 0
	for range 4 {
		wg.Go(func() {
			for done, tries := 0, 0; done < 15 && tries < 500; tries++ {
				err := mc.Watch(ctx, incr, "wc")
				mu.Lock()
				switch {
				case err == nil:
					committed++
					done++
				case errors.Is(err, redis.TxFailedErr):
					conflicts++
				default:
					t.Errorf("WATCH transaction: %v", err)
					tries = 500
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	eq(t, mc.Get(ctx, "wc"), strconv.Itoa(committed))
	if committed != 60 {
		t.Fatalf("committed %d transactions (%d conflicts), want 60", committed, conflicts)
	}

	// Pub/Sub: a subscriber on the master and one on the replica, which
	// gets PUBLISH through the log; PUBLISH counts the master's only.
	var subs []*redis.PubSub
	for _, c := range []*redis.Client{mc, rc} {
		ps := c.Subscribe(ctx, "news"+ch)
		defer ps.Close()
		sub, err := ps.Receive(ctx)
		if s, ok := sub.(*redis.Subscription); err != nil || !ok || s.Kind != "subscribe" || s.Channel != "news"+ch || s.Count != 1 {
			t.Fatalf("SUBSCRIBE news%s: %#v, err %v", ch, sub, err)
		}
		subs = append(subs, ps)
	}
	eq(t, mc.Publish(ctx, "news"+ch, "hello"), int64(1))
	for i, ps := range subs {
		select {
		case msg := <-ps.Channel():
			if msg.Channel != "news"+ch || msg.Payload != "hello" {
				t.Fatalf("subscriber %d got %#v", i, msg)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("subscriber %d: no message within 5s", i)
		}
	}

	// BLPOP: woken by a push, and timing out.
	go func() { time.Sleep(100 * time.Millisecond); mc.RPush(ctx, "bl", "x") }()
	eq(t, mc.BLPop(ctx, 5*time.Second, "bl-empty", "bl"), []string{"bl", "x"})
	start := time.Now()
	if v, err := mc.BLPop(ctx, time.Second, "bl-empty").Result(); err != redis.Nil || time.Since(start) < 900*time.Millisecond {
		t.Fatalf("BLPOP bl-empty 1 = %q, err %v after %s; want redis.Nil after 1s", v, err, time.Since(start))
	}

	// SCAN over many keys.
	if _, err := mc.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range 300 {
			p.Set(ctx, "scan:"+strconv.Itoa(i), i, 0)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	scan := func(c *redis.Client) int {
		seen := map[string]bool{}
		iter := c.Scan(ctx, 0, "scan:*", 40).Iterator()
		for iter.Next(ctx) {
			seen[iter.Val()] = true
		}
		if err := iter.Err(); err != nil {
			t.Fatalf("SCAN: %v", err)
		}
		return len(seen)
	}
	if n := scan(mc); n != 300 {
		t.Fatalf("SCAN on the master: %d keys, want 300", n)
	}

	// Scripts: a lock taken and released the usual way (go-redis's Script
	// sends EVALSHA and falls back to EVAL), and a script that writes in
	// another database, which the replica must also have.
	lock := redis.NewScript(`if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end return 0`)
	unlock := redis.NewScript(`if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`)
	eq(t, lock.Run(ctx, mc, []string{"lock"}, "token", 10000), any(int64(1)))
	eq(t, lock.Run(ctx, mc, []string{"lock"}, "other", 10000), any(int64(0)))
	eq(t, unlock.Run(ctx, mc, []string{"lock"}, "other"), any(int64(0)))
	eq(t, unlock.Run(ctx, mc, []string{"lock"}, "token"), any(int64(1)))
	eq(t, mc.Eval(ctx, "redis.call('select', 5) redis.call('set', 'scripted', ARGV[1]) return redis.call('get', 'scripted')", nil, "v5"), any("v5"))
	if err := mc.Eval(ctx, "return redis.call('lpush', KEYS[1], 'x')", []string{"s"}).Err(); err == nil ||
		!strings.HasPrefix(err.Error(), "WRONGTYPE Operation against a key holding the wrong kind of value script: ") {
		t.Fatalf("EVAL of a failing call: err %v", err)
	}

	// The replica, once WAIT says it has everything.
	eq(t, mc.Do(ctx, "WAIT", 1, 5000), any(int64(1)))
	eq(t, rc.Get(ctx, "pc"), "60")
	eq(t, rc.Get(ctx, "wc"), strconv.Itoa(committed))
	eq(t, rc.TTL(ctx, "s"), time.Duration(-1))
	eq(t, rc.Exists(ctx, "gone"), int64(0))
	if d := rc.PTTL(ctx, "ttl").Val(); d <= 90*time.Second || d > 100*time.Second {
		t.Fatalf("PTTL ttl on the replica = %s, want about 100s", d)
	}
	eq(t, rc.HGetAll(ctx, "h"), map[string]string{"f1": "v1", "f2": "7"})
	eq(t, rc.LRange(ctx, "l", 0, -1), []string{"b", "c", "tx"})
	eqSorted(t, rc.SMembers(ctx, "set"), "x", "y", "z")
	eq(t, rc.ZRangeWithScores(ctx, "z", 0, -1), []redis.Z{{Score: 1, Member: "one"}, {Score: 2.75, Member: "two"}, {Score: 4, Member: "three"}})
	//lint:ignore SA1019 ZRANGEBYSCORE is a command ferry serves: its client method is the test
	eq(t, rc.ZRangeByScore(ctx, "z", &redis.ZRangeBy{Min: "(1", Max: "+inf"}), []string{"two", "three"})
	if n := scan(rc); n != 300 {
		t.Fatalf("SCAN on the replica: %d keys, want 300", n)
	}
	if err := rc.Set(ctx, "w", "v", 0).Err(); err == nil || err.Error() != "READONLY You can't write against a read only replica." {
		t.Fatalf("SET on the replica: err %v, want READONLY", err)
	}
	eq(t, rc.Exists(ctx, "lock"), int64(0))
	eq(t, rc.EvalRO(ctx, "redis.call('select', 5) return redis.call('get', 'scripted')", nil), any("v5"))
	if err := rc.Eval(ctx, "return redis.call('set', 'w', 'v')", nil).Err(); err == nil ||
		!strings.HasPrefix(err.Error(), "READONLY You can't write against a read only replica. script: ") {
		t.Fatalf("EVAL of a write on the replica: err %v, want READONLY", err)
	}
}
