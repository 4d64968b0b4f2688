package jetstream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ferrydb/ferry/stream"
	ferryjs "github.com/ferrydb/ferry/stream/jetstream"
)

// got is what GetEntries handed over for one offset.
type got struct {
	en      stream.Entry
	missing error
}

// getEntries runs GetEntries from from to to and returns what it handed
// over, in order, with its error.
func getEntries(tb testing.TB, l *ferryjs.Log, from, to uint64) ([]got, error) {
	tb.Helper()
	var out []got
	err := l.GetEntries(ctxTimeout(tb, 20*time.Second), from, to, func(en stream.Entry, missing error) error {
		out = append(out, got{en, missing})
		return nil
	})
	return out, err
}

// directRequests counts the direct gets made on dataset's stream from
// now on: batched ones and single ones.
func directRequests(tb testing.TB, url, dataset string) (batched, single *atomic.Int64) {
	tb.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	batched, single = new(atomic.Int64), new(atomic.Int64)
	_, err = nc.Subscribe("$JS.API.DIRECT.GET."+ferryjs.StreamName(dataset), func(m *nats.Msg) {
		var req struct{ Batch int }
		if json.Unmarshal(m.Data, &req) == nil && req.Batch > 0 {
			batched.Add(1)
		} else {
			single.Add(1)
		}
	})
	if err == nil {
		err = nc.Flush()
	}
	if err != nil {
		tb.Fatal(err)
	}
	return batched, single
}

// checkAgainstGet compares what GetEntries handed over for offsets from
// from on with what Get returns for each of the offsets in check (asked
// for in parallel: Get waits ~250 ms before it calls an entry deleted).
func checkAgainstGet(t *testing.T, l *ferryjs.Log, out []got, from uint64, check []uint64) {
	t.Helper()
	ctx := ctxTimeout(t, 20*time.Second)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, off := range check {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			g := out[off-from]
			en, err := l.Get(ctx, off)
			switch {
			case err != nil:
				if g.missing == nil || g.missing.Error() != err.Error() || !errors.Is(g.missing, stream.ErrTruncated) || g.en.Offset != off || g.en.Data != nil {
					t.Errorf("offset %d: GetEntries handed over %d, %q, %v; Get says %v", off, g.en.Offset, g.en.Data, g.missing, err)
				}
			case g.missing != nil || g.en.Offset != en.Offset || !bytes.Equal(g.en.Data, en.Data) || !g.en.Time.Equal(en.Time) || en.Time.IsZero():
				t.Errorf("offset %d: GetEntries handed over %d, %d bytes at %v, %v; Get returns %d, %d bytes at %v",
					off, g.en.Offset, len(g.en.Data), g.en.Time, g.missing, en.Offset, len(en.Data), en.Time)
			}
		}()
	}
	wg.Wait()
}

// TestBatchGetEntries: a log with entries deleted from its middle (inside a
// batch, at a batch's end, at the next one's start, a run of them) and
// large entries (objects, one of them lost), read whole and in parts,
// gives what Get gives for every offset, in order, each offset once, the
// deleted ones and the one whose object is lost reported with Get's
// error; a whole read takes three batched requests and no single gets.
func TestBatchGetEntries(t *testing.T) {
	s := smallServer(t)
	w := openLog(t, s.URL(), "batch")
	const n = 9000
	entries := payloads(n)
	large := []uint64{2, 4095, 4098, 8999}
	for i, off := range large {
		entries[off-1] = randomBytes(uint64(i), 100<<10)
	}
	appendMany(t, w, entries)
	ctx := ctxTimeout(t, 20*time.Second)
	raw := rawStream(t, s.URL(), "batch")
	deleted := []uint64{5, 4096, 4097, 6000, 6001, 6002}
	for _, off := range deleted {
		if err := raw.DeleteMsg(ctx, off); err != nil {
			t.Fatal(err)
		}
	}
	// The object of the large entry at 8999 is lost: Get calls the entry
	// removed too.
	obs, err := rawJS(t, s.URL()).ObjectStore(ctx, ferryjs.BucketName("batch"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range objectNames(t, s.URL(), "batch") {
		if strings.HasPrefix(name, "00000000000000008999-") {
			if err := obs.Delete(ctx, name); err != nil {
				t.Fatal(err)
			}
		}
	}
	isDeleted := func(off uint64) bool {
		if off == 8999 {
			return true
		}
		for _, d := range deleted {
			if d == off {
				return true
			}
		}
		return false
	}

	r := openLog(t, s.URL(), "batch", func(c *ferryjs.Config) { c.ReadOnly = true })
	batched, single := directRequests(t, s.URL(), "batch")
	out, err := getEntries(t, r, 1, n)
	if err != nil {
		t.Fatal(err)
	}
	if b, g := batched.Load(), single.Load(); b != 3 || g != 0 {
		t.Errorf("a whole read made %d batched and %d single direct gets, want 3 and 0", b, g)
	}
	if len(out) != n {
		t.Fatalf("%d offsets handed over, want %d", len(out), n)
	}
	for i, g := range out {
		off := uint64(i) + 1
		switch {
		case g.en.Offset != off:
			t.Fatalf("offset %d handed over where %d was due", g.en.Offset, off)
		case isDeleted(off) != (g.missing != nil):
			t.Fatalf("offset %d: missing %v, deleted %v", off, g.missing, isDeleted(off))
		case g.missing == nil && !bytes.Equal(g.en.Data, entries[i]):
			t.Fatalf("offset %d: %d bytes, not the entry's %d", off, len(g.en.Data), len(entries[i]))
		}
	}
	check := append(append([]uint64{1, 4, 6, 4094, 4098, 5999, 6003, n}, large...), deleted...)
	for off := uint64(1); off <= n; off += 97 {
		check = append(check, off)
	}
	checkAgainstGet(t, r, out, 1, check)

	// Parts: starting and ending in holes, one offset, one deleted offset.
	for _, rg := range [][2]uint64{{4096, 4097}, {4095, 4098}, {5, 5}, {6001, 6003}, {2, 2}, {5999, 6000}, {8999, n}} {
		part, err := getEntries(t, r, rg[0], rg[1])
		if err != nil {
			t.Fatalf("%d to %d: %v", rg[0], rg[1], err)
		}
		if len(part) != int(rg[1]-rg[0]+1) {
			t.Fatalf("%d to %d: %d offsets handed over", rg[0], rg[1], len(part))
		}
		for i, g := range part {
			want := out[rg[0]-1+uint64(i)]
			if g.en.Offset != want.en.Offset || !bytes.Equal(g.en.Data, want.en.Data) || !g.en.Time.Equal(want.en.Time) || fmt.Sprint(g.missing) != fmt.Sprint(want.missing) {
				t.Fatalf("%d to %d: offset %d differs from the whole read's", rg[0], rg[1], g.en.Offset)
			}
		}
	}
}

// TestBatchGetEntriesEnds: an entry deleted at the log's end (no batch
// holds a message after it) is asked for with Get and reported as Get
// reports it; a range past the last offset hands over the entries there
// are, then ends with stream.ErrAhead; one below the first with
// stream.ErrTruncated before handing over anything.
func TestBatchGetEntriesEnds(t *testing.T) {
	s := startServer(t)
	w := openLog(t, s.URL(), "ends")
	entries := fill(t, w, 20)
	ctx := ctxTimeout(t, 10*time.Second)
	if err := rawStream(t, s.URL(), "ends").DeleteMsg(ctx, 20); err != nil {
		t.Fatal(err)
	}
	out, err := getEntries(t, w, 1, 20)
	if err != nil || len(out) != 20 {
		t.Fatalf("%d offsets handed over, %v; want 20", len(out), err)
	}
	for i, g := range out[:19] {
		if g.missing != nil || g.en.Offset != uint64(i)+1 || !bytes.Equal(g.en.Data, entries[i]) {
			t.Fatalf("offset %d: %d %q %v", i+1, g.en.Offset, g.en.Data, g.missing)
		}
	}
	checkAgainstGet(t, w, out, 1, []uint64{1, 19, 20})

	out, err = getEntries(t, w, 18, 25)
	if !errors.Is(err, stream.ErrAhead) || len(out) != 3 || out[2].missing == nil {
		t.Fatalf("18 to 25 of a log of 20: %d offsets handed over, %v; want 3 then ErrAhead", len(out), err)
	}

	if err := rawStream(t, s.URL(), "ends").Purge(ctx, jetstream.WithPurgeSequence(10)); err != nil {
		t.Fatal(err)
	}
	out, err = getEntries(t, w, 3, 12)
	if !errors.Is(err, stream.ErrTruncated) || len(out) != 0 {
		t.Fatalf("3 to 12 with 10 the first offset: %d offsets handed over, %v; want none and ErrTruncated", len(out), err)
	}
	out, err = getEntries(t, w, 10, 12)
	if err != nil || len(out) != 3 || out[0].en.Offset != 10 || !bytes.Equal(out[2].en.Data, entries[11]) {
		t.Fatalf("10 to 12 with 10 the first offset: %d offsets handed over, %v", len(out), err)
	}
}

// TestBatchGetEntriesRetention: retention removing entries a read has not
// reached yet ends it with stream.ErrTruncated at the first one, after
// the entries before it, none skipped or repeated. Entries already read
// ahead are handed over: while the first batch is, the second may wait to
// be, the third be read and the fourth asked for, so it ends at the start
// of the second, third, fourth or fifth batch.
func TestBatchGetEntriesRetention(t *testing.T) {
	s := startServer(t)
	w := openLog(t, s.URL(), "retention")
	entries := fill(t, w, 20000)
	var next uint64 = 1
	err := w.GetEntries(ctxTimeout(t, 20*time.Second), 1, 20000, func(en stream.Entry, missing error) error {
		if en.Offset != next || missing != nil || !bytes.Equal(en.Data, entries[en.Offset-1]) {
			return fmt.Errorf("offset %d (%v) handed over where %d was due", en.Offset, missing, next)
		}
		next++
		if en.Offset == 100 {
			return w.Trim(context.Background(), 18000)
		}
		return nil
	})
	if !errors.Is(err, stream.ErrTruncated) || (next-1)%4096 != 0 || next < 4096+1 || next > 4*4096+1 {
		t.Fatalf("read with entries below 18000 removed at 100: %v, next offset %d; want ErrTruncated at a batch's start from 4097 to %d", err, next, 4*4096+1)
	}
	if want := fmt.Sprintf("get %d: first retained offset is 18000: ", next); !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start with %q", err, want)
	}
}

// TestBatchGetEntriesReplaced: a stream deleted and made again while a read
// goes on (in its first batch, and the new stream is longer than that)
// ends it with stream.ErrReplaced before any of the new stream's entries
// is handed over.
func TestBatchGetEntriesReplaced(t *testing.T) {
	s := startServer(t)
	w := openLog(t, s.URL(), "rebatch")
	fill(t, w, 4200)
	r := openLog(t, s.URL(), "rebatch", func(c *ferryjs.Config) { c.ReadOnly = true })
	var read []stream.Entry
	err := r.GetEntries(ctxTimeout(t, 20*time.Second), 1, 4200, func(en stream.Entry, missing error) error {
		if missing != nil {
			return missing
		}
		read = append(read, en)
		if en.Offset == 10 {
			replaceStream(t, s.URL(), "rebatch", 4200)
		}
		return nil
	})
	if !errors.Is(err, stream.ErrReplaced) {
		t.Fatalf("read across a replaced stream: %v after %d entries, want ErrReplaced", err, len(read))
	}
	checkOldLife(t, read)
	if _, err := getEntries(t, r, 1, 5); !errors.Is(err, stream.ErrReplaced) {
		t.Fatalf("a new read of the replaced stream: %v, want ErrReplaced", err)
	}
}

// TestBatchGetEntriesWithoutDirect: on a stream that does not allow direct
// gets, GetEntries reads with Get, holes and all.
func TestBatchGetEntriesWithoutDirect(t *testing.T) {
	s := startServer(t)
	w := openLog(t, s.URL(), "nobatch")
	entries := fill(t, w, 50)
	ctx := ctxTimeout(t, 10*time.Second)
	raw := rawStream(t, s.URL(), "nobatch")
	if err := raw.DeleteMsg(ctx, 30); err != nil {
		t.Fatal(err)
	}
	cfg := raw.CachedInfo().Config
	cfg.AllowDirect = false
	if _, err := rawJS(t, s.URL()).UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	r := openLog(t, s.URL(), "nobatch", func(c *ferryjs.Config) { c.ReadOnly = true })
	out, err := getEntries(t, r, 1, 50)
	if err != nil || len(out) != 50 {
		t.Fatalf("%d offsets handed over, %v; want 50", len(out), err)
	}
	for i, g := range out {
		off := uint64(i) + 1
		if g.en.Offset != off || (off == 30) != (g.missing != nil) || (off != 30 && (!bytes.Equal(g.en.Data, entries[i]) || g.en.Time.IsZero())) {
			t.Fatalf("offset %d: %d %q %v", off, g.en.Offset, g.en.Data, g.missing)
		}
	}
	checkAgainstGet(t, r, out, 1, []uint64{1, 29, 30, 31, 50})
}
