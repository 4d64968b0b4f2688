package e2e

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/replica"
)

// TestWaitAsksTheReplicas runs a replica that acknowledges nothing by
// itself (its periodic acknowledgements an hour apart): WAIT still counts
// it, because the master asks for acknowledgements (as Redis's REPLCONF
// GETACK) and the replica answers once it has applied the write.
func TestWaitAsksTheReplicas(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "getack", nil)
	lg := openLog(t, ns.URL(), "getack", true)
	r, err := replica.New(replica.Config{
		Addr: "127.0.0.1:0", Log: lg, Dataset: "getack", Version: "e2e", ServeStaleData: true,
		Logger: testLogger("replica"), AckEvery: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	rn := &replicaNode{node: node{addr: r.Addr().String(), done: make(chan error, 1), close: r.Close}, Replica: r, log: lg}
	go func() { rn.done <- r.Serve(context.Background()) }()
	t.Cleanup(func() { rn.stop(t) })
	redistest.WaitPing(t, rn.addr)

	c, err := dial(m.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	for i := range 3 {
		replies, err := c.pipeline([][]string{{"SET", "k", "v"}, {"INCR", "n"}, {"WAIT", "1", "20000"}})
		if err != nil {
			t.Fatal(err)
		}
		if replies[2] != ":1\r\n" {
			t.Fatalf("round %d: WAIT 1 20000 = %q, want :1", i, replies[2])
		}
	}
	if info := mustQuery(t, m.addr, "INFO", "replication"); !strings.Contains(info, "connected_slaves:1\r\n") {
		t.Fatalf("the master does not list the replica that answered its WAITs:\n%s", info)
	}
	if got := mustQuery(t, rn.addr, "GET", "n"); got != ":3\r\n" && got != "$1\r\n3\r\n" {
		t.Fatalf("replica GET n = %q, want 3", got)
	}
}

// TestReplicaAcksAreRationed counts a following replica's acknowledgements
// while a client writes without pause for a second: about ten (one per
// 100 ms when the offset moved), not one per entry nor one per 10 ms.
func TestReplicaAcksAreRationed(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "rationed", nil)
	startReplica(t, ns.URL(), "rationed", true)
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var acks atomic.Int64
	sub, err := nc.Subscribe("ferry.rationed.acks", func(*nats.Msg) { acks.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	nc.Flush()

	c, err := dial(m.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	start := time.Now()
	writes := 0
	for time.Since(start) < time.Second {
		if _, err := c.pipeline([][]string{{"INCR", "n"}, {"INCR", "n"}}); err != nil {
			t.Fatal(err)
		}
		writes += 2
	}
	elapsed := time.Since(start)
	n := acks.Load()
	t.Logf("%d acknowledgements during %v of writes (%d writes)", n, elapsed.Round(time.Millisecond), writes)
	if most := int64(elapsed/(100*time.Millisecond)) + 3; n > most || n == 0 {
		t.Fatalf("%d acknowledgements during %v of writes: want 1 to %d", n, elapsed, most)
	}
}
