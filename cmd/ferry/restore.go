package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/snapshot"
	"github.com/ferrydb/ferry/snapshot/rdb"
	"github.com/ferrydb/ferry/stream"
)

// runRestore runs "ferry restore": the dataset as it was at one offset,
// written as a plain dump.rdb.
func runRestore(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return restoreCmd(ctx, args, os.Stdout)
}

// restoreCmd loads the newest snapshot at or below --offset, replays the
// log from the snapshot's offset+1 up to and including --offset, and writes
// the result to --out with ferry-offset set to --offset.
func restoreCmd(ctx context.Context, args []string, stdout io.Writer) error {
	f := newOfflineFlags("restore", true)
	offset := f.fs.Uint64("offset", 0, "the log offset to restore the dataset at: the state after that entry (required)")
	out := f.fs.String("out", "", `the dump.rdb to write ("-": standard output); written to FILE.tmp, then renamed (required)`)
	if pos, err := f.parse(args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("restore: unexpected argument %q", pos[0])
	}
	if !f.given("offset") && os.Getenv(envName("offset")) == "" {
		return errors.New("restore: --offset N is required")
	}
	if *out == "" {
		return errors.New("restore: --out FILE is required")
	}
	if f.store.url == "" && f.nats.url == "" {
		return errors.New("restore: give --store (snapshots) and --nats (the log); at least one")
	}
	logger, err := f.logger()
	if err != nil {
		return err
	}
	dataset, target := *f.dataset, *offset

	// The log's bounds first: an offset it never reached is an error
	// whatever the snapshots say.
	var (
		lg          stream.Reader
		streamName  string
		first, last uint64
	)
	if f.nats.url != "" {
		l, closeLog, err := f.nats.open(ctx, true, logger)
		if err != nil {
			return fmt.Errorf("open the log of dataset %q: %w", dataset, err)
		}
		defer closeLog()
		lg, streamName = l, l.Stream()
		if first, last, err = l.Range(ctx); err != nil {
			return fmt.Errorf("read the log of dataset %q: %w", dataset, err)
		}
		if target > last {
			return fmt.Errorf("restore: offset %d is above the last offset of stream %s, %d", target, streamName, last)
		}
	}

	// The newest snapshot at or below the target.
	var (
		base     snapshot.Info
		haveBase bool
		ks       *keyspace.Keyspace
		fns      []string // the function libraries
	)
	if f.store.url != "" {
		st, err := f.openStore(ctx)
		if err != nil {
			return err
		}
		prog := startProgress(progressOutput(os.Stderr), "loading a snapshot", "keys")
		newKeyspace := func() *keyspace.Keyspace {
			ks := keyspace.New(nil)
			ks.OnAdd = func(int, string) { prog.Add(1) }
			return ks
		}
		var meta rdb.Meta
		base, ks, meta, err = loadAtOrBelow(ctx, countingStore{st, prog}, dataset, target, newKeyspace, logger)
		prog.Done()
		if err == nil && lg != nil && base.Offset < target {
			// The entries replayed after it must be of the snapshot's log.
			err = snapshot.CheckLog(base, meta, stream.IdentityOf(lg))
		}
		fns = meta.Functions
		switch {
		case err == nil:
			haveBase = true
			ks.OnAdd = nil
			logger.Info("snapshot loaded", "snapshot", base.String())
		case errors.Is(err, snapshot.ErrNotFound):
			logger.Info("no snapshot at or below the offset: replaying the log from 1", "offset", target)
		default:
			return fmt.Errorf("restore: %w", err)
		}
	}
	if ks == nil {
		ks = keyspace.New(nil)
	}
	from := base.Offset + 1 // the first entry to replay
	created := base.Created

	if base.Offset < target {
		switch {
		case lg == nil && haveBase:
			return fmt.Errorf("restore: the newest snapshot at or below offset %d is %s: replaying entries %d to %d needs the log (--nats)", target, base, from, target)
		case lg == nil:
			return fmt.Errorf("restore: no snapshot of dataset %q at or below offset %d: rebuilding it needs the log (--nats)", dataset, target)
		case !haveBase && first > 1:
			return fmt.Errorf("restore: no snapshot of dataset %q at or below offset %d, and stream %s starts at offset %d, not 1 (retention removed the entries before): the state at offset %d cannot be rebuilt", dataset, target, streamName, first, target)
		case first > from:
			return fmt.Errorf("restore: %w", truncated(base, target, streamName, first, nil))
		}
		e := command.New(command.Config{Values: rdb.Values{}})
		e.Lock()
		e.ReplaceKeyspace(ks)
		err := e.ReplaceFunctions(fns)
		e.Unlock()
		if err != nil {
			return fmt.Errorf("restore: snapshot %s: %w", base, err)
		}
		ap := e.NewApplier()
		prog := startProgress(progressOutput(os.Stderr), fmt.Sprintf("replaying %d..%d", from, target), "entries")
		errDone := errors.New("done")
		var replayed stream.Entry // the last entry replayed
		err = lg.Read(ctx, from, func(en stream.Entry) error {
			if err := ap.Apply(en.Data); err != nil {
				return fmt.Errorf("entry %d: %w", en.Offset, err)
			}
			prog.bytes.Add(int64(len(en.Data)))
			prog.Add(1)
			replayed = en
			if en.Offset >= target {
				return errDone
			}
			return nil
		})
		prog.Done()
		switch {
		case errors.Is(err, errDone):
			// A bulk read carries no times: TimeOf asks for it.
			created = stream.TimeOf(ctx, lg, replayed)
		case errors.Is(err, stream.ErrTruncated):
			return fmt.Errorf("restore: %w", truncated(base, target, streamName, 0, err))
		default:
			return fmt.Errorf("restore: replay stream %s from %d to %d: %w", streamName, from, target, err)
		}
		e.Lock()
		ks = e.Keyspace()
		fns = e.FunctionLibraries()
		e.Unlock()
	}

	meta := rdb.Meta{Offset: target, Generation: base.Generation, Dataset: dataset, Created: created, Functions: fns}
	prog := startProgress(progressOutput(os.Stderr), "writing "+*out, "")
	err = writeOutput(*out, stdout, func(w io.Writer) error {
		return rdb.Encode(ks, prog.Writer(w), meta)
	})
	prog.Done()
	if err != nil {
		return fmt.Errorf("restore: write %s: %w", *out, err)
	}
	if *out != "-" {
		keys := 0
		for _, db := range countKeys(ks) {
			keys += db.Keys
		}
		src := "the log from offset 1"
		if haveBase {
			src = "snapshot " + base.String()
		}
		fmt.Fprintf(stdout, "restored dataset %q at offset %d from %s and %d log entries: %d keys, %d bytes written to %s\n",
			dataset, target, src, target-base.Offset, keys, prog.bytes.Load(), *out)
	}
	return nil
}

// truncated explains that entries a restore needs are gone from the log.
func truncated(base snapshot.Info, target uint64, streamName string, first uint64, cause error) error {
	what := fmt.Sprintf("entries %d to %d are gone from stream %s", base.Offset+1, target, streamName)
	if first > 0 {
		what = fmt.Sprintf("entries %d to %d are gone from stream %s (it starts at offset %d)", base.Offset+1, first-1, streamName, first)
	}
	from := "no snapshot"
	if base.Key != "" {
		from = "the newest snapshot at or below it is at offset " + fmt.Sprint(base.Offset)
	}
	err := fmt.Errorf("%s, and %s: the state at offset %d cannot be rebuilt (restore an offset with a newer snapshot at or below it)", what, from, target)
	if cause != nil {
		return fmt.Errorf("%w: %w", err, cause)
	}
	return fmt.Errorf("%w: %w", err, stream.ErrTruncated)
}

// loadAtOrBelow loads the newest readable snapshot whose offset is at most
// target (snapshot.LoadNewest, which reads 0 as "any": offset 0 is looked
// up here), with what its RDB says besides its keys (its function
// libraries, the log it was taken on).
func loadAtOrBelow(ctx context.Context, st snapshot.Store, dataset string, target uint64, newKeyspace func() *keyspace.Keyspace, logger *slog.Logger) (snapshot.Info, *keyspace.Keyspace, rdb.Meta, error) {
	if target > 0 {
		return snapshot.LoadNewestMeta(ctx, st, dataset, target, newKeyspace, logger)
	}
	list, err := st.List(ctx, dataset)
	if err != nil {
		return snapshot.Info{}, nil, rdb.Meta{}, err
	}
	var failures []error
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Offset != 0 {
			continue
		}
		ks, meta, err := snapshot.Load(ctx, st, list[i], newKeyspace)
		if err == nil {
			return list[i], ks, meta, nil
		}
		logger.Error("snapshot unreadable, trying an older one", "snapshot", list[i].String(), "err", err)
		failures = append(failures, err)
	}
	if len(failures) > 0 {
		return snapshot.Info{}, nil, rdb.Meta{}, fmt.Errorf("no readable snapshot of dataset %q at offset 0: %w", dataset, errors.Join(failures...))
	}
	return snapshot.Info{}, nil, rdb.Meta{}, fmt.Errorf("dataset %q at offset 0: %w", dataset, snapshot.ErrNotFound)
}

// countingStore counts the bytes read from the objects it opens.
type countingStore struct {
	snapshot.Store
	prog *progress
}

func (c countingStore) Open(ctx context.Context, info snapshot.Info) (io.ReadCloser, error) {
	rc, err := c.Store.Open(ctx, info)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{c.prog.Reader(rc), rc}, nil
}
