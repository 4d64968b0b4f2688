package jetstream_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ferrydb/ferry/stream"
	ferryjs "github.com/ferrydb/ferry/stream/jetstream"
)

// appendMany appends entries (pipelined, 256 in flight) after the log's
// current end.
func appendMany(tb testing.TB, l *ferryjs.Log, entries [][]byte) {
	tb.Helper()
	ctx := ctxTimeout(tb, 30*time.Second)
	last, err := l.Last(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	for start := 0; start < len(entries); start += 256 {
		var pend []stream.Pending
		for i := start; i < min(start+256, len(entries)); i++ {
			p, err := l.AppendAsync(entries[i], last+uint64(i))
			if err != nil {
				tb.Fatalf("append %d: %v", i, err)
			}
			pend = append(pend, p)
		}
		for i, p := range pend {
			if off, err := p.Offset(); err != nil || off != last+uint64(start+i)+1 {
				tb.Fatalf("append %d: offset %d, %v", start+i, off, err)
			}
		}
	}
}

// payloads returns the data of entries 1 to n.
func payloads(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = payload(i + 1)
	}
	return out
}

// fill appends entries 1 to n to an empty log and returns their data.
func fill(tb testing.TB, l *ferryjs.Log, n int) [][]byte {
	tb.Helper()
	entries := payloads(n)
	appendMany(tb, l, entries)
	return entries
}

// TestCatchUpRead: a reader far behind reads the backlog in batches of
// direct gets, large entries (in the object store) among them, then
// follows new entries through the consumer: every offset once, in order,
// with its data; only the followed entries carry a Time.
func TestCatchUpRead(t *testing.T) {
	s := smallServer(t)
	w := openLog(t, s.URL(), "catchup")
	const n = 6000
	entries := payloads(n)
	for _, at := range []int{1999, 4499} {
		entries[at] = append([]byte("*1\r\n$100000\r\n"), append(randomBytes(uint64(at), 100000), "\r\n"...)...)
	}
	appendMany(t, w, entries)

	for _, from := range []uint64{1, 3000} {
		r := openLog(t, s.URL(), "catchup", func(c *ferryjs.Config) { c.ReadOnly = true })
		live := [][]byte{payload(n + 1), payload(n + 2)}
		ctx := ctxTimeout(t, 30*time.Second)
		var got []stream.Entry
		done := errors.New("done")
		appended := make(chan error, 1)
		err := r.Read(ctx, from, func(e stream.Entry) error {
			got = append(got, e)
			if e.Offset == n && from == 1 {
				// Caught up: what comes next is followed live.
				go func() {
					for i, d := range live {
						if _, err := w.Append(ctx, d, n+uint64(i)); err != nil {
							appended <- err
							return
						}
					}
					appended <- nil
				}()
			}
			if e.Offset == n+uint64(len(live)) || from != 1 && e.Offset == n {
				return done
			}
			return nil
		})
		if !errors.Is(err, done) {
			t.Fatalf("read from %d: %v after %d entries", from, err, len(got))
		}
		if from == 1 {
			if err := <-appended; err != nil {
				t.Fatalf("append while following: %v", err)
			}
		}
		checkContiguous(t, got, from)
		all := append(entries, live...)
		for _, e := range got {
			if !bytes.Equal(e.Data, all[e.Offset-1]) {
				t.Fatalf("read from %d: entry %d differs (%d bytes, want %d)", from, e.Offset, len(e.Data), len(all[e.Offset-1]))
			}
			if e.Offset > n && e.Time.IsZero() {
				t.Errorf("followed entry %d has no Time", e.Offset)
			}
		}
		if d := ferryjs.DirectEntries(r); d < 2000 {
			t.Errorf("read from %d: %d entries came by catch-up reads, want most of them", from, d)
		}
	}
}

// TestCatchUpReadGap: an entry removed from the middle of the backlog is
// reported (stream.ErrTruncated) after the entries before it, never
// skipped, although a batch of direct gets steps over it: the first
// batch comes by catch-up read, the one with the gap does not.
func TestCatchUpReadGap(t *testing.T) {
	s := startServer(t)
	w := openLog(t, s.URL(), "gap")
	entries := fill(t, w, 9000)
	ctx := ctxTimeout(t, 10*time.Second)
	if err := rawStream(t, s.URL(), "gap").DeleteMsg(ctx, 6000); err != nil {
		t.Fatal(err)
	}
	got, err := readUntil(t, w, 1, len(entries))
	if !errors.Is(err, stream.ErrTruncated) {
		t.Fatalf("read over a removed entry: %v after %d entries, want ErrTruncated", err, len(got))
	}
	checkContiguous(t, got, 1)
	if len(got) != 5999 {
		t.Fatalf("%d entries before the gap, want 5999", len(got))
	}
	if d := ferryjs.DirectEntries(w); d != 4096 {
		t.Fatalf("%d entries by catch-up reads, want the first batch's 4096", d)
	}
}

// TestCatchUpReadServerRestart: NATS restarting in the middle of a
// catch-up loses and repeats nothing, and the next catch-up reads in
// batches again.
func TestCatchUpReadServerRestart(t *testing.T) {
	s := startServer(t)
	w := openLog(t, s.URL(), "restart")
	entries := fill(t, w, 30000)
	r := openLog(t, s.URL(), "restart", func(c *ferryjs.Config) { c.ReadOnly = true })
	ctx := ctxTimeout(t, 60*time.Second)
	next := uint64(1)
	done := errors.New("done")
	err := r.Read(ctx, 1, func(e stream.Entry) error {
		if e.Offset != next || !bytes.Equal(e.Data, entries[e.Offset-1]) {
			return fmt.Errorf("entry %d where %d was expected, or with other data", e.Offset, next)
		}
		next++
		if e.Offset == 5000 {
			if err := s.Restart(); err != nil {
				return err
			}
		}
		if e.Offset == uint64(len(entries)) {
			return done
		}
		return nil
	})
	if !errors.Is(err, done) {
		t.Fatalf("read across a restart: %v at %d", err, next)
	}
	before := ferryjs.DirectEntries(r)
	if _, err := readUntil(t, r, 1, len(entries)); err != nil {
		t.Fatal(err)
	}
	if after := ferryjs.DirectEntries(r); after-before < 4096 {
		t.Fatalf("a catch-up after the restart read %d entries in batches, want them all", after-before)
	}
}

// TestCloseDuringCatchUp: a Log closed while a catch-up read waits for a
// batch that will not come (NATS is gone) ends the read at once with
// stream.ErrClosed, not after the request timeout.
func TestCloseDuringCatchUp(t *testing.T) {
	s := startServer(t)
	w := openLog(t, s.URL(), "close")
	fill(t, w, 20000)
	r := openLog(t, s.URL(), "close", func(c *ferryjs.Config) { c.ReadOnly = true; c.Timeout = 30 * time.Second })
	ctx := ctxTimeout(t, 60*time.Second)
	var closed time.Time
	err := r.Read(ctx, 1, func(e stream.Entry) error {
		if e.Offset == 10 {
			s.Shutdown()
			go func() {
				time.Sleep(300 * time.Millisecond)
				closed = time.Now()
				r.Close()
			}()
		}
		return nil
	})
	if !errors.Is(err, stream.ErrClosed) {
		t.Fatalf("Read = %v, want ErrClosed", err)
	}
	if d := time.Since(closed); closed.IsZero() || d > 2*time.Second {
		t.Fatalf("Read returned %v after Close, want at once", d)
	}
}

// TestCatchUpReadWithoutDirect: on a stream that does not allow direct
// gets, a reader far behind reads everything through the consumer.
func TestCatchUpReadWithoutDirect(t *testing.T) {
	s := startServer(t)
	w := openLog(t, s.URL(), "nodirect")
	entries := fill(t, w, 3000)
	ctx := ctxTimeout(t, 10*time.Second)
	js := rawJS(t, s.URL())
	st := rawStream(t, s.URL(), "nodirect")
	cfg := st.CachedInfo().Config
	cfg.AllowDirect = false
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	r := openLog(t, s.URL(), "nodirect", func(c *ferryjs.Config) { c.ReadOnly = true })
	got, err := readUntil(t, r, 1, len(entries))
	if err != nil {
		t.Fatal(err)
	}
	checkContiguous(t, got, 1)
	if d := ferryjs.DirectEntries(r); d != 0 {
		t.Fatalf("%d entries by direct gets on a stream that does not allow them", d)
	}
}

// TestReadRuns: a catch-up hands over batches of consecutive entries, the
// consumer then one entry at a time, in order, without gaps or repeats.
func TestReadRuns(t *testing.T) {
	s := startServer(t)
	w := openLog(t, s.URL(), "runs")
	entries := fill(t, w, 5000)
	ctx := ctxTimeout(t, 20*time.Second)
	next, longest := uint64(1), 0
	done := errors.New("done")
	err := w.ReadRuns(ctx, 1, func(run []stream.Entry) error {
		longest = max(longest, len(run))
		for _, e := range run {
			if e.Offset != next {
				return fmt.Errorf("entry %d where %d was expected", e.Offset, next)
			}
			if int(e.Offset) <= len(entries) && !bytes.Equal(e.Data, entries[e.Offset-1]) {
				return fmt.Errorf("entry %d differs", e.Offset)
			}
			next++
		}
		if next == 5001 {
			if _, err := w.Append(ctx, payload(5001), 5000); err != nil {
				return err
			}
		}
		if next == 5002 {
			if len(run) != 1 || run[0].Time.IsZero() {
				return fmt.Errorf("the followed entry came in a run of %d, time %v", len(run), run[0].Time)
			}
			return done
		}
		return nil
	})
	if !errors.Is(err, done) {
		t.Fatalf("ReadRuns: %v at %d", err, next)
	}
	if longest < 2 || longest > 4096 {
		t.Fatalf("longest run %d, want a batch (2 to 4096)", longest)
	}
}
