package command

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrydb/ferry/internal/resp"
)

// A script holds the engine lock while it runs. Past busy-reply-threshold
// (Redis's lua-time-limit), connections stop waiting for the lock: their
// commands get BUSY, and SCRIPT KILL stops the script if it has not
// written, as in Redis.

// DefaultBusyReplyThreshold is Redis's busy-reply-threshold: how long a
// script runs before other clients get BUSY.
const DefaultBusyReplyThreshold = 5 * time.Second

// Busy-script errors, as Redis 7.0 words them (UNKILLABLE says what to do
// instead of SHUTDOWN NOSAVE, which ferry refuses for a script that
// wrote).
const (
	errBusy       = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
	errUnkillable = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or stop the server: nothing the script wrote is in the log yet."
	errKilled     = "ERR Script killed by user with SCRIPT KILL..."
	// errShutdownWrote refuses SHUTDOWN NOSAVE while a script that wrote
	// runs (ferry's own error).
	errShutdownWrote = "ERR ferry: SHUTDOWN NOSAVE cannot stop a script that already wrote to the dataset (its writes would reach the log without the rest of it). You can either wait the script termination or stop the process: nothing the script wrote is in the log yet."
)

// busyState is the running script as other connections see it, without
// the engine lock.
type busyState struct {
	start     atomic.Int64 // unix ns the running script started; 0: none
	threshold atomic.Int64 // busy-reply-threshold in ms; 0 or less: never busy
	wrote     atomic.Bool  // the running script called a write command
	killed    atomic.Bool  // SCRIPT KILL stopped it

	// gate is held by each command a running script calls and by a
	// command answered while the script is busy (BusyReply): those run
	// between the script's calls, as in Redis, where a busy script's Lua
	// hook serves the other clients.
	gate sync.Mutex

	mu     sync.Mutex
	began  chan struct{}      // closed when a script begins; made for a waiter (LockOrBusy)
	cancel context.CancelFunc // stops the running script
	fn     busyFunction       // the running function (FCALL); name "" for a script
	wasFn  bool               // the last script begun was a function (BUSY's wording)
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
	b.wrote.Store(false)
	b.killed.Store(false)
	b.start.Store(time.Now().UnixNano())
	b.mu.Lock()
	b.cancel = cancel
	b.wasFn = false
	if b.began != nil {
		close(b.began)
		b.began = nil
	}
	b.mu.Unlock()
}

// beginning returns a channel closed when the next script begins.
func (b *busyState) beginning() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.began == nil {
		b.began = make(chan struct{})
	}
	return b.began
}

// end marks the script as done, once a busy command under way (BusyReply)
// is over.
func (b *busyState) end() {
	b.gate.Lock()
	b.start.Store(0)
	b.gate.Unlock()
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
	b.wasFn = true
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

// stopForShutdown stops the running script for SHUTDOWN NOSAVE, whatever
// it is (EVAL or FCALL), returning the error reply when it cannot: a
// script that wrote cannot be stopped, as its writes would reach the log
// without the rest of it (Redis exits with the script half run, and its
// writes are lost with the process).
func (b *busyState) stopForShutdown() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.cancel == nil:
		return ""
	case b.wrote.Load():
		return errShutdownWrote
	}
	b.killed.Store(true)
	b.cancel()
	return ""
}

// ScriptBusy reports whether a script has held the engine for longer than
// busy-reply-threshold; the server then answers with BusyReply instead of
// waiting for the lock. It does not need the lock.
func (e *Engine) ScriptBusy() bool { return e.busy.busy() }

// LockOrBusy takes the engine lock, as Lock does, unless a script holds
// it past busy-reply-threshold: then it reports false without the lock,
// and the server answers with BusyReply, as Redis answers every client
// once a script is busy, also to a connection that was already waiting for
// the lock when the script began (behind the script's own connection's
// earlier requests, say): such a connection used to wait for the whole
// script.
func (e *Engine) LockOrBusy() bool {
	if e.mu.TryLock() {
		e.acquired()
		return true
	}
	if e.busy.busy() {
		return false
	}
	// Contended: wait for the lock on another goroutine, so that this one
	// can stop waiting when a script becomes busy. The waiter hands the
	// lock over, or gives it back at once if this one stopped waiting.
	const waiting, handed, abandoned = 0, 1, 2
	var state atomic.Int32
	got := make(chan struct{})
	go func() {
		e.mu.Lock()
		if !state.CompareAndSwap(waiting, handed) {
			e.mu.Unlock()
			return
		}
		close(got)
	}()
	for {
		if e.busy.busy() && state.CompareAndSwap(waiting, abandoned) {
			return false
		}
		if state.Load() == handed {
			break
		}
		// Until the lock comes, a script begins, or the running one
		// becomes busy.
		began := e.busy.beginning()
		var t *time.Timer
		var busyAt <-chan time.Time
		if _, untilBusy, ok := e.busy.wait(); ok && untilBusy > 0 {
			t = time.NewTimer(untilBusy)
			busyAt = t.C
		}
		select {
		case <-got:
		case <-began:
		case <-busyAt:
		}
		if t != nil {
			t.Stop()
		}
	}
	<-got
	e.acquired()
	return true
}

// BusyReply answers one command while a script is busy, without the
// engine lock, as Redis's processCommand does then: the checks that come
// first in Redis (unknown command, arity, NOAUTH, a command MULTI does
// not take, the Pub/Sub context, READONLY, MASTERDOWN, LOADING) answer as
// usual; a command not flagged allow-busy gets BUSY (EXECABORT for EXEC,
// which ends the transaction); inside MULTI an allowed command is queued
// unless it controls the transaction; the rest run now: MULTI, DISCARD,
// WATCH, UNWATCH, AUTH, HELLO, RESET, QUIT, REPLCONF, SCRIPT KILL,
// FUNCTION KILL and FUNCTION STATS, and SHUTDOWN (refused with BUSY
// unless NOSAVE; see busyShutdown). It reports whether the connection
// must close once the reply is written.
//
// It runs between the script's redis.call calls: the busy gate, which
// each call holds, keeps it from running at the same time as a command of
// the script, and the script's end waits for it, so that whoever takes
// the lock next sees what it changed.
//
// run reports that the script ended before the command could be answered
// as busy and that it is one the script's end lets through: nothing is
// written, and the caller runs it as usual, under the engine lock (Exec),
// where a client pause may hold it and a transaction queue it.
func (e *Engine) BusyReply(cl *Client, args [][]byte) (closeAfter, run bool) {
	closeAfter = e.busyAnswer(cl, func(late bool) bool {
		e.stats.Commands.Add(1) // late, Exec counts it if the caller runs it
		if !late {
			cl.LastInteraction = e.ks.Now()
		}
		var quit bool
		quit, run = e.busyDispatch(cl, args, late)
		return quit
	})
	return closeAfter, run
}

// BusyError answers a request that does not parse, read while a script is
// busy, with msg (the connection then closes).
func (e *Engine) BusyError(cl *Client, msg string) {
	e.busyAnswer(cl, func(bool) bool {
		e.ProtocolError(cl, msg)
		return true
	})
}

// busyAnswer runs answer, which writes a reply to cl.W, under the busy
// gate while the script is busy, or under the engine lock when it has
// ended since LockOrBusy (late: a request read with the others that
// came while it was busy is answered as if it still were, as
// redis-server answers the requests it reads together in one go; a
// command allowed while busy then runs as usual). A client whose output a
// writer owns (a subscriber's) gets the reply handed over under the same
// lock: Pub/Sub messages delivered meanwhile (the script's PUBLISH, or
// another client's once the script ended) are appended to cl.W behind it.
func (e *Engine) busyAnswer(cl *Client, answer func(late bool) bool) (closeAfter bool) {
	// For a client with a writer, W is empty here (deliver appends to it
	// only while it holds a reply): mark does not move until the reply.
	mark := len(cl.W.Buf)
	b := &e.busy
	var late bool
	for {
		b.gate.Lock()
		if b.start.Load() != 0 {
			break // still busy: answered under the gate
		}
		// The script ended after LockOrBusy: the lock is to be had, unless
		// another script took it first and is busy by now (then answer as
		// busy again, rather than wait for the whole of that one).
		b.gate.Unlock()
		if late = e.LockOrBusy(); late {
			break
		}
	}
	if late {
		defer e.Unlock()
	} else {
		defer b.gate.Unlock()
	}
	e.RegisterClient(cl)
	closeAfter = answer(late)
	if cl.asyncOut.Load() {
		// The reply goes after the messages queued before it, unless
		// replies are off.
		if !cl.muted() && len(cl.W.Buf) > mark {
			cl.Push(cl.W.Buf[mark:])
		}
		cl.W.Buf = cl.W.Buf[:mark]
	}
	return closeAfter
}

// busyDispatch is BusyReply's processCommand; late: the script has ended
// and the caller holds the engine lock (an allowed command is left to
// BusyReply's caller: run). Otherwise the caller holds the busy gate. It
// reports whether the connection must close.
func (e *Engine) busyDispatch(cl *Client, args [][]byte, late bool) (closeAfter, run bool) {
	cmd := e.tab.Lookup(args[0])
	if cmd != nil && cmd.Sub != nil && len(args) >= 2 {
		sub := cmd.Sub[strings.ToLower(string(args[1]))]
		if sub == nil {
			cl.LastCmd = "" // Redis's lastcmd: the lookup found nothing
			e.busyReject(cl, nil, args, "ERR unknown subcommand '"+trunc(string(args[1]), 128)+"'. Try "+strings.ToUpper(cmd.Name)+" HELP.")
			return false, false
		}
		cmd = sub
	}
	cl.LastCmd = ""
	if cmd != nil {
		cl.LastCmd = cmd.Name
	}
	var msg string
	switch {
	case cmd == nil:
		msg = unknownCommand(args)
	case (cmd.Arity > 0 && cmd.Arity != len(args)) || len(args) < -cmd.Arity:
		msg = "ERR wrong number of arguments for '" + cmd.Name + "' command"
	case !cl.Authed && cmd.Flags&NoAuth == 0 && e.acl.users.AuthRequired():
		msg = ErrNoAuth
	case cl.multi != nil && cmd.Flags&NoMulti != 0:
		msg = ErrNotAllowedMulti
	case e.aclRefused(cl, cmd, args, &msg):
		// ACL (acl.go): users change only under the engine lock, which the
		// running script holds; the busy gate orders the ACL log.
	case cl.W.Proto == 2 && cl.SubCount() > 0 && cmd.Flags&SubContext == 0:
		msg = "ERR Can't execute '" + cmd.Name + "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
	case cmd.Flags&Write != 0 && e.cfg.Role != "master":
		msg = ErrReadOnly
	case cmd.Flags&Write != 0 && e.writeErr != "":
		msg = e.writeErr
	case e.masterDn && cmd.Flags&Stale == 0:
		msg = ErrMasterDown
	case e.loading && cmd.Flags&Loading == 0:
		msg = ErrLoading
	case cmd.Flags&AllowBusy == 0:
		msg = e.busy.reply()
	}
	if msg != "" {
		e.busyReject(cl, cmd, args, msg)
		return false, false
	}
	if late {
		e.stats.Commands.Add(-1)
		return false, true
	}
	return e.busyRun(cl, cmd, args), false
}

// busyRun runs an allowed command while the script is busy, under the
// busy gate, and reports whether the connection must close.
func (e *Engine) busyRun(cl *Client, cmd *Command, args [][]byte) (closeAfter bool) {
	if cl.multi != nil && cmd.Flags&MultiControl == 0 {
		// Queued as usual: SCRIPT KILL inside MULTI runs at EXEC.
		e.queue(cl, cmd, args)
		return false
	}
	w := e.replyWriter(cl)
	switch cmd.Name {
	case "script|kill", "function|kill", "function|stats":
		// Answered here, not by e.call: shown to MONITOR here too.
		if len(e.monitors) > 0 && cmd.Flags&SkipMonitor == 0 {
			defer e.feedMonitors(cl, cmd, args)
		}
	}
	switch cmd.Name {
	case "script|kill", "function|kill":
		if msg := e.busy.kill(cmd.Name == "function|kill"); msg != "" {
			e.busyError(cmd, w, msg)
			return false
		}
		cmd.stats.calls++
		w.OK()
		return false
	case "function|stats":
		b := &e.busy
		b.mu.Lock()
		fn, start := b.fn, b.start.Load()
		b.mu.Unlock()
		if fn.name == "" {
			e.busyError(cmd, w, errBusy)
			return false
		}
		cmd.stats.calls++
		writeFunctionStats(w, fn.name, fn.args, time.Since(time.Unix(0, start)).Milliseconds(), fn.libs, fn.funcs)
		return false
	case "shutdown":
		msg := e.busyShutdown(args)
		if msg == "" && e.Shutdown != nil {
			msg = e.busy.stopForShutdown()
		}
		if msg != "" {
			e.busyError(cmd, w, msg)
			return false
		}
	}
	// The script's caller is the engine's current client; the command
	// runs as a nested call would.
	cur := e.cur
	e.cur = cl
	e.call(cl, cmd, args)
	e.cur = cur
	if cmd.Name == "shutdown" && cl.closeAfterReply && cur != nil && cur.Kill != nil {
		// The script's caller gets no reply, as from a redis-server
		// that exits.
		cur.Kill()
	}
	return cl.closeAfterReply
}

// busyShutdown is SHUTDOWN's error while a script is busy, as Redis
// words it, or "" for SHUTDOWN NOSAVE, which stops the script
// (stopForShutdown) and then runs.
func (e *Engine) busyShutdown(args [][]byte) string {
	var nosave, save, abort, flags bool
	for _, a := range args[1:] {
		switch {
		case strings.EqualFold(view(a), "nosave"):
			nosave, flags = true, true
		case strings.EqualFold(view(a), "save"):
			save, flags = true, true
		case strings.EqualFold(view(a), "now"), strings.EqualFold(view(a), "force"):
			flags = true
		case strings.EqualFold(view(a), "abort"):
			abort = true
		default:
			return ErrSyntax
		}
	}
	switch {
	case (abort && flags) || (nosave && save):
		return ErrSyntax
	case abort:
		return "ERR No shutdown in progress."
	case !nosave:
		return e.busy.reply()
	}
	return ""
}

// busyError writes the error reply of a command allowed while busy
// that ran (INFO commandstats and errorstats count it).
func (e *Engine) busyError(cmd *Command, w *resp.Writer, msg string) {
	before := len(w.Buf)
	w.Error(msg)
	cmd.stats.calls++
	cmd.stats.failed++
	e.stats.ErrorReplies++
	if len(w.Buf) > before {
		e.obs.countError(w.Buf[before+1:])
	}
}

// busyReject refuses a command while a script is busy, as Redis's
// rejectCommand: the transaction the command was meant for fails, and a
// refused EXEC gets EXECABORT, ends it and is shown to MONITOR (Redis's
// execCommandAbort).
func (e *Engine) busyReject(cl *Client, cmd *Command, args [][]byte, msg string) {
	e.stats.Rejected.Add(1)
	e.stats.ErrorReplies++
	if cmd != nil {
		cmd.stats.rejected++
	}
	if cmd != nil && cmd.Name == "exec" {
		e.discardMulti(cl)
		msg = "EXECABORT Transaction discarded because of: " + strings.TrimPrefix(msg, "ERR ")
	} else if cl.multi != nil {
		cl.multiErr = true
	}
	before := len(cl.W.Buf)
	cl.W.Error(msg)
	if len(cl.W.Buf) > before {
		e.obs.countError(cl.W.Buf[before+1:])
	}
	if cmd != nil && cmd.Name == "exec" && len(e.monitors) > 0 {
		e.feedMonitors(cl, cmd, args)
	}
}

// reply is the BUSY error for the running script: EVAL's or a
// function's wording.
func (b *busyState) reply() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.wasFn {
		return errFnBusy
	}
	return errBusy
}
