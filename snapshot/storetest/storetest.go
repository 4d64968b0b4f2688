// Package storetest is the conformance suite of snapshot.Store: every
// backend's tests call Run, so that the file store and the S3 store (on a
// real S3 server) are held to one contract: objects before manifests, a
// manifest that only moves forward, write-once objects, checksums verified
// on read, and "not found" only when nothing is there.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrydb/ferry/snapshot"
)

// Raw is raw access to what a backend stores, behind its Store's back, so
// that the suite can damage objects and simulate crashes. Keys are relative
// to the store's root, as in snapshot.Info.Key.
type Raw interface {
	// ReadRaw returns the bytes stored under key.
	ReadRaw(t testing.TB, key string) []byte
	// WriteRaw replaces the bytes stored under key, as another program
	// would (whatever the backend keeps beside the bytes, such as a
	// recorded checksum, is not updated to match).
	WriteRaw(t testing.TB, key string, b []byte)
	// RemoveRaw deletes what is stored under key.
	RemoveRaw(t testing.TB, key string)
	// Leftovers lists what failed Puts left behind under dataset:
	// temporary files, incomplete multipart uploads.
	Leftovers(t testing.TB, dataset string) []string
}

// Run runs the suite. newStore returns a new, empty store for each test; it
// must implement Raw too (a backend's test wraps its Store to add it).
func Run(t *testing.T, newStore func(t *testing.T) snapshot.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, snapshot.Store, Raw)
	}{
		{"Empty", testEmpty},
		{"PutNewestListOpen", testPutNewestListOpen},
		{"Names", testNames},
		{"ManifestOnlyForward", testManifestOnlyForward},
		{"WriteOnce", testWriteOnce},
		{"ConcurrentPuts", testConcurrentPuts},
		{"CrashBeforeManifest", testCrashBeforeManifest},
		{"FailedPut", testFailedPut},
		{"CorruptObject", testCorruptObject},
		{"WrongChecksum", testWrongChecksum},
		{"MissingObject", testMissingObject},
		{"BadManifest", testBadManifest},
		{"UnknownLength20MiB", testLarge},
		{"Delete", testDelete},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			raw, ok := s.(Raw)
			if !ok {
				t.Fatalf("%T does not implement storetest.Raw", s)
			}
			tc.fn(t, s, raw)
		})
	}
}

const (
	ds  = "shop"
	gen = "8f1d2a63c0e4b5a7f9d3e1c2b4a6f8e0d2c4b6a8"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// opaque hides everything but Read, so stores see a stream of unknown
// length.
type opaque struct{ r io.Reader }

func (o opaque) Read(p []byte) (int, error) { return o.r.Read(p) }

// data returns n pseudo-random bytes, different for each seed.
func data(seed uint64, n int) []byte {
	b := make([]byte, n)
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	rand.NewChaCha8(key).Read(b)
	return b
}

func put(t *testing.T, s snapshot.Store, dataset string, off uint64, g string, b []byte) snapshot.Info {
	t.Helper()
	info, err := s.Put(ctxT(t), snapshot.Info{Dataset: dataset, Offset: off, Generation: g}, opaque{bytes.NewReader(b)})
	if err != nil {
		t.Fatalf("put %s@%d: %v", dataset, off, err)
	}
	return info
}

// read opens info and reads it all; the error is Open's or the read's.
func read(t *testing.T, s snapshot.Store, info snapshot.Info) ([]byte, error) {
	t.Helper()
	rc, err := s.Open(ctxT(t), info)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func mustRead(t *testing.T, s snapshot.Store, info snapshot.Info, want []byte) {
	t.Helper()
	got, err := read(t, s, info)
	if err != nil {
		t.Fatalf("read %s: %v", info, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %s: %d bytes, not the %d put", info, len(got), len(want))
	}
}

func sameInfo(a, b snapshot.Info) bool {
	return a.Dataset == b.Dataset && a.Offset == b.Offset && a.Generation == b.Generation && a.Size == b.Size &&
		a.Created.Equal(b.Created) && a.Key == b.Key && a.Checksum == b.Checksum
}

func mustNewest(t *testing.T, s snapshot.Store, dataset string, want snapshot.Info) {
	t.Helper()
	got, err := s.Newest(ctxT(t), dataset)
	if err != nil {
		t.Fatalf("newest %s: %v", dataset, err)
	}
	if !sameInfo(got, want) {
		t.Fatalf("newest %s:\n got %+v\nwant %+v", dataset, got, want)
	}
}

func mustList(t *testing.T, s snapshot.Store, dataset string, want ...snapshot.Info) {
	t.Helper()
	got, err := s.List(ctxT(t), dataset)
	if err != nil {
		t.Fatalf("list %s: %v", dataset, err)
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = sameInfo(got[i], want[i])
	}
	if !ok {
		t.Fatalf("list %s:\n got %+v\nwant %+v", dataset, got, want)
	}
}

func wantErr(t *testing.T, what string, err, target error, mentions string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got %v, want %v", what, err, target)
	}
	if mentions != "" && !strings.Contains(err.Error(), mentions) {
		t.Fatalf("%s: error %q does not name %s", what, err, mentions)
	}
}

func noLeftovers(t *testing.T, raw Raw, dataset string) {
	t.Helper()
	if l := raw.Leftovers(t, dataset); len(l) > 0 {
		t.Fatalf("leftovers after a failed put: %q", l)
	}
}

func testEmpty(t *testing.T, s snapshot.Store, raw Raw) {
	ctx := ctxT(t)
	_, err := s.Newest(ctx, ds)
	wantErr(t, "newest of an empty dataset", err, snapshot.ErrNotFound, "")
	list, err := s.List(ctx, ds)
	if err != nil || len(list) != 0 {
		t.Fatalf("list of an empty dataset: %v, %v", list, err)
	}
	info := snapshot.Info{Dataset: ds, Offset: 7, Generation: gen}
	key, _ := snapshot.ObjectKey(info)
	_, err = s.Open(ctx, info)
	wantErr(t, "open in an empty dataset", err, snapshot.ErrNotFound, key)
	if err := s.Delete(ctx, info); err != nil {
		t.Fatalf("delete of a missing snapshot: %v", err)
	}
}

func testPutNewestListOpen(t *testing.T, s snapshot.Store, raw Raw) {
	ctx := ctxT(t)
	contents := map[uint64][]byte{5: data(5, 1000), 100: data(100, 64<<10), 42: data(42, 0)}
	infos := map[uint64]snapshot.Info{}
	created := time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)
	for _, off := range []uint64{5, 100, 42} {
		in := snapshot.Info{Dataset: ds, Offset: off, Generation: gen}
		if off == 42 {
			in.Created = created
		}
		before := time.Now()
		info, err := s.Put(ctx, in, opaque{bytes.NewReader(contents[off])})
		if err != nil {
			t.Fatalf("put %d: %v", off, err)
		}
		wantKey := fmt.Sprintf("%s/snapshots/%020d-%s.rdb.zst", ds, off, gen)
		h := snapshot.NewHash()
		h.Write(contents[off])
		if info.Dataset != ds || info.Offset != off || info.Generation != gen || info.Key != wantKey ||
			info.Size != int64(len(contents[off])) || info.Checksum != snapshot.FormatChecksum(h.Sum32()) {
			t.Fatalf("put %d returned %+v", off, info)
		}
		if off == 42 && !info.Created.Equal(created) {
			t.Fatalf("put kept Created %v, want the caller's %v", info.Created, created)
		}
		if off != 42 && (info.Created.Before(before.Add(-time.Second)) || info.Created.After(time.Now().Add(time.Second))) {
			t.Fatalf("put set Created %v, want about now", info.Created)
		}
		infos[off] = info
	}
	mustNewest(t, s, ds, infos[100])
	mustList(t, s, ds, infos[5], infos[42], infos[100])
	for off, b := range contents {
		mustRead(t, s, infos[off], b)
		// An Info with only the names is verified against the checksum
		// stored with the object.
		mustRead(t, s, snapshot.Info{Dataset: ds, Offset: off, Generation: gen}, b)
	}

	// Datasets are separate, also when one's name begins with another's.
	other := put(t, s, ds+"2", 1, gen, []byte("other"))
	mustNewest(t, s, ds, infos[100])
	mustNewest(t, s, ds+"2", other)
	mustList(t, s, ds+"2", other)
	mustList(t, s, ds, infos[5], infos[42], infos[100])
}

func testNames(t *testing.T, s snapshot.Store, raw Raw) {
	ctx := ctxT(t)
	for _, in := range []snapshot.Info{
		{Dataset: "", Offset: 1, Generation: gen},
		{Dataset: "a/b", Offset: 1, Generation: gen},
		{Dataset: "..", Offset: 1, Generation: gen},
		{Dataset: ds, Offset: 1, Generation: ""},
		{Dataset: ds, Offset: 1, Generation: "../../x"},
	} {
		if _, err := s.Put(ctx, in, strings.NewReader("x")); err == nil || errors.Is(err, snapshot.ErrNotFound) {
			t.Errorf("put %+v: %v, want a name error", in, err)
		}
		if _, err := s.Open(ctx, in); err == nil || errors.Is(err, snapshot.ErrNotFound) {
			t.Errorf("open %+v: %v, want a name error", in, err)
		}
		if err := s.Delete(ctx, in); err == nil {
			t.Errorf("delete %+v: no error", in)
		}
	}
	for _, d := range []string{"", "a/b", "..", "a b"} {
		if _, err := s.Newest(ctx, d); err == nil || errors.Is(err, snapshot.ErrNotFound) {
			t.Errorf("newest %q: %v, want a name error", d, err)
		}
		if _, err := s.List(ctx, d); err == nil {
			t.Errorf("list %q: no error", d)
		}
	}
	// The largest offset keeps its 20 digits and its place in the order.
	small := put(t, s, ds, 9, gen, []byte("9"))
	huge := put(t, s, ds, ^uint64(0), gen, []byte("max"))
	if want := fmt.Sprintf("%s/snapshots/18446744073709551615-%s.rdb.zst", ds, gen); huge.Key != want {
		t.Fatalf("key %q, want %q", huge.Key, want)
	}
	mustList(t, s, ds, small, huge)
	mustNewest(t, s, ds, huge)
}

func testManifestOnlyForward(t *testing.T, s snapshot.Store, raw Raw) {
	i100 := put(t, s, ds, 100, gen, []byte("hundred"))
	i50 := put(t, s, ds, 50, gen, []byte("fifty"))
	mustNewest(t, s, ds, i100)
	// The same offset from another writer does not move it either.
	other := put(t, s, ds, 100, "other-generation", []byte("hundred again"))
	mustNewest(t, s, ds, i100)
	mustList(t, s, ds, i50, i100, other)
	i101 := put(t, s, ds, 101, "other-generation", []byte("next"))
	mustNewest(t, s, ds, i101)
	mustRead(t, s, i50, []byte("fifty"))
}

func testWriteOnce(t *testing.T, s snapshot.Store, raw Raw) {
	first := put(t, s, ds, 10, gen, []byte("first"))
	_, err := s.Put(ctxT(t), snapshot.Info{Dataset: ds, Offset: 10, Generation: gen}, strings.NewReader("second, longer"))
	wantErr(t, "second put of one snapshot", err, snapshot.ErrExists, first.Key)
	mustNewest(t, s, ds, first)
	mustList(t, s, ds, first)
	mustRead(t, s, first, []byte("first"))
	noLeftovers(t, raw, ds)

	// Racing Puts of one snapshot, large enough for multipart uploads:
	// one wins, whole; the others get ErrExists.
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Put(ctxT(t), snapshot.Info{Dataset: ds, Offset: 20, Generation: gen}, opaque{bytes.NewReader(data(uint64(100+i), 11<<20))})
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("racing puts of one snapshot: %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, snapshot.ErrExists):
			t.Fatalf("racing puts of one snapshot: %v", err)
		}
	}
	if winner < 0 {
		t.Fatal("racing puts of one snapshot: none won")
	}
	newest, err := s.Newest(ctxT(t), ds)
	if err != nil || newest.Offset != 20 {
		t.Fatalf("newest after racing puts: %+v, %v", newest, err)
	}
	mustRead(t, s, newest, data(uint64(100+winner), 11<<20))
	noLeftovers(t, raw, ds)
}

func testConcurrentPuts(t *testing.T, s snapshot.Store, raw Raw) {
	ctx := ctxT(t)
	const n, size = 24, 10 << 10
	order := rand.Perm(n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for _, i := range order {
		off := uint64(i + 1)
		wg.Go(func() {
			<-start
			_, err := s.Put(ctx, snapshot.Info{Dataset: ds, Offset: off, Generation: gen}, opaque{bytes.NewReader(data(off, size))})
			errs <- err
		})
	}
	// A reader following the manifest meanwhile sees it only move forward,
	// and every snapshot it names is complete.
	stop := make(chan struct{})
	readerDone := make(chan error, 1)
	go func() {
		var last uint64
		for {
			select {
			case <-stop:
				readerDone <- nil
				return
			default:
			}
			info, err := s.Newest(ctx, ds)
			if errors.Is(err, snapshot.ErrNotFound) {
				if last != 0 {
					readerDone <- fmt.Errorf("manifest vanished after offset %d", last)
					return
				}
				continue
			}
			if err != nil {
				readerDone <- err
				return
			}
			if info.Offset < last {
				readerDone <- fmt.Errorf("manifest went back from %d to %d", last, info.Offset)
				return
			}
			last = info.Offset
			got, err := read(t, s, info)
			if err != nil {
				readerDone <- fmt.Errorf("manifest names %s, which does not read: %w", info, err)
				return
			}
			if !bytes.Equal(got, data(info.Offset, size)) {
				readerDone <- fmt.Errorf("manifest names %s, with other bytes", info)
				return
			}
		}
	}()
	close(start)
	wg.Wait()
	close(stop)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent put: %v", err)
		}
	}
	if err := <-readerDone; err != nil {
		t.Fatal(err)
	}
	newest, err := s.Newest(ctx, ds)
	if err != nil || newest.Offset != n {
		t.Fatalf("newest after concurrent puts: %+v, %v; want offset %d", newest, err, n)
	}
	list, err := s.List(ctx, ds)
	if err != nil || len(list) != n {
		t.Fatalf("list after concurrent puts: %d snapshots, %v", len(list), err)
	}
	for i, info := range list {
		if info.Offset != uint64(i+1) {
			t.Fatalf("list[%d] is offset %d", i, info.Offset)
		}
	}
}

func testCrashBeforeManifest(t *testing.T, s snapshot.Store, raw Raw) {
	i10 := put(t, s, ds, 10, gen, []byte("ten"))
	manifest := raw.ReadRaw(t, snapshot.ManifestKey(ds))
	i20 := put(t, s, ds, 20, gen, []byte("twenty"))
	// The writer died between the object and the manifest: put the
	// manifest back as it was.
	raw.WriteRaw(t, snapshot.ManifestKey(ds), manifest)
	mustNewest(t, s, ds, i10)
	mustRead(t, s, i10, []byte("ten"))
	// The orphan is a complete snapshot: listed, readable, and the next
	// Put moves past it.
	mustList(t, s, ds, i10, i20)
	mustRead(t, s, i20, []byte("twenty"))
	i30 := put(t, s, ds, 30, gen, []byte("thirty"))
	mustNewest(t, s, ds, i30)
	if err := s.Delete(ctxT(t), i20); err != nil {
		t.Fatalf("delete the orphan once below the manifest: %v", err)
	}
	mustList(t, s, ds, i10, i30)
}

// failing yields n pseudo-random bytes, then fails.
type failing struct {
	r   io.Reader
	err error
}

func (f *failing) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func testFailedPut(t *testing.T, s snapshot.Store, raw Raw) {
	i1 := put(t, s, ds, 1, gen, []byte("one"))
	boom := errors.New("boom: the snapshot writer failed")
	for _, size := range []int{0, 1 << 20, 21 << 20} {
		_, err := s.Put(ctxT(t), snapshot.Info{Dataset: ds, Offset: 2, Generation: gen}, &failing{bytes.NewReader(data(2, size)), boom})
		if !errors.Is(err, boom) {
			t.Fatalf("put from a reader failing after %d bytes: %v, want the reader's error", size, err)
		}
		mustNewest(t, s, ds, i1)
		mustList(t, s, ds, i1)
		noLeftovers(t, raw, ds)
	}

	// A context that ends mid-stream.
	ctx, cancel := context.WithCancel(ctxT(t))
	pr, pw := io.Pipe()
	go func() {
		pw.Write(data(3, 6<<20))
		cancel()
		pw.Write(data(4, 1<<20))
		pw.Close()
	}()
	_, err := s.Put(ctx, snapshot.Info{Dataset: ds, Offset: 3, Generation: gen}, pr)
	pr.CloseWithError(errors.New("put returned"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("put with a cancelled context: %v", err)
	}
	mustNewest(t, s, ds, i1)
	mustList(t, s, ds, i1)
	noLeftovers(t, raw, ds)

	// The same snapshot can be put again after a failure.
	i2 := put(t, s, ds, 2, gen, []byte("two"))
	mustNewest(t, s, ds, i2)
}

func testCorruptObject(t *testing.T, s snapshot.Store, raw Raw) {
	b := data(1, 300<<10)
	info := put(t, s, ds, 1, gen, b)
	stored := raw.ReadRaw(t, info.Key)
	if !bytes.Equal(stored, b) {
		t.Fatalf("the store keeps %d other bytes than the %d put", len(stored), len(b))
	}
	flipped := bytes.Clone(stored)
	flipped[len(flipped)/2] ^= 0x10
	raw.WriteRaw(t, info.Key, flipped)
	_, err := read(t, s, info)
	wantErr(t, "read a flipped bit", err, snapshot.ErrChecksum, info.Key)

	raw.WriteRaw(t, info.Key, stored[:len(stored)-1])
	_, err = read(t, s, info)
	wantErr(t, "read a truncated object", err, snapshot.ErrChecksum, info.Key)

	raw.WriteRaw(t, info.Key, append(bytes.Clone(stored), 0))
	_, err = read(t, s, info)
	wantErr(t, "read an object with a byte added", err, snapshot.ErrChecksum, info.Key)

	raw.WriteRaw(t, info.Key, stored)
	mustRead(t, s, info, b)
}

func testWrongChecksum(t *testing.T, s snapshot.Store, raw Raw) {
	info := put(t, s, ds, 1, gen, []byte("payload"))
	bad := info
	bad.Checksum = snapshot.FormatChecksum(12345)
	_, err := read(t, s, bad)
	wantErr(t, "read with another checksum", err, snapshot.ErrChecksum, info.Key)
	bad = info
	bad.Size++
	_, err = read(t, s, bad)
	wantErr(t, "read with another size", err, snapshot.ErrChecksum, info.Key)
	bad = info
	bad.Checksum = "sha1:xyz"
	if _, err := read(t, s, bad); err == nil {
		t.Fatal("read with a malformed checksum: no error")
	}
}

func testMissingObject(t *testing.T, s snapshot.Store, raw Raw) {
	i10 := put(t, s, ds, 10, gen, []byte("ten"))
	i20 := put(t, s, ds, 20, gen, []byte("twenty"))
	raw.RemoveRaw(t, i20.Key)
	_, err := read(t, s, i20)
	wantErr(t, "open the manifest's missing object", err, snapshot.ErrNotFound, i20.Key)
	mustRead(t, s, i10, []byte("ten"))
}

func testBadManifest(t *testing.T, s snapshot.Store, raw Raw) {
	i10 := put(t, s, ds, 10, gen, []byte("ten"))
	key := snapshot.ManifestKey(ds)
	good := raw.ReadRaw(t, key)
	wrongDataset := bytes.Replace(good, []byte(`"dataset": "shop"`), []byte(`"dataset": "shop2"`), 1)
	for _, b := range [][]byte{[]byte("{not json"), {}, []byte(`{"version": 99}`), wrongDataset} {
		raw.WriteRaw(t, key, b)
		_, err := s.Newest(ctxT(t), ds)
		if err == nil || errors.Is(err, snapshot.ErrNotFound) {
			t.Fatalf("newest with manifest %q: %v, want an error other than not found", b, err)
		}
		if !strings.Contains(err.Error(), "manifest") {
			t.Fatalf("newest with manifest %q: error %q does not say it is the manifest", b, err)
		}
		// Fail closed: nothing that needs the manifest goes ahead.
		if err := s.Delete(ctxT(t), i10); err == nil {
			t.Fatalf("delete with manifest %q: no error", b)
		}
	}
	raw.WriteRaw(t, key, good)
	mustNewest(t, s, ds, i10)
}

func testLarge(t *testing.T, s snapshot.Store, raw Raw) {
	b := data(7, 20<<20)
	info := put(t, s, ds, 7, gen, b)
	if info.Size != int64(len(b)) {
		t.Fatalf("size %d, want %d", info.Size, len(b))
	}
	mustNewest(t, s, ds, info)
	mustRead(t, s, info, b)
	mustList(t, s, ds, info)
}

func testDelete(t *testing.T, s snapshot.Store, raw Raw) {
	ctx := ctxT(t)
	var infos []snapshot.Info
	for off := uint64(1); off <= 3; off++ {
		infos = append(infos, put(t, s, ds, off, gen, data(off, 1000)))
	}
	wantErr(t, "delete the newest", s.Delete(ctx, infos[2]), snapshot.ErrNewest, infos[2].Key)
	above := snapshot.Info{Dataset: ds, Offset: 4, Generation: gen}
	wantErr(t, "delete above the newest", s.Delete(ctx, above), snapshot.ErrNewest, "")
	mustRead(t, s, infos[2], data(3, 1000))
	if err := s.Delete(ctx, infos[0]); err != nil {
		t.Fatalf("delete: %v", err)
	}
	mustList(t, s, ds, infos[1:]...)
	_, err := read(t, s, infos[0])
	wantErr(t, "open a deleted snapshot", err, snapshot.ErrNotFound, infos[0].Key)
	if err := s.Delete(ctx, infos[0]); err != nil {
		t.Fatalf("delete again: %v", err)
	}
	// Delete needs only the names.
	if err := s.Delete(ctx, snapshot.Info{Dataset: ds, Offset: 2, Generation: gen}); err != nil {
		t.Fatalf("delete by name: %v", err)
	}
	mustList(t, s, ds, infos[2])
	if !slices.IsSortedFunc(infos, func(a, b snapshot.Info) int { return strings.Compare(a.Key, b.Key) }) {
		t.Fatal("keys do not sort by offset")
	}
}
