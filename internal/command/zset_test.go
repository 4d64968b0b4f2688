package command_test

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// zsetScenarios are blocking scenarios run against ferry and redis-server,
// in RESP2 and RESP3, whose transcripts must match byte for byte.
var zsetScenarios = []struct {
	name string
	run  func(s *listScene)
}{
	{"zadd wakes bzpopmin", func(s *listScene) {
		s.block("A", 1, "BZPOPMIN", "z", "0")
		s.do("B", "ZADD", "z", "2", "b", "1", "a", "3", "c")
		s.read("A")
		s.do("B", "ZRANGE", "z", "0", "-1", "WITHSCORES")
	}},
	{"fifo across pops", func(s *listScene) {
		s.block("A", 1, "BZPOPMIN", "z", "0")
		s.block("B", 2, "BZPOPMAX", "z", "0")
		s.block("C", 3, "BZMPOP", "0", "1", "z", "MAX", "COUNT", "2")
		s.block("D", 4, "BZPOPMIN", "z", "0")
		s.do("E", "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")
		s.read("A")
		s.read("B")
		s.read("C")
		s.silent("D", 50*time.Millisecond)
		s.do("E", "EXISTS", "z")
		s.do("E", "ZADD", "z", "1.5", "x")
		s.read("D")
	}},
	{"several keys", func(s *listScene) {
		s.block("A", 1, "BZPOPMAX", "k1", "k2", "k3", "0")
		s.do("B", "ZADD", "k3", "1", "three")
		s.read("A")
		s.block("A", 1, "BZMPOP", "0", "3", "k1", "k2", "k3", "MIN")
		s.do("B", "ZADD", "k2", "5", "a", "6", "b")
		s.read("A")
		s.do("B", "ZRANGE", "k2", "0", "-1")
	}},
	{"served from the key that became ready", func(s *listScene) {
		s.block("A", 1, "BZPOPMIN", "k1", "k2", "0")
		s.do("B", "MULTI")
		s.do("B", "ZADD", "k2", "1", "from-k2")
		s.do("B", "ZADD", "k1", "1", "from-k1")
		s.do("B", "EXEC")
		s.read("A")
		s.do("B", "ZCARD", "k1")
		s.do("B", "ZCARD", "k2")
	}},
	{"timeout", func(s *listScene) {
		s.block("A", 1, "BZPOPMIN", "none", "0.05")
		s.read("A")
		s.block("A", 1, "BZMPOP", "0.05", "1", "none", "MIN", "COUNT", "3")
		s.read("A")
	}},
	{"other types do not wake", func(s *listScene) {
		s.block("A", 1, "BZPOPMIN", "z", "0")
		s.do("B", "LPUSH", "z", "x")
		s.silent("A", 50*time.Millisecond)
		s.do("B", "DEL", "z")
		s.do("B", "SET", "z", "str")
		s.silent("A", 50*time.Millisecond)
		s.do("B", "DEL", "z")
		s.do("B", "ZADD", "z", "7", "seven")
		s.read("A")
	}},
	{"store commands wake", func(s *listScene) {
		s.block("A", 1, "BZPOPMIN", "dst", "0")
		s.block("B", 2, "BZPOPMAX", "dst2", "0")
		s.do("C", "ZADD", "src", "1", "a", "2", "b", "3", "c")
		s.do("C", "ZUNIONSTORE", "dst", "1", "src")
		s.read("A")
		s.do("C", "ZRANGESTORE", "dst2", "src", "0", "1")
		s.read("B")
		s.do("C", "ZRANGE", "dst", "0", "-1")
		s.do("C", "ZRANGE", "dst2", "0", "-1")
	}},
	{"a transaction pops before waiters", func(s *listScene) {
		s.block("A", 1, "BZPOPMIN", "q", "0")
		s.do("B", "MULTI")
		s.do("B", "ZADD", "q", "1", "a", "2", "b")
		s.do("B", "BZPOPMIN", "q", "0")
		s.do("B", "BZPOPMAX", "empty", "0")
		s.do("B", "EXEC")
		s.read("A")
		s.do("B", "EXISTS", "q")
	}},
}

func TestZSetBlockingAgainstRedis(t *testing.T) {
	redisAddr := redistest.Redis(t)
	_, ferryAddr := redistest.Ferry(t, command.Config{})
	for _, sc := range zsetScenarios {
		for _, proto := range []int{2, 3} {
			t.Run(fmt.Sprintf("%s/resp%d", sc.name, proto), func(t *testing.T) {
				var outs [2][]string
				for i, addr := range []string{ferryAddr, redisAddr} {
					s := &listScene{t: t, addr: addr, proto: proto, conns: map[string]*redistest.Conn{}}
					s.conn("ctl").Do("FLUSHALL")
					sc.run(s)
					for _, c := range s.conns {
						c.Close()
					}
					s.conns = map[string]*redistest.Conn{}
					s.waitBlocked(0)
					outs[i] = s.out
				}
				ferry, redis := outs[0], outs[1]
				for i := 0; i < max(len(ferry), len(redis)); i++ {
					var f, r string
					if i < len(ferry) {
						f = ferry[i]
					}
					if i < len(redis) {
						r = redis[i]
					}
					if f != r {
						t.Errorf("step %d:\n ferry: %q\n redis: %q", i, f, r)
					}
				}
			})
		}
	}
}

// TestZSetPropagationAgainstRedis runs sorted set commands, blocking ones
// included, on ferry and on redis-server, and compares what ferry hands to
// its log with what redis-server sends its replicas.
func TestZSetPropagationAgainstRedis(t *testing.T) {
	redisAddr := redistest.Redis(t, "--repl-diskless-sync", "no", "--repl-ping-replica-period", "3600")
	e, ferryAddr := redistest.Ferry(t, command.Config{})
	effects := &listEffects{}
	e.Lock()
	e.SetLog(effects)
	e.Unlock()
	stream := syncRedis(t, redisAddr)

	scenarios := []struct {
		name string
		run  func(s *listScene)
	}{
		{"zadd and zincrby", func(s *listScene) {
			s.do("A", "ZADD", "z", "1", "a", "2", "b")
			s.do("A", "ZADD", "z", "1", "a")
			s.do("A", "ZADD", "z", "NX", "5", "a")
			s.do("A", "ZADD", "z", "XX", "5", "new")
			s.do("A", "ZADD", "z", "GT", "0", "a")
			s.do("A", "ZADD", "z", "CH", "GT", "3", "a", "9", "c")
			s.do("A", "ZADD", "z", "INCR", "0.1", "a")
			s.do("A", "ZADD", "z", "INCR", "0", "a")
			s.do("A", "ZADD", "z", "INCR", "-inf", "b")
			s.do("A", "ZADD", "z", "INCR", "+inf", "b")
			s.do("A", "ZADD", "none", "XX", "1", "a")
			s.do("A", "ZINCRBY", "z", "1.5", "a")
			s.do("A", "ZINCRBY", "z", "0", "a")
			s.do("A", "ZINCRBY", "z2", "0", "a")
			s.do("A", "ZADD", "z", "abc", "a")
		}},
		{"removals", func(s *listScene) {
			s.do("A", "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f")
			s.do("A", "ZREM", "z", "none")
			s.do("A", "ZREM", "z", "a", "none")
			s.do("A", "ZREMRANGEBYRANK", "z", "10", "20")
			s.do("A", "ZREMRANGEBYRANK", "z", "0", "0")
			s.do("A", "ZREMRANGEBYSCORE", "z", "100", "200")
			s.do("A", "ZREMRANGEBYSCORE", "z", "(3", "4")
			s.do("A", "ZADD", "l", "0", "a", "0", "b", "0", "c")
			s.do("A", "ZREMRANGEBYLEX", "l", "[x", "+")
			s.do("A", "ZREMRANGEBYLEX", "l", "-", "(c")
			s.do("A", "ZREM", "z", "b", "c", "e", "f")
		}},
		{"pops", func(s *listScene) {
			s.do("A", "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f")
			s.do("A", "ZPOPMIN", "z")
			s.do("A", "ZPOPMAX", "z", "2")
			s.do("A", "ZPOPMIN", "z", "0")
			s.do("A", "ZPOPMIN", "none", "3")
			s.do("A", "ZMPOP", "2", "none", "z", "MAX")
			s.do("A", "ZMPOP", "1", "z", "MIN", "COUNT", "10")
			s.do("A", "ZMPOP", "1", "z", "MIN")
		}},
		{"blocking served at once", func(s *listScene) {
			s.do("A", "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f")
			s.do("A", "BZPOPMIN", "none", "z", "0")
			s.do("A", "BZPOPMAX", "z", "1")
			s.do("A", "BZMPOP", "0", "2", "none", "z", "MIN", "COUNT", "2")
			s.do("A", "BZMPOP", "0", "1", "z", "MAX", "COUNT", "20")
			s.do("A", "BZPOPMIN", "none", "0.01")
		}},
		{"blocking served later", func(s *listScene) {
			s.block("A", 1, "BZPOPMIN", "x", "y", "0")
			s.block("B", 2, "BZPOPMAX", "y", "0")
			s.block("C", 3, "BZMPOP", "0", "2", "x", "y", "MAX", "COUNT", "5")
			s.block("D", 4, "BZMPOP", "0", "1", "w", "MIN")
			s.do("G", "ZADD", "y", "1", "a", "2", "b", "3", "c", "4", "d")
			s.read("A")
			s.read("B")
			s.read("C")
			s.do("G", "ZADD", "w", "1", "a", "2", "b")
			s.read("D")
		}},
		{"stores", func(s *listScene) {
			s.do("A", "ZADD", "a", "1", "x", "2", "y")
			s.do("A", "ZADD", "b", "3", "y", "4", "z")
			s.do("A", "ZUNIONSTORE", "u", "2", "a", "b", "WEIGHTS", "1", "2")
			s.do("A", "ZINTERSTORE", "i", "2", "a", "b", "AGGREGATE", "MAX")
			s.do("A", "ZDIFFSTORE", "d", "2", "a", "b")
			s.do("A", "ZRANGESTORE", "r", "a", "0", "0")
			s.do("A", "ZINTERSTORE", "none", "2", "a", "nokey")
			s.do("A", "ZRANGESTORE", "none", "a", "5", "6")
			s.do("A", "ZUNION", "2", "a", "b")
		}},
		{"transactions", func(s *listScene) {
			s.block("A", 1, "BZPOPMIN", "q", "0")
			s.do("B", "MULTI")
			s.do("B", "ZADD", "q", "1", "a", "2", "b")
			s.do("B", "BZPOPMAX", "q", "0")
			s.do("B", "ZPOPMIN", "q", "5")
			s.do("B", "ZADD", "q", "3", "c")
			s.do("B", "EXEC")
			s.read("A")
		}},
	}
	for i, sc := range scenarios {
		marker := "SET end-of-scenario"
		var outs [2][]string
		for j, addr := range []string{ferryAddr, redisAddr} {
			s := &listScene{t: t, addr: addr, proto: 2, conns: map[string]*redistest.Conn{}}
			sc.run(s)
			s.do("ctl", "SET", "end-of-scenario", strconv.Itoa(i))
			for _, c := range s.conns {
				c.Close()
			}
			if j == 0 {
				outs[j] = effects.until(t, marker)
			} else {
				outs[j] = stream.until(t, marker)
			}
		}
		ferry, redis := outs[0], outs[1]
		if strings.Join(ferry, "\n") != strings.Join(redis, "\n") {
			t.Errorf("%s: propagated\n ferry: %q\n redis: %q", sc.name, ferry, redis)
		}
		if len(redis) == 0 {
			t.Errorf("%s: redis propagated nothing", sc.name)
		}
	}
}

// TestZSetStoreEmptyPropagatesDel: a *STORE whose result is empty deletes
// its destination, and its effect is that DEL (Redis sends the command as
// received, which a replica would resolve to the same deletion).
func TestZSetStoreEmptyPropagatesDel(t *testing.T) {
	e := command.New(command.Config{})
	log := &listEffects{}
	e.SetLog(log)
	e.Lock()
	cl := e.NewClient("c", "")
	e.Unlock()
	for _, c := range [][]string{
		{"ZADD", "src", "1", "a"},
		{"SET", "dst", "v"},
		{"ZINTERSTORE", "dst", "2", "src", "none"},
		{"ZUNIONSTORE", "dst", "1", "none"},
		{"ZADD", "dst", "1", "a"},
		{"ZRANGESTORE", "dst", "src", "5", "9"},
		{"ZADD", "dst", "1", "a"},
		{"ZDIFFSTORE", "dst", "2", "src", "src"},
		{"SET", "end", "1"},
	} {
		exec(e, cl, c...)
	}
	got := log.until(t, "SET end")
	want := []string{"ZADD src 1 a", "SET dst v", "DEL dst", "ZADD dst 1 a", "DEL dst", "ZADD dst 1 a", "DEL dst"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("propagated %q, want %q", got, want)
	}
}

// TestZSetEffectsReplicate drives a master engine with random sorted set
// commands, blocking ones included, and checks that a replica applying its
// units holds the same data after every step.
func TestZSetEffectsReplicate(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			master := command.New(command.Config{Clock: clock.Now})
			log := &unitLog{}
			master.SetLog(log)
			master.Lock()
			master.Keyspace().Limits.ZSetMaxListpackEntries = 4
			var clients []*command.Client
			for i := 0; i < 4; i++ {
				clients = append(clients, master.NewClient("c"+strconv.Itoa(i), ""))
			}
			master.Unlock()
			replica, rc := replicaOf(clock.Now)
			replica.Lock()
			replica.Keyspace().Limits.ZSetMaxListpackEntries = 4
			replica.Unlock()
			r := rand.New(rand.NewPCG(seed, seed*77))
			key := func() string { return "k" + strconv.Itoa(r.IntN(4)) }
			mem := func() string { return "m" + strconv.Itoa(r.IntN(8)) }
			score := func() string {
				return []string{"1", "2.5", "-3", "0.1", "1e3", "-0", "7"}[r.IntN(7)]
			}
			n := func(lo, hi int) string { return strconv.Itoa(lo + r.IntN(hi-lo+1)) }
			gen := func() []string {
				switch r.IntN(24) {
				case 0, 1, 2:
					return []string{"ZADD", key(), score(), mem(), score(), mem()}
				case 3:
					return []string{"ZADD", key(), []string{"NX", "XX", "GT", "LT", "CH"}[r.IntN(5)], score(), mem()}
				case 4:
					return []string{"ZADD", key(), "INCR", score(), mem()}
				case 5:
					return []string{"ZINCRBY", key(), score(), mem()}
				case 6:
					return []string{"ZREM", key(), mem(), mem()}
				case 7:
					return []string{"ZREMRANGEBYRANK", key(), n(-3, 2), n(-2, 3)}
				case 8:
					return []string{"ZREMRANGEBYSCORE", key(), score(), score()}
				case 9:
					return []string{"ZREMRANGEBYLEX", key(), "[" + mem(), "(" + mem()}
				case 10:
					return []string{"ZPOPMIN", key(), n(0, 3)}
				case 11:
					return []string{"ZPOPMAX", key()}
				case 12:
					return []string{"ZMPOP", "2", key(), key(), []string{"MIN", "MAX"}[r.IntN(2)], "COUNT", n(1, 3)}
				case 13:
					return []string{"BZPOPMIN", key(), key(), "0"}
				case 14:
					return []string{"BZPOPMAX", key(), "0"}
				case 15:
					return []string{"BZMPOP", "0", "2", key(), key(), "MAX", "COUNT", n(1, 3)}
				case 16:
					return []string{"ZUNIONSTORE", key(), "2", key(), key(), "WEIGHTS", score(), score()}
				case 17:
					return []string{"ZINTERSTORE", key(), "2", key(), key(), "AGGREGATE", "MIN"}
				case 18:
					return []string{"ZDIFFSTORE", key(), "2", key(), key()}
				case 19:
					return []string{"ZRANGESTORE", key(), key(), n(-3, 1), n(-1, 4)}
				case 20:
					return []string{"ZRANGESTORE", key(), key(), score(), score(), "BYSCORE", "LIMIT", n(0, 2), n(-1, 3)}
				case 21:
					if r.IntN(2) == 0 {
						return []string{"ZRANGESTORE", key(), key(), "[" + mem(), "+", "BYLEX"}
					}
					return []string{"DEL", key()}
				case 22:
					return []string{"SADD", key(), mem()}
				default:
					return []string{"ZRANGE", key(), "0", "-1", "WITHSCORES"}
				}
			}
			served := replicate(t, r, replication{master, clients, log, replica, rc}, gen, 3000, 8, 12, nil)
			if served == 0 {
				t.Fatal("no blocked client was ever served: the generator does not exercise blocking")
			}
			if len(log.units) < 500 {
				t.Fatalf("only %d units emitted", len(log.units))
			}
		})
	}
}

// TestZSetRandomAgainstRedis runs random sorted set commands on ferry and
// a real redis-server with small encoding limits (so that conversions to
// the skiplist happen often) and compares every reply and DEBUG DIGEST.
// Lexicographic commands only touch keys whose members all score 0 (on
// mixed scores their result depends on the skiplist's random levels);
// ZSCAN of a skiplist is compared as a set, ZRANDMEMBER by shape.
func TestZSetRandomAgainstRedis(t *testing.T) {
	limits := []struct{ entries, value int }{{6, 4}, {2, 64}}
	for i, lim := range limits {
		t.Run(fmt.Sprintf("limits%d", i), func(t *testing.T) {
			redis := redistest.Dial(t, redistest.Redis(t,
				"--zset-max-listpack-entries", strconv.Itoa(lim.entries),
				"--zset-max-listpack-value", strconv.Itoa(lim.value)))
			e, addr := redistest.Ferry(t, command.Config{})
			e.Lock()
			l := &e.Keyspace().Limits
			l.ZSetMaxListpackEntries, l.ZSetMaxListpackValue = lim.entries, lim.value
			e.Unlock()
			ferry := redistest.Dial(t, addr)
			for _, c := range []*redistest.Conn{redis, ferry} {
				if i == 1 {
					c.Do("HELLO", "3")
				}
			}
			zsetRandomDiff(t, redis, ferry, e, uint64(i+1), 4000)
		})
	}
}

func zsetRandomDiff(t *testing.T, redis, ferry *redistest.Conn, e *command.Engine, seed uint64, steps int) {
	r := rand.New(rand.NewPCG(seed, seed*13))
	key := func() string { return "k" + strconv.Itoa(r.IntN(4)) }
	lkey := func() string { return "L" + strconv.Itoa(r.IntN(2)) }
	mem := func() string {
		switch r.IntN(5) {
		case 0:
			return strconv.Itoa(r.IntN(10))
		case 1:
			return []string{"", "longmember", "a", "ab", "abc", "b", "-0"}[r.IntN(7)]
		}
		return "m" + strconv.Itoa(r.IntN(10))
	}
	score := func() string {
		return []string{"1", "2", "2.5", "-1", "0", "-0", "1.1", "0.1", "1e20", "inf", "-inf", "3", "4611686018427387904", "10"}[r.IntN(14)]
	}
	bound := func() string {
		return []string{"-inf", "+inf", "(1", "2", "(2.5", "0", "(-1", "1e20", "5"}[r.IntN(9)]
	}
	lex := func() string {
		return []string{"-", "+", "[a", "(a", "[m3", "(m5", "[", "(b", "[longmember"}[r.IntN(9)]
	}
	n := func(lo, hi int) string { return strconv.Itoa(lo + r.IntN(hi-lo+1)) }
	var last []string
	for step := 0; step < steps; step++ {
		e.Lock()
		fd := e.Keyspace().Digest()
		e.Unlock()
		if rd := redis.Do("DEBUG", "DIGEST"); !strings.Contains(rd, fd.Hex()) {
			t.Fatalf("step %d: after %q digest ferry %s redis %q", step, last, fd.Hex(), rd)
		}
		k, k2, k3, lk := key(), key(), key(), lkey()
		cmds := [][]string{
			{"ZADD", k, score(), mem(), score(), mem()}, {"ZADD", k, score(), mem()},
			{"ZADD", k, []string{"NX", "XX", "GT", "LT", "CH", "XX GT"}[r.IntN(6)], score(), mem()},
			{"ZADD", k, "INCR", score(), mem()}, {"ZINCRBY", k, score(), mem()},
			{"ZREM", k, mem(), mem()}, {"ZCARD", k}, {"ZSCORE", k, mem()}, {"ZMSCORE", k, mem(), mem()},
			{"ZRANK", k, mem()}, {"ZREVRANK", k, mem()}, {"ZCOUNT", k, bound(), bound()},
			{"ZRANGE", k, n(-5, 3), n(-3, 6), "WITHSCORES"}, {"ZRANGE", k, n(-5, 3), n(-3, 6), "REV"},
			{"ZRANGE", k, bound(), bound(), "BYSCORE", "WITHSCORES"},
			{"ZRANGE", k, bound(), bound(), "BYSCORE", "REV", "LIMIT", n(-1, 3), n(-1, 3)},
			{"ZRANGEBYSCORE", k, bound(), bound(), "LIMIT", n(0, 3), n(-1, 3)},
			{"ZREVRANGEBYSCORE", k, bound(), bound(), "WITHSCORES"},
			{"ZREVRANGE", k, n(-4, 2), n(-2, 4), "WITHSCORES"},
			{"ZREMRANGEBYRANK", k, n(-4, 2), n(-2, 4)}, {"ZREMRANGEBYSCORE", k, bound(), bound()},
			{"ZPOPMIN", k, n(0, 3)}, {"ZPOPMAX", k}, {"ZMPOP", "2", k, k2, "MAX", "COUNT", n(1, 4)},
			{"ZUNIONSTORE", k, "3", k, k2, k3, "WEIGHTS", score(), score(), score()},
			{"ZINTERSTORE", k, "2", k2, k3, "AGGREGATE", []string{"SUM", "MIN", "MAX"}[r.IntN(3)]},
			{"ZDIFFSTORE", k, "2", k2, k3}, {"ZRANGESTORE", k, k2, n(-3, 1), n(-1, 5)},
			{"ZRANGESTORE", k, k2, bound(), bound(), "BYSCORE", "LIMIT", n(0, 2), n(-1, 3)},
			{"ZUNION", "2", k, k2, "WITHSCORES"}, {"ZINTER", "3", k, k2, k3, "WITHSCORES"},
			{"ZDIFF", "2", k, k2, "WITHSCORES"}, {"ZINTERCARD", "2", k, k2, "LIMIT", n(0, 2)},
			{"SADD", k, mem()}, {"DEL", k}, {"OBJECT", "ENCODING", k}, {"ZSCAN", k, "0", "COUNT", "100"},
			{"ZRANDMEMBER", k, n(-5, 8), "WITHSCORES"}, {"ZRANDMEMBER", k, "100"},
			{"ZADD", lk, "0", mem(), "0", mem()}, {"ZREM", lk, mem()}, {"ZLEXCOUNT", lk, lex(), lex()},
			{"ZRANGE", lk, lex(), lex(), "BYLEX", "LIMIT", n(-1, 2), n(-1, 3)},
			{"ZRANGE", lk, lex(), lex(), "BYLEX", "REV"}, {"ZREVRANGEBYLEX", lk, lex(), lex()},
			{"ZREMRANGEBYLEX", lk, lex(), lex()}, {"ZRANGESTORE", k, lk, lex(), lex(), "BYLEX"},
			{"OBJECT", "ENCODING", lk},
		}
		c := cmds[r.IntN(len(cmds))]
		if c[0] == "ZADD" && len(c) == 5 && c[2] == "XX GT" {
			c = []string{"ZADD", c[1], "XX", "GT", c[3], c[4]}
		}
		enc := redis.Do("OBJECT", "ENCODING", c[1])
		last = c
		w, g := redis.Do(c...), ferry.Do(c...)
		if w == g {
			continue
		}
		switch c[0] {
		case "ZRANDMEMBER":
			if zReplyLen(w) == zReplyLen(g) && w[0] == g[0] {
				continue
			}
		case "ZSCAN":
			if strings.Contains(enc, "skiplist") && zScanSet(t, w) == zScanSet(t, g) {
				continue
			}
		}
		t.Fatalf("step %d %q (encoding %q):\n ferry %q\n redis %q", step, c, enc, g, w)
	}
}

// zReplyLen returns the element count in an aggregate reply's header.
func zReplyLen(raw string) string {
	line, _, _ := strings.Cut(raw, "\r\n")
	return line
}

// zScanSet returns a single-call ZSCAN reply's pairs, sorted.
func zScanSet(t *testing.T, raw string) string {
	t.Helper()
	els := zParseFlat(t, raw)
	if len(els) < 1 || els[0] != "0" {
		t.Fatalf("ZSCAN did not finish in one call: %q", raw)
	}
	var pairs []string
	for i := 1; i+1 < len(els); i += 2 {
		pairs = append(pairs, els[i]+"="+els[i+1])
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

// zParseFlat flattens a reply made of arrays, bulk strings, doubles and
// integers into the strings it holds.
func zParseFlat(t *testing.T, raw string) []string {
	t.Helper()
	br := bufio.NewReader(strings.NewReader(raw))
	var out []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return out
		}
		line = strings.TrimSuffix(line, "\r\n")
		switch line[0] {
		case '*', '%', '~':
		case '$':
			n, _ := strconv.Atoi(line[1:])
			if n < 0 {
				out = append(out, "<nil>")
				continue
			}
			b := make([]byte, n+2)
			if _, err := io.ReadFull(br, b); err != nil {
				t.Fatal(err)
			}
			out = append(out, string(b[:n]))
		case ',', ':', '+':
			out = append(out, line[1:])
		case '_':
			out = append(out, "<nil>")
		default:
			t.Fatalf("unexpected reply line %q", line)
		}
	}
}

// TestZScanSkiplist iterates a large sorted set with small COUNTs: every
// member comes back with its score formatted "%.17g", and the cursor ends
// at 0, with MATCH applied to members only.
func TestZScanSkiplist(t *testing.T) {
	_, addr := redistest.Ferry(t, command.Config{})
	c := redistest.Dial(t, addr)
	want := map[string]string{}
	args := []string{"ZADD", "big"}
	for i := 0; i < 300; i++ {
		m := "m" + strconv.Itoa(i)
		s := strconv.FormatFloat(float64(i)+0.1, 'f', 1, 64)
		args = append(args, s, m)
		want[m] = s
	}
	args = append(args, "4611686018427387904", "huge", "1.1", "eleven")
	want["huge"], want["eleven"] = "4.6116860184273879e+18", "1.1000000000000001"
	c.Do(args...)
	want["m0"] = "0.10000000000000001"
	if enc := c.Do("OBJECT", "ENCODING", "big"); enc != "$8\r\nskiplist\r\n" {
		t.Fatalf("encoding %q", enc)
	}
	got := map[string]string{}
	cursor, calls := "0", 0
	for {
		els := zParseFlat(t, c.Do("ZSCAN", "big", cursor, "COUNT", "7"))
		calls++
		cursor = els[0]
		for i := 1; i+1 < len(els); i += 2 {
			got[els[i]] = els[i+1]
		}
		if cursor == "0" || calls > 1000 {
			break
		}
	}
	if calls < 10 {
		t.Errorf("a 302-member skiplist was scanned in %d calls with COUNT 7", calls)
	}
	for m, s := range want {
		if strings.HasPrefix(m, "m") && m != "m0" {
			continue // the exact text of x.1 is checked through m0
		}
		if got[m] != s {
			t.Errorf("member %s: score %q, want %q", m, got[m], s)
		}
	}
	if len(got) != len(want) {
		t.Errorf("scan returned %d members, want %d", len(got), len(want))
	}
	els := zParseFlat(t, c.Do("ZSCAN", "big", "0", "MATCH", "m1?", "COUNT", "10000"))
	if els[0] != "0" || len(els) != 1+2*10 {
		t.Errorf("MATCH m1? returned %q", els)
	}
}

// TestZRandMember checks ZRANDMEMBER's counts, distinctness, scores and
// reply shapes on both encodings, in RESP2 and RESP3.
func TestZRandMember(t *testing.T) {
	_, addr := redistest.Ferry(t, command.Config{})
	for _, proto := range []int{2, 3} {
		c := redistest.Dial(t, addr)
		if proto == 3 {
			c.Do("HELLO", "3")
		}
		scores := map[string]string{}
		for _, size := range []int{10, 200} {
			key := "z" + strconv.Itoa(size)
			c.Do("DEL", key)
			args := []string{"ZADD", key}
			for i := 0; i < size; i++ {
				args = append(args, strconv.Itoa(i)+".5", "m"+strconv.Itoa(i))
				scores["m"+strconv.Itoa(i)] = strconv.Itoa(i) + ".5"
			}
			c.Do(args...)
			for _, count := range []int{1, 2, 3, 9, 10, 11, 60, 67, 150, 199, 200, 500, -1, -5, -300} {
				if count > size && count != 500 {
					continue
				}
				raw := c.Do("ZRANDMEMBER", key, strconv.Itoa(count), "WITHSCORES")
				els := zParseFlat(t, raw)
				want := count
				if want < 0 {
					want = -want
				} else if want > size {
					want = size
				}
				header := want * 2
				if proto == 3 {
					header = want
				}
				if zReplyLen(raw) != "*"+strconv.Itoa(header) {
					t.Errorf("RESP%d size %d count %d: header %q", proto, size, count, zReplyLen(raw))
				}
				if len(els) != 2*want {
					t.Fatalf("RESP%d size %d count %d: %d elements", proto, size, count, len(els))
				}
				seen := map[string]bool{}
				for i := 0; i < len(els); i += 2 {
					m, s := els[i], els[i+1]
					if scores[m] != s {
						t.Errorf("member %q with score %q", m, s)
					}
					if count > 0 && seen[m] {
						t.Errorf("RESP%d size %d count %d: %q repeated", proto, size, count, m)
					}
					seen[m] = true
				}
			}
			// Negative counts repeat: 2000 picks from 10 members must.
			els := zParseFlat(t, c.Do("ZRANDMEMBER", key, "-2000"))
			seen := map[string]int{}
			for _, m := range els {
				seen[m]++
			}
			if len(els) != 2000 || len(seen) > size || len(seen) < min(size, 10) {
				t.Errorf("size %d: -2000 gave %d picks of %d members", size, len(els), len(seen))
			}
			// Every member turns up as a single pick.
			single := map[string]bool{}
			for i := 0; i < 40*size && len(single) < size; i++ {
				single[zParseFlat(t, c.Do("ZRANDMEMBER", key))[0]] = true
			}
			if len(single) != size {
				t.Errorf("size %d: single picks reached %d members", size, len(single))
			}
		}
	}
}
