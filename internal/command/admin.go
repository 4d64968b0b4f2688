package command

// MODULE as a Redis 7.0 server with no modules answers it (module.c):
// MODULE LIST is empty and loading a module is refused as Redis refuses it
// with its default enable-module-command no. CLIENT NO-EVICT is accepted:
// ferry evicts nothing. ACL is in acl.go.

func init() {
	registrations = append(registrations, registerAdmin)
	// COMMAND's metadata (command_cmd.go).
	tipTable["module|list"] = "nondeterministic_output_order"
	for _, name := range []string{"module|load", "module|loadex", "module|unload"} {
		noAsyncLoading[name] = true
	}
	for name, args := range map[string]string{
		"module": "", "module|list": "", "module|load": "path [arg...]",
		"module|loadex": "path [CONFIG name value]... [ARGS arg...]", "module|unload": "name", "module|help": "",
		"client|no-evict": "(ON|OFF)",
	} {
		argSyntax[name] = args
	}
}

// Error replies of MODULE.
const (
	errModule = "ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server."
)

func registerAdmin(t *Table) {
	adm := Admin | NoScript | Loading | Stale
	admACL := []string{"admin", "slow", "dangerous"}
	mod := func(name string, arity int, summary string, h Handler) *Command {
		return &Command{Name: name, Arity: arity, Flags: Admin | NoScript, Group: "server", Since: "4.0.0", Summary: summary, ACL: admACL, Handler: h}
	}
	t.Add(
		&Command{Name: "module", Arity: -2, Group: "server", Since: "4.0.0", Summary: "Container of the commands that manage modules (ferry has none).", ACL: []string{"slow"}},
		mod("module|list", 2, "Lists the loaded modules: none in ferry.", func(c *Ctx) { c.W.Array(0) }),
		mod("module|load", -3, "Loads a module (refused: ferry loads none).", func(c *Ctx) { c.Error(errModule) }),
		mod("module|loadex", -3, "Loads a module with configuration (refused: ferry loads none).", func(c *Ctx) { c.Error(errModule) }),
		mod("module|unload", 3, "Unloads a module (refused: ferry loads none).", func(c *Ctx) { c.Error(errModule) }),
		&Command{Name: "module|help", Arity: 2, Flags: Loading | Stale, Group: "server", Since: "5.0.0", Summary: "Lists the MODULE subcommands.", ACL: []string{"slow"}, Handler: moduleHelpCmd},

		&Command{Name: "client|no-evict", Arity: 3, Flags: adm, Group: "connection", Since: "7.0.0", Summary: "Exempts the connection from client eviction (accepted: ferry evicts no clients).", ACL: []string{"admin", "slow", "dangerous", "connection"}, Handler: clientNoEvictCmd},
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
