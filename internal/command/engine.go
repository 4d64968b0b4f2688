// Package command is ferry's engine: the command table, one file per Redis
// command group, clients, transactions, blocking operations and Pub/Sub.
// Everything here runs under one lock, so the order in which commands apply
// is the order in which their effects reach the Log.
//
// Lock order: Engine.mu, then Client.mu (a client's asynchronous output).
package command

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/resp"
)

// Config holds the settings of an engine. CONFIG SET changes some of them
// at run time.
type Config struct {
	// RequirePass, when set, makes clients AUTH before other commands:
	// it is the default user's password (acl.go).
	RequirePass string
	// ACLFile is the ACL file (aclfile): its users are loaded when the
	// engine is made (ACLLoadError tells whether that failed), and by ACL
	// LOAD; ACL SAVE writes them. Empty: no file.
	ACLFile string
	// MaxBulkLen is proto-max-bulk-len.
	MaxBulkLen int64
	// Clock is the time source (time.Now when nil); tests inject theirs.
	Clock func() time.Time
	// Version is the Redis version reported by INFO and HELLO.
	Version string
	// FerryVersion is ferry's own version.
	FerryVersion string
	// Addr is the listening address, for INFO.
	Addr string
	// Role is "master" or "slave", for INFO and ROLE.
	Role string
	// Values serializes values for DUMP and RESTORE (rdb.Values); without
	// it both reply with an error.
	Values ValueCodec
	// Sync serves SYNC and PSYNC to Redis replicas (sync.go); without it
	// both reply with an error.
	Sync SyncProvider
}

// Stats are the counters INFO stats reports.
type Stats struct {
	Commands        atomic.Int64
	Connections     atomic.Int64
	Rejected        atomic.Int64
	RejectedConns   atomic.Int64 // connections refused past maxclients
	ExpiredKeys     int64
	KeyspaceHits    int64
	KeyspaceMisses  int64
	NetInput        atomic.Int64
	NetOutput       atomic.Int64
	ErrorReplies    int64
	Dirty           int64 // changes since the last snapshot
	PubSubChannels  int64
	TotalBlocking   int64
	UnexpectedError int64
}

// Engine executes commands against a keyspace.
type Engine struct {
	mu         sync.Mutex
	lastCmd    *Command // the last command lookup found
	hints      [][]byte // Prefetch's scratch: keys
	fieldHints [][]byte // and fields
	ks         *keyspace.Keyspace
	cfg        Config
	tab        Table
	log        Log
	offLog     OffsetLog // log, when it tells units' offsets

	clients    map[int64]*Client
	maxClients int // 0: DefaultMaxClients
	maxWrite   int // SetMaxWriteBytes; 0: no limit
	monitors   map[*Client]struct{}
	nextID     atomic.Int64
	started    time.Time
	stats      Stats
	eff        effects
	ctxs       []*Ctx  // reusable handler contexts, one per nesting level
	depth      int     // nesting level of the command running now
	execing    *Client // the client whose EXEC is running
	ticked     bool    // the clock was read since the lock was taken
	lockHolds  uint64  // times Lock, LockOrBusy and the expiry cycle took the lock (Pacer)
	unitSeq    uint64  // units handed to the log so far
	writeErr   string  // when set, writes are refused with this error
	loading    bool    // the dataset is being (re)built: only Loading commands run
	masterDn   bool    // replica with its link down and serve-stale-data no
	watching   map[dbKey][]*Client
	blocked    map[dbKey][]*Client
	ready      []dbKey
	keyless    []*Client // blocked on no key (WAIT): retried by Poke
	// followers lists the replicas and the master's offset (SetFollowers).
	followers func() (uint64, []Follower)
	// requestAcks asks the replicas for acknowledgements (SetFollowers).
	requestAcks func(offset uint64)
	readySet    map[dbKey]struct{}
	channels    map[string]map[*Client]struct{}
	patterns    map[string]map[*Client]struct{}
	shards      map[string]map[*Client]struct{} // shard channels (SSUBSCRIBE); made on first use

	srvOnce  sync.Once
	srvState *serverState // INFO, CONFIG and CLIENT state (server.go)

	// Shutdown is called by SHUTDOWN; the server stops.
	Shutdown func()

	lua  *scripting // Lua scripts (script.go); made by the first that runs
	busy busyState  // the running script, for other connections (script_busy.go)
	// passSet mirrors whether connections must authenticate (the default
	// user has a password or is off), for connections made without the
	// lock.
	passSet atomic.Bool

	acl aclState // users, the ACL log (acl.go)

	trk tracking // client-side caching (tracking.go)
	cur *Client  // the client whose top-level command runs (Exec)

	snapshots Snapshots // nil: no snapshots
	noSave    bool      // SHUTDOWN NOSAVE

	obs observer // slow log, latency monitor, error counts (observe.go)

	obuf obufLimits // client-output-buffer-limit (obuf.go)

	pause      pauseState  // CLIENT PAUSE (pause.go)
	mute       resp.Writer // where replies to a client with CLIENT REPLY OFF go
	rejectMark int         // where a muted client's rejection starts in its writer, or -1
}

type dbKey struct {
	db  int
	key string
}

// New returns an engine over an empty keyspace.
func New(cfg Config) *Engine {
	if cfg.MaxBulkLen == 0 {
		cfg.MaxBulkLen = resp.DefaultMaxBulkLen
	}
	if cfg.Version == "" {
		cfg.Version = "7.0.15"
	}
	if cfg.Role == "" {
		cfg.Role = "master"
	}
	e := &Engine{
		trk:      tracking{maxKeys: DefaultTrackingTableMaxKeys},
		ks:       keyspace.New(cfg.Clock),
		cfg:      cfg,
		clients:  make(map[int64]*Client),
		watching: make(map[dbKey][]*Client),
		blocked:  make(map[dbKey][]*Client),
		readySet: make(map[dbKey]struct{}),
		channels: make(map[string]map[*Client]struct{}),
		patterns: make(map[string]map[*Client]struct{}),
		started:  time.Now(),
	}
	e.busy.threshold.Store(DefaultBusyReplyThreshold.Milliseconds())
	limits := defaultObufLimits
	e.obuf.cur.Store(&limits)
	e.obs.init()
	e.eff.count = true // until SetLog gives effects a consumer
	e.ks.OnExpire = e.onExpire
	e.ks.OnDelete = e.onDelete
	e.ks.OnAdd = e.onAdd
	for _, register := range registrations {
		register(&e.tab)
	}
	e.initACL()
	return e
}

// registrations lists every command group's registration function.
var registrations = []func(*Table){
	registerConnection,
	registerString,
	registerKeys,
	registerHash,
	registerList,
	registerSet,
	registerZSet,
	registerMulti,
	registerPubSub,
	registerMonitor,
	registerMemory,
	registerServer,
	registerReplication,
}

// Keyspace returns the engine's keyspace. Callers must hold the lock.
func (e *Engine) Keyspace() *keyspace.Keyspace { return e.ks }

// Table returns the command table.
func (e *Engine) Table() *Table { return &e.tab }

// Config returns the engine's configuration.
func (e *Engine) Config() Config { return e.cfg }

// Stats returns the engine's counters.
func (e *Engine) Stats() *Stats { return &e.stats }

// SetLog sets where effects go. Call before serving.
func (e *Engine) SetLog(l Log) {
	e.log = l
	e.offLog, _ = l.(OffsetLog)
	e.eff.count = l == nil
}

// Lock acquires the engine lock; Exec and every keyspace access need it.
// Commands executed under one acquisition (a pipelined batch) share one
// reading of the clock, as Redis's commands share one cached time.
func (e *Engine) Lock() {
	e.mu.Lock()
	e.acquired()
}

// acquired starts a hold of the engine lock.
func (e *Engine) acquired() {
	e.ticked = false
	e.lockHolds++
}

// Unlock releases the engine lock, first sending BCAST tracking clients
// the keys changed under it (as Redis does before it sleeps).
func (e *Engine) Unlock() {
	if e.trk.dirty {
		e.trackingBroadcast()
	}
	e.mu.Unlock()
}

// SetClock replaces the clock (tests move time without sleeping).
func (e *Engine) SetClock(clock func() time.Time) {
	e.mu.Lock()
	e.cfg.Clock = clock
	e.ks.SetClock(clock)
	e.mu.Unlock()
}

// ActiveExpire runs one active expiry cycle; the server calls it ten times
// a second, tests call it directly.
func (e *Engine) ActiveExpire() int {
	e.mu.Lock()
	e.lockHolds++
	defer e.mu.Unlock()
	if e.pause.mode != pauseOff || len(e.pause.release) > 0 {
		// As serverCron: a pause whose time is over ends here, and while
		// clients are paused the cycle deletes nothing.
		e.ks.Tick()
		if e.pauseExpired() {
			return 0
		}
		e.ticked = false
		e.resumeHeld()
		if e.trk.dirty {
			e.trackingBroadcast()
		}
	}
	if !e.ActiveExpireEnabled() || e.loading {
		return 0
	}
	e.ks.Tick()
	e.eff.reset()
	e.eff.multi = false // Redis propagates each expired key's DEL on its own
	n := e.ks.ActiveExpireCycle(20000)
	e.commitUnit(nil)
	return n
}

// expireUnitBytes is where a unit of expired keys' DELs alone ends and
// another starts: each DEL stands alone, and the active cycle over 20,000
// long keys, or a SCAN with a large COUNT meeting as many expired ones,
// would otherwise make one unit larger than a log entry can hold.
const expireUnitBytes = 64 << 10

func (e *Engine) onExpire(db int, key string) {
	e.stats.ExpiredKeys++
	e.trk.expiring = true // until onDelete, which follows
	e.notifyKeyspace(notifyExpired, "expired", key, db)
	e.eff.addExpired(db, key)
	if !e.eff.other && len(e.eff.buf) >= expireUnitBytes {
		multi := e.eff.multi // the active cycle's units are not wrapped
		e.commitUnit(e.cur)  // nil in the active cycle
		e.eff.multi = multi
	}
}

func (e *Engine) onDelete(db int, key string) {
	if len(e.watching) > 0 {
		e.touchWatched(db, key)
	}
	if e.trackingActive() {
		e.invalidateKey(key, true)
	}
	e.trk.expiring = false
	// A blocked XREADGROUP ends when its stream is deleted or replaced
	// (the other waits see the key missing and go on waiting).
	e.signalReady(db, key)
}

// onAdd is the keyspace's hook for a key created: it raises new and wakes
// the clients blocked on the key.
func (e *Engine) onAdd(db int, key string) {
	e.notifyKeyspace(notifyNew, "new", key, db)
	e.signalReady(db, key)
}

// signalReady queues the clients blocked on key to be retried.
func (e *Engine) signalReady(db int, key string) {
	if len(e.blocked) == 0 {
		return
	}
	k := dbKey{db, key}
	if _, ok := e.blocked[k]; !ok {
		return
	}
	if _, ok := e.readySet[k]; ok {
		return
	}
	k.key = strings.Clone(key)
	e.readySet[k] = struct{}{}
	e.ready = append(e.ready, k)
}

// commitUnit hands the current unit's effects to the log. cl, if not nil,
// is the client whose command made them: its WAIT waits for their offset.
func (e *Engine) commitUnit(cl *Client) {
	if u, ok := e.eff.finish(); ok {
		e.stats.Dirty += int64(e.eff.real)
		switch {
		case e.offLog != nil && cl != nil:
			e.unitSeq++
			cl.woff, cl.wlost = e.offLog.AppendAt(u), false
		case e.log != nil:
			e.unitSeq++
			e.log.Append(u)
		}
	}
	e.eff.reset()
}

// UnitSeq returns how many units have been handed to the log. A client's
// replies may be sent once the log has stored every unit up to the value
// read after its commands ran. The caller holds the lock.
func (e *Engine) UnitSeq() uint64 { return e.unitSeq }

// Barrier hands the log an empty unit: a master that settled its log
// after a failure calls it so that every reply computed from then on waits
// past the units the log lost. The caller holds the lock.
func (e *Engine) Barrier() {
	if e.log != nil {
		e.unitSeq++
		e.log.Append(Unit{})
	}
}

// AckPoint returns the UnitSeq a connection's replies must wait for once
// its commands ran: 0 while the dataset is loading, when replies carry
// -LOADING and no data (a master rebuilding after a log failure must not
// hold them back). The caller holds the lock.
func (e *Engine) AckPoint() uint64 {
	if e.loading {
		return 0
	}
	return e.unitSeq
}

// SetWriteError makes every write fail with msg (a full error reply such
// as "READONLY ..."); an empty msg takes writes again. The caller holds the
// lock. A master that cannot append to its log, or that is fenced, refuses
// writes this way.
func (e *Engine) SetWriteError(msg string) { e.writeErr = msg }

// WriteError returns the error writes are refused with, or "".
func (e *Engine) WriteError() string { return e.writeErr }

// SetMaxWriteBytes refuses, before they run, writes whose request is
// larger than n bytes (a transaction's: all its writes together; 0: no
// limit). A master sets it from what one log entry can hold: the effects
// of a write are about the size of its request, and a unit the log cannot
// store would make the master stop and rebuild. The caller holds the lock.
func (e *Engine) SetMaxWriteBytes(n int) { e.maxWrite = n }

// checkWriteSize returns the error for a write too large for one log
// entry (SetMaxWriteBytes), or "" and counts a queued write toward its
// transaction's total.
func (e *Engine) checkWriteSize(cl *Client, args [][]byte) string {
	if e.maxWrite == 0 {
		return ""
	}
	n := requestBytes(args)
	if cl.multi == nil {
		if n > e.maxWrite {
			return e.tooLargeForEntry("this write is " + strconv.Itoa(n) + " bytes")
		}
		return ""
	}
	n += cl.multiBytes
	if n > e.maxWrite {
		return e.tooLargeForEntry("the transaction's writes are " + strconv.Itoa(n) + " bytes")
	}
	cl.multiBytes = n
	return ""
}

// tooLargeForEntry is the error for a write whose effect one log entry
// cannot hold; what says how large it is.
func (e *Engine) tooLargeForEntry(what string) string {
	return "ERR ferry: " + what + ", more than one replication log entry holds (" + strconv.Itoa(e.maxWrite) + " bytes)"
}

// requestBytes is the size of args as a RESP request, rounded up.
func requestBytes(args [][]byte) int {
	n := 16
	for _, a := range args {
		n += len(a) + 16
	}
	return n
}

// DefaultMaxClients is Redis's maxclients: the connections a server
// accepts before it refuses more.
const DefaultMaxClients = 10000

// SetMaxClients records the connection limit the server enforces (INFO
// and CONFIG GET maxclients report it). The caller holds the lock.
func (e *Engine) SetMaxClients(n int) { e.maxClients = n }

// MaxClients returns the connection limit (DefaultMaxClients unless set).
// The caller holds the lock.
func (e *Engine) MaxClients() int {
	if e.maxClients == 0 {
		return DefaultMaxClients
	}
	return e.maxClients
}

// SetLoading marks the dataset as being loaded: commands not flagged
// Loading are answered with -LOADING. The caller holds the lock.
func (e *Engine) SetLoading(v bool) { e.loading = v }

// SetMasterDown makes commands not flagged Stale answer -MASTERDOWN (a
// replica whose link is down, with serve-stale-data off). The caller holds
// the lock.
func (e *Engine) SetMasterDown(v bool) { e.masterDn = v }

// Loading reports whether the dataset is being loaded.
func (e *Engine) Loading() bool { return e.loading }

// Exec runs one command for client cl, writing its reply to cl.W. The
// caller holds the lock. Exec reports false when the connection must be
// closed once the reply is written.
func (e *Engine) Exec(cl *Client, args [][]byte) bool {
	if cl.killed {
		// CLIENT KILL: nothing more runs for it, even what it pipelined.
		return false
	}
	e.stats.Commands.Add(1)
	if !e.ticked {
		// Reading the clock costs as much as parsing a command on some
		// machines: once per batch is enough.
		e.ks.Tick()
		e.ticked = true
		e.obs.mark = ticks()
	}
	cl.LastInteraction = e.ks.Now()
	if !cl.Master && (e.pause.mode != pauseOff || len(e.pause.release) > 0) {
		// A pause that is over releases its commands before this one runs.
		e.pauseExpired()
		e.resumeHeld()
	}
	e.eff.reset()
	e.cur = cl
	e.rejectMark = -1
	e.dispatch(cl, args)
	if e.rejectMark >= 0 {
		// CLIENT REPLY OFF or SKIP: the rejection is not sent.
		cl.W.Buf = cl.W.Buf[:e.rejectMark]
		e.rejectMark = -1
	}
	e.obs.rejCmd = nil
	e.commitUnit(cl)
	held := cl.isHeld()
	if !held && (e.trk.clients > 0 || len(e.trk.pending) > 0) {
		e.trackingAfterCommand(cl, args)
	}
	e.cur = nil
	if len(e.ready) > 0 {
		e.serveReady()
	}
	if !held {
		cl.replyDone()
	}
	if e.pause.mode != pauseOff && !e.pause.hid {
		// Set once the command that paused has run (a transaction's
		// writes after its CLIENT PAUSE run as usual).
		e.syncPauseExpiry()
	}
	if len(e.pause.release) > 0 && !cl.Master {
		e.resumeHeld()
	}
	return !cl.closeAfterReply
}

// lookup is the table's Lookup remembering the last command it found: a
// pipeline, or a log entry a replica applies, runs one command over and
// over. The caller holds the lock.
func (e *Engine) lookup(name []byte) *Command {
	if c := e.lastCmd; c != nil && sameName(name, c.Name) {
		return c
	}
	c := e.tab.Lookup(name)
	if c != nil {
		e.lastCmd = c
	}
	return c
}

// sameName reports whether name is the lowercase command name want, in
// any case.
func sameName(name []byte, want string) bool {
	if len(name) != len(want) {
		return false
	}
	for i, b := range name {
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if b != want[i] {
			return false
		}
	}
	return true
}

// dispatch checks a command the way Redis's processCommand does, then runs
// or queues it.
func (e *Engine) dispatch(cl *Client, args [][]byte) {
	cmd := e.lookup(args[0])
	if cmd != nil && cmd.Sub != nil && len(args) >= 2 {
		sub := cmd.Sub[strings.ToLower(string(args[1]))]
		if sub == nil {
			cl.LastCmd = "" // Redis's lastcmd: the lookup found nothing
			e.reject(cl, "ERR unknown subcommand '"+trunc(string(args[1]), 128)+"'. Try "+strings.ToUpper(cmd.Name)+" HELP.")
			return
		}
		cmd = sub
	}
	if cmd == nil {
		cl.LastCmd = ""
		e.reject(cl, unknownCommand(args))
		return
	}
	e.obs.rejCmd = cmd
	if cmd.Name == "exec" {
		// A rejected EXEC aborts the transaction (multi.go).
		defer e.abortRejectedExec(cl, cmd, args, e.stats.Rejected.Load(), len(cl.W.Buf))
	}
	if (cmd.Arity > 0 && cmd.Arity != len(args)) || len(args) < -cmd.Arity {
		e.reject(cl, "ERR wrong number of arguments for '"+cmd.Name+"' command")
		return
	}
	if !cl.Authed && cmd.Flags&NoAuth == 0 && e.acl.users.AuthRequired() {
		e.reject(cl, ErrNoAuth)
		return
	}
	if cl.multi != nil && cmd.Flags&NoMulti != 0 {
		e.reject(cl, ErrNotAllowedMulti)
		return
	}
	if !cl.aclFree && e.aclDeny(cl, cmd, args) {
		// ACL (acl.go): one flag test for a user who may run everything.
		return
	}
	if cl.W.Proto == 2 && cl.SubCount() > 0 && cmd.Flags&SubContext == 0 {
		e.reject(cl, "ERR Can't execute '"+cmd.Name+"': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
		return
	}
	if cmd.Flags&Write != 0 && !cl.Master {
		if e.cfg.Role != "master" {
			e.reject(cl, ErrReadOnly)
			return
		}
		if e.writeErr != "" {
			e.reject(cl, e.writeErr)
			return
		}
		if msg := e.checkWriteSize(cl, args); msg != "" {
			e.reject(cl, msg)
			return
		}
	}
	if cl.monitor && cmd.Flags&(ReadOnly|Write) != 0 {
		// As in Redis, where a monitor is a kind of replica.
		e.reject(cl, "ERR Replica can't interact with the keyspace")
		return
	}
	if e.masterDn && cmd.Flags&Stale == 0 && !cl.Master {
		e.reject(cl, ErrMasterDown)
		return
	}
	if e.loading && cmd.Flags&Loading == 0 && !cl.Master {
		e.reject(cl, ErrLoading)
		return
	}
	if (e.pause.mode != pauseOff || len(e.pause.release) > 0 || e.pause.turn != nil) && !cl.Master && e.holds(cl, cmd, args) {
		// CLIENT PAUSE (pause.go): the command runs again at its end.
		e.hold(cl, cmd, args)
		return
	}
	if cl.multi != nil && cmd.Flags&MultiControl == 0 {
		e.queue(cl, cmd, args)
		return
	}
	e.call(cl, cmd, args)
}

// call runs cmd with the client's database.
func (e *Engine) call(cl *Client, cmd *Command, args [][]byte) {
	// Contexts are reused (one per nesting level: EXEC calls the queued
	// commands) so that running a command allocates nothing; handlers do
	// not keep their Ctx past their return.
	if e.depth == len(e.ctxs) {
		e.ctxs = append(e.ctxs, new(Ctx))
	}
	c := e.ctxs[e.depth]
	// A top-level command starts where the previous one of the batch ended
	// (observe.go): one clock read per command (clock.go).
	top := e.depth == 0
	start := e.obs.mark
	if !top {
		start = ticks()
	}
	e.depth++
	if cmd.Name == "reset" {
		// RESET turns CLIENT REPLY OFF (not a SKIP under way) off, and its
		// own reply goes out.
		cl.replyOff, cl.replySkipNext = false, false
	}
	w := e.replyWriter(cl)
	*c = Ctx{e: e, Client: cl, Args: args, W: w, DB: e.ks.DB(cl.DB), Cmd: cmd}
	before := len(w.Buf)
	cmd.Handler(c)
	end := ticks()
	if top {
		e.obs.mark = end
	}
	*c = Ctx{}
	e.depth--
	if cmd.Flags&ReadOnly != 0 && e.trk.clients > 0 {
		e.trackRead(cl, cmd, args)
	}
	if len(e.monitors) > 0 && cmd.Flags&SkipMonitor == 0 {
		e.feedMonitors(cl, cmd, args)
	}
	failed := len(w.Buf) > before && w.Buf[before] == '-'
	if failed {
		if e.lua != nil && e.lua.noStats {
			// A script's error a command it ran returned: counted then.
			e.lua.noStats = false
		} else {
			e.stats.ErrorReplies++
			e.obs.countError(w.Buf[before+1:])
		}
		if cl.Master && cl.applyErr == nil {
			// Even inside EXEC, where the reply is an array (Applier).
			line := w.Buf[before+1:]
			if i := bytes.IndexByte(line, '\r'); i >= 0 {
				line = line[:i]
			}
			cl.applyErr = append([]byte{}, line...)
		}
	}
	if cl.block == nil {
		// INFO commandstats and latencystats; the slow log and the latency
		// monitor only past their thresholds (observe.go).
		e.record(cl, cmd, args, end-start, failed)
	} else {
		e.blockedRan(cl, end-start)
	}
	cl.LastCmd = cmd.Name
}

// reject replies with an error that also aborts a pending transaction.
func (e *Engine) reject(cl *Client, msg string) {
	e.stats.Rejected.Add(1)
	e.stats.ErrorReplies++
	if e.obs.rejCmd != nil {
		e.obs.rejCmd.stats.rejected++
		if e.depth == 0 {
			// Redis's lastcmd is set when the command is looked up,
			// before its checks.
			cl.LastCmd = e.obs.rejCmd.Name
		}
	}
	if cl.multi != nil {
		cl.multiErr = true
	}
	before := len(cl.W.Buf)
	if cl.muted() && e.rejectMark < 0 {
		// Written all the same (an EXEC's rejection becomes EXECABORT
		// from there), and dropped once the command is over (Exec).
		e.rejectMark = before
	}
	cl.W.Error(msg)
	if len(cl.W.Buf) > before {
		e.obs.countError(cl.W.Buf[before+1:])
	}
}

func unknownCommand(args [][]byte) string {
	var b strings.Builder
	for _, a := range args[1:] {
		if b.Len() >= 128 {
			break
		}
		b.WriteByte('\'')
		b.WriteString(trunc(string(a), 128-b.Len()))
		b.WriteString("' ")
	}
	return "ERR unknown command '" + trunc(string(args[0]), 128) + "', with args beginning with: " + b.String()
}

func trunc(s string, n int) string {
	s = cString(s) // C's %.*s stops at a NUL too
	if n < 0 {
		n = 0
	}
	if len(s) > n {
		return s[:n]
	}
	return s
}

func cloneArgs(args [][]byte) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = append([]byte(nil), a...)
	}
	return out
}

// NewKeyspace returns an empty keyspace with the engine's clock and
// encoding limits, ready to be loaded and handed to ReplaceKeyspace.
func (e *Engine) NewKeyspace() *keyspace.Keyspace {
	ks := keyspace.New(e.cfg.Clock)
	ks.Limits = e.ks.Limits
	return ks
}

// ReplaceKeyspace swaps in ks (from NewKeyspace, loaded from a snapshot)
// as the whole dataset, as a Redis replica swaps in the RDB of a full
// sync: every client watching a key has its transaction fail, and clients
// blocked on keys are woken if their keys now hold data. The caller holds
// the lock. The old keyspace is dropped.
func (e *Engine) ReplaceKeyspace(ks *keyspace.Keyspace) {
	ks.Mode = e.ks.Mode
	ks.Limits = e.ks.Limits
	ks.OnExpire = e.onExpire
	ks.OnDelete = e.onDelete
	ks.OnAdd = e.onAdd
	e.ks = ks
	e.trackingFlush()
	for dk, clients := range e.watching {
		for _, cl := range append([]*Client(nil), clients...) {
			cl.dirtyCAS = true
			e.unwatchKeys(cl)
		}
		delete(e.watching, dk)
	}
	for dk := range e.blocked {
		if ks.DB(dk.db).Exists(dk.key) {
			e.signalReady(dk.db, dk.key)
		}
	}
}

// prefetchEvery is how many requests run between reads ahead of their keys
// (Prefetch): the most keys dict.Dict.Touch reads at once.
const prefetchEvery = 16

// prefetchMinKeys is the size of a database below which Prefetch does
// nothing: its table and keys mostly stay in the cache (16,384 keys take
// about 2 MB), and reading ahead would only cost time.
const prefetchMinKeys = 1 << 14

// Prefetch reads ahead where the keys of the requests at the start of
// data (RESP requests, as a client pipelines them or an entry of the log
// holds them) are in database db, when there are several: their lookups
// then find them in the cache, the cache misses of the read ahead having
// overlapped (dict.Dict.Touch). Only the second argument of each request
// is taken for a key, the first key of most commands; anything else read
// costs a little time and changes nothing. Requests in a row on one key
// that holds a large hash or set have their third argument, the field or
// member of most of their commands, read ahead there too
// (keyspace.DB.TouchFields). The caller holds the lock.
func (e *Engine) Prefetch(db int, data []byte) {
	d := e.ks.DB(db)
	if d.Len() == 0 {
		return
	}
	keys, fields := e.hintScratch()
	keys, fields = resp.ArgHints(data, keys, fields)
	if len(keys) > 1 {
		if d.Len() >= prefetchMinKeys {
			d.Touch(keys)
		}
		d.TouchFields(keys, fields)
	}
	clear(keys) // keeps no request alive
	clear(fields)
}

// hintScratch returns Prefetch's key and field slices, empty, with room
// for prefetchEvery each.
func (e *Engine) hintScratch() (keys, fields [][]byte) {
	if e.hints == nil {
		e.hints = make([][]byte, 0, prefetchEvery)
		e.fieldHints = make([][]byte, 0, prefetchEvery)
	}
	return e.hints[:0], e.fieldHints[:0]
}

// prefetchEntries is Prefetch for the first commands of the next log
// entries, each a run of RESP requests starting in database 0.
func (e *Engine) prefetchEntries(entries [][]byte) {
	if len(entries) < 2 || e.ks.DB(0).Len() < prefetchMinKeys {
		return
	}
	keys, _ := e.hintScratch()
	for _, en := range entries[:min(len(entries), prefetchEvery)] {
		if k := resp.KeyHints(en, keys[len(keys):len(keys):len(keys)+1]); len(k) == 1 {
			keys = keys[:len(keys)+1]
		}
	}
	if len(keys) > 1 {
		e.ks.DB(0).Touch(keys)
	}
	clear(keys)
}
