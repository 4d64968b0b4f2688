package master

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// How a snapshot is paced: the scan emits stepKeys keys per hold of the
// engine lock, and waits while more than spoolHigh bytes of encoded RDB
// wait for the upload. Writes that touch a key ahead of the scan add its
// encoding to the spool without waiting, so the memory a snapshot adds is
// spoolHigh plus the keys written to during the snapshot, at most once
// each: never a copy of the dataset.
const (
	stepKeys     = 256
	spoolHigh    = 8 << 20
	minScanPause = 50 * time.Microsecond
	scanRest     = 8 // the scan rests eight times as long as each step held the lock
)

// snapshots is the master's snapshot writer: BGSAVE, the schedule and
// shutdown start one; one runs at a time.
type snapshots struct {
	m *Master

	mu        sync.Mutex
	running   bool
	scheduled bool
	p         command.Persistence
	newest    snapshot.Info // the newest snapshot known (written or loaded)
	idle      *sync.Cond    // signalled when a snapshot ends
	logAtCut  int64         // logSize at the newest written snapshot's cut
	// unsavedSince is when the oldest entry replayed at the last rebuild
	// was written (the start when none was): until this master writes a
	// snapshot, the schedule counts time from there.
	unsavedSince time.Time
	failures     int       // snapshots failed in a row
	retryAt      time.Time // the schedule's next attempt after a failure
}

func newSnapshots(m *Master) *snapshots {
	s := &snapshots{m: m}
	s.idle = sync.NewCond(&s.mu)
	return s
}

// Persistence implements command.Snapshots (under the engine lock).
func (s *snapshots) Persistence() command.Persistence {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p
}

// Start implements command.Snapshots: BGSAVE.
func (s *snapshots) Start(schedule bool) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		if schedule {
			s.scheduled = true
			return true, nil
		}
		return false, command.ErrSnapshotRunning
	}
	if reason := s.m.engine.WriteError(); reason != "" {
		// Fenced or rebuilding: a snapshot would fail; say so now rather
		// than "started".
		return false, errors.New("ERR ferry: no snapshot while the master takes no writes: " + strings.TrimPrefix(reason, "READONLY "))
	}
	s.running = true
	if !s.m.spawn(func() { s.loop(s.m.ctx) }) {
		s.running = false
		return false, errors.New("ERR the server is shutting down")
	}
	return false, nil
}

// loop writes snapshots until none is scheduled; s.running is set.
func (s *snapshots) loop(ctx context.Context) {
	for {
		s.take(ctx)
		s.mu.Lock()
		if !s.scheduled || ctx.Err() != nil {
			s.running = false
			s.scheduled = false
			s.idle.Broadcast()
			s.mu.Unlock()
			return
		}
		s.scheduled = false
		s.mu.Unlock()
	}
}

// Snapshot writes a snapshot now and returns it; if one is running, it
// waits for that one to end first.
func (m *Master) Snapshot(ctx context.Context) (snapshot.Info, error) {
	s := m.snaps
	if s == nil {
		return snapshot.Info{}, errors.New("master: no snapshot store")
	}
	s.mu.Lock()
	for s.running {
		s.idle.Wait()
	}
	s.running = true
	s.mu.Unlock()
	info, err := s.take(ctx)
	s.mu.Lock()
	s.running = false
	s.idle.Broadcast()
	s.mu.Unlock()
	return info, err
}

// take writes one snapshot, records the outcome and applies retention.
func (s *snapshots) take(ctx context.Context) (snapshot.Info, error) {
	m := s.m
	start := time.Now()
	w, err := s.write(ctx)
	info := w.info
	took := time.Since(start)
	s.mu.Lock()
	s.p.InProgress = false
	s.p.LastDuration = took
	s.p.LastFailed = err != nil
	if err == nil {
		s.p.LastSave = start
		s.p.DirtyAtSave = w.dirty
		s.p.Saves++
		s.newest = info
		s.failures = 0
		if !w.unchanged {
			s.logAtCut = w.logSize
		}
	} else {
		// The schedule waits before trying again: 1 s, doubling, at most
		// retryMax.
		s.failures++
		s.retryAt = time.Now().Add(min(time.Second<<min(s.failures-1, 10), retryMax))
	}
	failures := s.failures
	s.mu.Unlock()
	if err != nil {
		attrs := []any{"dataset", m.cfg.Dataset, "err", err, "took", took.Round(time.Millisecond), "failures_in_a_row", failures}
		if m.cfg.LogMaxAge > 0 || m.cfg.LogMaxBytes > 0 {
			attrs = append(attrs, "risk", "the log's retention limits drop entries whether or not a snapshot holds them: until a snapshot succeeds, a crash can lose writes")
		}
		m.log.Error("snapshot failed", attrs...)
		return snapshot.Info{}, err
	}
	if w.unchanged {
		// The newest snapshot is this one: nothing to write or retain.
		return info, nil
	}
	m.log.Info("snapshot written", "dataset", m.cfg.Dataset, "offset", info.Offset, "key", info.Key,
		"bytes", info.Size, "took", took.Round(time.Millisecond), "cut_pause", w.pause)
	if err := s.retain(ctx, info); err != nil {
		m.log.Warn("snapshot retention", "dataset", m.cfg.Dataset, "err", err)
	}
	return info, nil
}

// written is what write did: the snapshot, the engine's change counter
// and how long the engine lock was held at the cut; unchanged when nothing
// was written since the newest snapshot, which info then is.
type written struct {
	info      snapshot.Info
	dirty     int64
	logSize   int64 // logSize at the cut
	pause     time.Duration
	unchanged bool
}

// write cuts the keyspace at the current offset and streams the cut into
// the store.
func (s *snapshots) write(ctx context.Context) (written, error) {
	m := s.m
	e := m.engine
	m.cuts.Lock() // one keyspace cut at a time: a Redis replica's sync may hold one
	defer m.cuts.Unlock()
	sp := newSpool()
	// Before the lock: ReadMemStats stops the world.
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t0 := time.Now()
	e.Lock()
	if e.Loading() || e.WriteError() != "" {
		e.Unlock()
		return written{}, errors.New("master: not taking writes (loading, rebuilding or fenced)")
	}
	unit, offset, err := m.pub.cut()
	if err != nil {
		e.Unlock()
		return written{}, err
	}
	dirty := e.Stats().Dirty
	logSize := m.logSize()
	s.mu.Lock()
	newest := s.newest
	s.mu.Unlock()
	if newest.Key != "" && newest.Offset == offset {
		// Nothing was written since the newest snapshot: it is this one.
		e.Unlock()
		return written{info: newest, dirty: dirty, unchanged: true}, nil
	}
	meta := rdb.Meta{Offset: offset, Generation: m.gen, Dataset: m.cfg.Dataset, Log: stream.IdentityOf(m.cfg.Log), Created: t0, UsedMem: int64(ms.HeapAlloc),
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
	e.Unlock()
	pause := time.Since(t0)
	s.mu.Lock()
	s.p.InProgress, s.p.Started, s.p.KeysDone, s.p.KeysTotal = true, t0, 0, int64(total)
	s.mu.Unlock()

	// The scan: short holds of the engine lock, paced by the upload, and
	// at most a ninth of the lock's time: right after a step the scanner
	// would take the lock again before the clients woken by its release,
	// so it rests scanRest times as long as the step held it. Measured on
	// 2 cores with 1M keys (SET p99 during a snapshot / at rest, SET/s
	// during / at rest, snapshot time): rest 1: 1.53, 0.65; 3: 1.38, 0.70,
	// 10 s; 5: 1.27, 0.83, 13 s; 8: 1.10, 0.94, 18 s (redis's fork: 2.0,
	// 0.55, 2 s). A snapshot is background work: it may take longer.
	scanDone := make(chan error, 1)
	go func() {
		var err error
		for {
			if !sp.waitBelow(spoolHigh) {
				err = errors.New("master: snapshot upload stopped")
				break
			}
			if err = ctx.Err(); err != nil {
				break
			}
			e.Lock()
			held := time.Now()
			done := cut.Step(stepKeys)
			n := cut.Keys()
			if done {
				cut.End()
				err = enc.Close()
			}
			e.Unlock()
			d := time.Since(held)
			s.mu.Lock()
			s.p.KeysDone = int64(n)
			s.mu.Unlock()
			if done {
				break
			}
			time.Sleep(max(scanRest*d, minScanPause))
		}
		if err != nil {
			e.Lock()
			cut.End()
			e.Unlock()
		}
		sp.close(err)
		scanDone <- err
	}()

	info := snapshot.Info{Dataset: m.cfg.Dataset, Offset: offset, Generation: m.gen, Created: t0}
	out, err := snapshot.Write(ctx, m.cfg.Store, info, func(w io.Writer) error {
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
		// Publish only a snapshot whose every write the log stored: a unit
		// the log lost makes the master rebuild, and the cut held it.
		if err := m.pub.WaitDurable(unit, false); err != nil {
			return fmt.Errorf("the log did not store the writes up to offset %d: %w", offset, err)
		}
		// Offsets name entries of one log: a snapshot labelled with an
		// offset of a log deleted and created again would be taken for
		// the new log's, and replayed from there. Only that refuses it;
		// a log out of reach (a shutdown snapshot while NATS is down)
		// does not, since every write it holds was stored.
		if _, err := m.cfg.Log.Last(ctx); errors.Is(err, stream.ErrReplaced) {
			return fmt.Errorf("snapshot at offset %d: %w", offset, err)
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

// retain deletes snapshots beyond the newest SnapshotKeep, never the
// newest one the log can still be replayed from, then trims the log below
// the oldest snapshot kept.
func (s *snapshots) retain(ctx context.Context, newest snapshot.Info) error {
	m := s.m
	keep := m.cfg.SnapshotKeep
	if keep <= 0 {
		return nil
	}
	list, err := m.cfg.Store.List(ctx, m.cfg.Dataset)
	if err != nil {
		return err
	}
	first, err := m.cfg.Log.First(ctx)
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
		replayable := -1
		for i, info := range older {
			if info.Offset+1 >= first {
				replayable = i
			}
		}
		for i, info := range older[:len(older)-keep] {
			if i == replayable {
				continue
			}
			if err := m.cfg.Store.Delete(ctx, info); err != nil {
				return err
			}
			m.log.Info("snapshot deleted by retention", "dataset", m.cfg.Dataset, "offset", info.Offset, "key", info.Key)
		}
		if replayable >= 0 && replayable < len(older)-keep {
			kept = append([]snapshot.Info{older[replayable]}, kept...)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	tr, ok := m.cfg.Log.(stream.Trimmer)
	if !ok || kept[0].Offset+1 <= first {
		return nil
	}
	if err := tr.Trim(ctx, kept[0].Offset+1); err != nil {
		return err
	}
	m.log.Info("log trimmed below the oldest kept snapshot", "dataset", m.cfg.Dataset, "keep_from", kept[0].Offset+1)
	return nil
}

// retryMax bounds the wait of the schedule after failed snapshots.
const retryMax = 30 * time.Second

// logEntryOverhead is what the log stores per entry besides its data, at
// most (JetStream's file store: record header, subject, the
// expected-last-sequence header, checksum), so that logSize errs high.
const logEntryOverhead = 192

// logSize estimates the bytes the log has stored so far, as its
// LogMaxBytes limit counts them.
func (m *Master) logSize() int64 {
	if m.pub == nil {
		return 0 // starting: nothing published yet
	}
	_, entries, bytes, _, _ := m.pub.stats()
	return int64(bytes + entries*logEntryOverhead)
}

// schedule starts snapshots every SnapshotInterval (when anything changed
// since the last) and after SnapshotAfterWrites changes; and within half
// of the log's own retention limits, so that a snapshot holds every entry
// before the log drops it. After a failure it waits (1 s, doubling, at
// most retryMax); it takes none while the master takes no writes.
func (s *snapshots) schedule(ctx context.Context) {
	m := s.m
	interval := m.cfg.SnapshotInterval
	if half := m.cfg.LogMaxAge / 2; half > 0 && (interval <= 0 || half < interval) {
		interval = half
	}
	if interval <= 0 && m.cfg.SnapshotAfterWrites <= 0 && m.cfg.LogMaxBytes <= 0 {
		return
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		logSize := m.logSize()
		m.engine.Lock()
		if m.engine.Loading() || m.engine.WriteError() != "" {
			m.engine.Unlock()
			continue
		}
		dirty := m.engine.Stats().Dirty
		s.mu.Lock()
		changed := dirty - s.p.DirtyAtSave
		last := s.p.LastSave
		if last.IsZero() {
			last = s.unsavedSince
		}
		waiting := time.Now().Before(s.retryAt)
		logged := logSize - s.logAtCut
		s.mu.Unlock()
		due := changed > 0 && !waiting && (m.cfg.SnapshotAfterWrites > 0 && changed >= m.cfg.SnapshotAfterWrites ||
			interval > 0 && time.Since(last) >= interval ||
			m.cfg.LogMaxBytes > 0 && logged >= m.cfg.LogMaxBytes/2)
		if due {
			s.Start(false) // a running snapshot is fine: the next tick sees what it left
		}
		m.engine.Unlock()
	}
}

// spool carries the encoded RDB from the engine's goroutines (the scan and
// writes that touch keys ahead of it, under the engine lock, never
// blocking) to the upload.
type spool struct {
	mu      sync.Mutex
	cond    *sync.Cond
	chunks  [][]byte
	free    [][]byte // chunks the upload is done with, for reuse
	size    int
	closed  bool
	aborted bool
	err     error
}

func newSpool() *spool {
	s := &spool{}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// Write queues a copy of p; it never blocks.
func (s *spool) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.aborted {
		return 0, errors.New("master: snapshot upload stopped")
	}
	var c []byte
	if n := len(s.free); n > 0 && cap(s.free[n-1]) >= len(p) {
		c, s.free = s.free[n-1][:0], s.free[:n-1]
	}
	s.chunks = append(s.chunks, append(c, p...))
	s.size += len(p)
	s.cond.Broadcast()
	return len(p), nil
}

// next returns the oldest chunk, waiting for one; false once closed and
// drained.
func (s *spool) next() ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.chunks) == 0 && !s.closed && !s.aborted {
		s.cond.Wait()
	}
	if len(s.chunks) == 0 || s.aborted {
		return nil, false
	}
	c := s.chunks[0]
	s.chunks[0] = nil
	s.chunks = s.chunks[1:]
	s.size -= len(c)
	s.cond.Broadcast()
	return c, true
}

// release gives back a chunk next returned, once it was written: reusing
// chunks keeps a snapshot from leaving its whole size as garbage.
func (s *spool) release(c []byte) {
	s.mu.Lock()
	if len(s.free) < 64 {
		s.free = append(s.free, c)
	}
	s.mu.Unlock()
}

// waitBelow waits until fewer than n bytes are queued; false if the
// upload stopped.
func (s *spool) waitBelow(n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.size >= n && !s.aborted {
		s.cond.Wait()
	}
	return !s.aborted
}

// close ends the stream; err is the writer side's failure, if any.
func (s *spool) close(err error) {
	s.mu.Lock()
	s.closed, s.err = true, err
	s.cond.Broadcast()
	s.mu.Unlock()
}

// abort stops the writer side: the upload ended.
func (s *spool) abort() {
	s.mu.Lock()
	s.aborted = true
	s.chunks = nil
	s.size = 0
	s.cond.Broadcast()
	s.mu.Unlock()
}

func (s *spool) error() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
