package command

import (
	"strings"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/resp"
)

// CLIENT PAUSE, CLIENT UNPAUSE and CLIENT REPLY, after Redis 7.0's
// networking.c (pauseClients, updateClientPauseTypeAndEndTime) and
// processCommand's pause check.
//
// A paused command is held where processCommand would hold it: after every
// check that may reject it (arity, NOAUTH, READONLY, LOADING...), before it
// is queued in a transaction or runs. Its client waits, as a blocked
// client does (flag b, counted in blocked_clients), and runs nothing more
// until the pause ends; then the held commands run again from the start,
// in the order they were held, and may be held again. As in Redis, each
// client released also runs what it pipelined behind its held command
// before the next one is released: its connection has the turn
// (EndTurn), and a command from any other client waits behind those
// released. A caller that cannot wait (the HTTP API) gets errPaused.
//
// While clients are paused the dataset stays still: expired keys are
// hidden from readers, but neither the active cycle nor a lookup deletes
// them, so no DEL reaches the log.
//
// The replication link of a replica is never held: a ferry replica keeps
// applying its master's effects during a pause (a Redis 7.0 replica holds
// its master's stream too).

func init() {
	registrations = append(registrations, registerPause)
	argSyntax["client|pause"] = "timeout:i [WRITE|ALL]"
	argSyntax["client|unpause"] = ""
	argSyntax["client|reply"] = "(ON|OFF|SKIP)"
}

func registerPause(t *Table) {
	adm := Admin | NoScript | Loading | Stale
	admACL := []string{"admin", "slow", "dangerous", "connection"}
	t.Add(
		&Command{Name: "client|pause", Arity: -3, Flags: adm, Group: "connection", Since: "2.9.50", Summary: "Holds the commands of every client (or only those that may write) for some milliseconds.", ACL: admACL, Handler: clientPauseCmd},
		&Command{Name: "client|unpause", Arity: 2, Flags: adm, Group: "connection", Since: "6.2.0", Summary: "Ends a pause: the commands held run, in the order they came.", ACL: admACL, Handler: clientUnpauseCmd},
		&Command{Name: "client|reply", Arity: 3, Flags: NoScript | Loading | Stale, Group: "connection", Since: "3.2.0", Summary: "Turns the connection's replies off, on, or off for the next command only.", ACL: []string{"slow", "connection"}, Handler: clientReplyCmd},
	)
}

// pauseMode is what a pause holds; a larger mode holds more.
type pauseMode uint8

const (
	pauseOff pauseMode = iota
	pauseWrite
	pauseAll
)

// pauseState is the engine's client pause.
type pauseState struct {
	mode pauseMode
	end  int64 // unix ms: the pause is over once the clock is past it
	// held are the clients whose command waits for the pause to end, in
	// the order they came; release those whose command runs again next.
	held, release []*Client
	// turn is the client released last, whose connection runs what it
	// pipelined before the next client is released (EndTurn).
	turn     *Client
	resuming bool // resumeHeld is running
	hid      bool // the keyspace hides expired keys for the pause
}

func clientPauseCmd(c *Ctx) {
	mode := pauseAll
	if len(c.Args) > 4 {
		c.Error("ERR unknown subcommand or wrong number of arguments for '" + trunc(c.Arg(1), 128) + "'. Try CLIENT HELP.")
		return
	}
	if len(c.Args) == 4 {
		switch {
		case c.Is(3, "write"):
			mode = pauseWrite
		case c.Is(3, "all"):
		default:
			c.Error("ERR CLIENT PAUSE mode must be WRITE or ALL")
			return
		}
	}
	ms, ok := c.millis(2)
	if !ok {
		return
	}
	// As Redis: a zero timeout ends at 0 (already over), and one so large
	// that the end overflows ends in the past too.
	var end int64
	if ms > 0 {
		end = c.Now() + ms
	}
	c.e.pauseClients(mode, end)
	c.W.OK()
}

func clientUnpauseCmd(c *Ctx) {
	c.e.setPause(pauseOff, 0)
	c.W.OK()
}

// pauseClients starts a pause, or makes the one under way hold at least
// mode until at least end: a pause is only ever extended and widened.
func (e *Engine) pauseClients(mode pauseMode, end int64) {
	p := &e.pause
	if p.mode != pauseOff {
		mode = max(mode, p.mode)
		end = max(end, p.end)
	}
	e.setPause(mode, end)
	// A pause that ends before now is no pause (Redis frees it at once).
	e.pauseExpired()
}

// setPause sets the pause; one that holds less than before releases every
// held command to run again (it may be held again).
func (e *Engine) setPause(mode pauseMode, end int64) {
	p := &e.pause
	if mode < p.mode {
		p.release = append(p.release, p.held...)
		p.held = nil
	}
	p.mode, p.end = mode, end
	if mode == pauseOff {
		p.end = 0
		e.syncPauseExpiry()
	}
}

// pauseExpired ends a pause whose time is over, and reports whether
// clients are still paused.
func (e *Engine) pauseExpired() bool {
	p := &e.pause
	if p.mode != pauseOff && p.end < e.ks.Now() {
		e.setPause(pauseOff, 0)
	}
	return p.mode != pauseOff
}

// holds reports whether the pause holds cmd, as processCommand decides:
// everything under ALL; under WRITE, what may write or propagate (an
// EXEC: when a queued command may). While released clients take their
// turns, every other client's command waits behind them.
func (e *Engine) holds(cl *Client, cmd *Command, args [][]byte) bool {
	if p := &e.pause; !p.resuming && ((p.turn != nil && p.turn != cl) || (p.turn == nil && len(p.release) > 0)) {
		return true
	}
	switch e.pause.mode {
	case pauseAll:
		return true
	case pauseWrite:
		if cmd.Name == "exec" {
			for _, q := range cl.multi {
				if e.mayReplicateCall(q.cmd, q.args) {
					return true
				}
			}
			return false
		}
		return e.mayReplicateCall(cmd, args)
	}
	return false
}

// mayReplicate reports whether cmd is a write or may propagate an effect
// (Redis's write and may_replicate flags; EVAL, EVALSHA, FCALL and
// SPUBLISH have the latter in Redis though not in ferry's table).
func mayReplicate(cmd *Command) bool {
	if cmd.Flags&(Write|MayReplicate) != 0 {
		return true
	}
	switch cmd.Name {
	case "eval", "evalsha", "fcall", "spublish":
		return true
	}
	return false
}

// mayReplicateCall is mayReplicate for one call: a script or function that
// declares no-writes (EVAL's shebang, a cached EVALSHA's, an FCALL
// function's flags) neither writes nor replicates, as Redis reads a
// script's flags before it runs it. A script without a shebang, one not
// cached, or an unknown function may write.
func (e *Engine) mayReplicateCall(cmd *Command, args [][]byte) bool {
	if len(args) < 2 || e.lua == nil && cmd.Name != "eval" {
		return mayReplicate(cmd)
	}
	switch cmd.Name {
	case "eval", "evalsha":
		var f scriptFlags
		if cmd.Name == "eval" {
			var msg string
			if f, _, msg = parseShebang(string(args[1])); msg != "" {
				return true // refused when it runs, held until then as in Redis
			}
		} else if sc := e.lua.scripts[strings.ToLower(string(args[1]))]; sc != nil {
			f = sc.flags
		}
		return !f.shebang || !f.noWrites
	case "fcall":
		if fn := e.lua.fns.lookup(string(args[1])); fn != nil {
			return fn.flags&fnNoWrites == 0
		}
	}
	return mayReplicate(cmd)
}

// hold makes cl wait with its command until the pause ends.
func (e *Engine) hold(cl *Client, cmd *Command, args [][]byte) {
	bs := &blockState{
		db:   cl.DB,
		done: make(chan struct{}),
		args: cloneArgs(args),
		cmd:  cmd,
		// Never timed out by a connection (no deadline); a caller that
		// cannot wait (the HTTP API) ends the wait with this.
		timeoutReply: func(c *Ctx) { c.Error(errPaused) },
	}
	cl.block, cl.held = bs, bs
	cl.LastCmd = cmd.Name
	if e.pause.mode == pauseOff {
		// Behind the clients released.
		e.pause.release = append(e.pause.release, cl)
	} else {
		e.pause.held = append(e.pause.held, cl)
	}
	// Counted when it runs.
	e.stats.Commands.Add(-1)
}

// errPaused answers a held command whose caller cannot wait for the end
// of the pause.
const errPaused = "ERR ferry: clients are paused (CLIENT PAUSE); the command was not run"

// isHeld reports whether cl waits for the end of a pause.
func (cl *Client) isHeld() bool { return cl.held != nil && cl.block == cl.held }

// resumeHeld runs the released commands again, each as its own command, in
// the order they were held; a client gone meanwhile is skipped. Each
// client's connection is woken once its command ran (its reply is in its
// writer; it may be held again, or block); one that did not wait again
// takes the turn, and the next client is released at the end of its turn.
// The caller holds the lock, between commands.
func (e *Engine) resumeHeld() {
	p := &e.pause
	if p.resuming || p.turn != nil || len(p.release) == 0 {
		return
	}
	p.resuming = true
	defer func() { p.resuming = false }()
	for len(p.release) > 0 {
		cl := p.release[0]
		p.release[0] = nil
		p.release = p.release[1:]
		bs := cl.held
		if bs == nil || cl.block != bs {
			continue
		}
		cl.block, cl.held = nil, nil
		e.Exec(cl, bs.args)
		close(bs.done)
		if cl.block == nil && !cl.closeAfterReply && e.clients[cl.ID] == cl {
			p.turn = cl
			return
		}
	}
	p.release = nil
}

// EndTurn ends cl's turn, once its connection ran what cl had pipelined
// behind a command a pause held, and releases the next client. The
// connection calls it after each batch of commands; the caller holds the
// lock.
func (e *Engine) EndTurn(cl *Client) {
	if e.pause.turn == cl {
		e.pause.turn = nil
		e.ticked = false
		e.resumeHeld()
	}
}

// syncPauseExpiry makes the keyspace of a master hide expired keys, rather
// than delete them, while clients are paused, and delete them again
// afterwards. A replica's keyspace hides them anyway.
func (e *Engine) syncPauseExpiry() {
	p := &e.pause
	paused := p.mode != pauseOff
	switch {
	case paused && !p.hid && e.ks.Mode == keyspace.ExpireDelete:
		e.ks.Mode = keyspace.ExpireHide
		p.hid = true
	case !paused && p.hid:
		if e.ks.Mode == keyspace.ExpireHide {
			e.ks.Mode = keyspace.ExpireDelete
		}
		p.hid = false
	}
}

// CLIENT REPLY. A client's replies are off (OFF), or off for the command
// running (SKIP, which took effect after the command that asked for it);
// messages it receives (Pub/Sub, subscription confirmations, tracking
// invalidations) still reach it, as in Redis.

func clientReplyCmd(c *Ctx) {
	cl := c.Client
	switch {
	case c.Is(2, "on"):
		cl.replyOff, cl.replySkip = false, false
		// Its own reply goes out although the command started muted.
		cl.W.OK()
	case c.Is(2, "off"):
		cl.replyOff = true
	case c.Is(2, "skip"):
		if !cl.replyOff {
			cl.replySkipNext = true
		}
	default:
		c.Error(ErrSyntax)
	}
}

// muted reports whether replies to cl are dropped now.
func (cl *Client) muted() bool { return cl.replyOff || cl.replySkip }

// replyWriter returns where a reply to cl goes: its writer, or, while its
// replies are off, a writer whose bytes are dropped.
func (e *Engine) replyWriter(cl *Client) *resp.Writer {
	if !cl.muted() {
		return &cl.W
	}
	e.mute.Proto = cl.W.Proto
	if cap(e.mute.Buf) > 64<<10 {
		e.mute.Buf = nil
	}
	return &e.mute
}

// replyDone ends a command for CLIENT REPLY SKIP: the command after CLIENT
// REPLY SKIP is muted, and the one after it is not. A command that blocks
// or is held ends when it is served.
func (cl *Client) replyDone() {
	if cl.block != nil {
		cl.replyOwed = true
		return
	}
	cl.replyOwed = false
	cl.replySkip, cl.replySkipNext = cl.replySkipNext, false
}

// EndWait ends, for CLIENT REPLY SKIP, the command a client waited on
// once it is served or timed out; the connection calls it when its wait
// is over. The caller holds the lock.
func (e *Engine) EndWait(cl *Client) {
	if cl.replyOwed && cl.block == nil {
		cl.replyDone()
	}
}

// MutedReply drops what was written to cl.W from mark on when cl's replies
// are off (a reply written outside the engine: a protocol error, a BUSY
// answer), and ends the command for CLIENT REPLY SKIP. Only cl's
// connection calls it.
func (cl *Client) MutedReply(mark int) {
	if cl.muted() && len(cl.W.Buf) > mark {
		cl.W.Buf = cl.W.Buf[:mark]
	}
	cl.replyDone()
}
