package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/master"
	"github.com/ferrydb/ferry/replica"
	"github.com/ferrydb/ferry/stream/jetstream"
)

// TestReplicaStopsAtUndecodableEntry: a message that is not a run of RESP
// commands, published into a dataset's stream by something other than its
// master, stops the replica's apply loop at that offset with a clear error
// (in its state, INFO and log), never a skip and never a crash; none of the
// message is applied, even the well-formed command it starts with, and the
// replica goes on serving what it had. The master, which did not expect
// that append, is fenced by its next write and never acknowledges it.
func TestReplicaStopsAtUndecodableEntry(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "foreign", nil)
	r := startReplica(t, ns.URL(), "foreign", true)
	mc := redistest.Dial(t, m.addr)
	expect(t, mc, "+OK\r\n", "SET", "a", "1")
	expect(t, mc, "+OK\r\n", "SET", "b", "2")
	waitCaughtUp(t, m, r, 10*time.Second)
	last := m.Offset()

	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bad := "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\nnot RESP at all"
	ack, err := nc.Request(jetstream.Subject("foreign"), []byte(bad), 5*time.Second)
	if err != nil || !strings.Contains(string(ack.Data), `"seq":`) {
		t.Fatalf("publishing the foreign message: %v %q", err, ackData(ack))
	}

	checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if state, _, _ := r.Status(); state != replica.StateBroken {
			return fmt.Errorf("replica state %s, want broken", state)
		}
		return nil
	})
	state, off, rerr := r.Status()
	if off != last || rerr == nil || !strings.Contains(rerr.Error(), "malformed entry") ||
		!strings.Contains(rerr.Error(), "entry "+strconv.FormatUint(last+1, 10)) {
		t.Fatalf("broken at offset %d with %v; want offset %d and a malformed-entry error naming entry %d", off, rerr, last, last+1)
	}
	info := mustQuery(t, r.addr, "INFO", "replication")
	for _, want := range []string{"ferry_replica_state:broken\r\n", "ferry_replica_error:entry " + strconv.FormatUint(last+1, 10) + ": apply: malformed entry", "master_link_status:down\r\n"} {
		if !strings.Contains(info, want) {
			t.Errorf("replica INFO replication lacks %q:\n%s", want, info)
		}
	}
	if got := mustQuery(t, r.addr, "MGET", "a", "b", "x"); got != "*3\r\n"+bulk("1")+bulk("2")+"$-1\r\n" {
		t.Errorf("replica after the foreign entry (%s): MGET a b x = %q, want a and b and no x", state, got)
	}

	// The master's next write meets an append it did not make: never
	// acknowledged (the connection closes without a reply), and from then
	// on the master refuses writes as fenced.
	if got, err := query(m.addr, "SET", "c", "3"); err == nil && got == "+OK\r\n" {
		t.Fatalf("SET on the master after a foreign append = %q, want it refused", got)
	}
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		got, err := query(m.addr, "SET", "c", "3")
		if err != nil || !strings.HasPrefix(got, "-READONLY ") || !strings.Contains(got, "fenced") {
			return fmt.Errorf("SET on the fenced master = %q, %v; want -READONLY ... fenced", got, err)
		}
		return nil
	})

	// A master started on the dataset cannot rebuild past the entry: it
	// refuses to start, naming it, rather than start without it.
	m.stop(t)
	lg := openLog(t, ns.URL(), "foreign", false)
	if _, err := newMaster(lg, "foreign", func(c *master.Config) { c.NewDataset = false }); err == nil ||
		!strings.Contains(err.Error(), "malformed entry") || !strings.Contains(err.Error(), strconv.FormatUint(last+1, 10)) {
		t.Fatalf("master started on a log with a foreign entry at %d: %v; want a refusal naming it", last+1, err)
	}
}

func ackData(m *nats.Msg) string {
	if m == nil {
		return ""
	}
	return string(m.Data)
}
