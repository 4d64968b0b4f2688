package command

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/ferrydb/ferry/internal/num"
)

// ACL and MODULE as a Redis 7.0 server with one user and no modules
// answers them (acl.c, module.c). ferry's only user is "default", whose
// password is requirepass and who may run everything: ACL reports it,
// checks commands against it (DRYRUN) and lists the command categories;
// changing users (SETUSER, an ACL file) is refused. MODULE LIST is empty
// and loading a module is refused as Redis refuses it with its default
// enable-module-command no. CLIENT NO-EVICT is accepted: ferry evicts
// nothing.

func init() {
	registrations = append(registrations, registerAdmin)
	// COMMAND's metadata (command_cmd.go).
	tipTable["module|list"] = "nondeterministic_output_order"
	for _, name := range []string{"module|load", "module|loadex", "module|unload"} {
		noAsyncLoading[name] = true
	}
	for name, args := range map[string]string{
		"acl": "", "acl|cat": "[categoryname]", "acl|deluser": "username...", "acl|dryrun": "username command [arg...]",
		"acl|genpass": "[bits:i]", "acl|getuser": "username", "acl|list": "", "acl|load": "", "acl|log": "[count:i|RESET]",
		"acl|save": "", "acl|setuser": "username [rule...]", "acl|users": "", "acl|whoami": "", "acl|help": "",
		"module": "", "module|list": "", "module|load": "path [arg...]",
		"module|loadex": "path [CONFIG name value]... [ARGS arg...]", "module|unload": "name", "module|help": "",
		"client|no-evict": "(ON|OFF)",
	} {
		argSyntax[name] = args
	}
}

// aclCategoryNames are Redis 7.0's command categories, in ACL CAT's order.
var aclCategoryNames = []string{
	"keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
	"hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous",
	"connection", "transaction", "scripting",
}

// Error replies of ACL and MODULE.
const (
	errACLFile = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration."
	errModule  = "ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."
)

func registerAdmin(t *Table) {
	adm := Admin | NoScript | Loading | Stale
	admACL := []string{"admin", "slow", "dangerous"}
	f := NoScript | Loading | Stale
	acl := func(name string, arity int, flags Flags, cats []string, summary string, h Handler) *Command {
		return &Command{Name: name, Arity: arity, Flags: flags, Group: "server", Since: "6.0.0", Summary: summary, ACL: cats, Handler: h}
	}
	mod := func(name string, arity int, summary string, h Handler) *Command {
		return &Command{Name: name, Arity: arity, Flags: Admin | NoScript, Group: "server", Since: "4.0.0", Summary: summary, ACL: admACL, Handler: h}
	}
	t.Add(
		&Command{Name: "acl", Arity: -2, Group: "server", Since: "6.0.0", Summary: "Container of the commands that show the users and what they may run.", ACL: []string{"slow"}},
		acl("acl|cat", -2, f, []string{"slow"}, "Lists the command categories, or the commands of one.", aclCatCmd),
		acl("acl|deluser", -3, adm, admACL, "Deletes users (ferry has only default, which cannot be deleted).", aclDeluserCmd),
		acl("acl|dryrun", -4, adm, admACL, "Says whether a user may run a command, without running it.", aclDryrunCmd),
		acl("acl|genpass", -2, f, []string{"slow"}, "Makes a random password of 256 bits, or of the bits given.", aclGenpassCmd),
		acl("acl|getuser", 3, adm, admACL, "Describes a user's flags, passwords and permissions.", aclGetuserCmd),
		acl("acl|list", 2, adm, admACL, "Describes every user in the ACL file's format.", aclListCmd),
		acl("acl|load", 2, adm, admACL, "Reloads the users from the ACL file (ferry has none).", func(c *Ctx) { c.Error(errACLFile) }),
		acl("acl|log", -2, adm, admACL, "Lists the recent permission failures (ferry has none), or clears the list.", aclLogCmd),
		acl("acl|save", 2, adm, admACL, "Saves the users to the ACL file (ferry has none).", func(c *Ctx) { c.Error(errACLFile) }),
		acl("acl|setuser", -3, adm, admACL, "Creates or changes a user (refused: ferry's one user is default, with requirepass).", aclSetuserCmd),
		acl("acl|users", 2, adm, admACL, "Lists the user names.", func(c *Ctx) { c.W.Array(1); c.W.BulkString("default") }),
		acl("acl|whoami", 2, f, []string{"slow"}, "Replies with the connection's user name.", func(c *Ctx) { c.W.BulkString("default") }),
		acl("acl|help", 2, Loading|Stale, []string{"slow"}, "Lists the ACL subcommands.", aclHelpCmd),

		&Command{Name: "module", Arity: -2, Group: "server", Since: "4.0.0", Summary: "Container of the commands that manage modules (ferry has none).", ACL: []string{"slow"}},
		mod("module|list", 2, "Lists the loaded modules: none in ferry.", func(c *Ctx) { c.W.Array(0) }),
		mod("module|load", -3, "Loads a module (refused: ferry loads none).", func(c *Ctx) { c.Error(errModule) }),
		mod("module|loadex", -3, "Loads a module with configuration (refused: ferry loads none).", func(c *Ctx) { c.Error(errModule) }),
		mod("module|unload", 3, "Unloads a module (refused: ferry loads none).", func(c *Ctx) { c.Error(errModule) }),
		&Command{Name: "module|help", Arity: 2, Flags: Loading | Stale, Group: "server", Since: "5.0.0", Summary: "Lists the MODULE subcommands.", ACL: []string{"slow"}, Handler: moduleHelpCmd},

		&Command{Name: "client|no-evict", Arity: 3, Flags: adm, Group: "connection", Since: "7.0.0", Summary: "Exempts the connection from client eviction (accepted: ferry evicts no clients).", ACL: []string{"admin", "slow", "dangerous", "connection"}, Handler: clientNoEvictCmd},
	)
}

func aclCatCmd(c *Ctx) {
	if len(c.Args) > 3 {
		c.Error("ERR unknown subcommand or wrong number of arguments for 'CAT'. Try ACL HELP.")
		return
	}
	if len(c.Args) == 2 {
		c.W.Array(len(aclCategoryNames))
		for _, cat := range aclCategoryNames {
			c.W.BulkString(cat)
		}
		return
	}
	cat := strings.ToLower(c.Arg(2))
	if !slices.Contains(aclCategoryNames, cat) {
		c.Error("ERR Unknown category '" + c.Arg(2) + "'")
		return
	}
	var names []string
	for _, cmd := range c.e.tab.All() {
		cmds := []*Command{cmd}
		if cmd.Sub != nil {
			cmds = cmd.Subcommands()
		}
		for _, sub := range cmds {
			if slices.Contains(sub.ACL, cat) {
				names = append(names, sub.Name)
			}
		}
	}
	c.W.Array(len(names))
	for _, n := range names {
		c.W.BulkString(n)
	}
}

func aclDeluserCmd(c *Ctx) {
	for _, a := range c.Args[2:] {
		if string(a) == "default" {
			c.Error("ERR The 'default' user cannot be removed")
			return
		}
	}
	c.W.Int(0)
}

// aclDryrunCmd: the default user may run every command, so DRYRUN checks
// only that the user and the command exist and that the arity fits.
func aclDryrunCmd(c *Ctx) {
	if c.Arg(2) != "default" {
		c.Error("ERR User '" + c.Arg(2) + "' not found")
		return
	}
	args := c.Args[3:]
	cmd := c.e.tab.Lookup(args[0])
	if cmd != nil && cmd.Sub != nil {
		if len(args) < 2 {
			c.Error("ERR wrong number of arguments for '" + cmd.Name + "' command")
			return
		}
		cmd = cmd.Sub[strings.ToLower(string(args[1]))]
	}
	if cmd == nil {
		c.Error("ERR Command '" + c.Arg(3) + "' not found")
		return
	}
	if (cmd.Arity > 0 && cmd.Arity != len(args)) || len(args) < -cmd.Arity {
		c.Error("ERR wrong number of arguments for '" + cmd.Name + "' command")
		return
	}
	c.W.OK()
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
	if c.Arg(2) != "default" {
		c.W.Null()
		return
	}
	pass := c.e.cfg.RequirePass
	c.W.Map(6)
	c.W.BulkString("flags")
	if pass == "" {
		c.W.Set(2)
		c.W.BulkString("on")
		c.W.BulkString("nopass")
	} else {
		c.W.Set(1)
		c.W.BulkString("on")
	}
	c.W.BulkString("passwords")
	if pass == "" {
		c.W.Array(0)
	} else {
		c.W.Array(1)
		c.W.BulkString(passwordHash(pass))
	}
	c.W.BulkString("commands")
	c.W.BulkString("+@all")
	c.W.BulkString("keys")
	c.W.BulkString("~*")
	c.W.BulkString("channels")
	c.W.BulkString("&*")
	c.W.BulkString("selectors")
	c.W.Array(0)
}

// passwordHash is a password as ACL shows it: its SHA-256 in hex.
func passwordHash(p string) string {
	h := sha256.Sum256([]byte(p))
	return hex.EncodeToString(h[:])
}

func aclListCmd(c *Ctx) {
	pass := "nopass"
	if p := c.e.cfg.RequirePass; p != "" {
		pass = "#" + passwordHash(p)
	}
	c.W.Array(1)
	c.W.BulkString("user default on " + pass + " ~* &* +@all")
}

func aclLogCmd(c *Ctx) {
	if len(c.Args) > 3 {
		c.Error("ERR unknown subcommand or wrong number of arguments for 'LOG'. Try ACL HELP.")
		return
	}
	if len(c.Args) == 3 {
		if c.Is(2, "reset") {
			c.W.OK()
			return
		}
		if _, ok := c.Int(2); !ok {
			return
		}
	}
	c.W.Array(0)
}

func aclSetuserCmd(c *Ctx) {
	c.Error("ERR ferry has one user, default, whose password is requirepass (CONFIG SET requirepass): ACL SETUSER is not supported")
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
		"    Create or change a user (ferry has only default).",
		"USERS",
		"    List the user names.",
		"WHOAMI",
		"    Reply with this connection's user name.",
	)
}

func moduleHelpCmd(c *Ctx) {
	helpReply(c, "MODULE",
		"LIST",
		"    List the loaded modules (ferry has none).",
		"LOAD <path> [<arg> ...]",
		"    Load a module (refused).",
		"LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
		"    Load a module with configuration (refused).",
		"UNLOAD <name>",
		"    Unload a module (refused).",
	)
}

func clientNoEvictCmd(c *Ctx) {
	switch {
	case c.Is(2, "on"):
		c.Client.noEvict = true
	case c.Is(2, "off"):
		c.Client.noEvict = false
	default:
		c.Error(ErrSyntax)
		return
	}
	c.W.OK()
}
