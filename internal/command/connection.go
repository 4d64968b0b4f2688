package command

import (
	"crypto/subtle"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/num"
)

// Connection commands: PING ECHO QUIT HELLO AUTH SELECT RESET.

func registerConnection(t *Table) {
	t.Add(
		&Command{Name: "ping", Arity: -1, Flags: Fast | Stale | Loading | SubContext, Group: "connection", Since: "1.0.0", Summary: "Returns the server's liveliness response.", ACL: []string{"fast", "connection"}, Handler: pingCmd},
		&Command{Name: "echo", Arity: 2, Flags: Fast | Stale | Loading, Group: "connection", Since: "1.0.0", Summary: "Returns the given string.", ACL: []string{"fast", "connection"}, Handler: echoCmd},
		&Command{Name: "quit", Arity: -1, Flags: AllowBusy | NoAuth | Fast | Stale | Loading | NoScript | MultiControl | SubContext, Group: "connection", Since: "1.0.0", Summary: "Closes the connection.", ACL: []string{"fast", "connection"}, Handler: quitCmd},
		&Command{Name: "hello", Arity: -1, Flags: NoScript | Loading | Stale | Fast | NoAuth | AllowBusy, Group: "connection", Since: "6.0.0", Summary: "Handshakes with the Redis server.", ACL: []string{"fast", "connection"}, Handler: helloCmd},
		&Command{Name: "auth", Arity: -2, Flags: NoScript | Loading | Stale | Fast | NoAuth | AllowBusy, Group: "connection", Since: "1.0.0", Summary: "Authenticates the connection.", ACL: []string{"fast", "connection"}, Handler: authCmd},
		&Command{Name: "select", Arity: 2, Flags: Loading | Stale | Fast, Group: "connection", Since: "1.0.0", Summary: "Changes the selected database.", ACL: []string{"fast", "connection"}, Handler: selectCmd},
		&Command{Name: "reset", Arity: 1, Flags: NoScript | Loading | Stale | Fast | NoAuth | AllowBusy | MultiControl | SubContext, Group: "connection", Since: "6.2.0", Summary: "Resets the connection.", ACL: []string{"fast", "connection"}, Handler: resetCmd},
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
	if !ok || id < -1<<31 || id > 1<<31-1 {
		c.Error(ErrNotInt)
		return
	}
	if id < 0 || id >= keyspace.NumDBs {
		c.Error(ErrDBRange)
		return
	}
	c.Client.DB = int(id)
	c.W.OK()
}

// checkPassword reports whether user/pass authenticate as the default user.
func (e *Engine) checkPassword(user, pass string) bool {
	if user != "default" {
		return false
	}
	if e.cfg.RequirePass == "" {
		return true
	}
	return subtle.ConstantTimeCompare([]byte(pass), []byte(e.cfg.RequirePass)) == 1
}

func authCmd(c *Ctx) {
	if len(c.Args) > 3 {
		c.Error(ErrSyntax)
		return
	}
	user, pass := "default", c.Arg(1)
	if len(c.Args) == 3 {
		user, pass = c.Arg(1), c.Arg(2)
	} else if c.e.cfg.RequirePass == "" {
		c.Error(ErrNoPassword)
		return
	}
	if !c.e.checkPassword(user, pass) {
		c.Error(ErrWrongPass)
		return
	}
	c.Client.Authed = true
	c.W.OK()
}

func helloCmd(c *Ctx) {
	cl := c.Client
	ver := int64(cl.W.Proto)
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
	}
	var user, pass, name []byte
	authed := false
	for j := 2; j < len(c.Args); j++ {
		more := len(c.Args) - j - 1
		switch {
		case c.Is(j, "auth") && more >= 2:
			user, pass = c.Args[j+1], c.Args[j+2]
			authed = true
			j += 2
		case c.Is(j, "setname") && more >= 1:
			name = c.Args[j+1]
			j++
		default:
			c.Error("ERR Syntax error in HELLO option '" + c.Arg(j) + "'")
			return
		}
	}
	if authed {
		if !c.e.checkPassword(string(user), string(pass)) {
			c.Error(ErrWrongPass)
			return
		}
		cl.Authed = true
	}
	if !cl.Authed {
		c.Error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if name != nil {
		if !validClientName(name) {
			c.Error(ErrClientName)
			return
		}
		cl.Name = string(name)
	}
	cl.W.Proto = int(ver)
	role := c.e.cfg.Role
	c.W.Map(7)
	c.W.BulkString("server")
	c.W.BulkString("redis")
	c.W.BulkString("version")
	c.W.BulkString(c.e.cfg.Version)
	c.W.BulkString("proto")
	c.W.Int(ver)
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

func resetCmd(c *Ctx) {
	cl := c.Client
	if cl.multi != nil {
		c.e.discardMulti(cl)
	}
	c.e.unwatchAll(cl)
	c.e.unsubscribeAll(cl, false)
	cl.DB = 0
	cl.Name = ""
	cl.W.Proto = 2
	cl.Authed = c.e.cfg.RequirePass == ""
	c.W.Status("RESET")
}
