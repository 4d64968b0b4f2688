package command

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/ferrydb/ferry/internal/acl"
	"github.com/ferrydb/ferry/internal/num"
)

// ACL: users and their permissions (internal/acl holds the model). Users
// are the node's own, as a Redis server's are: they are not replicated
// through the log, and the log's applier (a Master client) and the
// engine's internal clients run everything, as Redis's master client does.
//
// The hot path costs one flag test: a client whose user may run
// everything (the default user, unless changed) has aclFree set, and
// dispatch checks nothing else. aclFree is recomputed whenever a user or
// a client's user changes (aclChanged).
//
// What differs from Redis 7.0: the single-command rules of a description
// (ACL LIST, GETUSER, the ACL file) and ACL CAT's commands come sorted by
// name, where Redis's order is its hash table's, which changes from run to
// run; a file whose selector misses its closing parenthesis is reported by
// ACL LOAD (redis-server 7.0.15 crashes on it); users are never written to
// a configuration file (ferry has none: ACL SAVE and --aclfile are the
// way).

func init() {
	registrations = append(registrations, registerACL)
	for name, args := range map[string]string{
		"acl": "", "acl|cat": "[categoryname]", "acl|deluser": "username...", "acl|dryrun": "username command [arg...]",
		"acl|genpass": "[bits:i]", "acl|getuser": "username", "acl|list": "", "acl|load": "", "acl|log": "[count:i|RESET]",
		"acl|save": "", "acl|setuser": "username [rule...]", "acl|users": "", "acl|whoami": "", "acl|help": "",
	} {
		argSyntax[name] = args
	}
}

// Error replies of ACL.
const (
	errACLFile = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration."
	errACLSave = "ERR There was an error trying to save the ACLs. Please check the server logs for more information"
)

func registerACL(t *Table) {
	adm := Admin | NoScript | Loading | Stale
	admACL := []string{"admin", "slow", "dangerous"}
	f := NoScript | Loading | Stale
	cmd := func(name string, arity int, flags Flags, cats []string, summary string, h Handler) *Command {
		return &Command{Name: name, Arity: arity, Flags: flags, Group: "server", Since: "6.0.0", Summary: summary, ACL: cats, Handler: h}
	}
	t.Add(
		&Command{Name: "acl", Arity: -2, Group: "server", Since: "6.0.0", Summary: "Container of the commands that manage users and what they may run.", ACL: []string{"slow"}},
		cmd("acl|cat", -2, f, []string{"slow"}, "Lists the command categories, or the commands of one.", aclCatCmd),
		cmd("acl|deluser", -3, adm, admACL, "Deletes users and closes their connections (default cannot be deleted).", aclDeluserCmd),
		cmd("acl|dryrun", -4, adm, admACL, "Says whether a user may run a command, without running it.", aclDryrunCmd),
		cmd("acl|genpass", -2, f, []string{"slow"}, "Makes a random password of 256 bits, or of the bits given.", aclGenpassCmd),
		cmd("acl|getuser", 3, adm, admACL, "Describes a user's flags, passwords and permissions.", aclGetuserCmd),
		cmd("acl|list", 2, adm, admACL, "Describes every user in the ACL file's format.", aclListCmd),
		cmd("acl|load", 2, adm, admACL, "Replaces the users with those of the ACL file.", aclLoadCmd),
		cmd("acl|log", -2, adm, admACL, "Lists the recent permission failures, or clears the list.", aclLogCmd),
		cmd("acl|save", 2, adm, admACL, "Saves the users to the ACL file.", aclSaveCmd),
		cmd("acl|setuser", -3, adm, admACL, "Creates or changes a user.", aclSetuserCmd),
		cmd("acl|users", 2, adm, admACL, "Lists the user names.", aclUsersCmd),
		cmd("acl|whoami", 2, f, []string{"slow"}, "Replies with the connection's user name.", aclWhoamiCmd),
		cmd("acl|help", 2, Loading|Stale, []string{"slow"}, "Lists the ACL subcommands.", aclHelpCmd),
	)
}

// aclState is the engine's users, its ACL log and what links them to the
// command table.
type aclState struct {
	users *acl.Users
	cat   *acl.Catalog
	ids   map[*Command]*acl.Cmd
	log   acl.Log
	file  string // aclfile; "" when none
	// loadErr is the error of loading the ACL file at start (ACLLoadError).
	loadErr error
}

// initACL describes the command table to the ACL model and makes the
// default user (with requirepass's password), then loads the ACL file if
// there is one.
func (e *Engine) initACL() {
	a := &e.acl
	a.cat = acl.NewCatalog()
	a.ids = make(map[*Command]*acl.Cmd)
	for _, cmd := range e.tab.All() {
		a.ids[cmd] = a.cat.Add(cmd.Name, aclCategories(cmd), cmd.Flags&NoAuth != 0)
		for _, sub := range cmd.Subcommands() {
			a.ids[sub] = a.cat.Add(sub.Name, aclCategories(sub), sub.Flags&NoAuth != 0)
		}
	}
	a.users = acl.NewUsers(a.cat)
	a.log.MaxLen = acl.DefaultLogMaxLen
	a.file = e.cfg.ACLFile
	if e.cfg.RequirePass != "" {
		a.users.SetDefaultPassword(e.cfg.RequirePass)
	}
	if a.file != "" {
		if _, err := a.users.Load(a.file); err != nil {
			a.loadErr = err
		}
	}
	e.passSet.Store(a.users.AuthRequired())
}

// ACLLoadError returns the error met loading the ACL file when the engine
// was made (a server must not start with it), or nil.
func (e *Engine) ACLLoadError() error { return e.acl.loadErr }

// aclChanged refreshes what depends on the users: whether connections
// must authenticate, and each client's fast-path flag.
func (e *Engine) aclChanged() {
	e.passSet.Store(e.acl.users.AuthRequired())
	for _, cl := range e.clients {
		cl.aclFree = cl.aclUnrestricted()
	}
}

// Unauthenticated reports whether cl's requests are read with the limits
// of a connection that has not authenticated: it has not, and the default
// user needs a password (Redis's authRequired). Safe without the lock.
func (e *Engine) Unauthenticated(cl *Client) bool { return !cl.Authed && e.passSet.Load() }

// aclUnrestricted reports whether the client's commands need no check.
func (cl *Client) aclUnrestricted() bool {
	return cl.Master || cl.user == nil || cl.user.Unrestricted()
}

// setUser makes u the client's user.
func (cl *Client) setUser(u *acl.User) {
	cl.user = u
	cl.aclFree = cl.aclUnrestricted()
}

// userName is the client's user as CLIENT LIST shows it.
func (cl *Client) userName() string {
	if cl.user == nil {
		return "(superuser)"
	}
	return cl.user.Name()
}

// aclRequest describes a command line to the ACL checks.
func (e *Engine) aclRequest(cmd *Command, args [][]byte) *acl.Request {
	r := &acl.Request{Cmd: e.acl.ids[cmd], Args: args}
	m := metaFor(cmd)
	if m.hasKeys() {
		r.HasKeys = true
		r.Keys = func() []acl.Key { return aclKeys(m.keys(args)) }
	}
	switch cmd.Name {
	case "subscribe", "ssubscribe", "psubscribe":
		pattern := cmd.Name == "psubscribe"
		r.Channels = func() []acl.Channel {
			out := make([]acl.Channel, 0, len(args)-1)
			for i := 1; i < len(args); i++ {
				out = append(out, acl.Channel{Pos: i, Pattern: pattern})
			}
			return out
		}
	case "publish", "spublish":
		r.Channels = func() []acl.Channel { return []acl.Channel{{Pos: 1}} }
	}
	return r
}

// aclKeys converts key references to the access the ACL checks need:
// read for keys the command accesses, write for those it inserts, deletes
// or updates.
func aclKeys(refs []keyRef) []acl.Key {
	out := make([]acl.Key, len(refs))
	for i, k := range refs {
		out[i].Pos = k.pos
		for _, f := range k.flags {
			switch f {
			case "access":
				out[i].Perm |= acl.Read
			case "insert", "delete", "update":
				out[i].Perm |= acl.Write
			}
		}
	}
	return out
}

// aclCheck checks a command of a client whose user is restricted.
func (e *Engine) aclCheck(u *acl.User, cmd *Command, args [][]byte) (acl.Result, int) {
	return u.Check(e.aclRequest(cmd, args))
}

// fullKeyAccess reports whether the user running the command may run it
// and read every key (SORT's BY and GET patterns need it). A script's
// commands run as its caller's user.
func (c *Ctx) fullKeyAccess() bool {
	cl := c.Client
	if cl.lua && c.e.lua != nil && c.e.lua.run != nil {
		cl = c.e.lua.run.caller
	}
	if cl.aclUnrestricted() {
		return true
	}
	return cl.user.CheckWithAllKeys(c.e.aclRequest(c.Cmd, c.Args), acl.Read)
}

// aclDeny checks a command of client cl (not aclFree) at the top level
// and, when its user may not run it, logs it and rejects it with Redis's
// NOPERM error. It reports whether the command was rejected.
func (e *Engine) aclDeny(cl *Client, cmd *Command, args [][]byte) bool {
	msg := e.aclDenial(cl, cmd, args)
	if msg == "" {
		return false
	}
	e.reject(cl, msg)
	return true
}

// aclDenial is aclDeny's check: it logs a refused command and returns
// its NOPERM error, or "".
func (e *Engine) aclDenial(cl *Client, cmd *Command, args [][]byte) string {
	if cl.aclUnrestricted() {
		cl.aclFree = true
		return ""
	}
	res, pos := e.aclCheck(cl.user, cmd, args)
	if res == acl.OK {
		return ""
	}
	ctx := acl.TopLevel
	if cl.multi != nil {
		ctx = acl.Multi
	}
	e.aclLogEvent(cl, cl.user.Name(), cmd, args, res, pos, ctx)
	switch res {
	case acl.DeniedCommand:
		return "NOPERM this user has no permissions to run the '" + cmd.Name + "' command"
	case acl.DeniedKey:
		return "NOPERM this user has no permissions to access one of the keys used as arguments"
	}
	return "NOPERM this user has no permissions to access one of the channels used as arguments"
}

// aclRefused is aclDenial for a switch of checks: it sets *msg to the
// error when the client's user may not run the command.
func (e *Engine) aclRefused(cl *Client, cmd *Command, args [][]byte, msg *string) bool {
	if cl.aclFree {
		return false
	}
	*msg = e.aclDenial(cl, cmd, args)
	return *msg != ""
}

// execDenied is EXEC's check of a queued command, as Redis 7.0 checks
// them again when it runs them. It returns the error reply, or "".
func (e *Engine) execDenied(cl *Client, q queued) string {
	if cl.aclUnrestricted() {
		return ""
	}
	res, pos := e.aclCheck(cl.user, q.cmd, q.args)
	if res == acl.OK {
		return ""
	}
	e.aclLogEvent(cl, cl.user.Name(), q.cmd, q.args, res, pos, acl.Multi)
	reason := "no permission to execute the command or subcommand"
	switch res {
	case acl.DeniedKey:
		reason = "no permission to touch the specified keys"
	case acl.DeniedChannel:
		reason = "no permission to access one of the channels used as arguments"
	}
	return "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: " + reason
}

// scriptDenied checks a command a script calls against the user of the
// client running the script. It returns the error reply, or "".
func (e *Engine) scriptDenied(run *scriptRun, cmd *Command, args [][]byte) string {
	caller := run.caller
	if caller.aclFree || caller.aclUnrestricted() {
		return ""
	}
	res, pos := e.aclCheck(caller.user, cmd, args)
	if res == acl.OK {
		return ""
	}
	e.aclLogScript(run, cmd, args, res, pos)
	return "ERR The user executing the script " + res.Message()
}

// aclLogScript logs a script's refused command with its caller's
// client line.
func (e *Engine) aclLogScript(run *scriptRun, cmd *Command, args [][]byte, res acl.Result, pos int) {
	obj := cmd.Name
	if res != acl.DeniedCommand {
		obj = string(args[pos])
	}
	c := &Ctx{e: e, Client: run.caller, Args: run.args, Cmd: run.cmd}
	e.aclLogAdd(c, run.caller.user.Name(), obj, res, acl.Lua)
}

// aclLogEvent adds a refused command to the ACL log: its object is the
// command's name, or the key or channel at pos.
func (e *Engine) aclLogEvent(cl *Client, user string, cmd *Command, args [][]byte, res acl.Result, pos int, ctx acl.Context) {
	obj := cmd.Name
	switch res {
	case acl.DeniedKey, acl.DeniedChannel:
		obj = string(args[pos])
	case acl.DeniedAuth:
		obj = string(args[0])
	}
	c := &Ctx{e: e, Client: cl, Args: args, Cmd: cmd}
	e.aclLogAdd(c, user, obj, res, ctx)
}

// aclLogAdd adds an entry with the client line of c's client.
func (e *Engine) aclLogAdd(c *Ctx, user, obj string, res acl.Result, ctx acl.Context) {
	if e.execing == c.Client {
		// Inside EXEC, Redis's client line shows the EXEC.
		lc := *c
		lc.Cmd = e.tab.Lookup([]byte("exec"))
		c = &lc
	}
	var b strings.Builder
	c.clientLine(&b, c.Client, time.Now())
	e.acl.log.Add(acl.Entry{
		Reason: res, Context: ctx, Object: cString(obj), Username: cString(user),
		Time: time.Now().UnixMilli(), Client: b.String(),
	})
}

// authenticate checks a user name and password (AUTH, HELLO AUTH): on
// success the client becomes that user; on failure the attempt is logged.
func (c *Ctx) authenticate(name, pass string) bool {
	e, cl := c.e, c.Client
	if u := e.acl.users.Authenticate(name, pass); u != nil {
		cl.Authed = true
		cl.setUser(u)
		return true
	}
	ctx := acl.TopLevel
	if cl.multi != nil {
		ctx = acl.Multi
	}
	e.aclLogAdd(c, name, string(c.Args[0]), acl.DeniedAuth, ctx)
	return false
}

// resetUser returns a client to the default user, authenticated only if
// the default user needs no password (RESET, a deleted user).
func (e *Engine) resetUser(cl *Client) {
	cl.setUser(e.acl.users.Default())
	cl.Authed = !e.acl.users.AuthRequired()
}

// killUserClients closes the connections of the given users (ACL
// DELUSER, LOAD): the caller's own once its reply is out.
func (e *Engine) killUserClients(caller *Client, users []*acl.User) {
	if len(users) == 0 {
		return
	}
	for _, cl := range e.clientsByID() {
		for _, u := range users {
			if cl.user != u {
				continue
			}
			cl.setUser(e.acl.users.Default())
			cl.Authed = false
			if cl == caller {
				cl.closeAfterReply = true
			} else {
				e.killClient(cl)
			}
			break
		}
	}
}

// killRevokedSubscribers closes the Pub/Sub connections of u whose
// subscriptions its new rules no longer allow (ACL SETUSER).
func (e *Engine) killRevokedSubscribers(caller *Client, u, before *acl.User) {
	if before == nil || !u.ChannelsRevoked(before) {
		return
	}
	for _, cl := range e.clientsByID() {
		if cl.user != u || cl.SubCount() == 0 || subscriptionsAllowed(cl, u) {
			continue
		}
		if cl == caller {
			cl.closeAfterReply = true
		} else {
			e.killClient(cl)
		}
	}
}

// subscriptionsAllowed reports whether every subscription of cl is allowed
// by u's channel rules.
func subscriptionsAllowed(cl *Client, u *acl.User) bool {
	for p := range cl.psubs {
		if !u.AllowsSubscription(p, true) {
			return false
		}
	}
	for ch := range cl.subs {
		if !u.AllowsSubscription(ch, false) {
			return false
		}
	}
	for ch := range cl.ssubs {
		if !u.AllowsSubscription(ch, false) {
			return false
		}
	}
	return true
}

func aclCatCmd(c *Ctx) {
	if len(c.Args) > 3 {
		c.Error("ERR unknown subcommand or wrong number of arguments for 'CAT'. Try ACL HELP.")
		return
	}
	if len(c.Args) == 2 {
		c.W.Array(len(acl.CategoryNames))
		for _, cat := range acl.CategoryNames {
			c.W.BulkString(cat)
		}
		return
	}
	cat := acl.CategoryByName(c.Arg(2))
	if cat == 0 {
		c.Error("ERR Unknown category '" + trunc(c.Arg(2), 128) + "'")
		return
	}
	names := c.e.acl.cat.InCategory(cat)
	c.W.Array(len(names))
	for _, n := range names {
		c.W.BulkString(n)
	}
}

func aclDeluserCmd(c *Ctx) {
	names := make([]string, 0, len(c.Args)-2)
	for _, a := range c.Args[2:] {
		if string(a) == "default" {
			c.Error("ERR The 'default' user cannot be removed")
			return
		}
		names = append(names, string(a))
	}
	gone := c.e.acl.users.Delete(names)
	c.e.killUserClients(c.Client, gone)
	c.e.aclChanged()
	c.W.Int(int64(len(gone)))
}

func aclDryrunCmd(c *Ctx) {
	u := c.e.acl.users.Get(string(c.Args[2]))
	if u == nil {
		c.Error("ERR User '" + cString(c.Arg(2)) + "' not found")
		return
	}
	args := c.Args[3:]
	cmd := c.e.tab.Lookup(args[0])
	if cmd != nil && cmd.Sub != nil && len(args) >= 2 {
		cmd = cmd.Sub[strings.ToLower(string(args[1]))]
	}
	if cmd == nil {
		c.Error("ERR Command '" + cString(c.Arg(3)) + "' not found")
		return
	}
	if (cmd.Arity > 0 && cmd.Arity != len(args)) || len(args) < -cmd.Arity {
		c.Error("ERR wrong number of arguments for '" + cmd.Name + "' command")
		return
	}
	res, pos := c.e.aclCheck(u, cmd, args)
	switch res {
	case acl.OK:
		c.W.OK()
	case acl.DeniedCommand:
		c.W.BulkString("This user has no permissions to run the '" + cmd.Name + "' command")
	case acl.DeniedKey:
		c.W.BulkString("This user has no permissions to access the '" + cString(string(args[pos])) + "' key")
	default:
		c.W.BulkString("This user has no permissions to access the '" + cString(string(args[pos])) + "' channel")
	}
}

func aclGenpassCmd(c *Ctx) {
	if len(c.Args) > 3 {
		c.Error("ERR unknown subcommand or wrong number of arguments for 'GENPASS'. Try ACL HELP.")
		return
	}
	bits := int64(256)
	if len(c.Args) > 2 {
		n, ok := num.ParseInt(c.Args[2])
		if !ok {
			c.Error(ErrNotInt)
			return
		}
		if n <= 0 || n > 4096 {
			c.Error("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096")
			return
		}
		bits = n
	}
	chars := (bits + 3) / 4
	b := make([]byte, (chars+1)/2)
	if _, err := rand.Read(b); err != nil {
		c.Error("ERR " + err.Error())
		return
	}
	c.W.BulkString(hex.EncodeToString(b)[:chars])
}

func aclGetuserCmd(c *Ctx) {
	users := c.e.acl.users
	u := users.Get(string(c.Args[2]))
	if u == nil {
		c.W.Null()
		return
	}
	cat := users.Catalog()
	c.W.Map(6)
	c.W.BulkString("flags")
	flags := u.Flags()
	c.W.Set(len(flags))
	for _, f := range flags {
		c.W.BulkString(f)
	}
	c.W.BulkString("passwords")
	c.W.Array(len(u.Passwords()))
	for _, p := range u.Passwords() {
		c.W.BulkString(p)
	}
	writeSelector(c, cat, u.Root())
	c.W.BulkString("selectors")
	c.W.Array(len(u.Selectors()))
	for _, s := range u.Selectors() {
		c.W.Map(3)
		writeSelector(c, cat, s)
	}
}

// writeSelector writes a selector's commands, keys and channels fields.
func writeSelector(c *Ctx, cat *acl.Catalog, s *acl.Selector) {
	c.W.BulkString("commands")
	c.W.BulkString(s.CommandRules(cat))
	c.W.BulkString("keys")
	c.W.BulkString(s.KeyRules())
	c.W.BulkString("channels")
	c.W.BulkString(s.ChannelRules())
}

func aclListCmd(c *Ctx) {
	lines := c.e.acl.users.List()
	c.W.Array(len(lines))
	for _, l := range lines {
		c.W.BulkString(l)
	}
}

func aclUsersCmd(c *Ctx) {
	names := c.e.acl.users.Names()
	c.W.Array(len(names))
	for _, n := range names {
		c.W.BulkString(n)
	}
}

func aclWhoamiCmd(c *Ctx) {
	if c.Client.user == nil {
		c.W.Null()
		return
	}
	c.W.BulkString(c.Client.user.Name())
}

func aclLoadCmd(c *Ctx) {
	e := c.e
	if e.acl.file == "" {
		c.Error(errACLFile)
		return
	}
	dropped, err := e.acl.users.Load(e.acl.file)
	if err != nil {
		var le *acl.ErrLoad
		if errors.As(err, &le) {
			c.Error("ERR " + le.Msg)
		} else {
			c.Error("ERR " + err.Error())
		}
		return
	}
	e.killUserClients(c.Client, dropped)
	e.aclChanged()
	c.W.OK()
}

func aclSaveCmd(c *Ctx) {
	if c.e.acl.file == "" {
		c.Error(errACLFile)
		return
	}
	if err := c.e.acl.users.Save(c.e.acl.file); err != nil {
		c.Error(errACLSave)
		return
	}
	c.W.OK()
}

func aclLogCmd(c *Ctx) {
	if len(c.Args) > 3 {
		c.Error("ERR unknown subcommand or wrong number of arguments for 'LOG'. Try ACL HELP.")
		return
	}
	count := int64(10)
	if len(c.Args) == 3 {
		if c.Is(2, "reset") {
			c.e.acl.log.Reset()
			c.W.OK()
			return
		}
		n, ok := c.Int(2)
		if !ok {
			return
		}
		count = max(n, 0)
	}
	entries := c.e.acl.log.Entries(int(min(count, 1<<30)))
	now := time.Now().UnixMilli()
	c.W.Array(len(entries))
	for _, le := range entries {
		c.W.Map(7)
		c.W.BulkString("count")
		c.W.Int(le.Count)
		c.W.BulkString("reason")
		c.W.BulkString(le.Reason.Reason())
		c.W.BulkString("context")
		c.W.BulkString(le.Context.String())
		c.W.BulkString("object")
		c.W.BulkString(le.Object)
		c.W.BulkString("username")
		c.W.BulkString(le.Username)
		c.W.BulkString("age-seconds")
		c.W.Double(float64(now-le.Time) / 1000)
		c.W.BulkString("client-info")
		c.W.BulkString(le.Client)
	}
}

func aclSetuserCmd(c *Ctx) {
	e := c.e
	name := string(c.Args[2])
	if hasCSpace(name) {
		c.Error("ERR Usernames can't contain spaces or null characters")
		return
	}
	ops := make([]string, len(c.Args)-3)
	for i, a := range c.Args[3:] {
		ops[i] = string(a)
	}
	u, before, msg := e.acl.users.SetUser(name, ops)
	if msg != "" {
		// addReplyErrorSdsSafe: no newlines in an error.
		c.Error("ERR " + strings.NewReplacer("\r", " ", "\n", " ").Replace(msg))
		return
	}
	e.killRevokedSubscribers(c.Client, u, before)
	e.aclChanged()
	c.W.OK()
}

// hasCSpace reports whether s has a character C's isspace takes, or a NUL.
func hasCSpace(s string) bool {
	return strings.ContainsAny(s, " \t\n\v\f\r\x00")
}

func aclHelpCmd(c *Ctx) {
	helpReply(c, "ACL",
		"CAT [<category>]",
		"    List the command categories, or the commands of one.",
		"DELUSER <username> [<username> ...]",
		"    Delete users (the default user cannot be deleted).",
		"DRYRUN <username> <command> [<arg> ...]",
		"    Say whether the user may run the command, without running it.",
		"GETUSER <username>",
		"    Describe a user.",
		"GENPASS [<bits>]",
		"    Make a random password of 256 bits, or of the bits given.",
		"LIST",
		"    Describe every user in the ACL file's format.",
		"LOAD",
		"    Reload the users from the ACL file.",
		"LOG [<count> | RESET]",
		"    List recent permission failures, or clear the list.",
		"SAVE",
		"    Save the users to the ACL file.",
		"SETUSER <username> <attribute> [<attribute> ...]",
		"    Create or change a user.",
		"USERS",
		"    List the user names.",
		"WHOAMI",
		"    Reply with this connection's user name.",
	)
}

// LoadACLFile makes path the ACL file (aclfile) and loads its users, as a
// Redis server started with aclfile does; a server must not start when it
// fails (the error then says why, in Redis's words). The engine takes the
// lock.
func (e *Engine) LoadACLFile(path string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.acl.file = path
	dropped, err := e.acl.users.Load(path)
	if err != nil {
		return err
	}
	e.killUserClients(nil, dropped)
	e.aclChanged()
	return nil
}
