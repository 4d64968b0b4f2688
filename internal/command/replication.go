package command

import (
	"strings"
	"time"

	"github.com/ferrydb/ferry/internal/num"
)

// Replication commands served by the engine itself: WAIT, REPLICAOF (and
// SLAVEOF) and FAILOVER. A master learns its replicas' applied offsets
// from their acknowledgements on the log's side channel (the master
// package feeds them in through SetFollowers and Poke).
//
// A ferry node's role is fixed when its process starts (ferry master,
// ferry replica, ferry dev), and a new master takes a dataset over by
// starting on it, which fences the old one. REPLICAOF and FAILOVER check
// their arguments as Redis does and answer what holds already as Redis
// would (REPLICAOF NO ONE on a master: +OK; FAILOVER without replicas:
// Redis's error); a change of role is refused with an error that says how
// ferry does it.

func init() {
	for name, args := range map[string]string{
		"replicaof": "(host port:i|NO ONE)", "slaveof": "(host port:i|NO ONE)",
		"failover": "[TO host port:i [FORCE]] [ABORT] [TIMEOUT milliseconds:i]",
	} {
		argSyntax[name] = args
	}
	noAsyncLoading["replicaof"], noAsyncLoading["slaveof"] = true, true
	deprecations["slaveof"] = "5.0.0 `REPLICAOF`"
}

// Errors of the role changes ferry does not make at run time.
const (
	errPromote     = "ERR ferry: a replica is not promoted at run time: start `ferry master` on its dataset, which takes the log over and fences the old master"
	errDemote      = "ERR ferry: a master does not become a replica at run time: start `ferry replica` on the dataset to follow it"
	errFollowOther = "ERR ferry: a replica follows the dataset it was started with, from the log, not from a master's address: start `ferry replica` on the other dataset"
	errFailover    = "ERR ferry: FAILOVER is not supported: start `ferry master` on this dataset where the new master should run; it takes the log over and fences this one"
)

func registerReplication(t *Table) {
	t.Add(&Command{Name: "wait", Arity: 3, Flags: NoScript, Group: "generic", Since: "3.0.0", Summary: "Blocks until the replicas acknowledged the writes sent before it.", ACL: []string{"slow", "connection"}, Handler: waitCmd})
	role := Admin | NoScript | Stale
	t.Add(
		&Command{Name: "replicaof", Arity: 3, Flags: role, Group: "server", Since: "5.0.0", Handler: replicaofCmd,
			Summary: "Answers where this node replicates from; ferry's roles are set when a node starts, so a change is refused."},
		&Command{Name: "slaveof", Arity: 3, Flags: role, Group: "server", Since: "1.0.0", Handler: replicaofCmd,
			Summary: "The old name of REPLICAOF."},
		&Command{Name: "failover", Arity: -1, Flags: role, Group: "server", Since: "6.2.0", Handler: failoverCmd,
			Summary: "Checks a coordinated failover request; ferry moves a master by starting a new one on the dataset, so it is refused."},
	)
}

// replicaofCmd is REPLICAOF host port | NO ONE, checked in Redis's order:
// NO ONE first, then the port (0 to 65535).
func replicaofCmd(c *Ctx) {
	master := c.e.cfg.Role == "master"
	if c.Is(1, "no") && c.Is(2, "one") {
		if !master {
			c.Error(errPromote)
			return
		}
		c.W.OK() // a master already
		return
	}
	port, ok := num.ParseInt(c.Args[2])
	if !ok || port < 0 || port > 65535 {
		c.Error("ERR Invalid master port")
		return
	}
	if master {
		c.Error(errDemote)
		return
	}
	if r := c.e.replication(); r.MasterHost != "" && strings.EqualFold(r.MasterHost, c.Arg(1)) && int64(r.MasterPort) == port {
		c.W.Status("OK Already connected to specified master")
		return
	}
	c.Error(errFollowOther)
}

// failoverCmd is FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]:
// the arguments and the conditions Redis checks before it starts (no
// failover ever runs here; a replica; no connected replicas; FORCE
// without TO and TIMEOUT) answer as Redis does; a request that would start
// one is refused.
func failoverCmd(c *Ctx) {
	if len(c.Args) == 2 && c.Is(1, "abort") {
		c.Error("ERR No failover in progress.")
		return
	}
	var timeout int64
	var force, to bool
	for j := 1; j < len(c.Args); j++ {
		switch {
		case c.Is(j, "timeout") && j+1 < len(c.Args) && timeout == 0:
			n, ok := c.Int(j + 1)
			if !ok {
				return
			}
			if n <= 0 {
				c.Error("ERR FAILOVER timeout must be greater than 0")
				return
			}
			timeout = n
			j++
		case c.Is(j, "to") && j+2 < len(c.Args) && !to:
			if _, ok := c.Int(j + 2); !ok {
				return
			}
			to = true
			j += 2
		case c.Is(j, "force") && !force:
			force = true
		default:
			c.Error(ErrSyntax)
			return
		}
	}
	if c.e.cfg.Role != "master" {
		c.Error("ERR FAILOVER is not valid when server is a replica.")
		return
	}
	_, fs := c.e.followerState()
	if len(fs)+len(c.e.syncReplicas()) == 0 {
		c.Error("ERR FAILOVER requires connected replicas.")
		return
	}
	if force && (timeout == 0 || !to) {
		c.Error("ERR FAILOVER with force option requires both a timeout and target HOST and IP.")
		return
	}
	c.Error(errFailover)
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

// ForgetWritesAfter marks the clients whose last write went to an entry
// past last as having lost it: a master that rebuilt from its log up to
// last after a failure calls it, since the entries it had numbered after
// last were never stored and the offsets go to new entries. Their WAIT
// counts no replica until they write again. The caller holds the lock.
func (e *Engine) ForgetWritesAfter(last uint64) {
	for _, cl := range e.clients {
		if cl.woff > last {
			cl.wlost = true
		}
	}
}

// SetFollowers installs the function that lists the replicas following
// this master and the log offset the master's writes have reached (for
// WAIT, INFO replication and ROLE), and the one that asks them to
// acknowledge as soon as they have applied an offset (a WAIT that must
// wait; nil: none). Both are called with the engine lock held and must
// neither take it nor block.
func (e *Engine) SetFollowers(fn func() (offset uint64, followers []Follower), requestAcks func(offset uint64)) {
	e.mu.Lock()
	e.followers = fn
	e.requestAcks = requestAcks
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
	ms, ok := c.millis(2)
	if !ok {
		return
	}
	// ferry replicas and stock Redis replicas (SYNC/PSYNC) both count,
	// each by the log offset it acknowledged. As in Redis, a client waits
	// for its own last write (when the log tells writes' offsets), not for
	// other clients' later ones. A write the log lost (acknowledged with
	// --ack async before a log failure) is on no replica: such a WAIT
	// counts none.
	target, lost := c.Client.woff, c.Client.wlost
	if c.e.offLog == nil {
		target, _ = c.e.followerState()
	}
	count := func(c *Ctx) int64 {
		if lost {
			return 0
		}
		_, fs := c.e.followerState()
		return ackedBy(fs, target) + c.e.syncAcked(target)
	}
	if n := count(c); n >= want || c.Client.multi != nil {
		c.W.Int(n)
		return
	}
	if !lost {
		c.e.requestSyncAcks(target)
		if c.e.requestAcks != nil {
			c.e.requestAcks(target)
		}
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
