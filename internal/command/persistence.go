package command

import (
	"errors"
	"time"
)

// Persistence is where a node stands with its snapshots, for LASTSAVE,
// BGSAVE and INFO persistence.
type Persistence struct {
	// InProgress says a snapshot is being written; Started is when its cut
	// was taken, KeysDone and KeysTotal how far it got.
	InProgress          bool
	Started             time.Time
	KeysDone, KeysTotal int64
	// LastSave is when the newest successful snapshot was cut (zero: none
	// yet); DirtyAtSave is the engine's change counter at that cut.
	LastSave    time.Time
	DirtyAtSave int64
	// LastFailed says the last snapshot attempt failed; LastDuration is how
	// long it took.
	LastFailed   bool
	LastDuration time.Duration
	// Saves counts successful snapshots since the node started.
	Saves int64
}

// Snapshots is the node's snapshot writer, as BGSAVE, LASTSAVE, SHUTDOWN
// and INFO see it. Its methods are called under the engine lock and must
// not take it.
type Snapshots interface {
	// Persistence reports the snapshot state.
	Persistence() Persistence
	// Start begins a snapshot in the background. With schedule, a snapshot
	// already running makes it schedule another for when that one ends
	// (scheduled true) rather than fail with ErrSnapshotRunning.
	Start(schedule bool) (scheduled bool, err error)
}

// ErrSnapshotRunning is what Snapshots.Start returns while one runs.
var ErrSnapshotRunning = errors.New("ERR Background save already in progress")

// SetSnapshots installs the node's snapshot writer (nil: the node takes no
// snapshots; SAVE and BGSAVE say so).
func (e *Engine) SetSnapshots(s Snapshots) {
	e.mu.Lock()
	e.snapshots = s
	e.mu.Unlock()
}

// ShutdownNoSave reports whether the last SHUTDOWN asked for NOSAVE (the
// node then skips its snapshot on the way down).
func (e *Engine) ShutdownNoSave() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.noSave
}

// persistence returns the snapshot state, the zero value without a writer.
func (e *Engine) persistence() (Persistence, bool) {
	if e.snapshots == nil {
		return Persistence{}, false
	}
	return e.snapshots.Persistence(), true
}

func lastsaveCmd(c *Ctx) {
	if p, ok := c.e.persistence(); ok && !p.LastSave.IsZero() {
		c.W.Int(p.LastSave.Unix())
		return
	}
	c.W.Int(c.e.started.Unix())
}

// saveCmd refuses: a foreground SAVE would stop every client for the length
// of the snapshot, which ferry never does; BGSAVE takes the same snapshot
// without stopping anyone.
func saveCmd(c *Ctx) {
	if c.e.snapshots == nil {
		c.Error(ErrNoSnapshots)
		return
	}
	c.Error("ERR ferry does not block on SAVE: use BGSAVE (snapshots never stop the server), then LASTSAVE")
}

func bgsaveCmd(c *Ctx) {
	if len(c.Args) > 2 || (len(c.Args) == 2 && !c.Is(1, "schedule")) {
		c.Error(ErrSyntax)
		return
	}
	if c.e.snapshots == nil {
		c.Error(ErrNoSnapshots)
		return
	}
	startSnapshot(c, len(c.Args) == 2, "Background saving")
}

// startSnapshot starts a snapshot (or schedules one, when allowed, after
// the one running) and replies what began: "<what> started" or
// "<what> scheduled".
func startSnapshot(c *Ctx, schedule bool, what string) {
	scheduled, err := c.e.snapshots.Start(schedule)
	switch {
	case err != nil:
		c.Error(err.Error())
	case scheduled:
		c.W.Status(what + " scheduled")
	default:
		c.W.Status(what + " started")
	}
}

// bgrewriteaofCmd is BGREWRITEAOF. ferry has no append-only file: its log
// of effects is the JetStream stream, and what rewriting compacts it is a
// snapshot, after which the stream's retention may drop older entries
// (recovery starts from the newest snapshot). So BGREWRITEAOF starts a
// snapshot as BGSAVE does, with Redis's replies: "started", or
// "scheduled" when one is running (as Redis schedules a rewrite while a
// BGSAVE runs).
func bgrewriteaofCmd(c *Ctx) {
	if c.e.snapshots == nil {
		c.Error(ErrNoSnapshots)
		return
	}
	startSnapshot(c, true, "Background append only file rewriting")
}

func infoPersistence(e *Engine, b *infoBuf) {
	p, _ := e.persistence()
	loading := 0
	if e.loading {
		loading = 1
	}
	b.int("loading", int64(loading))
	b.int("async_loading", 0)
	b.int("current_cow_peak", 0)
	b.int("current_cow_size", 0)
	b.int("current_cow_size_age", 0)
	b.float("current_fork_perc", 0)
	b.int("current_save_keys_processed", p.KeysDone)
	b.int("current_save_keys_total", p.KeysTotal)
	b.int("rdb_changes_since_last_save", e.stats.Dirty-p.DirtyAtSave)
	inProgress, current := 0, int64(-1)
	if p.InProgress {
		inProgress, current = 1, int64(time.Since(p.Started).Seconds())
	}
	b.int("rdb_bgsave_in_progress", int64(inProgress))
	last := e.started
	if !p.LastSave.IsZero() {
		last = p.LastSave
	}
	b.int("rdb_last_save_time", last.Unix())
	status, took := "ok", int64(-1)
	if p.LastFailed {
		status = "err"
	}
	if p.LastDuration > 0 || p.Saves > 0 {
		took = int64(p.LastDuration.Seconds())
	}
	b.str("rdb_last_bgsave_status", status)
	b.int("rdb_last_bgsave_time_sec", took)
	b.int("rdb_current_bgsave_time_sec", current)
	b.int("rdb_saves", p.Saves)
	b.int("rdb_last_cow_size", 0)
	b.int("rdb_last_load_keys_expired", 0)
	b.int("rdb_last_load_keys_loaded", 0)
	b.int("aof_enabled", 0)
	b.int("aof_rewrite_in_progress", 0)
	b.int("aof_rewrite_scheduled", 0)
	b.int("aof_last_rewrite_time_sec", -1)
	b.int("aof_current_rewrite_time_sec", -1)
	b.str("aof_last_bgrewrite_status", "ok")
	b.int("aof_rewrites", 0)
	b.int("aof_rewrites_consecutive_failures", 0)
	b.str("aof_last_write_status", "ok")
	b.int("aof_last_cow_size", 0)
	b.int("module_fork_in_progress", 0)
	b.int("module_fork_last_cow_size", 0)
}
