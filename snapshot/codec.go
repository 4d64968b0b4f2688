package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/klauspost/compress/zstd"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/snapshot/rdb"
)

// Write streams a snapshot into st: encode writes the plain RDB bytes, which
// are compressed with zstd on their way into st.Put, without a temporary
// file and without holding the whole snapshot in memory. While it runs the
// process may use every core (see BorrowCores). It returns what
// Put returns. If encode fails, the upload is abandoned and nothing becomes
// visible; the error is encode's.
func Write(ctx context.Context, st Store, info Info, encode func(w io.Writer) error) (Info, error) {
	defer BorrowCores()()
	pr, pw := io.Pipe()
	encErr := make(chan error, 1)
	go func() {
		// zstd's fastest level: on the 1M-key benchmark dataset it costs 2%
		// of size against the default level and half its CPU, which a
		// master taking a snapshot needs for its clients (SET p99 during a
		// snapshot over at rest: 1.21x against 1.46x on 2 cores).
		zw, err := zstd.NewWriter(pw, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest))
		if err == nil {
			err = encode(zw)
			if cerr := zw.Close(); err == nil {
				err = cerr
			}
		}
		pw.CloseWithError(err)
		encErr <- err
	}()
	out, err := st.Put(ctx, info, pr)
	// Unblock the encoder if Put stopped reading early.
	pr.CloseWithError(errUploadEnded)
	eerr := <-encErr
	switch {
	case err != nil && (eerr == nil || errors.Is(eerr, errUploadEnded)):
		// The upload failed first (a full disk, a lost connection): its
		// error says why, not the encoder's that followed.
		return Info{}, err
	case eerr != nil:
		return Info{}, fmt.Errorf("snapshot: encode %s: %w", info, eerr)
	}
	return out, err
}

// errUploadEnded is what the encoder gets when Put stopped reading.
var errUploadEnded = errors.New("snapshot: upload ended")

// Read opens info's object in st and hands decode its decompressed bytes.
// After decode returns, the rest of the object is read so that its checksum
// is verified: Read returns nil only when decode succeeded and the object
// was intact (a damaged one gives an error wrapping ErrChecksum).
func Read(ctx context.Context, st Store, info Info, decode func(r io.Reader) error) error {
	defer BorrowCores()()
	rc, err := st.Open(ctx, info)
	if err != nil {
		return err
	}
	defer rc.Close()
	zr, err := zstd.NewReader(rc, zstd.WithDecoderConcurrency(2), zstd.WithDecoderLowmem(true))
	if err != nil {
		return fmt.Errorf("snapshot: %s: %w", info, err)
	}
	defer zr.Close()
	if err := decode(zr); err != nil {
		// A damaged object shows up first as a decode error; say so.
		if _, cerr := io.Copy(io.Discard, rc); errors.Is(cerr, ErrChecksum) {
			return cerr
		}
		return fmt.Errorf("snapshot: %s: %w", info, err)
	}
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return fmt.Errorf("snapshot: %s: %w", info, err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return err
	}
	return nil
}

// Load reads info's snapshot into a fresh keyspace from newKeyspace and
// returns it with the RDB's AUX fields. The snapshot must say it is what
// info names (same dataset and offset): a mislabelled object is refused.
func Load(ctx context.Context, st Store, info Info, newKeyspace func() *keyspace.Keyspace) (*keyspace.Keyspace, rdb.Meta, error) {
	ks := newKeyspace()
	var meta rdb.Meta
	err := Read(ctx, st, info, func(r io.Reader) error {
		var err error
		meta, err = rdb.Load(r, ks)
		return err
	})
	if err != nil {
		return nil, rdb.Meta{}, err
	}
	if meta.Offset != info.Offset || meta.Dataset != info.Dataset {
		return nil, rdb.Meta{}, fmt.Errorf("snapshot: %s: the RDB says dataset %q offset %d", info, meta.Dataset, meta.Offset)
	}
	return ks, meta, nil
}

// LoadNewest loads the newest readable snapshot of dataset whose offset is
// at most maxOffset (0: any). It starts from the manifest's (or, when
// maxOffset is below it, from the newest listed at or below maxOffset) and,
// when one cannot be read or decoded (damaged, missing, mislabelled), logs
// why and tries the next older one. It returns ErrNotFound only when the
// store says the dataset has no snapshot at all (or none at or below
// maxOffset); when the store cannot be read, or every snapshot fails, the
// error says so and no keyspace is returned: never an empty dataset in
// place of one that could not be read.
func LoadNewest(ctx context.Context, st Store, dataset string, maxOffset uint64, newKeyspace func() *keyspace.Keyspace, logger *slog.Logger) (Info, *keyspace.Keyspace, error) {
	info, ks, _, err := LoadNewestMeta(ctx, st, dataset, maxOffset, newKeyspace, logger)
	return info, ks, err
}

// CheckLog returns ErrOtherLog, naming both logs, when meta (the AUX
// fields of snapshot info) says the snapshot was taken on a log other than
// the one whose identity (stream.Identified) is log. Either identity
// unknown ("": a Redis dump, a snapshot from before ferry recorded it, a
// log that cannot tell) passes.
func CheckLog(info Info, meta rdb.Meta, log string) error {
	if meta.Log == "" || log == "" || meta.Log == log {
		return nil
	}
	return fmt.Errorf("snapshot %s was taken on the dataset's log created at %s, and the log now is one created at %s (deleted and created again): %w",
		info, meta.Log, log, ErrOtherLog)
}

// LoadNewestMeta is LoadNewest that also returns what the RDB says besides
// its keys: its AUX fields and its function libraries (meta.Functions),
// which are part of the dataset too.
func LoadNewestMeta(ctx context.Context, st Store, dataset string, maxOffset uint64, newKeyspace func() *keyspace.Keyspace, logger *slog.Logger) (Info, *keyspace.Keyspace, rdb.Meta, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	newest, err := st.Newest(ctx, dataset)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Info{}, nil, rdb.Meta{}, err
	}
	var failures []error
	tried := map[string]bool{}
	if err == nil && (maxOffset == 0 || newest.Offset <= maxOffset) {
		ks, meta, lerr := Load(ctx, st, newest, newKeyspace)
		if lerr == nil {
			return newest, ks, meta, nil
		}
		if ctx.Err() != nil {
			return Info{}, nil, rdb.Meta{}, lerr
		}
		logger.Error("snapshot unreadable, trying an older one", "snapshot", newest.String(), "err", lerr)
		failures = append(failures, lerr)
		tried[newest.Key] = true
	}
	list, lerr := st.List(ctx, dataset)
	if lerr != nil {
		return Info{}, nil, rdb.Meta{}, errors.Join(append(failures, lerr)...)
	}
	for i := len(list) - 1; i >= 0; i-- {
		info := list[i]
		if tried[info.Key] || maxOffset != 0 && info.Offset > maxOffset {
			continue
		}
		if err == nil && info.Offset > newest.Offset {
			continue // above the manifest: a Put that did not finish publishing
		}
		ks, meta, lerr := Load(ctx, st, info, newKeyspace)
		if lerr == nil {
			return info, ks, meta, nil
		}
		if ctx.Err() != nil {
			return Info{}, nil, rdb.Meta{}, lerr
		}
		logger.Error("snapshot unreadable, trying an older one", "snapshot", info.String(), "err", lerr)
		failures = append(failures, lerr)
	}
	if len(failures) > 0 {
		// Not wrapped: a snapshot that went missing must not make
		// "nothing readable" look like ErrNotFound ("no snapshot at all").
		return Info{}, nil, rdb.Meta{}, fmt.Errorf("snapshot: no readable snapshot of dataset %q: %v", dataset, errors.Join(failures...))
	}
	return Info{}, nil, rdb.Meta{}, fmt.Errorf("snapshot: dataset %q: %w", dataset, ErrNotFound)
}
