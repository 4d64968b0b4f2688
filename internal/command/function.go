package command

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/ferrydb/ferry/internal/glob"
	"github.com/ferrydb/ferry/internal/luaenv"
	"github.com/ferrydb/ferry/internal/num"
	"github.com/ferrydb/ferry/internal/resp"
)

// Functions (Redis 7.0's functions.c and function_lua.c): FUNCTION LOAD,
// DELETE, FLUSH, LIST, DUMP, RESTORE, STATS, KILL and HELP, FCALL and
// FCALL_RO.
//
// A library is Lua code after a "#!lua name=<lib>" line that registers
// functions with redis.register_function when it is loaded. Libraries run
// in their own Lua state (SCRIPT FLUSH leaves them), and while a library
// loads its code sees only the redis table with register_function, log
// and the version fields, as in Redis; the functions it registers see the
// scripts' whole environment when they are called, and get their keys
// and arguments as two tables.
//
// The libraries are part of the dataset, as in Redis, but of no database:
// FLUSHALL keeps them. FUNCTION LOAD, DELETE, FLUSH and RESTORE go to the
// log as received (a replica loads the same code); snapshots hold each
// library's code as Redis's RDB does (rdb.Meta.Functions), written by the
// master at its cut (FunctionLibraries) and put back by whoever loads one
// (ReplaceFunctions). FCALL runs like EVAL: the effects of the commands the
// function calls are the unit that goes to the log, not the FCALL.
//
// FUNCTION DUMP and RESTORE use Redis's payload (RDB function records, the
// RDB version and a CRC64), which snapshot/rdb writes: the engine's value
// codec (Config.Values) serves them when it is also a FunctionCodec.

func init() {
	registrations = append(registrations, registerFunctions)
	for name, spec := range map[string]string{"fcall": "RW access update @2#", "fcall_ro": "RO access @2#"} {
		keySpecTable[name] = spec
	}
	specNotes["fcall"] = specNotes["eval"]
	specNotes["fcall_ro"] = specNotes["eval_ro"]
	for name, args := range map[string]string{
		"fcall": "function numkeys:i [key...] [arg...]", "fcall_ro": "function numkeys:i [key...] [arg...]",
		"function": "", "function|delete": "library-name", "function|dump": "", "function|flush": "[ASYNC|SYNC]",
		"function|help": "", "function|kill": "", "function|list": "[LIBRARYNAME library-name-pattern] [WITHCODE]",
		"function|load": "[REPLACE] function-code", "function|restore": "serialized-value [FLUSH|APPEND|REPLACE]",
		"function|stats": "",
	} {
		argSyntax[name] = args
	}
	for name, tips := range map[string]string{
		"function|load":    "request_policy:all_shards,response_policy:all_succeeded",
		"function|delete":  "request_policy:all_shards,response_policy:all_succeeded",
		"function|list":    "nondeterministic_output_order",
		"function|stats":   "nondeterministic_output,request_policy:all_shards,response_policy:special",
		"function|kill":    "request_policy:all_shards,response_policy:one_succeeded",
		"function|restore": "request_policy:all_shards,response_policy:all_succeeded",
		"function|flush":   "request_policy:all_shards,response_policy:all_succeeded",
	} {
		tipTable[name] = tips
	}
}

func registerFunctions(t *Table) {
	sc := func(c *Command) *Command {
		c.Group, c.Since = "scripting", "7.0.0"
		if c.ACL == nil {
			c.ACL = []string{"slow", "scripting"}
		}
		return c
	}
	write := []string{"write", "slow", "scripting"}
	fcallFlags := NoScript | Stale | SkipMonitor | NoMandatoryKeys
	t.Add(
		sc(&Command{Name: "fcall", Arity: -3, Flags: fcallFlags, Summary: "Invoke a function", Handler: func(c *Ctx) { fcallCmd(c, false) }}),
		sc(&Command{Name: "fcall_ro", Arity: -3, Flags: ReadOnly | fcallFlags, Summary: "Invoke a read-only function", Handler: func(c *Ctx) { fcallCmd(c, true) }}),
		sc(&Command{Name: "function", Arity: -2, Summary: "A container for function commands", ACL: []string{"slow"}}),
		sc(&Command{Name: "function|delete", Arity: 3, Flags: NoScript | Write, ACL: write, Summary: "Delete a function by name", Handler: functionDeleteCmd}),
		sc(&Command{Name: "function|dump", Arity: 2, Flags: NoScript, Summary: "Dump all functions into a serialized binary payload", Handler: functionDumpCmd}),
		sc(&Command{Name: "function|flush", Arity: -2, Flags: NoScript | Write, ACL: write, Summary: "Deleting all functions", Handler: functionFlushCmd}),
		sc(&Command{Name: "function|help", Arity: 2, Flags: Loading | Stale, Summary: "Show helpful text about the different subcommands", Handler: functionHelpCmd}),
		sc(&Command{Name: "function|kill", Arity: 2, Flags: NoScript | AllowBusy, Summary: "Kill the function currently in execution.", Handler: func(c *Ctx) { c.Error(errNotBusy) }}),
		sc(&Command{Name: "function|list", Arity: -2, Flags: NoScript, Summary: "List information about all the functions", Handler: functionListCmd}),
		sc(&Command{Name: "function|load", Arity: -3, Flags: NoScript | Write | DenyOOM, ACL: write, Summary: "Create a function with the given arguments (name, code, description)", Handler: functionLoadCmd}),
		sc(&Command{Name: "function|restore", Arity: -3, Flags: NoScript | Write | DenyOOM, ACL: write, Summary: "Restore all the functions on the given payload", Handler: functionRestoreCmd}),
		sc(&Command{Name: "function|stats", Arity: 2, Flags: NoScript | AllowBusy, Summary: "Return information about the function currently running (name, description, duration)", Handler: functionStatsCmd}),
	)
}

// FunctionCodec turns function libraries into FUNCTION DUMP's payload and
// back: for each library an RDB function record (opcode 245 and the
// library's code as an RDB string), then the RDB version (2 bytes, little
// endian) and the CRC-64/Jones of all that (8 bytes, little endian).
// snapshot/rdb's value codec (rdb.Values) implements it; the engine uses
// it when Config.Values does. Its methods are called with the engine lock
// held and must not keep what they are given.
type FunctionCodec interface {
	// DumpFunctions returns the payload holding the libraries' code, in
	// the order given.
	DumpFunctions(codes []string) []byte
	// RestoreFunctions reads a payload: the code of each library, in
	// order. Its error wraps ErrDumpPayload when the footer does not check
	// out (and codes is nil); any other error's text is Redis's reply
	// after "ERR ", met after the codes returned with it.
	RestoreFunctions(payload []byte) (codes []string, err error)
}

// Errors of functions, as Redis 7.0 words them.
const (
	errFnNotFound      = "ERR Function not found"
	errFnBadName       = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"
	errFnWriteRO       = "ERR Can not execute a script with write flag using *_ro command."
	errFnBusy          = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
	errNoFunctionCodec = "ERR ferry: FUNCTION DUMP and RESTORE are not available: this engine was built without a value codec (command.Config.Values)"
)

// fnLoadTimeout bounds how long a library's load-time code may run, as
// Redis's LOAD_TIMEOUT_MS (not for what a master sent, nor snapshots).
const fnLoadTimeout = 500 * time.Millisecond

// fnFlags are a function's flags, in Redis's order (scripts_flags_def).
type fnFlags uint8

const (
	fnNoWrites fnFlags = 1 << iota
	fnAllowOOM
	fnAllowStale
	fnNoCluster
	fnAllowCrossSlot
)

var fnFlagNames = []string{"no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"}

// library is one loaded library.
type library struct {
	name  string
	code  string      // as loaded, "#!lua name=..." line included
	funcs []*function // by name
}

// function is one registered function.
type function struct {
	name    string
	desc    string
	hasDesc bool
	flags   fnFlags
	fn      *lua.LFunction
	lib     *library
}

// fnRegistry is a set of libraries and their functions.
type fnRegistry struct {
	libs  map[string]*library  // by name (case-sensitive, as Redis's)
	funcs map[string]*function // by lowercase name (Redis's dict ignores case)
}

func newRegistry() fnRegistry {
	return fnRegistry{libs: make(map[string]*library), funcs: make(map[string]*function)}
}

func (r *fnRegistry) link(li *library) {
	r.libs[li.name] = li
	for _, f := range li.funcs {
		if low := strings.ToLower(f.name); r.funcs[low] == nil {
			r.funcs[low] = f
		}
	}
}

func (r *fnRegistry) unlink(li *library) {
	delete(r.libs, li.name)
	for _, f := range li.funcs {
		if low := strings.ToLower(f.name); r.funcs[low] == f {
			delete(r.funcs, low)
		}
	}
}

// sorted returns the libraries by name.
func (r *fnRegistry) sorted() []*library {
	out := make([]*library, 0, len(r.libs))
	for _, li := range r.libs {
		out = append(out, li)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// functions is the engine's function libraries and their Lua state.
type functions struct {
	env     *luaenv.Env
	loadEnv *lua.LTable // the globals load-time code sees
	reg     fnRegistry
	loading *library // the library being loaded, for register_function
}

// functions returns the engine's function libraries, making them on
// first use.
func (s *scripting) functions(e *Engine) *functions {
	if s.fns != nil {
		return s.fns
	}
	fs := &functions{reg: newRegistry()}
	env := luaenv.New()
	env.SetLibrary("redis", s.redisLib(e, env.L))
	env.Seal()
	L := env.L
	api := L.NewTable()
	api.RawSetString("register_function", L.NewFunction(fs.registerFunction))
	full := env.Globals.RawGetString("redis").(*lua.LTable)
	for _, name := range []string{"log", "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING", "REDIS_VERSION", "REDIS_VERSION_NUM"} {
		api.RawSetString(name, L.GetField(full, name))
	}
	globals := L.NewTable()
	globals.RawSetString("redis", env.Strict(api))
	fs.loadEnv = globals
	fs.env = env
	s.fns = fs
	return fs
}

// lookup finds a function by name, ignoring case as Redis does.
func (fs *functions) lookup(name string) *function {
	if fs == nil {
		return nil
	}
	return fs.reg.funcs[strings.ToLower(name)]
}

// libMeta is what a library's first line says.
type libMeta struct {
	engine, name string
	body         string // the code after the first line, its newline included
}

// parseLibMeta reads "#!<engine> name=<name>" from code's first line.
func parseLibMeta(code string) (libMeta, string) {
	var md libMeta
	if !strings.HasPrefix(code, "#!") {
		return md, "Missing library metadata"
	}
	nl := strings.IndexByte(code, '\n')
	if nl < 0 {
		return md, "Invalid library metadata"
	}
	parts, ok := resp.SplitArgs([]byte(code[:nl]), nil)
	if !ok || len(parts) == 0 {
		return md, "Invalid library metadata"
	}
	md.engine = string(parts[0][2:])
	hasName := false
	for _, p := range parts[1:] {
		if len(p) >= 5 && strings.EqualFold(string(p[:5]), "name=") {
			if hasName {
				return md, "Invalid metadata value, name argument was given multiple times"
			}
			md.name, hasName = string(p[5:]), true
			continue
		}
		return md, "Invalid metadata value given: " + string(p)
	}
	if !hasName {
		return md, "Library name was not given"
	}
	md.body = code[nl:]
	return md, ""
}

// validFnName reports whether name is a valid library or function name:
// letters, digits and underscores, at least one.
func validFnName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// create compiles code as a library and adds it to reg, replacing the
// library of the same name when replace is set. It returns the library's
// name, or the error's text (without "ERR "). A positive timeout bounds
// the load-time code's run.
func (fs *functions) create(reg *fnRegistry, code string, replace bool, timeout time.Duration) (string, string) {
	md, msg := parseLibMeta(code)
	if msg != "" {
		return "", msg
	}
	if !validFnName(md.name) {
		return "", errFnBadName
	}
	if !strings.EqualFold(md.engine, "lua") {
		return "", "Engine '" + md.engine + "' not found"
	}
	old := reg.libs[md.name]
	if old != nil && !replace {
		return "", "Library '" + md.name + "' already exists"
	}
	if old != nil {
		reg.unlink(old)
	}
	li, msg := fs.run(md, code, timeout)
	if msg == "" {
		for _, f := range li.funcs {
			if reg.funcs[strings.ToLower(f.name)] != nil {
				msg = "Function " + f.name + " already exists"
				break
			}
		}
	}
	if msg != "" {
		if old != nil {
			reg.link(old)
		}
		return "", msg
	}
	reg.link(li)
	return li.name, ""
}

// run compiles a library's code and runs it so that it registers its
// functions.
func (fs *functions) run(md libMeta, code string, timeout time.Duration) (*library, string) {
	env := fs.env
	fn, err := env.Compile(md.body, "user_function")
	if err != nil {
		return nil, "Error compiling function: " + compileError(err, "user_function")
	}
	li := &library{name: md.name, code: code}
	L := env.L
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	L.SetContext(ctx)
	fs.loading, env.Index = li, fs.loadEnv
	L.Push(fn)
	err = L.PCall(0, 0, nil)
	fs.loading, env.Index = nil, nil
	L.RemoveContext()
	L.SetTop(0)
	if err != nil {
		var msg string
		switch {
		case ctx.Err() != nil:
			msg = "ERR FUNCTION LOAD timeout"
		default:
			msg = loadErrorText(err)
		}
		return nil, "Error registering functions: " + msg
	}
	if len(li.funcs) == 0 {
		return nil, "No functions registered"
	}
	sort.Slice(li.funcs, func(i, j int) bool { return li.funcs[i].name < li.funcs[j].name })
	return li, ""
}

// loadErrorText words an error of load-time code: an error table's err
// field, or "ERR " and the error's text.
func loadErrorText(err error) string {
	apiErr, ok := err.(*lua.ApiError)
	if !ok {
		return "ERR " + err.Error()
	}
	if t, ok := apiErr.Object.(*lua.LTable); ok {
		if e, ok := t.RawGetString("err").(lua.LString); ok {
			return string(e)
		}
	}
	if apiErr.Type == lua.ApiErrorPanic {
		return "ERR " + apiErr.Object.String()
	}
	return "ERR " + luaToString(apiErr.Object)
}

// luaStringArg is Lua's lua_isstring and lua_tostring: strings, and numbers
// as strings.
func luaStringArg(v lua.LValue) (string, bool) {
	switch v := v.(type) {
	case lua.LString:
		return string(v), true
	case lua.LNumber:
		return v.String(), true
	}
	return "", false
}

// registerFunction is redis.register_function, available while a library
// loads: (name, callback), or one table of named arguments function_name,
// callback, flags and description.
func (fs *functions) registerFunction(L *lua.LState) int {
	li := fs.loading
	if li == nil {
		raise(L, "redis.register_function can only be called on FUNCTION LOAD command")
	}
	f := &function{lib: li}
	switch L.GetTop() {
	case 1:
		t, ok := L.Get(1).(*lua.LTable)
		if !ok {
			raise(L, "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
		}
		var msg string
		hasName := false
		t.ForEach(func(k, v lua.LValue) {
			if msg != "" {
				return
			}
			key, ok := luaStringArg(k)
			if !ok {
				msg = "named argument key given to redis.register_function is not a string"
				return
			}
			switch strings.ToLower(key) {
			case "function_name":
				if f.name, ok = luaStringArg(v); !ok {
					msg = "function_name argument given to redis.register_function must be a string"
				}
				hasName = ok
			case "description":
				if f.desc, ok = luaStringArg(v); !ok {
					msg = "description argument given to redis.register_function must be a string"
				}
				f.hasDesc = ok
			case "callback":
				if f.fn, ok = v.(*lua.LFunction); !ok {
					msg = "callback argument given to redis.register_function must be a function"
				}
			case "flags":
				ft, ok := v.(*lua.LTable)
				if !ok {
					msg = "flags argument to redis.register_function must be a table representing function flags"
					return
				}
				if f.flags, ok = readFnFlags(ft); !ok {
					msg = "unknown flag given"
				}
			default:
				msg = "unknown argument given to redis.register_function"
			}
		})
		switch {
		case msg != "":
			raise(L, msg)
		case !hasName:
			raise(L, "redis.register_function must get a function name argument")
		case f.fn == nil:
			raise(L, "redis.register_function must get a callback argument")
		}
	case 2:
		var ok bool
		if f.name, ok = luaStringArg(L.Get(1)); !ok {
			raise(L, "first argument to redis.register_function must be a string")
		}
		if f.fn, ok = L.Get(2).(*lua.LFunction); !ok {
			raise(L, "second argument to redis.register_function must be a function")
		}
	default:
		raise(L, "wrong number of arguments to redis.register_function")
	}
	if !validFnName(f.name) {
		raise(L, errFnBadName)
	}
	for _, g := range li.funcs {
		if g.name == f.name {
			raise(L, "Function already exists in the library")
		}
	}
	li.funcs = append(li.funcs, f)
	return 0
}

// readFnFlags reads a flags table: strings (or numbers) from index 1 up
// to the first nil, each a flag's name in any case.
func readFnFlags(t *lua.LTable) (fnFlags, bool) {
	var flags fnFlags
	for i := 1; ; i++ {
		v := t.RawGetInt(i)
		if v == lua.LNil {
			return flags, true
		}
		s, ok := luaStringArg(v)
		if !ok {
			return 0, false
		}
		found := false
		for j, name := range fnFlagNames {
			if strings.EqualFold(name, s) {
				flags |= 1 << j
				found = true
				break
			}
		}
		if !found {
			return 0, false
		}
	}
}

// fcallCmd is FCALL and FCALL_RO.
func fcallCmd(c *Ctx, ro bool) {
	e := c.e
	s := e.scripting()
	f := s.fns.lookup(c.Arg(1))
	if f != nil && !c.Client.Master {
		// The function's flags stand for the command's, as Redis checks
		// them before it runs the command.
		writes := f.flags&fnNoWrites == 0
		switch {
		case writes && e.cfg.Role != "master":
			c.Error(ErrReadOnly)
			return
		case writes && e.writeErr != "":
			c.Error(e.writeErr)
			return
		case e.masterDn && f.flags&fnAllowStale == 0:
			c.Error(ErrMasterDown)
			return
		}
	}
	if len(e.monitors) > 0 {
		e.feedMonitors(c.Client, c.Cmd, c.Args)
	}
	if f == nil {
		c.Error(errFnNotFound)
		return
	}
	numkeys, ok := num.ParseInt(c.Args[2])
	switch {
	case !ok:
		c.Error("ERR Bad number of keys provided")
		return
	case numkeys > int64(len(c.Args)-3):
		c.Error("ERR Number of keys can't be greater than number of args")
		return
	case numkeys < 0:
		c.Error("ERR Number of keys can't be negative")
		return
	case ro && f.flags&fnNoWrites == 0:
		c.Error(errFnWriteRO)
		return
	}
	s.fcall(c, f, int(numkeys), ro || f.flags&fnNoWrites != 0)
}

// fcall runs a function for c and writes its reply, as exec runs a script.
func (s *scripting) fcall(c *Ctx, f *function, numkeys int, readOnly bool) {
	e := c.e
	L := s.fns.env.L
	keys := L.CreateTable(numkeys, 0)
	for i, k := range c.Args[3 : 3+numkeys] {
		keys.RawSetInt(i+1, lua.LString(k))
	}
	argv := L.CreateTable(len(c.Args)-3-numkeys, 0)
	for i, a := range c.Args[3+numkeys:] {
		argv.RawSetInt(i+1, lua.LString(a))
	}
	run := &scriptRun{sha: f.name, caller: c.Client, readOnly: readOnly, allowStale: f.flags&fnAllowStale != 0, resp: 2, cmd: c.Cmd, args: c.Args}
	s.run = run
	s.client.DB = c.Client.DB
	s.client.W.Proto = 2
	s.client.W.Reset()
	s.errLine = 0
	defer func() {
		s.run = nil
		L.SetTop(0)
	}()

	ctx, cancel := context.WithCancel(context.Background())
	L.SetContext(ctx)
	e.busy.begin(cancel)
	e.busy.setFunction(f.name, c.Args, len(s.fns.reg.libs), len(s.fns.reg.funcs))
	L.Push(f.fn)
	L.Push(keys)
	L.Push(argv)
	err := L.PCall(2, 1, L.NewFunction(s.errorHandler))
	e.busy.end()
	L.RemoveContext()
	cancel()
	if err != nil {
		if e.busy.killed.Load() {
			c.Error(errKilled + " script: " + f.name + ", on @user_function:" + itoa(max(s.errLine, 1)) + ".")
			return
		}
		c.Error(s.errorReply(err, f.name, "user_function"))
		return
	}
	s.reply(c.W, L.Get(-1), run.resp, 0)
}

// loadTimeout is how long c's load-time code may run: a master's effects
// are obeyed whatever they take.
func loadTimeout(c *Ctx) time.Duration {
	if c.Client.Master {
		return 0
	}
	return fnLoadTimeout
}

func functionLoadCmd(c *Ctx) {
	replace := false
	i := 2
	for ; i < len(c.Args)-1; i++ {
		if !c.Is(i, "replace") {
			c.Error("ERR Unknown option given: " + c.Arg(i))
			return
		}
		replace = true
	}
	fs := c.e.scripting().functions(c.e)
	name, msg := fs.create(&fs.reg, string(c.Args[i]), replace, loadTimeout(c))
	if msg != "" {
		c.Error("ERR " + msg)
		return
	}
	c.Propagate()
	c.W.BulkString(name)
}

func functionDeleteCmd(c *Ctx) {
	var li *library
	if s := c.e.lua; s != nil && s.fns != nil {
		li = s.fns.reg.libs[c.Arg(2)]
	}
	if li == nil {
		c.Error("ERR Library not found")
		return
	}
	c.e.lua.fns.reg.unlink(li)
	c.Propagate()
	c.W.OK()
}

func functionFlushCmd(c *Ctx) {
	switch {
	case len(c.Args) > 3:
		c.subcommandSyntaxError()
		return
	case len(c.Args) == 3 && !c.Is(2, "sync") && !c.Is(2, "async"):
		c.Error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
		return
	}
	if s := c.e.lua; s != nil && s.fns != nil {
		s.fns.reg = newRegistry()
	}
	c.Propagate()
	c.W.OK()
}

func functionListCmd(c *Ctx) {
	withCode, hasPattern := false, false
	var pattern string
	for i := 2; i < len(c.Args); i++ {
		switch {
		case !withCode && c.Is(i, "withcode"):
			withCode = true
		case !hasPattern && c.Is(i, "libraryname"):
			if i >= len(c.Args)-1 {
				c.Error("ERR library name argument was not given")
				return
			}
			i++
			pattern, hasPattern = string(c.Args[i]), true
		default:
			c.Error("ERR Unknown argument " + c.Arg(i))
			return
		}
	}
	var libs []*library
	if s := c.e.lua; s != nil && s.fns != nil {
		for _, li := range s.fns.reg.sorted() {
			if !hasPattern || glob.MatchFold(pattern, li.name) {
				libs = append(libs, li)
			}
		}
	}
	w := c.W
	w.Array(len(libs))
	for _, li := range libs {
		if withCode {
			w.Map(4)
		} else {
			w.Map(3)
		}
		w.BulkString("library_name")
		w.BulkString(li.name)
		w.BulkString("engine")
		w.BulkString("LUA")
		w.BulkString("functions")
		w.Array(len(li.funcs))
		for _, f := range li.funcs {
			w.Map(3)
			w.BulkString("name")
			w.BulkString(f.name)
			w.BulkString("description")
			if f.hasDesc {
				w.BulkString(f.desc)
			} else {
				w.Null()
			}
			w.BulkString("flags")
			n := 0
			for j := range fnFlagNames {
				if f.flags&(1<<j) != 0 {
					n++
				}
			}
			w.Set(n)
			for j, name := range fnFlagNames {
				if f.flags&(1<<j) != 0 {
					w.Status(name)
				}
			}
		}
		if withCode {
			w.BulkString("library_code")
			w.BulkString(li.code)
		}
	}
}

func functionStatsCmd(c *Ctx) {
	libs, funcs := c.e.functionCounts()
	writeFunctionStats(c.W, "", nil, 0, libs, funcs)
}

// writeFunctionStats writes FUNCTION STATS's reply: the running function
// (name "" for none) and the library and function counts.
func writeFunctionStats(w *resp.Writer, name string, args [][]byte, ms int64, libs, funcs int) {
	w.Map(2)
	w.BulkString("running_script")
	if name == "" {
		w.Null()
	} else {
		w.Map(3)
		w.BulkString("name")
		w.BulkString(name)
		w.BulkString("command")
		w.Array(len(args))
		for _, a := range args {
			w.Bulk(a)
		}
		w.BulkString("duration_ms")
		w.Int(ms)
	}
	w.BulkString("engines")
	w.Map(1)
	w.BulkString("LUA")
	w.Map(2)
	w.BulkString("libraries_count")
	w.Int(int64(libs))
	w.BulkString("functions_count")
	w.Int(int64(funcs))
}

// functionCodec returns the engine's FunctionCodec, replying an error when
// it has none.
func functionCodec(c *Ctx) (FunctionCodec, bool) {
	fc, ok := c.e.cfg.Values.(FunctionCodec)
	if !ok {
		c.Error(errNoFunctionCodec)
	}
	return fc, ok
}

func functionDumpCmd(c *Ctx) {
	fc, ok := functionCodec(c)
	if !ok {
		return
	}
	c.W.Bulk(fc.DumpFunctions(c.e.FunctionLibraries()))
}

func functionRestoreCmd(c *Ctx) {
	if len(c.Args) > 4 {
		c.subcommandSyntaxError()
		return
	}
	policy := "append"
	if len(c.Args) == 4 {
		switch {
		case c.Is(3, "append"), c.Is(3, "replace"), c.Is(3, "flush"):
			policy = strings.ToLower(c.Arg(3))
		default:
			c.Error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
			return
		}
	}
	fc, ok := functionCodec(c)
	if !ok {
		return
	}
	codes, err := fc.RestoreFunctions(c.Args[2])
	if errors.Is(err, ErrDumpPayload) {
		c.Error("ERR " + ErrDumpPayload.Error())
		return
	}
	fs := c.e.scripting().functions(c.e)
	tmp := newRegistry()
	for _, code := range codes {
		if _, msg := fs.create(&tmp, code, false, loadTimeout(c)); msg != "" {
			c.Error("ERR " + msg)
			return
		}
	}
	if err != nil {
		c.Error("ERR " + err.Error())
		return
	}
	if policy == "flush" {
		fs.reg = tmp
	} else if msg := fs.reg.join(&tmp, policy == "replace"); msg != "" {
		c.Error("ERR " + msg)
		return
	}
	c.Propagate()
	c.W.OK()
}

// join adds src's libraries to r. A library of the same name is an error,
// or replaced when replace is set; a function of the same name as one of
// r's is an error. On error r is left as it was.
func (r *fnRegistry) join(src *fnRegistry, replace bool) string {
	libs := src.sorted()
	var old []*library
	undo := func() {
		for _, li := range old {
			r.link(li)
		}
	}
	for _, li := range libs {
		if o := r.libs[li.name]; o != nil {
			if !replace {
				undo()
				return "Library " + li.name + " already exists"
			}
			r.unlink(o)
			old = append(old, o)
		}
	}
	for _, li := range libs {
		for _, f := range li.funcs {
			if r.funcs[strings.ToLower(f.name)] != nil {
				undo()
				return "Function " + f.name + " already exists"
			}
		}
	}
	for _, li := range libs {
		r.link(li)
	}
	return ""
}

func functionHelpCmd(c *Ctx) {
	helpReply(c, "FUNCTION",
		"LOAD [REPLACE] <FUNCTION CODE>",
		"    Load a library of functions (its first line names it: #!lua name=<library>); REPLACE replaces",
		"    a library of the same name.",
		"DELETE <LIBRARY NAME>",
		"    Delete a library and its functions.",
		"LIST [LIBRARYNAME PATTERN] [WITHCODE]",
		"    List the libraries (those whose name matches PATTERN) with their engine and functions",
		"    (name, description, flags), and their code with WITHCODE.",
		"STATS",
		"    Reply with the function running now (name, command, duration in milliseconds) or nil,",
		"    and with each engine's library and function counts.",
		"KILL",
		"    Stop the function running now, if it has not written.",
		"FLUSH [ASYNC|SYNC]",
		"    Delete every library.",
		"DUMP",
		"    Reply with every library serialized, as FUNCTION RESTORE takes them.",
		"RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
		"    Load the libraries of a FUNCTION DUMP payload. FLUSH deletes the existing libraries first;",
		"    APPEND (the default) fails if a library exists; REPLACE replaces a library of the same name",
		"    (a function name another library has still fails).",
	)
}

// functionCounts returns how many libraries and functions are loaded.
func (e *Engine) functionCounts() (libs, funcs int) {
	if e.lua == nil || e.lua.fns == nil {
		return 0, 0
	}
	return len(e.lua.fns.reg.libs), len(e.lua.fns.reg.funcs)
}

// FunctionLibraries returns the code of every function library, by library
// name: what a snapshot holds of them. The caller holds the lock.
func (e *Engine) FunctionLibraries() []string {
	if e.lua == nil || e.lua.fns == nil {
		return nil
	}
	libs := e.lua.fns.reg.sorted()
	out := make([]string, len(libs))
	for i, li := range libs {
		out[i] = li.code
	}
	return out
}

// ReplaceFunctions makes codes (from a snapshot) the whole set of function
// libraries, as loading an RDB does. On error (a library that does not
// load, or two that collide) the libraries are left as they were. The
// caller holds the lock.
func (e *Engine) ReplaceFunctions(codes []string) error {
	if len(codes) == 0 && (e.lua == nil || e.lua.fns == nil) {
		return nil
	}
	fs := e.scripting().functions(e)
	tmp := newRegistry()
	for _, code := range codes {
		if _, msg := fs.create(&tmp, code, false, 0); msg != "" {
			return errors.New("load function library: " + msg)
		}
	}
	fs.reg = tmp
	return nil
}
