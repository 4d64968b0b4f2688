package e2e

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/master"
	"github.com/ferrydb/ferry/replica"
	"github.com/ferrydb/ferry/snapshot"
	"github.com/ferrydb/ferry/stream"
	"github.com/ferrydb/ferry/stream/jetstream"
)

// TestReplicaStopsWhenLogReplaced: the dataset's stream is deleted and
// created again while a replica follows it, and a new master writes more
// entries to the new stream than the replica had applied. The new stream
// counts offsets from 1 again, so the replica's next offset names one of
// the new master's entries: the replica must stop (state broken, the
// reason in INFO) instead of applying them on top of the old dataset, and
// go on serving what it had. The old master, whose log it is no longer,
// never acknowledges another write.
func TestReplicaStopsWhenLogReplaced(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "replaced", nil)
	r := startReplica(t, ns.URL(), "replaced", true)
	setKeys(t, m.addr, "old", 5)
	waitCaughtUp(t, m, r, 10*time.Second)
	reached := r.Offset()

	m2 := replaceLog(t, ns.URL(), "replaced", 3*int(reached))

	checkFor(t, 15*time.Second, 10*time.Millisecond, func() error {
		if state, _, _ := r.Status(); state != replica.StateBroken {
			return fmt.Errorf("replica state %s, want broken", state)
		}
		return nil
	})
	_, off, rerr := r.Status()
	if off != reached || !errors.Is(rerr, stream.ErrReplaced) {
		t.Fatalf("replica stopped at offset %d with %v; want offset %d and ErrReplaced", off, rerr, reached)
	}
	info := mustQuery(t, r.addr, "INFO", "replication")
	for _, want := range []string{"ferry_replica_state:broken\r\n", "ferry_replica_error:", "deleted and created again", "master_link_status:down\r\n"} {
		if !strings.Contains(info, want) {
			t.Errorf("replica INFO replication lacks %q:\n%s", want, info)
		}
	}
	if got := mustQuery(t, r.addr, "DBSIZE"); got != ":5\r\n" {
		t.Errorf("replica DBSIZE after the log was replaced = %q, want :5 (its own keys, none of the new log's)", got)
	}
	if got := mustQuery(t, r.addr, "EXISTS", "new0", "new1"); got != ":0\r\n" {
		t.Errorf("replica EXISTS new0 new1 = %q: it applied the new log's entries", got)
	}

	// The old master's next write cannot land in its log: never
	// acknowledged, then refused while it cannot rebuild.
	if got, err := query(m.addr, "SET", "late", "1"); err == nil && got == "+OK\r\n" {
		t.Fatalf("SET on the master whose log was replaced = %q, want it refused", got)
	}
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		got, err := query(m.addr, "SET", "late", "1")
		if err != nil || !strings.HasPrefix(got, "-") {
			return fmt.Errorf("SET on the master whose log was replaced = %q, %v; want an error", got, err)
		}
		return nil
	})
	if got := mustQuery(t, m2.addr, "EXISTS", "late"); got != ":0\r\n" {
		t.Errorf("the old master's refused write reached the new log: EXISTS late = %q", got)
	}
}

// TestMasterSnapshotRefusedWhenLogReplaced: a master whose dataset's stream
// was deleted and created again (and written past its offset by another
// master) refuses to write a snapshot: labelled with its offset, the
// snapshot would be taken for the new log's, and replayed from there.
func TestMasterSnapshotRefusedWhenLogReplaced(t *testing.T) {
	ns := startNATS(t)
	st := fsStore(t)
	m := startMaster(t, ns.URL(), "resnap", func(c *master.Config) {
		c.Store, c.NoShutdownSnapshot = st, true
	})
	setKeys(t, m.addr, "old", 5)
	first, err := m.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("snapshot before the log was replaced: %v", err)
	}
	setKeys(t, m.addr, "more", 1)

	replaceLog(t, ns.URL(), "resnap", 20)

	if info, err := m.Snapshot(context.Background()); !errors.Is(err, stream.ErrReplaced) {
		t.Fatalf("snapshot after the log was replaced = %v, %v; want ErrReplaced", info, err)
	}
	list, err := st.List(context.Background(), "resnap")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Offset != first.Offset {
		t.Fatalf("snapshots in the store: %v; want only the one at offset %d", list, first.Offset)
	}
}

// setKeys sets n keys, prefix0 to prefix<n-1>, on the server at addr.
func setKeys(t *testing.T, addr, prefix string, n int) {
	t.Helper()
	c := redistest.Dial(t, addr)
	for i := range n {
		expect(t, c, "+OK\r\n", "SET", prefix+strconv.Itoa(i), "1")
	}
}

// replaceLog deletes dataset's stream and starts a master (without a
// store) that makes it again and writes n keys, new0 to new<n-1>: a new
// log whose offsets 1 to n are other entries than the old log's.
func replaceLog(t *testing.T, url, dataset string, n int) *masterNode {
	t.Helper()
	deleteStream(t, url, dataset)
	m := startMaster(t, url, dataset, nil)
	setKeys(t, m.addr, "new", n)
	return m
}

// deleteStream deletes dataset's stream, as an operator would with
// `nats stream rm`.
func deleteStream(t *testing.T, url, dataset string) {
	t.Helper()
	if err := rawJS(t, url).DeleteStream(context.Background(), jetstream.StreamName(dataset)); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotOfAnotherLogRefused: snapshots record the log they were
// taken on. After the dataset's stream is deleted and made again (and
// written past the snapshot's offset by a master without the store), a
// new replica bootstrapping from the store, and a master recovering from
// it, refuse the old log's snapshot rather than follow the new log from
// its offset: the replica stays -LOADING, saying why, and the master does
// not start.
func TestSnapshotOfAnotherLogRefused(t *testing.T) {
	ns := startNATS(t)
	st := fsStore(t)
	m := startMaster(t, ns.URL(), "relife", func(c *master.Config) {
		c.Store, c.NoShutdownSnapshot = st, true
	})
	setKeys(t, m.addr, "old", 5)
	info, err := m.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m.stop(t)

	replaceLog(t, ns.URL(), "relife", 20)

	r := startStoreReplica(t, ns.URL(), "relife", st)
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if _, _, err := r.Status(); !errors.Is(err, snapshot.ErrOtherLog) {
			return fmt.Errorf("replica error %v, want ErrOtherLog", err)
		}
		return nil
	})
	expectLoading(t, r.replicaNode, 300*time.Millisecond)
	if i := mustQuery(t, r.addr, "INFO", "replication"); !strings.Contains(i, "taken on another log") {
		t.Errorf("replica INFO replication does not say why it is loading:\n%s", i)
	}

	_, err = newMaster(openLog(t, ns.URL(), "relife", false), "relife", func(c *master.Config) { c.Store, c.NewDataset = st, false })
	if !errors.Is(err, snapshot.ErrOtherLog) || !strings.Contains(err.Error(), info.String()) {
		t.Fatalf("master recovering from another log's snapshot %s: %v; want a refusal naming it", info, err)
	}
}

// TestStaleMasterStopsWhenLogReplaced: the dataset's stream is deleted and
// made again, and a new master writes exactly as many entries as the old
// one had, so the old master's next append would pass its fence on the new
// stream (JetStream checks no stream identity on an append). The old
// master notices the replaced log by itself within about a second and
// stops taking writes before any lands.
func TestStaleMasterStopsWhenLogReplaced(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "stale", nil)
	setKeys(t, m.addr, "old", 5)
	ctx := context.Background()
	last, err := m.log.Last(ctx)
	if err != nil {
		t.Fatal(err)
	}

	m2 := replaceLog(t, ns.URL(), "stale", int(last))

	// No write is sent to the old master until it has stopped: one sent
	// earlier would be appended at the new stream's end. A master that
	// stopped for its log answers reads with -LOADING.
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		got, err := query(m.addr, "GET", "old0")
		if err != nil || !strings.HasPrefix(got, "-LOADING") {
			return fmt.Errorf("GET on the old master = %q, %v; want -LOADING", got, err)
		}
		return nil
	})
	if got := mustQuery(t, m.addr, "SET", "late", "1"); !strings.HasPrefix(got, "-") {
		t.Fatalf("SET on the old master after its log was replaced = %q, want an error", got)
	}
	lg := openLog(t, ns.URL(), "stale", true)
	if now, err := lg.Last(ctx); err != nil || now != last {
		t.Fatalf("the new stream's last offset = %d, %v; want %d (nothing of the old master's)", now, err, last)
	}
	if got := mustQuery(t, m2.addr, "SET", "after", "1"); got != "+OK\r\n" {
		t.Fatalf("the new master's write after the old one stopped = %q, want +OK", got)
	}
}
