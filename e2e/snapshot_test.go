package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/replica"
	"github.com/ferrydb/ferry/snapshot"
	"github.com/ferrydb/ferry/snapshot/fs"
	"github.com/ferrydb/ferry/snapshot/rdb"
	"github.com/ferrydb/ferry/snapshot/s3"
	"github.com/ferrydb/ferry/stream"
	"github.com/ferrydb/ferry/stream/jetstream"
)

const errLoading = "-LOADING Redis is loading the dataset in memory\r\n"

// gatedLog is a replica's log that records where each Read starts and
// that the test can pause: a paused log fails every Read at once (as a
// link that is down), so that the replica falls behind.
type gatedLog struct {
	*jetstream.Log

	mu      sync.Mutex
	paused  bool
	cancels map[int]context.CancelFunc
	next    int
	froms   []uint64 // the from of every Read, in order
}

var errPaused = errors.New("test: log paused")

func (g *gatedLog) Read(ctx context.Context, from uint64, fn func(stream.Entry) error) error {
	return g.gated(ctx, from, func(ctx context.Context) error { return g.Log.Read(ctx, from, fn) })
}

// ReadRuns is gated as Read is (the replica reads runs when the log can).
func (g *gatedLog) ReadRuns(ctx context.Context, from uint64, fn func([]stream.Entry) error) error {
	return g.gated(ctx, from, func(ctx context.Context) error { return g.Log.ReadRuns(ctx, from, fn) })
}

// gated runs read, a read of the log from offset from, unless paused.
func (g *gatedLog) gated(ctx context.Context, from uint64, read func(context.Context) error) error {
	g.mu.Lock()
	if g.paused {
		g.mu.Unlock()
		return errPaused
	}
	g.froms = append(g.froms, from)
	ctx, cancel := context.WithCancel(ctx)
	id := g.next
	g.next++
	if g.cancels == nil {
		g.cancels = map[int]context.CancelFunc{}
	}
	g.cancels[id] = cancel
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.cancels, id)
		g.mu.Unlock()
		cancel()
	}()
	err := read(ctx)
	g.mu.Lock()
	paused := g.paused
	g.mu.Unlock()
	if paused && errors.Is(err, context.Canceled) {
		return errPaused
	}
	return err
}

// pause makes Read fail, ending the Reads under way, and returns once they
// have returned: no entry appended after pause reaches the replica before
// resume (on a busy machine a Read could otherwise apply one before it
// noticed its cancellation).
func (g *gatedLog) pause() {
	g.mu.Lock()
	g.paused = true
	for _, cancel := range g.cancels {
		cancel()
	}
	g.mu.Unlock()
	for {
		g.mu.Lock()
		n := len(g.cancels)
		g.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func (g *gatedLog) resume() {
	g.mu.Lock()
	g.paused = false
	g.mu.Unlock()
}

// readsFrom returns the from of every Read so far.
func (g *gatedLog) readsFrom() []uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]uint64(nil), g.froms...)
}

// storeReplica is a replica with a snapshot store, on a gatedLog.
type storeReplica struct {
	*replicaNode
	gate *gatedLog
}

// startStoreReplica starts a replica of dataset that bootstraps from st
// (nil: no store).
func startStoreReplica(tb testing.TB, url, dataset string, st snapshot.Store) *storeReplica {
	tb.Helper()
	return startStoreReplicaOn(tb, openLog(tb, url, dataset, true), dataset, st)
}

// startStoreReplicaOn is startStoreReplica on a log opened by the caller.
func startStoreReplicaOn(tb testing.TB, lg *jetstream.Log, dataset string, st snapshot.Store) *storeReplica {
	tb.Helper()
	gate := &gatedLog{Log: lg}
	r, err := replica.New(replica.Config{
		Addr: "127.0.0.1:0", Log: gate, Dataset: dataset, Version: "e2e",
		ServeStaleData: true, Logger: testLogger("replica"), Store: st,
	})
	if err != nil {
		tb.Fatal(err)
	}
	n := &replicaNode{node: node{addr: r.Addr().String(), done: make(chan error, 1), close: r.Close}, Replica: r, log: gate.Log}
	go func() { n.done <- r.Serve(context.Background()) }()
	tb.Cleanup(func() { n.stop(tb) })
	// A loading replica answers PING with -LOADING, as Redis does.
	checkFor(tb, 10*time.Second, 20*time.Millisecond, func() error {
		got, err := query(n.addr, "PING")
		if err == nil && got != "+PONG\r\n" && got != errLoading {
			err = fmt.Errorf("PING = %q", got)
		}
		return err
	})
	return &storeReplica{replicaNode: n, gate: gate}
}

// newFSStore returns a file store on a fresh directory.
func newFSStore(tb testing.TB) *fs.Store {
	tb.Helper()
	st, err := fs.New(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// writeSnapshot writes the master's dataset into st as a snapshot at the
// master's offset, under the engine lock (no write runs meanwhile; the
// caller has no write in flight, so every applied write is stored at or
// below that offset). It returns the snapshot and the number of keys.
func writeSnapshot(tb testing.TB, m *masterNode, st snapshot.Store, dataset, gen string) (snapshot.Info, int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := m.Engine()
	e.Lock()
	defer e.Unlock()
	off := m.Offset()
	ks := e.Keyspace()
	keys := 0
	for i := range keyspace.NumDBs {
		keys += ks.DB(i).Len()
	}
	info, err := snapshot.Write(ctx, st, snapshot.Info{Dataset: dataset, Offset: off, Generation: gen}, func(w io.Writer) error {
		return rdb.Encode(ks, w, rdb.Meta{Offset: off, Generation: gen, Dataset: dataset})
	})
	if err != nil {
		tb.Fatal(err)
	}
	return info, keys
}

// fill writes n rounds of keys of every type, tagged tag, in databases 0
// to 2, some with an expiry far away, and fails on any error reply.
func fill(tb testing.TB, addr, tag string, n int) {
	tb.Helper()
	c, err := dial(addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.close()
	var cmds [][]string
	for i := range n {
		s := strconv.Itoa(i)
		cmds = append(cmds,
			[]string{"SELECT", strconv.Itoa(i % 3)},
			[]string{"SET", tag + ":s:" + s, tag + "-" + s},
			[]string{"HSET", tag + ":h:" + strconv.Itoa(i%10), "f" + s, s},
			[]string{"RPUSH", tag + ":l:" + strconv.Itoa(i%7), s},
			[]string{"SADD", tag + ":set:" + strconv.Itoa(i%5), s},
			[]string{"ZADD", tag + ":z:" + strconv.Itoa(i%4), s, "m" + s},
		)
		if i%9 == 0 {
			cmds = append(cmds, []string{"EXPIRE", tag + ":s:" + s, "100000"})
		}
		if len(cmds) > 200 || i == n-1 {
			replies, err := c.pipeline(cmds)
			if err != nil {
				tb.Fatal(err)
			}
			for j, r := range replies {
				if strings.HasPrefix(r, "-") {
					tb.Fatalf("%q = %q", cmds[j], r)
				}
			}
			cmds = cmds[:0]
		}
	}
}

// metric returns the replica's metric name, failing the test if missing.
func metric(tb testing.TB, r *replicaNode, name string) float64 {
	tb.Helper()
	v, err := gauge(r.Metrics(), name)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// checkLoaded fails unless the replica's last snapshot is want and it
// read the log only from the entry after it.
func checkLoaded(tb testing.TB, r *storeReplica, want snapshot.Info) {
	tb.Helper()
	load, ok := r.LastLoad()
	if !ok || load.Snapshot.Offset != want.Offset || load.Snapshot.Key != want.Key {
		tb.Fatalf("last snapshot loaded = %+v (%v), want %s", load.Snapshot, ok, want)
	}
	if got := r.FirstApplied(); got != want.Offset+1 {
		tb.Errorf("first entry applied after the snapshot at %d: %d, want %d", want.Offset, got, want.Offset+1)
	}
}

// TestReplicaBootstrapsFromSnapshot: a replica with a store starts from the
// newest snapshot, reads nothing of the log at or below its offset, and
// ends equal to the master; restarted, it bootstraps again from the newest
// one.
func TestReplicaBootstrapsFromSnapshot(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "boot", nil)
	st := newFSStore(t)
	fill(t, m.addr, "a", 300)
	snap, keys := writeSnapshot(t, m, st, "boot", "g1")
	if snap.Offset == 0 || keys == 0 {
		t.Fatalf("snapshot %s holds %d keys", snap, keys)
	}
	fill(t, m.addr, "b", 100)
	mustQuery(t, m.addr, "DEL", "a:s:1", "a:s:3", "a:h:0")
	mustQuery(t, m.addr, "SET", "a:s:0", "changed")

	r := startStoreReplica(t, ns.URL(), "boot", st)
	waitCaughtUp(t, m, r.replicaNode, 20*time.Second)
	checkLoaded(t, r, snap)
	load, _ := r.LastLoad()
	if load.Keys != keys || load.Snapshot.Size <= 0 {
		t.Errorf("load = %+v, want %d keys and a size", load, keys)
	}
	if froms := r.gate.readsFrom(); len(froms) == 0 || froms[0] != snap.Offset+1 {
		t.Errorf("reads of the log started at %v, want %d first", froms, snap.Offset+1)
	}
	if got, want := metric(t, r.replicaNode, "ferry_replica_applied_total"), float64(m.Offset()-snap.Offset); got != want {
		t.Errorf("entries applied = %v, want %v (the ones after the snapshot)", got, want)
	}
	if got := metric(t, r.replicaNode, "ferry_replica_snapshot_loads_total"); got != 1 {
		t.Errorf("snapshot loads = %v, want 1", got)
	}
	if got := metric(t, r.replicaNode, "ferry_replica_snapshot_offset"); got != float64(snap.Offset) {
		t.Errorf("snapshot offset metric = %v, want %d", got, snap.Offset)
	}
	if got := mustQuery(t, r.addr, "GET", "a:s:0"); got != bulk("changed") {
		t.Errorf("GET a:s:0 = %q", got)
	}

	// A restart keeps nothing: it loads the newest snapshot again.
	r.stop(t)
	fill(t, m.addr, "c", 50)
	snap2, _ := writeSnapshot(t, m, st, "boot", "g1")
	fill(t, m.addr, "d", 20)
	r2 := startStoreReplica(t, ns.URL(), "boot", st)
	waitCaughtUp(t, m, r2.replicaNode, 20*time.Second)
	checkLoaded(t, r2, snap2)
}

// rawJS is a JetStream context on a connection of its own to url, closed
// when the test ends, for what ferry never does itself.
func rawJS(tb testing.TB, url string) natsjs.JetStream {
	tb.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := natsjs.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return js
}

// rawStream returns the JetStream stream behind dataset's log, on a
// connection closed when the test ends.
func rawStream(tb testing.TB, url, dataset string) natsjs.Stream {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := rawJS(tb, url).Stream(ctx, jetstream.StreamName(dataset))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// TestReplicaResyncsAfterTruncation: the log loses the replica's next
// offset while it is away, first by retention (the front is purged), then
// by a hole (one entry deleted). Each time the replica keeps serving its
// old dataset, refuses the snapshots that cannot help (below the log's
// first offset, or older than its own offset: it never goes back), and
// swaps in the first one that lets it follow the log again. Reads
// meanwhile see the old or the new dataset, never anything else, and
// never an older value after a newer one.
func TestReplicaResyncsAfterTruncation(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "resync", nil)
	raw := rawStream(t, ns.URL(), "resync")
	st := newFSStore(t)
	fill(t, m.addr, "a", 50)
	old, _ := writeSnapshot(t, m, st, "resync", "g1")
	mustQuery(t, m.addr, "SET", "probe", "v0")
	fill(t, m.addr, "b", 50)
	r := startStoreReplica(t, ns.URL(), "resync", st)
	waitCaughtUp(t, m, r.replicaNode, 20*time.Second)
	checkLoaded(t, r, old)

	// A reader: GET probe is always some vN, N never going down.
	var stop atomic.Bool
	var bad atomic.Value
	seen := make([]atomic.Int64, 3)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		latest := 0
		for !stop.Load() {
			got, err := query(r.addr, "GET", "probe")
			n := -1
			for i := range seen {
				if got == bulk("v"+strconv.Itoa(i)) {
					n = i
				}
			}
			switch {
			case err != nil:
				bad.Store(err.Error())
			case n < 0:
				bad.Store(got)
			case n < latest:
				bad.Store(fmt.Sprintf("v%d after v%d", n, latest))
			default:
				latest = n
				seen[n].Add(1)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	loads := 1.0
	for i, gap := range []string{"purge", "hole"} {
		// A snapshot at the replica's own offset cannot help: the entry
		// after it is the one that goes.
		have := r.Offset()
		if same, _ := writeSnapshot(t, m, st, "resync", "g1"); same.Offset != have {
			t.Fatalf("%s: snapshot at %d, replica at %d: want the same", gap, same.Offset, have)
		}
		r.gate.pause()
		mustQuery(t, m.addr, "SET", "probe", "v"+strconv.Itoa(i+1))
		fill(t, m.addr, "c"+strconv.Itoa(i), 50)
		switch gap {
		case "purge":
			// Retention removes the front of the log, up to past a
			// snapshot newer than the replica: that one cannot help
			// either.
			mid, _ := writeSnapshot(t, m, st, "resync", "g1")
			mustQuery(t, m.addr, "INCR", "counter")
			mustQuery(t, m.addr, "INCR", "counter")
			if err := raw.Purge(ctx, natsjs.WithPurgeSequence(mid.Offset+2)); err != nil {
				t.Fatal(err)
			}
		case "hole": // the replica's next entry alone is gone
			mustQuery(t, m.addr, "INCR", "counter")
			if err := raw.DeleteMsg(ctx, have+1); err != nil {
				t.Fatal(err)
			}
		}
		r.gate.resume()

		// No snapshot in the store can help: the replica waits, serving
		// what it has.
		checkFor(t, 15*time.Second, 10*time.Millisecond, func() error {
			if s, _, _ := r.Status(); s != replica.StateResyncing {
				return fmt.Errorf("%s: state %s, want %s", gap, s, replica.StateResyncing)
			}
			return nil
		})
		time.Sleep(time.Second)
		if s, off, _ := r.Status(); s != replica.StateResyncing || off != have {
			t.Fatalf("%s: with only older snapshots: state %s offset %d, want %s at %d", gap, s, off, replica.StateResyncing, have)
		}
		if !r.Syncing() || metric(t, r.replicaNode, "ferry_replica_sync_in_progress") != 1 {
			t.Errorf("%s: sync in progress not reported while resyncing", gap)
		}
		if got, want := mustQuery(t, r.addr, "GET", "probe"), bulk("v"+strconv.Itoa(i)); got != want {
			t.Errorf("%s: GET probe while resyncing = %q, want the old %q", gap, got, want)
		}
		if got := metric(t, r.replicaNode, "ferry_replica_snapshot_loads_total"); got != loads {
			t.Errorf("%s: snapshot loads = %v, want %v: no snapshot that cannot help may be swapped in", gap, got, loads)
		}

		snap, _ := writeSnapshot(t, m, st, "resync", "g1")
		fill(t, m.addr, "d"+strconv.Itoa(i), 30)
		waitCaughtUp(t, m, r.replicaNode, 20*time.Second)
		checkLoaded(t, r, snap)
		loads++
		if s, _, _ := r.Status(); s != replica.StateStreaming {
			t.Errorf("%s: state after the resync = %s, want %s", gap, s, replica.StateStreaming)
		}
		if r.Syncing() {
			t.Errorf("%s: sync still in progress after the resync", gap)
		}
		if got, want := mustQuery(t, r.addr, "GET", "probe"), bulk("v"+strconv.Itoa(i+1)); got != want {
			t.Errorf("%s: GET probe after the resync = %q, want %q", gap, got, want)
		}
	}
	stop.Store(true)
	wg.Wait()
	if v := bad.Load(); v != nil {
		t.Errorf("a read during the resyncs got %q", v)
	}
	for i := range seen {
		if seen[i].Load() == 0 {
			t.Errorf("reads never saw v%d", i)
		}
	}
}

// damage flips bytes in the middle of info's object in st, and returns a
// function that puts the original bytes back.
func damage(tb testing.TB, st *fs.Store, info snapshot.Info) (restore func()) {
	tb.Helper()
	path := filepath.Join(st.Dir(), filepath.FromSlash(info.Key))
	orig, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	b := append([]byte(nil), orig...)
	for i := len(b) / 2; i < len(b)/2+8 && i < len(b); i++ {
		b[i] ^= 0x5a
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return func() {
		tb.Helper()
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// expectLoading checks, for a while, that the replica answers -LOADING to
// reads and has not left the loading state.
func expectLoading(tb testing.TB, r *replicaNode, d time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		for _, args := range [][]string{{"GET", "a:s:0"}, {"DBSIZE"}, {"KEYS", "*"}} {
			if got := mustQuery(tb, r.addr, args...); got != errLoading {
				tb.Fatalf("%q while the store cannot be read = %q, want %q", args, got, errLoading)
			}
		}
		if s, off, _ := r.Status(); s != replica.StateLoading || off != 0 {
			tb.Fatalf("state %s offset %d while the store cannot be read, want %s at 0", s, off, replica.StateLoading)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReplicaSnapshotDamaged: the newest snapshot is damaged, so the
// replica loads the one before it and catches up from the log; with every
// snapshot damaged, or the store's directory gone, it answers -LOADING and
// never serves an empty dataset, and once the store is fixed it loads.
func TestReplicaSnapshotDamaged(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "damaged", nil)
	st := newFSStore(t)
	fill(t, m.addr, "a", 100)
	s1, _ := writeSnapshot(t, m, st, "damaged", "g1")
	fill(t, m.addr, "b", 100)
	s2, _ := writeSnapshot(t, m, st, "damaged", "g1")
	fill(t, m.addr, "c", 30)
	restore2 := damage(t, st, s2)

	t.Run("previous", func(t *testing.T) {
		r := startStoreReplica(t, ns.URL(), "damaged", st)
		waitCaughtUp(t, m, r.replicaNode, 20*time.Second)
		checkLoaded(t, r, s1)
	})

	t.Run("all", func(t *testing.T) {
		restore1 := damage(t, st, s1)
		r := startStoreReplica(t, ns.URL(), "damaged", st)
		expectLoading(t, r.replicaNode, 1500*time.Millisecond)
		if got := metric(t, r.replicaNode, "ferry_replica_snapshot_load_failures_total"); got < 1 {
			t.Errorf("load failures = %v, want at least 1", got)
		}
		if !r.Syncing() {
			t.Errorf("sync not in progress while loading")
		}
		// The newest first: a retry between the two restores then loads
		// it, never the older one (a CI run caught the other order).
		restore2()
		restore1()
		waitCaughtUp(t, m, r.replicaNode, 20*time.Second)
		checkLoaded(t, r, s2)
	})

	t.Run("store-gone", func(t *testing.T) {
		away := st.Dir() + ".away"
		if err := os.Rename(st.Dir(), away); err != nil {
			t.Fatal(err)
		}
		r := startStoreReplica(t, ns.URL(), "damaged", st)
		expectLoading(t, r.replicaNode, 1500*time.Millisecond)
		if got := metric(t, r.replicaNode, "ferry_replica_snapshot_load_failures_total"); got < 1 {
			t.Errorf("load failures = %v, want at least 1", got)
		}
		if err := os.Rename(away, st.Dir()); err != nil {
			t.Fatal(err)
		}
		waitCaughtUp(t, m, r.replicaNode, 20*time.Second)
		checkLoaded(t, r, s2)
	})
}

// TestReplicaBootstrapsFromS3: the same bootstrap from a real S3 server
// (versitygw); a store on a port nothing listens on keeps the replica
// loading.
func TestReplicaBootstrapsFromS3(t *testing.T) {
	endpoint, access, secret, bucket := redistest.Versitygw(t)
	cfg := s3.Config{Bucket: bucket, Prefix: "e2e", Endpoint: endpoint, PathStyle: true, AccessKeyID: access, SecretAccessKey: secret}
	ctx := context.Background()
	st, err := s3.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "s3boot", nil)
	fill(t, m.addr, "a", 200)
	snap, _ := writeSnapshot(t, m, st, "s3boot", "g1")
	fill(t, m.addr, "b", 50)
	r := startStoreReplica(t, ns.URL(), "s3boot", st)
	waitCaughtUp(t, m, r.replicaNode, 30*time.Second)
	checkLoaded(t, r, snap)

	cfg.Endpoint = "http://127.0.0.1:" + strconv.Itoa(redistest.FreePort(t))
	closed, err := s3.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	r2 := startStoreReplica(t, ns.URL(), "s3boot", closed)
	expectLoading(t, r2.replicaNode, time.Second)
	checkFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if got := metric(t, r2.replicaNode, "ferry_replica_snapshot_load_failures_total"); got < 1 {
			return fmt.Errorf("load failures = %v, want at least 1", got)
		}
		return nil
	})
	expectLoading(t, r2.replicaNode, 200*time.Millisecond)
}

// TestReplicaJoinsTrimmedLog: a new replica of a dataset whose log no
// longer starts at offset 1 has nothing to start from until a snapshot
// exists. It answers -LOADING (never the part of the dataset the log still
// holds): without a store for good (resync-needed), with a store until a
// snapshot shows up, which it then loads.
func TestReplicaJoinsTrimmedLog(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "trimmed", nil)
	fill(t, m.addr, "a", 20)
	mustQuery(t, m.addr, "SET", "x", "1")
	mustQuery(t, m.addr, "SET", "y", "2")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rawStream(t, ns.URL(), "trimmed").Purge(ctx, natsjs.WithPurgeKeep(1)); err != nil {
		t.Fatal(err)
	}

	bare := startStoreReplica(t, ns.URL(), "trimmed", nil)
	checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		if s, _, _ := bare.Status(); s != replica.StateResyncNeeded {
			return fmt.Errorf("state %s, want %s", s, replica.StateResyncNeeded)
		}
		return nil
	})
	if got := mustQuery(t, bare.addr, "GET", "y"); got != errLoading {
		t.Errorf("GET y on a replica without a store = %q, want %q", got, errLoading)
	}

	st := newFSStore(t)
	r := startStoreReplica(t, ns.URL(), "trimmed", st)
	expectLoading(t, r.replicaNode, 500*time.Millisecond)
	if !r.Syncing() {
		t.Errorf("sync not in progress while waiting for a snapshot")
	}
	snap, _ := writeSnapshot(t, m, st, "trimmed", "g1")
	mustQuery(t, m.addr, "SET", "z", "3")
	waitCaughtUp(t, m, r.replicaNode, 20*time.Second)
	checkLoaded(t, r, snap)
}
