//go:build linux

package server_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
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
// per connection.
//
// FERRY_CHAOS_SEED replays one seed, FERRY_CHAOS_STEPS sets the steps per
// client (default 80).
func TestLoopChaosDurable(t *testing.T) {
	seed, steps := chaosParams(t)
	if os.Getenv("FERRY_CHAOS_STEPS") == "" {
		steps = 80
	}
	for _, mode := range []struct {
		name string
		loop bool
	}{{"loop", true}, {"goroutines", false}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Logf("seed %d, %d steps per client (FERRY_CHAOS_SEED, FERRY_CHAOS_STEPS)", seed, steps)
			runChaosDurable(t, mode.loop, seed, steps)
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

func runChaosDurable(t *testing.T, useLoop bool, seed uint64, steps int) {
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

	sh := &chaosShared{addr: addr}
	clients := make([]*chaosClient, chaosClients)
	var wg sync.WaitGroup
	errs := make(chan error, chaosClients)
	for i := range clients {
		clients[i] = &chaosClient{id: i, sh: sh, rng: rand.New(rand.NewPCG(seed, uint64(i)+2000))}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := clients[i].run(steps); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	last, lastErr := lg.Last(ctx)
	cancel()
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	for _, c := range clients {
		c.close()
	}
	if lastErr != nil {
		t.Fatalf("the log's last offset: %v", lastErr)
	}
	checkChaosEnd(t, sh, clients)
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
	sh.addr = raddr // the same checks, on the replica
	checkChaosEnd(t, sh, clients)
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
