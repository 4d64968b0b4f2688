// Package taker takes a node's snapshots: it cuts the node's keyspace at
// one log offset without stopping it, streams the cut as a zstd-compressed
// RDB into the store, schedules snapshots and applies retention. A master
// takes them by default; a replica can take the job off it (the way MemoryDB
// builds snapshots off its serving nodes): a snapshot is the keyspace at an
// offset of the log, whichever node holds it.
//
// There is no fork: the cut is marked under the engine lock (the node
// makes sure it falls between two log entries), then a scan writes every
// key as it was at the cut, a few hundred keys per short hold of the lock,
// while clients go on writing. Before a write touches a key the scan has
// not reached, the key's value at the cut is written first (as Dragonfly
// does per bucket; keyspace.Cut).
package taker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/snapshot"
	"github.com/ferrydb/ferry/snapshot/rdb"
	"github.com/ferrydb/ferry/stream"
)

// How a snapshot is paced: the scan emits command.ScanStep keys per hold
// of the engine lock, rests between holds as a command.Pacer says, and
// waits while more than spoolHigh bytes of encoded RDB wait for the
// upload. Writes that touch a key ahead of the scan add its encoding to
// the spool without waiting, so the memory a snapshot adds is spoolHigh
// plus the keys written to during the snapshot, at most once each: never a
// copy of the dataset.
const spoolHigh = 8 << 20

// sleep is time.Sleep; tests record the scan's rests through it.
var sleep = time.Sleep

// retryMax bounds the wait of the schedule after failed snapshots.
const retryMax = 30 * time.Second

// Node is the node whose snapshots a Taker takes. Its methods are called
// with the engine locked and must not take the lock.
type Node interface {
	// Unready returns why no snapshot can be taken now (BGSAVE's error
	// reply, "ERR ..."), or "" when one can.
	Unready() string
	// Cut returns the log offset the keyspace is at, which must fall
	// between two log entries, and commit: the upload calls it before it
	// makes the snapshot visible, and it returns once every write up to
	// offset is stored in the log, or why the snapshot must be abandoned
	// (nil: nothing to wait for). An error means no snapshot now.
	Cut() (offset uint64, commit func(context.Context) error, err error)
}

// Config configures a Taker.
type Config struct {
	Engine *command.Engine
	Node   Node
	Store  snapshot.Store
	// Log is the dataset's log: each snapshot's metadata names its
	// identity (stream.IdentityOf), retention asks for its first offset
	// and trims it when it is a stream.Trimmer.
	Log stream.Reader
	// Dataset and Generation name the snapshots.
	Dataset, Generation string
	// Cuts is held for the length of a keyspace cut, shared with the
	// node's other cuts (a Redis replica's sync); nil: the Taker's own.
	Cuts *sync.Mutex
	// Go runs fn in a goroutine the node waits for when it stops, with the
	// node's context; false when the node is stopping (fn did not run).
	Go func(fn func(ctx context.Context)) bool
	// Interval takes a snapshot when this long has passed since the last
	// one and anything changed (0: not by time); AfterWrites after this
	// many changes (0: not by count).
	Interval    time.Duration
	AfterWrites int64
	// Keep is how many snapshots retention keeps (0: all, and the log is
	// never trimmed).
	Keep int
	// LogMaxAge and LogMaxBytes are the log's own retention limits (0:
	// none): a snapshot is taken within half of each, so that one holds
	// every entry before the log drops it. LogSize (nil: the log's size is
	// not known) estimates the bytes the log has stored so far, as
	// LogMaxBytes counts them.
	LogMaxAge   time.Duration
	LogMaxBytes int64
	LogSize     func() int64
	// Logger receives the Taker's logs.
	Logger *slog.Logger
}

// Taker writes a node's snapshots: BGSAVE, the schedule and a clean
// shutdown start one; one runs at a time. It implements command.Snapshots.
type Taker struct {
	cfg  Config
	log  *slog.Logger
	cuts *sync.Mutex

	mu        sync.Mutex
	running   bool
	scheduled bool
	p         command.Persistence
	newest    snapshot.Info // the newest snapshot known (written or loaded)
	idle      *sync.Cond    // signalled when a snapshot ends
	logAtCut  int64         // LogSize at the newest written snapshot's cut
	// unsavedSince is when the oldest change no snapshot holds was made,
	// as far as the node knows (its start when it does not): until the
	// Taker writes a snapshot, the schedule counts time from there.
	unsavedSince time.Time
	failures     int       // snapshots failed in a row
	failed       int64     // snapshots failed since the start
	retryAt      time.Time // the schedule's next attempt after a failure
}

// New returns a Taker for cfg.
func New(cfg Config) *Taker {
	t := &Taker{cfg: cfg, log: cfg.Logger, cuts: cfg.Cuts, unsavedSince: time.Now()}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.cuts == nil {
		t.cuts = new(sync.Mutex)
	}
	t.idle = sync.NewCond(&t.mu)
	return t
}

// Loaded records the snapshot the node loaded: BGSAVE at its offset
// writes nothing.
func (t *Taker) Loaded(info snapshot.Info) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.newest = info
}

// Unsaved tells the schedule when the oldest change no snapshot holds was
// made, and the log's size (LogSize) up to the newest snapshot.
func (t *Taker) Unsaved(since time.Time, logAtCut int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unsavedSince = since
	t.logAtCut = logAtCut
}

// Newest returns the newest snapshot the Taker knows of (written or
// loaded; Key empty: none).
func (t *Taker) Newest() snapshot.Info {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.newest
}

// Persistence implements command.Snapshots (under the engine lock).
func (t *Taker) Persistence() command.Persistence {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.p
}

// Start implements command.Snapshots: BGSAVE.
func (t *Taker) Start(schedule bool) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.running {
		if schedule {
			t.scheduled = true
			return true, nil
		}
		return false, command.ErrSnapshotRunning
	}
	if reason := t.cfg.Node.Unready(); reason != "" {
		// A snapshot would fail; say so now rather than "started".
		return false, errors.New(reason)
	}
	t.running = true
	if !t.cfg.Go(t.loop) {
		t.running = false
		return false, errors.New("ERR the server is shutting down")
	}
	return false, nil
}

// loop writes snapshots until none is scheduled; t.running is set.
func (t *Taker) loop(ctx context.Context) {
	for {
		t.take(ctx)
		t.mu.Lock()
		if !t.scheduled || ctx.Err() != nil {
			t.running = false
			t.scheduled = false
			t.idle.Broadcast()
			t.mu.Unlock()
			return
		}
		t.scheduled = false
		t.mu.Unlock()
	}
}

// Snapshot writes a snapshot now and returns it; if one is running, it
// waits for that one to end first.
func (t *Taker) Snapshot(ctx context.Context) (snapshot.Info, error) {
	t.mu.Lock()
	for t.running {
		t.idle.Wait()
	}
	t.running = true
	t.mu.Unlock()
	info, err := t.take(ctx)
	t.mu.Lock()
	t.running = false
	t.idle.Broadcast()
	t.mu.Unlock()
	return info, err
}

// take writes one snapshot, records the outcome and applies retention.
func (t *Taker) take(ctx context.Context) (snapshot.Info, error) {
	start := time.Now()
	w, err := t.write(ctx)
	info := w.info
	took := time.Since(start)
	t.mu.Lock()
	t.p.InProgress = false
	t.p.LastDuration = took
	t.p.LastFailed = err != nil
	if err == nil {
		t.p.LastSave = start
		t.p.DirtyAtSave = w.dirty
		t.p.Saves++
		t.newest = info
		t.failures = 0
		if !w.unchanged {
			t.logAtCut = w.logSize
		}
	} else {
		// The schedule waits before trying again: 1 s, doubling, at most
		// retryMax.
		t.failures++
		t.failed++
		t.retryAt = time.Now().Add(min(time.Second<<min(t.failures-1, 10), retryMax))
	}
	failures := t.failures
	t.mu.Unlock()
	if err != nil {
		attrs := []any{"dataset", t.cfg.Dataset, "err", err, "took", took.Round(time.Millisecond), "failures_in_a_row", failures}
		if t.cfg.LogMaxAge > 0 || t.cfg.LogMaxBytes > 0 {
			attrs = append(attrs, "risk", "the log's retention limits drop entries whether or not a snapshot holds them: until a snapshot succeeds, a crash can lose writes")
		}
		t.log.Error("snapshot failed", attrs...)
		return snapshot.Info{}, err
	}
	if w.unchanged {
		// The newest snapshot is this one: nothing to write or retain.
		return info, nil
	}
	t.log.Info("snapshot written", "dataset", t.cfg.Dataset, "offset", info.Offset, "key", info.Key,
		"bytes", info.Size, "took", took.Round(time.Millisecond), "cut_pause", w.pause)
	if err := t.retain(ctx, info); err != nil {
		t.log.Warn("snapshot retention", "dataset", t.cfg.Dataset, "err", err)
	}
	return info, nil
}

// written is what write did: the snapshot, the engine's change counter
// and how long the engine lock was held at the cut; unchanged when nothing
// was written since the newest snapshot, which info then is.
type written struct {
	info      snapshot.Info
	dirty     int64
	logSize   int64 // LogSize at the cut
	pause     time.Duration
	unchanged bool
}

// logSize returns the log's estimated size, 0 when it is not known.
func (t *Taker) logSize() int64 {
	if t.cfg.LogSize == nil {
		return 0
	}
	return t.cfg.LogSize()
}

// write cuts the keyspace at the node's offset and streams the cut into
// the store.
func (t *Taker) write(ctx context.Context) (written, error) {
	e := t.cfg.Engine
	t.cuts.Lock() // one keyspace cut at a time: a Redis replica's sync may hold one
	defer t.cuts.Unlock()
	sp := newSpool()
	// Before the lock: ReadMemStats stops the world.
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t0 := time.Now()
	e.Lock()
	if reason := t.cfg.Node.Unready(); reason != "" {
		e.Unlock()
		return written{}, errors.New(strings.TrimPrefix(reason, "ERR "))
	}
	offset, commit, err := t.cfg.Node.Cut()
	if err != nil {
		e.Unlock()
		return written{}, err
	}
	dirty := e.Stats().Dirty
	logSize := t.logSize()
	t.mu.Lock()
	newest := t.newest
	t.mu.Unlock()
	if newest.Key != "" && newest.Offset == offset {
		// Nothing was written since the newest snapshot: it is this one.
		e.Unlock()
		return written{info: newest, dirty: dirty, unchanged: true}, nil
	}
	meta := rdb.Meta{Offset: offset, Generation: t.cfg.Generation, Dataset: t.cfg.Dataset, Log: stream.IdentityOf(t.cfg.Log), Created: t0, UsedMem: int64(ms.HeapAlloc),
		Functions: e.FunctionLibraries()} // the libraries at the cut, as the keys
	enc, err := rdb.NewEncoder(sp, meta)
	if err != nil {
		e.Unlock()
		return written{}, err
	}
	ks := e.Keyspace()
	total := 0
	for i := range keyspace.NumDBs {
		total += ks.DB(i).Len()
	}
	cut := enc.BeginCut(ks)
	pause := time.Since(t0)
	t.mu.Lock()
	t.p.InProgress, t.p.Started, t.p.KeysDone, t.p.KeysTotal = true, t0, 0, int64(total)
	t.mu.Unlock()

	// The scan: short holds of the engine lock, paced by the upload and,
	// while anything else uses the engine, taking at most a ninth of the
	// lock's time (command.Pacer).
	pace := e.NewPacer()
	e.Unlock()
	scanDone := make(chan error, 1)
	go func() {
		var err error
		for {
			if !sp.waitBelow(spoolHigh) {
				err = errors.New("snapshot upload stopped")
				break
			}
			if err = ctx.Err(); err != nil {
				break
			}
			e.Lock()
			pace.Hold()
			done := cut.Step(command.ScanStep)
			n := cut.Keys()
			if done {
				cut.End()
				err = enc.Close()
			}
			e.Unlock()
			t.mu.Lock()
			t.p.KeysDone = int64(n)
			t.mu.Unlock()
			if done {
				break
			}
			if r := pace.Rest(); r > 0 {
				sleep(r)
			}
		}
		if err != nil {
			e.Lock()
			cut.End()
			e.Unlock()
		}
		sp.close(err)
		scanDone <- err
	}()

	info := snapshot.Info{Dataset: t.cfg.Dataset, Offset: offset, Generation: t.cfg.Generation, Created: t0}
	out, err := snapshot.Write(ctx, t.cfg.Store, info, func(w io.Writer) error {
		for {
			chunk, ok := sp.next()
			if !ok {
				break
			}
			if _, err := w.Write(chunk); err != nil {
				sp.abort()
				return err
			}
			sp.release(chunk)
		}
		if err := sp.error(); err != nil {
			return err
		}
		if commit != nil {
			return commit(ctx)
		}
		return nil
	})
	sp.abort()
	scanErr := <-scanDone
	if err == nil && scanErr != nil {
		err = scanErr
	}
	if err != nil {
		return written{}, err
	}
	return written{info: out, dirty: dirty, logSize: logSize, pause: pause}, nil
}

// retain deletes snapshots beyond the newest Keep, then trims the log
// below the oldest snapshot kept. The newest snapshot the log can still be
// replayed from is always kept: the snapshots are listed by offset, so if
// any is replayable the newest is, and Keep is at least 1.
func (t *Taker) retain(ctx context.Context, newest snapshot.Info) error {
	keep := t.cfg.Keep
	if keep <= 0 {
		return nil
	}
	list, err := t.cfg.Store.List(ctx, t.cfg.Dataset)
	if err != nil {
		return err
	}
	first, err := t.cfg.Log.First(ctx)
	if err != nil {
		return err
	}
	// Snapshots up to the newest, oldest first.
	var older []snapshot.Info
	for _, info := range list {
		if info.Offset <= newest.Offset {
			older = append(older, info)
		}
	}
	kept := older
	if len(older) > keep {
		kept = older[len(older)-keep:]
		for _, info := range older[:len(older)-keep] {
			if err := t.cfg.Store.Delete(ctx, info); err != nil {
				return err
			}
			t.log.Info("snapshot deleted by retention", "dataset", t.cfg.Dataset, "offset", info.Offset, "key", info.Key)
		}
	}
	tr, ok := t.cfg.Log.(stream.Trimmer)
	if len(kept) == 0 || !ok || kept[0].Offset+1 <= first {
		return nil
	}
	if err := tr.Trim(ctx, kept[0].Offset+1); err != nil {
		return err
	}
	t.log.Info("log trimmed below the oldest kept snapshot", "dataset", t.cfg.Dataset, "keep_from", kept[0].Offset+1)
	return nil
}

// Schedule starts snapshots every Interval (when anything changed since
// the last) and after AfterWrites changes; and within half of the log's
// own retention limits, so that a snapshot holds every entry before the
// log drops it. After a failure it waits (1 s, doubling, at most
// retryMax); it takes none while the node is not ready. It returns when
// ctx ends.
func (t *Taker) Schedule(ctx context.Context) {
	cfg := t.cfg
	interval := cfg.Interval
	if half := cfg.LogMaxAge / 2; half > 0 && (interval <= 0 || half < interval) {
		interval = half
	}
	if interval <= 0 && cfg.AfterWrites <= 0 && cfg.LogMaxBytes <= 0 {
		return
	}
	e := cfg.Engine
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		logSize := t.logSize()
		e.Lock()
		if cfg.Node.Unready() != "" {
			e.Unlock()
			continue
		}
		dirty := e.Stats().Dirty
		t.mu.Lock()
		changed := dirty - t.p.DirtyAtSave
		last := t.p.LastSave
		if last.IsZero() {
			last = t.unsavedSince
		}
		waiting := time.Now().Before(t.retryAt)
		logged := logSize - t.logAtCut
		t.mu.Unlock()
		due := changed > 0 && !waiting && (cfg.AfterWrites > 0 && changed >= cfg.AfterWrites ||
			interval > 0 && time.Since(last) >= interval ||
			cfg.LogMaxBytes > 0 && logged >= cfg.LogMaxBytes/2)
		if due {
			t.Start(false) // a running snapshot is fine: the next tick sees what it left
		}
		e.Unlock()
	}
}
