package command

import (
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Client output buffer limits, after Redis 7.0's
// client-output-buffer-limit (networking.c): each class of client (normal,
// replica, pubsub) has a hard limit, and a soft limit with a number of
// seconds. A client whose unwritten output reaches the hard limit, or stays
// at or above the soft limit for longer than the seconds, is disconnected:
// nothing of its output is dropped while the connection lives. The output
// counted is what waits in ferry's buffers (the replies of the requests run
// so far and not yet handed to the socket, and the asynchronous output),
// not what the kernel's socket buffer holds, as Redis counts its reply list.
//
// The replica class is kept and shown but applies to no client: a Redis
// replica of a ferry node (downstream) is fed from a bounded outbox whose
// reader waits for the replica, so its output never grows.

// Output buffer classes, in the order CONFIG GET lists them.
const (
	obufNormal = iota
	obufReplica
	obufPubsub
	obufClasses
)

var obufClassNames = [obufClasses]string{"normal", "slave", "pubsub"}

// obufLimit is one class's limits; zero disables a limit.
type obufLimit struct {
	hard, soft  uint64
	softSeconds int64
}

// obufLimits are an engine's limits (Engine.obuf). The value is replaced
// whole by CONFIG SET, so a connection may read it without the engine lock.
type obufLimits struct {
	cur atomic.Pointer[[obufClasses]obufLimit]
}

// defaultObufLimits are Redis's defaults.
var defaultObufLimits = [obufClasses]obufLimit{
	obufNormal:  {},
	obufReplica: {hard: 256 << 20, soft: 64 << 20, softSeconds: 60},
	obufPubsub:  {hard: 32 << 20, soft: 8 << 20, softSeconds: 60},
}

// obufClassByName is getClientTypeByName without the master class, which
// the setting refuses.
func obufClassByName(s string) int {
	switch {
	case eqFold(s, "normal"):
		return obufNormal
	case eqFold(s, "slave"), eqFold(s, "replica"):
		return obufReplica
	case eqFold(s, "pubsub"):
		return obufPubsub
	}
	return -1
}

// obufUpdate is a parsed client-output-buffer-limit value: the classes it
// names and their new limits.
type obufUpdate struct {
	set    [obufClasses]bool
	limits [obufClasses]obufLimit
}

// parseObufLimits validates a client-output-buffer-limit value as Redis
// does: groups of class, hard, soft and seconds separated by single
// spaces, all refused when one is wrong.
func parseObufLimits(v string) (any, string) {
	var args []string
	if v != "" {
		args = strings.Split(v, " ")
	}
	if len(args)%4 != 0 {
		return nil, "Wrong number of arguments in buffer limit configuration."
	}
	for j, a := range args {
		// Redis reads each one as a C string: up to a NUL.
		if k := strings.IndexByte(a, 0); k >= 0 {
			args[j] = a[:k]
		}
	}
	var u obufUpdate
	for j := 0; j < len(args); j += 4 {
		class := obufClassByName(args[j])
		if class < 0 {
			return nil, "Invalid client class specified in buffer limit configuration."
		}
		hard, ok1 := memtoull(args[j+1])
		soft, ok2 := memtoull(args[j+2])
		n, rest := strtoll(args[j+3])
		secs := int32(n) // Redis keeps the seconds in an int
		if !ok1 || !ok2 || secs < 0 || rest != "" {
			return nil, "Error in hard, soft or soft_seconds setting in buffer limit configuration."
		}
		u.set[class] = true
		u.limits[class] = obufLimit{hard: hard, soft: soft, softSeconds: int64(secs)}
	}
	return u, ""
}

func (e *Engine) setObufLimits(v any) {
	u := v.(obufUpdate)
	l := &e.obuf
	next := *l.cur.Load()
	for c := range next {
		if u.set[c] {
			next[c] = u.limits[c]
		}
	}
	l.cur.Store(&next)
}

func (e *Engine) obufLimitsString() string {
	cur := e.obuf.cur.Load()
	var b strings.Builder
	for c, l := range cur {
		if c > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(obufClassNames[c])
		b.WriteByte(' ')
		b.WriteString(strconv.FormatUint(l.hard, 10))
		b.WriteByte(' ')
		b.WriteString(strconv.FormatUint(l.soft, 10))
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(l.softSeconds, 10))
	}
	return b.String()
}

// obufClientLimit returns the limits of cl's class: the pubsub class while
// it subscribes to something, else normal (a MONITOR too, as in Redis).
// The master's link and a script's client are never limited (ok false). The caller holds the engine lock.
func (cl *Client) obufClientLimit() (obufLimit, bool) {
	if cl.Master || cl.lua || cl.limits == nil {
		return obufLimit{}, false
	}
	class := obufNormal
	if cl.SubCount() > 0 {
		class = obufPubsub
	}
	l := cl.limits.cur.Load()[class]
	return l, l.hard != 0 || l.soft != 0
}

// OutputLimited reports whether cl's class has an output limit: its
// replies are then gathered whole before they are written, as Redis does
// for the requests of one read, so that a limit is checked against them
// all. The caller holds the engine lock.
func (cl *Client) OutputLimited() bool {
	_, ok := cl.obufClientLimit()
	return ok
}

// overOutputLimit is checkClientOutputBufferLimits: it reports whether used
// bytes of output pass limit l's hard limit, or its soft limit for longer
// than the soft seconds, and keeps the time the soft limit was first
// reached. Seconds are whole, as Redis counts them. The caller holds the
// lock.
func (cl *Client) overOutputLimit(l obufLimit, used int) bool {
	u := uint64(used)
	hard := l.hard != 0 && u >= l.hard
	soft := l.soft != 0 && u >= l.soft
	if soft {
		now := time.Now().Unix()
		if cl.obufSoftSince == 0 {
			cl.obufSoftSince = now
			soft = false
		} else if now-cl.obufSoftSince <= l.softSeconds {
			soft = false
		}
	} else {
		cl.obufSoftSince = 0
	}
	return hard || soft
}

// replyBufSize is the size of the reply buffer Redis gives each client
// (PROTO_REPLY_CHUNK_BYTES), which its limits do not count: only replies
// past it, in its reply list, do.
const replyBufSize = 16 * 1024

// CheckOutput closes cl when its output, unsent bytes not yet handed to
// the asynchronous output (past the first replyBufSize when nothing else
// waits, as Redis counts) plus what waits there, is over its class's
// limits (Redis's closeClientOnOutputBufferLimitReached): the connection
// is closed with nothing more written, and the client forgotten. It
// reports whether cl is closed for its output. The caller holds the lock.
func (e *Engine) CheckOutput(cl *Client, unsent int) bool {
	if cl.obufClosed {
		return true
	}
	l, ok := cl.obufClientLimit()
	if !ok || cl.killed {
		cl.obufSoftSince = 0
		return false
	}
	used := cl.queued()
	if used == 0 {
		// Redis's reply buffer takes the first replies while nothing is
		// queued behind them.
		unsent = max(unsent-replyBufSize, 0)
	}
	if !cl.overOutputLimit(l, used+unsent) {
		return false
	}
	cl.obufClosed = true
	if cl.LogOutputLimit != nil {
		var b strings.Builder
		(&Ctx{e: e}).clientLine(&b, cl, time.Now())
		cl.LogOutputLimit(b.String())
	}
	e.killClient(cl)
	return true
}

// ownsW reports whether the replies in cl.W may be read under the engine
// lock: cl runs the command under way, waits blocked, or has a writer
// goroutine (otherwise its connection may be writing W).
func (e *Engine) ownsW(cl *Client) bool {
	return cl == e.cur || cl.block != nil || cl.asyncOut.Load()
}

// CheckOutputLimits checks every client's output against the limits, as
// Redis's clientsCron does, so that a client whose output stays above the
// soft limit while nothing is added is closed once the seconds pass. The
// server calls it once a second.
func (e *Engine) CheckOutputLimits() {
	e.Lock()
	defer e.Unlock()
	for _, cl := range e.clients {
		if cl.obufSoftSince == 0 && cl.queued() == 0 {
			continue
		}
		unsent := 0
		if e.ownsW(cl) {
			unsent = cl.W.Len()
		}
		e.CheckOutput(cl, unsent)
	}
}

// repliesCut is OutputClosed every 1024 elements of a reply whose size the
// client chose (a negative count of HRANDFIELD, SRANDMEMBER, ZRANDMEMBER:
// -999999999 is a 14 GB reply), left is how many are still to come:
// Redis's loops stop there once the client is to be closed.
func (c *Ctx) repliesCut(left int64) bool {
	return left&1023 == 0 && c.OutputClosed()
}

// OutputClosed checks the client's output, its replies so far included,
// against its limits, and reports whether the client is closed for them:
// a command writing a reply of unbounded size (one element per count
// asked for) may poll it and stop early, as Redis's do, since nothing of
// the reply will be sent.
func (c *Ctx) OutputClosed() bool {
	if c.Client == nil || c.W != &c.Client.W {
		return false
	}
	return c.e.CheckOutput(c.Client, c.W.Len())
}
