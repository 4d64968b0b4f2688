package e2e

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ferrydb/ferry/replica"
	"github.com/ferrydb/ferry/stream"
)

// TestWaitAsksTheReplicas runs a replica that acknowledges nothing by
// itself (its periodic acknowledgements an hour apart): WAIT still counts
// it, because the master asks for acknowledgements (as Redis's REPLCONF
// GETACK) and the replica answers once it has applied the write.
func TestWaitAsksTheReplicas(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "getack", nil)
	rn := startReplicaWith(t, ns.URL(), "getack", true, func(c *replica.Config) { c.AckEvery = time.Hour })

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
	var acks, advanced atomic.Int64
	var last atomic.Uint64
	sub, err := nc.Subscribe("ferry.rationed.acks", func(msg *nats.Msg) {
		var a stream.Ack
		if json.Unmarshal(msg.Data, &a) == nil {
			acks.Add(1)
			if a.Offset > last.Swap(a.Offset) {
				advanced.Add(1)
			}
		}
	})
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
	n, moved := acks.Load(), advanced.Load()
	t.Logf("%d acknowledgements during %v of writes (%d writes), %d of them further on", n, elapsed.Round(time.Millisecond), writes, moved)
	if most := int64(elapsed/(100*time.Millisecond)) + 3; n > most {
		t.Fatalf("%d acknowledgements during %v of writes: want at most %d", n, elapsed, most)
	}
	if moved < 2 {
		t.Fatalf("%d of %d acknowledgements showed the replica further on: want at least 2 (it follows)", moved, n)
	}
}

// TestWaitCountsTheClientsOwnWrites checks WAIT's target as Redis sets it:
// the client's own last write. A client whose write the replica applied
// before it stopped counts the replica even after another client wrote
// more; the other client does not (its WAIT times out with 0); a client
// that never wrote counts every replica at once.
func TestWaitCountsTheClientsOwnWrites(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "ownwrites", nil)
	r := startReplica(t, ns.URL(), "ownwrites", true)
	a, err := dial(m.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	replies, err := a.pipeline([][]string{{"SET", "a", "1"}, {"WAIT", "1", "20000"}})
	if err != nil || replies[1] != ":1\r\n" {
		t.Fatalf("SET then WAIT 1 20000: %q, %v", replies, err)
	}
	r.stop(t) // the master remembers its last acknowledgement for 30 s

	b, err := dial(m.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	if got, err := b.pipeline([][]string{{"SET", "b", "2"}, {"WAIT", "1", "300"}}); err != nil || got[1] != ":0\r\n" {
		t.Fatalf("another client's SET then WAIT 1 300 with the replica gone: %q, %v", got, err)
	}
	if got, err := a.do("WAIT", "1", "20000"); err != nil || got != ":1\r\n" {
		t.Fatalf("WAIT 1 20000 of the client whose write the replica applied: %q, %v (want :1 at once: its own write is applied)", got, err)
	}
	c, err := dial(m.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if got, err := c.do("WAIT", "1", "20000"); err != nil || got != ":1\r\n" {
		t.Fatalf("WAIT 1 20000 of a client that never wrote: %q, %v", got, err)
	}
}
