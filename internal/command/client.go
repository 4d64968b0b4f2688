package command

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrydb/ferry/internal/acl"
	"github.com/ferrydb/ferry/internal/resp"
)

// Client is one connection's state. Fields are guarded by the engine lock
// unless noted.
type Client struct {
	ID      int64
	Name    string
	Addr    string
	LAddr   string
	DB      int
	Authed  bool
	Created time.Time
	LastCmd string
	// LastInteraction is when the client last sent a command (unix ms).
	LastInteraction int64
	// Master marks the replication link applying the master's effects.
	Master bool
	// W collects replies; the connection flushes it.
	W resp.Writer

	closeAfterReply bool
	killed          bool
	registered      bool     // RegisterClient ran: once in the client's life
	applyErr        []byte   // a master link's first error reply of a command (Applier)
	multi           []queued // non-nil inside MULTI
	multiErr        bool
	multiBytes      int    // request bytes of the writes queued (Engine.SetMaxWriteBytes)
	woff            uint64 // log offset of the entry holding its last write (WAIT)
	wlost           bool   // that write never reached the log (ForgetWritesAfter)
	monitor         bool   // MONITOR: receives every command run
	lua             bool   // runs a script's redis.call
	watched         []dbKey
	watchedExpired  []dbKey // watched keys that were already expired when WATCHed
	dirtyCAS        bool
	subs            map[string]struct{}
	psubs           map[string]struct{}
	psubOrder       []string            // psubs in subscription order (PUNSUBSCRIBE)
	ssubs           map[string]struct{} // shard channels (SSUBSCRIBE)
	block           *blockState
	trk             clientTracking // CLIENT TRACKING (tracking.go)
	repl            *replState     // REPLCONF options, SYNC's handover (sync.go)
	noEvict         bool           // CLIENT NO-EVICT ON
	// user is the ACL user the client runs as (nil: everything is
	// allowed); aclFree caches whether its commands need no ACL check
	// (acl.go).
	user    *acl.User
	aclFree bool
	held    *blockState // the command a client pause holds (pause.go)
	// CLIENT REPLY (pause.go): OFF; SKIP for the command running; SKIP
	// asked for by the command running; a blocked command's SKIP to end.
	replyOff, replySkip, replySkipNext, replyOwed bool

	// mu guards pending, the asynchronous output a connection in Pub/Sub
	// mode receives from other clients, and inflight, the bytes a writer
	// took from it (TakePending) and has not written yet.
	mu       sync.Mutex
	pending  []byte
	inflight int
	// Output buffer limits (obuf.go): the engine's limits, when the soft
	// limit was first reached (unix seconds, 0: not reached), and whether
	// the client was closed for them.
	limits        *obufLimits
	obufSoftSince int64
	obufClosed    bool
	// LogOutputLimit, set by the server, logs the CLIENT LIST line of a
	// client closed for its output buffer limits.
	LogOutputLimit func(client string)
	// Wake, set by the server, is signalled when pending gains bytes.
	Wake chan struct{}
	// Kill, set by the server, closes the connection (CLIENT KILL).
	Kill func()
	// asyncOut is set once a writer goroutine owns the connection's output
	// (SetAsyncOutput): W is then touched only under the engine lock.
	asyncOut atomic.Bool
	// Nudge, set by the server, is called after bytes are queued on the
	// asynchronous output (Push), so that a connection that writes its
	// replies itself and sits idle in a read hands that output to a
	// writer: a RESP3 redirect target of client tracking gets its
	// invalidations while it sends nothing.
	Nudge func()
}

type queued struct {
	cmd  *Command
	args [][]byte
}

// NewClient registers a new client. The caller holds the lock.
func (e *Engine) NewClient(addr, laddr string) *Client {
	cl := e.PrepareClient(addr, laddr)
	e.RegisterClient(cl)
	return cl
}

// PrepareClient returns a client for a new connection without the engine
// lock, so that a connection made while a script is busy gets BUSY
// replies (BusyReply); RegisterClient, under the lock, must follow before
// it runs a command.
func (e *Engine) PrepareClient(addr, laddr string) *Client {
	cl := &Client{
		ID:      e.nextID.Add(1),
		Addr:    addr,
		LAddr:   laddr,
		Authed:  !e.passSet.Load(),
		user:    e.acl.users.Default(),
		Created: time.Now(),
		W:       resp.Writer{Proto: 2},
		Wake:    make(chan struct{}, 1),
		limits:  &e.obuf,
	}
	cl.LastInteraction = cl.Created.UnixMilli()
	return cl
}

// RegisterClient makes a prepared client known (CLIENT LIST, INFO). The
// caller holds the lock (or the busy gate: BusyReply registers a client
// whose first command comes while a script is busy). Only the first call
// counts: a later one changes nothing, even for a client killed since, which
// must not come back to CLIENT LIST or count as a second connection.
func (e *Engine) RegisterClient(cl *Client) {
	if cl.registered {
		return
	}
	cl.registered = true
	cl.Authed = !e.acl.users.AuthRequired()
	cl.setUser(cl.user)
	e.clients[cl.ID] = cl
	e.stats.Connections.Add(1)
}

// CloseClient forgets a disconnected client: its subscriptions, watched
// keys and blocking state. The caller holds the lock.
func (e *Engine) CloseClient(cl *Client) {
	if cl.trk.on {
		e.disableTracking(cl)
	}
	e.unwatchAll(cl)
	e.unsubscribeAll(cl, false)
	e.stopMonitor(cl)
	if cl.block != nil {
		e.unblock(cl)
	}
	delete(e.clients, cl.ID)
	if e.pause.turn == cl {
		// Gone before the end of its turn (pause.go).
		e.pause.turn = nil
		if e.cur == nil {
			e.resumeHeld()
		}
	}
}

// SubCount returns the number of channels, patterns and shard channels cl
// subscribes to.
func (cl *Client) SubCount() int { return len(cl.subs) + len(cl.psubs) + len(cl.ssubs) }

// CloseAfterReply reports whether the connection must close once its
// pending replies are written.
func (cl *Client) CloseAfterReply() bool { return cl.closeAfterReply }

// Push queues bytes on cl's asynchronous output (Pub/Sub messages, and a
// subscribed client's own replies, so that both keep their order).
func (cl *Client) Push(b []byte) {
	cl.mu.Lock()
	cl.pending = append(cl.pending, b...)
	cl.mu.Unlock()
	select {
	case cl.Wake <- struct{}{}:
	default:
	}
	if cl.Nudge != nil {
		cl.Nudge()
	}
}

// SetAsyncOutput records that a writer goroutine now sends everything the
// client is owed (the server calls it when it starts one): from then on
// its replies reach the socket through Push only, and Pub/Sub messages or
// invalidations may be appended to W behind the replies of a command
// under way.
func (cl *Client) SetAsyncOutput() { cl.asyncOut.Store(true) }

// AsyncOutput reports whether SetAsyncOutput was called; safe from any
// goroutine.
func (cl *Client) AsyncOutput() bool { return cl.asyncOut.Load() }

// HasPending reports whether bytes wait on cl's asynchronous output.
func (cl *Client) HasPending() bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return len(cl.pending) > 0
}

// TakePending returns and clears the asynchronous output, appending it to
// dst; the bytes taken count as cl's output until Wrote reports them
// written.
func (cl *Client) TakePending(dst []byte) []byte {
	cl.mu.Lock()
	dst = append(dst, cl.pending...)
	cl.inflight += len(cl.pending)
	cl.pending = cl.pending[:0]
	cl.mu.Unlock()
	return dst
}

// Wrote reports n bytes taken by TakePending written to the socket, or
// given up (the connection failed).
func (cl *Client) Wrote(n int) {
	cl.mu.Lock()
	cl.inflight = max(cl.inflight-n, 0)
	cl.mu.Unlock()
}

// queued returns the bytes of output waiting on the asynchronous output
// or in a writer's hands; safe from any goroutine.
func (cl *Client) queued() int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return len(cl.pending) + cl.inflight
}
