package jetstream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ferrydb/ferry/stream"
	ferryjs "github.com/ferrydb/ferry/stream/jetstream"
	"github.com/ferrydb/ferry/stream/natsserver"
)

// --- helpers ---

func startServer(tb testing.TB) *natsserver.Server {
	tb.Helper()
	s, err := natsserver.Start(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Shutdown)
	return s
}

func openLog(tb testing.TB, url, dataset string, mods ...func(*ferryjs.Config)) *ferryjs.Log {
	tb.Helper()
	cfg := ferryjs.Config{URL: url, Dataset: dataset}
	for _, m := range mods {
		m(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := ferryjs.Open(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// rawJS is a JetStream context of its own on the server at url.
func rawJS(tb testing.TB, url string) jetstream.JetStream {
	tb.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return js
}

// rawStream gives tests the JetStream stream behind a dataset, for what ferry
// never does itself (purging, deleting a message).
func rawStream(tb testing.TB, url, dataset string) jetstream.Stream {
	tb.Helper()
	s, err := rawJS(tb, url).Stream(context.Background(), ferryjs.StreamName(dataset))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// checkFor calls f every interval until it returns nil or total elapses.
func checkFor(tb testing.TB, total, interval time.Duration, f func() error) {
	tb.Helper()
	deadline := time.Now().Add(total)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(interval)
	}
	tb.Fatalf("still failing after %s: %v", total, err)
}

func ctxTimeout(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

func payload(i int) []byte {
	return fmt.Appendf(nil, "*1\r\n$%d\r\nentry-%06d\r\n", len("entry-")+6, i)
}

// appendN appends n entries after the current end and returns their data.
func appendN(tb testing.TB, l *ferryjs.Log, n int) [][]byte {
	tb.Helper()
	ctx := ctxTimeout(tb, 10*time.Second)
	last, err := l.Last(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for i := range n {
		d := payload(int(last) + i + 1)
		off, err := l.Append(ctx, d, last+uint64(i))
		if err != nil {
			tb.Fatalf("append %d: %v", i, err)
		}
		if want := last + uint64(i) + 1; off != want {
			tb.Fatalf("append %d: offset %d, want %d", i, off, want)
		}
		out = append(out, d)
	}
	return out
}

// readUntil reads from offset from until it has n entries, then stops the
// reader and returns them with Read's error (nil when it stopped because of
// n).
func readUntil(tb testing.TB, l *ferryjs.Log, from uint64, n int) ([]stream.Entry, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []stream.Entry
	done := errors.New("done")
	err := l.Read(ctx, from, func(e stream.Entry) error {
		got = append(got, e)
		if len(got) == n {
			return done
		}
		return nil
	})
	if errors.Is(err, done) {
		err = nil
	}
	return got, err
}

func checkContiguous(tb testing.TB, got []stream.Entry, from uint64) {
	tb.Helper()
	for i, e := range got {
		if want := from + uint64(i); e.Offset != want {
			tb.Fatalf("entry %d has offset %d, want %d", i, e.Offset, want)
		}
	}
}

// --- tests ---

func TestAppendAndReadBack(t *testing.T) {
	s := startServer(t)
	l := openLog(t, s.URL(), "basic")
	ctx := ctxTimeout(t, 10*time.Second)

	if first, err := l.First(ctx); err != nil || first != 1 {
		t.Fatalf("First of a new log = %d, %v; want 1", first, err)
	}
	if last, err := l.Last(ctx); err != nil || last != 0 {
		t.Fatalf("Last of a new log = %d, %v; want 0", last, err)
	}
	before := time.Now().Add(-time.Second)
	data := appendN(t, l, 20)
	if last, err := l.Last(ctx); err != nil || last != 20 {
		t.Fatalf("Last = %d, %v; want 20", last, err)
	}
	if first, err := l.First(ctx); err != nil || first != 1 {
		t.Fatalf("First = %d, %v; want 1", first, err)
	}

	got, err := readUntil(t, l, 1, 20)
	if err != nil {
		t.Fatal(err)
	}
	checkContiguous(t, got, 1)
	for i, e := range got {
		if !bytes.Equal(e.Data, data[i]) {
			t.Fatalf("offset %d: data %q, want %q", e.Offset, e.Data, data[i])
		}
		if e.Time.Before(before) || e.Time.After(time.Now().Add(time.Second)) {
			t.Fatalf("offset %d: time %v out of range", e.Offset, e.Time)
		}
	}

	// Offset 0 reads from the start.
	got, err = readUntil(t, l, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	checkContiguous(t, got, 1)

	e, err := l.Get(ctx, 7)
	if err != nil || e.Offset != 7 || !bytes.Equal(e.Data, data[6]) {
		t.Fatalf("Get(7) = %d %q, %v", e.Offset, e.Data, err)
	}
	if _, err := l.Get(ctx, 21); !errors.Is(err, stream.ErrAhead) {
		t.Fatalf("Get(21) error = %v, want ErrAhead", err)
	}
}

func TestReadFromMiddleAndFollow(t *testing.T) {
	s := startServer(t)
	l := openLog(t, s.URL(), "middle")
	data := appendN(t, l, 10)

	got, err := readUntil(t, l, 6, 5)
	if err != nil {
		t.Fatal(err)
	}
	checkContiguous(t, got, 6)
	if !bytes.Equal(got[0].Data, data[5]) {
		t.Fatalf("offset 6 data %q, want %q", got[0].Data, data[5])
	}

	// A reader at the end follows new entries as they are appended,
	// including from Last+1 on a log that has nothing there yet.
	w := openLog(t, s.URL(), "middle")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	var followed []stream.Entry
	readErr := make(chan error, 1)
	go func() {
		readErr <- l.Read(ctx, 11, func(e stream.Entry) error {
			mu.Lock()
			defer mu.Unlock()
			followed = append(followed, e)
			return nil
		})
	}()
	more := appendN(t, w, 25)
	checkFor(t, 10*time.Second, 5*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(followed) < 25 {
			return fmt.Errorf("followed %d of 25", len(followed))
		}
		return nil
	})
	cancel()
	if err := <-readErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("Read after cancel returned %v, want context.Canceled", err)
	}
	mu.Lock()
	defer mu.Unlock()
	checkContiguous(t, followed, 11)
	if len(followed) != 25 {
		t.Fatalf("followed %d entries, want 25", len(followed))
	}
	for i, e := range followed {
		if !bytes.Equal(e.Data, more[i]) {
			t.Fatalf("offset %d data %q, want %q", e.Offset, e.Data, more[i])
		}
	}
}

func TestResumeAfterReopen(t *testing.T) {
	s := startServer(t)
	w := openLog(t, s.URL(), "resume")
	appendN(t, w, 30)

	r := openLog(t, s.URL(), "resume")
	first, err := readUntil(t, r, 1, 17)
	if err != nil {
		t.Fatal(err)
	}
	pos := first[len(first)-1].Offset
	r.Close()

	appendN(t, w, 10)
	r = openLog(t, s.URL(), "resume")
	rest, err := readUntil(t, r, pos+1, 40-int(pos))
	if err != nil {
		t.Fatal(err)
	}
	all := append(first, rest...)
	checkContiguous(t, all, 1)
	if len(all) != 40 {
		t.Fatalf("read %d entries in two sessions, want 40", len(all))
	}
	seen := map[string]bool{}
	for _, e := range all {
		if seen[string(e.Data)] {
			t.Fatalf("entry %q read twice", e.Data)
		}
		seen[string(e.Data)] = true
	}
}

func TestReadTruncated(t *testing.T) {
	s := startServer(t)
	l := openLog(t, s.URL(), "trunc")
	appendN(t, l, 10)
	raw := rawStream(t, s.URL(), "trunc")
	ctx := ctxTimeout(t, 10*time.Second)

	// Retention removes the front: keep the last 4 (offsets 7..10).
	if err := raw.Purge(ctx, jetstream.WithPurgeKeep(4)); err != nil {
		t.Fatal(err)
	}
	if first, err := l.First(ctx); err != nil || first != 7 {
		t.Fatalf("First after purge = %d, %v; want 7", first, err)
	}
	called := false
	err := l.Read(ctx, 3, func(stream.Entry) error { called = true; return nil })
	if !errors.Is(err, stream.ErrTruncated) || called {
		t.Fatalf("Read(3) = %v (fn called: %t), want ErrTruncated before any entry", err, called)
	}
	if _, err := l.Get(ctx, 6); !errors.Is(err, stream.ErrTruncated) {
		t.Fatalf("Get(6) = %v, want ErrTruncated", err)
	}
	got, err := readUntil(t, l, 7, 4)
	if err != nil {
		t.Fatal(err)
	}
	checkContiguous(t, got, 7)

	// An offset that disappears ahead of a reader (here: deleted from the
	// middle) ends the read with ErrTruncated after what came before it.
	appendN(t, l, 5) // 11..15
	if err := raw.DeleteMsg(ctx, 13); err != nil {
		t.Fatal(err)
	}
	got, err = readUntil(t, l, 9, 100)
	if !errors.Is(err, stream.ErrTruncated) {
		t.Fatalf("Read over a gap = %v, want ErrTruncated", err)
	}
	checkContiguous(t, got, 9)
	if len(got) != 4 {
		t.Fatalf("delivered %d entries before the gap, want 4 (9..12)", len(got))
	}

	// The whole log purged: First is Last+1, and every old position is gone.
	if err := raw.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	first, err := l.First(ctx)
	last, err2 := l.Last(ctx)
	if err != nil || err2 != nil || first != 16 || last != 15 {
		t.Fatalf("after full purge First, Last = %d, %d (%v, %v); want 16, 15", first, last, err, err2)
	}
	if err := l.Read(ctx, 15, func(stream.Entry) error { return nil }); !errors.Is(err, stream.ErrTruncated) {
		t.Fatalf("Read(15) of a purged log = %v, want ErrTruncated", err)
	}
}

func TestReadAhead(t *testing.T) {
	s := startServer(t)
	l := openLog(t, s.URL(), "ahead")
	appendN(t, l, 3)
	ctx := ctxTimeout(t, 10*time.Second)
	err := l.Read(ctx, 5, func(stream.Entry) error { return nil })
	if !errors.Is(err, stream.ErrAhead) {
		t.Fatalf("Read(5) with last 3 = %v, want ErrAhead", err)
	}
}

func TestTwoWritersOneWins(t *testing.T) {
	s := startServer(t)
	a := openLog(t, s.URL(), "fence")
	b := openLog(t, s.URL(), "fence")
	ctx := ctxTimeout(t, 20*time.Second)

	for round := range 20 {
		last, err := a.Last(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		results := make([]error, 2)
		offsets := make([]uint64, 2)
		for i, l := range []*ferryjs.Log{a, b} {
			wg.Go(func() {
				<-start
				offsets[i], results[i] = l.Append(ctx, fmt.Appendf(nil, "writer %d round %d", i, round), last)
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for i, err := range results {
			switch {
			case err == nil:
				won++
				if offsets[i] != last+1 {
					t.Fatalf("round %d: winner got offset %d, want %d", round, offsets[i], last+1)
				}
			case errors.Is(err, stream.ErrFenced):
			default:
				t.Fatalf("round %d: writer %d: %v, want nil or ErrFenced", round, i, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d winners (%v), want exactly 1", round, won, results)
		}
	}
	if last, _ := a.Last(ctx); last != 20 {
		t.Fatalf("Last = %d after 20 rounds, want 20", last)
	}

	// A stale writer's pipelined run fails whole: the first append is
	// fenced, and each one after it too.
	var runs []stream.Pending
	for i := range 5 {
		p, err := b.AppendAsync([]byte("stale"), 10+uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, p)
	}
	for i, p := range runs {
		if _, err := p.Offset(); !errors.Is(err, stream.ErrFenced) {
			t.Fatalf("stale async append %d: %v, want ErrFenced", i, err)
		}
	}
	if last, _ := a.Last(ctx); last != 20 {
		t.Fatalf("Last = %d after fenced appends, want 20", last)
	}
}

func TestAppendAsyncPipeline(t *testing.T) {
	s := startServer(t)
	l := openLog(t, s.URL(), "async", func(c *ferryjs.Config) { c.MaxPending = 64 })
	const n = 2000
	ps := make([]stream.Pending, n)
	for i := range n {
		p, err := l.AppendAsync(payload(i+1), uint64(i))
		if err != nil {
			t.Fatalf("AppendAsync %d: %v", i, err)
		}
		ps[i] = p
	}
	for i, p := range ps {
		select {
		case <-p.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("append %d not confirmed", i)
		}
		off, err := p.Offset()
		if err != nil || off != uint64(i)+1 {
			t.Fatalf("append %d: offset %d, %v; want %d", i, off, err, i+1)
		}
	}
	got, err := readUntil(t, l, 1, n)
	if err != nil {
		t.Fatal(err)
	}
	checkContiguous(t, got, 1)
	for i, e := range got {
		if !bytes.Equal(e.Data, payload(i+1)) {
			t.Fatalf("offset %d: %q", e.Offset, e.Data)
		}
	}
}

// TestAppendsWhileServerRestarts restarts NATS under a writer that uses both
// Append and AppendAsync, with a reader following along. Every append that
// reported success must be in the log at its offset; every failure must be
// reported; the reader must see every offset once, in order. It runs over
// TCP and over the in-process connection a process that embeds the server
// uses (which must follow the restart to the new server).
func TestAppendsWhileServerRestarts(t *testing.T) {
	t.Run("tcp", func(t *testing.T) { appendsWhileServerRestarts(t, false) })
	t.Run("in-process", func(t *testing.T) { appendsWhileServerRestarts(t, true) })
}

func appendsWhileServerRestarts(t *testing.T, inProcess bool) {
	s := startServer(t)
	local := func(c *ferryjs.Config) {
		if inProcess {
			c.InProcess = s
		}
	}
	w := openLog(t, s.URL(), "restart", local, func(c *ferryjs.Config) { c.Timeout = 2 * time.Second })
	r := openLog(t, s.URL(), "restart", local)

	type attempt struct {
		data []byte
		off  uint64 // 0 if it failed
	}
	var (
		mu       sync.Mutex
		attempts []attempt
		failures int
	)
	stopWriting := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		seq := 0
		expect := uint64(0)
		resync := func() {
			// After a failure the writer re-reads where the log ends,
			// as a master would, retrying until NATS answers.
			for {
				select {
				case <-stopWriting:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				last, err := w.Last(ctx)
				cancel()
				if err == nil {
					expect = last
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		for round := 0; ; round++ {
			select {
			case <-stopWriting:
				return
			default:
			}
			if round%2 == 0 {
				seq++
				d := fmt.Appendf(nil, "sync-%d", seq)
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				off, err := w.Append(ctx, d, expect)
				cancel()
				mu.Lock()
				attempts = append(attempts, attempt{d, off})
				if err != nil {
					failures++
				}
				mu.Unlock()
				if err != nil {
					resync()
					continue
				}
				expect = off
				continue
			}
			// A pipelined run of 20.
			var run []stream.Pending
			var datas [][]byte
			failed := false
			for i := range 20 {
				seq++
				d := fmt.Appendf(nil, "async-%d", seq)
				p, err := w.AppendAsync(d, expect+uint64(i))
				if err != nil {
					mu.Lock()
					attempts = append(attempts, attempt{d, 0})
					failures++
					mu.Unlock()
					failed = true
					break
				}
				run = append(run, p)
				datas = append(datas, d)
			}
			for i, p := range run {
				off, err := p.Offset()
				mu.Lock()
				attempts = append(attempts, attempt{datas[i], off})
				if err != nil {
					failures++
					failed = true
				}
				mu.Unlock()
				if err == nil {
					expect = off
				}
			}
			if failed {
				resync()
			}
		}
	}()

	// The reader follows the log across the restarts.
	readCtx, cancelRead := context.WithCancel(context.Background())
	defer cancelRead()
	var rmu sync.Mutex
	var read []stream.Entry
	readErr := make(chan error, 1)
	go func() {
		readErr <- r.Read(readCtx, 1, func(e stream.Entry) error {
			rmu.Lock()
			read = append(read, e)
			rmu.Unlock()
			return nil
		})
	}()

	succeeded := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, a := range attempts {
			if a.off != 0 {
				n++
			}
		}
		return n
	}
	waitMore := func(n int) {
		checkFor(t, 15*time.Second, 10*time.Millisecond, func() error {
			if got := succeeded(); got < n {
				return fmt.Errorf("%d successful appends, waiting for %d", got, n)
			}
			return nil
		})
	}
	for range 2 {
		waitMore(succeeded() + 200)
		s.Shutdown()
		time.Sleep(300 * time.Millisecond) // NATS stays away for a moment
		if err := s.Restart(); err != nil {
			t.Fatal(err)
		}
	}
	waitMore(succeeded() + 200)
	close(stopWriting)
	<-writerDone

	ctx := ctxTimeout(t, 10*time.Second)
	last, err := w.Last(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkFor(t, 20*time.Second, 10*time.Millisecond, func() error {
		rmu.Lock()
		defer rmu.Unlock()
		if uint64(len(read)) < last {
			return fmt.Errorf("reader has %d of %d entries", len(read), last)
		}
		return nil
	})
	cancelRead()
	if err := <-readErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("reader ended with %v", err)
	}

	rmu.Lock()
	defer rmu.Unlock()
	checkContiguous(t, read, 1)
	if uint64(len(read)) != last {
		t.Fatalf("reader got %d entries, log has %d", len(read), last)
	}
	// And a fresh read from the start agrees with the follower.
	all, err := readUntil(t, w, 1, int(last))
	if err != nil {
		t.Fatal(err)
	}
	inLog := make(map[string]uint64, len(all))
	for i, e := range all {
		if !bytes.Equal(e.Data, read[i].Data) {
			t.Fatalf("offset %d: follower read %q, fresh read %q", e.Offset, read[i].Data, e.Data)
		}
		if _, dup := inLog[string(e.Data)]; dup {
			t.Fatalf("%q stored twice", e.Data)
		}
		inLog[string(e.Data)] = e.Offset
	}
	mu.Lock()
	defer mu.Unlock()
	ok, lost := 0, 0
	for _, a := range attempts {
		off, stored := inLog[string(a.data)]
		if a.off == 0 {
			if stored {
				lost++ // failed with an unknown outcome, but landed: allowed
			}
			continue
		}
		ok++
		if !stored || off != a.off {
			t.Fatalf("append %q succeeded at offset %d but the log has it at %d (stored: %t)", a.data, a.off, off, stored)
		}
	}
	if failures == 0 {
		t.Fatalf("no append failed across two restarts: the test did not exercise the outage")
	}
	t.Logf("%d appends: %d succeeded (all in the log), %d failed (%d of those landed anyway); log has %d entries",
		len(attempts), ok, failures, lost, last)
	if uint64(ok+lost) != last {
		t.Fatalf("log has %d entries but %d succeeded and %d failed-but-landed: something unaccounted for", last, ok, lost)
	}
}

func TestOpenUnreachable(t *testing.T) {
	// Nothing listens: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://" + ln.Addr().String()
	ln.Close()
	start := time.Now()
	_, err = ferryjs.Open(context.Background(), ferryjs.Config{URL: url, Dataset: "x"})
	if err == nil || !strings.Contains(err.Error(), url) {
		t.Fatalf("Open(%s) = %v, want an error naming the URL", url, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Open took %s to fail", d)
	}

	// Something listens but never speaks NATS: Open gives up after Timeout.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	url = "nats://u:secret@" + silent.Addr().String()
	start = time.Now()
	_, err = ferryjs.Open(context.Background(), ferryjs.Config{URL: url, Dataset: "x", Timeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), silent.Addr().String()) || strings.Contains(err.Error(), "secret") {
		t.Fatalf("Open of a silent server = %v, want an error naming the address without the password", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("Open took %s to fail", d)
	}
}

func TestOpenChecksStream(t *testing.T) {
	s := startServer(t)
	ctx := ctxTimeout(t, 10*time.Second)

	// A replica never creates the log.
	_, err := ferryjs.Open(ctx, ferryjs.Config{URL: s.URL(), Dataset: "checks", ReadOnly: true})
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("read-only Open of a missing stream = %v, want not found", err)
	}

	l := openLog(t, s.URL(), "checks", func(c *ferryjs.Config) { c.MaxAge = time.Hour })
	raw := rawStream(t, s.URL(), "checks")
	info, err := raw.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := info.Config
	if c.Name != "FERRY_CHECKS" || len(c.Subjects) != 1 || c.Subjects[0] != "ferry.checks.log" ||
		c.Storage != jetstream.FileStorage || c.Retention != jetstream.LimitsPolicy ||
		c.Discard != jetstream.DiscardOld || c.MaxAge != time.Hour || c.MaxBytes != -1 || c.Replicas != 1 {
		t.Fatalf("stream config %+v", c)
	}
	l.Close()

	// Reopening with other limits updates them, keeping the entries.
	l = openLog(t, s.URL(), "checks", func(c *ferryjs.Config) { c.MaxBytes = 1 << 20 })
	appendN(t, l, 1)
	info, err = raw.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.MaxAge != 0 || info.Config.MaxBytes != 1<<20 {
		t.Fatalf("after reopen: max age %s, max bytes %d", info.Config.MaxAge, info.Config.MaxBytes)
	}
	ro := openLog(t, s.URL(), "checks", func(c *ferryjs.Config) { c.ReadOnly = true })
	if _, err := ro.Append(ctx, []byte("x"), 1); err == nil {
		t.Fatal("read-only Append succeeded")
	}

	// A message-count limit set by hand drops entries no snapshot may hold
	// yet: a reader leaves it, a writer removes it.
	limited := info.Config
	limited.MaxMsgs, limited.MaxMsgsPerSubject = 5, 3
	if _, err := rawJS(t, s.URL()).UpdateStream(ctx, limited); err != nil {
		t.Fatal(err)
	}
	countLimits := func() (int64, int64) {
		t.Helper()
		info, err := raw.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.Config.MaxMsgs, info.Config.MaxMsgsPerSubject
	}
	openLog(t, s.URL(), "checks", func(c *ferryjs.Config) { c.ReadOnly = true; c.MaxBytes = 1 << 20 })
	if m, ps := countLimits(); m != 5 || ps != 3 {
		t.Fatalf("after a read-only open: max msgs %d, per subject %d; want them untouched", m, ps)
	}
	openLog(t, s.URL(), "checks", func(c *ferryjs.Config) { c.MaxBytes = 1 << 20 })
	if m, ps := countLimits(); m != -1 || ps > 0 {
		t.Fatalf("after a writer's open: max msgs %d, per subject %d; want no count limit", m, ps)
	}

	// A stream of that name that is not ferry's is refused, not changed.
	nc, err := nats.Connect(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "FERRY_OTHER", Subjects: []string{"other.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ferryjs.Open(ctx, ferryjs.Config{URL: s.URL(), Dataset: "other"}); err == nil || !strings.Contains(err.Error(), "subjects") {
		t.Fatalf("Open over a foreign stream = %v, want a subjects error", err)
	}
}

func TestClose(t *testing.T) {
	s := startServer(t)
	l := openLog(t, s.URL(), "closing")
	appendN(t, l, 3)
	readErr := make(chan error, 1)
	reading := make(chan struct{})
	go func() {
		readErr <- l.Read(context.Background(), 1, func(e stream.Entry) error {
			if e.Offset == 3 {
				close(reading)
			}
			return nil
		})
	}()
	<-reading
	l.Close()
	select {
	case err := <-readErr:
		if !errors.Is(err, stream.ErrClosed) {
			t.Fatalf("Read after Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not return after Close")
	}
	ctx := ctxTimeout(t, 5*time.Second)
	if _, err := l.Append(ctx, []byte("x"), 3); !errors.Is(err, stream.ErrClosed) {
		t.Fatalf("Append after Close = %v", err)
	}
	if _, err := l.AppendAsync([]byte("x"), 3); !errors.Is(err, stream.ErrClosed) {
		t.Fatalf("AppendAsync after Close = %v", err)
	}
	if _, err := l.Last(ctx); !errors.Is(err, stream.ErrClosed) {
		t.Fatalf("Last after Close = %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := ferryjs.Config{URL: "nats://127.0.0.1:4222", Dataset: "Orders_2-eu"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*ferryjs.Config){
		"no url":            func(c *ferryjs.Config) { c.URL = "" },
		"no dataset":        func(c *ferryjs.Config) { c.Dataset = "" },
		"dot in dataset":    func(c *ferryjs.Config) { c.Dataset = "a.b" },
		"star in dataset":   func(c *ferryjs.Config) { c.Dataset = "a*" },
		"space in dataset":  func(c *ferryjs.Config) { c.Dataset = "a b" },
		"long dataset":      func(c *ferryjs.Config) { c.Dataset = strings.Repeat("a", 65) },
		"replicas":          func(c *ferryjs.Config) { c.Replicas = 7 },
		"negative age":      func(c *ferryjs.Config) { c.MaxAge = -time.Second },
		"negative bytes":    func(c *ferryjs.Config) { c.MaxBytes = -1 },
		"two auth methods":  func(c *ferryjs.Config) { c.Token, c.CredsFile = "t", "f" },
		"password, no user": func(c *ferryjs.Config) { c.Password = "p" },
		"cert without key":  func(c *ferryjs.Config) { c.TLSCert = "c" },
	} {
		c := ok
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
	}
	if got := ferryjs.StreamName("orders-eu"); got != "FERRY_ORDERS-EU" {
		t.Errorf("StreamName = %s", got)
	}
	if got := ferryjs.Subject("orders-eu"); got != "ferry.orders-eu.log" {
		t.Errorf("Subject = %s", got)
	}
}

// --- benchmarks: go test -run '^$' -bench . ./stream/jetstream ---

var bench64 = bytes.Repeat([]byte("x"), 64)

func BenchmarkAppendSync(b *testing.B) {
	s := startServer(b)
	l := openLog(b, s.URL(), "bench")
	ctx := context.Background()
	b.SetBytes(int64(len(bench64)))
	b.ResetTimer()
	last := uint64(0)
	for range b.N {
		off, err := l.Append(ctx, bench64, last)
		if err != nil {
			b.Fatal(err)
		}
		last = off
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

func BenchmarkAppendAsync(b *testing.B) {
	for _, maxPending := range []int{256, 4096} {
		b.Run(fmt.Sprintf("pending=%d", maxPending), func(b *testing.B) {
			s := startServer(b)
			l := openLog(b, s.URL(), "bench", func(c *ferryjs.Config) { c.MaxPending = maxPending })
			b.SetBytes(int64(len(bench64)))
			b.ResetTimer()
			var lastP stream.Pending
			for i := range b.N {
				p, err := l.AppendAsync(bench64, uint64(i))
				if err != nil {
					b.Fatal(err)
				}
				lastP = p
			}
			if off, err := lastP.Offset(); err != nil || off != uint64(b.N) {
				b.Fatalf("last append: %d, %v", off, err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}

// BenchmarkReadCatchUp reads b.N 64-byte entries that are already in the
// log, as a replica catching up after loading a snapshot. Run it with
// -benchtime=1000000x for the figure in the report.
func BenchmarkReadCatchUp(b *testing.B) {
	s := startServer(b)
	l := openLog(b, s.URL(), "bench", func(c *ferryjs.Config) { c.MaxPending = 4096 })
	var lastP stream.Pending
	for i := range b.N {
		p, err := l.AppendAsync(bench64, uint64(i))
		if err != nil {
			b.Fatal(err)
		}
		lastP = p
	}
	if _, err := lastP.Offset(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(bench64)))
	b.ResetTimer()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := 0
	done := errors.New("done")
	err := l.Read(ctx, 1, func(e stream.Entry) error {
		n++
		if e.Offset != uint64(n) {
			return fmt.Errorf("entry %d has offset %d", n, e.Offset)
		}
		if n == b.N {
			return done
		}
		return nil
	})
	if !errors.Is(err, done) {
		b.Fatalf("read %d of %d: %v", n, b.N, err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
