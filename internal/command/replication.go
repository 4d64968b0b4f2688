package command

import (
	"time"

	"github.com/ferrydb/ferry/internal/num"
)

// Replication commands served by the engine itself: WAIT. A master learns
// its replicas' applied offsets from their acknowledgements on the log's
// side channel (the master package feeds them in through SetFollowers and
// Poke).

func registerReplication(t *Table) {
	t.Add(&Command{Name: "wait", Arity: 3, Flags: NoScript, Group: "generic", Since: "3.0.0", Summary: "Blocks until the replicas acknowledged the writes sent before it.", ACL: []string{"slow", "connection"}, Handler: waitCmd})
}

// Follower is a replica as its master knows it, from its acknowledgements.
type Follower struct {
	// ID identifies the replica process.
	ID string
	// Addr is where the replica serves RESP.
	Addr string
	// Offset is the last offset the replica applied.
	Offset uint64
	// LastAck is when the replica last reported.
	LastAck time.Time
}

// SetFollowers installs the function that lists the replicas following
// this master and the log offset the master's writes have reached (for
// WAIT, INFO replication and ROLE). fn is called with the engine lock held
// and must not take it.
func (e *Engine) SetFollowers(fn func() (offset uint64, followers []Follower)) {
	e.mu.Lock()
	e.followers = fn
	e.mu.Unlock()
}

func (e *Engine) followerState() (uint64, []Follower) {
	if e.followers == nil {
		return 0, nil
	}
	return e.followers()
}

// ackedBy counts the followers that applied offset target.
func ackedBy(fs []Follower, target uint64) int64 {
	n := int64(0)
	for _, f := range fs {
		if f.Offset >= target {
			n++
		}
	}
	return n
}

func waitCmd(c *Ctx) {
	if c.e.cfg.Role != "master" {
		c.Error("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.")
		return
	}
	want, ok := num.ParseInt(c.Args[1])
	if !ok {
		c.Error(ErrNotInt)
		return
	}
	ms, ok := num.ParseInt(c.Args[2])
	if !ok {
		c.Error("ERR timeout is not an integer or out of range")
		return
	}
	if ms < 0 {
		c.Error(ErrTimeoutNegative)
		return
	}
	// ferry replicas and stock Redis replicas (SYNC/PSYNC) both count,
	// each by the log offset it acknowledged.
	target, fs := c.e.followerState()
	if n := ackedBy(fs, target) + c.e.syncAcked(target); n >= want || c.Client.multi != nil {
		c.W.Int(n)
		return
	}
	c.e.requestSyncAcks()
	count := func(c *Ctx) int64 {
		_, fs := c.e.followerState()
		return ackedBy(fs, target) + c.e.syncAcked(target)
	}
	c.Block(nil, time.Duration(ms)*time.Millisecond,
		func(c *Ctx) bool {
			n := count(c)
			if n < want {
				return false
			}
			c.W.Int(n)
			return true
		},
		func(c *Ctx) { c.W.Int(count(c)) })
}
