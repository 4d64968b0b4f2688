package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ferrydb/ferry/master"
	"github.com/ferrydb/ferry/replica"
	"github.com/ferrydb/ferry/snapshot"
	"github.com/ferrydb/ferry/stream/jetstream"
)

// TestReplicaTakesSnapshots: a replica with TakeSnapshots writes the
// snapshots of a master that takes none, while clients write on the
// master: each snapshot is the dataset at exactly its offset (it plus the
// log after it gives the master's final DEBUG DIGEST), BGSAVE, LASTSAVE
// and INFO persistence work on the replica, retention keeps the newest
// two and trims the log below them, and a master restarted on the dataset
// recovers from the replica's newest snapshot.
func TestReplicaTakesSnapshots(t *testing.T) {
	ns := startNATS(t)
	st := fsStore(t)
	const ds = "replsnap"
	mcfg := func(c *master.Config) {
		c.Store, c.NewDataset, c.NoShutdownSnapshot = st, true, true
		c.SnapshotInterval, c.SnapshotAfterWrites, c.SnapshotKeep = 0, 0, 0
	}
	m := startMaster(t, ns.URL(), ds, mcfg)
	w := &workload{rng: rand.New(rand.NewPCG(7, 8)), keys: 300, zsets: true, ttls: true}
	c, err := dial(m.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	for range 10 {
		if _, err := c.pipeline(w.batch(100)); err != nil {
			t.Fatal(err)
		}
	}
	r := startReplicaWith(t, ns.URL(), ds, true, func(c *replica.Config) {
		c.Store, c.TakeSnapshots = st, true
		c.SnapshotInterval, c.SnapshotAfterWrites, c.SnapshotKeep = 0, 0, 2
	})
	waitCaughtUp(t, m, r, 20*time.Second)
	if got := mustQuery(t, r.addr, "INFO", "persistence"); !strings.Contains(got, "rdb_saves:0\r\n") {
		t.Fatalf("INFO persistence on the replica before any BGSAVE: %q", got)
	}

	// From here on every entry holds only writes that applied twice
	// leave another dataset (RPUSH of a new value, INCR), and active
	// expiry appends no DELs: a snapshot labelled with an offset other
	// than its own gives another digest once the log after it is applied.
	mustQuery(t, m.addr, "DEBUG", "SET-ACTIVE-EXPIRE", "0")
	stop := pipelineWriters(t, m.addr, 2, func(i, n int) [][]string {
		cmds := [][]string{{"INCR", fmt.Sprint("ctr:", i)}}
		for j := range 10 {
			cmds = append(cmds, []string{"RPUSH", fmt.Sprint("events:", j%3), fmt.Sprint(i, ":", n, ":", j)})
		}
		return cmds
	})
	// Three BGSAVEs on the replica while the master's clients write. The
	// taker is busy until the last one's retention is done, after INFO
	// shows it saved: BGSAVE may say so.
	for i := 1; i <= 3; i++ {
		time.Sleep(100 * time.Millisecond)
		checkFor(t, 20*time.Second, 20*time.Millisecond, func() error {
			if got := mustQuery(t, r.addr, "BGSAVE"); got != "+Background saving started\r\n" {
				if got == "-ERR Background save already in progress\r\n" {
					return errors.New("busy")
				}
				t.Fatalf("BGSAVE %d on the replica = %q", i, got)
			}
			return nil
		})
		checkFor(t, 20*time.Second, 20*time.Millisecond, func() error {
			got := mustQuery(t, r.addr, "INFO", "persistence")
			if !strings.Contains(got, fmt.Sprintf("rdb_saves:%d\r\n", i)) || !strings.Contains(got, "rdb_bgsave_in_progress:0\r\n") {
				return errors.New("BGSAVE not done: " + got)
			}
			return nil
		})
	}
	stop()
	if got := mustQuery(t, r.addr, "LASTSAVE"); got == ":0\r\n" || !regexp.MustCompile(`^:\d+\r\n$`).MatchString(got) {
		t.Errorf("LASTSAVE on the replica = %q", got)
	}
	if got := mustQuery(t, m.addr, "INFO", "persistence"); !strings.Contains(got, "rdb_saves:0\r\n") {
		t.Errorf("the master took snapshots itself: %q", got)
	}

	final, want := stableDigest(t, m)
	ctx := context.Background()
	var list []snapshot.Info
	checkFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		var err error
		if list, err = st.List(ctx, ds); err != nil || len(list) != 2 {
			return fmt.Errorf("List: %v, %v; want the newest 2 of the replica's 3 snapshots", list, err)
		}
		if first, err := m.log.First(ctx); err != nil || first != list[0].Offset+1 {
			return fmt.Errorf("log starts at %d (%v), want %d: trimmed below the oldest snapshot kept", first, err, list[0].Offset+1)
		}
		return nil
	})
	for _, info := range list {
		if got := snapshotPlusLog(t, st, info, m.log, final); got != want {
			t.Errorf("snapshot %s + log up to %d: digest %s, master %s", info, final, got, want)
		}
	}
	newest, err := st.Newest(ctx, ds)
	if err != nil || newest.Key != list[1].Key {
		t.Fatalf("manifest names %v (%v), want the replica's newest, %s", newest, err, list[1].Key)
	}

	// A master started on the dataset now loads the replica's snapshot
	// and replays the log after it.
	waitCaughtUp(t, m, r, 20*time.Second)
	m.stop(t)
	m2 := startMaster(t, ns.URL(), ds, mcfg)
	if d, err := digest(m2.addr); err != nil || d != want {
		t.Fatalf("restarted master digest %s (%v), want %s", d, err, want)
	}
	if got := mustQuery(t, m2.addr, "SET", "after", "restart"); got != "+OK\r\n" {
		t.Fatalf("SET on the restarted master = %q", got)
	}
	waitCaughtUp(t, m2, r, 20*time.Second)
}

// TestReplicaSnapshotRefusals: a replica without TakeSnapshots answers
// BGSAVE as a node without a store does; one that takes them writes
// nothing while it cannot vouch for its dataset at its offset (broken by
// an entry it could not apply), and says why; and one cannot be
// configured without a store.
func TestReplicaSnapshotRefusals(t *testing.T) {
	ns := startNATS(t)
	st := fsStore(t)
	const ds = "replsnapno"
	m := startMaster(t, ns.URL(), ds, func(c *master.Config) { c.Store, c.NoShutdownSnapshot = st, true })
	mustQuery(t, m.addr, "SET", "k", "v")
	plain := startReplicaWith(t, ns.URL(), ds, true, func(c *replica.Config) { c.Store = st })
	taking := startReplicaWith(t, ns.URL(), ds, true, func(c *replica.Config) {
		c.Store, c.TakeSnapshots, c.SnapshotInterval, c.SnapshotAfterWrites = st, true, 0, 0
	})
	waitCaughtUp(t, m, plain, 20*time.Second)
	waitCaughtUp(t, m, taking, 20*time.Second)
	if got := mustQuery(t, plain.addr, "BGSAVE"); !strings.HasPrefix(got, "-ERR ") {
		t.Errorf("BGSAVE on a replica without TakeSnapshots = %q, want an error", got)
	}

	// An entry the replicas cannot apply: they stop, broken.
	nc, err := nats.Connect(ns.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Request(jetstream.Subject(ds), []byte("not RESP at all"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if state, _, _ := taking.Status(); state != replica.StateBroken {
			return fmt.Errorf("replica state %s, want broken", state)
		}
		return nil
	})
	if got := mustQuery(t, taking.addr, "BGSAVE"); got != "-ERR ferry: no snapshot while the replica is broken\r\n" {
		t.Errorf("BGSAVE on a broken replica = %q", got)
	}
	if list, err := st.List(context.Background(), ds); err != nil || len(list) != 0 {
		t.Errorf("snapshots in the store: %v, %v; want none", list, err)
	}

	if _, err := replica.New(replica.Config{Log: taking.log, Dataset: ds, TakeSnapshots: true}); err == nil {
		t.Error("a replica taking snapshots without a store was configured")
	}
}
