package snapshot_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/snapshot"
	"github.com/ferrydb/ferry/snapshot/fs"
	"github.com/ferrydb/ferry/snapshot/rdb"
)

func newKS() *keyspace.Keyspace { return keyspace.New(nil) }

// fill writes n string keys whose values depend on tag into database 0.
func fill(ks *keyspace.Keyspace, n int, tag string) {
	for i := range n {
		ks.DB(i%3).SetString(fmt.Sprintf("key:%d", i), []byte(fmt.Sprintf("%s-%d", tag, i)), false)
	}
}

func put(t *testing.T, st snapshot.Store, ks *keyspace.Keyspace, off uint64) snapshot.Info {
	t.Helper()
	info := snapshot.Info{Dataset: "ds", Offset: off, Generation: "g1"}
	meta := rdb.Meta{Offset: off, Generation: "g1", Dataset: "ds"}
	out, err := snapshot.Write(context.Background(), st, info, func(w io.Writer) error {
		return rdb.Encode(ks, w, meta)
	})
	if err != nil {
		t.Fatalf("Write at %d: %v", off, err)
	}
	return out
}

func TestWriteLoadRoundTrip(t *testing.T) {
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ks := newKS()
	fill(ks, 5000, "v")
	info := put(t, st, ks, 42)
	if info.Size <= 0 || info.Size > 5000*20 {
		t.Errorf("compressed size %d for 5000 small keys", info.Size)
	}
	got, loaded, err := snapshot.LoadNewest(context.Background(), st, "ds", 0, newKS, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Offset != 42 || loaded.Digest() != ks.Digest() {
		t.Fatalf("loaded %s: digest %x, want %x", got, loaded.Digest(), ks.Digest())
	}
}

func TestWriteEncodeErrorPublishesNothing(t *testing.T) {
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err = snapshot.Write(context.Background(), st, snapshot.Info{Dataset: "ds", Offset: 1, Generation: "g"}, func(w io.Writer) error {
		w.Write(make([]byte, 1<<20))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write: %v, want boom", err)
	}
	if _, err := st.Newest(context.Background(), "ds"); !errors.Is(err, snapshot.ErrNotFound) {
		t.Fatalf("Newest after a failed Write: %v, want ErrNotFound", err)
	}
}

// failingPut is a store whose uploads fail after some bytes, as a full
// disk would make them.
type failingPut struct {
	*fs.Store
	err error
}

func (f failingPut) Put(ctx context.Context, info snapshot.Info, r io.Reader) (snapshot.Info, error) {
	io.CopyN(io.Discard, r, 64<<10)
	return snapshot.Info{}, f.err
}

func TestWriteUploadErrorIsReported(t *testing.T) {
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	full := errors.New("no space left on device")
	ks := newKS()
	fill(ks, 20000, "v")
	_, err = snapshot.Write(context.Background(), failingPut{st, full}, snapshot.Info{Dataset: "ds", Offset: 1, Generation: "g"}, func(w io.Writer) error {
		return rdb.Encode(ks, w, rdb.Meta{Offset: 1, Generation: "g", Dataset: "ds"})
	})
	if !errors.Is(err, full) {
		t.Fatalf("Write into a failing upload: %v; want the upload's error", err)
	}
}

func TestLoadNewestFallsBackOnDamage(t *testing.T) {
	dir := t.TempDir()
	st, err := fs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	old := newKS()
	fill(old, 1000, "old")
	put(t, st, old, 10)
	cur := newKS()
	fill(cur, 1000, "new")
	newest := put(t, st, cur, 20)

	// Flip one byte in the middle of the newest object.
	p := filepath.Join(dir, filepath.FromSlash(newest.Key))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, ks, err := snapshot.LoadNewest(context.Background(), st, "ds", 0, newKS, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Offset != 10 || ks.Digest() != old.Digest() {
		t.Fatalf("fell back to %s, digest %x; want offset 10 with the old data", got, ks.Digest())
	}

	// With every snapshot damaged, the error says so: no keyspace.
	p = filepath.Join(dir, filepath.FromSlash(got.Key))
	if err := os.WriteFile(p, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, ks, err = snapshot.LoadNewest(context.Background(), st, "ds", 0, newKS, nil)
	if err == nil || ks != nil || errors.Is(err, snapshot.ErrNotFound) {
		t.Fatalf("every snapshot damaged: ks %v, err %v; want an error that is not ErrNotFound", ks, err)
	}
	// The manifest's object gone, the other damaged: still not "no snapshot".
	if err := os.Remove(filepath.Join(dir, filepath.FromSlash(newest.Key))); err != nil {
		t.Fatal(err)
	}
	_, ks, err = snapshot.LoadNewest(context.Background(), st, "ds", 0, newKS, nil)
	if err == nil || ks != nil || errors.Is(err, snapshot.ErrNotFound) {
		t.Fatalf("newest missing, older damaged: ks %v, err %v; want an error that is not ErrNotFound", ks, err)
	}
}

// A damaged record (the file store's per-object JSON) hides neither the
// other snapshots from List nor the older ones from LoadNewest.
func TestDamagedRecord(t *testing.T) {
	dir := t.TempDir()
	st, err := fs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	var infos []snapshot.Info
	var digests []keyspace.Digest
	for i, off := range []uint64{10, 20, 30} {
		ks := newKS()
		fill(ks, 100, fmt.Sprint("v", i))
		infos = append(infos, put(t, st, ks, off))
		digests = append(digests, ks.Digest())
	}
	damage := func(info snapshot.Info) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(info.Key))+".json", []byte("{garbage"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	damage(infos[0])
	list, err := st.List(context.Background(), "ds")
	if err != nil || len(list) != 3 || list[0].Offset != 10 || list[0].Checksum != "" || list[2].Checksum == "" {
		t.Fatalf("List with the oldest record damaged: %v, %v; want all three, the damaged one without a checksum", list, err)
	}
	if _, err := st.Open(context.Background(), list[0]); err == nil || !strings.Contains(err.Error(), infos[0].Key) {
		t.Fatalf("Open of the snapshot with a damaged record: %v; want an error naming it", err)
	}
	damage(infos[2])
	got, ks, err := snapshot.LoadNewest(context.Background(), st, "ds", 0, newKS, nil)
	if err != nil || got.Offset != 20 || ks.Digest() != digests[1] {
		t.Fatalf("LoadNewest with the newest record damaged: %v, %v; want offset 20 and its data", got, err)
	}
}

func TestLoadNewestAtOrBelow(t *testing.T) {
	st, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := newKS()
	fill(a, 10, "a")
	put(t, st, a, 5)
	b := newKS()
	fill(b, 10, "b")
	put(t, st, b, 50)
	got, ks, err := snapshot.LoadNewest(context.Background(), st, "ds", 49, newKS, nil)
	if err != nil || got.Offset != 5 || ks.Digest() != a.Digest() {
		t.Fatalf("at or below 49: %s, %v", got, err)
	}
	if _, _, err := snapshot.LoadNewest(context.Background(), st, "ds", 4, newKS, nil); !errors.Is(err, snapshot.ErrNotFound) {
		t.Fatalf("at or below 4: %v, want ErrNotFound", err)
	}
	if _, _, err := snapshot.LoadNewest(context.Background(), st, "other", 0, newKS, nil); !errors.Is(err, snapshot.ErrNotFound) {
		t.Fatalf("empty dataset: %v, want ErrNotFound", err)
	}
}

// TestCheckLog: a snapshot of another log of the dataset is refused,
// naming both logs; an identity either side does not know passes.
func TestCheckLog(t *testing.T) {
	info := snapshot.Info{Dataset: "shop", Offset: 7, Generation: "g"}
	const a, b = "2026-12-07T08:00:00.1Z", "2026-12-07T09:00:00.2Z"
	for _, tc := range []struct {
		snap, log string
		refused   bool
	}{
		{a, a, false}, {a, b, true}, {"", b, false}, {a, "", false}, {"", "", false},
	} {
		err := snapshot.CheckLog(info, rdb.Meta{Log: tc.snap}, tc.log)
		if refused := errors.Is(err, snapshot.ErrOtherLog); refused != tc.refused {
			t.Errorf("snapshot of log %q, log %q: %v; want refused %v", tc.snap, tc.log, err, tc.refused)
		}
		if tc.refused && (!strings.Contains(err.Error(), tc.snap) || !strings.Contains(err.Error(), tc.log) || !strings.Contains(err.Error(), info.String())) {
			t.Errorf("the refusal does not name the snapshot and both logs: %v", err)
		}
	}
}
