// Package snapshot holds ferry's snapshots as domain types: Info describes
// one snapshot object (a zstd-compressed RDB at one log offset), Store is the
// object storage that keeps them with a manifest naming the newest, and the
// errors every backend reports.
//
// A dataset's objects live under names that sort by offset, and a small
// manifest is written last, so that a reader that trusts only the manifest
// never takes a half-written snapshot for the newest:
//
//	<dataset>/snapshots/<offset, 20 digits>-<generation>.rdb.zst
//	<dataset>/manifest.json
//
// Every object's CRC-32C is computed while it is written, kept in its Info
// (and so in the manifest) and with the object, and verified when it is read.
//
// Backends live in subpackages named after what they adapt (snapshot/fs,
// snapshot/s3), each exporting a Store; snapshot/storetest is the
// conformance suite they all pass. This package imports no SDK.
package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Info describes one snapshot object.
type Info struct {
	// Dataset is the dataset the snapshot belongs to.
	Dataset string `json:"dataset"`
	// Offset is the last log offset whose effects the snapshot contains; a
	// replica that loads it resumes at Offset+1. 0 is a snapshot taken
	// before the first write.
	Offset uint64 `json:"offset"`
	// Generation identifies the writer (a master's replid): two writers
	// that reach the same offset write two objects, never one.
	Generation string `json:"generation"`
	// Size is the object's length in bytes, as stored (compressed).
	Size int64 `json:"size"`
	// Created is when the snapshot was taken: the caller's value if Put was
	// given one, else when Put started.
	Created time.Time `json:"created"`
	// Key is the object's name relative to the store's root, the same in
	// every backend: <dataset>/snapshots/<offset>-<generation>.rdb.zst.
	Key string `json:"key"`
	// Checksum is the object's checksum, "crc32c:" and 8 hex digits.
	Checksum string `json:"checksum"`
}

// String names the snapshot in logs and errors.
func (i Info) String() string {
	return fmt.Sprintf("%s@%d (%s)", i.Dataset, i.Offset, i.Generation)
}

var (
	// ErrNotFound means the manifest or the object asked for does not
	// exist. It is returned only when the store said so: a store that
	// cannot be read (unreachable, wrong credentials, missing bucket,
	// unparsable manifest) returns another error, never this one, so that
	// "unreadable" is never taken for "empty".
	ErrNotFound = errors.New("snapshot: not found")

	// ErrChecksum means an object's bytes do not match its recorded
	// checksum or size: it was damaged, truncated or replaced. The error
	// names the object.
	ErrChecksum = errors.New("snapshot: checksum mismatch")

	// ErrExists means Put was given a dataset, offset and generation whose
	// object already exists. Objects are written once: the existing one is
	// left as it was.
	ErrExists = errors.New("snapshot: already exists")

	// ErrNewest means Delete was asked to remove the manifest's snapshot,
	// or one at or above its offset (which a Put may be about to publish).
	ErrNewest = errors.New("snapshot: refusing to delete the newest snapshot")

	// ErrOtherLog means a snapshot was taken on another log of its dataset,
	// one since deleted and created again: its offset names that log's
	// entries, so following this log after it would mix two histories.
	ErrOtherLog = errors.New("snapshot: taken on another log of the dataset")
)

// Store keeps snapshot objects and, per dataset, a manifest naming the
// newest. Its methods are safe for concurrent use, also by several
// processes sharing the same storage. Readers trust only the manifest (or
// List): an object is visible once complete, never half-written.
type Store interface {
	// Put streams r, of any length and read until EOF, into the object for
	// info.Dataset, info.Offset and info.Generation, then makes it the
	// manifest's newest snapshot if its offset is above the manifest's: the
	// manifest only moves forward, also when Puts race. It returns info
	// completed with Key, Size, Checksum and Created. If the object exists
	// it returns ErrExists and changes nothing. If r or the store fails, or
	// ctx ends, nothing becomes visible (at worst a complete object that the
	// manifest does not name, if the failure came between the two); the
	// error wraps r's. Put checks ctx between reads of r, so a writer
	// feeding r should stop when ctx ends too. Put does not close r.
	Put(ctx context.Context, info Info, r io.Reader) (Info, error)

	// Newest returns the manifest's snapshot: the one with the highest
	// offset ever published. ErrNotFound means the dataset has no manifest
	// (no snapshot was ever published); every other failure is another
	// error.
	Newest(ctx context.Context, dataset string) (Info, error)

	// List returns every complete snapshot object of the dataset, sorted by
	// offset (then generation), including any above the manifest that a
	// failed Put left. An empty dataset is an empty list, not an error.
	// Objects whose names are not snapshot names are skipped.
	List(ctx context.Context, dataset string) ([]Info, error)

	// Open returns the object of info.Dataset, info.Offset and
	// info.Generation for reading. The reader verifies the bytes against
	// info.Checksum and info.Size when set, else against the checksum
	// stored with the object (an object with neither cannot be opened), and
	// at EOF returns an error wrapping ErrChecksum, naming the object,
	// instead of io.EOF if they do not match. A missing object is an error
	// wrapping ErrNotFound that names it. The caller must close the reader;
	// ctx bounds the whole read.
	Open(ctx context.Context, info Info) (io.ReadCloser, error)

	// Delete removes the object of info.Dataset, info.Offset and
	// info.Generation. It refuses, with ErrNewest, a snapshot at or above
	// the manifest's offset, so the manifest never names a missing object
	// (a dataset without a manifest has no such bound; do not Delete a
	// snapshot while it is being Put). Deleting a missing object is not an
	// error.
	Delete(ctx context.Context, info Info) error
}

// Location is a parsed --store URL: which backend, and where.
type Location struct {
	// Scheme is "s3" or "file".
	Scheme string
	// Bucket is the S3 bucket (s3 only).
	Bucket string
	// Prefix is the key prefix inside the bucket, without leading or
	// trailing slashes, possibly empty (s3 only).
	Prefix string
	// Dir is the absolute directory (file only).
	Dir string
}

// ParseURL parses a --store URL: s3://BUCKET[/PREFIX] or file:///DIR.
func ParseURL(s string) (Location, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Location{}, fmt.Errorf("snapshot: store URL %q: %w", s, err)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Opaque != "" {
		return Location{}, fmt.Errorf("snapshot: store URL %q: want s3://BUCKET/PREFIX or file:///DIR, nothing more", s)
	}
	switch u.Scheme {
	case "s3":
		if err := validBucket(u.Host); err != nil {
			return Location{}, fmt.Errorf("snapshot: store URL %q: %w", s, err)
		}
		prefix := strings.Trim(u.Path, "/")
		if prefix != "" {
			for _, seg := range strings.Split(prefix, "/") {
				if seg == "" || seg == "." || seg == ".." {
					return Location{}, fmt.Errorf("snapshot: store URL %q: empty, '.' or '..' path segment in the prefix", s)
				}
			}
		}
		return Location{Scheme: "s3", Bucket: u.Host, Prefix: prefix}, nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return Location{}, fmt.Errorf("snapshot: store URL %q: file URLs name a local directory: file:///DIR", s)
		}
		if !strings.HasPrefix(u.Path, "/") || strings.Trim(u.Path, "/") == "" {
			return Location{}, fmt.Errorf("snapshot: store URL %q: want an absolute directory other than /: file:///DIR", s)
		}
		return Location{Scheme: "file", Dir: strings.TrimSuffix(u.Path, "/")}, nil
	case "":
		return Location{}, fmt.Errorf("snapshot: store URL %q: no scheme: want s3://BUCKET/PREFIX or file:///DIR", s)
	default:
		return Location{}, fmt.Errorf("snapshot: store URL %q: unknown scheme %q: want s3 or file", s, u.Scheme)
	}
}

// String is the URL that ParseURL parses back into l.
func (l Location) String() string {
	switch l.Scheme {
	case "s3":
		if l.Prefix == "" {
			return "s3://" + l.Bucket
		}
		return "s3://" + l.Bucket + "/" + l.Prefix
	case "file":
		return (&url.URL{Scheme: "file", Path: l.Dir}).String()
	}
	return ""
}

// validBucket checks the S3 bucket naming rules that matter for a URL.
func validBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket name %q: want 3 to 63 characters", b)
	}
	for _, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return fmt.Errorf("bucket name %q: only lowercase letters, digits, '-' and '.'", b)
		}
	}
	return nil
}

// The rest of this file serves Store implementations: naming, the manifest
// format and checksums, so that every backend stores the same thing.

// maxNameLen bounds dataset and generation names.
const maxNameLen = 64

// ValidateDataset checks a dataset name: 1 to 64 letters, digits, '-' or
// '_' (the names the log accepts too).
func ValidateDataset(name string) error { return validName("dataset", name) }

func validName(what, name string) error {
	if name == "" {
		return fmt.Errorf("snapshot: no %s name", what)
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("snapshot: %s name longer than %d bytes", what, maxNameLen)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("snapshot: %s name %q: only letters, digits, '-' and '_'", what, name)
		}
	}
	return nil
}

const (
	snapshotsDir = "/snapshots/"
	objectSuffix = ".rdb.zst"
	offsetDigits = 20
)

// PrepareInfo is how every backend's Put starts: it checks the names, sets
// Key, and sets Created to the caller's time (now when zero) in UTC,
// without a monotonic reading.
func PrepareInfo(info Info) (Info, error) {
	key, err := ObjectKey(info)
	if err != nil {
		return Info{}, err
	}
	info.Key = key
	if info.Created.IsZero() {
		info.Created = time.Now()
	}
	info.Created = info.Created.UTC().Round(0)
	return info, nil
}

// ObjectKey returns the key of the object for info's dataset, offset and
// generation, relative to the store's root, after checking the names.
func ObjectKey(info Info) (string, error) {
	if err := ValidateDataset(info.Dataset); err != nil {
		return "", err
	}
	if err := validName("generation", info.Generation); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s%s%0*d-%s%s", info.Dataset, snapshotsDir, offsetDigits, info.Offset, info.Generation, objectSuffix), nil
}

// SnapshotsPrefix is the key prefix under which dataset's objects are.
func SnapshotsPrefix(dataset string) string { return dataset + snapshotsDir }

// ManifestKey is the key of dataset's manifest, relative to the store's
// root.
func ManifestKey(dataset string) string { return dataset + "/manifest.json" }

// ParseObjectKey parses the key of one of dataset's objects (relative to
// the store's root) into an Info with Dataset, Offset, Generation and Key
// set. ok is false for any other key.
func ParseObjectKey(dataset, key string) (info Info, ok bool) {
	name, found := strings.CutPrefix(key, SnapshotsPrefix(dataset))
	if !found {
		return Info{}, false
	}
	name, found = strings.CutSuffix(name, objectSuffix)
	if !found || len(name) < offsetDigits+2 || name[offsetDigits] != '-' {
		return Info{}, false
	}
	for _, c := range name[:offsetDigits] {
		if c < '0' || c > '9' {
			return Info{}, false
		}
	}
	off, err := strconv.ParseUint(name[:offsetDigits], 10, 64)
	if err != nil {
		return Info{}, false
	}
	info = Info{Dataset: dataset, Offset: off, Generation: name[offsetDigits+1:], Key: key}
	if want, err := ObjectKey(info); err != nil || want != key {
		return Info{}, false
	}
	return info, true
}

// manifestVersion is the version of the manifest's format.
const manifestVersion = 1

// manifest is the JSON a manifest (and fs's per-object record) holds.
type manifest struct {
	Version int `json:"version"`
	Info
}

// MarshalManifest encodes info as a manifest.
func MarshalManifest(info Info) []byte {
	b, err := json.MarshalIndent(manifest{Version: manifestVersion, Info: info}, "", "  ")
	if err != nil {
		panic(err) // Info always encodes
	}
	return append(b, '\n')
}

// UnmarshalManifest decodes a manifest of dataset, checking that it names
// a well-formed object of that dataset. name (the manifest's location)
// goes into the errors.
func UnmarshalManifest(dataset, name string, b []byte) (Info, error) {
	var m manifest
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Info{}, fmt.Errorf("snapshot: manifest %s: %w", name, err)
	}
	if m.Version != manifestVersion {
		return Info{}, fmt.Errorf("snapshot: manifest %s: version %d, want %d", name, m.Version, manifestVersion)
	}
	info := m.Info
	if info.Dataset != dataset {
		return Info{}, fmt.Errorf("snapshot: manifest %s: dataset %q, want %q", name, info.Dataset, dataset)
	}
	if key, err := ObjectKey(info); err != nil {
		return Info{}, fmt.Errorf("snapshot: manifest %s: %w", name, err)
	} else if key != info.Key {
		return Info{}, fmt.Errorf("snapshot: manifest %s: key %q, want %q", name, info.Key, key)
	}
	if _, err := ParseChecksum(info.Checksum); err != nil {
		return Info{}, fmt.Errorf("snapshot: manifest %s: %w", name, err)
	}
	if info.Size < 0 {
		return Info{}, fmt.Errorf("snapshot: manifest %s: negative size", name)
	}
	return info, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// NewHash returns the hash objects are checksummed with: CRC-32C
// (Castagnoli), which S3 computes and checks too.
func NewHash() hash.Hash32 { return crc32.New(castagnoli) }

// FormatChecksum formats a CRC-32C as an Info.Checksum.
func FormatChecksum(sum uint32) string { return fmt.Sprintf("crc32c:%08x", sum) }

// ParseChecksum parses an Info.Checksum.
func ParseChecksum(s string) (uint32, error) {
	hex, ok := strings.CutPrefix(s, "crc32c:")
	if !ok || len(hex) != 8 {
		return 0, fmt.Errorf("checksum %q: want crc32c: and 8 hex digits", s)
	}
	v, err := strconv.ParseUint(hex, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("checksum %q: want crc32c: and 8 hex digits", s)
	}
	return uint32(v), nil
}

// VerifyReader wraps rc, the object name (for errors), so that reading it
// to EOF checks its length (unless size is negative) and its CRC-32C
// against checksum: on a mismatch the read that reaches EOF returns an
// error wrapping ErrChecksum instead of io.EOF, as does every read after.
func VerifyReader(rc io.ReadCloser, name string, size int64, checksum string) (io.ReadCloser, error) {
	want, err := ParseChecksum(checksum)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %s: %w", name, err)
	}
	return &verifier{rc: rc, name: name, size: size, want: want, h: NewHash()}, nil
}

type verifier struct {
	rc   io.ReadCloser
	name string
	size int64
	want uint32
	h    hash.Hash32
	n    int64
	err  error // sticky: the verdict at EOF, or the first read error
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	switch {
	case err == io.EOF:
		v.err = v.check()
	case err != nil:
		v.err = err
	case v.size >= 0 && v.n > v.size:
		v.err = fmt.Errorf("%w: %s: longer than its recorded %d bytes", ErrChecksum, v.name, v.size)
	}
	if v.err != nil {
		return n, v.err
	}
	return n, nil
}

func (v *verifier) check() error {
	if v.size >= 0 && v.n != v.size {
		return fmt.Errorf("%w: %s: %d bytes, recorded %d", ErrChecksum, v.name, v.n, v.size)
	}
	if got := v.h.Sum32(); got != v.want {
		return fmt.Errorf("%w: %s: %s, recorded %s", ErrChecksum, v.name, FormatChecksum(got), FormatChecksum(v.want))
	}
	return io.EOF
}

func (v *verifier) Close() error { return v.rc.Close() }
