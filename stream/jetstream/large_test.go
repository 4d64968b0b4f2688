package jetstream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ferrydb/ferry/stream"
	ferryjs "github.com/ferrydb/ferry/stream/jetstream"
	"github.com/ferrydb/ferry/stream/natsserver"
)

// smallServer runs a NATS server whose messages hold at most 64 KiB.
func smallServer(tb testing.TB) *natsserver.Server {
	tb.Helper()
	s, err := natsserver.Start(tb.TempDir(), natsserver.WithMaxPayload(64<<10))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Shutdown)
	return s
}

func randomBytes(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// objectNames lists the objects in dataset's bucket.
func objectNames(tb testing.TB, url, dataset string) []string {
	tb.Helper()
	ctx := ctxTimeout(tb, 10*time.Second)
	obs, err := rawJS(tb, url).ObjectStore(ctx, ferryjs.BucketName(dataset))
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	infos, err := obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, info := range infos {
		names = append(names, info.Name)
	}
	return names
}

// TestLargeEntries: entries larger than one NATS message go through the
// object store and come back whole, at one offset each, between ordinary
// ones, whether appended one by one or pipelined; a reader that is not the
// writer (read-only) gets them too, and Get does.
func TestLargeEntries(t *testing.T) {
	s := smallServer(t)
	l := openLog(t, s.URL(), "large")
	ctx := ctxTimeout(t, 30*time.Second)
	if l.MaxPayload() != 64<<10 {
		t.Fatalf("MaxPayload = %d, want %d", l.MaxPayload(), 64<<10)
	}
	if l.MaxEntry() != ferryjs.DefaultMaxEntryBytes {
		t.Fatalf("MaxEntry = %d, want the default %d", l.MaxEntry(), ferryjs.DefaultMaxEntryBytes)
	}
	sizes := []int{10, 64<<10 - 1<<10, 64<<10 - 1<<10 + 1, 200 << 10, 5, 3 << 20, 64 << 10, 1}
	var want [][]byte
	for i, n := range sizes {
		want = append(want, randomBytes(uint64(i), n))
	}
	// The first four one by one, the rest pipelined.
	for i := range 4 {
		off, err := l.Append(ctx, want[i], uint64(i))
		if err != nil || off != uint64(i+1) {
			t.Fatalf("append %d (%d bytes) = %d, %v", i, len(want[i]), off, err)
		}
	}
	var pend []stream.Pending
	for i := 4; i < len(want); i++ {
		p, err := l.AppendAsync(want[i], uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		pend = append(pend, p)
	}
	for i, p := range pend {
		if off, err := p.Offset(); err != nil || off != uint64(i+5) {
			t.Fatalf("async append %d = %d, %v", i+4, off, err)
		}
	}
	if got := len(objectNames(t, s.URL(), "large")); got != 4 {
		t.Fatalf("%d objects, want 4 (the entries over 63 KiB)", got)
	}
	if n, err := rawStream(t, s.URL(), "large").Info(ctx); err != nil || n.State.Msgs != uint64(len(want)) || n.State.Bytes > 70<<10 {
		t.Fatalf("log stream: %+v, %v; want %d messages of the inline entries' size", n.State, err, len(want))
	}

	reader := openLog(t, s.URL(), "large", func(c *ferryjs.Config) { c.ReadOnly = true })
	for _, lg := range []*ferryjs.Log{l, reader} {
		got, err := readUntil(t, lg, 1, len(want))
		if err != nil {
			t.Fatal(err)
		}
		checkContiguous(t, got, 1)
		for i, e := range got {
			if !bytes.Equal(e.Data, want[i]) {
				t.Fatalf("entry %d: %d bytes back, want %d, equal %t", e.Offset, len(e.Data), len(want[i]), bytes.Equal(e.Data, want[i]))
			}
		}
	}
	e, err := reader.Get(ctx, 6)
	if err != nil || !bytes.Equal(e.Data, want[5]) {
		t.Fatalf("Get(6): %d bytes, %v", len(e.Data), err)
	}
}

// TestLargeEntryLimits: an entry past MaxEntryBytes is refused and nothing
// is stored; a fenced large append stores no entry and leaves no object.
func TestLargeEntryLimits(t *testing.T) {
	s := smallServer(t)
	l := openLog(t, s.URL(), "limits", func(c *ferryjs.Config) { c.MaxEntryBytes = 1 << 20 })
	ctx := ctxTimeout(t, 30*time.Second)
	if _, err := l.Append(ctx, make([]byte, 1<<20+1), 0); err == nil || !strings.Contains(err.Error(), "larger than the log's 1048576") {
		t.Fatalf("append past MaxEntryBytes: %v", err)
	}
	if _, err := l.AppendAsync(make([]byte, 2<<20), 0); err == nil {
		t.Fatal("async append past MaxEntryBytes was taken")
	}
	if last, err := l.Last(ctx); err != nil || last != 0 {
		t.Fatalf("Last = %d, %v after refused appends", last, err)
	}
	if _, err := l.Append(ctx, []byte("one"), 0); err != nil {
		t.Fatal(err)
	}
	// A stale writer: its object is stored, its entry fenced, the object
	// then deleted.
	if _, err := l.Append(ctx, make([]byte, 300<<10), 0); !errors.Is(err, stream.ErrFenced) {
		t.Fatalf("fenced large append: %v", err)
	}
	p, err := l.AppendAsync(make([]byte, 300<<10), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Offset(); !errors.Is(err, stream.ErrFenced) {
		t.Fatalf("fenced large async append: %v", err)
	}
	// Chunks and metadata both go (the object store's own Delete would
	// leave a marker per object).
	objs, err := rawJS(t, s.URL()).Stream(ctx, "OBJ_"+ferryjs.BucketName("limits"))
	if err != nil {
		t.Fatal(err)
	}
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		info, err := objs.Info(ctx)
		if err != nil {
			return err
		}
		if info.State.Msgs > 0 {
			return fmt.Errorf("%d messages of fenced appends' objects left", info.State.Msgs)
		}
		return nil
	})
	if last, err := l.Last(ctx); err != nil || last != 1 {
		t.Fatalf("Last = %d, %v, want 1", last, err)
	}
}

// TestLargeEntriesTrimAndLoss: Trim deletes the objects of the entries it
// removes and keeps the others; an entry whose object is gone reads as
// truncated, naming the object, never as an empty entry.
func TestLargeEntriesTrimAndLoss(t *testing.T) {
	s := smallServer(t)
	l := openLog(t, s.URL(), "trim")
	ctx := ctxTimeout(t, 30*time.Second)
	big := func(i int) []byte { return randomBytes(uint64(100+i), 100<<10) }
	for i := range 6 {
		data := []byte("small")
		if i%2 == 1 {
			data = big(i)
		}
		if _, err := l.Append(ctx, data, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Objects at offsets 2, 4 and 6.
	if got := objectNames(t, s.URL(), "trim"); len(got) != 3 {
		t.Fatalf("objects %q, want 3", got)
	}
	if err := l.Trim(ctx, 4); err != nil {
		t.Fatal(err)
	}
	names := objectNames(t, s.URL(), "trim")
	slices.Sort(names)
	if len(names) != 2 || !strings.HasPrefix(names[0], "00000000000000000004-") || !strings.HasPrefix(names[1], "00000000000000000006-") {
		t.Fatalf("objects after Trim(4): %q, want those of offsets 4 and 6", names)
	}
	got, err := readUntil(t, l, 4, 3)
	if err != nil || !bytes.Equal(got[0].Data, big(3)) || !bytes.Equal(got[2].Data, big(5)) {
		t.Fatalf("read from 4 after trim: %d entries, %v", len(got), err)
	}

	// Lose the object of offset 6 behind ferry's back.
	obs, err := rawJS(t, s.URL()).ObjectStore(ctx, ferryjs.BucketName("trim"))
	if err != nil {
		t.Fatal(err)
	}
	var lost string
	for _, n := range objectNames(t, s.URL(), "trim") {
		if strings.HasPrefix(n, "00000000000000000006-") {
			lost = n
		}
	}
	if err := obs.Delete(ctx, lost); err != nil {
		t.Fatal(err)
	}
	got, err = readUntil(t, l, 4, 3)
	if !errors.Is(err, stream.ErrTruncated) || !strings.Contains(err.Error(), lost) || len(got) != 2 {
		t.Fatalf("read over a lost object: %d entries, %v; want 2 and ErrTruncated naming %s", len(got), err, lost)
	}
	if _, err := l.Get(ctx, 6); !errors.Is(err, stream.ErrTruncated) {
		t.Fatalf("Get of a lost object's entry: %v", err)
	}
}

// TestLargeEntryBucketAge: the bucket keeps objects a little longer than the
// log keeps entries.
func TestLargeEntryBucketAge(t *testing.T) {
	s := smallServer(t)
	l := openLog(t, s.URL(), "aged", func(c *ferryjs.Config) { c.MaxAge = time.Hour })
	ctx := ctxTimeout(t, 30*time.Second)
	if _, err := l.Append(ctx, make([]byte, 100<<10), 0); err != nil {
		t.Fatal(err)
	}
	obs, err := rawJS(t, s.URL()).ObjectStore(ctx, ferryjs.BucketName("aged"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := obs.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ttl := st.TTL(); ttl <= time.Hour || ttl > time.Hour+5*time.Minute {
		t.Fatalf("bucket TTL %s, want a little over the log's hour", ttl)
	}
}

// BenchmarkAppendLarge appends entries of one size one at a time, in one
// message (the embedded server's 8 MB max_payload) or through the object
// store (a server with NATS's default of 1 MB).
func BenchmarkAppendLarge(b *testing.B) {
	for _, tc := range []struct {
		name       string
		size       int
		maxPayload int32
	}{
		{"500KB-message", 500 << 10, 8 << 20},
		{"2MB-message", 2 << 20, 8 << 20},
		{"2MB-object", 2 << 20, 1 << 20},
		{"20MB-object", 20 << 20, 1 << 20},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := natsserver.Start(b.TempDir(), natsserver.WithMaxPayload(tc.maxPayload))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(s.Shutdown)
			l := openLog(b, s.URL(), "bench")
			data := randomBytes(1, tc.size)
			ctx := context.Background()
			b.SetBytes(int64(tc.size))
			b.ResetTimer()
			for i := range b.N {
				if _, err := l.Append(ctx, data, uint64(i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestLargeEntriesWithoutBucket: a writer whose NATS user may not make the
// object store's stream takes entries of one message only, and says so
// through MaxEntry (its master then refuses larger writes before they
// run); entries that fit still go through.
func TestLargeEntriesWithoutBucket(t *testing.T) {
	opts := &server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
		MaxPayload: 64 << 10,
		Users: []*server.User{{Username: "ferry", Password: "pw", Permissions: &server.Permissions{
			Publish: &server.SubjectPermission{Allow: []string{">"}, Deny: []string{"$JS.API.STREAM.*.OBJ_" + ferryjs.BucketName("nobucket")}},
		}}},
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(srv.Shutdown)
	l := openLog(t, srv.ClientURL(), "nobucket", func(c *ferryjs.Config) {
		c.User, c.Password = "ferry", "pw"
		c.Timeout = 500 * time.Millisecond
	})
	if want := 63 << 10; l.MaxEntry() != want {
		t.Fatalf("MaxEntry = %d, want one message's %d", l.MaxEntry(), want)
	}
	ctx := ctxTimeout(t, 10*time.Second)
	if _, err := l.Append(ctx, make([]byte, 100<<10), 0); err == nil || !strings.Contains(err.Error(), "larger than the log's 64512") {
		t.Fatalf("append of 100 KiB without a bucket: %v", err)
	}
	if off, err := l.Append(ctx, make([]byte, 60<<10), 0); err != nil || off != 1 {
		t.Fatalf("append of 60 KiB: %d, %v", off, err)
	}
}
