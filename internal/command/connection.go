package command

import (
	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/num"
)

// Connection commands: PING ECHO QUIT HELLO AUTH SELECT RESET.

func registerConnection(t *Table) {
	t.Add(
		&Command{Name: "ping", Arity: -1, Flags: Fast | SubContext, Group: "connection", Since: "1.0.0", Summary: "Ping the server", ACL: []string{"fast", "connection"}, Handler: pingCmd},
		&Command{Name: "echo", Arity: 2, Flags: Loading | Stale | Fast, Group: "connection", Since: "1.0.0", Summary: "Echo the given string", ACL: []string{"fast", "connection"}, Handler: echoCmd},
		&Command{Name: "quit", Arity: -1, Flags: AllowBusy | NoScript | Loading | Stale | Fast | NoAuth | MultiControl | SubContext, Group: "connection", Since: "1.0.0", Summary: "Close the connection", ACL: []string{"fast", "connection"}, Handler: quitCmd},
		&Command{Name: "hello", Arity: -1, Flags: NoScript | Loading | Stale | Fast | NoAuth | AllowBusy, Group: "connection", Since: "6.0.0", Summary: "Handshake with Redis", ACL: []string{"fast", "connection"}, Handler: helloCmd},
		&Command{Name: "auth", Arity: -2, Flags: NoScript | Loading | Stale | Fast | NoAuth | AllowBusy, Group: "connection", Since: "1.0.0", Summary: "Authenticate to the server", ACL: []string{"fast", "connection"}, Handler: authCmd},
		&Command{Name: "select", Arity: 2, Flags: Loading | Stale | Fast, Group: "connection", Since: "1.0.0", Summary: "Change the selected database for the current connection", ACL: []string{"fast", "connection"}, Handler: selectCmd},
		&Command{Name: "reset", Arity: 1, Flags: NoScript | Loading | Stale | Fast | NoAuth | AllowBusy | MultiControl | SubContext, Group: "connection", Since: "6.2.0", Summary: "Reset the connection", ACL: []string{"fast", "connection"}, Handler: resetCmd},
	)
}

func pingCmd(c *Ctx) {
	if len(c.Args) > 2 {
		c.Error("ERR wrong number of arguments for 'ping' command")
		return
	}
	if c.W.Proto == 2 && c.Client.SubCount() > 0 {
		c.W.Array(2)
		c.W.BulkString("pong")
		if len(c.Args) == 2 {
			c.W.Bulk(c.Args[1])
		} else {
			c.W.BulkString("")
		}
		return
	}
	if len(c.Args) == 2 {
		c.W.Bulk(c.Args[1])
		return
	}
	c.W.Status("PONG")
}

func echoCmd(c *Ctx) { c.W.Bulk(c.Args[1]) }

func quitCmd(c *Ctx) {
	c.W.OK()
	c.Client.closeAfterReply = true
}

func selectCmd(c *Ctx) {
	id, ok := num.ParseInt(c.Args[1])
	if !ok {
		c.Error(ErrNotInt)
		return
	}
	if id < -1<<31 || id > 1<<31-1 {
		// getIntFromObjectOrReply's own wording.
		c.Error("ERR value is out of range, value must between -2147483648 and 2147483647")
		return
	}
	if id < 0 || id >= keyspace.NumDBs {
		c.Error(ErrDBRange)
		return
	}
	c.Client.DB = int(id)
	c.W.OK()
}

// authCmd is AUTH [user] password: AUTH with the password alone
// authenticates the default user, and is an error when the default user
// has nopass.
func authCmd(c *Ctx) {
	if len(c.Args) > 3 {
		c.Error(ErrSyntax)
		return
	}
	user, pass := "default", c.Arg(1)
	if len(c.Args) == 3 {
		user, pass = string(c.Args[1]), c.Arg(2)
	} else if c.e.acl.users.Default().NoPass() {
		c.Error(ErrNoPassword)
		return
	}
	if !c.authenticate(user, pass) {
		c.Error(ErrWrongPass)
		return
	}
	c.W.OK()
}

// helloCmd is Redis 7.0's HELLO: options apply as they are read, so an
// AUTH or SETNAME before a bad option takes effect although HELLO fails.
func helloCmd(c *Ctx) {
	cl := c.Client
	var ver int64
	next := 1
	if len(c.Args) >= 2 {
		v, ok := num.ParseInt(c.Args[1])
		if !ok {
			c.Error("ERR Protocol version is not an integer or out of range")
			return
		}
		if v < 2 || v > 3 {
			c.Error("NOPROTO unsupported protocol version")
			return
		}
		ver = v
		next = 2
	}
	for j := next; j < len(c.Args); j++ {
		more := len(c.Args) - 1 - j
		switch {
		case c.Is(j, "auth") && more >= 2:
			if !c.authenticate(string(c.Args[j+1]), c.Arg(j+2)) {
				c.Error(ErrWrongPass)
				return
			}
			j += 2
		case c.Is(j, "setname") && more >= 1:
			name := c.Args[j+1]
			if !validClientName(name) {
				c.Error(ErrClientName)
				return
			}
			cl.Name = string(name)
			j++
		default:
			c.Error("ERR Syntax error in HELLO option '" + c.Arg(j) + "'")
			return
		}
	}
	if !cl.Authed {
		c.Error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if ver != 0 {
		cl.W.Proto = int(ver)
	}
	role := "master"
	if c.e.cfg.Role != "master" {
		role = "replica"
	}
	c.W.Map(7)
	c.W.BulkString("server")
	c.W.BulkString("redis")
	c.W.BulkString("version")
	c.W.BulkString(c.e.cfg.Version)
	c.W.BulkString("proto")
	c.W.Int(int64(cl.W.Proto))
	c.W.BulkString("id")
	c.W.Int(cl.ID)
	c.W.BulkString("mode")
	c.W.BulkString("standalone")
	c.W.BulkString("role")
	c.W.BulkString(role)
	c.W.BulkString("modules")
	c.W.Array(0)
}

// ErrClientName is Redis's reply to an invalid client name.
const ErrClientName = "ERR Client names cannot contain spaces, newlines or special characters."

func validClientName(b []byte) bool {
	for _, ch := range b {
		if ch < '!' || ch > '~' {
			return false
		}
	}
	return true
}

// resetCmd is RESET: the connection returns to its state at connect time
// (database 0, RESP2, no name, no transaction, watches or subscriptions,
// and the default user, authenticated only when it needs no password).
func resetCmd(c *Ctx) {
	cl := c.Client
	cl.DB = 0
	cl.W.Proto = 2
	c.e.resetUser(cl)
	c.e.discardMulti(cl)
	c.e.unsubscribeAll(cl, false)
	c.e.stopMonitor(cl)
	if cl.trk.on {
		c.e.disableTracking(cl)
	}
	cl.Name = ""
	c.W.Status("RESET")
}
