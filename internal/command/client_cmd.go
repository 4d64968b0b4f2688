package command

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferrydb/ferry/internal/acl"
	"github.com/ferrydb/ferry/internal/num"
)

// CLIENT ID, SETNAME, GETNAME, LIST, INFO, KILL, UNBLOCK, GETREDIR,
// TRACKINGINFO and HELP (networking.c); PAUSE, UNPAUSE and REPLY are in
// pause.go. Client lines have Redis 7.0's
// fields; those ferry does not track (fd, query buffer free space) show -1
// or 0. Ages are wall-clock seconds, like the connection times they measure.

func registerClientCmd(t *Table) {
	f := NoScript | Loading | Stale
	adm := Admin | NoScript | Loading | Stale
	acl := []string{"slow", "connection"}
	admACL := []string{"admin", "slow", "dangerous", "connection"}
	t.Add(
		&Command{Name: "client", Arity: -2, Group: "connection", Since: "2.4.0", Summary: "Container of the commands that inspect and manage client connections.", ACL: []string{"slow"}},
		&Command{Name: "client|id", Arity: 2, Flags: f, Group: "connection", Since: "5.0.0", Summary: "Replies with the connection's unique id.", ACL: acl, Handler: clientIDCmd},
		&Command{Name: "client|setname", Arity: 3, Flags: f, Group: "connection", Since: "2.6.9", Summary: "Names the connection (an empty name removes it).", ACL: acl, Handler: clientSetnameCmd},
		&Command{Name: "client|getname", Arity: 2, Flags: f, Group: "connection", Since: "2.6.9", Summary: "Replies with the connection's name, or nil when it has none.", ACL: acl, Handler: clientGetnameCmd},
		&Command{Name: "client|list", Arity: -2, Flags: adm, Group: "connection", Since: "2.4.0", Summary: "Describes every connection (or those of a type, or with given ids), one line each.", ACL: admACL, Handler: clientListCmd},
		&Command{Name: "client|info", Arity: 2, Flags: f, Group: "connection", Since: "6.2.0", Summary: "Describes this connection in one line.", ACL: acl, Handler: clientInfoCmd},
		&Command{Name: "client|kill", Arity: -3, Flags: adm, Group: "connection", Since: "2.4.0", Summary: "Closes the connections that match an address or a set of filters.", ACL: admACL, Handler: clientKillCmd},
		&Command{Name: "client|unblock", Arity: -3, Flags: adm, Group: "connection", Since: "5.0.0", Summary: "Ends another connection's blocking command, as a timeout or with an error.", ACL: admACL, Handler: clientUnblockCmd},
		&Command{Name: "client|getredir", Arity: 2, Flags: f, Group: "connection", Since: "6.0.0", Summary: "Replies with the id of the connection tracking notifications go to (0: this one; -1: tracking is off).", ACL: acl, Handler: clientGetredirCmd},
		&Command{Name: "client|trackinginfo", Arity: 2, Flags: f, Group: "connection", Since: "6.2.0", Summary: "Describes the connection's key tracking: flags, redirection, prefixes.", ACL: acl, Handler: clientTrackinginfoCmd},
		&Command{Name: "client|tracking", Arity: -3, Flags: f, Group: "connection", Since: "6.0.0", Summary: "Turns client-side caching support (invalidation messages) on or off for the connection.", ACL: acl, Handler: clientTrackingCmd},
		&Command{Name: "client|caching", Arity: 3, Flags: f, Group: "connection", Since: "6.0.0", Summary: "Says whether the next command's keys are tracked (OPTIN and OPTOUT modes).", ACL: acl, Handler: clientCachingCmd},
		&Command{Name: "client|help", Arity: 2, Flags: Loading | Stale, Group: "connection", Since: "5.0.0", Summary: "Lists the CLIENT subcommands.", ACL: acl, Handler: clientHelpCmd},
	)
}

// Client types, as CLIENT LIST TYPE and CLIENT KILL TYPE name them.
const (
	clientNormal = iota
	clientReplica
	clientPubSub
	clientMaster
)

func clientTypeByName(name string) (int, bool) {
	switch strings.ToLower(name) {
	case "normal":
		return clientNormal, true
	case "slave", "replica":
		return clientReplica, true
	case "pubsub":
		return clientPubSub, true
	case "master":
		return clientMaster, true
	}
	return 0, false
}

func (cl *Client) clientType() int {
	switch {
	case cl.Master:
		return clientMaster
	case cl.syncReplica():
		return clientReplica
	case cl.SubCount() > 0:
		return clientPubSub
	}
	return clientNormal
}

func clientIDCmd(c *Ctx) { c.W.Int(c.Client.ID) }

func clientSetnameCmd(c *Ctx) {
	name := c.Args[2]
	if !validClientName(name) {
		c.Error(ErrClientName)
		return
	}
	c.Client.Name = string(name)
	c.W.OK()
}

func clientGetnameCmd(c *Ctx) {
	if c.Client.Name == "" {
		c.W.Null()
		return
	}
	c.W.BulkString(c.Client.Name)
}

func clientInfoCmd(c *Ctx) {
	var b strings.Builder
	c.clientLine(&b, c.Client, time.Now())
	b.WriteByte('\n')
	c.W.Verbatim(b.String())
}

func clientListCmd(c *Ctx) {
	n := len(c.Args)
	now := time.Now()
	var b strings.Builder
	switch {
	case n == 4 && c.Is(2, "type"):
		typ, ok := clientTypeByName(c.Arg(3))
		if !ok {
			c.Error("ERR Unknown client type '" + c.Arg(3) + "'")
			return
		}
		for _, cl := range c.e.clientsByID() {
			if cl.clientType() == typ {
				c.clientLine(&b, cl, now)
				b.WriteByte('\n')
			}
		}
	case n > 3 && c.Is(2, "id"):
		for i := 3; i < n; i++ {
			id, ok := num.ParseInt(c.Args[i])
			if !ok {
				c.Error("ERR Invalid client ID")
				return
			}
			if cl := c.e.clients[id]; cl != nil {
				c.clientLine(&b, cl, now)
				b.WriteByte('\n')
			}
		}
	case n != 2:
		c.Error(ErrSyntax)
		return
	default:
		for _, cl := range c.e.clientsByID() {
			c.clientLine(&b, cl, now)
			b.WriteByte('\n')
		}
	}
	c.W.Verbatim(b.String())
}

// clientsByID returns the connected clients in the order they connected.
func (e *Engine) clientsByID() []*Client {
	out := make([]*Client, 0, len(e.clients))
	for _, cl := range e.clients {
		out = append(out, cl)
	}
	slices.SortFunc(out, func(a, b *Client) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// clientFlags returns the flags field of a client line.
func (cl *Client) clientFlags() string {
	var f []byte
	if cl.monitor {
		f = append(f, 'O')
	} else if cl.syncReplica() {
		f = append(f, 'S')
	}
	if cl.Master {
		f = append(f, 'M')
	}
	if cl.SubCount() > 0 {
		f = append(f, 'P')
	}
	if cl.multi != nil {
		f = append(f, 'x')
	}
	if cl.block != nil {
		f = append(f, 'b')
	}
	if cl.trk.on {
		f = append(f, 't')
	}
	if cl.trk.brokenRedir {
		f = append(f, 'R')
	}
	if cl.trk.bcast {
		f = append(f, 'B')
	}
	if cl.dirtyCAS {
		f = append(f, 'd')
	}
	if cl.closeAfterReply {
		f = append(f, 'c')
	}
	if cl.noEvict {
		f = append(f, 'e')
	}
	if len(f) == 0 {
		return "N"
	}
	return string(f)
}

// clientLine appends cl's CLIENT LIST line (without the newline). The
// command running now belongs to c.Client: its arguments count as the
// query buffer and argv memory, as in Redis.
func (c *Ctx) clientLine(b *strings.Builder, cl *Client, now time.Time) {
	var qbuf, argvMem int
	cmd := cl.LastCmd
	if cl == c.Client {
		qbuf = len(strconv.Itoa(len(c.Args))) + 3
		for _, a := range c.Args {
			qbuf += len(strconv.Itoa(len(a))) + 5 + len(a)
			argvMem += len(a)
		}
		cmd = c.Cmd.Name
	} else if cl.block != nil {
		// A blocked or paused client keeps its command's arguments.
		for _, a := range cl.block.args {
			argvMem += len(a)
		}
	}
	if cmd == "" {
		cmd = "NULL"
	}
	multi, multiMem := -1, 0
	if cl.multi != nil {
		multi = len(cl.multi)
		for _, q := range cl.multi {
			for _, a := range q.args {
				multiMem += len(a) + 8
			}
		}
	}
	// The output waiting for the socket (not the reply buffer of the
	// command running, which Redis does not count either).
	omem := cl.queued()
	// Another client's reply buffer is flushed by its connection outside
	// the engine lock: only the caller's own can be looked at.
	rbs, obl := 0, 0
	if cl == c.Client {
		rbs, obl = cap(cl.W.Buf), len(cl.W.Buf)
	}
	first := true
	field := func(name, v string) {
		if !first {
			b.WriteByte(' ')
		}
		first = false
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(v)
	}
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	field("id", itoa(cl.ID))
	field("addr", cl.Addr)
	field("laddr", cl.LAddr)
	field("fd", "-1")
	field("name", cl.Name)
	field("age", itoa(int64(now.Sub(cl.Created)/time.Second)))
	field("idle", itoa((now.UnixMilli()-cl.LastInteraction)/1000))
	field("flags", cl.clientFlags())
	field("db", itoa(int64(cl.DB)))
	field("sub", itoa(int64(len(cl.subs))))
	field("psub", itoa(int64(len(cl.psubs))))
	field("ssub", itoa(int64(len(cl.ssubs))))
	field("multi", itoa(int64(multi)))
	field("qbuf", itoa(int64(qbuf)))
	field("qbuf-free", "0")
	field("argv-mem", itoa(int64(argvMem)))
	field("multi-mem", itoa(int64(multiMem)))
	field("rbs", itoa(int64(rbs)))
	field("rbp", itoa(int64(obl)))
	field("obl", itoa(int64(obl)))
	field("oll", "0")
	field("omem", itoa(int64(omem)))
	field("tot-mem", itoa(int64(argvMem+multiMem+rbs+omem)))
	field("events", "r")
	field("cmd", cmd)
	field("user", cl.userName())
	redir := int64(-1)
	if cl.trk.on {
		redir = cl.trk.redirect
	}
	field("redir", strconv.FormatInt(redir, 10))
	field("resp", itoa(int64(cl.W.Proto)))
}

func clientKillCmd(c *Ctx) {
	n := len(c.Args)
	var addr, laddr string
	var hasAddr, hasLaddr bool
	typ, id := -1, int64(0)
	var user *acl.User
	skipMe := true
	if n == 3 {
		// Old form: CLIENT KILL addr, which may kill the caller.
		addr, hasAddr, skipMe = c.Arg(2), true, false
	} else {
		for i := 2; i < n; i += 2 {
			more := i+1 < n
			switch {
			case c.Is(i, "id") && more:
				v, ok := num.ParseInt(c.Args[i+1])
				if !ok || v < 1 {
					c.Error("ERR client-id should be greater than 0")
					return
				}
				id = v
			case c.Is(i, "type") && more:
				t, ok := clientTypeByName(c.Arg(i + 1))
				if !ok {
					c.Error("ERR Unknown client type '" + c.Arg(i+1) + "'")
					return
				}
				typ = t
			case c.Is(i, "addr") && more:
				addr, hasAddr = c.Arg(i+1), true
			case c.Is(i, "laddr") && more:
				laddr, hasLaddr = c.Arg(i+1), true
			case c.Is(i, "user") && more:
				user = c.e.acl.users.Get(string(c.Args[i+1]))
				if user == nil {
					c.Error("ERR No such user '" + cString(c.Arg(i+1)) + "'")
					return
				}
			case c.Is(i, "skipme") && more:
				switch {
				case c.Is(i+1, "yes"):
					skipMe = true
				case c.Is(i+1, "no"):
					skipMe = false
				default:
					c.Error(ErrSyntax)
					return
				}
			default:
				c.Error(ErrSyntax)
				return
			}
		}
	}
	killed := 0
	for _, cl := range c.e.clientsByID() {
		if (hasAddr && cl.Addr != addr) || (hasLaddr && cl.LAddr != laddr) ||
			(typ >= 0 && cl.clientType() != typ) || (id != 0 && cl.ID != id) || (user != nil && cl.user != user) ||
			(cl == c.Client && skipMe) {
			continue
		}
		killed++
		if cl == c.Client {
			cl.closeAfterReply = true
			continue
		}
		c.e.killClient(cl)
	}
	if n == 3 {
		if killed == 0 {
			c.Error("ERR No such client")
		} else {
			c.W.OK()
		}
		return
	}
	c.W.Int(int64(killed))
}

// killClient closes another client's connection and forgets it at once,
// so that it is gone from CLIENT LIST and INFO straight away.
func (e *Engine) killClient(cl *Client) {
	cl.killed = true
	cl.closeAfterReply = true
	if cl.Kill != nil {
		cl.Kill()
	}
	e.CloseClient(cl)
}

func clientUnblockCmd(c *Ctx) {
	n := len(c.Args)
	if n > 4 {
		c.Error("ERR unknown subcommand or wrong number of arguments for '" + trunc(c.Arg(1), 128) + "'. Try CLIENT HELP.")
		return
	}
	withError := false
	if n == 4 {
		switch {
		case c.Is(3, "timeout"):
		case c.Is(3, "error"):
			withError = true
		default:
			c.Error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
			return
		}
	}
	id, ok := c.Int(2)
	if !ok {
		return
	}
	target := c.e.clients[id]
	// A command a pause holds is not ended by CLIENT UNBLOCK (Redis 7.0
	// would run it again after the error, or crash on TIMEOUT).
	if target == nil || target.block == nil || target.isHeld() {
		c.W.Int(0)
		return
	}
	// Redis counts the command once, as failed whichever the reason
	// (updateStatsOnUnblock with had_errors set), and the error reply in
	// errorstats; like a timeout, it is not logged in the slow log.
	bs := target.block
	if withError {
		before := len(target.W.Buf)
		target.W.Error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
		c.e.unblocked(target, bs.cmd, bs.args, before, true)
		c.e.unblock(target)
	} else {
		c.e.TimeoutBlocked(target)
	}
	if bs.cmd != nil {
		bs.cmd.stats.failed++
	}
	c.W.Int(1)
}

func clientHelpCmd(c *Ctx) {
	helpReply(c, "CLIENT",
		"GETNAME",
		"    Reply with this connection's name.",
		"CACHING (YES|NO)",
		"    In OPTIN (OPTOUT) tracking mode, track (do not track) the keys of the next command.",
		"GETREDIR",
		"    Reply with the id tracking notifications go to (0: this connection; -1: tracking is off).",
		"ID",
		"    Reply with this connection's id.",
		"INFO",
		"    Describe this connection.",
		"KILL <ip:port>",
		"    Close the connection from <ip:port>.",
		"KILL <option> <value> [<option> <value> ...]",
		"    Close every connection that matches all the options:",
		"    * ID <client-id>",
		"    * ADDR <ip:port>     (the client's address)",
		"    * LADDR <ip:port>    (the address it connected to)",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"    * USER <username>",
		"    * SKIPME (YES|NO)    (spare this connection; yes unless told)",
		"LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <client-id> ...]",
		"    Describe every connection, or those of a type, or with the given ids.",
		"UNPAUSE",
		"    End a pause: the commands it held run, in the order they came.",
		"PAUSE <timeout> [WRITE|ALL]",
		"    Hold the commands of every connection (ALL, the default), or those that may",
		"    write (WRITE), for <timeout> milliseconds.",
		"REPLY (ON|OFF|SKIP)",
		"    Turn this connection's replies on or off, or off for the next command only.",
		"SETNAME <name>",
		"    Name this connection (an empty name removes it).",
		"TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]] [OPTIN] [OPTOUT] [NOLOOP]",
		"    Turn invalidation messages for the keys this connection reads on or off.",
		"TRACKINGINFO",
		"    Describe this connection's key tracking.",
		"UNBLOCK <client-id> [TIMEOUT|ERROR]",
		"    End a connection's blocking command, as a timeout or with an error.",
	)
}
