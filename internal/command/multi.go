package command

import (
	"strings"

	"github.com/ferrydb/ferry/internal/resp"
)

// Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH. A transaction's
// effects are one unit, wrapped in MULTI/EXEC when it changed more than one
// thing.

func registerMulti(t *Table) {
	t.Add(
		&Command{Name: "multi", Arity: 1, Flags: NoScript | Loading | Stale | Fast | AllowBusy | MultiControl, Group: "transactions", Since: "1.2.0", Summary: "Mark the start of a transaction block", ACL: []string{"fast", "transaction"}, Handler: multiCmd},
		&Command{Name: "exec", Arity: 1, Flags: NoScript | Loading | Stale | SkipSlowlog | MultiControl, Group: "transactions", Since: "1.2.0", Summary: "Execute all commands issued after MULTI", ACL: []string{"slow", "transaction"}, Handler: execCmd},
		&Command{Name: "discard", Arity: 1, Flags: NoScript | Loading | Stale | Fast | AllowBusy | MultiControl, Group: "transactions", Since: "2.0.0", Summary: "Discard all commands issued after MULTI", ACL: []string{"fast", "transaction"}, Handler: discardCmd},
		&Command{Name: "watch", Arity: -2, Flags: NoScript | Loading | Stale | Fast | AllowBusy | MultiControl, FirstKey: 1, LastKey: -1, Step: 1, Group: "transactions", Since: "2.2.0", Summary: "Watch the given keys to determine execution of the MULTI/EXEC block", ACL: []string{"fast", "transaction"}, Handler: watchCmd},
		&Command{Name: "unwatch", Arity: 1, Flags: NoScript | Loading | Stale | Fast | AllowBusy, Group: "transactions", Since: "2.2.0", Summary: "Forget about all watched keys", ACL: []string{"fast", "transaction"}, Handler: unwatchCmd},
	)
}

func multiCmd(c *Ctx) {
	cl := c.Client
	if cl.multi != nil {
		c.Error(ErrNestedMulti)
		return
	}
	cl.multi = make([]queued, 0, 4)
	cl.multiErr = false
	cl.multiBytes = 0
	c.W.OK()
}

func discardCmd(c *Ctx) {
	cl := c.Client
	if cl.multi == nil {
		c.Error(ErrDiscardNoMulti)
		return
	}
	c.e.discardMulti(cl)
	c.W.OK()
}

// queue adds a command to cl's transaction and replies QUEUED. As in
// Redis, a transaction that already failed (a command was rejected, or a
// watched key changed) keeps nothing more, as EXEC will not run it: CLIENT
// LIST's multi= stops counting. CLIENT LIST's cmd= shows the command
// queued, as Redis's.
func (e *Engine) queue(cl *Client, cmd *Command, args [][]byte) {
	cl.LastCmd = cmd.Name // Redis's lastcmd is the command queued
	if !cl.multiErr && !cl.dirtyCAS {
		cl.multi = append(cl.multi, queued{cmd: cmd, args: cloneArgs(args)})
	}
	e.replyWriter(cl).Status("QUEUED")
}

// discardMulti ends a transaction, if any, and forgets the watched keys.
func (e *Engine) discardMulti(cl *Client) {
	cl.multi = nil
	cl.multiErr = false
	e.unwatchAll(cl)
}

func execCmd(c *Ctx) {
	cl := c.Client
	e := c.e
	if cl.multi == nil {
		c.Error(ErrExecNoMulti)
		return
	}
	if e.cfg.Role != "master" && !cl.Master && queuesWrite(cl.multi) {
		// Redis refuses the EXEC itself, as it refuses a write command
		// (abortRejectedExec makes that an EXECABORT).
		e.reject(cl, ErrReadOnly)
		return
	}
	if e.watchedKeyExpired(cl) {
		cl.dirtyCAS = true
	}
	if cl.multiErr {
		e.discardMulti(cl)
		c.Error(ErrExecAbort)
		return
	}
	if cl.dirtyCAS {
		e.discardMulti(cl)
		c.W.NullArray()
		return
	}
	cmds := cl.multi
	e.unwatchAll(cl)
	e.eff.multi = true
	e.execing = cl
	c.W.Array(len(cmds))
	for _, q := range cmds {
		if !cl.aclFree {
			// Redis checks the ACL again: the rules may have changed
			// since the command was queued.
			if msg := e.execDenied(cl, q); msg != "" {
				e.execError(c.W, msg)
				continue
			}
		}
		e.call(cl, q.cmd, q.args)
	}
	e.execing = nil
	cl.multi = nil
	cl.multiErr = false
}

// execError writes an error reply of EXEC's array and counts it.
func (e *Engine) execError(w *resp.Writer, msg string) {
	before := len(w.Buf)
	w.Error(msg)
	e.stats.ErrorReplies++
	e.obs.countError(w.Buf[before+1:])
}

// abortRejectedExec turns the rejection of an EXEC by dispatch (NOAUTH,
// wrong arity, Pub/Sub context, READONLY...) into Redis's EXECABORT, which
// also ends the transaction, if any, and shows the EXEC to MONITOR (Redis's
// execCommandAbort: the MULTI was shown, the queued commands will not be).
// rejected and mark are the rejection count and the length of the
// client's replies before dispatch.
func (e *Engine) abortRejectedExec(cl *Client, exec *Command, args [][]byte, rejected int64, mark int) {
	if e.stats.Rejected.Load() == rejected || len(cl.W.Buf) < mark+3 || cl.W.Buf[mark] != '-' {
		return
	}
	// Errors formatted for the occasion carry no code of their own: the
	// writer gave them ERR. Shared ones (NOAUTH, READONLY...) keep theirs.
	e.obs.uncountError(cl.W.Buf[mark+1:])
	msg := strings.TrimPrefix(string(cl.W.Buf[mark+1:len(cl.W.Buf)-2]), "ERR ")
	cl.W.Buf = cl.W.Buf[:mark]
	e.discardMulti(cl)
	cl.W.Error("EXECABORT Transaction discarded because of: " + msg)
	e.obs.countError(cl.W.Buf[mark+1:])
	if len(e.monitors) > 0 {
		e.feedMonitors(cl, exec, args)
	}
}

func queuesWrite(cmds []queued) bool {
	for _, q := range cmds {
		if q.cmd.Flags&Write != 0 {
			return true
		}
	}
	return false
}

// inExec reports whether cl's EXEC is running, or cl runs a script's
// commands (blocking commands do not block then).
func (e *Engine) inExec(cl *Client) bool { return e.execing == cl || cl.lua }

// watchCmd is WATCH. A key that has already expired (but is still stored)
// when watched is flagged: its deletion does not fail the transaction, and
// neither does its expiry at EXEC time, as in Redis 7.0.
func watchCmd(c *Ctx) {
	cl := c.Client
	if cl.multi != nil {
		c.Error(ErrWatchInMulti)
		return
	}
	if cl.dirtyCAS {
		// The transaction has failed already: there is no point watching.
		c.W.OK()
		return
	}
	for _, a := range c.Args[1:] {
		dk := dbKey{c.DB.Index(), string(a)}
		if watches(cl.watched, dk) {
			continue
		}
		cl.watched = append(cl.watched, dk)
		if c.DB.IsExpiredKey(dk.key) {
			cl.watchedExpired = append(cl.watchedExpired, dk)
		}
		c.e.watching[dk] = append(c.e.watching[dk], cl)
	}
	c.W.OK()
}

func watches(keys []dbKey, dk dbKey) bool {
	for _, k := range keys {
		if k == dk {
			return true
		}
	}
	return false
}

func unwatchCmd(c *Ctx) {
	c.e.unwatchAll(c.Client)
	c.W.OK()
}

// unwatchAll forgets cl's watched keys and whether one was touched.
func (e *Engine) unwatchAll(cl *Client) {
	e.unwatchKeys(cl)
	cl.dirtyCAS = false
}

// unwatchKeys forgets cl's watched keys.
func (e *Engine) unwatchKeys(cl *Client) {
	for _, dk := range cl.watched {
		q := e.watching[dk]
		for i, w := range q {
			if w == cl {
				q = append(q[:i], q[i+1:]...)
				break
			}
		}
		if len(q) == 0 {
			delete(e.watching, dk)
		} else {
			e.watching[dk] = q
		}
	}
	cl.watched = nil
	cl.watchedExpired = nil
}

// touchWatched fails the transactions of the clients watching key in db.
// A client that watched the key when it had already expired is spared
// while the key stays expired (being deleted, flushed, or swapped for
// another expired key); once the key is gone, the next change counts.
func (e *Engine) touchWatched(db int, key string) {
	dk := dbKey{db, key}
	clients := e.watching[dk]
	if len(clients) == 0 {
		return
	}
	d := e.ks.DB(db)
	for _, cl := range append([]*Client(nil), clients...) {
		if i := indexOf(cl.watchedExpired, dk); i >= 0 {
			if !d.Stored(key) {
				cl.watchedExpired = append(cl.watchedExpired[:i], cl.watchedExpired[i+1:]...)
				continue
			}
			if d.IsExpiredKey(key) {
				continue
			}
		}
		cl.dirtyCAS = true
		// Nothing it watches matters any more.
		e.unwatchKeys(cl)
	}
}

func indexOf(keys []dbKey, dk dbKey) int {
	for i, k := range keys {
		if k == dk {
			return i
		}
	}
	return -1
}

// watchedKeyExpired reports whether a key that was live when WATCHed has
// logically expired since (Redis 7.0 fails the EXEC then).
func (e *Engine) watchedKeyExpired(cl *Client) bool {
	for _, dk := range cl.watched {
		if indexOf(cl.watchedExpired, dk) < 0 && e.ks.DB(dk.db).IsExpiredKey(dk.key) {
			return true
		}
	}
	return false
}
