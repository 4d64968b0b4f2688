//go:build linux

package server_test

import (
	"bufio"
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/master"
	"github.com/ferrydb/ferry/replica"
	"github.com/ferrydb/ferry/stream/jetstream"
	"github.com/ferrydb/ferry/stream/natsserver"
)

// TestLoopChaosDurable runs TestLoopChaos's clients against a real master
// with --ack durable on an embedded NATS JetStream, so that the replies
// the event loop holds until the log has stored their writes (the loop's
// waiting connections, checkWaiting, the ack poller and logProgress) meet
// pipelines cut anywhere, BLPOP, MULTI, EVAL, CLIENT PAUSE and abrupt
// closes. At the end every client's keys are as its model says on the
// master, the log's last offset read as the clients finished is all the
// master ever stores (a reply sent before its write was stored would show
// as a later entry), and a replica that replays the log shows the same
// counters and lists and the same DEBUG DIGEST: no acknowledged write is
// missing from the log. It runs with the event loop and with a goroutine
// per connection, and then TestLoopChaosHandOffs's clients (tracking,
// MONITOR, CLIENT REPLY, WATCH conflicts, the tiny output limit) on the
// event loop.
//
// FERRY_CHAOS_SEED replays one seed, FERRY_CHAOS_STEPS sets the steps per
// client (default 40).
func TestLoopChaosDurable(t *testing.T) {
	seed, steps := chaosParams(t)
	if os.Getenv("FERRY_CHAOS_STEPS") == "" {
		steps = 40
	}
	for _, mode := range []struct {
		name           string
		loop, handOffs bool
	}{{"loop", true, false}, {"goroutines", false, false}, {"loop-handoffs", true, true}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Logf("seed %d, %d steps per client (FERRY_CHAOS_SEED, FERRY_CHAOS_STEPS)", seed, steps)
			runChaosDurable(t, mode.loop, mode.handOffs, seed, steps)
		})
	}
}

// quietLogger discards the nodes' logs.
var quietLogger = slog.New(slog.DiscardHandler)

// openChaosLog opens the dataset's log on the NATS server at url, closed
// when the test ends.
func openChaosLog(t *testing.T, url string, readOnly bool) *jetstream.Log {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	name := "ferry-master"
	if readOnly {
		name = "ferry-replica"
	}
	l, err := jetstream.Open(ctx, jetstream.Config{
		URL: url, Dataset: "chaos", ReadOnly: readOnly, Timeout: 2 * time.Second, Name: name, Logger: quietLogger,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// chaosRun is a run of chaos clients: TestLoopChaos's (plainRun) or
// TestLoopChaosHandOffs's (handOffRun).
type chaosRun interface {
	// run runs every client's steps at once and returns their errors.
	run(steps int) []error
	// check checks every client's keys on the server at addr.
	check(t *testing.T, addr string)
	// close closes the clients' connections.
	close()
}

// plainRun is a run of TestLoopChaos's clients.
type plainRun struct {
	sh      *chaosShared
	clients []*chaosClient
}

// newPlainRun makes the clients of a server at addr, their random choices
// drawn from seed.
func newPlainRun(addr string, seed uint64) *plainRun {
	r := &plainRun{sh: &chaosShared{addr: addr}, clients: make([]*chaosClient, chaosClients)}
	for i := range r.clients {
		r.clients[i] = &chaosClient{id: i, sh: r.sh, rng: rand.New(rand.NewPCG(seed, uint64(i)+2000))}
	}
	return r
}

func (r *plainRun) run(steps int) []error {
	return runClients(len(r.clients), func(i int) error { return r.clients[i].run(steps) })
}

func (r *plainRun) check(t *testing.T, addr string) {
	t.Helper()
	was := r.sh.addr
	r.sh.addr = addr
	defer func() { r.sh.addr = was }()
	checkChaosEnd(t, r.sh, r.clients)
}

func (r *plainRun) close() {
	for _, c := range r.clients {
		c.close()
	}
}

func runChaosDurable(t *testing.T, useLoop, handOffs bool, seed uint64, steps int) {
	ns, err := natsserver.Start(t.TempDir(), natsserver.WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	lg := openChaosLog(t, ns.URL(), false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	m, err := master.New(ctx, master.Config{
		Addr: "127.0.0.1:0", Log: lg, Dataset: "chaos", Version: "chaos", Logger: quietLogger,
		NewDataset: true, Ack: master.AckDurable, ConnGoroutines: !useLoop,
	})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	startNode(t, m.Serve, m.Close)
	addr := m.Addr().String()
	redistest.WaitPing(t, addr)

	var run chaosRun = newPlainRun(addr, seed)
	if handOffs {
		run = newHandOffRun(addr, seed)
	}
	errs := run.run(steps)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	last, lastErr := lg.Last(ctx)
	cancel()
	for _, err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	run.close()
	if lastErr != nil {
		t.Fatalf("the log's last offset: %v", lastErr)
	}
	run.check(t, addr)
	// Nothing was written after the clients had their replies: the log
	// already held all the master stores.
	time.Sleep(50 * time.Millisecond)
	if off := m.Offset(); off != last {
		t.Errorf("the master stored up to offset %d, the log held %d when the clients had all their replies", off, last)
	}
	r, err := replica.New(replica.Config{
		Addr: "127.0.0.1:0", Log: openChaosLog(t, ns.URL(), true), Dataset: "chaos", Version: "chaos", Logger: quietLogger,
	})
	if err != nil {
		t.Fatal(err)
	}
	startNode(t, r.Serve, r.Close)
	raddr := r.Addr().String()
	redistest.WaitPing(t, raddr)
	waitReplica(t, r, m.Offset())
	run.check(t, raddr) // the same checks, on the replica
	if md, rd := chaosDigest(t, addr), chaosDigest(t, raddr); md != rd {
		t.Errorf("DEBUG DIGEST: master %s, replica %s", md, rd)
	}
}

// startNode serves a node until the test ends; Close must then make
// Serve return within 15s.
func startNode(t *testing.T, serve func(context.Context) error, stop func() error) {
	done := make(chan struct{})
	go func() {
		serve(context.Background())
		close(done)
	}()
	t.Cleanup(func() {
		go stop()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("a node did not stop within 15s of Close")
		}
	})
}

// waitReplica waits until the replica has applied the log up to off.
func waitReplica(t *testing.T, r *replica.Replica, off uint64) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		state, roff, err := r.Status()
		if state == replica.StateBroken {
			t.Fatalf("replica broken at offset %d: %v", roff, err)
		}
		if roff >= off {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica at offset %d (%s, %v), want %d", roff, state, err, off)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// chaosDigest returns addr's DEBUG DIGEST.
func chaosDigest(t *testing.T, addr string) string {
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write(encode("DEBUG", "DIGEST")); err != nil {
		t.Fatal(err)
	}
	b, err := redistest.ReadReply(bufio.NewReader(nc))
	if err != nil || !strings.HasPrefix(string(b), "+") {
		t.Fatalf("DEBUG DIGEST on %s: %q, %v", addr, b, err)
	}
	return strconv.Quote(string(b[1 : len(b)-2]))
}
