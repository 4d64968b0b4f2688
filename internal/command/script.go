package command

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/ferrydb/ferry/internal/luaenv"
)

// Scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, as in Redis
// 7.0. A script runs under the engine lock like any command, and the
// commands it calls are one unit: their effects (not the script) go to
// the log, in MULTI/EXEC when there are several, as Redis 7.0 replicates
// scripts by effects.

func registerScripting(t *Table) {
	acl := []string{"slow", "scripting"}
	sc := func(c *Command) *Command { c.Group = "scripting"; c.ACL = acl; return c }
	evalFlags := NoScript | Stale | SkipMonitor | NoMandatoryKeys
	t.Add(
		sc(&Command{Name: "eval", Arity: -3, Flags: evalFlags, Since: "2.6.0", Summary: "Execute a Lua script server side", Handler: func(c *Ctx) { evalGeneric(c, false, false) }}),
		sc(&Command{Name: "evalsha", Arity: -3, Flags: evalFlags, Since: "2.6.0", Summary: "Execute a Lua script server side", Handler: func(c *Ctx) { evalGeneric(c, true, false) }}),
		sc(&Command{Name: "eval_ro", Arity: -3, Flags: ReadOnly | evalFlags, Since: "7.0.0", Summary: "Execute a read-only Lua script server side", Handler: func(c *Ctx) { evalGeneric(c, false, true) }}),
		sc(&Command{Name: "evalsha_ro", Arity: -3, Flags: ReadOnly | evalFlags, Since: "7.0.0", Summary: "Execute a read-only Lua script server side", Handler: func(c *Ctx) { evalGeneric(c, true, true) }}),
		&Command{Name: "script", Arity: -2, Group: "scripting", Since: "2.6.0", Summary: "A container for Lua scripts management commands", ACL: []string{"slow"}},
		sc(&Command{Name: "script|load", Arity: 3, Flags: NoScript | Stale, Since: "2.6.0", Summary: "Load the specified Lua script into the script cache.", Handler: scriptLoadCmd}),
		sc(&Command{Name: "script|exists", Arity: -3, Flags: NoScript, Since: "2.6.0", Summary: "Check existence of scripts in the script cache.", Handler: scriptExistsCmd}),
		sc(&Command{Name: "script|flush", Arity: -2, Flags: NoScript, Since: "2.6.0", Summary: "Remove all the scripts from the script cache.", Handler: scriptFlushCmd}),
		sc(&Command{Name: "script|kill", Arity: 2, Flags: NoScript | AllowBusy, Since: "2.6.0", Summary: "Kill the script currently in execution.", Handler: scriptKillCmd}),
		sc(&Command{Name: "script|debug", Arity: 3, Flags: NoScript, Since: "3.2.0", Summary: "Set the debug mode for executed scripts.", Handler: scriptDebugCmd}),
		sc(&Command{Name: "script|help", Arity: 2, Flags: Loading | Stale, Since: "5.0.0", Summary: "Show helpful text about the different subcommands", Handler: scriptHelpCmd}),
	)
}

func init() { registrations = append(registrations, registerScripting) }

// Script errors, as Redis 7.0 words them.
const (
	errNoScript        = "NOSCRIPT No matching script. Please use EVAL."
	errNotBusy         = "NOTBUSY No scripts in execution right now."
	errScriptNoWrites  = "ERR Write commands are not allowed from read-only scripts."
	errScriptUnknown   = "ERR Unknown Redis command called from script"
	errScriptArity     = "ERR Wrong number of args calling Redis command from script"
	errScriptNoScript  = "ERR This Redis command is not allowed from script"
	errScriptArgType   = "ERR Lua redis lib command arguments must be strings or integers"
	errScriptNoArgs    = "ERR Please specify at least one argument for this redis lib call"
	errScriptStackFull = "ERR reached lua stack limit"
	errScriptStale     = "ERR Can not execute the command on a stale replica"
)

// script is a compiled script of the cache.
type script struct {
	fn    *lua.LFunction
	flags scriptFlags
}

// scriptFlags are the flags of a script's "#!lua flags=..." line.
type scriptFlags struct {
	shebang    bool // a "#!lua" line: not in Redis's compatibility mode
	noWrites   bool
	allowStale bool
}

// scripting is an engine's Lua state and script cache.
type scripting struct {
	env     *luaenv.Env
	scripts map[string]*script // by lowercase SHA1 hex
	client  *Client            // the client redis.call runs commands as
	run     *scriptRun         // the script running, if any
	errLine int                // where the last error was raised (0: unknown)
	// noStats is set when the script's reply is an error a command it
	// ran returned, already counted in INFO (call clears it).
	noStats bool
	raised  *lua.LTable // the last error a command raised through redis.call
	fns     *functions  // function libraries (function.go); nil until used
}

// scriptRun is the state of one script execution.
type scriptRun struct {
	sha        string
	caller     *Client
	readOnly   bool // EVAL_RO, or flags=no-writes
	allowStale bool // flags=allow-stale
	resp       int  // redis.setresp
	// cmd and args are the EVAL that runs the script: a tracking client
	// that runs reads in it tracks the keys it declares.
	cmd  *Command
	args [][]byte
}

// scripting returns the engine's Lua state, making it on first use.
func (e *Engine) scripting() *scripting {
	if e.lua == nil {
		s := &scripting{scripts: make(map[string]*script)}
		s.client = &Client{Addr: "lua", Authed: true, lua: true}
		s.newEnv(e)
		e.lua = s
	}
	return e.lua
}

// newEnv (re)creates the Lua state (SCRIPT FLUSH starts a fresh one).
func (s *scripting) newEnv(e *Engine) {
	if s.env != nil {
		s.env.Close()
	}
	s.env = luaenv.New()
	s.env.SetLibrary("redis", s.redisLib(e, s.env.L))
	s.env.Seal()
}

// sha1hex returns the lowercase hex SHA1 of body.
func sha1hex(body string) string {
	sum := sha1.Sum([]byte(body))
	return hex.EncodeToString(sum[:])
}

// compile compiles body and caches it under its SHA1. It returns the
// error reply when the body does not compile.
func (s *scripting) compile(body string) (string, *script, string) {
	sha := sha1hex(body)
	if sc := s.scripts[sha]; sc != nil {
		return sha, sc, ""
	}
	flags, src, msg := parseShebang(body)
	if msg != "" {
		return sha, nil, msg
	}
	fn, err := s.env.Compile(src, "user_script")
	if err != nil {
		return sha, nil, "ERR Error compiling script (new function): " + compileError(err, "user_script")
	}
	sc := &script{fn: fn, flags: flags}
	s.scripts[sha] = sc
	return sha, sc, ""
}

// parseShebang reads a "#!lua flags=..." first line. It returns the body
// to compile, the first line blanked so that line numbers stay, or the
// error reply.
func parseShebang(body string) (scriptFlags, string, string) {
	var f scriptFlags
	if !strings.HasPrefix(body, "#!") {
		return f, body, ""
	}
	line, rest, ok := strings.Cut(body, "\n")
	if !ok {
		return f, "", "ERR Invalid script shebang"
	}
	parts := strings.Fields(line)
	if len(parts) == 0 {
		return f, "", "ERR Invalid engine in script shebang"
	}
	if parts[0] != "#!lua" {
		return f, "", "ERR Unexpected engine in script shebang: " + parts[0]
	}
	f.shebang = true
	for _, p := range parts[1:] {
		list, ok := strings.CutPrefix(p, "flags=")
		if !ok {
			return f, "", "ERR Unknown lua shebang option: " + p
		}
		for _, name := range strings.Split(list, ",") {
			switch name {
			case "no-writes":
				f.noWrites = true
			case "allow-stale":
				f.allowStale = true
			case "allow-oom", "no-cluster", "allow-cross-slot-keys", "":
			default:
				return f, "", "ERR Unexpected flag in script shebang: " + name
			}
		}
	}
	return f, "\n" + rest, ""
}

// compileError words a gopher-lua syntax error in chunk as Lua does:
// "user_script:LINE: MESSAGE near 'TOKEN'". The message is gopher-lua's
// own ("syntax error" where Lua says which symbol it did not expect).
func compileError(err error, chunk string) string {
	msg := err.Error()
	if apiErr, ok := err.(*lua.ApiError); ok && apiErr.Cause != nil {
		msg = apiErr.Cause.Error()
	}
	msg = strings.TrimSpace(msg)
	// "user_script line:3(column:9) near 'x':   syntax error" or
	// "user_script at EOF:   syntax error".
	if rest, ok := strings.CutPrefix(msg, chunk+" line:"); ok {
		line, rest, _ := strings.Cut(rest, "(")
		_, rest, _ = strings.Cut(rest, "near ")
		near, text, _ := strings.Cut(rest, ":")
		return chunk + ":" + line + ": " + strings.TrimSpace(text) + " near " + near
	}
	if text, ok := strings.CutPrefix(msg, chunk+" at EOF:"); ok {
		return chunk + ": " + strings.TrimSpace(text) + " near '<eof>'"
	}
	return msg
}

// evalGeneric is EVAL, EVALSHA and their _RO forms.
func evalGeneric(c *Ctx, bySHA, readOnly bool) {
	if bySHA && len(c.Args[1]) != 40 {
		c.Error(errNoScript)
		return
	}
	numkeys, ok := c.Int(2)
	if !ok {
		return
	}
	if numkeys > int64(len(c.Args)-3) {
		c.Error("ERR Number of keys can't be greater than number of args")
		return
	}
	if numkeys < 0 {
		c.Error("ERR Number of keys can't be negative")
		return
	}
	e := c.e
	s := e.scripting()
	var (
		sha string
		sc  *script
	)
	if bySHA {
		sha = strings.ToLower(string(c.Args[1]))
		if sc = s.scripts[sha]; sc == nil {
			c.Error(errNoScript)
			return
		}
	} else {
		var msg string
		if sha, sc, msg = s.compile(string(c.Args[1])); msg != "" {
			c.Error(msg)
			return
		}
	}
	if sc.flags.shebang && !c.Client.Master {
		// A script that declares its flags is checked before it runs,
		// like a command with those flags.
		switch {
		case !sc.flags.noWrites && !readOnly && e.cfg.Role != "master":
			c.Error(ErrReadOnly)
			return
		case !sc.flags.noWrites && !readOnly && e.writeErr != "":
			c.Error(e.writeErr)
			return
		case e.masterDn && !sc.flags.allowStale:
			c.Error(ErrMasterDown)
			return
		}
	}
	if len(e.monitors) > 0 {
		e.feedMonitors(c.Client, c.Cmd, c.Args)
	}
	s.exec(c, sha, sc, int(numkeys), readOnly || sc.flags.noWrites)
}

// exec runs a compiled script for c and writes its reply.
func (s *scripting) exec(c *Ctx, sha string, sc *script, numkeys int, readOnly bool) {
	L := s.env.L
	keys := L.CreateTable(numkeys, 0)
	for i, k := range c.Args[3 : 3+numkeys] {
		keys.RawSetInt(i+1, lua.LString(k))
	}
	argv := L.CreateTable(len(c.Args)-3-numkeys, 0)
	for i, a := range c.Args[3+numkeys:] {
		argv.RawSetInt(i+1, lua.LString(a))
	}
	s.env.Globals.RawSetString("KEYS", keys)
	s.env.Globals.RawSetString("ARGV", argv)

	run := &scriptRun{sha: sha, caller: c.Client, readOnly: readOnly, allowStale: sc.flags.allowStale, resp: 2, cmd: c.Cmd, args: c.Args}
	s.run = run
	s.client.DB = c.Client.DB
	s.client.W.Proto = 2
	s.client.W.Reset()
	s.errLine = 0
	defer func() {
		s.run = nil
		s.env.Globals.RawSetString("KEYS", lua.LNil)
		s.env.Globals.RawSetString("ARGV", lua.LNil)
		L.SetTop(0)
	}()

	ctx, cancel := context.WithCancel(context.Background())
	L.SetContext(ctx)
	e := c.e
	e.busy.begin(cancel)
	L.Push(sc.fn)
	err := L.PCall(0, 1, L.NewFunction(s.errorHandler))
	e.busy.end()
	L.RemoveContext()
	cancel()
	if err != nil {
		if e.busy.killed.Load() {
			c.Error(errKilled + " script: " + sha + ", on @user_script:" + itoa(max(s.errLine, 1)) + ".")
			return
		}
		c.Error(s.errorReply(err, sha, "user_script"))
		return
	}
	s.reply(c.W, L.Get(-1), run.resp, 0)
}

// errorHandler runs where a script's error was raised, before the stack
// unwinds: it notes the line of the innermost Lua function, as Redis's
// error handler does with debug.getinfo.
func (s *scripting) errorHandler(L *lua.LState) int {
	s.errLine = 0
	for level := 1; ; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		if _, err := L.GetInfo("Sl", dbg, lua.LNil); err != nil {
			break
		}
		if dbg.What != "G" && dbg.CurrentLine > 0 {
			s.errLine = dbg.CurrentLine
			break
		}
	}
	L.Push(L.Get(1))
	return 1
}

// errorReply words a script's error as Redis does: the error's own text
// (errors that are not a redis.call error table get "ERR " in front),
// then where it was raised: the script's SHA1 (a function's name) and
// chunk ("user_script", "user_function").
func (s *scripting) errorReply(err error, sha, chunk string) string {
	var msg string
	apiErr, ok := err.(*lua.ApiError)
	switch {
	case !ok:
		msg = "ERR " + err.Error()
	case apiErr.Type == lua.ApiErrorPanic:
		msg = "ERR " + apiErr.Object.String()
	default:
		if t, ok := apiErr.Object.(*lua.LTable); ok {
			if e, ok := t.RawGetString("err").(lua.LString); ok {
				msg = string(e)
				s.noStats = countedError(t) || t == s.raised
			}
		}
		if msg == "" {
			msg = "ERR " + luaToString(apiErr.Object)
		}
	}
	s.raised = nil
	if s.errLine > 0 {
		msg += " script: " + sha + ", on @" + chunk + ":" + itoa(s.errLine) + "."
	}
	return msg
}

// luaToString is Lua's tostring for the values an error can be.
func luaToString(v lua.LValue) string {
	switch v := v.(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return v.String()
	case *lua.LNilType:
		return "nil"
	case lua.LBool:
		return v.String()
	}
	return v.Type().String()
}

func scriptLoadCmd(c *Ctx) {
	sha, _, msg := c.e.scripting().compile(string(c.Args[2]))
	if msg != "" {
		c.Error(msg)
		return
	}
	c.W.BulkString(sha)
}

func scriptExistsCmd(c *Ctx) {
	var scripts map[string]*script
	if c.e.lua != nil {
		scripts = c.e.lua.scripts
	}
	c.W.Array(len(c.Args) - 2)
	for _, a := range c.Args[2:] {
		if scripts[strings.ToLower(string(a))] != nil {
			c.W.Int(1)
		} else {
			c.W.Int(0)
		}
	}
}

func scriptFlushCmd(c *Ctx) {
	if len(c.Args) > 3 || (len(c.Args) == 3 && !c.Is(2, "sync") && !c.Is(2, "async")) {
		c.Error("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
		return
	}
	if s := c.e.lua; s != nil {
		s.scripts = make(map[string]*script)
		s.newEnv(c.e)
	}
	c.W.OK()
}

func scriptKillCmd(c *Ctx) { c.Error(errNotBusy) }

// scriptDebugCmd is SCRIPT DEBUG: ferry has no Lua debugger, so only NO
// (the default) is accepted.
func scriptDebugCmd(c *Ctx) {
	switch {
	case c.Is(2, "no"):
		c.W.OK()
	case c.Is(2, "yes"), c.Is(2, "sync"):
		c.Error("ERR ferry has no Lua debugger: SCRIPT DEBUG YES and SYNC are not supported")
	default:
		c.Error("ERR Use SCRIPT DEBUG YES/SYNC/NO")
	}
}

func scriptHelpCmd(c *Ctx) {
	helpReply(c, "SCRIPT",
		"DEBUG (YES|SYNC|NO)",
		"    Set the debug mode for subsequent scripts executed (ferry: NO only).",
		"EXISTS <sha1> [<sha1> ...]",
		"    Reply with whether each script is in the script cache.",
		"FLUSH [ASYNC|SYNC]",
		"    Empty the script cache.",
		"KILL",
		"    Stop the script running now, if it has not written.",
		"LOAD <script>",
		"    Put a script in the script cache without running it.",
	)
}
