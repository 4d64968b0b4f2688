package command

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A script holds the engine lock while it runs. Past busy-reply-threshold
// (Redis's lua-time-limit), connections stop waiting for the lock: their
// commands get BUSY, and SCRIPT KILL stops the script if it has not
// written, as in Redis.

// DefaultBusyReplyThreshold is Redis's busy-reply-threshold: how long a
// script runs before other clients get BUSY.
const DefaultBusyReplyThreshold = 5 * time.Second

// Busy-script errors, as Redis 7.0 words them (ferry has no SHUTDOWN
// NOSAVE while a script runs: UNKILLABLE says what to do instead).
const (
	errBusy       = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
	errUnkillable = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or stop the server: nothing the script wrote is in the log yet."
	errKilled     = "ERR Script killed by user with SCRIPT KILL..."
)

// busyState is the running script as other connections see it, without
// the engine lock.
type busyState struct {
	start     atomic.Int64 // unix ns the running script started; 0: none
	threshold atomic.Int64 // busy-reply-threshold in ms; 0 or less: never busy
	wrote     atomic.Bool  // the running script called a write command
	killed    atomic.Bool  // SCRIPT KILL stopped it

	mu     sync.Mutex
	cancel context.CancelFunc // stops the running script
	fn     busyFunction       // the running function (FCALL); name "" for a script
	ended  chan struct{}      // closed when the running script ends; made for a waiter
}

// busyFunction is what FUNCTION STATS says of a running function.
type busyFunction struct {
	name        string
	args        [][]byte // the FCALL, copied
	libs, funcs int      // library and function counts
}

// begin marks a script as started; the caller holds the engine lock.
func (b *busyState) begin(cancel context.CancelFunc) {
	b.mu.Lock()
	b.cancel = cancel
	b.mu.Unlock()
	b.wrote.Store(false)
	b.killed.Store(false)
	b.start.Store(time.Now().UnixNano())
}

// end marks the script as done.
func (b *busyState) end() {
	b.start.Store(0)
	b.mu.Lock()
	b.cancel = nil
	b.fn = busyFunction{}
	if b.ended != nil {
		close(b.ended)
		b.ended = nil
	}
	b.mu.Unlock()
}

// wait returns, while a script runs, a channel closed when it ends and how
// long until it is busy (0 or less: it never will be); ok is false when no
// script runs.
func (b *busyState) wait() (ended <-chan struct{}, untilBusy time.Duration, ok bool) {
	start := b.start.Load()
	if start == 0 {
		return nil, 0, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cancel == nil {
		return nil, 0, false
	}
	if b.ended == nil {
		b.ended = make(chan struct{})
	}
	limit := time.Duration(b.threshold.Load()) * time.Millisecond
	if limit <= 0 {
		return b.ended, 0, true
	}
	return b.ended, max(limit-time.Since(time.Unix(0, start)), time.Nanosecond), true
}

// setFunction marks the script begun as a function (function.go).
func (b *busyState) setFunction(name string, args [][]byte, libs, funcs int) {
	b.mu.Lock()
	b.fn = busyFunction{name: name, args: cloneArgs(args), libs: libs, funcs: funcs}
	b.mu.Unlock()
}

// busy reports whether a script has run past the threshold.
func (b *busyState) busy() bool {
	start := b.start.Load()
	if start == 0 {
		return false
	}
	limit := time.Duration(b.threshold.Load()) * time.Millisecond
	return limit > 0 && time.Since(time.Unix(0, start)) >= limit
}

// kill stops the running script (SCRIPT KILL) or function (FUNCTION
// KILL, fn set), returning the error reply when it cannot.
func (b *busyState) kill(fn bool) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.cancel == nil:
		return errNotBusy
	case b.wrote.Load():
		return errUnkillable
	case !fn && b.fn.name != "":
		return errFnBusy
	case fn && b.fn.name == "":
		return errBusy
	}
	b.killed.Store(true)
	b.cancel()
	return ""
}

// ScriptBusy reports whether a script has held the engine for longer than
// busy-reply-threshold; the server then answers with BusyReply instead of
// waiting for the lock. It does not need the lock.
func (e *Engine) ScriptBusy() bool { return e.busy.busy() }

// AwaitScript waits, when a script runs, until it ends or becomes busy,
// and reports whether it is busy. The server calls it before taking the
// lock, so that a command that arrived while a script ran gets BUSY (or
// stops the script: SCRIPT KILL) at busy-reply-threshold, as in Redis,
// rather than waiting on the lock for as long as the script runs. It does
// not need the lock.
func (e *Engine) AwaitScript() bool {
	for {
		if e.busy.busy() {
			return true
		}
		ended, untilBusy, ok := e.busy.wait()
		if !ok {
			return false
		}
		if untilBusy <= 0 {
			<-ended
			continue
		}
		t := time.NewTimer(untilBusy)
		select {
		case <-ended:
		case <-t.C:
		}
		t.Stop()
	}
}

// BusyReply answers one command while a script is busy, without the
// engine lock: SCRIPT KILL stops the script, QUIT ends the connection (it
// reports true: close once the reply is written), anything else gets BUSY.
func (e *Engine) BusyReply(cl *Client, args [][]byte) (closeAfter bool) {
	e.stats.Commands.Add(1)
	switch {
	case strings.EqualFold(view(args[0]), "quit"):
		// Allowed while busy and before AUTH, as in Redis.
		cl.W.OK()
		return true
	case !cl.Authed:
		cl.W.Error(ErrNoAuth)
	case len(args) == 2 && strings.EqualFold(view(args[1]), "kill") &&
		(strings.EqualFold(view(args[0]), "script") || strings.EqualFold(view(args[0]), "function")):
		if msg := e.busy.kill(strings.EqualFold(view(args[0]), "function")); msg != "" {
			cl.W.Error(msg)
			return false
		}
		cl.W.OK()
	case len(args) == 2 && strings.EqualFold(view(args[0]), "function") && strings.EqualFold(view(args[1]), "stats"):
		b := &e.busy
		b.mu.Lock()
		fn, start := b.fn, b.start.Load()
		b.mu.Unlock()
		if fn.name == "" {
			cl.W.Error(errBusy)
			return false
		}
		writeFunctionStats(&cl.W, fn.name, fn.args, time.Since(time.Unix(0, start)).Milliseconds(), fn.libs, fn.funcs)
	default:
		e.busy.mu.Lock()
		fn := e.busy.fn.name != ""
		e.busy.mu.Unlock()
		msg := errBusy
		if fn {
			msg = errFnBusy
		}
		// As Redis's rejectCommand: a rejected command fails the
		// transaction it was meant for, and a rejected EXEC aborts it.
		// Only this connection's goroutine touches these fields.
		switch {
		case strings.EqualFold(view(args[0]), "exec"):
			if cl.multi != nil {
				cl.busyDiscard = true
			}
			cl.W.Error("EXECABORT Transaction discarded because of: " + msg)
		default:
			if cl.multi != nil && !cl.busyDiscard {
				cl.multiErr = true
			}
			cl.W.Error(msg)
		}
	}
	return false
}
