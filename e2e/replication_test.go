package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/master"
	"github.com/ferrydb/ferry/replica"
	"github.com/ferrydb/ferry/snapshot/fs"
	"github.com/ferrydb/ferry/stream"
	"github.com/ferrydb/ferry/stream/jetstream"
	"github.com/ferrydb/ferry/stream/natsserver"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

const (
	errReadOnly   = "-READONLY You can't write against a read only replica.\r\n"
	errMasterDown = "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
)

// expect sends args on c and fails unless the reply is want.
func expect(t *testing.T, c *redistest.Conn, want string, args ...string) {
	t.Helper()
	if got := c.Do(args...); got != want {
		t.Fatalf("%q = %q, want %q", args, got, want)
	}
}

// TestReplicaServesMasterWrites writes every served type on the master, in
// several databases, with expiries and in a transaction, and reads the same
// replies on the replica, which refuses writes.
func TestReplicaServesMasterWrites(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "basic", nil)
	r := startReplica(t, ns.URL(), "basic", true)
	mc := redistest.Dial(t, m.addr)

	expect(t, mc, "+OK\r\n", "SET", "str", "hello")
	expect(t, mc, ":11\r\n", "APPEND", "str", " world")
	expect(t, mc, ":1\r\n", "INCR", "counter")
	expect(t, mc, ":3\r\n", "INCRBY", "counter", "2")
	expect(t, mc, bulk("4.5"), "INCRBYFLOAT", "float", "4.5")
	expect(t, mc, ":3\r\n", "RPUSH", "list", "a", "b", "c")
	expect(t, mc, ":4\r\n", "LPUSH", "list", "z")
	expect(t, mc, bulk("c"), "RPOP", "list")
	expect(t, mc, ":2\r\n", "HSET", "hash", "f1", "v1", "f2", "v2")
	expect(t, mc, ":7\r\n", "HINCRBY", "hash", "n", "7")
	expect(t, mc, ":3\r\n", "SADD", "set", "a", "b", "c")
	expect(t, mc, ":1\r\n", "SREM", "set", "b")
	expect(t, mc, "+OK\r\n", "SET", "ttl", "v", "EX", "100")
	expect(t, mc, ":1\r\n", "PEXPIRE", "hash", "200000")
	expect(t, mc, "+OK\r\n", "SELECT", "5")
	expect(t, mc, "+OK\r\n", "SET", "db5", "five")
	expect(t, mc, ":1\r\n", "SADD", "db5set", "x")
	expect(t, mc, "+OK\r\n", "SELECT", "0")
	expect(t, mc, "+OK\r\n", "MULTI")
	expect(t, mc, "+QUEUED\r\n", "INCR", "counter")
	expect(t, mc, "+QUEUED\r\n", "RPUSH", "list", "tx")
	expect(t, mc, "+QUEUED\r\n", "SELECT", "9")
	expect(t, mc, "+QUEUED\r\n", "SET", "db9", "nine")
	expect(t, mc, "*4\r\n:4\r\n:4\r\n+OK\r\n+OK\r\n", "EXEC")
	// The transaction left database 9 selected: this lands there too.
	expect(t, mc, "+OK\r\n", "SET", "after-tx", "in-9")
	expect(t, mc, "+OK\r\n", "SELECT", "0")
	waitCaughtUp(t, m, r, 10*time.Second)

	reads := []struct {
		db    string
		args  []string
		sort  bool // unordered reply
		pairs bool
	}{
		{"0", []string{"GET", "str"}, false, false},
		{"0", []string{"GET", "counter"}, false, false},
		{"0", []string{"GET", "float"}, false, false},
		{"0", []string{"LRANGE", "list", "0", "-1"}, false, false},
		{"0", []string{"HGETALL", "hash"}, true, true},
		{"0", []string{"SMEMBERS", "set"}, true, false},
		{"0", []string{"TYPE", "set"}, false, false},
		{"0", []string{"PEXPIRETIME", "hash"}, false, false},
		{"0", []string{"EXPIRETIME", "ttl"}, false, false},
		{"0", []string{"DBSIZE"}, false, false},
		{"5", []string{"GET", "db5"}, false, false},
		{"5", []string{"SMEMBERS", "db5set"}, true, false},
		{"5", []string{"DBSIZE"}, false, false},
		{"9", []string{"MGET", "db9", "after-tx"}, false, false},
	}
	rc := redistest.Dial(t, r.addr)
	for _, rd := range reads {
		expect(t, mc, "+OK\r\n", "SELECT", rd.db)
		expect(t, rc, "+OK\r\n", "SELECT", rd.db)
		want, got := mc.Do(rd.args...), rc.Do(rd.args...)
		if rd.sort {
			want, got = redistest.SortReply(want, rd.pairs), redistest.SortReply(got, rd.pairs)
		}
		if got != want || strings.HasPrefix(got, "-") || isNil(got) {
			t.Errorf("db %s %q: replica %q, master %q", rd.db, rd.args, got, want)
		}
	}
	expect(t, rc, "+OK\r\n", "SELECT", "0")
	expect(t, mc, "+OK\r\n", "SELECT", "0")
	if ttl := rc.Do("TTL", "ttl"); ttl != ":100\r\n" && ttl != ":99\r\n" {
		t.Errorf("TTL on the replica = %q, want 99 or 100", ttl)
	}

	// The replica refuses writes, as a Redis replica does.
	for _, args := range [][]string{{"SET", "x", "y"}, {"INCR", "counter"}, {"DEL", "str"}, {"RPUSH", "list", "q"}, {"FLUSHALL"}} {
		expect(t, rc, errReadOnly, args...)
	}
	expect(t, rc, "+OK\r\n", "MULTI")
	expect(t, rc, errReadOnly, "SET", "x", "y")
	expect(t, rc, "-EXECABORT Transaction discarded because of previous errors.\r\n", "EXEC")
	if role := rc.Do("ROLE"); !strings.HasPrefix(role, "*5\r\n$5\r\nslave\r\n") {
		t.Errorf("ROLE on the replica = %q", role)
	}

	// Expiry: the replica never expires keys on its own clock, it hides
	// them once they are logically expired, until the master's DEL comes.
	expect(t, mc, "+OK\r\n", "DEBUG", "SET-ACTIVE-EXPIRE", "0")
	expect(t, mc, "+OK\r\n", "SET", "short", "v", "PX", "300")
	waitCaughtUp(t, m, r, 10*time.Second)
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if got := mustQuery(t, r.addr, "GET", "short"); !isNil(got) {
			return fmt.Errorf("GET short on the replica = %q after its expiry", got)
		}
		return nil
	})
	expect(t, rc, ":0\r\n", "EXISTS", "short")
	// Still stored on both (no DEL yet): the digests agree.
	waitCaughtUp(t, m, r, 10*time.Second)
	moff := m.Offset()
	expect(t, mc, "+OK\r\n", "DEBUG", "SET-ACTIVE-EXPIRE", "1")
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if m.Offset() == moff {
			return fmt.Errorf("master published nothing after active expiry resumed (offset %d)", moff)
		}
		return nil
	})
	waitCaughtUp(t, m, r, 10*time.Second)
	expect(t, rc, ":7\r\n", "DBSIZE") // str counter float list hash set ttl
}

// TestReplicateSortedSets is the sorted-set part of the test above: ZADD,
// ZINCRBY and ZREM on the master, ZRANGE on the replica.
func TestReplicateSortedSets(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "zsets", nil)
	r := startReplica(t, ns.URL(), "zsets", true)
	mc := redistest.Dial(t, m.addr)
	expect(t, mc, ":3\r\n", "ZADD", "z", "1", "a", "2", "b", "3", "c")
	expect(t, mc, bulk("3.5"), "ZINCRBY", "z", "2.5", "a")
	expect(t, mc, ":1\r\n", "ZREM", "z", "b")
	expect(t, mc, "+OK\r\n", "SELECT", "2")
	expect(t, mc, ":1\r\n", "ZADD", "z2", "0.25", "m")
	expect(t, mc, ":2\r\n", "ZADD", "z2", "GT", "CH", "0.5", "m", "2", "n")
	expect(t, mc, "*2\r\n$1\r\nm\r\n$3\r\n0.5\r\n", "ZPOPMIN", "z2")
	expect(t, mc, "+OK\r\n", "SELECT", "0")
	waitCaughtUp(t, m, r, 10*time.Second)
	want := "*4\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\na\r\n$3\r\n3.5\r\n"
	if got := mustQuery(t, r.addr, "ZRANGE", "z", "0", "-1", "WITHSCORES"); got != want {
		t.Errorf("ZRANGE on the replica = %q, want %q", got, want)
	}
	rc := redistest.Dial(t, r.addr)
	expect(t, rc, "+OK\r\n", "SELECT", "2")
	expect(t, rc, "*2\r\n$1\r\nn\r\n$1\r\n2\r\n", "ZRANGE", "z2", "0", "-1", "WITHSCORES")
	expect(t, rc, errReadOnly, "ZADD", "z2", "1", "n")
}

// TestRandomWorkloadDigests runs pipelined random writes from several
// clients over a small key space (types collide, keys expire, databases and
// transactions mix), then checks that the replica, and a replica started
// afterwards from offset 1, end with the master's DEBUG DIGEST.
func TestRandomWorkloadDigests(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "random", nil)
	r := startReplica(t, ns.URL(), "random", true)
	zsets := hasCommand(t, m.addr, "zadd")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, sorted sets %t", seed, zsets)
	start := time.Now()
	n := runWorkload(t, m.addr, seed, 4, 20, 5000, 1500*time.Millisecond, zsets, true)
	t.Logf("%d commands in %s, log offset %d", n, time.Since(start).Round(time.Millisecond), m.Offset())
	waitCaughtUp(t, m, r, 20*time.Second)
	late := startReplica(t, ns.URL(), "random", true)
	waitCaughtUp(t, m, late, 20*time.Second)
	if n := mustQuery(t, m.addr, "DBSIZE"); n == ":0\r\n" {
		t.Errorf("the workload left database 0 empty: it tests little")
	}
}

// TestAsyncAckReachesReplica is the random workload with --ack async:
// replies do not wait for the log, and still every write reaches it.
func TestAsyncAckReachesReplica(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "async", func(c *master.Config) { c.Ack = master.AckAsync })
	r := startReplica(t, ns.URL(), "async", true)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	start := time.Now()
	n := runWorkload(t, m.addr, seed, 4, 20, 5000, time.Second, hasCommand(t, m.addr, "zadd"), true)
	t.Logf("%d commands in %s, log offset %d", n, time.Since(start).Round(time.Millisecond), m.Offset())
	waitCaughtUp(t, m, r, 20*time.Second)
	// One client's write is on the replica as soon as the log has it.
	mc := redistest.Dial(t, m.addr)
	for i := range 200 {
		expect(t, mc, ":"+strconv.Itoa(i+1)+"\r\n", "INCR", "async-counter")
	}
	waitCaughtUp(t, m, r, 10*time.Second)
	if got := mustQuery(t, r.addr, "GET", "async-counter"); got != bulk("200") {
		t.Errorf("GET async-counter on the replica = %q, want 200", got)
	}
}

// outageMin is how long outage keeps NATS away at least.
const outageMin = 600 * time.Millisecond

// outage takes NATS away under the writers' load, waits until the master
// refuses (reads get -LOADING while it cannot rebuild) and the replica
// reports its link down, brings NATS back, and waits until the master
// takes writes again and the writers got more acknowledgements.
func outage(t *testing.T, ns *natsserver.Server, m *masterNode, r *replicaNode, ws *writers) {
	t.Helper()
	ws.waitMore(t, 300, 10*time.Second)
	before := m.Offset()
	ns.Shutdown()
	down := time.Now()
	ws.waitFailures(t, 10, 10*time.Second)
	// Keep NATS away a while longer: the master's reconnects and rebuild
	// attempts fail and back off meanwhile.
	time.Sleep(time.Until(down.Add(outageMin)))
	// The master refuses: -LOADING while it cannot rebuild from the log
	// (TestMasterAnswersLoadingDuringLogOutage), or, as it does now, by
	// closing the connection without a reply. Never a value.
	checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if got, err := query(m.addr, "GET", "probe"); err == nil && !strings.HasPrefix(got, "-LOADING ") {
			return fmt.Errorf("GET on the master while NATS is down = %q; want -LOADING", got)
		}
		return nil
	})
	if got, err := query(m.addr, "SET", "probe", "x"); err == nil && !strings.HasPrefix(got, "-READONLY ") {
		t.Errorf("SET on the master while NATS is down = %q; want -READONLY", got)
	}
	if r != nil {
		checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
			if s, off, _ := r.Status(); s != replica.StateLinkDown {
				return fmt.Errorf("replica state %s at offset %d while NATS is down, want %s", s, off, replica.StateLinkDown)
			}
			return nil
		})
	}
	if err := ns.Restart(); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	checkFor(t, 20*time.Second, 10*time.Millisecond, func() error {
		if got, err := query(m.addr, "SET", "probe", "y"); err != nil || got != "+OK\r\n" {
			return fmt.Errorf("SET on the master after NATS came back = %q, %v", got, err)
		}
		return nil
	})
	t.Logf("NATS down for %s (master offset %d before); master took writes %s after NATS came back (offset %d)",
		up.Sub(down).Round(time.Millisecond), before, time.Since(up).Round(time.Millisecond), m.Offset())
	ws.waitMore(t, 300, 10*time.Second)
}

// TestReplicaResumesAfterLinkDrop takes NATS away twice while clients keep
// writing: the replica must resume at its last applied offset + 1, never
// applying an entry twice (its counters would exceed the master's, its
// lists would repeat a value, the digests would differ), and its offset
// must only grow.
func TestReplicaResumesAfterLinkDrop(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "linkdrop", nil)
	r := startReplica(t, ns.URL(), "linkdrop", true)
	watch := watchOffsets(r)
	ws := startWriters(m.addr, 3)
	for range 2 {
		outage(t, ns, m, r, ws)
	}
	ws.stop(t)
	waitCaughtUp(t, m, r, 20*time.Second)
	watch.stop(t)
	for _, w := range ws.ws {
		key := "ctr:" + strconv.Itoa(w.id)
		if mv, rv := mustQuery(t, m.addr, "GET", key), mustQuery(t, r.addr, "GET", key); mv != rv {
			t.Errorf("%s: master %q, replica %q", key, mv, rv)
		}
	}
	ws.checkAcked(t, "replica", r.addr)
}

// TestAckedWritesSurviveNATSRestart stops NATS under load: every write the
// master acknowledged must be on the master once it has rebuilt, and on
// the replica, and both must end with equal digests.
func TestAckedWritesSurviveNATSRestart(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "acked", nil)
	r := startReplica(t, ns.URL(), "acked", true)
	ws := startWriters(m.addr, 4)
	outage(t, ns, m, nil, ws)
	ws.stop(t)
	ws.checkAcked(t, "master", m.addr)
	waitCaughtUp(t, m, r, 20*time.Second)
	ws.checkAcked(t, "replica", r.addr)
}

// fenceReply polls writes on the fenced master, each on a new connection,
// until one is refused with READONLY naming the fence, and returns it, or
// fails the test and returns "". Every reply on the way must be a refusal,
// never +OK.
func fenceReply(t *testing.T, addr string) string {
	t.Helper()
	var last string
	drops, replies := 0, 0
	err := waitFor(3*time.Second, 20*time.Millisecond, func() error {
		got, err := query(addr, "SET", "late", "x")
		switch {
		case err != nil:
			drops++
			return fmt.Errorf("SET on the fenced master: %v; %d connections closed without a reply, %d replies, last %q", err, drops, replies, last)
		case !strings.HasPrefix(got, "-READONLY "):
			t.Fatalf("SET on the fenced master = %q, want -READONLY", got)
		}
		replies++
		last = got
		// Not just "fenced": the transient reply while it checks the log
		// quotes the append's "stream: fenced" error.
		if !strings.Contains(got, "this master is fenced") {
			return fmt.Errorf("SET on the fenced master = %q, want the fenced reason", got)
		}
		return nil
	})
	if err != nil {
		t.Errorf("the fenced master never says so: %v", err)
		return ""
	}
	t.Logf("fenced master: %q (after %d connections closed without a reply)", last, drops)
	return last
}

// fenceCase is one order of appends of two masters on one dataset.
type fenceCase struct {
	name          string
	secondWins    bool
	winner, loser string // key prefixes
}

var fenceCases = []fenceCase{
	{name: "second appends first", secondWins: true, winner: "b", loser: "a"},
	{name: "first appends first", secondWins: false, winner: "a", loser: "b"},
}

// fence starts master a on a dataset, writes a:1, starts master b on the
// same dataset, and has the winner append <winner>:2 first; the loser
// then tries <loser>:2. It returns both masters and the fence offset.
func fence(t *testing.T, ns *natsserver.Server, tc fenceCase) (win, lose *masterNode, fenceAt uint64) {
	t.Helper()
	return fenceWith(t, ns, tc, nil)
}

// fenceWith is fence with both masters' configurations changed by mod.
func fenceWith(t *testing.T, ns *natsserver.Server, tc fenceCase, mod func(*master.Config)) (win, lose *masterNode, fenceAt uint64) {
	t.Helper()
	a := startMaster(t, ns.URL(), "fence", mod)
	if got := mustQuery(t, a.addr, "SET", "a:1", "before"); got != "+OK\r\n" {
		t.Fatalf("SET a:1 on the first master = %q", got)
	}
	b := startMaster(t, ns.URL(), "fence", mod)
	if got := mustQuery(t, b.addr, "GET", "a:1"); got != bulk("before") {
		t.Fatalf("second master started without the first's write: GET a:1 = %q", got)
	}
	win, lose = a, b
	if tc.secondWins {
		win, lose = b, a
	}
	if got := mustQuery(t, win.addr, "SET", tc.winner+":2", "win"); got != "+OK\r\n" {
		t.Fatalf("SET %s:2 on the winner = %q", tc.winner, got)
	}
	// The loser's first write after that cannot append: refused, or the
	// connection is closed without a reply (its outcome was unknown).
	if got, err := query(lose.addr, "SET", tc.loser+":2", "lost"); err == nil && !strings.HasPrefix(got, "-") {
		t.Fatalf("SET %s:2 on the fenced master = %q, want a refusal", tc.loser, got)
	}
	return win, lose, win.Offset()
}

// TestSecondMasterFenced starts two masters on one dataset. Whichever
// appends first after both started keeps the log and goes on taking
// writes; the other one is fenced: it never again acknowledges a write,
// and the log never gets its writes.
func TestSecondMasterFenced(t *testing.T) {
	for _, tc := range fenceCases {
		t.Run(tc.name, func(t *testing.T) {
			ns := startNATS(t)
			win, lose, fenceAt := fence(t, ns, tc)
			wc := redistest.Dial(t, win.addr)
			for i := range 50 {
				expect(t, wc, ":"+strconv.Itoa(i+1)+"\r\n", "INCR", tc.winner+":ctr")
				if got, err := query(lose.addr, "SET", "late", strconv.Itoa(i)); err == nil && !strings.HasPrefix(got, "-READONLY ") {
					t.Fatalf("SET on the fenced master = %q, want -READONLY", got)
				}
			}

			// The log: the loser's writes are nowhere; the winner's are at
			// the fence and after; a replica agrees with the winner.
			entries := logEntries(t, win.log)
			for _, e := range entries {
				if bytes.Contains(e.Data, []byte(tc.loser+":2")) || bytes.Contains(e.Data, []byte("late")) {
					t.Errorf("log entry %d holds the fenced master's write: %q", e.Offset, e.Data)
				}
			}
			if n := uint64(len(entries)); n != win.Offset() || fenceAt != 2 || !bytes.Contains(entries[fenceAt-1].Data, []byte(tc.winner+":2")) {
				t.Errorf("log: %d entries, winner at offset %d, fence at %d", n, win.Offset(), fenceAt)
			}
			r := startReplica(t, ns.URL(), "fence", true)
			waitCaughtUp(t, win, r, 10*time.Second)
			if got := mustQuery(t, r.addr, "MGET", "a:1", tc.winner+":2", tc.loser+":2", tc.winner+":ctr"); got != "*4\r\n"+bulk("before")+bulk("win")+"$-1\r\n"+bulk("50") {
				t.Errorf("replica after the fence: MGET = %q", got)
			}
		})
	}
}

// TestFencedMasterRepliesFencedAndServesReads: the fenced master says why
// it refuses writes (READONLY ... fenced ...), on every connection, and
// serves reads of what the log held at the fence.
func TestFencedMasterRepliesFencedAndServesReads(t *testing.T) {
	for _, tc := range fenceCases {
		t.Run(tc.name, func(t *testing.T) {
			ns := startNATS(t)
			_, lose, _ := fence(t, ns, tc)
			if reply := fenceReply(t, lose.addr); reply != "" {
				if got := fenceReply(t, lose.addr); got != reply {
					t.Errorf("fenced master's reply changed from %q to %q", reply, got)
				}
			}
			want := "*3\r\n" + bulk("win") + "$-1\r\n" + bulk("before")
			if err := waitFor(time.Second, 20*time.Millisecond, func() error {
				got, err := query(lose.addr, "MGET", tc.winner+":2", tc.loser+":2", "a:1")
				if err != nil || got != want {
					return fmt.Errorf("MGET on the fenced master = %q, %v; want the log's %q", got, err, want)
				}
				return nil
			}); err != nil {
				t.Errorf("the fenced master does not serve reads: %v", err)
			}
		})
	}
}

// TestFencedMasterTakesNoSnapshot: BGSAVE on a fenced master is refused
// with the reason, rather than "started" and a failure in the log.
func TestFencedMasterTakesNoSnapshot(t *testing.T) {
	ns := startNATS(t)
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, lose, _ := fenceWith(t, ns, fenceCases[0], func(c *master.Config) {
		c.Store, c.NoShutdownSnapshot, c.SnapshotAfterWrites, c.SnapshotInterval = st, true, 0, 0
	})
	fenceReply(t, lose.addr)
	// The fenced reason shows before the master has rebuilt from the log
	// (-LOADING until then).
	var got string
	waitFor(3*time.Second, 20*time.Millisecond, func() error {
		if got = mustQuery(t, lose.addr, "BGSAVE"); strings.HasPrefix(got, "-LOADING") {
			return fmt.Errorf("BGSAVE = %q", got)
		}
		return nil
	})
	if !strings.HasPrefix(got, "-ERR ferry: no snapshot while the master takes no writes: ferry: this master is fenced") {
		t.Fatalf("BGSAVE on a fenced master = %q", got)
	}
}

// TestMasterAnswersLoadingDuringLogOutage: once a write failed to reach the
// log, the master refuses until it has rebuilt from the log: reads get
// -LOADING and writes -READONLY saying why, rather than a dropped
// connection; once NATS is back it serves the log's contents, without the
// write the log never got.
func TestMasterAnswersLoadingDuringLogOutage(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "loading", nil)
	if got := mustQuery(t, m.addr, "SET", "k", "v"); got != "+OK\r\n" {
		t.Fatalf("SET k = %q", got)
	}
	ns.Shutdown()
	// The write that finds NATS gone: its outcome is unknown to the
	// client, so no reply at all is right for it.
	if got, err := query(m.addr, "SET", "k2", "v2"); err == nil && !strings.HasPrefix(got, "-") {
		t.Fatalf("SET k2 with NATS down = %q", got)
	}
	var get, set, info string
	drops := 0
	if err := waitFor(3*time.Second, 20*time.Millisecond, func() error {
		c, err := dial(m.addr)
		if err != nil {
			return err
		}
		defer c.close()
		rs, err := c.pipeline([][]string{{"GET", "k"}, {"SET", "k3", "v3"}, {"INFO", "replication"}})
		if err != nil {
			drops++
			return fmt.Errorf("GET, SET, INFO on the master with NATS down: %v (%d connections closed without a reply)", err, drops)
		}
		get, set, info = rs[0], rs[1], rs[2]
		return nil
	}); err != nil {
		t.Errorf("master while rebuilding: %v", err)
	} else {
		if get != "-LOADING Redis is loading the dataset in memory\r\n" {
			t.Errorf("GET while rebuilding = %q, want -LOADING", get)
		}
		if !strings.HasPrefix(set, "-READONLY ") || !strings.Contains(set, "log") {
			t.Errorf("SET while rebuilding = %q, want -READONLY naming the log", set)
		}
		if !strings.HasPrefix(info, "$") {
			t.Errorf("INFO while rebuilding = %q", info)
		}
	}
	if err := ns.Restart(); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		got, err := query(m.addr, "MGET", "k", "k2", "k3")
		if want := "*3\r\n" + bulk("v") + "$-1\r\n$-1\r\n"; err != nil || got != want {
			return fmt.Errorf("MGET after NATS came back = %q, %v; want %q", got, err, want)
		}
		return nil
	})
}

// TestMasterRestartRecoversDataset closes a master and starts a new one on
// the same log: it comes back with the whole dataset, at the same offset,
// before it accepts a connection; the replica follows it on.
func TestMasterRestartRecoversDataset(t *testing.T) {
	ns := startNATS(t)
	m1 := startMaster(t, ns.URL(), "restart", nil)
	r := startReplica(t, ns.URL(), "restart", true)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	runWorkload(t, m1.addr, seed, 3, 20, 500, 500*time.Millisecond, false, false)
	waitCaughtUp(t, m1, r, 20*time.Second)
	before, err := digest(m1.addr)
	if err != nil {
		t.Fatal(err)
	}
	off := m1.Offset()
	m1.stop(t)

	start := time.Now()
	lg := openLog(t, ns.URL(), "restart", false)
	m, err := newMaster(lg, "restart", nil)
	if err != nil {
		t.Fatal(err)
	}
	m2 := serveMaster(t, m, lg)
	t.Logf("master restarted on %d entries in %s", off, time.Since(start).Round(time.Millisecond))
	if after, err := digest(m2.addr); err != nil || after != before {
		t.Fatalf("restarted master: digest %s (%v), before %s", after, err, before)
	}
	if m2.Offset() != off {
		t.Errorf("restarted master at offset %d, want %d", m2.Offset(), off)
	}
	if got := mustQuery(t, m2.addr, "SET", "after-restart", "1"); got != "+OK\r\n" {
		t.Fatalf("SET on the restarted master = %q", got)
	}
	waitCaughtUp(t, m2, r, 10*time.Second)
}

// TestMasterRefusesUnreadableLog: a master whose log cannot be read (NATS
// down) does not start, quickly, and does not listen; once NATS is back a
// master starts on the same log with the whole dataset.
func TestMasterRefusesUnreadableLog(t *testing.T) {
	ns := startNATS(t)
	lg := openLog(t, ns.URL(), "unreadable", false)
	m, err := newMaster(lg, "unreadable", nil)
	if err != nil {
		t.Fatal(err)
	}
	m1 := serveMaster(t, m, lg)
	mc := redistest.Dial(t, m1.addr)
	for i := range 20 {
		expect(t, mc, "+OK\r\n", "SET", "k"+strconv.Itoa(i), "v")
	}
	before, err := digest(m1.addr)
	if err != nil {
		t.Fatal(err)
	}
	m1.stop(t)
	ns.Shutdown()

	port := redistest.FreePort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	start := time.Now()
	m, err = newMaster(lg, "unreadable", func(c *master.Config) { c.Addr = addr })
	took := time.Since(start)
	if err == nil {
		m.Close()
		t.Fatalf("master.New on an unreachable log succeeded")
	}
	t.Logf("master.New with NATS down: %v after %s", err, took.Round(time.Millisecond))
	if took > logTimeout+time.Second {
		t.Errorf("master.New took %s to fail (log timeout %s)", took, logTimeout)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("a master that refused to start listens on %s", addr)
	}

	if err := ns.Restart(); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		m, err = newMaster(lg, "unreadable", nil)
		return err
	})
	m2 := serveMaster(t, m, lg)
	if after, err := digest(m2.addr); err != nil || after != before {
		t.Fatalf("master after NATS came back: digest %s (%v), before %s", after, err, before)
	}
}

// TestServeStaleData takes NATS away from two replicas: the one with
// replica-serve-stale-data no answers -MASTERDOWN to reads (but still
// INFO) until NATS is back; the one with yes serves its data
// throughout. Both follow the master again afterwards.
func TestServeStaleData(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "stale", nil)
	rNo := startReplica(t, ns.URL(), "stale", false)
	rYes := startReplica(t, ns.URL(), "stale", true)
	if got := mustQuery(t, m.addr, "SET", "k", "v1"); got != "+OK\r\n" {
		t.Fatalf("SET = %q", got)
	}
	waitCaughtUp(t, m, rNo, 10*time.Second)
	waitCaughtUp(t, m, rYes, 10*time.Second)

	ns.Shutdown()
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if got := mustQuery(t, rNo.addr, "GET", "k"); got != errMasterDown {
			return fmt.Errorf("GET on the serve-stale-data no replica with NATS down = %q, want %q", got, errMasterDown)
		}
		return nil
	})
	// As redis-server 7.0: PING is not flagged stale, INFO is.
	if got := mustQuery(t, rNo.addr, "PING"); got != errMasterDown {
		t.Errorf("PING on the MASTERDOWN replica = %q, want %q", got, errMasterDown)
	}
	if got := mustQuery(t, rNo.addr, "INFO", "replication"); !strings.HasPrefix(got, "$") ||
		!strings.Contains(got, "master_link_status:down") || !regexp.MustCompile(`master_link_down_since_seconds:\d+\r\n`).MatchString(got) {
		t.Errorf("INFO on the MASTERDOWN replica = %q; want the link down, with the seconds since", got)
	}
	if got := mustQuery(t, rYes.addr, "GET", "k"); got != bulk("v1") {
		t.Errorf("GET on the serve-stale-data yes replica with NATS down = %q", got)
	}
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if s, _, _ := rYes.Status(); s != replica.StateLinkDown {
			return fmt.Errorf("serve-stale-data yes replica in state %s with NATS down", s)
		}
		if got := mustQuery(t, rYes.addr, "GET", "k"); got != bulk("v1") {
			t.Errorf("GET on the serve-stale-data yes replica with NATS down = %q", got)
		}
		return nil
	})

	if err := ns.Restart(); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if got := mustQuery(t, rNo.addr, "GET", "k"); got != bulk("v1") {
			return fmt.Errorf("GET on the serve-stale-data no replica after NATS came back = %q", got)
		}
		return nil
	})
	if got := mustQuery(t, rYes.addr, "GET", "k"); got != bulk("v1") {
		t.Errorf("GET on the serve-stale-data yes replica after NATS came back = %q", got)
	}
	checkFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if got, err := query(m.addr, "SET", "k", "v2"); err != nil || got != "+OK\r\n" {
			return fmt.Errorf("SET after NATS came back = %q, %v", got, err)
		}
		return nil
	})
	// A replica makes its consumer again after the restart, trying
	// every second at most while JetStream recovers its streams; the
	// time allowed is for CI's load (with nats.go's ordered consumer,
	// which paused 1, 2, 4, 8 then 10 s, a replica once took over 10 s).
	waitCaughtUp(t, m, rNo, 30*time.Second)
	waitCaughtUp(t, m, rYes, 30*time.Second)
	for _, r := range []*replicaNode{rNo, rYes} {
		if got := mustQuery(t, r.addr, "GET", "k"); got != bulk("v2") {
			t.Errorf("GET on replica %s after NATS came back = %q", r.addr, got)
		}
	}
}

// TestMasterClosesDuringLogOutage closes a master right after NATS went
// away under load, with appends in flight: Close must return.
func TestMasterClosesDuringLogOutage(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "closing", nil)
	ws := startWriters(m.addr, 4)
	ws.waitMore(t, 300, 10*time.Second)
	ns.Shutdown()
	m.stop(t)
	ws.stop(t)
}

// TestMasterRefusesPartialOrNewLog: without a snapshot store, a master
// refuses a log whose first entries retention removed (it would serve part
// of the dataset, and its writes would overwrite what it lacks), and a log
// with no entry unless it is told the dataset is new.
func TestMasterRefusesPartialOrNewLog(t *testing.T) {
	ns := startNATS(t)
	lg := openLog(t, ns.URL(), "partial", false)
	if _, err := newMaster(lg, "partial", func(c *master.Config) { c.NewDataset = false }); err == nil ||
		!strings.Contains(err.Error(), "no entry in the log: refusing to start it empty") {
		t.Fatalf("master on an empty log without NewDataset: %v", err)
	}
	m := startMaster(t, ns.URL(), "partial", nil)
	mc := redistest.Dial(t, m.addr)
	for i := range 10 {
		expect(t, mc, ":"+strconv.Itoa(i+1)+"\r\n", "INCR", "ctr")
	}
	m.stop(t)
	if err := rawStream(t, ns.URL(), "partial").Purge(context.Background(), natsjs.WithPurgeSequence(6)); err != nil {
		t.Fatal(err)
	}
	_, err := newMaster(lg, "partial", nil)
	if err == nil || !strings.Contains(err.Error(), "the log starts at offset 6 and there is no snapshot store (--store): entries 1-5 are gone") {
		t.Fatalf("master on a trimmed log without a store: %v", err)
	}
	// Retention limits without a store are refused outright.
	if _, err := newMaster(lg, "partial", func(c *master.Config) { c.LogMaxAge = time.Hour }); err == nil || !strings.Contains(err.Error(), "acknowledged writes would be lost") {
		t.Fatalf("master with a log age limit and no store: %v", err)
	}
}

// TestWriteLargerThanAMessage: on a NATS server whose messages hold 1 MB,
// writes larger than that go through the log's object store and reach the
// replica and a restarted master whole. Writes, transactions and effects
// larger than one log entry may be (MaxEntryBytes, 4 MiB here; 512 MiB by
// default) are refused before they run, on their own connection only: the
// master does not fail its log and go through a rebuild, and other clients
// never notice.
func TestWriteLargerThanAMessage(t *testing.T) {
	ns, err := natsserver.Start(t.TempDir(), natsserver.WithLogger(testLogger("nats")), natsserver.WithMaxPayload(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	lg := openLogWith(t, ns.URL(), "large", false, func(c *jetstream.Config) { c.MaxEntryBytes = 4 << 20 })
	mm, err := newMaster(lg, "large", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := serveMaster(t, mm, lg)
	r := startReplica(t, ns.URL(), "large", true)
	c := redistest.Dial(t, m.addr)
	other := redistest.Dial(t, m.addr)

	// Larger than a message: stored as an object, replicated.
	big := strings.Repeat("x", 2<<20)
	expect(t, c, "+OK\r\n", "SET", "big", big)
	expect(t, c, ":3\r\n", "RPUSH", "list", strings.Repeat("a", 1500<<10), "b", "c")
	half := strings.Repeat("y", 1500<<10)
	expect(t, c, "+OK\r\n", "MULTI")
	expect(t, c, "+QUEUED\r\n", "SET", "m1", half)
	expect(t, c, "+QUEUED\r\n", "SET", "m2", half)
	if got := c.Do("EXEC"); got != "*2\r\n+OK\r\n+OK\r\n" {
		t.Fatalf("EXEC of two 1.5 MB SETs = %q", got)
	}

	// Larger than an entry: refused.
	if got := c.Do("SET", "huge", strings.Repeat("h", 5<<20)); !strings.HasPrefix(got, "-ERR ferry: this write is 5242") || !strings.Contains(got, "more than one replication log entry holds (4190208 bytes)") {
		t.Fatalf("SET of 5 MB = %q", got)
	}
	expect(t, other, "+OK\r\n", "SET", "small", "1")
	expect(t, c, "$-1\r\n", "GET", "huge")
	var push []string
	for i := range 200000 {
		push = append(push, "element-"+strconv.Itoa(i))
	}
	if got := c.Do(append([]string{"RPUSH", "list2"}, push...)...); !strings.HasPrefix(got, "-ERR ferry: this write is") {
		t.Fatalf("RPUSH of 200000 elements = %q", got)
	}
	expect(t, c, "+OK\r\n", "MULTI")
	expect(t, c, "+QUEUED\r\n", "SET", "t1", half)
	expect(t, c, "+QUEUED\r\n", "SET", "t2", half)
	if got := c.Do("SET", "t3", half); !strings.HasPrefix(got, "-ERR ferry: the transaction's writes are") {
		t.Fatalf("third 1.5 MB SET in MULTI = %q", got)
	}
	if got := c.Do("EXEC"); !strings.HasPrefix(got, "-EXECABORT") {
		t.Fatalf("EXEC after a refused write = %q", got)
	}
	expect(t, c, ":0\r\n", "EXISTS", "t1", "list2")

	// SPOP's effect names every member popped: one that would not fit is
	// refused before anything is popped.
	pad := strings.Repeat("p", 40)
	for chunk := range 5 {
		args := []string{"SADD", "set"}
		for i := range 20000 {
			args = append(args, "member-"+strconv.Itoa(chunk*20000+i)+pad)
		}
		if got := c.Do(args...); got != ":20000\r\n" {
			t.Fatalf("SADD chunk %d = %q", chunk, got)
		}
	}
	if got := c.Do("SPOP", "set", "90000"); !strings.HasPrefix(got, "-ERR ferry: this SPOP's effect would be about") {
		t.Fatalf("SPOP set 90000 = %q", got[:min(len(got), 200)])
	}
	expect(t, c, ":100000\r\n", "SCARD", "set")
	if got := c.Do("SPOP", "set", "10"); !strings.HasPrefix(got, "*10\r\n") {
		t.Fatalf("SPOP set 10 = %q", got[:min(len(got), 200)])
	}

	// Just below the limit: stored, replicated.
	near := strings.Repeat("z", 4000<<10)
	expect(t, c, "+OK\r\n", "SET", "near", near)
	waitCaughtUp(t, m, r, 20*time.Second)
	for key, n := range map[string]int{"big": len(big), "near": len(near), "m1": len(half), "m2": len(half)} {
		if got := mustQuery(t, r.addr, "STRLEN", key); got != ":"+strconv.Itoa(n)+"\r\n" {
			t.Fatalf("STRLEN %s on the replica = %q, want %d", key, got, n)
		}
	}
	want, err := digest(m.addr)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := digest(r.addr); err != nil || got != want {
		t.Fatalf("replica digest %q (%v), master %q", got, err, want)
	}
	mfs, err := m.Metrics().Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "ferry_log_failures_total" {
			found = true
			if n := mf.GetMetric()[0].GetCounter().GetValue(); n != 0 {
				t.Fatalf("%v log failures: a refused write reached the log", n)
			}
		}
	}
	if !found {
		t.Fatal("no ferry_log_failures_total metric")
	}

	// A master restarted on the dataset rebuilds the large entries too.
	m.stop(t)
	m2 := startMaster(t, ns.URL(), "large", func(c *master.Config) { c.NewDataset = false })
	if got, err := digest(m2.addr); err != nil || got != want {
		t.Fatalf("restarted master digest %q (%v), want %q", got, err, want)
	}
}

// TestLargeValueOnEmbeddedNATS: the embedded NATS server takes messages of
// up to natsserver.DefaultMaxPayload (8 MB), so a 4 MB value (Redis's own
// tests SET one) is one message; a 9 MB one goes through the object store.
// Both reach the replica.
func TestLargeValueOnEmbeddedNATS(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "bigvalue", nil)
	r := startReplica(t, ns.URL(), "bigvalue", true)
	c := redistest.Dial(t, m.addr)
	big := strings.Repeat("v", 4<<20)
	expect(t, c, "+OK\r\n", "SET", "big", big)
	waitCaughtUp(t, m, r, 10*time.Second)
	if got := mustQuery(t, r.addr, "STRLEN", "big"); got != ":4194304\r\n" {
		t.Fatalf("STRLEN big on the replica = %q", got)
	}
	if a, b := mustQuery(t, m.addr, "DEBUG", "DIGEST-VALUE", "big"), mustQuery(t, r.addr, "DEBUG", "DIGEST-VALUE", "big"); a != b {
		t.Errorf("DIGEST-VALUE big: master %q, replica %q", a, b)
	}
	expect(t, c, "+OK\r\n", "SET", "huge", strings.Repeat("h", 9<<20))
	waitCaughtUp(t, m, r, 20*time.Second)
	if got := mustQuery(t, r.addr, "STRLEN", "huge"); got != ":9437184\r\n" {
		t.Fatalf("STRLEN huge on the replica = %q", got)
	}
}

// heldLog holds a replica's reads until gate is closed.
type heldLog struct {
	*jetstream.Log
	gate chan struct{}
}

func (g heldLog) Read(ctx context.Context, from uint64, fn func(stream.Entry) error) error {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Log.Read(ctx, from, fn)
}

func (g heldLog) ReadRuns(ctx context.Context, from uint64, fn func([]stream.Entry) error) error {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Log.ReadRuns(ctx, from, fn)
}

// TestReplicaBorrowsCoresUntilCaughtUp: a replica on one Go processor
// (ferry's --procs default) uses every core while it loads and catches
// up, when it serves no reads, and gives them back once it serves.
func TestReplicaBorrowsCoresUntilCaughtUp(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("one CPU: nothing to borrow")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "cores", nil)
	for i := range 3000 {
		mustQuery(t, m.addr, "SET", fmt.Sprintf("k%d", i), "v")
	}
	lg := heldLog{Log: openLog(t, ns.URL(), "cores", true), gate: make(chan struct{})}
	r, err := replica.New(replica.Config{Addr: "127.0.0.1:0", Log: lg, Dataset: "cores", Logger: testLogger("replica")})
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	defer r.Close()
	if n := runtime.GOMAXPROCS(0); n != runtime.NumCPU() {
		t.Fatalf("loading replica runs on %d processors, want %d", n, runtime.NumCPU())
	}
	close(lg.gate)
	checkFor(t, 20*time.Second, 10*time.Millisecond, func() error {
		if state, off, _ := r.Status(); state != replica.StateStreaming || off < m.Offset() {
			return fmt.Errorf("replica %s at offset %d of %d", state, off, m.Offset())
		}
		return nil
	})
	// The replica says it streams first, then gives the cores back
	// (caughtUp): allow it the moment between the two.
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		if n := runtime.GOMAXPROCS(0); n != 1 {
			return fmt.Errorf("serving replica runs on %d processors, want 1 (--procs)", n)
		}
		return nil
	})
}
