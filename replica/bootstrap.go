package replica

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/snapshot"
	"github.com/ferrydb/ferry/stream"
)

// Bootstrap and resync from snapshots.
//
// With a Store, a replica starts by loading the dataset's newest snapshot
// (clients get -LOADING meanwhile) and reads the log from its offset + 1.
// When its next offset is gone from the log (stream.ErrTruncated), it loads
// a newer snapshot in the background while it keeps serving the dataset it
// has, and swaps the new one in under the engine lock. It never serves an
// empty dataset because a snapshot could not be read: a store that cannot
// be read keeps it loading (or on its old dataset), retrying.
//
// Lock order: the engine's lock, then Replica.mu (INFO reads the
// replication state under the engine lock).

// retryMax caps the wait between attempts to load a snapshot.
const retryMax = 5 * time.Second

// retryDelay is the wait before attempt n (n >= 1): 200 ms doubling up to
// retryMax.
func retryDelay(n int) time.Duration {
	d := 200 * time.Millisecond
	for i := 1; i < n && d < retryMax; i++ {
		d *= 2
	}
	return min(d, retryMax)
}

// sleep waits d, or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// SnapshotLoad describes a snapshot a replica loaded.
type SnapshotLoad struct {
	// Snapshot is the snapshot loaded; its Size is the bytes read.
	Snapshot snapshot.Info
	// Keys is the number of keys it held, in every database.
	Keys int
	// Took is how long reading and decoding it took.
	Took time.Duration
	// At is when it was swapped in.
	At time.Time
}

// LastLoad returns the snapshot the replica loaded last, and whether it
// loaded any.
func (r *Replica) LastLoad() (SnapshotLoad, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastLoad, r.loads > 0
}

// FirstApplied returns the offset of the first log entry applied since the
// replica started or last swapped in a snapshot, 0 if none yet. After a
// snapshot at offset N it is N+1: nothing at or below N is read again.
func (r *Replica) FirstApplied() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.firstApplied
}

// Syncing reports whether the replica is loading a snapshot (Redis's
// master_sync_in_progress).
func (r *Replica) Syncing() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.syncing
}

func (r *Replica) setSyncing(v bool) {
	r.mu.Lock()
	r.syncing = v
	r.mu.Unlock()
}

// bootstrap loads the newest snapshot into the (still loading) replica and
// sets its offset to the snapshot's. A dataset without any snapshot leaves
// it empty at offset 0, to read the log from its start. Any other failure
// is retried, with the replica still loading, until ctx ends; bootstrap
// reports false then.
func (r *Replica) bootstrap(ctx context.Context) bool {
	r.setSyncing(true)
	defer r.setSyncing(false)
	otherLog := "" // the newest snapshot's key, when it was another log's
	for attempt := 0; ; attempt++ {
		if attempt > 0 && !sleep(ctx, retryDelay(attempt)) {
			return false
		}
		if otherLog != "" {
			// Load again only once the store has a newer snapshot, one
			// this log's master may have written.
			if newest, err := r.cfg.Store.Newest(ctx, r.cfg.Dataset); err == nil && newest.Key == otherLog {
				continue
			}
		}
		// Nothing is served yet: the load may skip collection cycles.
		resume := snapshot.PauseGC()
		info, ks, fns, took, err := r.loadNewest(ctx)
		resume()
		if err == nil {
			if err = r.install(info, ks, fns, took); err == nil {
				return true
			}
		}
		if ctx.Err() != nil {
			return false
		}
		if errors.Is(err, snapshot.ErrOtherLog) {
			otherLog = info.Key
			r.setState(StateLoading, err)
		}
		if errors.Is(err, snapshot.ErrNotFound) {
			// LoadNewest's error may wrap ErrNotFound for one missing
			// object among others that failed: trust only the store
			// saying the dataset has nothing.
			if empty, cerr := r.storeEmpty(ctx); cerr != nil {
				err = cerr
			} else if empty {
				r.log.Info("no snapshot of the dataset: reading the log from its start", "dataset", r.cfg.Dataset)
				return true
			}
		}
		r.countFailure()
		r.log.Error("cannot load a snapshot: still loading, will retry", "dataset", r.cfg.Dataset,
			"attempt", attempt+1, "retry_in", retryDelay(attempt+1), "err", err)
	}
}

// storeEmpty reports whether the store says the dataset has no snapshot
// at all: no manifest and no object.
func (r *Replica) storeEmpty(ctx context.Context) (bool, error) {
	if _, err := r.cfg.Store.Newest(ctx, r.cfg.Dataset); err == nil {
		return false, nil
	} else if !errors.Is(err, snapshot.ErrNotFound) {
		return false, err
	}
	list, err := r.cfg.Store.List(ctx, r.cfg.Dataset)
	if err != nil {
		return false, err
	}
	return len(list) == 0, nil
}

// resync replaces the dataset with a snapshot from which the log can be
// followed again, after the next offset went missing from it (cause). The
// replica keeps serving what it has meanwhile (or stays loading, if it
// never served). A snapshot is taken only if it is above the replica's
// offset (never go back; one at the offset itself cannot help, since the
// entry after it is the one gone) and the log still holds the entry after
// it; until one is, resync waits and retries. It reports false when ctx
// ends first.
func (r *Replica) resync(ctx context.Context, cause error) bool {
	r.setSyncing(true)
	defer r.setSyncing(false)
	loading := r.loading()
	if loading {
		r.setState(StateLoading, cause)
	} else {
		r.setState(StateResyncing, cause)
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 && !sleep(ctx, retryDelay(attempt)) {
			return false
		}
		have := r.Offset()
		// The manifest first: loading a whole snapshot to learn that it
		// is too old would be a waste.
		newest, err := r.cfg.Store.Newest(ctx, r.cfg.Dataset)
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			if !errors.Is(err, snapshot.ErrNotFound) {
				r.countFailure()
			}
			r.log.Warn("resync: no snapshot to load yet, will retry", "dataset", r.cfg.Dataset, "offset", have,
				"retry_in", retryDelay(attempt+1), "err", err)
			continue
		}
		if why := r.useless(ctx, newest.Offset, have); why != "" {
			r.log.Warn("resync: the newest snapshot cannot help, will retry", "dataset", r.cfg.Dataset,
				"snapshot_offset", newest.Offset, "offset", have, "why", why, "retry_in", retryDelay(attempt+1))
			continue
		}
		info, ks, fns, took, err := r.loadNewest(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			r.countFailure()
			r.log.Error("resync: cannot load a snapshot, will retry", "dataset", r.cfg.Dataset, "offset", have,
				"retry_in", retryDelay(attempt+1), "err", err)
			continue
		}
		if why := r.useless(ctx, info.Offset, have); why != "" {
			// The newest was damaged and an older one loaded instead.
			r.log.Warn("resync: the snapshot loaded cannot help, will retry", "dataset", r.cfg.Dataset,
				"snapshot_offset", info.Offset, "offset", have, "why", why, "retry_in", retryDelay(attempt+1))
			continue
		}
		if err := r.install(info, ks, fns, took); err != nil {
			r.countFailure()
			r.log.Error("resync: cannot load a snapshot, will retry", "dataset", r.cfg.Dataset, "offset", have,
				"retry_in", retryDelay(attempt+1), "err", err)
			continue
		}
		if !loading {
			r.setState(StateStreaming, nil)
		}
		return true
	}
}

// useless says why a snapshot at offset off cannot bring a replica at
// offset have back to the log, or "" if it can.
func (r *Replica) useless(ctx context.Context, off, have uint64) string {
	if off <= have {
		return fmt.Sprintf("it is not newer than the replica's offset %d, whose next entry is gone", have)
	}
	first, err := r.cfg.Log.First(ctx)
	if err == nil && off+1 < first {
		return fmt.Sprintf("the log starts at %d, after the snapshot's next offset %d", first, off+1)
	}
	return ""
}

// loadNewest loads the newest readable snapshot into a fresh keyspace,
// and returns its function libraries. A snapshot of another log of the
// dataset (snapshot.ErrOtherLog) is an error.
func (r *Replica) loadNewest(ctx context.Context) (snapshot.Info, *keyspace.Keyspace, []string, time.Duration, error) {
	start := time.Now()
	info, ks, meta, err := snapshot.LoadNewestMeta(ctx, r.cfg.Store, r.cfg.Dataset, 0, r.newKeyspace, r.log.With("dataset", r.cfg.Dataset))
	took := time.Since(start)
	if err == nil {
		// Never follow a log from another log's offset.
		err = snapshot.CheckLog(info, meta, stream.IdentityOf(r.cfg.Log))
	}
	return info, ks, meta.Functions, took, err
}

// countFailure counts a failed attempt to load a snapshot.
func (r *Replica) countFailure() {
	r.mu.Lock()
	r.loadFailures++
	r.mu.Unlock()
}

// newKeyspace is an empty keyspace like the engine's, for a snapshot to
// load into. Keys are loaded as they are, expired or not: the master's
// DELs remove them.
func (r *Replica) newKeyspace() *keyspace.Keyspace {
	r.engine.Lock()
	ks := r.engine.NewKeyspace()
	r.engine.Unlock()
	ks.Mode = keyspace.ExpireIgnore
	return ks
}

// install swaps ks and the function libraries fns, loaded from info, in as
// the whole dataset and moves the replica to info's offset, atomically for
// clients and INFO. It fails, changing nothing, when a library does not
// load.
func (r *Replica) install(info snapshot.Info, ks *keyspace.Keyspace, fns []string, took time.Duration) error {
	keys := 0
	for i := range keyspace.NumDBs {
		keys += ks.DB(i).Len()
	}
	now := time.Now()
	r.engine.Lock()
	if err := r.engine.ReplaceFunctions(fns); err != nil {
		r.engine.Unlock()
		return fmt.Errorf("snapshot %s: %w", info, err)
	}
	r.engine.ReplaceKeyspace(ks)
	r.mu.Lock()
	prev := r.offset
	r.setOffsetLocked(info.Offset)
	r.lastIO = now
	r.firstApplied = 0
	r.loads++
	r.lastLoad = SnapshotLoad{Snapshot: info, Keys: keys, Took: took, At: now}
	r.mu.Unlock()
	r.engine.Unlock()
	if r.snaps != nil {
		// The snapshot the replica holds: BGSAVE at its offset writes
		// nothing, and the schedule counts from now.
		r.snaps.Loaded(info)
		r.snaps.Unsaved(now, 0)
	}
	r.log.Info("snapshot loaded", "dataset", r.cfg.Dataset, "snapshot", info.Key, "snapshot_offset", info.Offset,
		"generation", info.Generation, "previous_offset", prev, "keys", keys, "functions", len(fns), "bytes", info.Size, "took", took)
	return nil
}

// loading reports whether the replica has not served yet (-LOADING).
func (r *Replica) loading() bool {
	r.engine.Lock()
	defer r.engine.Unlock()
	return r.engine.Loading()
}
