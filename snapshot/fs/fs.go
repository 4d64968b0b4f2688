// Package fs is ferry's snapshot store on a local directory (--store
// file:///DIR), the embedded default. Its layout is the object layout of
// every store, as files under DIR:
//
//	DIR/<dataset>/snapshots/<offset>-<generation>.rdb.zst       the object
//	DIR/<dataset>/snapshots/<offset>-<generation>.rdb.zst.json  its Info (size, checksum, created)
//	DIR/<dataset>/manifest.json                                 the newest snapshot's Info
//
// An object is written to a temporary file in the same directory, synced,
// then published with a hard link, which fails rather than replace an
// existing object; its Info record follows it, and the manifest is replaced
// last by an atomic rename. A crash leaves at worst temporary files (named
// .tmp-*, never listed) or a complete object the manifest does not name.
// Manifest updates hold an flock(2) on DIR/<dataset>/.lock, so processes
// sharing the directory move it only forward (on systems without flock,
// only the goroutines of one process are serialized).
package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ferrydb/ferry/snapshot"
)

// maxRecord bounds the manifest and Info records read back.
const maxRecord = 1 << 20

// recordSuffix names an object's Info record: the object's name plus it.
const recordSuffix = ".json"

// Store is a snapshot store on a local directory. Its methods are safe for
// concurrent use.
type Store struct {
	dir string
}

var _ snapshot.Store = (*Store)(nil)

// New returns the store on dir, an existing absolute directory. It does not
// create dir: a directory that is missing (an unmounted volume, a typo) is
// an error, never an empty store.
func New(dir string) (*Store, error) {
	if !filepath.IsAbs(dir) {
		return nil, fmt.Errorf("fs: snapshot directory %q is not absolute", dir)
	}
	dir = filepath.Clean(dir)
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("fs: snapshot directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("fs: snapshot directory %s is not a directory", dir)
	}
	return &Store{dir: dir}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) path(key string) string { return filepath.Join(s.dir, filepath.FromSlash(key)) }

// notFound turns a missing file at path into an error wrapping
// snapshot.ErrNotFound, unless the store's directory itself is gone: that
// is a broken store, not an empty one.
func (s *Store) notFound(what, path string, err error) error {
	if _, serr := os.Stat(s.dir); serr != nil {
		return fmt.Errorf("fs: snapshot directory: %w", serr)
	}
	return fmt.Errorf("%w: %s %s", snapshot.ErrNotFound, what, path)
}

// Put implements snapshot.Store.
func (s *Store) Put(ctx context.Context, info snapshot.Info, r io.Reader) (snapshot.Info, error) {
	info, err := snapshot.PrepareInfo(info)
	if err != nil {
		return snapshot.Info{}, err
	}
	final := s.path(info.Key)
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return snapshot.Info{}, fmt.Errorf("fs: put snapshot %d: %w", info.Offset, err)
	}
	if _, err := os.Lstat(final); err == nil {
		return snapshot.Info{}, fmt.Errorf("%w: %s", snapshot.ErrExists, final)
	}

	removeStaleTemps(dir, time.Now().Add(-staleTemp))
	var temps []string
	defer func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}()
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return snapshot.Info{}, fmt.Errorf("fs: put snapshot %d: %w", info.Offset, err)
	}
	temps = append(temps, f.Name())
	h := snapshot.NewHash()
	n, err := io.Copy(io.MultiWriter(f, h), ctxReader{ctx, r})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return snapshot.Info{}, fmt.Errorf("fs: write snapshot %d to %s: %w", info.Offset, final, err)
	}
	info.Size = n
	info.Checksum = snapshot.FormatChecksum(h.Sum32())

	rec, err := writeTemp(dir, snapshot.MarshalManifest(info))
	if rec != "" {
		temps = append(temps, rec)
	}
	if err != nil {
		return snapshot.Info{}, fmt.Errorf("fs: write snapshot %d: %w", info.Offset, err)
	}
	if err := ctx.Err(); err != nil {
		return snapshot.Info{}, fmt.Errorf("fs: put snapshot %d: %w", info.Offset, err)
	}
	// The link publishes the object, and fails if another Put did first.
	if err := os.Link(f.Name(), final); err != nil {
		if errors.Is(err, iofs.ErrExist) {
			return snapshot.Info{}, fmt.Errorf("%w: %s", snapshot.ErrExists, final)
		}
		return snapshot.Info{}, fmt.Errorf("fs: publish snapshot %d: %w", info.Offset, err)
	}
	if err := os.Rename(rec, final+recordSuffix); err != nil {
		return snapshot.Info{}, fmt.Errorf("fs: publish snapshot %d: %w", info.Offset, err)
	}
	if err := syncDir(dir); err != nil {
		return snapshot.Info{}, fmt.Errorf("fs: publish snapshot %d: %w", info.Offset, err)
	}
	if err := s.advance(ctx, info); err != nil {
		return snapshot.Info{}, err
	}
	return info, nil
}

// advance makes info the manifest's snapshot if it is newer than the
// manifest's, under the dataset's lock.
func (s *Store) advance(ctx context.Context, info snapshot.Info) error {
	dsDir := s.path(info.Dataset)
	unlock, err := lock(filepath.Join(dsDir, ".lock"))
	if err != nil {
		return fmt.Errorf("fs: lock manifest of %s: %w", info.Dataset, err)
	}
	defer unlock()
	cur, err := s.Newest(ctx, info.Dataset)
	switch {
	case err == nil && cur.Offset >= info.Offset:
		return nil
	case err != nil && !errors.Is(err, snapshot.ErrNotFound):
		return err
	}
	tmp, err := writeTemp(dsDir, snapshot.MarshalManifest(info))
	if err == nil {
		err = os.Rename(tmp, s.path(snapshot.ManifestKey(info.Dataset)))
	}
	if err == nil {
		err = syncDir(dsDir)
	}
	if err != nil {
		if tmp != "" {
			os.Remove(tmp)
		}
		return fmt.Errorf("fs: write manifest of %s at %d: %w", info.Dataset, info.Offset, err)
	}
	return nil
}

// Newest implements snapshot.Store.
func (s *Store) Newest(ctx context.Context, dataset string) (snapshot.Info, error) {
	if err := snapshot.ValidateDataset(dataset); err != nil {
		return snapshot.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return snapshot.Info{}, err
	}
	path := s.path(snapshot.ManifestKey(dataset))
	b, err := readSmall(path)
	if errors.Is(err, iofs.ErrNotExist) {
		return snapshot.Info{}, s.notFound("manifest", path, err)
	}
	if err != nil {
		return snapshot.Info{}, fmt.Errorf("fs: read manifest: %w", err)
	}
	return snapshot.UnmarshalManifest(dataset, path, b)
}

// List implements snapshot.Store.
func (s *Store) List(ctx context.Context, dataset string) ([]snapshot.Info, error) {
	if err := snapshot.ValidateDataset(dataset); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prefix := snapshot.SnapshotsPrefix(dataset)
	dir := s.path(prefix)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, iofs.ErrNotExist) {
		if err := s.notFound("directory", dir, err); !errors.Is(err, snapshot.ErrNotFound) {
			return nil, err
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fs: list snapshots: %w", err)
	}
	var out []snapshot.Info
	for _, e := range entries { // sorted by name: by offset, then generation
		info, ok := snapshot.ParseObjectKey(dataset, prefix+e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		st, err := e.Info()
		if errors.Is(err, iofs.ErrNotExist) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("fs: list snapshots: %w", err)
		}
		rec, err := s.record(dataset, info.Key)
		if err == nil {
			info = rec
		} else {
			// A crash came between the object and its record, or the
			// record is damaged: the size and time are the file's, and
			// there is no checksum, so Open refuses the object (saying
			// why) and readers fall back to an older one. One bad record
			// does not hide the others.
			info.Size = st.Size()
			info.Created = st.ModTime().UTC()
		}
		out = append(out, info)
	}
	return out, nil
}

// record reads the Info record of the object key.
func (s *Store) record(dataset, key string) (snapshot.Info, error) {
	path := s.path(key) + recordSuffix
	b, err := readSmall(path)
	if err != nil {
		return snapshot.Info{}, err
	}
	info, err := snapshot.UnmarshalManifest(dataset, path, b)
	if err == nil && info.Key != key {
		err = fmt.Errorf("fs: %s records %s", path, info.Key)
	}
	return info, err
}

// Open implements snapshot.Store.
func (s *Store) Open(ctx context.Context, info snapshot.Info) (io.ReadCloser, error) {
	key, err := snapshot.ObjectKey(info)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path := s.path(key)
	f, err := os.Open(path)
	if errors.Is(err, iofs.ErrNotExist) {
		return nil, s.notFound("snapshot", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("fs: open snapshot: %w", err)
	}
	want, size := info.Checksum, info.Size
	rec, err := s.record(info.Dataset, key)
	switch {
	case err == nil:
		if want == "" {
			want, size = rec.Checksum, rec.Size
		} else if rec.Checksum != want || rec.Size != size {
			f.Close()
			return nil, fmt.Errorf("%w: %s: recorded %s (%d bytes), expected %s (%d bytes)",
				snapshot.ErrChecksum, path, rec.Checksum, rec.Size, want, size)
		}
	case !errors.Is(err, iofs.ErrNotExist):
		f.Close()
		return nil, err
	}
	if want == "" {
		f.Close()
		return nil, fmt.Errorf("fs: open snapshot %s: no checksum recorded for it", path)
	}
	return snapshot.VerifyReader(ctxReadCloser{ctx, f}, path, size, want)
}

// Delete implements snapshot.Store.
func (s *Store) Delete(ctx context.Context, info snapshot.Info) error {
	key, err := snapshot.ObjectKey(info)
	if err != nil {
		return err
	}
	cur, err := s.Newest(ctx, info.Dataset)
	switch {
	case err == nil && info.Offset >= cur.Offset:
		return fmt.Errorf("%w: %s is at or above the manifest's offset %d", snapshot.ErrNewest, key, cur.Offset)
	case err != nil && !errors.Is(err, snapshot.ErrNotFound):
		return err
	}
	path := s.path(key)
	for _, p := range []string{path, path + recordSuffix} {
		if err := os.Remove(p); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			return fmt.Errorf("fs: delete snapshot %d: %w", info.Offset, err)
		}
	}
	if err := syncDir(filepath.Dir(path)); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return fmt.Errorf("fs: delete snapshot %d: %w", info.Offset, err)
	}
	return nil
}

// writeTemp writes b to a new synced temporary file in dir and returns its
// name ("" if it could not be created).
func writeTemp(dir string, b []byte) (string, error) {
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRecord+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxRecord {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxRecord)
	}
	return b, nil
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	// Some systems cannot sync a directory; the rename itself is atomic.
	if err != nil && (errors.Is(err, iofs.ErrInvalid) || strings.Contains(err.Error(), "not supported")) {
		return nil
	}
	return err
}

// procLocks serializes the goroutines of this process per lock file; the
// flock (where there is one) serializes processes.
var procLocks sync.Map // path -> *sync.Mutex

func lock(path string) (unlock func(), err error) {
	mu, _ := procLocks.LoadOrStore(path, new(sync.Mutex))
	mu.(*sync.Mutex).Lock()
	release, err := flock(path)
	if err != nil {
		mu.(*sync.Mutex).Unlock()
		return nil, err
	}
	return func() {
		release()
		mu.(*sync.Mutex).Unlock()
	}, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

type ctxReadCloser struct {
	ctx context.Context
	f   *os.File
}

func (c ctxReadCloser) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.f.Read(p)
}

func (c ctxReadCloser) Close() error { return c.f.Close() }

// staleTemp is how long a temporary file may go unmodified before Put takes
// it for the leftover of a writer that died (a running upload writes to
// its file continually).
const staleTemp = time.Hour

// removeStaleTemps deletes the temporary files in dir last modified before
// cutoff: what a process killed in the middle of a Put left behind.
func removeStaleTemps(dir string, cutoff time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".tmp-") || !e.Type().IsRegular() {
			continue
		}
		if st, err := e.Info(); err == nil && st.ModTime().Before(cutoff) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
