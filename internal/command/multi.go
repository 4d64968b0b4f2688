package command

// Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH. A transaction's
// effects are one unit, wrapped in MULTI/EXEC when it changed more than one
// thing.

func registerMulti(t *Table) {
	t.Add(
		&Command{Name: "multi", Arity: 1, Flags: NoScript | Loading | Stale | Fast | AllowBusy | MultiControl, Group: "transactions", Since: "1.2.0", Summary: "Starts a transaction.", ACL: []string{"fast", "transaction"}, Handler: multiCmd},
		&Command{Name: "exec", Arity: 1, Flags: NoScript | Loading | Stale | SkipSlowlog | MultiControl, Group: "transactions", Since: "1.2.0", Summary: "Executes all commands in a transaction.", ACL: []string{"slow", "transaction"}, Handler: execCmd},
		&Command{Name: "discard", Arity: 1, Flags: NoScript | Loading | Stale | Fast | AllowBusy | MultiControl, Group: "transactions", Since: "2.0.0", Summary: "Discards a transaction.", ACL: []string{"fast", "transaction"}, Handler: discardCmd},
		&Command{Name: "watch", Arity: -2, Flags: NoScript | Loading | Stale | Fast | AllowBusy | MultiControl, FirstKey: 1, LastKey: -1, Step: 1, Group: "transactions", Since: "2.2.0", Summary: "Monitors changes to keys to determine the execution of a transaction.", ACL: []string{"fast", "transaction"}, Handler: watchCmd},
		&Command{Name: "unwatch", Arity: 1, Flags: NoScript | Loading | Stale | Fast | AllowBusy, Group: "transactions", Since: "2.2.0", Summary: "Forgets about watched keys of a transaction.", ACL: []string{"fast", "transaction"}, Handler: unwatchCmd},
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
	if cl.multiErr {
		e.discardMulti(cl)
		c.Error(ErrExecAbort)
		return
	}
	if cl.dirtyCAS || e.watchedKeyExpired(cl) {
		e.discardMulti(cl)
		c.W.NullArray()
		return
	}
	cmds := cl.multi
	cl.multi = nil
	e.unwatchAll(cl)
	e.eff.multi = true
	e.execing = cl
	c.W.Array(len(cmds))
	for _, q := range cmds {
		if q.cmd.Flags&Write != 0 && e.cfg.Role != "master" && !cl.Master {
			c.Error(ErrReadOnly)
			continue
		}
		e.call(cl, q.cmd, q.args)
	}
	e.execing = nil
}

func (e *Engine) inExec(cl *Client) bool { return e.execing == cl }

func watchCmd(c *Ctx) {
	cl := c.Client
	if cl.multi != nil {
		c.Error(ErrWatchInMulti)
		return
	}
	for _, a := range c.Args[1:] {
		dk := dbKey{c.DB.Index(), string(a)}
		dup := false
		for _, w := range cl.watched {
			if w == dk {
				dup = true
				break
			}
		}
		if dup {
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

func unwatchCmd(c *Ctx) {
	c.e.unwatchAll(c.Client)
	c.W.OK()
}

func (e *Engine) unwatchAll(cl *Client) {
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
	cl.dirtyCAS = false
}

func (e *Engine) touchWatched(db int, key string) {
	for _, cl := range e.watching[dbKey{db, key}] {
		cl.dirtyCAS = true
	}
}

// watchedKeyExpired reports whether a key that was live when WATCHed has
// logically expired since (Redis 7.0 fails the EXEC then).
func (e *Engine) watchedKeyExpired(cl *Client) bool {
	for _, dk := range cl.watched {
		expiredBefore := false
		for _, x := range cl.watchedExpired {
			if x == dk {
				expiredBefore = true
				break
			}
		}
		if !expiredBefore && e.ks.DB(dk.db).IsExpiredKey(dk.key) {
			return true
		}
	}
	return false
}
