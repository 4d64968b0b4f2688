package command_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/keyspace"
)

// unitLog records the units an engine emits.
type unitLog struct {
	units [][]byte
}

func (l *unitLog) Append(u command.Unit) {
	l.units = append(l.units, append([]byte(nil), u.Data...))
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// replicaOf returns an engine that applies units as a replica does: expired
// keys are neither hidden nor deleted, only the master's DELs remove them.
func replicaOf(clock func() time.Time) (*command.Engine, *command.Client) {
	e := command.New(command.Config{Clock: clock})
	e.Lock()
	e.Keyspace().Mode = keyspace.ExpireIgnore
	cl := e.NewClient("replication", "")
	cl.Master = true
	e.Unlock()
	return e, cl
}

// appliers holds each replica engine's Applier (apply).
var appliers sync.Map // *command.Engine -> *command.Applier

// apply runs one unit on a replica engine as a replica does, through the
// engine's Applier (it starts in database 0), and fails the test when the
// replica refuses any of its commands, one inside an EXEC too. cl is the
// replica's link client of replicaOf, kept for the callers.
func apply(t *testing.T, e *command.Engine, cl *command.Client, unit []byte) {
	t.Helper()
	ap, ok := appliers.Load(e)
	if !ok {
		ap, _ = appliers.LoadOrStore(e, e.NewApplier())
	}
	if err := ap.(*command.Applier).Apply(unit); err != nil {
		t.Fatalf("replica rejected unit %q: %v", unit, err)
	}
}

// gen produces random commands over a small key space so that types
// collide, keys expire and collections empty out.
type gen struct {
	r *rand.Rand
}

func (g *gen) key() string    { return "k" + strconv.Itoa(g.r.IntN(8)) }
func (g *gen) member() string { return "m" + strconv.Itoa(g.r.IntN(6)) }
func (g *gen) num() string    { return strconv.Itoa(g.r.IntN(21) - 10) }
func (g *gen) ms() string     { return strconv.Itoa(1 + g.r.IntN(3000)) }

func (g *gen) score() string {
	if g.r.IntN(5) == 0 {
		return []string{"-inf", "+inf", "1.5", "0.1"}[g.r.IntN(4)]
	}
	return g.num()
}

func (g *gen) command() []string {
	k, k2 := g.key(), g.key()
	m, m2 := g.member(), g.member()
	cmds := [][]string{
		{"SET", k, g.member()},
		{"SET", k, g.member(), "EX", "2"},
		{"SET", k, g.member(), "PX", g.ms(), "NX"},
		{"SET", k, g.member(), "XX", "KEEPTTL", "GET"},
		{"SETEX", k, "1", g.member()},
		{"PSETEX", k, g.ms(), g.member()},
		{"GETEX", k, "PX", g.ms()},
		{"GETEX", k, "PERSIST"},
		{"GETDEL", k},
		{"GETSET", k, g.member()},
		{"GET", k},
		{"MSET", k, g.num(), k2, g.num()},
		{"MSETNX", k, g.num(), k2, g.num()},
		{"INCR", k},
		{"INCRBY", k, g.num()},
		{"INCRBYFLOAT", k, "0.1"},
		{"APPEND", k, g.member()},
		{"SETRANGE", k, strconv.Itoa(g.r.IntN(5)), g.member()},
		{"DEL", k, k2},
		{"UNLINK", k},
		{"EXPIRE", k, "1"},
		{"PEXPIRE", k, g.ms(), []string{"NX", "XX", "GT", "LT"}[g.r.IntN(4)]},
		{"EXPIREAT", k, "1"},
		{"PERSIST", k},
		{"RENAME", k, k2},
		{"RENAMENX", k, k2},
		{"COPY", k, k2, "REPLACE"},
		{"MOVE", k, "1"},
		{"SWAPDB", "0", "1"},
		{"SELECT", strconv.Itoa(g.r.IntN(3))},
		{"EXISTS", k},
		{"TTL", k},
		{"LPUSH", k, m, m2},
		{"RPUSH", k, m},
		{"LPUSHX", k, m},
		{"LPOP", k},
		{"RPOP", k, "2"},
		{"LSET", k, "0", m},
		{"LINSERT", k, "BEFORE", m, m2},
		{"LREM", k, "-1", m},
		{"LTRIM", k, "1", "-1"},
		{"LMOVE", k, k2, "LEFT", "RIGHT"},
		{"RPOPLPUSH", k, k2},
		{"LMPOP", "2", k, k2, "LEFT", "COUNT", "2"},
		{"BLPOP", k, k2, "0.01"},
		{"BLMOVE", k, k2, "RIGHT", "LEFT", "0.01"},
		{"HSET", k, m, g.num(), m2, g.num()},
		{"HSETNX", k, m, g.num()},
		{"HDEL", k, m},
		{"HINCRBY", k, m, g.num()},
		{"HINCRBYFLOAT", k, m, "0.1"},
		{"SADD", k, m, m2, g.num()},
		{"SREM", k, m},
		{"SPOP", k},
		{"SPOP", k, "2"},
		{"SMOVE", k, k2, m},
		{"SINTERSTORE", k, k2, g.key()},
		{"SUNIONSTORE", k, k2, g.key()},
		{"SDIFFSTORE", k, k2, g.key()},
		{"ZADD", k, g.score(), m, g.score(), m2},
		{"ZADD", k, "INCR", g.score(), m},
		{"ZADD", k, "GT", "CH", g.score(), m},
		{"ZINCRBY", k, g.num(), m},
		{"ZREM", k, m},
		{"ZPOPMIN", k},
		{"ZPOPMAX", k, "2"},
		{"BZPOPMIN", k, "0.01"},
		{"ZMPOP", "1", k, "MIN"},
		{"ZREMRANGEBYRANK", k, "0", "1"},
		{"ZREMRANGEBYSCORE", k, "-inf", g.num()},
		{"ZREMRANGEBYLEX", k, "-", "[m3"},
		{"ZUNIONSTORE", k, "2", k, k2},
		{"ZINTERSTORE", k, "2", k, k2, "AGGREGATE", "MAX"},
		{"ZDIFFSTORE", k, "2", k, k2},
		{"ZRANGESTORE", k, k2, "0", "-1"},
		{"FLUSHDB"},
	}
	c := cmds[g.r.IntN(len(cmds))]
	if c[0] == "FLUSHDB" && g.r.IntN(10) != 0 {
		return []string{"PING"}
	}
	return c
}

// TestEffectsReplicate runs random command sequences on a master engine,
// applies the effects it emits to a replica engine, and checks after every
// step that both have the same DEBUG DIGEST, with the clock moving so that
// keys expire lazily and through the active cycle.
func TestEffectsReplicate(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			rp := newReplication(clock, 3)
			master, log := rp.master, rp.log
			g := &gen{r: rand.New(rand.NewPCG(seed, seed*7))}
			replicate(t, g.r, rp, g.command, 3000, 5, 15, func() {
				switch g.r.IntN(10) {
				case 0:
					clock.Add(time.Duration(g.r.IntN(1500)) * time.Millisecond)
				case 1:
					master.ActiveExpire()
				}
			})
			if len(log.units) < 100 {
				t.Fatalf("only %d units emitted: the generator is not exercising writes", len(log.units))
			}
		})
	}
}

// newReplication returns a master engine on clock whose units go to a
// unitLog, with n clients, and a replica engine.
func newReplication(clock *fakeClock, n int) replication {
	master := command.New(command.Config{Clock: clock.Now})
	log := &unitLog{}
	master.SetLog(log)
	master.Lock()
	var clients []*command.Client
	for i := 1; i <= n; i++ {
		clients = append(clients, master.NewClient("c"+strconv.Itoa(i), ""))
	}
	master.Unlock()
	replica, rc := replicaOf(clock.Now)
	return replication{master, clients, log, replica, rc}
}

// replication is a master engine with clients and a replica engine that
// applies the units the master logs (see replicate).
type replication struct {
	master  *command.Engine
	clients []*command.Client
	log     *unitLog
	replica *command.Engine
	rc      *command.Client
}

// replicate runs steps random commands from gen on the master. Before each
// step it calls before (if not nil); a blocked client times out with odds
// 1/timeoutOdds, the others take turns; with odds 1/multiOdds a few
// commands run as a transaction. Every unit the master logs is applied to
// the replica, and the test fails as soon as their digests differ. It
// returns how many steps also served a blocked client (logged more than
// one unit).
func replicate(t *testing.T, r *rand.Rand, rp replication, gen func() []string, steps, timeoutOdds, multiOdds int, before func()) (served int) {
	t.Helper()
	master, log := rp.master, rp.log
	applied := 0
	for step := 0; step < steps; step++ {
		if before != nil {
			before()
		}
		var free []*command.Client
		for _, cl := range rp.clients {
			master.Lock()
			if cl.Blocked() != nil && r.IntN(timeoutOdds) == 0 {
				master.TimeoutBlocked(cl)
			}
			if cl.Blocked() == nil {
				free = append(free, cl)
			}
			master.Unlock()
		}
		if len(free) == 0 {
			continue
		}
		cl := free[r.IntN(len(free))]
		args := gen()
		if r.IntN(multiOdds) == 0 {
			exec(master, cl, "MULTI")
			for i := 0; i < 1+r.IntN(4); i++ {
				exec(master, cl, gen()...)
			}
			args = []string{"EXEC"}
		}
		units := len(log.units)
		exec(master, cl, args...)
		if len(log.units) > units+1 {
			served++
		}
		for ; applied < len(log.units); applied++ {
			apply(t, rp.replica, rp.rc, log.units[applied])
		}
		master.Lock()
		md := master.Keyspace().Digest()
		master.Unlock()
		rp.replica.Lock()
		rd := rp.replica.Keyspace().Digest()
		rp.replica.Unlock()
		if md != rd {
			t.Fatalf("step %d (%q): digests differ: master %s replica %s\nlast units: %q",
				step, args, md.Hex(), rd.Hex(), lastUnits(log.units, 4))
		}
	}
	return served
}

func lastUnits(units [][]byte, n int) [][]byte {
	if len(units) < n {
		return units
	}
	return units[len(units)-n:]
}

// exec runs one command on an engine for a client and returns the reply.
func exec(e *command.Engine, cl *command.Client, args ...string) string {
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

// An active expiry cycle over many long keys goes out as several units,
// each of at most about 64 KiB (a log entry holds 1 MB), that together
// delete every key, in databases other than 0 too.
func TestActiveExpireSplitsUnits(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	master := command.New(command.Config{Clock: clock.Now})
	log := &unitLog{}
	master.SetLog(log)
	replica, _ := replicaOf(clock.Now)
	ap := replica.NewApplier()
	master.Lock()
	cl := master.NewClient("c", "")
	master.Unlock()
	run := func(args ...string) {
		master.Lock()
		defer master.Unlock()
		var b [][]byte
		for _, a := range args {
			b = append(b, []byte(a))
		}
		master.Exec(cl, b)
	}
	const n = 20000
	run("SELECT", "2")
	for i := range n {
		run("SET", fmt.Sprintf("%036d", i), "v", "PX", "1000")
	}
	for _, u := range log.units {
		if err := ap.Apply(u); err != nil {
			t.Fatal(err)
		}
	}
	log.units = nil
	clock.Add(2 * time.Second)
	deleted := 0
	for range 10 {
		deleted += master.ActiveExpire()
	}
	if deleted != n {
		t.Fatalf("active expiry deleted %d keys, want %d", deleted, n)
	}
	if len(log.units) < 10 {
		t.Fatalf("%d units for %d DELs of 36-byte keys: want them split", len(log.units), n)
	}
	for _, u := range log.units {
		if len(u) > 65<<10 {
			t.Fatalf("a unit of %d bytes", len(u))
		}
		if err := ap.Apply(u); err != nil {
			t.Fatal(err)
		}
	}
	replica.Lock()
	left := replica.Keyspace().DB(2).Len()
	replica.Unlock()
	if left != 0 {
		t.Fatalf("the replica kept %d keys after the master's DELs", left)
	}

	// A read that meets as many expired keys (SCAN with a large COUNT)
	// splits its DELs the same way.
	for i := range n {
		run("SET", fmt.Sprintf("%036d", i), "v", "PX", "1000")
	}
	clock.Add(2 * time.Second)
	log.units = nil
	run("SCAN", "0", "COUNT", "100000")
	if len(log.units) < 10 {
		t.Fatalf("SCAN over %d expired keys: %d units", n, len(log.units))
	}
	for _, u := range log.units {
		if len(u) > 65<<10 {
			t.Fatalf("SCAN: a unit of %d bytes", len(u))
		}
	}
}
