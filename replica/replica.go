// Package replica runs a ferry replica: a read-only RESP server that follows
// a dataset's replication log, applying each entry in order, and resumes
// from its last applied offset + 1 after any interruption. With a snapshot
// store it starts from the newest snapshot and reads the log from the
// snapshot's offset + 1, and when its position is gone from the log it
// swaps in a newer snapshot. It never asks the master for anything.
package replica

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/server"
	"github.com/ferrydb/ferry/snapshot"
	"github.com/ferrydb/ferry/snapshot/rdb"
	"github.com/ferrydb/ferry/snapshot/taker"
	"github.com/ferrydb/ferry/stream"
)

// State is where a replica stands with its log.
type State string

// Replica states (../shared/DESIGN.md).
const (
	// StateLoading: the first snapshot loads; clients get -LOADING.
	StateLoading State = "loading"
	// StateCatchingUp: the snapshot (if any) is in, and the replica
	// replays the log up to where it was when the replica started (or
	// loaded its snapshot); clients still get -LOADING until it is there.
	StateCatchingUp State = "catching-up"
	// StateStreaming: caught up, applying new entries as they come.
	StateStreaming State = "streaming"
	// StateLinkDown: the log cannot be reached; the replica serves what it
	// has (or -MASTERDOWN with ServeStaleData off) and keeps retrying.
	StateLinkDown State = "link-down"
	// StateResyncing: the next offset is gone from the log (ErrTruncated);
	// the replica loads a newer snapshot from its Store in the background,
	// serving its old dataset meanwhile (or -MASTERDOWN with
	// ServeStaleData off), then swaps it in.
	StateResyncing State = "resyncing"
	// StateResyncNeeded: the next offset is gone from the log and there is
	// no Store: the replica keeps serving its dataset (or -LOADING if it
	// never caught up) and applies nothing more.
	StateResyncNeeded State = "resync-needed"
	// StateBroken: an entry could not be applied; the apply loop stopped.
	StateBroken State = "broken"
)

// Config configures a replica.
type Config struct {
	// Addr is the RESP listen address.
	Addr string
	// ConnGoroutines serves every client connection on a goroutine of its
	// own instead of the event loop (server.SetEventLoop).
	ConnGoroutines bool
	// AnnounceAddr is the address the replica reports to its master with
	// its acknowledgements (the master's INFO slaveN and ROLE); empty:
	// the listen address (server.AdvertisedAddr).
	AnnounceAddr string
	// RequirePass, when set, requires AUTH.
	RequirePass string
	// Version is ferry's version, for INFO.
	Version string
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Log is the dataset's replication log. Required.
	Log stream.Reader
	// Dataset names the dataset (for messages and INFO).
	Dataset string
	// ServeStaleData, when false, answers -MASTERDOWN while the link is
	// down or a resync runs (replica-serve-stale-data no).
	ServeStaleData bool
	// Store holds the dataset's snapshots. With one, the replica starts
	// from the newest snapshot and resyncs from a newer one when its
	// position is gone from the log; nil starts empty from offset 0 and
	// stops at a gap (StateResyncNeeded).
	Store snapshot.Store
	// TakeSnapshots, with a Store, makes the replica take snapshots into it
	// (BGSAVE and the schedule below) as a master does, so that the master
	// need not; SnapshotInterval, SnapshotAfterWrites and SnapshotKeep are
	// the master's settings of the same names. Retention trims the log
	// when Log is a stream.Trimmer (its NATS user must be allowed to purge
	// the stream; a failure is logged).
	TakeSnapshots       bool
	SnapshotInterval    time.Duration
	SnapshotAfterWrites int64
	SnapshotKeep        int
	// AckEvery is how often an applied offset that moved is acknowledged
	// to the master (0: every 100 ms), and one that did not every second
	// or every AckEvery if longer (a master forgets a replica it has not
	// heard from for 30 seconds: keep it well below that); one a master's
	// WAIT asks for is acknowledged at once.
	AckEvery time.Duration
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Log == nil {
		return errors.New("replica: no replication log")
	}
	if c.AckEvery < 0 {
		return errors.New("replica: negative AckEvery")
	}
	if c.TakeSnapshots && c.Store == nil {
		return errors.New("replica: taking snapshots needs a snapshot store")
	}
	if c.AckEvery == 0 {
		c.AckEvery = defaultAckEvery
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

// connected is implemented by logs that know whether they reach their server.
type connected interface{ Connected() bool }

// Replica is a running replica.
type Replica struct {
	cfg    Config
	engine *command.Engine
	srv    *server.Server
	apply  *command.Applier
	log    *slog.Logger

	mu           sync.Mutex // after the engine's lock
	state        State
	offset       uint64 // last applied entry
	lastIO       time.Time
	err          error
	applied      uint64 // entries applied since start
	firstApplied uint64 // first entry applied since start or the last snapshot
	syncing      bool   // a snapshot is loading
	loads        uint64 // snapshots swapped in
	loadFailures uint64 // snapshot loads that failed (not "there is none")
	lastLoad     SnapshotLoad
	advanced     chan struct{} // made by WaitOffset, closed when offset or state moves
	ackLow       uint64        // lowest offset a master's waiting request asks about (0: none)
	ackHigh      uint64        // highest one
	ackNow       chan struct{} // tells reportOffsets to acknowledge at once
	serving      atomic.Bool   // loading has ended (it never starts again)
	loaded       func()        // gives back the cores and GC headroom borrowed until loading ends
	runData      [][]byte      // applyRun's scratch (the follow loop's only)
	downSince    time.Time     // when the replica last stopped streaming (zero: streaming, or never did)
	masterAddr   string        // where the master last announced it serves
	heard        time.Time     // when the master last announced itself
	upSince      time.Time     // when the replica last started streaming

	snaps *taker.Taker // nil unless the replica takes snapshots

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closeMu sync.Mutex
	closing bool // Close has begun: spawn starts nothing
}

// New prepares a replica and binds its listener. It starts empty and in
// StateLoading; Serve starts following the log.
func New(cfg Config) (*Replica, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := command.New(command.Config{RequirePass: cfg.RequirePass, FerryVersion: cfg.Version, Addr: cfg.Addr, Role: "slave", Values: rdb.Values{}})
	e.Lock()
	e.Keyspace().Mode = keyspace.ExpireHide
	e.SetLoading(true)
	e.Unlock()
	r := &Replica{cfg: cfg, engine: e, log: cfg.Logger, apply: e.NewApplier(), state: StateLoading, ackNow: make(chan struct{}, 1)}
	e.SetReplication(func() command.Replication {
		r.mu.Lock()
		defer r.mu.Unlock()
		rep := command.Replication{Offset: int64(r.offset), LinkUp: r.state == StateStreaming, SyncInProgress: r.syncing, DownSince: r.downSince, State: string(r.state)}
		if r.err != nil && r.state != StateStreaming {
			rep.Err = r.err.Error() // the last error, while it matters
		}
		if host, port, err := net.SplitHostPort(r.masterAddr); err == nil {
			rep.MasterHost = host
			rep.MasterPort, _ = strconv.Atoi(port)
		}
		// Heard since the link came up: an entry or an announcement.
		if last := later(r.lastIO, r.heard); last.After(r.upSince) {
			rep.LastIO = last
		} else if rep.LinkUp {
			rep.LastIO = r.upSince
		}
		return rep
	})
	if err := r.serveRedisReplicas(); err != nil {
		return nil, err
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	if cfg.TakeSnapshots {
		r.snaps = r.newTaker()
		e.SetSnapshots(r.snaps)
	}
	if cfg.Addr == "" {
		return r, nil
	}
	r.srv = server.New(e, cfg.Logger)
	r.srv.SetEventLoop(!cfg.ConnGoroutines)
	if err := r.srv.Listen(cfg.Addr); err != nil {
		return nil, err
	}
	e.Shutdown = func() { go r.srv.Close() }
	return r, nil
}

// Addr returns the address the replica listens on.
func (r *Replica) Addr() net.Addr {
	if r.srv == nil {
		return noAddr{}
	}
	return r.srv.Addr()
}

// noAddr is the address of a replica without a RESP listener.
type noAddr struct{}

func (noAddr) Network() string { return "none" }
func (noAddr) String() string  { return "" }

// Engine returns the replica's engine.
func (r *Replica) Engine() *command.Engine { return r.engine }

// Status returns the state, the last applied offset and the error that
// stopped the apply loop, if any.
func (r *Replica) Status() (State, uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state, r.offset, r.err
}

// Serve follows the log and serves clients until ctx ends, SHUTDOWN, or Close.
func (r *Replica) Serve(ctx context.Context) error {
	r.Start()
	if r.srv == nil {
		<-ctx.Done()
		r.Close()
		return nil
	}
	err := r.srv.Serve(ctx)
	r.Close()
	return err
}

// Start follows the log in the background without serving RESP (a Lambda
// replica answers through its own handler); Serve calls it. Call it once.
func (r *Replica) Start() {
	// Until it has caught up the replica serves no reads (-LOADING): all
	// cores go to loading the snapshot and applying the log, so that
	// reading the log overlaps applying it. Measured on 2 cores, 1M
	// entries: 2.5-2.7 s instead of 3.4 s with --procs 1. The collector
	// may let the heap grow by snapshot.GCHeadroom meanwhile: the
	// process caught up on 1M entries with 1.36-1.38 s of CPU instead of
	// 1.55-1.57 s (3 runs each).
	giveBack, restoreGC := snapshot.BorrowCores(), snapshot.RelaxGC()
	r.loaded = sync.OnceFunc(func() {
		giveBack()
		restoreGC()
	})
	// Subscribed before anything is served, so that no WAIT's request
	// goes by unheard.
	if rep, ok := r.cfg.Log.(stream.AckReporter); ok {
		if err := rep.WatchAckRequests(r.ctx, r.onAckRequest); err != nil {
			r.log.Warn("cannot watch for acknowledgement requests: the master's WAIT waits for periodic reports", "err", err)
		}
	}
	if w, ok := r.cfg.Log.(stream.AnnouncementWatcher); ok {
		if err := w.WatchAnnouncements(r.ctx, r.onAnnouncement); err != nil {
			r.log.Warn("cannot watch for the master's announcements: INFO and ROLE will not name the master", "err", err)
		}
	}
	if r.snaps != nil {
		r.spawn(r.snaps.Schedule)
	}
	r.wg.Add(3)
	go func() {
		defer r.wg.Done()
		defer r.loaded()
		r.follow()
	}()
	go func() {
		defer r.wg.Done()
		r.reportOffsets()
	}()
	go func() {
		defer r.wg.Done()
		r.watchLink()
	}()
}

// Close stops the replica.
func (r *Replica) Close() error {
	var err error
	if r.srv != nil {
		err = r.srv.Close()
	}
	r.closeMu.Lock()
	r.closing = true
	r.closeMu.Unlock()
	r.cancel()
	r.wg.Wait()
	return err
}

func (r *Replica) setState(s State, err error) {
	r.mu.Lock()
	prev := r.state
	r.moveLocked(s)
	if err != nil {
		r.err = err
	}
	if prev != s {
		// WaitOffset callers recheck: a replica that stopped for good
		// (broken, resync-needed) will not reach their offset.
		r.wakeLocked()
	}
	r.mu.Unlock()
	if prev != s {
		r.log.Info("replica state", "dataset", r.cfg.Dataset, "from", prev, "to", s, "offset", r.Offset(), "err", err)
	}
}

// moveLocked sets the state, noting when the link went down (INFO's
// master_link_down_since_seconds). The caller holds r.mu.
func (r *Replica) moveLocked(s State) {
	switch {
	case s == StateStreaming:
		if r.state != StateStreaming {
			r.upSince = time.Now()
		}
		r.downSince = time.Time{}
	case r.state == StateStreaming:
		r.downSince = time.Now()
	}
	r.state = s
}

// Offset returns the last applied offset.
func (r *Replica) Offset() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.offset
}

// follow reads the log from the last applied offset + 1, forever. Reading
// resumes by itself across reconnects; when Read returns, the replica
// decides by the error: truncated log, broken entry, or retry.
func (r *Replica) follow() {
	ctx := r.ctx
	if r.cfg.Store != nil && !r.bootstrap(ctx) {
		return
	}
	r.catchingUp()
	target, err := r.catchUpTarget(ctx)
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if err == nil {
			// Only this loop moves the offset while it reads.
			next := r.Offset() + 1
			apply := func(run []stream.Entry) error {
				n, err := r.applyRun(run, next)
				next += uint64(n)
				if n > 0 {
					attempt = 0
					if next-1 >= target {
						r.caughtUp()
					}
				}
				return err
			}
			err = stream.ReadRuns(ctx, r.cfg.Log, next, apply)
		}
		var ae *applyError
		switch {
		case ctx.Err() != nil:
			return
		case errors.As(err, &ae):
			r.log.Error("entry cannot be applied: apply loop stopped", "dataset", r.cfg.Dataset, "offset", ae.offset, "err", ae.err)
			r.setState(StateBroken, err)
			return
		case errors.Is(err, stream.ErrReplaced):
			// The log's offsets now name another log's entries: going on
			// from this replica's offset would mix the two. It keeps
			// serving what it has, at the offset it reached.
			r.log.Error("the dataset's log was deleted and created again: apply loop stopped; restart the replica to load the dataset anew", "dataset", r.cfg.Dataset, "offset", r.Offset(), "err", err)
			r.setState(StateBroken, err)
			return
		case errors.Is(err, stream.ErrTruncated) && r.cfg.Store == nil:
			// Still -LOADING if it never caught up: never serve a
			// dataset cut short.
			r.log.Error("next offset is gone from the log: a newer snapshot is needed, and there is no snapshot store", "dataset", r.cfg.Dataset, "next", r.Offset()+1)
			r.setState(StateResyncNeeded, fmt.Errorf("replica: offset %d: %w", r.Offset()+1, err))
			return
		case errors.Is(err, stream.ErrTruncated):
			r.log.Warn("next offset is gone from the log: loading a newer snapshot", "dataset", r.cfg.Dataset, "next", r.Offset()+1, "err", err)
			if !r.resync(ctx, fmt.Errorf("replica: offset %d: %w", r.Offset()+1, err)) {
				return
			}
			attempt = -1
			r.catchingUp()
			target, err = r.catchUpTarget(ctx)
			continue
		}
		r.setState(StateLinkDown, err)
		r.log.Warn("log read failed; retrying", "dataset", r.cfg.Dataset, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(min(time.Duration(attempt+1)*250*time.Millisecond, 5*time.Second)):
		}
		if target == 0 {
			target, err = r.catchUpTarget(ctx)
		} else {
			err = nil
		}
	}
}

type applyError struct {
	offset uint64
	err    error
}

func (e *applyError) Error() string { return fmt.Sprintf("entry %d: %v", e.offset, e.err) }
func (e *applyError) Unwrap() error { return e.err }

// catchUpTarget returns the log's last offset: the replica serves once it
// has applied up to there.
func (r *Replica) catchUpTarget(ctx context.Context) (uint64, error) {
	last, err := r.cfg.Log.Last(ctx)
	if err != nil {
		return 0, err
	}
	if last == 0 || last <= r.Offset() {
		r.caughtUp()
	}
	return last, nil
}

// applyRun applies run, whose first entry must be at offset next, a few
// hundred entries per hold of the engine lock, moving the offset with each entry's
// effects (a reader never sees an entry's effects with the offset before
// it). It returns how many entries it applied, and an *applyError for the
// first one it could not apply or that is not where it should be.
func (r *Replica) applyRun(run []stream.Entry, next uint64) (int, error) {
	data := r.runData[:0]
	defer func() {
		clear(data) // keep no entry alive
		r.runData = data[:0]
	}()
	var gap error
	for i, en := range run {
		if en.Offset != next+uint64(i) {
			// The log promises no gaps and no repeats; never apply out of
			// order if it broke that promise.
			gap = &applyError{offset: en.Offset, err: fmt.Errorf("expected offset %d", next+uint64(i))}
			run = run[:i]
			break
		}
		data = append(data, en.Data)
	}
	if len(run) == 0 {
		return 0, gap
	}
	now := time.Now()
	n, err := r.apply.ApplyRun(data, func(i int) {
		r.mu.Lock()
		r.setOffsetLocked(run[i].Offset)
		r.lastIO = now
		r.applied++
		if r.firstApplied == 0 {
			r.firstApplied = run[i].Offset
		}
		r.mu.Unlock()
	})
	if err != nil {
		return n, &applyError{offset: run[n].Offset, err: err}
	}
	return n, gap
}

// caughtUp ends the loading state. The follow loop calls it for every
// entry once caught up, so after the first time it leaves the engine's
// lock alone. The replica says it is streaming (link up) as soon as it
// serves; only then does it give back the cores and the collector's
// headroom it loaded with (r.loaded), which starts a collection of
// everything it loaded.
func (r *Replica) caughtUp() {
	first, loading := !r.serving.Load(), false
	if first {
		r.engine.Lock()
		loading = r.engine.Loading()
		r.engine.SetLoading(false)
		r.engine.Unlock()
		r.serving.Store(true)
	}
	r.mu.Lock()
	if r.state == StateLoading || r.state == StateCatchingUp || r.state == StateLinkDown {
		r.moveLocked(StateStreaming)
	}
	r.mu.Unlock()
	if first {
		r.loaded()
	}
	if loading {
		r.log.Info("caught up: serving reads", "dataset", r.cfg.Dataset, "offset", r.Offset())
	}
}

// catchingUp moves a replica that has not served yet from loading (its
// snapshot is in) to catching-up.
func (r *Replica) catchingUp() {
	if r.serving.Load() {
		return
	}
	r.mu.Lock()
	loading := r.state == StateLoading
	r.mu.Unlock()
	if loading {
		r.setState(StateCatchingUp, nil)
	}
}

// defaultAckEvery is how often a replica acknowledges an offset that moved
// (for the master's INFO and lag metrics; a WAIT asks for an
// acknowledgement and gets it as soon as the replica has applied what it
// waits for). It was 10 ms before WAIT asked: most of the acknowledgements
// then went to nobody, at a cost of ~10% of a following replica's CPU.
const defaultAckEvery = 100 * time.Millisecond

// reportOffsets acknowledges the applied offset to the master: within
// AckEvery of a change, every second or AckEvery regardless (the master
// forgets replicas it has not heard from for 30 seconds), and at once when a
// master's request for acknowledgements (WAIT) is satisfied.
func (r *Replica) reportOffsets() {
	rep, ok := r.cfg.Log.(stream.AckReporter)
	if !ok {
		return
	}
	var id [12]byte
	rand.Read(id[:])
	ack := stream.Ack{ID: hex.EncodeToString(id[:]), Addr: r.cfg.AnnounceAddr}
	if ack.Addr == "" {
		ack.Addr = server.AdvertisedAddr(r.Addr())
	}
	t := time.NewTicker(r.cfg.AckEvery)
	defer t.Stop()
	var sent time.Time
	for {
		asked := false
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		case <-r.ackNow:
			asked = true
		}
		off := r.Offset()
		if off == ack.Offset && time.Since(sent) < time.Second && !asked {
			continue
		}
		ack.Offset = off
		if rep.ReportOffset(ack) == nil {
			sent = time.Now()
		}
	}
}

// onAnnouncement records where the master serves, and that it was heard,
// unless the replica applied entries the master did not send: that master
// was replaced by another and is fenced when it next writes.
func (r *Replica) onAnnouncement(a stream.Announcement) {
	r.mu.Lock()
	if a.Offset < r.offset {
		r.mu.Unlock()
		return
	}
	if a.Addr != r.masterAddr {
		r.log.Info("master announced", "dataset", r.cfg.Dataset, "addr", a.Addr)
	}
	r.masterAddr = a.Addr
	r.heard = time.Now()
	r.mu.Unlock()
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// onAckRequest takes a master's request for an acknowledgement once offset
// is applied: at once if it is, else when it is. Of the requests still
// waiting, the lowest and the highest offsets are kept: reaching the
// lowest acknowledges and makes the highest the next one (one between
// them is answered with the highest, or by a periodic acknowledgement).
func (r *Replica) onAckRequest(offset uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.offset >= offset {
		r.askAckLocked()
		return
	}
	if r.ackLow == 0 || offset < r.ackLow {
		r.ackLow = offset
	}
	r.ackHigh = max(r.ackHigh, offset)
}

// ackReachedLocked acknowledges at once when the replica has applied the
// lowest offset a request waits for. The caller holds r.mu.
func (r *Replica) ackReachedLocked() {
	if r.ackLow == 0 || r.offset < r.ackLow {
		return
	}
	r.askAckLocked()
	if r.offset >= r.ackHigh {
		r.ackLow, r.ackHigh = 0, 0
	} else {
		r.ackLow = r.ackHigh
	}
}

// askAckLocked makes reportOffsets acknowledge now. The caller holds r.mu.
func (r *Replica) askAckLocked() {
	select {
	case r.ackNow <- struct{}{}:
	default:
	}
}

// watchLink tracks whether the log is reachable, for the link state and
// -MASTERDOWN.
func (r *Replica) watchLink() {
	c, ok := r.cfg.Log.(connected)
	if !ok {
		return
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		up := c.Connected()
		r.mu.Lock()
		switch {
		case !up && (r.state == StateStreaming || r.state == StateCatchingUp):
			r.moveLocked(StateLinkDown)
		case up && r.state == StateLinkDown && r.serving.Load():
			r.moveLocked(StateStreaming)
		case up && r.state == StateLinkDown:
			// Back, but not caught up yet: it does not serve.
			r.moveLocked(StateCatchingUp)
		}
		down := r.state == StateLinkDown || r.state == StateResyncing || r.state == StateResyncNeeded
		r.mu.Unlock()
		r.engine.Lock()
		r.engine.SetMasterDown(down && !r.cfg.ServeStaleData)
		r.engine.Unlock()
	}
}
