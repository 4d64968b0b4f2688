package taker_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/snapshot"
	"github.com/ferrydb/ferry/snapshot/fs"
	"github.com/ferrydb/ferry/snapshot/rdb"
	"github.com/ferrydb/ferry/snapshot/taker"
	"github.com/ferrydb/ferry/stream"
)

// node is a taker.Node whose offset and readiness the test sets.
type node struct {
	offset  uint64
	unready string
	commit  error // what commit returns
}

func (n *node) Unready() string { return n.unready }

func (n *node) Cut() (uint64, func(context.Context) error, error) {
	return n.offset, func(context.Context) error { return n.commit }, nil
}

// trimLog is a log that records its trims; only First, Trim and Identity
// are used.
type trimLog struct {
	stream.Reader
	first uint64   // what First returns: the last trim's keepFrom
	trims []uint64 // Trim's keepFrom, in order
}

func (l *trimLog) First(context.Context) (uint64, error) { return l.first, nil }
func (l *trimLog) Identity() string                      { return "log1" }
func (l *trimLog) Trim(_ context.Context, keepFrom uint64) error {
	l.trims = append(l.trims, keepFrom)
	l.first = keepFrom
	return nil
}

// fixture is a taker over an engine and a directory store.
type fixture struct {
	e   *command.Engine
	cl  *command.Client
	n   *node
	st  *fs.Store
	tk  *taker.Taker
	log *trimLog
}

func newFixture(t *testing.T, keep int) *fixture {
	t.Helper()
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{e: command.New(command.Config{Values: rdb.Values{}}), n: &node{}, st: st, log: &trimLog{first: 1}}
	f.e.Lock()
	f.e.SetLoading(false)
	f.e.Unlock()
	f.cl = f.e.NewClient("test", "test")
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	f.tk = taker.New(taker.Config{
		Engine: f.e, Node: f.n, Store: st, Log: f.log, Dataset: "ds", Generation: "g1",
		Go: func(fn func(context.Context)) bool {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fn(context.Background())
			}()
			return true
		},
		Keep: keep,
	})
	f.e.SetSnapshots(f.tk)
	return f
}

// write runs SET key value on the engine and moves the node's offset on.
func (f *fixture) write(key, value string) {
	f.e.Lock()
	f.e.Exec(f.cl, [][]byte{[]byte("SET"), []byte(key), []byte(value)})
	f.n.offset++
	f.e.Unlock()
}

// TestSnapshotAtTheNodesOffset: a snapshot holds the keyspace at the
// offset the node gives, under the taker's generation; another one with
// nothing changed writes nothing; one whose commit fails is not made
// visible.
func TestSnapshotAtTheNodesOffset(t *testing.T) {
	f := newFixture(t, 0)
	ctx := context.Background()
	f.write("a", "1")
	f.write("b", "2")
	info, err := f.tk.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Offset != 2 || info.Generation != "g1" || info.Dataset != "ds" {
		t.Fatalf("snapshot %+v, want offset 2 of generation g1", info)
	}
	e2 := command.New(command.Config{Values: rdb.Values{}})
	ks, meta, err := snapshot.Load(ctx, f.st, info, e2.NewKeyspace)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Offset != 2 || meta.Log != "log1" || ks.DB(0).Len() != 2 {
		t.Fatalf("loaded meta %+v with %d keys; want offset 2, log log1, 2 keys", meta, ks.DB(0).Len())
	}
	again, err := f.tk.Snapshot(ctx)
	if err != nil || again.Key != info.Key {
		t.Fatalf("second snapshot with nothing changed = %+v, %v; want %s again", again, err, info.Key)
	}
	if list, _ := f.st.List(ctx, "ds"); len(list) != 1 {
		t.Fatalf("%d snapshots in the store, want 1", len(list))
	}

	f.write("c", "3")
	f.n.commit = errors.New("the log lost it")
	if _, err := f.tk.Snapshot(ctx); err == nil || !strings.Contains(err.Error(), "the log lost it") {
		t.Fatalf("snapshot with a failing commit = %v", err)
	}
	if newest, err := f.st.Newest(ctx, "ds"); err != nil || newest.Key != info.Key {
		t.Fatalf("newest after a failed commit = %+v, %v; want %s", newest, err, info.Key)
	}
	if p := f.tk.Persistence(); !p.LastFailed || p.Saves != 2 {
		t.Fatalf("persistence %+v, want the last one failed after 2 saves", p)
	}
	// The metrics say the same.
	reg := prometheus.NewRegistry()
	reg.MustRegister(f.tk.Collectors(nil)...)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range families {
		m := mf.GetMetric()[0]
		got[mf.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
	}
	for name, want := range map[string]float64{
		"ferry_snapshots_total": 2, "ferry_snapshot_failures_total": 1, "ferry_snapshot_in_progress": 0,
		"ferry_snapshot_newest_offset": 2, "ferry_snapshot_newest_bytes": float64(info.Size),
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v (all: %v)", name, got[name], want, got)
		}
	}
	if got["ferry_snapshot_last_success_timestamp_seconds"] <= 0 {
		t.Errorf("no last success time: %v", got)
	}
}

// TestStartRefusedWhenUnready: BGSAVE's error is the node's reason.
func TestStartRefusedWhenUnready(t *testing.T) {
	f := newFixture(t, 0)
	f.n.unready = "ERR not now"
	f.e.Lock()
	_, err := f.tk.Start(false)
	f.e.Unlock()
	if err == nil || err.Error() != "ERR not now" {
		t.Fatalf("Start = %v, want the node's reason", err)
	}
	if _, err := f.tk.Snapshot(context.Background()); err == nil || err.Error() != "not now" {
		t.Fatalf("Snapshot = %v, want the node's reason without ERR", err)
	}
}

// TestRetention: with Keep 2, each snapshot deletes those before the
// newest two and trims the log below the oldest kept.
func TestRetention(t *testing.T) {
	f := newFixture(t, 2)
	ctx := context.Background()
	var offsets []uint64
	for i := range 4 {
		f.write("k", strings.Repeat("v", i+1))
		info, err := f.tk.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		offsets = append(offsets, info.Offset)
	}
	list, err := f.st.List(ctx, "ds")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Offset != offsets[2] || list[1].Offset != offsets[3] {
		t.Fatalf("kept %v, want the snapshots at %d and %d", list, offsets[2], offsets[3])
	}
	// Trimmed below the oldest kept whenever that moved: after the
	// first snapshot, then after the third and the fourth.
	want := []uint64{offsets[0] + 1, offsets[1] + 1, offsets[2] + 1}
	if !slices.Equal(f.log.trims, want) {
		t.Fatalf("trims %v, want %v", f.log.trims, want)
	}
}

// TestScanPacing: on an idle engine the scan rests only the shortest
// pause (how often: command.TestPacerRest);
// once something else takes the engine lock while it rests (clients, a
// replica's apply), every rest is longer, a multiple of the hold before
// it, so that the others keep most of the lock.
func TestScanPacing(t *testing.T) {
	f := newFixture(t, 0)
	const keys = 100 * command.ScanStep // ~1 ms of holds at 40 ns a key
	for i := range keys {
		f.write(fmt.Sprintf("key:%d", i), "value")
	}
	var (
		mu    sync.Mutex
		rests []time.Duration
		busy  bool
	)
	defer taker.SetSleep(func(d time.Duration) {
		mu.Lock()
		rests = append(rests, d)
		b := busy
		mu.Unlock()
		if b {
			// A client's turn while the scan rests.
			f.write("client", "value")
		}
	})()
	ctx := context.Background()
	if _, err := f.tk.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	idle := rests
	rests, busy = nil, true
	mu.Unlock()
	if len(idle) == 0 {
		t.Fatalf("idle engine: the scan of %d keys never rested", keys)
	}
	for i, d := range idle {
		if d != idle[0] {
			t.Fatalf("idle engine: rest %d was %v, rest 0 %v: want the shortest pause every time: %v", i, d, idle[0], idle)
		}
	}

	f.write("another", "value")
	if _, err := f.tk.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	// Nothing took the lock between the cut and the first rest; something
	// did during every rest: each one after the first is long.
	if len(rests) < 2 || rests[0] != idle[0] {
		t.Fatalf("busy engine: rests %v, want at least 2, the first %v", rests, idle[0])
	}
	for i, d := range rests[1:] {
		if d <= idle[0] {
			t.Fatalf("busy engine: rest %d of %d was %v, want more than %v: %v", i+1, len(rests), d, idle[0], rests)
		}
	}
}
