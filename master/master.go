// Package master runs a ferry master: the node that takes writes. Every
// write's effect is appended to the replication log (stream.Writer) before
// the client hears back (--ack durable) or right after (--ack async); the
// master rebuilds its keyspace from the log when it starts, and again
// whenever the log failed to confirm what it had applied, so it never
// serves state the log lacks.
package master

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/server"
	"github.com/ferrydb/ferry/snapshot"
	"github.com/ferrydb/ferry/snapshot/rdb"
	"github.com/ferrydb/ferry/snapshot/taker"
	"github.com/ferrydb/ferry/stream"
)

// Log is the replication log as a master uses it: it reads it back to
// recover and appends behind the expected-last-offset fence.
type Log interface {
	stream.Reader
	stream.Writer
}

// AckMode says when a write is acknowledged.
type AckMode string

// Ack modes.
const (
	// AckDurable replies once the log has stored the write.
	AckDurable AckMode = "durable"
	// AckAsync replies once the write is applied, without waiting for the
	// log, unless more than MaxEntryBytes wait to be sent; at most
	// MaxUnacked entries are unconfirmed.
	AckAsync AckMode = "async"
)

// Config configures a master.
type Config struct {
	// Addr is the RESP listen address.
	Addr string
	// ConnGoroutines serves every client connection on a goroutine of its
	// own instead of the event loop (server.SetEventLoop).
	ConnGoroutines bool
	// AnnounceAddr is the address the master tells its replicas it serves
	// on (their INFO master_host and master_port, and ROLE); empty: the
	// listen address (server.AdvertisedAddr).
	AnnounceAddr string
	// RequirePass, when set, requires AUTH.
	RequirePass string
	// Version is ferry's version, for INFO.
	Version string
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Log is the replication log; nil runs a standalone master whose
	// writes go nowhere.
	Log Log
	// Dataset names the dataset (for messages and INFO).
	Dataset string
	// Ack is when writes are acknowledged (default AckDurable).
	Ack AckMode
	// MaxUnacked bounds the log entries sent and not yet confirmed
	// (default 8 with AckAsync, 2 with AckDurable: group commit, measured
	// best of 1, 2 and 8 for durable). With AckAsync the open entry is sent
	// only while no other is unconfirmed, so entries grow with the load;
	// more go out together only when entries fill up (MaxEntryBytes).
	MaxUnacked int
	// MaxEntryBytes is the size at which an entry is sealed (default 512 KiB;
	// keep it below the NATS server's max_payload: larger entries, like a
	// single write larger than that, go through the log's object store).
	MaxEntryBytes int

	// Store keeps the dataset's snapshots (nil: none). With a store, the
	// master recovers from the newest snapshot plus the log after it, takes
	// snapshots (BGSAVE, the schedule below, clean shutdown) and trims the
	// log below the oldest snapshot it keeps. It needs Log.
	Store snapshot.Store
	// SnapshotInterval takes a snapshot when this long has passed since the
	// last one and anything changed (0: not by time).
	SnapshotInterval time.Duration
	// SnapshotAfterWrites takes a snapshot after this many changes (0: not
	// by count).
	SnapshotAfterWrites int64
	// SnapshotKeep is how many snapshots retention keeps (0: all, and the
	// log is never trimmed by the master).
	SnapshotKeep int
	// NoShutdownSnapshot skips the snapshot a clean shutdown takes.
	NoShutdownSnapshot bool
	// NewDataset allows starting empty when the store has no snapshot (or
	// there is no store) and the log no entry: without it such a start is
	// refused, so that a wrong --store or --dataset never starts a master
	// on nothing. It never overrides a store or log that cannot be read.
	NewDataset bool
	// LogMaxAge and LogMaxBytes are the log's own retention limits (0:
	// none). The log drops entries past them whether or not a snapshot
	// holds their effects, so they need a Store, and the master takes a
	// snapshot within half of each: after LogMaxAge/2 and after about
	// LogMaxBytes/2 of entries since the last one.
	LogMaxAge   time.Duration
	LogMaxBytes int64
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if c.Addr == "" {
		return errors.New("master: no listen address")
	}
	switch c.Ack {
	case "":
		c.Ack = AckDurable
	case AckDurable, AckAsync:
	default:
		return fmt.Errorf("master: unknown ack mode %q (durable or async)", c.Ack)
	}
	if c.MaxUnacked <= 0 {
		c.MaxUnacked = 2
		if c.Ack == AckAsync {
			c.MaxUnacked = 8
		}
	}
	if c.MaxEntryBytes <= 0 {
		c.MaxEntryBytes = 512 << 10
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Store != nil && c.Log == nil {
		return errors.New("master: snapshots need the replication log (--nats)")
	}
	if c.Store == nil && (c.LogMaxAge > 0 || c.LogMaxBytes > 0) {
		return errors.New("master: the log's retention limits (--stream-max-age, --stream-max-bytes) drop entries, and without a snapshot store (--store) nothing else holds them: acknowledged writes would be lost")
	}
	return nil
}

// refusal is an error that retrying does not cure: the log and the store
// do not hold the whole dataset, or hold nothing where the master expects
// a dataset. New returns it; a rebuild after a log failure that meets it
// keeps the master read-only and says so.
type refusal struct{ error }

func (r refusal) Unwrap() error { return r.error }

// entryLimited is a log whose entries can hold at most MaxEntry bytes.
type entryLimited interface {
	MaxEntry() int
}

// entrySlack is what an entry may hold beyond a write's request: the
// append's headers, MULTI/EXEC around it, a SELECT, an expired key's DEL,
// options rewritten (SET EX as SET and PEXPIREAT).
const entrySlack = 4 << 10

// Master is a running master.
type Master struct {
	cfg    Config
	engine *command.Engine
	srv    *server.Server
	pub    *publisher
	apply  *command.Applier
	log    *slog.Logger

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closeMu sync.Mutex // guards closing against wg.Add
	closing bool

	fmu       sync.Mutex
	followers map[string]command.Follower
	failures  atomic.Int64
	ackWant   atomic.Uint64 // highest offset a WAIT asked the replicas about
	askAcks   chan struct{} // wakes sendAckRequests

	snaps   *taker.Taker // nil without a store
	cuts    sync.Mutex   // held for the length of a keyspace cut: snapshots, Redis replicas' syncs
	gen     string       // generation: names this master's snapshots
	started time.Time
}

// New recovers the keyspace from the log (when there is one), then binds
// the listener. It refuses to start when the log cannot be read: a master
// never starts empty on a dataset that has data.
func New(ctx context.Context, cfg Config) (*Master, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := command.New(command.Config{RequirePass: cfg.RequirePass, FerryVersion: cfg.Version, Addr: cfg.Addr, Values: rdb.Values{}})
	m := &Master{cfg: cfg, engine: e, log: cfg.Logger, apply: e.NewApplier(), gen: newGeneration(), started: time.Now(), askAcks: make(chan struct{}, 1)}
	if cfg.Store != nil {
		m.snaps = m.newTaker()
		e.SetSnapshots(m.snaps)
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	if el, ok := cfg.Log.(entryLimited); ok && el.MaxEntry() > entrySlack {
		// A write whose effects one entry cannot hold is refused before
		// it runs, not found out by a failed append (which stops the
		// master until it has rebuilt from the log).
		e.Lock()
		e.SetMaxWriteBytes(el.MaxEntry() - entrySlack)
		e.Unlock()
	}
	if cfg.Log != nil {
		last, err := m.rebuild(ctx)
		if err != nil {
			m.cancel()
			return nil, err
		}
		e.Lock()
		e.SetLoading(false)
		e.Unlock()
		m.pub = newPublisher(cfg.Log, last, cfg.MaxEntryBytes, cfg.MaxUnacked, cfg.Ack == AckAsync, m.onLogFailure)
		e.SetLog(m.pub)
		m.followers = make(map[string]command.Follower)
		e.SetFollowers(m.followerState, m.requestAcks)
		if err := m.serveRedisReplicas(); err != nil {
			m.cancel()
			return nil, err
		}
	}
	m.srv = server.New(e, cfg.Logger)
	m.srv.SetEventLoop(!cfg.ConnGoroutines)
	if m.pub != nil {
		sentOnly := cfg.Ack == AckAsync
		m.srv.SetAckWaiter(func(need uint64) error { return m.pub.WaitDurable(need, sentOnly) })
		m.srv.SetAckPoller(func(need uint64) (bool, error) { return m.pub.Stored(need, sentOnly) }, m.pub.notify)
	}
	if err := m.srv.Listen(cfg.Addr); err != nil {
		m.cancel()
		return nil, err
	}
	e.Shutdown = func() { go m.srv.Close() }
	return m, nil
}

// rebuild empties the keyspace and replays the whole log into it, then
// returns the offset it reached. Clients get -LOADING meanwhile, and until
// the caller ends the loading state.
func (m *Master) rebuild(ctx context.Context) (uint64, error) {
	first, last, err := m.cfg.Log.Range(ctx)
	if err != nil {
		return 0, fmt.Errorf("master: read the log of dataset %q: %w", m.cfg.Dataset, err)
	}
	m.engine.Lock()
	m.engine.SetLoading(true)
	m.engine.Keyspace().Flush()
	err = m.engine.ReplaceFunctions(nil) // the libraries are part of the dataset: replayed too
	m.engine.Unlock()
	if err != nil {
		return 0, err
	}
	start := time.Now()
	from := first
	if m.cfg.Store != nil {
		if from, err = m.loadSnapshot(ctx, first, last); err != nil {
			return 0, err
		}
	} else if first > 1 && last > 0 {
		return 0, refusal{fmt.Errorf("master: dataset %q: the log starts at offset %d and there is no snapshot store (--store): entries 1-%d are gone; refusing to start on part of the dataset", m.cfg.Dataset, first, first-1)}
	} else if last == 0 && !m.cfg.NewDataset {
		return 0, refusal{fmt.Errorf("master: dataset %q has no entry in the log: refusing to start it empty (check --nats and --dataset; start with --new-dataset to create it)", m.cfg.Dataset)}
	}
	var replayed int64        // log bytes (as logSize counts them) no snapshot holds
	unsavedSince := m.started // when the first of them was written
	if last >= from && last > 0 {
		// Every entry replayed leaves garbage (its message, the values it
		// overwrites) in a process that serves nothing yet: fewer
		// collection cycles, at a bounded cost in memory.
		defer snapshot.RelaxGC()()
		errDone := errors.New("done")
		var data [][]byte
		replay := func(run []stream.Entry) error {
			if replayed == 0 && len(run) > 0 {
				if t := stream.TimeOf(ctx, m.cfg.Log, run[0]); !t.IsZero() {
					unsavedSince = t
				}
			}
			data = data[:0]
			for _, en := range run {
				if en.Offset > last {
					break
				}
				data = append(data, en.Data)
				replayed += int64(len(en.Data)) + logEntryOverhead
			}
			if n, err := m.apply.ApplyRun(data, nil); err != nil {
				return fmt.Errorf("master: entry %d: %w", run[n].Offset, err)
			}
			if len(data) < len(run) || run[len(run)-1].Offset == last {
				return errDone
			}
			return nil
		}
		err = stream.ReadRuns(ctx, m.cfg.Log, from, replay)
		if !errors.Is(err, errDone) {
			return 0, fmt.Errorf("master: replay the log of dataset %q: %w", m.cfg.Dataset, err)
		}
	}
	if m.snaps != nil {
		// The entries replayed are in the log and in no snapshot: they
		// count toward the next snapshot's LogMaxBytes trigger.
		m.snaps.Unsaved(unsavedSince, m.logSize()-replayed)
	}
	m.engine.Lock()
	keys := 0
	for i := 0; i < 16; i++ {
		keys += m.engine.Keyspace().DB(i).Len()
	}
	m.engine.Unlock()
	m.log.Info("keyspace rebuilt", "dataset", m.cfg.Dataset, "offset", last, "entries", last-min(last, from-1), "keys", keys, "took", time.Since(start).Round(time.Millisecond))
	return last, nil
}

// onLogFailure runs when the log did not confirm an entry: the keyspace may
// hold writes the log lacks, so the master stops serving, waits for the
// entries in flight, then either rebuilds from the log and takes writes
// again, or, when another writer appended, stays read-only: fenced.
func (m *Master) onLogFailure(cause error) {
	m.failures.Add(1)
	m.engine.Lock()
	m.engine.SetLoading(true)
	m.engine.SetWriteError("READONLY ferry: the replication log did not confirm a write (" + cause.Error() + "); writes are refused until the master has rebuilt from the log")
	m.engine.Unlock()
	m.log.Error("replication log failure: rebuilding from the log", "dataset", m.cfg.Dataset, "err", cause)
	m.spawn(m.recoverFromLog)
}

// spawn runs fn in a goroutine Close waits for, unless Close has begun: a
// goroutine started then (a log failure or a BGSAVE racing the shutdown)
// would race Close's wait, and has nothing left to do.
func (m *Master) spawn(fn func()) bool {
	m.closeMu.Lock()
	defer m.closeMu.Unlock()
	if m.closing {
		return false
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		fn()
	}()
	return true
}

func (m *Master) recoverFromLog() {
	m.pub.drained()
	ctx := m.ctx
	offset, _, _, _, _ := m.pub.stats()
	lost := m.pub.failedData()
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			return
		}
		fenced, err := m.foreignEntries(ctx, offset, lost)
		if err == nil && fenced != 0 {
			m.fence(ctx, fenced)
			return
		}
		if err == nil {
			var last uint64
			if last, err = m.rebuild(ctx); err == nil {
				// Under the engine lock, so that no reply is computed between
				// the rebuilt keyspace and the settled publisher: units the
				// log never stored are marked gone, and a barrier unit puts
				// every later reply's wait past them.
				m.engine.Lock()
				m.pub.reset(last)
				m.engine.ForgetWritesAfter(last)
				m.engine.Barrier()
				m.engine.SetWriteError("")
				m.engine.SetLoading(false)
				m.engine.Unlock()
				m.log.Info("taking writes again", "dataset", m.cfg.Dataset, "offset", last)
				return
			}
		}
		if !m.retryRebuild(ctx, err, min(time.Duration(attempt+1)*250*time.Millisecond, 5*time.Second)) {
			return
		}
	}
}

// retryRebuild logs why a rebuild failed and waits before the next try:
// wait, or, when the log and the store no longer hold the whole dataset
// (a refusal), or the log was deleted and created again under it,
// refusalRetry, since only an operator can cure that. It
// reports false when ctx ended.
func (m *Master) retryRebuild(ctx context.Context, err error, wait time.Duration) bool {
	if errors.As(err, new(refusal)) || errors.Is(err, stream.ErrReplaced) {
		m.log.Error("cannot rebuild the whole dataset from the log and the store: not serving until they can (restore them, or start a master with the right --store)", "dataset", m.cfg.Dataset, "err", err)
		wait = refusalRetry
	} else {
		m.log.Warn("cannot read the log yet; retrying", "dataset", m.cfg.Dataset, "err", err)
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(wait):
		return true
	}
}

// refusalRetry is how often a master that met a refusal tries again.
const refusalRetry = 30 * time.Second

// foreignEntries checks the entries after offset against the ones this
// master sent whose outcome it did not learn. It returns the offset of the
// first entry another writer appended, or 0 when every entry is ours.
func (m *Master) foreignEntries(ctx context.Context, offset uint64, lost [][]byte) (uint64, error) {
	last, err := m.cfg.Log.Last(ctx)
	if err != nil {
		return 0, err
	}
	if last <= offset {
		return 0, nil
	}
	var foreign uint64
	errDone := errors.New("done")
	err = m.cfg.Log.Read(ctx, offset+1, func(en stream.Entry) error {
		i := int(en.Offset - offset - 1)
		if i >= len(lost) || !bytes.Equal(lost[i], en.Data) {
			foreign = en.Offset
			return errDone
		}
		if en.Offset >= last {
			return errDone
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDone) {
		return 0, err
	}
	return foreign, nil
}

// fence makes the master read-only for good: another master appended to
// its dataset. It rebuilds from the log so that what it serves is what the
// log holds.
func (m *Master) fence(ctx context.Context, at uint64) {
	msg := fmt.Sprintf("READONLY ferry: this master is fenced: another master appended to dataset %q at offset %d; it no longer takes writes", m.cfg.Dataset, at)
	m.engine.Lock()
	m.engine.SetWriteError(msg)
	m.engine.Unlock()
	m.log.Error("fenced: another master appended to the dataset; read-only from now on", "dataset", m.cfg.Dataset, "offset", at)
	for {
		last, err := m.rebuild(ctx)
		if err == nil {
			m.engine.Lock()
			m.pub.fence()
			m.engine.ForgetWritesAfter(last)
			m.engine.Barrier()
			m.engine.SetLoading(false)
			m.engine.Unlock()
			return
		}
		if !m.retryRebuild(ctx, err, time.Second) {
			return
		}
	}
}

// Addr returns the address the master listens on.
func (m *Master) Addr() net.Addr { return m.srv.Addr() }

// Engine returns the master's engine.
func (m *Master) Engine() *command.Engine { return m.engine }

// Offset returns the offset of the last entry the log stored.
func (m *Master) Offset() uint64 {
	if m.pub == nil {
		return 0
	}
	off := m.pub.assigned()
	return off
}

// followerState reports the offset of the newest write (WriteOffset: so
// that WAIT after a write not yet stored, or with async acks not yet sent,
// waits for that write) and the replicas heard from in the last 30
// seconds, sorted by ID. Called under the engine lock.
func (m *Master) followerState() (uint64, []command.Follower) {
	off := m.pub.assigned()
	m.fmu.Lock()
	defer m.fmu.Unlock()
	out := make([]command.Follower, 0, len(m.followers))
	for id, f := range m.followers {
		if time.Since(f.LastAck) > 30*time.Second {
			delete(m.followers, id)
			continue
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b command.Follower) int { return strings.Compare(a.ID, b.ID) })
	return off, out
}

// requestAcks asks the replicas to acknowledge as soon as they have applied
// offset (WAIT), so that WAIT does not wait for their next periodic report.
// It runs under the engine lock, so it only records the offset for
// sendAckRequests: a publish can block (nats.go holds its connection's
// lock through a reconnection attempt).
func (m *Master) requestAcks(offset uint64) {
	for {
		cur := m.ackWant.Load()
		if offset <= cur || m.ackWant.CompareAndSwap(cur, offset) {
			break
		}
	}
	select {
	case m.askAcks <- struct{}{}:
	default:
	}
}

// sendAckRequests publishes the replicas' acknowledgement requests that
// requestAcks records, the highest offset asked for since the last one
// (a burst of WAITs makes one request), until ctx ends.
func (m *Master) sendAckRequests(ctx context.Context, w stream.AckWatcher) {
	var sent uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.askAcks:
		}
		off := m.ackWant.Load()
		if off == sent {
			continue
		}
		if err := w.RequestAcks(off); err != nil {
			m.log.Debug("cannot ask the replicas for acknowledgements", "offset", off, "err", err)
			continue
		}
		sent = off
	}
}

// announceEvery is how often a master tells its replicas where it serves
// (a Redis master pings its replicas every 10 seconds, by default).
const announceEvery = time.Second

// announce tells the replicas where the master serves and the last offset
// it sent, at once and every announceEvery until ctx ends; a fenced
// master, which another replaced, stays silent (and one replaced that has
// not written since, so is not fenced yet, is ignored by replicas that
// applied its successor's entries).
func (m *Master) announce(ctx context.Context, a stream.Announcer) {
	msg := stream.Announcement{Addr: m.cfg.AnnounceAddr}
	if msg.Addr == "" {
		msg.Addr = server.AdvertisedAddr(m.srv.Addr())
	}
	t := time.NewTicker(announceEvery)
	defer t.Stop()
	for {
		if !m.pub.isFenced() {
			msg.Offset = m.pub.sentOffset()
			if err := a.Announce(msg); err != nil {
				m.log.Debug("cannot announce the master to its replicas", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// logCheckEvery is how often a serving master asks whether its log is
// still the one it opened.
const logCheckEvery = time.Second

// watchLog asks every logCheckEvery whether the log is still the one the
// master opened, until ctx ends, and fails the publisher when it was
// deleted and created again (stream.ErrReplaced): the master then stops
// taking writes as after any append it cannot confirm. An append would
// fail its fence on the new log, unless that log happens to end exactly
// where the master's did: JetStream checks no stream identity on an
// append, so without this check the master's next write would land in
// another dataset's history.
func (m *Master) watchLog(ctx context.Context) {
	t := time.NewTicker(logCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := m.cfg.Log.Last(ctx); errors.Is(err, stream.ErrReplaced) {
			m.log.Error("the dataset's log was deleted and created again: not taking writes", "dataset", m.cfg.Dataset, "err", err)
			m.pub.fail(err)
			return
		}
	}
}

// onAck records a replica's acknowledgement and wakes WAIT.
func (m *Master) onAck(a stream.Ack) {
	m.fmu.Lock()
	m.followers[a.ID] = command.Follower{ID: a.ID, Addr: a.Addr, Offset: a.Offset, LastAck: time.Now()}
	m.fmu.Unlock()
	m.engine.Poke()
}

// Serve serves clients until ctx ends, SHUTDOWN, or Close.
func (m *Master) Serve(ctx context.Context) error {
	if w, ok := m.cfg.Log.(stream.AckWatcher); ok && m.pub != nil {
		if err := w.WatchOffsets(m.ctx, m.onAck); err != nil {
			m.log.Warn("cannot watch replica acknowledgements: WAIT will time out", "err", err)
		}
		m.spawn(func() { m.sendAckRequests(m.ctx, w) })
	}
	// Announcing ends with serving clients, before a shutdown snapshot.
	serving, served := context.WithCancel(m.ctx)
	defer served()
	if m.pub != nil {
		m.spawn(func() { m.pub.run(m.ctx) })
		if a, ok := m.cfg.Log.(stream.Announcer); ok {
			m.spawn(func() { m.announce(serving, a) })
		}
		m.spawn(func() { m.watchLog(serving) })
	}
	if m.snaps != nil {
		m.spawn(func() { m.snaps.Schedule(m.ctx) })
	}
	err := m.srv.Serve(ctx)
	served()
	m.srv.Close()
	m.shutdownSnapshot()
	m.Close()
	return err
}

// shutdownSnapshot takes the snapshot of a clean shutdown, when there is a
// store, anything changed since the newest snapshot, and SHUTDOWN did not
// say NOSAVE.
func (m *Master) shutdownSnapshot() {
	if m.snaps == nil || m.cfg.NoShutdownSnapshot || m.engine.ShutdownNoSave() {
		return
	}
	m.engine.Lock()
	loading := m.engine.Loading() || m.engine.WriteError() != ""
	m.engine.Unlock()
	newest := m.snaps.Newest()
	if loading || m.Offset() == newest.Offset && newest.Key != "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := m.Snapshot(ctx); err != nil {
		m.log.Error("shutdown snapshot failed: the next start replays the log from the newest snapshot", "dataset", m.cfg.Dataset, "err", err)
	}
}

// Close stops the master and disconnects its clients. The master's work is
// canceled before the connections are closed and waited for: a recovery
// waiting for NATS, or a connection waiting for the log to store its
// write, ends now (that write is never acknowledged) instead of holding up
// Close for as long as the log is away. A clean shutdown (Serve's end)
// closes the connections first, while the log is still there.
func (m *Master) Close() error {
	m.closeMu.Lock()
	m.closing = true
	m.closeMu.Unlock()
	m.cancel()
	err := m.srv.Close()
	m.wg.Wait()
	return err
}

// loadSnapshot puts the newest readable snapshot in the engine and returns
// the offset to replay the log from. It refuses what would start the
// master on part of its dataset, or on nothing by mistake.
func (m *Master) loadSnapshot(ctx context.Context, first, last uint64) (uint64, error) {
	ds := m.cfg.Dataset
	// The master answers -LOADING meanwhile: the load may skip collection
	// cycles.
	resume := snapshot.PauseGC()
	info, ks, meta, err := snapshot.LoadNewestMeta(ctx, m.cfg.Store, ds, 0, m.engine.NewKeyspace, m.log)
	resume()
	switch {
	case errors.Is(err, snapshot.ErrNotFound):
		if last == 0 {
			if !m.cfg.NewDataset {
				return 0, refusal{fmt.Errorf("master: dataset %q has no snapshot in the store and no entry in the log: refusing to start it empty (check --store and --dataset; start with --new-dataset to create it)", ds)}
			}
			m.log.Info("new dataset: no snapshot, no log entry", "dataset", ds)
			return 1, nil
		}
		if first > 1 {
			return 0, refusal{fmt.Errorf("master: dataset %q: the log starts at offset %d and the store has no snapshot: entries 1-%d are gone; refusing to start on part of the dataset", ds, first, first-1)}
		}
		return first, nil
	case err != nil:
		return 0, fmt.Errorf("master: dataset %q: cannot load a snapshot: %w", ds, err)
	}
	if err := snapshot.CheckLog(info, meta, stream.IdentityOf(m.cfg.Log)); err != nil {
		return 0, refusal{fmt.Errorf("master: dataset %q: %w; refusing to start on another log's offsets", ds, err)}
	}
	if info.Offset > last {
		return 0, refusal{fmt.Errorf("master: dataset %q: snapshot %s is ahead of the log, whose last offset is %d: the log lost entries; refusing to start", ds, info, last)}
	}
	if info.Offset+1 < first {
		return 0, refusal{fmt.Errorf("master: dataset %q: the log starts at offset %d, after snapshot %s: entries %d-%d are gone; refusing to start on part of the dataset", ds, first, info, info.Offset+1, first-1)}
	}
	m.engine.Lock()
	if err := m.engine.ReplaceFunctions(meta.Functions); err != nil {
		m.engine.Unlock()
		return 0, fmt.Errorf("master: dataset %q: snapshot %s: %w", ds, info, err)
	}
	m.engine.ReplaceKeyspace(ks)
	m.engine.SetLoading(true)
	m.engine.Unlock()
	m.snaps.Loaded(info)
	m.log.Info("snapshot loaded", "dataset", ds, "offset", info.Offset, "key", info.Key, "bytes", info.Size)
	return info.Offset + 1, nil
}

// newGeneration returns a random id for this master's snapshots.
func newGeneration() string {
	var b [10]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// WaitAck blocks until the effects of every unit up to need (the engine's
// AckPoint after a client's commands ran) are as durable as the ack mode
// promises: stored by the log (durable) or sent to it (async). It is what
// a RESP reply waits for; an error means the reply must not be sent.
func (m *Master) WaitAck(need uint64) error {
	if m.pub == nil || need == 0 {
		return nil
	}
	return m.pub.WaitDurable(need, m.cfg.Ack == AckAsync)
}

// WriteOffset returns the offset of the log entry that holds, or will
// hold, the newest write applied: with async acks, what a reply reflects
// (its entry may not be sent yet; the open entry follows the sealed ones,
// so its offset is already fixed).
func (m *Master) WriteOffset() uint64 {
	if m.pub == nil {
		return 0
	}
	return m.pub.assigned()
}
