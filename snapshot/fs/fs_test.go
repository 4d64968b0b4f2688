package fs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/snapshot"
	"github.com/ferrydb/ferry/snapshot/fs"
	"github.com/ferrydb/ferry/snapshot/storetest"
)

// rawStore adds storetest.Raw to a Store: plain file operations.
type rawStore struct{ *fs.Store }

func (r rawStore) path(key string) string { return filepath.Join(r.Dir(), filepath.FromSlash(key)) }

func (r rawStore) ReadRaw(t testing.TB, key string) []byte {
	b, err := os.ReadFile(r.path(key))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (r rawStore) WriteRaw(t testing.TB, key string, b []byte) {
	if err := os.WriteFile(r.path(key), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (r rawStore) RemoveRaw(t testing.TB, key string) {
	if err := os.Remove(r.path(key)); err != nil {
		t.Fatal(err)
	}
}

func (r rawStore) Leftovers(t testing.TB, dataset string) []string {
	var out []string
	filepath.WalkDir(r.path(dataset), func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".tmp") {
			out = append(out, path)
		}
		return nil
	})
	return out
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) snapshot.Store {
		s, err := fs.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return rawStore{s}
	})
}

func TestNewRefusesMissingDirectory(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{filepath.Join(dir, "missing"), "relative/dir"} {
		if _, err := fs.New(d); err == nil {
			t.Errorf("New(%q): no error", d)
		}
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := fs.New(f); err == nil {
		t.Errorf("New(%q), a file: no error", f)
	}
}

// A store whose directory went away (an unmounted volume) is broken, not
// empty.
func TestMissingDirectoryIsNotEmpty(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "store")
	os.Mkdir(dir, 0o755)
	s, err := fs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Put(ctx, snapshot.Info{Dataset: "shop", Offset: 1, Generation: "g"}, strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	for _, ds := range []string{"shop", "other"} {
		if _, err := s.Newest(ctx, ds); err == nil || errors.Is(err, snapshot.ErrNotFound) {
			t.Errorf("newest %s: %v, want an error other than not found", ds, err)
		}
		if _, err := s.List(ctx, ds); err == nil {
			t.Errorf("list %s: no error", ds)
		}
	}
	if _, err := s.Open(ctx, info); err == nil || errors.Is(err, snapshot.ErrNotFound) {
		t.Errorf("open: %v, want an error other than not found", err)
	}
}

// A temporary file a killed writer left behind goes once it is stale; a
// recent one (a Put that may still run) stays.
func TestPutRemovesStaleTemps(t *testing.T) {
	s, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := rawStore{s}
	ctx := context.Background()
	if _, err := s.Put(ctx, snapshot.Info{Dataset: "ds", Offset: 1, Generation: "g"}, strings.NewReader("one")); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(r.path(snapshot.SnapshotsPrefix("ds") + "x"))
	stale, fresh := filepath.Join(dir, ".tmp-killed"), filepath.Join(dir, ".tmp-running")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, snapshot.Info{Dataset: "ds", Offset: 2, Generation: "g"}, strings.NewReader("two")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file: %v; want it removed", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("recent temporary file: %v; want it kept", err)
	}
}
