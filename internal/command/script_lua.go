package command

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/ferrydb/ferry/internal/acl"
	"github.com/ferrydb/ferry/internal/luaenv"
	"github.com/ferrydb/ferry/internal/resp"
)

// The redis table scripts call, and the conversions between Lua values
// and replies, following Redis 7.0's script_lua.c rules.

// maxReplyDepth bounds the nesting of a script's reply (a table that holds
// itself would never end).
const maxReplyDepth = 1000

// Redis's log levels for redis.log, and its replication flags.
const (
	logDebug = iota
	logVerbose
	logNotice
	logWarning
)

// redisLib returns the redis table, made in L.
func (s *scripting) redisLib(e *Engine, L *lua.LState) *lua.LTable {
	t := L.NewTable()
	fns := map[string]lua.LGFunction{
		"call":          func(L *lua.LState) int { return s.call(L, e, true) },
		"pcall":         func(L *lua.LState) int { return s.call(L, e, false) },
		"acl_check_cmd": func(L *lua.LState) int { return s.aclCheckCmd(L, e) },
		"sha1hex": func(L *lua.LState) int {
			if L.GetTop() != 1 {
				raise(L, "wrong number of arguments")
			}
			L.Push(lua.LString(sha1hex(lua.LVAsString(L.Get(1)))))
			return 1
		},
		"error_reply":  func(L *lua.LState) int { return replyTable(L, "err") },
		"status_reply": func(L *lua.LState) int { return replyTable(L, "ok") },
		"log": func(L *lua.LState) int {
			if L.GetTop() < 2 {
				raise(L, "redis.log() requires two arguments or more.")
			}
			level, ok := luaenv.ToNumber(L.Get(1))
			if !ok {
				raise(L, "First argument must be a number (log level).")
			}
			if level < logDebug || level > logWarning {
				raise(L, "Invalid debug level.")
			}
			parts := make([]string, 0, L.GetTop()-1)
			for i := 2; i <= L.GetTop(); i++ {
				parts = append(parts, lua.LVAsString(L.Get(i)))
			}
			lv := slog.LevelDebug
			switch int(level) {
			case logNotice:
				lv = slog.LevelInfo
			case logWarning:
				lv = slog.LevelWarn
			}
			slog.Log(context.Background(), lv, "script log", "msg", strings.Join(parts, " "))
			return 0
		},
		"setresp": func(L *lua.LState) int {
			if L.GetTop() != 1 {
				raise(L, "redis.setresp() requires one argument.")
			}
			// lua_tonumber, as Redis reads it: a numeric string counts,
			// anything else is 0.
			f, _ := luaenv.ToNumber(L.Get(1))
			v := int(f)
			if v != 2 && v != 3 {
				raise(L, "RESP version must be 2 or 3.")
			}
			if s.run != nil {
				s.run.resp = v
				s.client.W.Proto = v
			}
			return 0
		},
		// Effects are always what replicates: these are accepted and change
		// nothing, as in Redis 7.0.
		"replicate_commands": func(L *lua.LState) int { L.Push(lua.LTrue); return 1 },
		"set_repl": func(L *lua.LState) int {
			if L.GetTop() != 1 {
				raise(L, "redis.set_repl() requires one argument.")
			}
			if f, _ := luaenv.ToNumber(L.Get(1)); int(f) < 0 || int(f) > 3 {
				raise(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
			}
			return 0
		},
		"breakpoint": func(L *lua.LState) int { L.Push(lua.LFalse); return 1 },
		"debug":      func(L *lua.LState) int { return 0 },
	}
	for name, fn := range fns {
		t.RawSetString(name, L.NewFunction(fn))
	}
	for name, v := range map[string]int{
		"LOG_DEBUG": logDebug, "LOG_VERBOSE": logVerbose, "LOG_NOTICE": logNotice, "LOG_WARNING": logWarning,
		"REPL_NONE": 0, "REPL_AOF": 1, "REPL_SLAVE": 2, "REPL_REPLICA": 2, "REPL_ALL": 3,
	} {
		t.RawSetString(name, lua.LNumber(v))
	}
	t.RawSetString("REDIS_VERSION", lua.LString(e.cfg.Version))
	t.RawSetString("REDIS_VERSION_NUM", lua.LNumber(versionNum(e.cfg.Version)))
	// Redis replaces the global pcall along with the redis table.
	if pcall, ok := L.G.Global.RawGetString("pcall").(*lua.LFunction); ok {
		L.G.Global.RawSetString("pcall", L.NewFunction(func(L *lua.LState) int { return pcallMessage(L, pcall) }))
	}
	return t
}

// pcallMessage is Lua's pcall as Redis 7.0 gives it to scripts: an error
// table with an err field (a redis.call error) comes back as that
// message, as errors were strings before Redis 7, so that
// pcall(redis.call, ...) returns false and the error's text.
func pcallMessage(L *lua.LState, pcall *lua.LFunction) int {
	if L.GetTop() == 0 {
		L.ArgError(1, "value expected") // named pcall, as before
	}
	L.Insert(pcall, 1)
	L.Call(L.GetTop()-1, lua.MultRet)
	if L.Get(1) == lua.LFalse {
		if t, ok := L.Get(2).(*lua.LTable); ok {
			switch msg := L.GetField(t, "err").(type) {
			case lua.LString, lua.LNumber:
				L.Replace(2, msg)
			default:
				// Redis leaves the field it read on the stack:
				// pcall(error, {}) returns false, {}, nil
				L.Push(msg)
			}
		}
	}
	return L.GetTop()
}

// versionNum is Redis's 0x00MMmmpp version number.
func versionNum(v string) int {
	n := 0
	for _, p := range strings.SplitN(v, ".", 3) {
		d, _ := strconv.Atoi(p)
		n = n<<8 | d&0xff
	}
	return n
}

// replyTable is redis.error_reply and redis.status_reply: a table with the
// one string argument under field.
func replyTable(L *lua.LState, field string) int {
	s, ok := L.Get(1).(lua.LString)
	if L.GetTop() != 1 || !ok {
		L.Push(errTable(L, "ERR wrong number or type of arguments"))
		return 1
	}
	t := L.NewTable()
	if field == "err" {
		s = lua.LString(errorReplyText(string(s)))
	}
	t.RawSetString(field, s)
	L.Push(t)
	return 1
}

// errorReplyText is the error redis.error_reply makes of msg, as Redis's
// luaPushErrorBuff does: one leading '-' is dropped; a message with no
// space gets the code ERR; CR and LF are trimmed from the text after the
// code.
func errorReplyText(msg string) string {
	msg = strings.TrimPrefix(msg, "-")
	code, text, ok := strings.Cut(msg, " ")
	if !ok {
		code, text = "ERR", msg
	}
	return code + " " + strings.Trim(text, "\r\n")
}

// raise raises an "ERR msg" error table from a redis.* function, as Redis
// does (no position in the message).
func raise(L *lua.LState, msg string) {
	L.Error(errTable(L, "ERR "+msg), 0)
}

// errTable returns {err=msg}.
func errTable(L *lua.LState, msg string) *lua.LTable {
	t := L.NewTable()
	t.RawSetString("err", lua.LString(msg))
	return t
}

// fail ends a redis.call (raising the error) or a redis.pcall (returning
// it as an error table).
func fail(L *lua.LState, raise bool, msg string) int {
	t := errTable(L, msg)
	if raise {
		L.Error(t, 0)
	}
	L.Push(t)
	return 1
}

// reject fails a call that the script's checks refused (cmd nil: an
// unknown command), as Redis's scriptCall does: the error counts at once
// in INFO errorstats and total_error_replies, and in the command's
// rejected_calls, and its table is marked counted, so that a script
// that returns or raises it does not count it again.
func reject(L *lua.LState, e *Engine, raise bool, cmd *Command, msg string) int {
	e.stats.ErrorReplies++
	e.obs.countError([]byte(msg))
	if cmd != nil {
		cmd.stats.rejected++
	}
	t := errTable(L, msg)
	markCounted(t)
	if raise {
		L.Error(t, 0)
	}
	L.Push(t)
	return 1
}

// call is redis.call (raise) and redis.pcall.
func (s *scripting) call(L *lua.LState, e *Engine, raise bool) int {
	// Commands answered while the script is busy run between its calls
	// (script_busy.go).
	e.busy.gate.Lock()
	defer e.busy.gate.Unlock()
	if e.busy.killed.Load() {
		// Stopped by SCRIPT KILL while it waited for the gate: the VM
		// ends it at its next instruction, and the command must not run.
		return fail(L, true, errKilled)
	}
	args, msg := luaCallArgs(L)
	if msg != "" {
		return fail(L, raise, msg)
	}
	run := s.run
	if run == nil {
		L.RaiseError("redis.call can only be used inside a script")
	}
	cmd := e.tab.Lookup(args[0])
	if cmd != nil && cmd.Sub != nil && len(args) >= 2 {
		cmd = cmd.Sub[strings.ToLower(string(args[1]))]
	}
	switch {
	case cmd == nil:
		return reject(L, e, raise, nil, errScriptUnknown)
	case (cmd.Arity > 0 && cmd.Arity != len(args)) || len(args) < -cmd.Arity:
		return reject(L, e, raise, cmd, errScriptArity)
	case cmd.Flags&NoScript != 0:
		return reject(L, e, raise, cmd, errScriptNoScript)
	case e.masterDn && cmd.Flags&Stale == 0 && !run.caller.Master:
		// A replica whose link is down, with replica-serve-stale-data no:
		// a script flagged allow-stale runs there, but only calls commands
		// allowed on a stale replica, as in Redis.
		if run.allowStale {
			return reject(L, e, raise, cmd, errScriptStale)
		}
		return reject(L, e, raise, cmd, ErrMasterDown)
	}
	if msg := e.scriptDenied(run, cmd, args); msg != "" {
		// ACL (acl.go): the caller's user, after the stale check and
		// before the write checks, as Redis's scriptCall.
		return reject(L, e, raise, cmd, msg)
	}
	if cmd.Flags&MayReplicate != 0 && run.readOnly && !run.caller.Master {
		return reject(L, e, raise, cmd, errScriptNoWrites)
	}
	if cmd.Flags&Write != 0 && !run.caller.Master {
		switch {
		case run.readOnly:
			return reject(L, e, raise, cmd, errScriptNoWrites)
		case e.cfg.Role != "master":
			return reject(L, e, raise, cmd, ErrReadOnly)
		case e.writeErr != "":
			return reject(L, e, raise, cmd, e.writeErr)
		case e.maxWrite > 0 && len(e.eff.buf)+requestBytes(args) > e.maxWrite:
			// Everything a script writes is one unit, and one log entry
			// must hold it.
			return reject(L, e, raise, cmd, e.tooLargeForEntry("the script's writes are more than "+itoa(len(e.eff.buf))+" bytes"))
		}
	}
	if cmd.Flags&Write != 0 {
		e.busy.wrote.Store(true)
	}
	cl := s.client
	e.call(cl, cmd, args)
	reply := cl.W.Buf
	if len(reply) > 0 && reply[0] == '-' && raise {
		msg := string(reply[1 : len(reply)-2])
		cl.W.Reset()
		t := errTable(L, msg)
		s.raised = t // its table shows no mark, as Redis's raised error
		L.Error(t, 0)
	}
	v, _ := s.parseReply(L, reply)
	if t, ok := v.(*lua.LTable); ok && reply[0] == '-' {
		markCounted(t)
	}
	cl.W.Reset()
	L.Push(v)
	return 1
}

// luaCallArgs converts the arguments of redis.call (and pcall,
// acl_check_cmd) to a command line, or returns the error.
func luaCallArgs(L *lua.LState) ([][]byte, string) {
	n := L.GetTop()
	if n == 0 {
		return nil, errScriptNoArgs
	}
	args := make([][]byte, n)
	for i := range args {
		switch v := L.Get(i + 1).(type) {
		case lua.LString:
			args[i] = []byte(v)
		case lua.LNumber:
			args[i] = formatArg(float64(v))
		default:
			return nil, errScriptArgType
		}
	}
	return args, ""
}

// aclCheckCmd is redis.acl_check_cmd: whether the user running the
// script may run a command line, without running it.
func (s *scripting) aclCheckCmd(L *lua.LState, e *Engine) int {
	run := s.run
	if run == nil {
		L.RaiseError("redis.acl_check_cmd can only be called inside a script invocation")
	}
	args, msg := luaCallArgs(L)
	if msg != "" {
		return fail(L, true, msg)
	}
	cmd := e.tab.Lookup(args[0])
	if cmd != nil && cmd.Sub != nil && len(args) >= 2 {
		cmd = cmd.Sub[strings.ToLower(string(args[1]))]
	}
	if cmd == nil {
		return fail(L, true, "ERR Invalid command passed to redis.acl_check_cmd()")
	}
	ok := run.caller.aclUnrestricted()
	if !ok {
		res, _ := e.aclCheck(run.caller.user, cmd, args)
		ok = res == acl.OK
	}
	L.Push(lua.LBool(ok))
	return 1
}

// countedField marks the error tables of the errors a command returned
// to redis.call or redis.pcall: INFO counted them already, and does not
// count them again when the script returns them (Redis's field name).
const countedField = "ignore_error_stats_update"

func markCounted(t *lua.LTable) { t.RawSetString(countedField, lua.LTrue) }

func countedError(t *lua.LTable) bool { return t.RawGetString(countedField) == lua.LTrue }

// formatArg formats a number argument of redis.call as Redis does
// ("%.17g").
func formatArg(f float64) []byte {
	switch {
	case math.IsNaN(f):
		return []byte("-nan")
	case math.IsInf(f, 1):
		return []byte("inf")
	case math.IsInf(f, -1):
		return []byte("-inf")
	}
	return resp.AppendG17(nil, f)
}

// parseReply converts one reply written by a command into a Lua value:
// status replies become {ok=...}, errors {err=...}, null bulk strings and
// arrays false, and with RESP3 maps {map=...}, sets {set=...}, doubles
// {double=...}, big numbers {big_number=...}, verbatim strings
// {verbatim_string={format=..., string=...}}, null nil. It returns the
// bytes after the reply.
func (s *scripting) parseReply(L *lua.LState, b []byte) (lua.LValue, []byte) {
	if len(b) < 3 {
		return lua.LNil, nil
	}
	i := bytes.Index(b, []byte("\r\n"))
	line, rest := b[1:i], b[i+2:]
	switch b[0] {
	case '+':
		t := L.NewTable()
		t.RawSetString("ok", lua.LString(line))
		return t, rest
	case '-':
		return errTable(L, string(line)), rest
	case ':':
		n, _ := strconv.ParseInt(string(line), 10, 64)
		return lua.LNumber(n), rest
	case '$', '=':
		n, _ := strconv.Atoi(string(line))
		if n < 0 {
			return lua.LFalse, rest
		}
		str := string(rest[:n])
		rest = rest[n+2:]
		if b[0] == '$' {
			return lua.LString(str), rest
		}
		v := L.NewTable()
		v.RawSetString("format", lua.LString(str[:3]))
		v.RawSetString("string", lua.LString(str[4:]))
		t := L.NewTable()
		t.RawSetString("verbatim_string", v)
		return t, rest
	case '*', '~', '%', '>':
		n, _ := strconv.Atoi(string(line))
		if n < 0 {
			return lua.LFalse, rest
		}
		elems := L.CreateTable(n, 0)
		var v, k lua.LValue
		for j := 1; j <= n; j++ {
			switch b[0] {
			case '%':
				k, rest = s.parseReply(L, rest)
				v, rest = s.parseReply(L, rest)
				elems.RawSet(k, v)
			case '~':
				v, rest = s.parseReply(L, rest)
				elems.RawSet(v, lua.LTrue)
			default:
				v, rest = s.parseReply(L, rest)
				elems.RawSetInt(j, v)
			}
		}
		switch b[0] {
		case '%':
			t := L.NewTable()
			t.RawSetString("map", elems)
			return t, rest
		case '~':
			t := L.NewTable()
			t.RawSetString("set", elems)
			return t, rest
		}
		return elems, rest
	case '_':
		return lua.LNil, rest
	case '#':
		return lua.LBool(len(line) > 0 && line[0] == 't'), rest
	case ',':
		f, _ := strconv.ParseFloat(string(line), 64)
		switch string(line) {
		case "inf":
			f = math.Inf(1)
		case "-inf":
			f = math.Inf(-1)
		case "nan":
			f = math.NaN()
		}
		t := L.NewTable()
		t.RawSetString("double", lua.LNumber(f))
		return t, rest
	case '(':
		t := L.NewTable()
		t.RawSetString("big_number", lua.LString(line))
		return t, rest
	}
	return lua.LNil, nil
}

// reply writes a script's result to w: strings as bulk strings, numbers
// as integers (truncated), true as 1 and false as a null (booleans with
// RESP3 after redis.setresp(3)), tables with err, ok, double, big_number,
// map, set or verbatim_string as those replies, other tables as arrays up
// to their first nil.
func (s *scripting) reply(w *resp.Writer, v lua.LValue, scriptResp, depth int) {
	if depth > maxReplyDepth {
		w.Error(errScriptStackFull)
		return
	}
	switch v := v.(type) {
	case lua.LString:
		w.BulkString(string(v))
	case lua.LNumber:
		w.Int(luaInt(float64(v)))
	case lua.LBool:
		switch {
		case scriptResp == 3:
			w.Bool(bool(v))
		case bool(v):
			w.Int(1)
		default:
			w.Null()
		}
	case *lua.LTable:
		s.replyTable(w, v, scriptResp, depth)
	default:
		w.Null()
	}
}

func (s *scripting) replyTable(w *resp.Writer, t *lua.LTable, scriptResp, depth int) {
	if e, ok := t.RawGetString("err").(lua.LString); ok {
		w.Error(string(e))
		if depth == 0 {
			s.noStats = countedError(t)
		}
		return
	}
	if st, ok := t.RawGetString("ok").(lua.LString); ok {
		w.Status(noNewlines(string(st)))
		return
	}
	if d, ok := t.RawGetString("double").(lua.LNumber); ok {
		w.Double(float64(d))
		return
	}
	if b, ok := t.RawGetString("big_number").(lua.LString); ok {
		if w.Proto == 3 {
			w.Raw([]byte("(" + noNewlines(string(b)) + "\r\n"))
		} else {
			w.BulkString(string(b))
		}
		return
	}
	// maps and sets in the order Redis's lua_next gives (Lua 5.1's table
	// layout), not gopher-lua's insertion order
	if m, ok := t.RawGetString("map").(*lua.LTable); ok {
		keys, vals := luaenv.TableEntries(m)
		w.Map(len(keys))
		for i, k := range keys {
			s.reply(w, k, scriptResp, depth+1)
			s.reply(w, vals[i], scriptResp, depth+1)
		}
		return
	}
	if set, ok := t.RawGetString("set").(*lua.LTable); ok {
		keys, _ := luaenv.TableEntries(set)
		w.Set(len(keys))
		for _, k := range keys {
			s.reply(w, k, scriptResp, depth+1)
		}
		return
	}
	if vs, ok := t.RawGetString("verbatim_string").(*lua.LTable); ok {
		format, _ := vs.RawGetString("format").(lua.LString)
		str, _ := vs.RawGetString("string").(lua.LString)
		if w.Proto == 3 && len(format) == 3 {
			w.Raw([]byte("=" + itoa(len(str)+4) + "\r\n" + string(format) + ":" + string(str) + "\r\n"))
		} else {
			w.BulkString(string(str))
		}
		return
	}
	n := 0
	for t.RawGetInt(n+1) != lua.LNil {
		n++
	}
	w.Array(n)
	for j := 1; j <= n; j++ {
		s.reply(w, t.RawGetInt(j), scriptResp, depth+1)
	}
}

// luaInt converts a Lua number to a reply integer as C's cast does on
// x86-64: truncated, and the minimum int64 when out of range or NaN.
func luaInt(f float64) int64 {
	if math.IsNaN(f) || f >= math.MaxInt64 || f < math.MinInt64 {
		return math.MinInt64
	}
	return int64(f)
}

// noNewlines replaces CR and LF with spaces, as Redis does in status replies.
func noNewlines(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
}

func itoa(n int) string { return strconv.Itoa(n) }
