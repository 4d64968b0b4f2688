package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/master"
	"github.com/ferrydb/ferry/snapshot"
	"github.com/ferrydb/ferry/snapshot/rdb"
	"github.com/ferrydb/ferry/stream"
	"github.com/ferrydb/ferry/stream/jetstream"
	"github.com/ferrydb/ferry/stream/natsserver"
)

// startNATS runs an embedded NATS server with JetStream until the test
// ends.
func startNATS(t *testing.T) *natsserver.Server {
	t.Helper()
	s, err := natsserver.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// openLog opens dataset's log for writing until the test ends.
func openLog(t *testing.T, url, dataset string) *jetstream.Log {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := jetstream.Open(ctx, jetstream.Config{URL: url, Dataset: dataset, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// serveMaster starts a master on lg (a new dataset) and serves it on a
// loopback port. stop closes it and waits for Serve; it runs when the test
// ends if the test has not called it.
func serveMaster(t *testing.T, lg *jetstream.Log, dataset string) (m *master.Master, stop func()) {
	t.Helper()
	m, err := master.New(context.Background(), master.Config{Addr: "127.0.0.1:0", Log: lg, Dataset: dataset, Version: "test",
		Logger: slog.New(slog.DiscardHandler), NewDataset: true})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(context.Background()) }()
	stop = sync.OnceFunc(func() {
		m.Close()
		if err := <-done; err != nil {
			t.Logf("master: %v", err)
		}
	})
	t.Cleanup(stop)
	return m, stop
}

// purgeBelow removes the log's entries below offset, as retention would.
func purgeBelow(t *testing.T, url, dataset string, offset uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := jsClient(t, url).Stream(ctx, jetstream.StreamName(dataset))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(ctx, natsjs.WithPurgeSequence(offset)); err != nil {
		t.Fatal(err)
	}
}

// restore runs ferry restore and returns what it printed.
func restore(args ...string) (string, error) {
	var out bytes.Buffer
	err := restoreCmd(context.Background(), args, &out)
	return out.String(), err
}

// loadDump loads a dump.rdb file.
func loadDump(t *testing.T, path string) (*keyspace.Keyspace, rdb.Meta) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ks := keyspace.New(nil)
	meta, err := rdb.Load(f, ks)
	if err != nil {
		t.Fatal(err)
	}
	return ks, meta
}

// TestRestore: a master writes through the log while snapshots are taken
// of it at two offsets; restore at offsets between, at and after them, and
// without snapshots, gives the dataset the master had at that offset.
func TestRestore(t *testing.T) {
	const dataset = "pitr"
	srv := startNATS(t)
	lg := openLog(t, srv.URL(), dataset)
	m, _ := serveMaster(t, lg, dataset)
	c := redistest.Dial(t, m.Addr().String())
	url, st := fileStore(t)
	emptyURL, _ := fileStore(t)

	// digests[offset] is the master's DEBUG DIGEST after that entry.
	digests := map[uint64]string{}
	write := func(cmds [][]string) {
		t.Helper()
		for _, cmd := range cmds {
			if r := c.Do(cmd...); strings.HasPrefix(r, "-") {
				t.Fatalf("%q: %s", cmd, r)
			}
			digests[m.Offset()] = bulk(t, c.Do("DEBUG", "DIGEST"))
		}
	}
	// snap writes the master's keyspace as a snapshot at its offset, under
	// the engine's lock, as the master's own snapshots are cut.
	snap := func(gen string) uint64 {
		t.Helper()
		e := m.Engine()
		e.Lock()
		defer e.Unlock()
		off := m.Offset()
		writeSnapshot(t, st, e.Keyspace(), dataset, off, gen, time.Time{})
		return off
	}
	phase := func(n int) [][]string {
		var cmds [][]string
		for i := 0; i < 20; i++ {
			k := strconv.Itoa(i % 7)
			cmds = append(cmds,
				[]string{"SET", "s:" + k, fmt.Sprintf("v%d-%d", n, i)},
				[]string{"HSET", "h:" + k, fmt.Sprintf("f%d", i), strconv.Itoa(n * i)},
				[]string{"RPUSH", "l", fmt.Sprintf("%d-%d", n, i)},
				[]string{"SADD", "set", fmt.Sprintf("%d", n*100+i)},
				[]string{"ZADD", "z", strconv.Itoa(i), fmt.Sprintf("m%d", n*100+i)},
				[]string{"INCR", "counter"},
			)
			if i%5 == 4 {
				cmds = append(cmds, []string{"DEL", "s:" + strconv.Itoa((i+n)%7)}, []string{"LPOP", "l"})
			}
		}
		return cmds
	}
	big := datasetCommands(time.Now().Add(time.Hour).UnixMilli())
	write(big)
	write(phase(1))
	s1 := snap("first")
	write(phase(2))
	k := m.Offset()
	write(phase(3))
	write([][]string{{"SELECT", "3"}, {"SET", "in3", "x"}, {"SELECT", "0"}, {"FLUSHDB"}, {"SET", "after", "flush"}})
	s2 := snap("second")
	write(phase(4))
	last := m.Offset()
	if !(s1 < k && k < s2 && s2 < last) {
		t.Fatalf("offsets s1 %d, k %d, s2 %d, last %d", s1, k, s2, last)
	}

	dir := t.TempDir()
	var baseOf func(string) uint64
	check := func(target uint64, storeURL, from string) {
		t.Helper()
		path := filepath.Join(dir, fmt.Sprintf("at-%d.rdb", target))
		out, err := restore("--store", storeURL, "--nats", srv.URL(), "--dataset", dataset, "--offset", strconv.FormatUint(target, 10), "--out", path)
		if err != nil {
			t.Fatalf("restore --offset %d: %v", target, err)
		}
		if !strings.Contains(out, fmt.Sprintf("at offset %d from %s and %d log entries", target, from, target-baseOf(from))) {
			t.Errorf("restore printed %q", out)
		}
		ks, meta := loadDump(t, path)
		if got := digest(ks); got != digests[target] {
			t.Fatalf("restore --offset %d (%s): digest %s, the master had %s", target, out, got, digests[target])
		}
		if meta.Offset != target || meta.Dataset != dataset {
			t.Fatalf("restore --offset %d: the dump says offset %d dataset %q", target, meta.Offset, meta.Dataset)
		}
	}
	first, second := fmt.Sprintf("snapshot pitr@%d (first)", s1), fmt.Sprintf("snapshot pitr@%d (second)", s2)
	baseOf = func(from string) uint64 {
		switch from {
		case first:
			return s1
		case second:
			return s2
		}
		return 0
	}
	check(k, url, first)                        // snapshot s1, then the log
	check(s2, url, second)                      // exactly a snapshot
	check(s2+1, url, second)                    // snapshot s2, one entry
	check(last, url, second)                    // the end
	check(k, emptyURL, "the log from offset 1") // no snapshot: the log from 1
	checkRDB(t, filepath.Join(dir, fmt.Sprintf("at-%d.rdb", k)))

	// Above the log's end.
	_, err := restore("--store", url, "--nats", srv.URL(), "--dataset", dataset, "--offset", strconv.FormatUint(last+1, 10), "--out", filepath.Join(dir, "x.rdb"))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("above the last offset of stream FERRY_PITR, %d", last)) {
		t.Fatalf("restore above the end: %v", err)
	}
	// Without the log, only a snapshot's own offset can be restored.
	if _, err := restore("--store", url, "--dataset", dataset, "--offset", strconv.FormatUint(s2, 10), "--out", filepath.Join(dir, "nolog.rdb")); err != nil {
		t.Fatalf("restore at a snapshot without --nats: %v", err)
	}
	if _, err := restore("--store", url, "--dataset", dataset, "--offset", strconv.FormatUint(k, 10), "--out", filepath.Join(dir, "x.rdb")); err == nil || !strings.Contains(err.Error(), "needs the log (--nats)") {
		t.Fatalf("restore between snapshots without --nats: %v", err)
	}

	// Retention removes the entries after s1 that k needs.
	purgeBelow(t, srv.URL(), dataset, s1+3)
	_, err = restore("--store", url, "--nats", srv.URL(), "--dataset", dataset, "--offset", strconv.FormatUint(k, 10), "--out", filepath.Join(dir, "x.rdb"))
	if !errors.Is(err, stream.ErrTruncated) || !strings.Contains(err.Error(), fmt.Sprintf("entries %d to %d are gone from stream FERRY_PITR", s1+1, s1+2)) {
		t.Fatalf("restore with entries gone: %v", err)
	}
	_, err = restore("--store", emptyURL, "--nats", srv.URL(), "--dataset", dataset, "--offset", strconv.FormatUint(k, 10), "--out", filepath.Join(dir, "x.rdb"))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("starts at offset %d, not 1", s1+3)) {
		t.Fatalf("restore without snapshots from a truncated log: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.rdb")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a failed restore wrote its file")
	}
	// The entries after s2 are all there.
	check(s2+2, url, second)
}

// TestImportNATS: with --nats, import takes the stream's last offset and
// refuses a stream that holds entries.
func TestImportNATS(t *testing.T) {
	srv := startNATS(t)
	ks := ferryKeyspace(t, [][]string{{"SET", "a", "1"}, {"RPUSH", "l", "x"}})
	path := filepath.Join(t.TempDir(), "dump.rdb")
	var b bytes.Buffer
	if err := rdb.Encode(ks, &b, rdb.Meta{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	url, st := fileStore(t)

	// A stream that holds entries.
	lg := openLog(t, srv.URL(), "busy")
	for i := uint64(0); i < 3; i++ {
		if _, err := lg.Append(context.Background(), redistest.Encode("SET", "k", "v"), i); err != nil {
			t.Fatal(err)
		}
	}
	_, err := run(t, "import", path, "--store", url, "--dataset", "busy", "--nats", srv.URL())
	if err == nil || !strings.Contains(err.Error(), "not new: stream FERRY_BUSY holds entries 1 to 3") {
		t.Fatalf("import into a stream with entries: %v", err)
	}
	// All of them removed by retention: the snapshot takes offset 3.
	purgeBelow(t, srv.URL(), "busy", 4)
	if _, err := run(t, "import", path, "--store", url, "--dataset", "busy", "--nats", srv.URL()); err != nil {
		t.Fatal(err)
	}
	info, got, err := snapshot.LoadNewest(context.Background(), st, "busy", 0, func() *keyspace.Keyspace { return keyspace.New(nil) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.Offset != 3 || got.Digest() != ks.Digest() {
		t.Fatalf("imported %s: digest equal %v", info, got.Digest() == ks.Digest())
	}

	// An empty stream: offset 0.
	openLog(t, srv.URL(), "fresh")
	if _, err := run(t, "import", path, "--store", url, "--dataset", "fresh", "--nats", srv.URL()); err != nil {
		t.Fatal(err)
	}
	if info, err := st.Newest(context.Background(), "fresh"); err != nil || info.Offset != 0 {
		t.Fatalf("import on an empty stream: %v, %v", info, err)
	}
	// No stream at all: offset 0 too.
	if _, err := run(t, "import", path, "--store", url, "--dataset", "nostream", "--nats", srv.URL()); err != nil {
		t.Fatal(err)
	}
	if info, err := st.Newest(context.Background(), "nostream"); err != nil || info.Offset != 0 {
		t.Fatalf("import with no stream: %v, %v", info, err)
	}
	// Without --nats the log cannot be checked: refused, nothing written.
	_, err = run(t, "import", path, "--store", url, "--dataset", "nolog")
	if err == nil || !strings.Contains(err.Error(), "--nats is needed") {
		t.Fatalf("import without --nats: %v", err)
	}
	if list, err := st.List(context.Background(), "nolog"); err != nil || len(list) != 0 {
		t.Fatalf("a refused import wrote %d snapshots (%v)", len(list), err)
	}
}

// natsURL starts a NATS server for the test and returns its URL.
func natsURL(t *testing.T) string {
	t.Helper()
	return startNATS(t).URL()
}

// TestRestoreCtimeAfterBulkRead: the dump's ctime is when the log stored
// the target entry, also when the replay read the log in bulk (a backlog
// of 1,024 entries or more comes without entry times).
func TestRestoreCtimeAfterBulkRead(t *testing.T) {
	const n = 2000
	srv := startNATS(t)
	lg := openLog(t, srv.URL(), "ctime")
	ctx := context.Background()
	for i := range n {
		cmd := fmt.Sprintf("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n%d\r\n", len(fmt.Sprint(i)), i)
		if _, err := lg.Append(ctx, []byte(cmd), uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	en, err := lg.Get(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // a ctime of the restore's own time would differ
	path := filepath.Join(t.TempDir(), "dump.rdb")
	if _, err := restore("--nats", srv.URL(), "--dataset", "ctime", "--offset", fmt.Sprint(n), "--out", path); err != nil {
		t.Fatal(err)
	}
	_, meta := loadDump(t, path)
	if d := meta.Created.Sub(en.Time.Truncate(time.Second)); d < 0 || d >= time.Second {
		t.Fatalf("dump ctime %v, entry %d stored at %v", meta.Created, n, en.Time)
	}
}
