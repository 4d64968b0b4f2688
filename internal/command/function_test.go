package command_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
)

// fnLibrary registers functions that write several keys of several types
// (their effects are one unit), read, and fail half way.
const fnLibrary = "#!lua name=mylib\n" +
	"redis.register_function('push', function(keys, args) redis.call('lpush', keys[1], args[1]) redis.call('incr', keys[2]) return redis.call('llen', keys[1]) end)\n" +
	"redis.register_function('hset2', function(keys, args) return redis.call('hset', keys[1], args[1], args[2], 'n', #args) end)\n" +
	"redis.register_function('move', function(keys, args) local v = redis.call('rpop', keys[1]) if v then redis.call('sadd', keys[2], v) redis.call('expire', keys[2], 100) end return v end)\n" +
	"redis.register_function('half', function(keys, args) redis.call('set', keys[1], args[1]) return redis.call('incr', keys[1]) end)\n" +
	"redis.register_function('spop', function(keys, args) return redis.call('spop', keys[1]) end)\n" +
	"redis.register_function{function_name='count', callback=function(keys, args) return redis.call('exists', unpack(keys)) end, flags={'no-writes'}}\n"

// fnGen makes random function calls and library changes.
type fnGen struct{ r *rand.Rand }

func (g *fnGen) command() []string {
	k := func() string { return "k" + strconv.Itoa(g.r.IntN(6)) }
	v := strconv.Itoa(g.r.IntN(20))
	switch n := g.r.IntN(100); {
	case n < 25:
		return []string{"FCALL", "push", "2", k(), k(), v}
	case n < 40:
		return []string{"FCALL", "hset2", "1", k(), "f" + v, v}
	case n < 55:
		return []string{"FCALL", "move", "2", k(), k()}
	case n < 65:
		return []string{"FCALL", "half", "1", k(), v}
	case n < 72:
		return []string{"FCALL", "spop", "1", k()}
	case n < 80:
		return []string{"FCALL_RO", "count", "3", k(), k(), k()}
	case n < 83:
		return []string{"FUNCTION", "LOAD", "REPLACE", fnLibrary}
	case n < 85:
		return []string{"FUNCTION", "LOAD", "#!lua name=extra" + v + "\nredis.register_function('x" + v + "', function(keys) return redis.call('set', keys[1], '" + v + "') end)"}
	case n < 87:
		return []string{"FCALL", "x" + v, "1", k()}
	case n < 88:
		return []string{"FUNCTION", "DELETE", "extra" + v}
	case n < 90:
		return []string{"FUNCTION", "LOAD", "#!lua name=bad\nreturn 1"}
	case n < 95:
		return []string{"SADD", k(), v, v + "a"}
	default:
		return []string{"DEL", k()}
	}
}

// TestFunctionEffectsReplicate: FUNCTION LOAD and DELETE go to the log as
// received, FCALL as the writes its function made (one unit, in MULTI/EXEC
// when several), never as itself: a replica applying the log ends with the
// master's digest and libraries.
func TestFunctionEffectsReplicate(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			rp := newReplication(clock, 2)
			if got := exec(rp.master, rp.clients[0], "FUNCTION", "LOAD", fnLibrary); got != "$5\r\nmylib\r\n" {
				t.Fatalf("FUNCTION LOAD: %q", got)
			}
			g := &fnGen{r: rand.New(rand.NewPCG(seed, seed*7))}
			replicate(t, g.r, rp, g.command, 1500, 5, 10, func() {
				if g.r.IntN(20) == 0 {
					clock.Add(time.Duration(g.r.IntN(50)) * time.Second)
				}
			})
			multi, loads := 0, 0
			for _, u := range rp.log.units {
				if bytes.Contains(u, []byte("FCALL")) {
					t.Fatalf("an FCALL in the log: %q", u)
				}
				if bytes.HasPrefix(u, []byte("*1\r\n$5\r\nMULTI")) {
					multi++
				}
				if bytes.Contains(u, []byte("FUNCTION")) {
					loads++
				}
			}
			if multi < 50 || loads < 20 {
				t.Fatalf("%d units in MULTI/EXEC, %d FUNCTION units: not exercised", multi, loads)
			}
			want := exec(rp.master, rp.clients[0], "FUNCTION", "LIST", "WITHCODE")
			if got := exec(rp.replica, rp.rc, "FUNCTION", "LIST", "WITHCODE"); got != want {
				t.Fatalf("replica's libraries:\n%q\nmaster's:\n%q", got, want)
			}
			if !strings.Contains(want, "mylib") {
				t.Fatalf("libraries %q", want)
			}
		})
	}
}

// TestFunctionHalfWrite: a function that fails after a write leaves the
// write, which alone goes to the log.
func TestFunctionHalfWrite(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	rp := newReplication(clock, 1)
	cl := rp.clients[0]
	exec(rp.master, cl, "FUNCTION", "LOAD", fnLibrary)
	got := exec(rp.master, cl, "FCALL", "half", "1", "k", "abc")
	if !strings.HasPrefix(got, "-ERR value is not an integer or out of range script: half, on @user_function:5.") {
		t.Fatalf("FCALL half: %q", got)
	}
	last := rp.log.units[len(rp.log.units)-1]
	if want := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nabc\r\n"; string(last) != want {
		t.Fatalf("unit %q, want %q", last, want)
	}
}

// TestFunctionOnReplica: on a replica, functions that may write are
// refused (FCALL and FCALL_RO), read-only ones run, the library commands
// that write are refused; with the link down and replica-serve-stale-data
// no, only allow-stale functions run, and they may only call commands
// allowed on a stale replica. The master's effects still load libraries.
func TestFunctionOnReplica(t *testing.T) {
	e := command.New(command.Config{Role: "slave"})
	e.Lock()
	master := e.NewClient("master", "")
	master.Master = true
	cl := e.NewClient("c", "")
	e.Unlock()
	lib := "#!lua name=rlib\n" +
		"redis.register_function('w', function(keys) return redis.call('set', keys[1], 'x') end)\n" +
		"redis.register_function{function_name='r', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}\n" +
		"redis.register_function{function_name='s', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes', 'allow-stale'}}\n" +
		"redis.register_function{function_name='si', callback=function(keys) return type(redis.call('info', 'server')) end, flags={'no-writes', 'allow-stale'}}\n"
	if got := exec(e, cl, "FUNCTION", "LOAD", lib); got != "-"+command.ErrReadOnly+"\r\n" {
		t.Fatalf("FUNCTION LOAD on a replica: %q", got)
	}
	if got := exec(e, master, "FUNCTION", "LOAD", lib); got != "$4\r\nrlib\r\n" {
		t.Fatalf("FUNCTION LOAD from the master: %q", got)
	}
	exec(e, master, "SET", "k", "v")
	for _, tc := range []struct{ args, want string }{
		{"FCALL w 1 k", "-" + command.ErrReadOnly + "\r\n"},
		{"FCALL_RO w 1 k", "-" + command.ErrReadOnly + "\r\n"},
		{"FCALL r 1 k", "$1\r\nv\r\n"},
		{"FCALL_RO r 1 k", "$1\r\nv\r\n"},
		{"FCALL s 1 k", "$1\r\nv\r\n"},
		{"FCALL nosuch 0", "-ERR Function not found\r\n"},
		{"FUNCTION DELETE rlib", "-" + command.ErrReadOnly + "\r\n"},
		{"FUNCTION FLUSH", "-" + command.ErrReadOnly + "\r\n"},
		{"FUNCTION STATS", "*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:4\r\n"},
	} {
		if got := exec(e, cl, strings.Fields(tc.args)...); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.args, got, tc.want)
		}
	}
	e.Lock()
	e.SetMasterDown(true)
	e.Unlock()
	for _, tc := range []struct{ args, want string }{
		{"FCALL w 1 k", "-" + command.ErrReadOnly + "\r\n"},
		{"FCALL r 1 k", "-" + command.ErrMasterDown + "\r\n"},
		{"FCALL_RO r 1 k", "-" + command.ErrMasterDown + "\r\n"},
		{"FCALL s 1 k", "-ERR Can not execute the command on a stale replica script: s, on @user_function:4.\r\n"},
		{"FCALL si 0", "$6\r\nstring\r\n"},
		{"FCALL nosuch 0", "-ERR Function not found\r\n"},
	} {
		if got := exec(e, cl, strings.Fields(tc.args)...); got != tc.want {
			t.Errorf("link down: %s: %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestFunctionLoadTimeout: a library whose load-time code runs past 500 ms
// is refused, as in Redis; what the master sent is obeyed however long it
// takes (here: a loop that ends).
func TestFunctionLoadTimeout(t *testing.T) {
	e := command.New(command.Config{})
	e.Lock()
	cl := e.NewClient("c", "")
	master := e.NewClient("master", "")
	master.Master = true
	e.Unlock()
	start := time.Now()
	got := exec(e, cl, "FUNCTION", "LOAD", "#!lua name=loop\nwhile true do end")
	if got != "-ERR Error registering functions: ERR FUNCTION LOAD timeout\r\n" {
		t.Fatalf("FUNCTION LOAD: %q", got)
	}
	if d := time.Since(start); d < 500*time.Millisecond || d > 5*time.Second {
		t.Fatalf("the load stopped after %v", d)
	}
	// The engine goes on: a library loads, and runs.
	if got := exec(e, cl, "FUNCTION", "LOAD", "#!lua name=ok\nredis.register_function('ok', function() return 'ok' end)"); got != "$2\r\nok\r\n" {
		t.Fatalf("FUNCTION LOAD after a timeout: %q", got)
	}
	if got := exec(e, cl, "FCALL", "ok", "0"); got != "$2\r\nok\r\n" {
		t.Fatalf("FCALL: %q", got)
	}
	slow := "#!lua name=slow\nlocal n = 0\nfor i = 1, 3e7 do n = n + 1 end\nredis.register_function('slow', function() return n end)"
	start = time.Now()
	if got := exec(e, master, "FUNCTION", "LOAD", slow); got != "$4\r\nslow\r\n" {
		t.Fatalf("FUNCTION LOAD from the master: %q", got)
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Logf("the slow library loaded in %v: the test does not show that no timeout applies", d)
	}
}

// TestFunctionBusy: a function running past busy-reply-threshold makes
// other clients get the function's BUSY error; FUNCTION STATS says what
// runs; SCRIPT KILL is refused and FUNCTION KILL stops it.
func TestFunctionBusy(t *testing.T) {
	e := command.New(command.Config{})
	e.Lock()
	cl := e.NewClient("c", "")
	other := e.NewClient("other", "")
	e.Unlock()
	exec(e, cl, "CONFIG", "SET", "busy-reply-threshold", "50")
	exec(e, cl, "FUNCTION", "LOAD", "#!lua name=busy\nredis.register_function('spin', function(keys, args)\n  while true do end\nend)")
	done := make(chan string)
	go func() { done <- exec(e, cl, "FCALL", "spin", "1", "key", "arg") }()
	deadline := time.Now().Add(10 * time.Second)
	for !e.ScriptBusy() {
		if time.Now().After(deadline) {
			t.Fatal("the function never became busy")
		}
		time.Sleep(5 * time.Millisecond)
	}
	busy := func(args ...string) string {
		b := make([][]byte, len(args))
		for i, a := range args {
			b[i] = []byte(a)
		}
		other.W.Reset()
		e.BusyReply(other, b)
		return string(other.W.Buf)
	}
	fnBusy := "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n"
	if got := busy("GET", "k"); got != fnBusy {
		t.Fatalf("GET: %q", got)
	}
	if got := busy("SCRIPT", "KILL"); got != fnBusy {
		t.Fatalf("SCRIPT KILL: %q", got)
	}
	stats := busy("FUNCTION", "STATS")
	prefix := "*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n*5\r\n$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n1\r\n$3\r\nkey\r\n$3\r\narg\r\n$11\r\nduration_ms\r\n:"
	suffix := "\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:1\r\n"
	if !strings.HasPrefix(stats, prefix) || !strings.HasSuffix(stats, suffix) {
		t.Fatalf("FUNCTION STATS: %q", stats)
	}
	if ms, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(stats, prefix), suffix)); err != nil || ms < 50 {
		t.Fatalf("FUNCTION STATS duration: %q", stats)
	}
	if got := busy("FUNCTION", "KILL"); got != "+OK\r\n" {
		t.Fatalf("FUNCTION KILL: %q", got)
	}
	select {
	case got := <-done:
		if got != "-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:3.\r\n" {
			t.Fatalf("FCALL: %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("FUNCTION KILL did not stop the function")
	}
	if got := exec(e, cl, "FUNCTION", "KILL"); got != "-NOTBUSY No scripts in execution right now.\r\n" {
		t.Fatalf("FUNCTION KILL with nothing running: %q", got)
	}
	// An EVAL's BUSY: FUNCTION KILL and STATS are refused.
	go func() { done <- exec(e, cl, "EVAL", "while true do end", "0") }()
	for !e.ScriptBusy() {
		time.Sleep(5 * time.Millisecond)
	}
	evalBusy := "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
	for _, args := range [][]string{{"FUNCTION", "KILL"}, {"FUNCTION", "STATS"}, {"GET", "k"}} {
		if got := busy(args...); got != evalBusy {
			t.Fatalf("%q during an EVAL: %q", args, got)
		}
	}
	if got := busy("SCRIPT", "KILL"); got != "+OK\r\n" {
		t.Fatalf("SCRIPT KILL: %q", got)
	}
	<-done
}

// TestFunctionSnapshotAPI: FunctionLibraries gives each library's code by
// name; ReplaceFunctions takes them back whole, or changes nothing when
// one does not load.
func TestFunctionSnapshotAPI(t *testing.T) {
	e := command.New(command.Config{})
	e.Lock()
	cl := e.NewClient("c", "")
	e.Unlock()
	b := "#!lua name=b\nredis.register_function('fb', function() return 'b' end)"
	a := "#!lua name=a\nredis.register_function('fa', function() return 'a' end)"
	exec(e, cl, "FUNCTION", "LOAD", b)
	exec(e, cl, "FUNCTION", "LOAD", a)
	e.Lock()
	libs := e.FunctionLibraries()
	e.Unlock()
	if len(libs) != 2 || libs[0] != a || libs[1] != b {
		t.Fatalf("FunctionLibraries: %q", libs)
	}
	if info := exec(e, cl, "INFO", "memory"); !strings.Contains(info, "\r\nnumber_of_functions:2\r\nnumber_of_libraries:2\r\n") {
		t.Fatalf("INFO memory: %q", info)
	}
	e2 := command.New(command.Config{})
	e2.Lock()
	cl2 := e2.NewClient("c", "")
	err := e2.ReplaceFunctions(libs)
	e2.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if got := exec(e2, cl2, "FCALL", "fa", "0"); got != "$1\r\na\r\n" {
		t.Fatalf("FCALL fa: %q", got)
	}
	e2.Lock()
	err = e2.ReplaceFunctions([]string{"#!lua name=c\nredis.register_function('fc', function() end)", "#!lua name=d\nreturn 1"})
	e2.Unlock()
	if err == nil || !strings.Contains(err.Error(), "No functions registered") {
		t.Fatalf("ReplaceFunctions of a bad library: %v", err)
	}
	if got := exec(e2, cl2, "FCALL", "fb", "0"); got != "$1\r\nb\r\n" {
		t.Fatalf("after a failed ReplaceFunctions: FCALL fb: %q", got)
	}
	e2.Lock()
	err = e2.ReplaceFunctions(nil)
	e2.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if got := exec(e2, cl2, "FUNCTION", "LIST"); got != "*0\r\n" {
		t.Fatalf("after ReplaceFunctions(nil): %q", got)
	}
	// FLUSHALL keeps them.
	exec(e, cl, "FLUSHALL")
	if got := exec(e, cl, "FCALL", "fb", "0"); got != "$1\r\nb\r\n" {
		t.Fatalf("after FLUSHALL: %q", got)
	}
}
