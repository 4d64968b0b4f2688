package e2e

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/master"
	"github.com/ferrydb/ferry/snapshot"
	"github.com/ferrydb/ferry/snapshot/fs"
	"github.com/ferrydb/ferry/snapshot/rdb"
	"github.com/ferrydb/ferry/snapshot/s3"
	"github.com/ferrydb/ferry/stream"
	"github.com/ferrydb/ferry/stream/jetstream"
)

// snapshotPlusLog loads info from st and applies the log's entries after
// its offset up to last, and returns the resulting DEBUG DIGEST.
func snapshotPlusLog(t *testing.T, st snapshot.Store, info snapshot.Info, lg stream.Reader, last uint64) string {
	t.Helper()
	e := command.New(command.Config{Values: rdb.Values{}})
	ks, _, err := snapshot.Load(context.Background(), st, info, e.NewKeyspace)
	if err != nil {
		t.Fatalf("load %s: %v", info, err)
	}
	e.Lock()
	e.ReplaceKeyspace(ks)
	e.Unlock()
	ap := e.NewApplier()
	if last > info.Offset {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		errDone := errors.New("done")
		err := lg.Read(ctx, info.Offset+1, func(en stream.Entry) error {
			if err := ap.Apply(en.Data); err != nil {
				return err
			}
			if en.Offset >= last {
				return errDone
			}
			return nil
		})
		if !errors.Is(err, errDone) {
			t.Fatalf("replay %d..%d after %s: %v", info.Offset+1, last, info, err)
		}
	}
	e.Lock()
	defer e.Unlock()
	d := e.Keyspace().Digest()
	if d == [20]byte{} {
		return strings.Repeat("0", 40)
	}
	return hex.EncodeToString(d[:])
}

// stableDigest returns the master's offset and DEBUG DIGEST, read when
// the offset did not move while the digest was taken.
func stableDigest(t *testing.T, m *masterNode) (uint64, string) {
	t.Helper()
	for {
		before := m.Offset()
		d, err := digest(m.addr)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		if m.Offset() == before {
			return before, d
		}
	}
}

func fsStore(t *testing.T) *fs.Store {
	t.Helper()
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestSnapshotsWhileWriting takes snapshots while clients write and checks
// that each is the dataset at exactly its offset: the snapshot plus the
// log after it gives the master's final DEBUG DIGEST.
func TestSnapshotsWhileWriting(t *testing.T) {
	ns := startNATS(t)
	st := fsStore(t)
	m := startMaster(t, ns.URL(), "snapw", func(c *master.Config) {
		c.Store, c.NewDataset = st, true
	})
	w := &workload{rng: rand.New(rand.NewPCG(3, 4)), keys: 300, zsets: true, ttls: true}
	c, err := dial(m.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	for range 20 {
		if _, err := c.pipeline(w.batch(100)); err != nil {
			t.Fatal(err)
		}
	}

	loads := make([]*workload, 2)
	for i := range loads {
		loads[i] = &workload{rng: rand.New(rand.NewPCG(uint64(i), 9)), keys: 300, zsets: true, ttls: true}
	}
	stop := pipelineWriters(t, m.addr, len(loads), func(i, _ int) [][]string { return loads[i].batch(20) })
	var infos []snapshot.Info
	for range 3 {
		time.Sleep(100 * time.Millisecond)
		info, err := m.Snapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		infos = append(infos, info)
	}
	// BGSAVE over RESP, while the writers go on.
	if r := mustQuery(t, m.addr, "BGSAVE"); r != "+Background saving started\r\n" {
		t.Fatalf("BGSAVE = %q", r)
	}
	checkFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		r := mustQuery(t, m.addr, "INFO", "persistence")
		if !strings.Contains(r, "rdb_saves:4\r\n") || !strings.Contains(r, "rdb_bgsave_in_progress:0\r\n") {
			return errors.New("BGSAVE not done: " + r)
		}
		return nil
	})
	stop()

	// Active expiry would go on appending DELs while the test reads.
	mustQuery(t, m.addr, "DEBUG", "SET-ACTIVE-EXPIRE", "0")
	final, want := stableDigest(t, m)
	list, err := st.List(context.Background(), "snapw")
	if err != nil || len(list) != 4 {
		t.Fatalf("List: %d snapshots, %v; want 4", len(list), err)
	}
	for _, info := range list {
		if got := snapshotPlusLog(t, st, info, m.log, final); got != want {
			t.Errorf("snapshot %s + log up to %d: digest %s, master %s", info, final, got, want)
		}
	}
	if infos[0].Offset == 0 || infos[2].Offset <= infos[0].Offset {
		t.Errorf("snapshot offsets %d, %d, %d: writes did not go on between them", infos[0].Offset, infos[1].Offset, infos[2].Offset)
	}
	if r := mustQuery(t, m.addr, "LASTSAVE"); r == ":0\r\n" {
		t.Errorf("LASTSAVE = %q", r)
	}
}

// TestMasterRecoversFromSnapshot restarts a master on a dataset whose log
// was trimmed below its snapshot, and checks what a master refuses.
func TestMasterRecoversFromSnapshot(t *testing.T) {
	ns := startNATS(t)
	st := fsStore(t)
	cfg := func(c *master.Config) {
		c.Store, c.NewDataset, c.SnapshotKeep, c.NoShutdownSnapshot = st, true, 1, true
	}
	m := startMaster(t, ns.URL(), "rec", cfg)
	cl, err := dial(m.addr)
	if err != nil {
		t.Fatal(err)
	}
	w := &workload{rng: rand.New(rand.NewPCG(5, 6)), keys: 200, zsets: true, ttls: true}
	for range 10 {
		if _, err := cl.pipeline(w.batch(100)); err != nil {
			t.Fatal(err)
		}
	}
	first, err := m.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := cl.pipeline(w.batch(100)); err != nil {
			t.Fatal(err)
		}
	}
	second, err := m.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := cl.pipeline(w.batch(100)); err != nil {
			t.Fatal(err)
		}
	}
	cl.close()
	want, err := digest(m.addr)
	if err != nil {
		t.Fatal(err)
	}
	m.stop(t)

	// Retention kept one snapshot and trimmed the log below it.
	list, err := st.List(context.Background(), "rec")
	if err != nil || len(list) != 1 || list[0].Offset != second.Offset {
		t.Fatalf("after retention: %v, %v; want only %s (first was %s)", list, err, second, first)
	}
	lg := openLog(t, ns.URL(), "rec", true)
	if f, err := lg.First(context.Background()); err != nil || f != second.Offset+1 {
		t.Fatalf("log First = %d, %v; want %d", f, err, second.Offset+1)
	}

	m2 := startMaster(t, ns.URL(), "rec", cfg)
	if got, err := digest(m2.addr); err != nil || got != want {
		t.Fatalf("restarted master digest %s, %v; want %s", got, err, want)
	}
	m2.stop(t)

	// The log alone no longer holds the dataset: a store without the
	// snapshot is refused, whatever --new-dataset says.
	_, err = newMaster(openLog(t, ns.URL(), "rec", false), "rec", func(c *master.Config) {
		c.Store, c.NewDataset = fsStore(t), true
	})
	if err == nil || !strings.Contains(err.Error(), "are gone") {
		t.Fatalf("master on a trimmed log without its snapshot: %v", err)
	}
	// An unreachable store is refused.
	bad, err := s3.New(context.Background(), s3.Config{Bucket: "nope", Endpoint: "http://127.0.0.1:1", PathStyle: true,
		AccessKeyID: "x", SecretAccessKey: "y"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = newMaster(openLog(t, ns.URL(), "rec", false), "rec", func(c *master.Config) {
		c.Store, c.NewDataset = bad, true
	})
	if err == nil || !strings.Contains(err.Error(), "cannot load a snapshot") {
		t.Fatalf("master with an unreachable store: %v", err)
	}
	// A brand-new dataset needs --new-dataset.
	_, err = newMaster(openLog(t, ns.URL(), "fresh", false), "fresh", func(c *master.Config) { c.Store, c.NewDataset = fsStore(t), false })
	if err == nil || !strings.Contains(err.Error(), "--new-dataset") {
		t.Fatalf("new dataset without NewDataset: %v", err)
	}
}

// TestShutdownSnapshot checks that a clean shutdown leaves a snapshot at
// the last offset, and SHUTDOWN NOSAVE does not.
func TestShutdownSnapshot(t *testing.T) {
	ns := startNATS(t)
	st := fsStore(t)
	m := startMaster(t, ns.URL(), "shut", func(c *master.Config) { c.Store, c.NewDataset = st, true })
	mustQuery(t, m.addr, "SET", "a", "1")
	query(m.addr, "SHUTDOWN") // no reply: the connection closes
	select {
	case err := <-m.done:
		m.done <- err // for the cleanup's stop
	case <-time.After(20 * time.Second):
		t.Fatal("SHUTDOWN did not stop the master")
	}
	newest, err := st.Newest(context.Background(), "shut")
	if err != nil || newest.Offset != m.Offset() || newest.Offset == 0 {
		t.Fatalf("after SHUTDOWN: newest %v, %v; want offset %d", newest, err, m.Offset())
	}
	m2 := startMaster(t, ns.URL(), "shut", func(c *master.Config) { c.Store = st })
	if r := mustQuery(t, m2.addr, "GET", "a"); r != bulk("1") {
		t.Fatalf("GET a after restart = %q", r)
	}
	mustQuery(t, m2.addr, "SET", "b", "2")
	query(m2.addr, "SHUTDOWN", "NOSAVE")
	select {
	case err := <-m2.done:
		m2.done <- err
	case <-time.After(20 * time.Second):
		t.Fatal("SHUTDOWN NOSAVE did not stop the master")
	}
	if n, err := st.Newest(context.Background(), "shut"); err != nil || n.Offset != newest.Offset {
		t.Fatalf("after SHUTDOWN NOSAVE: newest %v, %v; want still %s", n, err, newest)
	}
}

// TestSnapshotSchedule checks --snapshot-after-writes.
func TestSnapshotSchedule(t *testing.T) {
	ns := startNATS(t)
	st := fsStore(t)
	m := startMaster(t, ns.URL(), "sched", func(c *master.Config) {
		c.Store, c.NewDataset, c.SnapshotAfterWrites, c.NoShutdownSnapshot = st, true, 50, true
	})
	cl, err := dial(m.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.close()
	var cmds [][]string
	for i := range 60 {
		cmds = append(cmds, []string{"SET", "k" + strings.Repeat("x", i), "v"})
	}
	if _, err := cl.pipeline(cmds); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		n, err := st.Newest(context.Background(), "sched")
		if err != nil {
			return err
		}
		if n.Offset != m.Offset() {
			return errors.New("snapshot not at the last offset yet")
		}
		return nil
	})
	// Nothing written since: BGSAVE succeeds with the snapshot there is.
	newest, _ := st.Newest(context.Background(), "sched")
	info, err := m.Snapshot(context.Background())
	if err != nil || info.Key != newest.Key {
		t.Fatalf("snapshot with nothing new: %v, %v; want %s", info, err, newest)
	}
	if r := mustQuery(t, m.addr, "INFO", "persistence"); !strings.Contains(r, "rdb_last_bgsave_status:ok") {
		t.Fatalf("after a snapshot with nothing new: %s", r)
	}
}

// failingStore is a real store whose Put fails on demand, half way through
// the upload (a store that goes away during a snapshot).
type failingStore struct {
	snapshot.Store
	fail atomic.Bool
}

func (s *failingStore) Put(ctx context.Context, info snapshot.Info, r io.Reader) (snapshot.Info, error) {
	if s.fail.Load() {
		io.CopyN(io.Discard, r, 4096)
		return snapshot.Info{}, errors.New("store unreachable (injected)")
	}
	return s.Store.Put(ctx, info, r)
}

// TestSnapshotStoreFailure: a snapshot whose upload fails leaves the master
// serving and writable, reports the failure, publishes nothing, and the
// next snapshot is whole.
func TestSnapshotStoreFailure(t *testing.T) {
	ns := startNATS(t)
	st := &failingStore{Store: fsStore(t)}
	m := startMaster(t, ns.URL(), "sfail", func(c *master.Config) {
		c.Store, c.NewDataset, c.NoShutdownSnapshot = st, true, true
	})
	c, err := dial(m.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	w := &workload{rng: rand.New(rand.NewPCG(8, 9)), keys: 300, zsets: true}
	for range 10 {
		if _, err := c.pipeline(w.batch(100)); err != nil {
			t.Fatal(err)
		}
	}
	st.fail.Store(true)
	if _, err := m.Snapshot(context.Background()); err == nil || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("snapshot into a failing store: %v", err)
	}
	if r := mustQuery(t, m.addr, "INFO", "persistence"); !strings.Contains(r, "rdb_last_bgsave_status:err") || !strings.Contains(r, "rdb_bgsave_in_progress:0") {
		t.Fatalf("INFO persistence after a failed snapshot:\n%s", r)
	}
	if _, err := st.Newest(context.Background(), "sfail"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Fatalf("a failed snapshot was published: %v", err)
	}
	// Writes go on, with the failed cut ended: a later snapshot is whole.
	for range 5 {
		if _, err := c.pipeline(w.batch(100)); err != nil {
			t.Fatal(err)
		}
	}
	st.fail.Store(false)
	info, err := m.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mustQuery(t, m.addr, "DEBUG", "SET-ACTIVE-EXPIRE", "0")
	final, want := stableDigest(t, m)
	if got := snapshotPlusLog(t, st, info, m.log, final); got != want {
		t.Fatalf("snapshot %s + log: digest %s, master %s", info, got, want)
	}
}

// TestSnapshotsWithinLogRetention: with the log's own limits (here a
// 2-second max age), the master takes snapshots within half of them though
// its schedule would take none, so the log dropping entries loses no
// acknowledged write. A master restarted before any snapshot counts from
// the oldest entry it replayed, not from its start: otherwise those
// entries could age out first.
func TestSnapshotsWithinLogRetention(t *testing.T) {
	ns := startNATS(t)
	st := fsStore(t)
	const maxAge = 2 * time.Second
	open := func() *jetstream.Log {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		l, err := jetstream.Open(ctx, jetstream.Config{URL: ns.URL(), Dataset: "aging", Timeout: logTimeout, MaxAge: maxAge, Logger: testLogger("log")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	cfg := func(c *master.Config) {
		c.Store, c.NewDataset, c.NoShutdownSnapshot = st, true, true
		c.SnapshotInterval, c.SnapshotAfterWrites, c.LogMaxAge = 0, 0, maxAge
	}
	start := func() (*masterNode, *jetstream.Log) {
		t.Helper()
		lg := open()
		m, err := newMaster(lg, "aging", cfg)
		if err != nil {
			t.Fatalf("master start: %v", err)
		}
		return serveMaster(t, m, lg), lg
	}
	incr := func(m *masterNode, from int) {
		t.Helper()
		mc := redistest.Dial(t, m.addr)
		for i := from; i < from+10; i++ {
			expect(t, mc, ":"+strconv.Itoa(i+1)+"\r\n", "INCR", "ctr")
		}
	}
	// Ten writes, and a stop well before MaxAge/2: no snapshot.
	m1, _ := start()
	incr(m1, 0)
	m1.stop(t)
	if info, err := st.Newest(context.Background(), "aging"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Fatalf("snapshot %v (%v) before MaxAge/2", info, err)
	}
	// Restarted past MaxAge/2 of those writes, before MaxAge: it must
	// snapshot at once, and its own writes within MaxAge/2.
	time.Sleep(maxAge * 3 / 4)
	m2, lg := start()
	// Within the first ticks, not MaxAge/2 after the start.
	checkFor(t, maxAge*2/5, 20*time.Millisecond, func() error {
		_, err := st.Newest(context.Background(), "aging")
		return err
	})
	incr(m2, 10)
	checkFor(t, 10*time.Second, 100*time.Millisecond, func() error {
		first, err := lg.First(context.Background())
		if err != nil || first <= m2.Offset() {
			return fmt.Errorf("log's first offset %d (%v), last written %d", first, err, m2.Offset())
		}
		return nil
	})
	m2.stop(t)
	m3, _ := start()
	if got := mustQuery(t, m3.addr, "GET", "ctr"); got != bulk("20") {
		t.Fatalf("GET ctr after every entry aged out = %q, want 20", got)
	}
}

// TestSnapshotsWithinLogBytes: past about half of LogMaxBytes of entries
// since the last snapshot, the master takes one.
func TestSnapshotsWithinLogBytes(t *testing.T) {
	ns := startNATS(t)
	st := fsStore(t)
	m := startMaster(t, ns.URL(), "bytes", func(c *master.Config) {
		c.Store, c.NewDataset, c.NoShutdownSnapshot = st, true, true
		c.SnapshotInterval, c.SnapshotAfterWrites, c.LogMaxBytes = 0, 0, 1<<20
	})
	mc := redistest.Dial(t, m.addr)
	big := strings.Repeat("x", 1000)
	for i := range 100 { // ~100 KB: well below half
		expect(t, mc, "+OK\r\n", "SET", "k"+strconv.Itoa(i), big)
	}
	time.Sleep(300 * time.Millisecond)
	if info, err := st.Newest(context.Background(), "bytes"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Fatalf("snapshot %v (%v) after 100 KB of entries, with a 1 MB limit", info, err)
	}
	for i := range 500 { // past half
		expect(t, mc, "+OK\r\n", "SET", "k"+strconv.Itoa(i), big)
	}
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		_, err := st.Newest(context.Background(), "bytes")
		return err
	})
}

// countingStore counts Put calls and fails them all.
type countingStore struct {
	snapshot.Store
	puts atomic.Int64
}

func (s *countingStore) Put(ctx context.Context, info snapshot.Info, r io.Reader) (snapshot.Info, error) {
	s.puts.Add(1)
	io.Copy(io.Discard, r)
	return snapshot.Info{}, errors.New("no space left on device (injected)")
}

// TestSnapshotRetryBacksOff: a schedule whose snapshots keep failing waits
// longer and longer between them instead of retrying every tick.
func TestSnapshotRetryBacksOff(t *testing.T) {
	ns := startNATS(t)
	st := &countingStore{Store: fsStore(t)}
	m := startMaster(t, ns.URL(), "backoff", func(c *master.Config) {
		c.Store, c.NewDataset, c.NoShutdownSnapshot = st, true, true
		c.SnapshotInterval, c.SnapshotAfterWrites = 0, 1
	})
	expect(t, redistest.Dial(t, m.addr), "+OK\r\n", "SET", "k", "v")
	time.Sleep(3500 * time.Millisecond)
	// Attempts at about 0.1, 1.1 and 3.1 s; every 100 ms tick would be 35.
	if n := st.puts.Load(); n < 2 || n > 4 {
		t.Fatalf("%d snapshot attempts in 3.5 s of failures; want 2 to 4 (1 s, then 2 s between them)", n)
	}
	if r := mustQuery(t, m.addr, "INFO", "persistence"); !strings.Contains(r, "rdb_last_bgsave_status:err") {
		t.Fatalf("INFO persistence after failed snapshots:\n%s", r)
	}
}
