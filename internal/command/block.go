package command

import (
	"time"

	"github.com/ferrydb/ferry/internal/keyspace"
)

// Blocking operations (BLPOP, BLMOVE, BZPOPMIN...), after Redis's
// blocked.c: a client waits on keys; when a key it waits on is created, the
// clients waiting on it are retried in FIFO order right after the command
// that created it, and each one served has its reply and effect produced
// then, as its own unit.

// blockState is a blocked client's wait.
type blockState struct {
	db    int
	keys  []string
	retry func(c *Ctx) bool
	// timeoutReply writes the reply sent when the wait times out.
	timeoutReply func(c *Ctx)
	deadline     time.Time // zero: wait forever
	done         chan struct{}
	args         [][]byte
	cmd          *Command
	ready        string // the key being served, while retry runs
}

// Blocked describes a client's wait, for the connection to wait on.
type Blocked struct {
	// Done is closed once the reply has been written to the client's W.
	Done <-chan struct{}
	// Deadline is when the wait times out; zero means never.
	Deadline time.Time
}

// blockPop blocks the client on keys, as the blocking pops of every type
// do, until one of them holds a value of kind: then pop serves the client
// from it. At the timeout the reply is a null array.
func (c *Ctx) blockPop(keys [][]byte, kind keyspace.Kind, timeout time.Duration, pop func(c *Ctx, key []byte, o *keyspace.Object)) {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = view(k)
	}
	c.Block(names, timeout, func(c *Ctx) bool {
		key := c.ReadyKey()
		o := c.DB.Get(key)
		if o == nil || o.Kind() != kind {
			return false
		}
		pop(c, []byte(key), o)
		return true
	}, func(c *Ctx) { c.W.NullArray() })
}

// Block makes the client wait on keys until retry serves it (writing its
// reply and effects and returning true) or the timeout passes (timeoutReply
// writes the reply). Inside MULTI a blocking command does not block: the
// timeout reply is written at once. timeout 0 waits forever.
func (c *Ctx) Block(keys []string, timeout time.Duration, retry func(c *Ctx) bool, timeoutReply func(c *Ctx)) {
	cl := c.Client
	if c.e.inExec(cl) {
		timeoutReply(c)
		return
	}
	bs := &blockState{
		db:           c.DB.Index(),
		retry:        retry,
		timeoutReply: timeoutReply,
		done:         make(chan struct{}),
		args:         cloneArgs(c.Args),
		cmd:          c.Cmd,
	}
	if timeout > 0 {
		bs.deadline = time.Now().Add(timeout)
	}
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		k = string([]byte(k))
		bs.keys = append(bs.keys, k)
		dk := dbKey{bs.db, k}
		c.e.blocked[dk] = append(c.e.blocked[dk], cl)
	}
	if len(bs.keys) == 0 {
		c.e.keyless = append(c.e.keyless, cl)
	}
	c.e.stats.TotalBlocking++
	cl.block = bs
}

// ReadyKey returns, while a blocked client's retry runs, the key whose
// creation is being served: like Redis, a client waiting on several keys is
// served from the key that became ready, not from the first of its keys
// that holds data. It returns "" outside a retry.
func (c *Ctx) ReadyKey() string {
	if bs := c.Client.block; bs != nil {
		return bs.ready
	}
	return ""
}

// Blocked returns the client's wait, or nil when it is not blocked.
func (cl *Client) Blocked() *Blocked {
	if cl.block == nil {
		return nil
	}
	return &Blocked{Done: cl.block.done, Deadline: cl.block.deadline}
}

// TimeoutBlocked ends cl's wait with its timeout reply unless it was served
// already. The caller holds the lock.
func (e *Engine) TimeoutBlocked(cl *Client) {
	bs := cl.block
	if bs == nil {
		return
	}
	e.ks.Tick()
	c := Ctx{e: e, Client: cl, Args: bs.args, W: e.replyWriter(cl), DB: e.ks.DB(bs.db), Cmd: bs.cmd}
	before := len(cl.W.Buf)
	bs.timeoutReply(&c)
	e.unblocked(cl, bs.cmd, bs.args, before, true)
	e.unblock(cl)
}

// unblock removes cl from every wait queue and signals its connection.
func (e *Engine) unblock(cl *Client) {
	bs := cl.block
	if bs == nil {
		return
	}
	for _, k := range bs.keys {
		dk := dbKey{bs.db, k}
		q := e.blocked[dk]
		for i, w := range q {
			if w == cl {
				q = append(q[:i], q[i+1:]...)
				break
			}
		}
		if len(q) == 0 {
			delete(e.blocked, dk)
		} else {
			e.blocked[dk] = q
		}
	}
	if len(bs.keys) == 0 {
		for i, w := range e.keyless {
			if w == cl {
				e.keyless = append(e.keyless[:i], e.keyless[i+1:]...)
				break
			}
		}
	}
	cl.block = nil
	delete(e.obs.blockedDur, cl)
	close(bs.done)
}

// Poke retries every client blocked on no key (WAIT), after the state they
// wait on changed outside the keyspace (a replica acknowledged an offset).
// It takes the lock.
func (e *Engine) Poke() {
	e.Lock()
	defer e.Unlock()
	if len(e.keyless) == 0 {
		return
	}
	e.ks.Tick()
	e.ticked = true
	for _, cl := range append([]*Client(nil), e.keyless...) {
		bs := cl.block
		if bs == nil {
			continue
		}
		e.eff.reset()
		c := Ctx{e: e, Client: cl, Args: bs.args, W: e.replyWriter(cl), DB: e.ks.DB(bs.db), Cmd: bs.cmd}
		before := len(cl.W.Buf)
		if bs.retry(&c) {
			e.commitUnit(cl)
			e.unblocked(cl, bs.cmd, bs.args, before, false)
			e.unblock(cl)
		}
	}
	e.eff.reset()
}

// serveReady retries the clients blocked on keys that were created, in
// FIFO order, until a key runs out or its waiters are all served. Serving a
// client may create keys (BLMOVE), which are handled in the same loop.
// Meanwhile the client served is the running one for tracking
// (trackingServing): the invalidations it causes itself follow its reply.
func (e *Engine) serveReady() {
	for len(e.ready) > 0 {
		dk := e.ready[0]
		e.ready = e.ready[1:]
		delete(e.readySet, dk)
		for _, cl := range append([]*Client(nil), e.blocked[dk]...) {
			bs := cl.block
			if bs == nil {
				continue
			}
			e.eff.reset()
			c := Ctx{e: e, Client: cl, Args: bs.args, W: e.replyWriter(cl), DB: e.ks.DB(bs.db), Cmd: bs.cmd}
			bs.ready = dk.key
			before := len(cl.W.Buf)
			e.trackingServing(cl, bs)
			if !bs.retry(&c) {
				e.trackingServed(cl)
				e.eff.reset()
				continue
			}
			e.commitUnit(cl)
			e.trackingServed(cl)
			e.unblocked(cl, bs.cmd, bs.args, before, false)
			e.unblock(cl)
		}
	}
	e.ready = e.ready[:0]
}
