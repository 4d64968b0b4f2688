package command

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ferrydb/ferry/internal/keyspace"
)

// Server commands (server.c, debug.c, db.c, replication.c): INFO, COMMAND,
// CONFIG, CLIENT, DEBUG, TIME, LASTSAVE, SHUTDOWN, ROLE, SAVE, BGSAVE and
// BGREWRITEAOF (persistence.go).
// INFO is in info.go, COMMAND in command_cmd.go, CONFIG in config.go and
// CLIENT in client_cmd.go.

func init() {
	noAsyncLoading["bgrewriteaof"] = true
	argSyntax["bgrewriteaof"] = ""
}

func registerServer(t *Table) {
	t.Add(
		&Command{Name: "time", Arity: 1, Flags: Loading | Stale | Fast, Group: "server", Since: "2.6.0", Summary: "Replies with the server's clock: unix seconds and microseconds.", ACL: []string{"fast"}, Handler: timeCmd},
		&Command{Name: "lastsave", Arity: 1, Flags: Loading | Stale | Fast, Group: "server", Since: "1.0.0", Summary: "Replies with the unix time of the last snapshot (the start of the server until ferry takes snapshots).", ACL: []string{"admin", "fast", "dangerous"}, Handler: lastsaveCmd},
		&Command{Name: "shutdown", Arity: -1, Flags: Admin | NoScript | Loading | Stale | NoMulti | AllowBusy, Group: "server", Since: "1.0.0", Summary: "Stops the server and closes the connection without a reply.", ACL: []string{"admin", "slow", "dangerous"}, Handler: shutdownCmd},
		&Command{Name: "role", Arity: 1, Flags: NoScript | Loading | Stale | Fast, Group: "server", Since: "2.8.12", Summary: "Tells whether this node is a master or a replica, and where replication stands.", ACL: []string{"admin", "fast", "dangerous"}, Handler: roleCmd},
		&Command{Name: "save", Arity: 1, Flags: Admin | NoScript | NoMulti, Group: "server", Since: "1.0.0", Summary: "Writes a snapshot of the dataset in the foreground (not available in ferry yet).", ACL: []string{"admin", "slow", "dangerous"}, Handler: saveCmd},
		&Command{Name: "bgsave", Arity: -1, Flags: Admin | NoScript, Group: "server", Since: "1.0.0", Summary: "Writes a point-in-time snapshot of the dataset to the snapshot store in the background.", ACL: []string{"admin", "slow", "dangerous"}, Handler: bgsaveCmd},
		&Command{Name: "bgrewriteaof", Arity: 1, Flags: Admin | NoScript, Group: "server", Since: "1.0.0", Summary: "Compacts the log: ferry's append-only file is its replication log, which a snapshot compacts, so this starts a snapshot as BGSAVE does.", ACL: []string{"admin", "slow", "dangerous"}, Handler: bgrewriteaofCmd},
		&Command{Name: "debug", Arity: -2, Flags: Admin | NoScript | Loading | Stale, Group: "server", Since: "1.0.0", Summary: "Debugging and testing helpers: dataset digests, populating, sleeping, active expiry.", ACL: []string{"admin", "slow", "dangerous"}, Handler: debugCmd},
	)
	registerInfo(t)
	registerCommandCmd(t)
	registerConfig(t)
	registerClientCmd(t)
}

// ErrNoSnapshots is the reply to SAVE and BGSAVE on a node without a
// snapshot store.
const ErrNoSnapshots = "ERR this ferry node takes no snapshots: start it with --store"

// serverState is the per-engine state of the server commands: settings
// CONFIG SET changes that have no home in Config, DEBUG switches, the
// sampled INFO metrics. Fields are guarded by the engine lock.
//
// It lives in a side table keyed by a weak pointer to the engine because
// engine.go, which this file does not own, has no field for it yet; once
// Engine gets a field of this type, srv returns its address instead. The
// entry goes when the engine is collected, which nothing in it may prevent.
type serverState struct {
	runID      string // 40 hex digits, INFO run_id
	replID     string // 40 hex digits, INFO master_replid
	noActiveEx bool   // DEBUG SET-ACTIVE-EXPIRE 0
	settings   settings
	peakMem    uint64
	startMem   uint64
	inst       instMetrics
	repl       func() Replication
	// sanitizations is INFO's dump_payload_sanitizations (sanitize.go).
	sanitizations int64
}

// settings are the CONFIG parameters kept only to be read back (or, for
// the replica ones, read by the replica).
type settings struct {
	maxmemory       uint64
	maxmemoryPolicy string
	hz              int64
	timeout         int64
	serveStale      bool
	replicaReadOnly bool
	notifyFlags     int // notify-keyspace-events (notify.go)
	// sanitizeDumpPayload is "no" (as ""), "yes" or "clients"; ferry
	// sanitizes every payload whatever it says (sanitize.go).
	sanitizeDumpPayload string
}

// srv returns e's server state, creating it on first use.
func (e *Engine) srv() *serverState {
	e.srvOnce.Do(func() { e.srvState = newServerState() })
	return e.srvState
}

func newServerState() *serverState {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &serverState{
		runID:    randomHex(),
		replID:   randomHex(),
		startMem: ms.HeapInuse,
		peakMem:  ms.HeapInuse,
		settings: settings{
			maxmemoryPolicy: "noeviction",
			hz:              10,
			serveStale:      true,
			replicaReadOnly: true,
		},
	}
}

func randomHex() string {
	var b [20]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ActiveExpireEnabled reports whether the active expiry cycle should run:
// DEBUG SET-ACTIVE-EXPIRE 0 turns it off (keys then expire only when
// touched). The caller holds the lock.
func (e *Engine) ActiveExpireEnabled() bool { return !e.srv().noActiveEx }

// Replication is where a node stands in replication, for INFO replication
// and ROLE.
type Replication struct {
	// Offset is the offset of the last write applied (the stream sequence).
	Offset int64
	// MasterHost and MasterPort say where a replica follows its master from.
	MasterHost string
	MasterPort int
	// LinkUp says whether a replica is receiving the master's writes.
	LinkUp bool
	// LastIO is when a replica last heard from its master: an entry, or
	// the master's announcement (INFO master_last_io_seconds_ago); zero:
	// not since its link came up.
	LastIO time.Time
	// SyncInProgress says a replica is loading a snapshot (INFO
	// master_sync_in_progress).
	SyncInProgress bool
	// DownSince is when a replica's link went down (INFO
	// master_link_down_since_seconds); zero if it never was up.
	DownSince time.Time
	// State is a ferry replica's own state (loading, streaming, link-down,
	// resyncing, resync-needed, broken: INFO ferry_replica_state), and Err
	// the error that put it there, if any (ferry_replica_error).
	State string
	Err   string
}

// SetReplication installs the function INFO and ROLE call (under the
// engine lock) to learn the replication state. Without one, a master
// reports offset 0 and a replica a link that is down. fn must not hold on
// to the engine (see serverState).
func (e *Engine) SetReplication(fn func() Replication) {
	e.mu.Lock()
	e.srv().repl = fn
	e.mu.Unlock()
}

func (e *Engine) replication() Replication {
	if fn := e.srv().repl; fn != nil {
		return fn()
	}
	return Replication{}
}

// now returns the engine clock's time (the injected clock in tests).
func (e *Engine) now() time.Time {
	if e.cfg.Clock != nil {
		return e.cfg.Clock()
	}
	return time.Now()
}

func timeCmd(c *Ctx) {
	now := c.e.now()
	c.W.Array(2)
	c.W.BulkInt(now.Unix())
	c.W.BulkInt(int64(now.Nanosecond() / 1000))
}

func shutdownCmd(c *Ctx) {
	var nosave, save, abort bool
	flags := false
	for i := 1; i < len(c.Args); i++ {
		switch {
		case c.Is(i, "nosave"):
			nosave, flags = true, true
		case c.Is(i, "save"):
			save, flags = true, true
		case c.Is(i, "now"), c.Is(i, "force"):
			flags = true
		case c.Is(i, "abort"):
			abort = true
		default:
			c.Error(ErrSyntax)
			return
		}
	}
	if (abort && flags) || (nosave && save) {
		c.Error(ErrSyntax)
		return
	}
	if abort {
		// ferry's shutdown is immediate: there is never one to abort.
		c.Error("ERR No shutdown in progress.")
		return
	}
	if save && c.e.snapshots == nil {
		c.Error(ErrNoSnapshots)
		return
	}
	c.e.noSave = nosave
	if c.e.Shutdown == nil {
		c.Error("ERR Errors trying to SHUTDOWN. Check logs.")
		return
	}
	// No reply: the connection closes, as when redis-server exits.
	c.Client.closeAfterReply = true
	c.e.Shutdown()
}

func roleCmd(c *Ctx) {
	r := c.e.replication()
	if c.e.cfg.Role == "master" {
		off, fs := c.e.followerState()
		if c.e.followers != nil {
			r.Offset = int64(off)
		}
		srs := c.e.syncReplicas()
		c.W.Array(3)
		c.W.BulkString("master")
		c.W.Int(r.Offset)
		c.W.Array(len(fs) + len(srs))
		replica := func(addr string, offset uint64) {
			host, port, _ := net.SplitHostPort(addr)
			c.W.Array(3)
			c.W.BulkString(host)
			c.W.BulkString(port)
			c.W.BulkString(strconv.FormatUint(offset, 10))
		}
		for _, f := range fs {
			replica(f.Addr, f.Offset)
		}
		for _, sr := range srs {
			replica(sr.Addr, sr.Acked)
		}
		return
	}
	state := "connect"
	if r.LinkUp {
		state = "connected"
	}
	c.W.Array(5)
	c.W.BulkString("slave")
	c.W.BulkString(r.MasterHost)
	c.W.Int(int64(r.MasterPort))
	c.W.BulkString(state)
	c.W.Int(r.Offset)
}

func debugCmd(c *Ctx) {
	n := len(c.Args)
	switch {
	case n == 2 && c.Is(1, "help"):
		helpReply(c, "DEBUG",
			"DIGEST",
			"    Reply with a digest of the whole dataset (all zeros when it is empty).",
			"DIGEST-VALUE <key> [<key> ...]",
			"    Reply with a digest of each key's value (all zeros for a missing key).",
			"SLEEP <seconds>",
			"    Hold the server for <seconds> (a decimal number) before replying.",
			"SET-ACTIVE-EXPIRE <0|1>",
			"    Turn the active expiry cycle off (0) or on (1).",
			"POPULATE <count> [<prefix>] [<size>]",
			"    Create <count> string keys named key:<num> (or <prefix>:<num>) holding value:<num>, padded with zero bytes",
			"    or cut to <size> bytes when a size is given. Existing keys are left as they are. On a master the keys reach",
			"    the replicas, in several log entries when they are many.",
			"PROTOCOL <type>",
			"    Reply with a sample of a RESP type: string, integer, double, bignum, null, array, set, map, attrib, push, verbatim, true or false.",
		)
	case n == 2 && c.Is(1, "digest"):
		d := c.e.ks.Digest()
		c.W.Status(d.Hex())
	case c.Is(1, "digest-value"):
		c.W.Array(n - 2)
		for _, k := range c.Args[2:] {
			var d keyspace.Digest
			if o := rawLookup(c.DB, view(k)); o != nil {
				d = keyspace.ValueDigest(o)
			}
			c.W.Status(d.Hex())
		}
	case n == 3 && c.Is(1, "sleep"):
		secs := cStrtod(c.Arg(2))
		// Like Redis, the whole server waits: the engine lock is held.
		time.Sleep(time.Duration(int64(secs*1e6)) * time.Microsecond)
		c.W.OK()
	case n == 3 && c.Is(1, "set-active-expire"):
		c.e.srv().noActiveEx = cAtoi(c.Arg(2)) == 0
		c.W.OK()
	case n == 3 && c.Is(1, "protocol"):
		debugProtocol(c, strings.ToLower(c.Arg(2)))
	case n >= 3 && n <= 5 && c.Is(1, "populate"):
		debugPopulate(c)
	default:
		c.Error("ERR unknown subcommand or wrong number of arguments for '" + trunc(c.Arg(1), 128) + "'. Try " + strings.ToUpper(c.Arg(0)) + " HELP.")
	}
}

// rawLookup finds key whether or not its time has passed, without deleting
// it (DEBUG reads logically expired keys too).
func rawLookup(db *keyspace.DB, key string) *keyspace.Object {
	if !db.IsExpiredKey(key) {
		return db.Peek(key)
	}
	var found *keyspace.Object
	db.Range(func(k string, o *keyspace.Object) bool {
		if k == key {
			found = o
			return false
		}
		return true
	})
	return found
}

func debugProtocol(c *Ctx, name string) {
	w := c.W
	switch name {
	case "string":
		w.BulkString("Hello World")
	case "integer":
		w.Int(12345)
	case "double":
		w.Double(3.141)
	case "bignum":
		const big = "1234567999999999999999999999999999999"
		if w.Proto == 3 {
			w.Raw([]byte("(" + big + "\r\n"))
		} else {
			w.BulkString(big)
		}
	case "null":
		w.Null()
	case "array", "set":
		if name == "set" {
			w.Set(3)
		} else {
			w.Array(3)
		}
		for j := int64(0); j < 3; j++ {
			w.Int(j)
		}
	case "map":
		w.Map(3)
		for j := int64(0); j < 3; j++ {
			w.Int(j)
			w.Bool(j == 1)
		}
	case "attrib":
		if w.Proto == 3 {
			w.Raw([]byte("|1\r\n"))
			w.BulkString("key-popularity")
			w.Array(2)
			w.BulkString("key:123")
			w.Int(90)
		}
		w.BulkString("Some real reply following the attribute")
	case "push":
		if w.Proto != 3 {
			c.Error("ERR RESP2 is not supported by this command")
			return
		}
		w.Push(2)
		w.BulkString("server-cpu-usage")
		w.Int(42)
		w.BulkString("Some real reply following the push reply")
	case "true", "false":
		w.Bool(name == "true")
	case "verbatim":
		w.Verbatim("This is a verbatim\nstring")
	default:
		c.Error("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")
	}
}

// cStrtod parses the longest decimal prefix of s like C's strtod (0 when
// there is none), as DEBUG SLEEP does.
func cStrtod(s string) float64 {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	if len(s) > 64 {
		s = s[:64]
	}
	end := 0
	for i := 1; i <= len(s); i++ {
		if _, err := strconv.ParseFloat(s[:i], 64); err == nil {
			end = i
		}
	}
	f, _ := strconv.ParseFloat(s[:end], 64)
	return f
}

// cAtoi parses the leading integer of s like C's atoi (0 when there is none).
func cAtoi(s string) int64 {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, _ := strconv.ParseInt(s[:i], 10, 64)
	return n
}
