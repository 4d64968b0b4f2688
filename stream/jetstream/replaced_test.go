package jetstream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ferrydb/ferry/stream"
	ferryjs "github.com/ferrydb/ferry/stream/jetstream"
)

// The tests in this file delete a dataset's stream and create it again
// under a Log that had it open: the new stream counts offsets from 1 again,
// so its entries must never reach a reader that was part-way through the
// old one, whether it follows the log live, catches up with batched direct
// gets, or starts a new read.

// newLife returns the bodies of entries 1 to n of the stream made again:
// unlike payload's, so that a reader handed one of them is caught.
func newLife(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "*1\r\n$%d\r\nother-%06d\r\n", len("other-")+6, i+1)
	}
	return out
}

// replaceStream deletes dataset's stream and lets a new writer create it
// again with the n entries of newLife.
func replaceStream(tb testing.TB, url, dataset string, n int) {
	tb.Helper()
	if err := rawJS(tb, url).DeleteStream(ctxTimeout(tb, 10*time.Second), ferryjs.StreamName(dataset)); err != nil {
		tb.Fatalf("delete stream: %v", err)
	}
	appendMany(tb, openLog(tb, url, dataset), newLife(n))
}

// checkOldLife fails if any entry read is not the old stream's.
func checkOldLife(tb testing.TB, got []stream.Entry) {
	tb.Helper()
	for i, e := range got {
		if want := uint64(i) + 1; e.Offset != want || !bytes.Equal(e.Data, payload(i+1)) {
			tb.Fatalf("entry %d read: offset %d %q, want offset %d %q (the deleted stream's)", i, e.Offset, e.Data, want, payload(i+1))
		}
	}
}

// TestReplacedLogLiveReader: a reader following the log live, its stream
// deleted and made again with more entries than it had read, stops with
// ErrReplaced and is handed none of them; every later call of the Log's
// says so too, and its writer cannot append on top of the new stream.
func TestReplacedLogLiveReader(t *testing.T) {
	s := startServer(t)
	w := openLog(t, s.URL(), "relive")
	fill(t, w, 5)
	r := openLog(t, s.URL(), "relive", func(c *ferryjs.Config) { c.ReadOnly = true })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []stream.Entry
	caughtUp := make(chan struct{})
	res := make(chan error, 1)
	go func() {
		res <- r.Read(ctx, 1, func(e stream.Entry) error {
			got = append(got, e)
			if len(got) == 5 {
				close(caughtUp)
			}
			return nil
		})
	}()
	select {
	case <-caughtUp:
	case err := <-res:
		t.Fatalf("Read ended before it had the 5 entries: %v", err)
	case <-ctx.Done():
		t.Fatal("the reader did not get the 5 entries")
	}

	replaceStream(t, s.URL(), "relive", 12)
	select {
	case err := <-res:
		if !errors.Is(err, stream.ErrReplaced) {
			t.Fatalf("Read across the stream's replacement = %v, want ErrReplaced", err)
		}
	case <-ctx.Done():
		t.Fatalf("Read still running after the stream was made again; read %d entries", len(got))
	}
	checkOldLife(t, got)

	if _, err := r.Last(ctx); !errors.Is(err, stream.ErrReplaced) {
		t.Errorf("Last on the replaced log = %v, want ErrReplaced", err)
	}
	if err := r.Read(ctx, 6, func(e stream.Entry) error { return fmt.Errorf("handed offset %d", e.Offset) }); !errors.Is(err, stream.ErrReplaced) {
		t.Errorf("a new Read on the replaced log = %v, want ErrReplaced", err)
	}
	if _, err := w.Last(ctx); !errors.Is(err, stream.ErrReplaced) {
		t.Errorf("the old writer's Last = %v, want ErrReplaced", err)
	}
	if _, err := w.Append(ctx, payload(6), 5); err == nil {
		t.Error("the old writer appended after offset 5 of the new stream, which holds 12 entries")
	}
}

// TestReplacedLogCatchUp: a reader far behind catches up with batched
// direct gets; the stream is deleted and made again (longer) while it
// applies its first batch. It stops with ErrReplaced at its next batch,
// and nothing it was handed comes from the new stream.
func TestReplacedLogCatchUp(t *testing.T) {
	const n = 10000 // a few of the catch-up's batches
	s := startServer(t)
	w := openLog(t, s.URL(), "recatch")
	fill(t, w, n)
	r := openLog(t, s.URL(), "recatch", func(c *ferryjs.Config) { c.ReadOnly = true })

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var got []stream.Entry
	replaced := false
	err := r.ReadRuns(ctx, 1, func(run []stream.Entry) error {
		got = append(got, run...)
		if !replaced {
			if len(run) >= n {
				return fmt.Errorf("the first run held all %d entries: no later batch to check", len(run))
			}
			replaced = true
			replaceStream(t, s.URL(), "recatch", 2*n)
		}
		return nil
	})
	if !errors.Is(err, stream.ErrReplaced) {
		t.Fatalf("catch-up across the stream's replacement = %v after %d entries, want ErrReplaced", err, len(got))
	}
	if len(got) >= n {
		t.Fatalf("read %d entries, want fewer than the old stream's %d", len(got), n)
	}
	checkOldLife(t, got)
	if ferryjs.DirectEntries(r) == 0 {
		t.Error("no entry came through the catch-up's direct gets: the test did not test them")
	}
}
