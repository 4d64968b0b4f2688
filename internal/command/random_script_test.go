package command_test

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// The tests here run the step functions of the randomized differential
// tests (random_*_test.go) with their commands wrapped, by a pair of
// diffConns (wrapSide) standing between the diff and the two servers:
//
//   - in Lua: EVAL, EVALSHA (after SCRIPT LOAD) or FCALL of a library
//     function running `redis.call(unpack(ARGV))` or `redis.pcall`, with
//     or without `redis.setresp(3)`; EVAL_RO and FCALL_RO for read-only
//     commands, and now and then for a write, which must fail alike; and
//     runs of consecutive commands as one script returning a table of
//     their replies;
//   - in MULTI/EXEC: one command as a transaction of its own, or runs of
//     1-5 consecutive commands as one, now and then with a WATCH of a key
//     they touch written from a second connection (EXEC replies nil), a
//     queue-time error (EXECABORT), a runtime error, or a DISCARD.
//
// Every reply still goes back to the step function, which compares it as
// it does unwrapped: the replies have crossed Lua's RESP-to-Lua-to-RESP
// conversions (or EXEC's array) on both servers. Only commands the step
// sends with d.do (compared byte for byte) are grouped: a grouped
// command's reply is not known until the group runs, so the step gets a
// placeholder (MULTI's real +QUEUED or the queue-time error; for a script
// group, +QUEUED), and the group's whole reply is compared when it runs.
// Commands the step sends with d.send and compares in its own way (random
// picks, hash-table order, times) are wrapped one at a time and their
// unwrapped reply handed back. The step's own look-ups (d.redis.Do,
// d.ferry.Do, DEBUG DIGEST, alignExpiry) are not wrapped, and first run
// any pending group.
//
// A failure prints the history as commands that replay by hand (scripts
// and groups as the EVAL, EVALSHA or FCALL sent); FERRY_WRAP_TRACE=1 also
// logs every command sent with its reply (in replication runs, every unit
// logged). Longer runs: FERRY_DIFF_SEED=11 FERRY_DIFF_STEPS=3000 go test
// ./internal/command -run 'TestRandom(In(Script|Multi)AgainstRedis|ReplicateIn(Script|Multi))$'
//
// CONFIG and DEBUG are never wrapped: Redis flags them noscript, so a
// step's CONFIG SET of encoding limits would be refused and the step would
// predict encodings from limits the servers do not have; and in a
// replication run the CONFIG SET goes to the replica too (configMirror),
// which it must not when a transaction is discarded.

// The scripts the wrapper runs.
const (
	luaCall    = "return redis.call(unpack(ARGV))"
	luaPcall   = "return redis.pcall(unpack(ARGV))"
	luaCall3   = "redis.setresp(3) return redis.call(unpack(ARGV))"
	luaPcall3  = "redis.setresp(3) return redis.pcall(unpack(ARGV))"
	luaGroupOf = `redis.setresp(tonumber(ARGV[2]))
local f, r, i = redis[ARGV[1]], {}, 3
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  r[#r+1] = f(unpack(ARGV, i+1, i+n))
  i = i + n + 1
end
return r`
	luaLibrary = "#!lua name=rdiff\n" +
		"local function call(keys, args) return redis.call(unpack(args)) end\n" +
		"redis.register_function('call', call)\n" +
		"redis.register_function('pcall', function(keys, args) return redis.pcall(unpack(args)) end)\n" +
		"redis.register_function('call3', function(keys, args) redis.setresp(3) return redis.call(unpack(args)) end)\n" +
		"redis.register_function{function_name='ro', callback=call, flags={'no-writes'}}\n" +
		"redis.register_function('group', function(keys, ARGV)\n" + luaGroupOf + "\nend)\n"
)

// sha1Hex is a script's SHA1 as EVALSHA takes it.
func sha1Hex(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

const (
	wrapScript = iota // scripts
	wrapMulti         // transactions
)

// wrapper wraps the commands a diff sends (see the top of this file). It
// is shared by the two wrapSides, so that both servers get the same
// wrapping: the first side to see a command decides, the other follows.
type wrapper struct {
	d    *diff
	kind int
	r    *rand.Rand
	// conns are the connections to redis-server and ferry (conns[0] is
	// nil in a replication run), second a second connection to each.
	conns, second [2]diffConn
	// histSeen is len(d.hist) when the wrapper last looked.
	histSeen int
	// cur is the command being sent to both sides.
	cur struct {
		valid   bool
		orig    string
		histLen int
		done    [2]bool
		args    []string
		plan    int
		variant int
		extra   [2]string // replies of the wrapping, compared between sides
	}
	grp *group
	// writes caches whether a command may write (COMMAND INFO).
	writes map[string]bool
	// counts of what was run, to check that the run exercised each way.
	counts map[string]int
}

// round runs one round of a wrapped run: a few steps, now and then one of
// the extra cases, the commands grouped so far sent, then the digests
// compared.
func (w *wrapper) round(step func(d *diff)) {
	for j := stepRun(w.r); j > 0; j-- {
		step(w.d)
	}
	if w.r.IntN(15) == 0 {
		w.extra()
	}
	w.flush()
	w.d.digest()
}

// group is a run of commands grouped into one script or transaction.
type group struct {
	start   int // the first history line of its commands
	end     int // after the last
	cmds    [][]string
	size    int    // how many commands it takes at most
	watched string // the key WATCHed before MULTI, if any
}

// The ways one command is sent.
const (
	planRaw    = iota // as it is
	planSingle        // in a script or transaction of its own
	planGroup         // in a group
)

// wrapSide is one server's side of a wrapper.
type wrapSide struct {
	w    *wrapper
	side int
}

// tracedConn logs what it sends (FERRY_WRAP_TRACE=1).
type tracedConn struct {
	t    *testing.T
	name string
	c    diffConn
}

// Do sends args and logs both.
func (c tracedConn) Do(args ...string) string {
	r := c.c.Do(args...)
	c.t.Logf("%s %s -> %q", c.name, quoteArgs(args), r)
	return r
}

// newWrapper replaces d's connections with wrapped ones.
func newWrapper(d *diff, kind int, second [2]diffConn) *wrapper {
	w := &wrapper{d: d, kind: kind, r: rand.New(rand.NewPCG(d.seed, uint64(d.resp)+1000*uint64(kind+1))),
		conns: [2]diffConn{d.redis, d.ferry}, second: second, writes: map[string]bool{}, counts: map[string]int{},
		histSeen: len(d.hist)}
	if d.redis != nil {
		d.redis = wrapSide{w, 0}
	}
	d.ferry = wrapSide{w, 1}
	return w
}

// setup loads the library and scripts the wrapper calls, on both servers.
func (w *wrapper) setup() {
	for _, c := range [][]string{{"FUNCTION", "FLUSH"}, {"FUNCTION", "LOAD", "REPLACE", luaLibrary}, {"SCRIPT", "FLUSH"}} {
		w.both(c...)
	}
}

// both sends args to both servers unwrapped, records it, and requires the
// same reply.
func (w *wrapper) both(args ...string) string {
	w.d.t.Helper()
	w.d.hist = append(w.d.hist, quoteArgs(args))
	w.histSeen = len(w.d.hist)
	return w.bothQuiet(args...)
}

// bothQuiet is both without the history line.
func (w *wrapper) bothQuiet(args ...string) string {
	return w.bothOn(w.conns, args...)
}

// bothOn is bothQuiet on the given connections.
func (w *wrapper) bothOn(conns [2]diffConn, args ...string) string {
	w.d.t.Helper()
	var r [2]string
	for i, c := range conns {
		if c != nil {
			r[i] = c.Do(args...)
		}
	}
	if conns[0] == nil {
		return r[1]
	}
	if r[0] != r[1] {
		w.d.fail("%s:\n ferry %q\n redis %q", quoteArgs(args), r[1], r[0])
	}
	return r[0]
}

// calledFromDo reports whether the command being sent came through d.do,
// which compares its reply byte for byte (so it may be grouped).
func calledFromDo() bool {
	pc := make([]uintptr, 10)
	n := runtime.Callers(3, pc) // from wrapSide.Do's caller
	frames := runtime.CallersFrames(pc[:n])
	for i := 0; i < 3; i++ {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, ".(*diff).do") {
			return true
		}
		if !more {
			break
		}
	}
	return false
}

// mayWrite reports whether the command named may write, as COMMAND INFO
// says (a script takes may-replicate commands for writes too).
func (w *wrapper) mayWrite(name string) bool {
	name = strings.ToLower(name)
	if v, ok := w.writes[name]; ok {
		return v
	}
	r := w.conns[1].Do("COMMAND", "INFO", name)
	v := strings.Contains(r, "+write\r\n") || strings.Contains(r, "+may_replicate\r\n")
	w.writes[name] = v
	return v
}

// Do sends args to this side's server, wrapped as the wrapper decides.
func (s wrapSide) Do(args ...string) string {
	w, d := s.w, s.w.d
	d.t.Helper()
	q := quoteArgs(args)
	n := len(d.hist)
	switch {
	case n > w.histSeen && d.hist[n-1] == q:
		// a command the step sends: this side is the first to see it
		fromDo := calledFromDo()
		w.plan(args, fromDo)
		w.cur.done = [2]bool{}
	case w.cur.valid && !w.cur.done[s.side] && q == w.cur.orig && n == w.cur.histLen:
		// the other side of it
	default:
		// a look-up of the step's own, or DEBUG DIGEST
		w.flush()
		w.histSeen = len(d.hist)
		w.cur.valid = false
		return w.conns[s.side].Do(args...)
	}
	w.cur.done[s.side] = true
	reply, extra := w.run(s.side)
	w.cur.extra[s.side] = extra
	if d.digests != nil && w.cur.plan == planSingle {
		d.digest()
	}
	if s.side == 1 && w.conns[0] != nil && w.cur.extra[0] != extra {
		d.fail("wrapping %s:\n ferry %q\n redis %q", w.cur.orig, extra, w.cur.extra[0])
	}
	return reply
}

// plan decides how the command the step sends goes to both servers, runs
// any group it does not join, and records it in the history.
func (w *wrapper) plan(args []string, fromDo bool) {
	d := w.d
	orig := d.hist[len(d.hist)-1]
	name := strings.ToUpper(args[0])
	plan := planSingle
	switch {
	case name == "CONFIG" || name == "DEBUG":
		plan = planRaw
	case len(d.hist) > 1 && strings.HasPrefix(d.hist[len(d.hist)-2], "# harness"):
		// a command the step needs to run to make the servers equal
		// again (the DEL after a random SPOP): not in a group that may be
		// discarded, nor as a write in EVAL_RO
		plan = planRaw
	case w.r.IntN(6) == 0:
		plan = planRaw
	case fromDo && w.r.IntN(3) > 0:
		plan = planGroup
	}
	if w.grp != nil && (plan != planGroup || len(w.grp.cmds) >= w.grp.size) {
		// the line of this command moves to after the group's
		d.hist = d.hist[:len(d.hist)-1]
		w.flush()
		d.hist = append(d.hist, orig)
	}
	w.cur.valid, w.cur.orig, w.cur.args, w.cur.plan = true, orig, args, plan
	switch plan {
	case planRaw:
		w.counts["raw"]++
	case planSingle:
		w.cur.variant = w.r.IntN(10)
		if w.kind == wrapScript {
			w.cur.variant = w.scriptVariant(name)
			d.hist = d.hist[:len(d.hist)-1]
			if w.cur.variant == viaEvalshaLoaded {
				d.hist = append(d.hist, quoteArgs([]string{"SCRIPT", "LOAD", luaPcall3}))
			}
			d.hist = append(d.hist, quoteArgs(scriptCommand(w.cur.variant, args)))
		} else {
			d.hist = append(d.hist[:len(d.hist)-1], "MULTI", orig, "EXEC")
		}
	case planGroup:
		if w.grp == nil {
			w.open(args)
		}
		w.grp.cmds = append(w.grp.cmds, args)
		w.grp.end = len(d.hist)
		w.counts["grouped"]++
	}
	w.histSeen = len(d.hist)
	w.cur.histLen = len(d.hist)
}

// The ways a script runs one command.
const (
	viaEval = iota
	viaEvalPcall
	viaEval3
	viaEvalPcall3
	viaEvalRO
	viaEvalsha
	viaEvalshaLoaded
	viaFcall
	viaFcallPcall
	viaFcall3
	viaFcallRO
	viaFcallNoWrites
	viaCount
)

var viaNames = [...]string{"EVAL call", "EVAL pcall", "EVAL call RESP3", "EVAL pcall RESP3", "EVAL_RO",
	"EVALSHA", "SCRIPT LOAD + EVALSHA", "FCALL call", "FCALL pcall", "FCALL call RESP3", "FCALL_RO",
	"FCALL no-writes function"}

// scriptVariant picks how a script runs a command named name: the
// read-only ways for commands that do not write, and for one write in
// ten, which must then fail alike.
func (w *wrapper) scriptVariant(name string) int {
	for {
		v := w.r.IntN(viaCount)
		switch v {
		case viaEval3, viaEvalPcall3, viaEvalsha, viaEvalshaLoaded, viaFcall3:
			if name == "XINFO" {
				// not in RESP3: see noResp3Groups
				continue
			}
		case viaEvalRO, viaFcallRO, viaFcallNoWrites:
			if w.mayWrite(name) && w.r.IntN(10) > 0 {
				continue
			}
		}
		return v
	}
}

// scriptCommand is the command that runs args in a script the way v says.
func scriptCommand(v int, args []string) []string {
	var head []string
	switch v {
	case viaEval:
		head = []string{"EVAL", luaCall, "0"}
	case viaEvalPcall:
		head = []string{"EVAL", luaPcall, "0"}
	case viaEval3:
		head = []string{"EVAL", luaCall3, "0"}
	case viaEvalPcall3:
		head = []string{"EVAL", luaPcall3, "0"}
	case viaEvalRO:
		head = []string{"EVAL_RO", luaCall, "0"}
	case viaEvalsha, viaEvalshaLoaded:
		head = []string{"EVALSHA", sha1Hex(luaPcall3), "0"}
	case viaFcall:
		head = []string{"FCALL", "call", "0"}
	case viaFcallPcall:
		head = []string{"FCALL", "pcall", "0"}
	case viaFcall3:
		head = []string{"FCALL", "call3", "0"}
	case viaFcallRO:
		head = []string{"FCALL_RO", "ro", "0"}
	case viaFcallNoWrites:
		head = []string{"FCALL", "ro", "0"}
	}
	return append(head, args...)
}

// run sends the current command on one side and returns the reply for
// the step and the wrapping's own replies (compared between the sides).
func (w *wrapper) run(side int) (reply, extra string) {
	c := w.conns[side]
	args := w.cur.args
	switch w.cur.plan {
	case planRaw:
		return c.Do(args...), ""
	case planGroup:
		if w.kind == wrapScript {
			return "+QUEUED\r\n", ""
		}
		return c.Do(args...), ""
	}
	if w.kind == wrapScript {
		v := w.cur.variant
		if side == 1 || w.conns[1] == nil {
			w.counts[viaNames[v]]++
		}
		if v == viaEvalshaLoaded {
			extra = c.Do("SCRIPT", "LOAD", luaPcall3)
		}
		return c.Do(scriptCommand(v, args)...), extra
	}
	if side == 1 {
		w.counts["MULTI of one"]++
	}
	m := c.Do("MULTI")
	queued := c.Do(args...)
	exec := c.Do("EXEC")
	first, rest, _ := strings.Cut(exec, "\r\n")
	extra = m + queued + first
	switch {
	case first == "*1":
		return rest, extra
	case strings.HasPrefix(exec, "-EXECABORT"):
		return queued, extra
	}
	return exec, extra
}

// open starts a group with args, its first command: in a transaction,
// WATCH (now and then) and MULTI on both servers.
func (w *wrapper) open(args []string) {
	d := w.d
	orig := d.hist[len(d.hist)-1]
	d.hist = d.hist[:len(d.hist)-1]
	w.grp = &group{size: 1 + w.r.IntN(5)}
	if w.kind == wrapMulti {
		if len(args) > 1 && w.r.IntN(4) == 0 {
			w.grp.watched = args[1]
			w.both("WATCH", args[1])
		}
		w.both("MULTI")
	}
	w.grp.start = len(d.hist)
	d.hist = append(d.hist, orig)
}

// flush runs the pending group, if any, on both servers and compares its
// replies; in a replication run, the digests after it.
func (w *wrapper) flush() {
	g, d := w.grp, w.d
	if g == nil {
		return
	}
	d.t.Helper()
	w.grp = nil
	if w.kind == wrapScript {
		w.flushScript(g)
	} else {
		w.flushMulti(g)
	}
	w.histSeen = len(d.hist)
	if d.digests != nil {
		d.digest()
	}
}

// runtimeError returns a command that queues and then fails when run.
func (w *wrapper) runtimeError(key string) []string {
	switch w.r.IntN(4) {
	case 0:
		return []string{"INCRBY", key, "x"}
	case 1:
		return []string{"EXPIRE", key, "1.5"}
	case 2:
		return []string{"GETRANGE", key, "a", "b"}
	}
	return []string{"LPOS", key, "x", "RANK", "0"}
}

// queueError returns a command refused when queued.
func (w *wrapper) queueError() []string {
	return [][]string{{"GET"}, {"NOSUCHCOMMAND", "x"}, {"SET", "k"}, {"WATCH", "x"}, {"MULTI"}}[w.r.IntN(5)]
}

// noResp3Groups reports whether cmds hold an XINFO, which is not run
// after redis.setresp(3): a RESP3 map with null values (XINFO STREAM's
// first-entry of an empty stream) becomes a Lua table in which Lua 5.1
// still made room for the keys of the nils, which changes the order
// lua_next gives the other keys; ferry's model of Lua's tables does not
// know of them (README.md, Lua scripts, Differences).
func noResp3Groups(cmds [][]string) bool {
	for _, c := range cmds {
		if strings.EqualFold(c[0], "XINFO") {
			return true
		}
	}
	return false
}

// flushScript runs a script group as one script returning the table of
// the commands' replies (redis.pcall), or failing at the first error
// after keeping the writes before it (redis.call).
func (w *wrapper) flushScript(g *group) {
	d := w.d
	cmds := g.cmds
	key := "s0"
	if len(cmds[0]) > 1 {
		key = cmds[0][1]
	}
	switch w.r.IntN(8) {
	case 0:
		cmds = append(cmds, w.runtimeError(key))
		w.counts["script runtime error"]++
	case 1:
		cmds = append(cmds, w.queueError())
		w.counts["script call error"]++
	}
	fn, resp := "pcall", "2"
	if w.r.IntN(3) == 0 {
		fn = "call"
	}
	if w.r.IntN(2) == 0 && !noResp3Groups(cmds) {
		resp = "3"
	}
	argv := []string{fn, resp}
	for _, c := range cmds {
		argv = append(argv, strconv.Itoa(len(c)))
		argv = append(argv, c...)
	}
	var call, lines []string
	switch w.r.IntN(3) {
	case 0:
		call = append([]string{"EVAL", luaGroupOf, "0"}, argv...)
	case 1:
		w.bothQuiet("SCRIPT", "LOAD", luaGroupOf)
		lines = append(lines, quoteArgs([]string{"SCRIPT", "LOAD", luaGroupOf}))
		call = append([]string{"EVALSHA", sha1Hex(luaGroupOf), "0"}, argv...)
	default:
		call = append([]string{"FCALL", "group", "0"}, argv...)
	}
	w.counts["script group"]++
	w.counts["script group of "+strconv.Itoa(len(g.cmds))]++
	// the group's lines become the script's
	tail := append([]string(nil), d.hist[g.end:]...)
	d.hist = append(append(d.hist[:g.start], append(lines, quoteArgs(call))...), tail...)
	w.bothQuiet(call...)
}

// flushMulti ends a transaction group: maybe with a queue-time or runtime
// error, a write of the WATCHed key from the second connection, or
// DISCARD instead of EXEC.
func (w *wrapper) flushMulti(g *group) {
	key := "s0"
	if len(g.cmds[0]) > 1 {
		key = g.cmds[0][1]
	}
	switch w.r.IntN(10) {
	case 0:
		w.both(w.runtimeError(key)...)
		w.counts["EXEC with a runtime error"]++
	case 1:
		w.both(w.queueError()...)
		w.counts["EXECABORT"]++
	}
	if g.watched != "" && w.r.IntN(2) == 0 {
		// (not APPEND "": it makes a missing key a string that Redis calls
		// raw, README.md's OBJECT ENCODING difference)
		touch := [][]string{{"DEL", g.watched}, {"PERSIST", g.watched}, {"PEXPIREAT", g.watched, strconv.FormatInt(w.d.now*1000+1e10, 10)}}[w.r.IntN(3)]
		w.d.hist = append(w.d.hist, "# from a second connection: "+quoteArgs(touch))
		w.bothOn(w.second, touch...)
		w.counts["WATCH touched"]++
	}
	if w.r.IntN(12) == 0 {
		w.both("DISCARD")
		w.counts["DISCARD"]++
		return
	}
	r := w.both("EXEC")
	if r == "*-1\r\n" || r == "_\r\n" {
		w.counts["EXEC nil"]++
	}
	w.counts["EXEC of "+strconv.Itoa(len(g.cmds))]++
}

// scriptExtras are scripts that step functions do not make: commands
// Redis refuses in scripts, blocking commands (which do not block there),
// SELECT (the caller's database does not change), and replies of each
// Lua type, converted back to RESP.
var scriptExtras = [][]string{
	{"EVAL", "return redis.call('MULTI')", "0"},
	{"EVAL", "return redis.pcall('EXEC')", "0"},
	{"EVAL", "return redis.call('WATCH', 'k')", "0"},
	{"EVAL", "return redis.pcall('SUBSCRIBE', 'c')", "0"},
	{"EVAL", "return redis.call('PSUBSCRIBE', 'c')", "0"},
	{"EVAL", "return redis.call('WAIT', '0', '0')", "0"},
	{"EVAL", "return redis.call('EVAL', 'return 1', '0')", "0"},
	{"EVAL", "return redis.pcall('FCALL', 'call', '0', 'PING')", "0"},
	{"EVAL", "return redis.call('SCRIPT', 'FLUSH')", "0"},
	{"EVAL", "return redis.call('DEBUG', 'DIGEST')", "0"},
	{"EVAL", "return redis.call('CONFIG', 'GET', 'hz')", "0"},
	{"EVAL", "return redis.pcall('SAVE')", "0"},
	{"EVAL", "return redis.call('BLPOP', 'l0', '0')", "0"},
	{"EVAL", "return redis.call('BRPOPLPUSH', 'l0', 'l1', '0')", "0"},
	{"EVAL", "return redis.call('BLMOVE', 'l0', 'l1', 'LEFT', 'RIGHT', '0')", "0"},
	{"EVAL", "return redis.call('BZPOPMIN', 'z0', '0')", "0"},
	{"EVAL", "return redis.call('BZMPOP', '0', '1', 'z0', 'MAX')", "0"},
	{"EVAL", "return redis.call('XREAD', 'BLOCK', '0', 'STREAMS', 'x0', '$')", "0"},
	{"EVAL", "return {redis.call('SELECT', '1'), redis.call('SET', 'sel', '1'), redis.call('DBSIZE')}", "0"},
	{"EVAL", "return redis.call('EXISTS', 'sel')", "0"},
	{"EVAL", "return redis.error_reply('MY own error')", "0"},
	{"EVAL", "return redis.error_reply('')", "0"},
	{"EVAL", "return {err='NOPREFIX'}", "0"},
	{"EVAL", "return redis.status_reply('FINE')", "0"},
	{"EVAL", "return {1, 2.9, -3.5, 'x', false, true, {4, {5}}, nil, 6}", "0"},
	{"EVAL", "redis.setresp(3) return {double=1.5}", "0"},
	{"EVAL", "redis.setresp(3) return {1, {double=-0.0}, {big_number='123456789012345678901234567890'}}", "0"},
	{"EVAL", "redis.setresp(3) return {map={a=1}}", "0"},
	{"EVAL", "redis.setresp(3) return {set={a=true}}", "0"},
	{"EVAL", "redis.setresp(3) return true", "0"},
	{"EVAL", "redis.setresp(3) return false", "0"},
	{"EVAL", "redis.call('DEL', 'xm') redis.call('XADD', 'xm', '1-1', 'a', 'b') redis.setresp(3) return redis.call('XINFO', 'STREAM', 'xm')", "0"},
	{"EVAL", "redis.setresp(3) return {map={a=1, b=2}, set={x=true}}", "0"},
	{"EVAL", "redis.setresp(3) return redis.call('ZSCORE', 'z0', 'a')", "0"},
	{"EVAL", "redis.setresp(3) return redis.call('GET', 'nokey')", "0"},
	{"EVAL", "return redis.call('GET', 'nokey')", "0"},
	{"EVAL", "return redis.call('INCRBYFLOAT', 'f0', '1.5')", "0"},
	{"EVAL", "return redis.call('SET', 's0')", "0"},
	{"EVAL", "return redis.pcall('SET', 's0')", "0"},
	{"EVAL", "return redis.call('NOSUCH')", "0"},
	{"EVAL", "return redis.call()", "0"},
	{"EVAL", "return redis.call('GET', {})", "0"},
	{"EVAL", "return redis.call('SET', 'k', 1.5)", "0"},
	{"EVAL", "local r = redis.pcall('LPUSH', 's0', 'x') if type(r) == 'table' then return {r['err'], type(r)} end return r", "0"},
	{"EVAL", "redis.call('SET', 'wr', 'x') return redis.call('LPUSH', 'wr', 'y')", "0"},
	{"EVAL_RO", "return redis.call('SET', 'k', 'v')", "0"},
	{"EVAL_RO", "return redis.pcall('DEL', 'k')", "0"},
	{"EVAL_RO", "return redis.call('PFCOUNT', 'k')", "0"},
	{"FCALL_RO", "call", "0", "GET", "k"},
	{"FCALL", "nosuch", "0"},
	{"FCALL", "ro", "0", "SET", "k", "v"},
	{"EVALSHA", "0000000000000000000000000000000000000000", "0"},
	{"EVAL", "#!lua flags=no-writes\nreturn redis.call('SET', 'k', 'v')", "0"},
	{"EVAL", "#!lua flags=no-writes\nreturn redis.call('GET', 'k')", "0"},
}

// multiExtras are transactions that step functions do not make.
var multiExtras = [][][]string{
	{{"MULTI"}, {"MULTI"}, {"EXEC"}},
	{{"MULTI"}, {"WATCH", "k"}, {"EXEC"}},
	{{"EXEC"}},
	{{"DISCARD"}},
	{{"MULTI"}, {"SUBSCRIBE", "c"}, {"EXEC"}, {"UNSUBSCRIBE"}}, // (RESP2 allows nothing else while subscribed)
	{{"MULTI"}, {"EVAL", luaCall, "0", "SET", "m", "1"}, {"FCALL", "call", "0", "INCR", "m"}, {"EXEC"}},
	{{"MULTI"}, {"EVAL", luaCall, "0", "LPUSH", "m", "1"}, {"GET", "m"}, {"EXEC"}},
	{{"MULTI"}, {"BLPOP", "l0", "0"}, {"BZPOPMAX", "z0", "0"}, {"XREAD", "BLOCK", "0", "STREAMS", "x0", "$"}, {"EXEC"}},
	{{"MULTI"}, {"SELECT", "1"}, {"SET", "sel", "1"}, {"SELECT", "0"}, {"EXEC"}},
	{{"MULTI"}, {"SELECT", "x"}, {"EXEC"}},
	{{"WATCH", "s0"}, {"UNWATCH"}, {"MULTI"}, {"PING"}, {"EXEC"}},
	{{"MULTI"}, {"WAIT", "0", "0"}, {"EXEC"}},
	{{"MULTI"}, {"EVAL", "return redis.call('MULTI')", "0"}, {"EXEC"}},
}

// extra sends one of the extras, unwrapped.
func (w *wrapper) extra() {
	w.flush()
	w.cur.valid = false
	if w.kind == wrapScript {
		w.both(scriptExtras[w.r.IntN(len(scriptExtras))]...)
	} else {
		for _, c := range multiExtras[w.r.IntN(len(multiExtras))] {
			w.both(c...)
		}
	}
	w.counts["extras"]++
}

// wrappedSteps are the step functions the wrapped tests run.
func wrappedSteps(replication bool) ([]string, map[string]func(d *diff)) {
	return []string{"string", "list", "keys", "bitmap", "hash", "set", "zset", "stream"}, map[string]func(d *diff){
		"string": func(d *diff) {
			// stringStep forgets a key is rawish when a SET or DEL
			// replaces it, but here that command may not have run (a
			// DISCARD, an aborted EXEC or script group, EVAL_RO): the
			// keys stay rawish (README.md's OBJECT ENCODING difference)
			m := map[string]bool{}
			for k := range d.marks {
				m[k] = true
			}
			stringStep(d, m)
			for k := range m {
				d.marks[k] = true
			}
		}, "list": listStep, "keys": keysStep, "bitmap": bitmapStep,
		"hash": hashStep, "set": setStep, "zset": zsetStep, "stream": newStreamStep(replication)}
}

// runWrapped steps each step function with its commands wrapped in kind,
// against redis-server, in RESP2 and RESP3.
func runWrapped(t *testing.T, kind int, def int) {
	seeds, steps := diffSeeds(t, def)
	raddr := redistest.Redis(t)
	_, faddr := redistest.Ferry(t, command.Config{})
	names, stepFns := wrappedSteps(false)
	total, ran := map[string]int{}, 0
	for _, name := range names {
		for _, seed := range seeds {
			for _, resp := range []int{2, 3} {
				t.Run(fmt.Sprintf("%s/seed%d/resp%d", name, seed, resp), func(t *testing.T) {
					d, redis, ferry := startDiff(t, raddr, faddr, seed, resp)
					redis2, ferry2 := redistest.Dial(t, raddr), redistest.Dial(t, faddr)
					redis2.Do("HELLO", strconv.Itoa(resp))
					ferry2.Do("HELLO", strconv.Itoa(resp))
					var sec [2]diffConn = [2]diffConn{redis2, ferry2}
					if os.Getenv("FERRY_WRAP_TRACE") != "" {
						d.redis, d.ferry = tracedConn{t, "redis", redis}, tracedConn{t, "ferry", ferry}
						sec = [2]diffConn{tracedConn{t, "redis2", redis2}, tracedConn{t, "ferry2", ferry2}}
					}
					w := newWrapper(d, kind, sec)
					w.setup()
					for i := 0; i < steps; i++ {
						w.round(stepFns[name])
					}
					for k, v := range w.counts {
						total[k] += v
					}
					ran++
				})
			}
		}
	}
	if ran == len(names)*len(seeds)*2 { // all ran (not a -run of some), and passed
		checkCounts(t, kind, total)
	}
}

// stepRun is how many steps run before the next digest: groups may span
// them.
func stepRun(r *rand.Rand) int {
	if r.IntN(3) == 0 {
		return 1 + r.IntN(4)
	}
	return 1
}

// checkCounts requires that the runs exercised every way of wrapping.
func checkCounts(t *testing.T, kind int, total map[string]int) {
	t.Helper()
	want := []string{"raw", "grouped", "extras"}
	if kind == wrapScript {
		want = append(want, viaNames[:]...)
		want = append(want, "script group", "script runtime error", "script call error")
	} else {
		want = append(want, "MULTI of one", "EXEC with a runtime error", "EXECABORT", "WATCH touched", "EXEC nil", "DISCARD")
	}
	for _, k := range want {
		if total[k] == 0 {
			t.Errorf("no %q in the runs: %v", k, total)
		}
	}
	if testing.Verbose() {
		t.Logf("counts: %v", total)
	}
}

// TestRandomInScriptAgainstRedis runs the random commands of the string,
// list, key, bitmap, hash, set, sorted-set and stream differential tests
// inside Lua scripts and functions (see the top of this file) on ferry
// and redis-server, in RESP2 and RESP3, and compares every reply, byte
// for byte, and DEBUG DIGEST.
func TestRandomInScriptAgainstRedis(t *testing.T) {
	runWrapped(t, wrapScript, 120)
}

// TestRandomInMultiAgainstRedis runs the same commands inside MULTI/EXEC
// transactions (see the top of this file).
func TestRandomInMultiAgainstRedis(t *testing.T) {
	runWrapped(t, wrapMulti, 120)
}
