package command_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
)

// luaQuote returns s as a Lua string literal with every byte escaped.
func luaQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "\\%d", s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// scriptOf returns an EVAL that runs cmds with redis.pcall (so that one
// failing command does not end the script), in database db when it is not
// 0, and returns the number of commands that replied with an error.
func scriptOf(db int, cmds [][]string) []string {
	var b strings.Builder
	b.WriteString("local errs = 0\n")
	if db != 0 {
		fmt.Fprintf(&b, "redis.call('select', %d)\n", db)
	}
	for _, c := range cmds {
		quoted := make([]string, len(c))
		for i, a := range c {
			quoted[i] = luaQuote(a)
		}
		fmt.Fprintf(&b, "local r = redis.pcall(%s)\nif type(r) == 'table' and r.err then errs = errs + 1 end\n",
			strings.Join(quoted, ", "))
	}
	b.WriteString("return errs\n")
	return []string{"EVAL", b.String(), "0"}
}

// Scripts replicate by their effects: random scripts of random commands
// (random pops and picks, expiries and other databases among them) leave a
// replica that applies the logged units with the master's digest, and
// each script's writes are one unit.
func TestScriptEffectsReplicate(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			rp := newReplication(clock, 2)
			log := rp.log
			g := &gen{r: rand.New(rand.NewPCG(seed, seed*13))}
			scripts := 0
			next := func() []string {
				if g.r.IntN(3) == 0 {
					return g.command()
				}
				scripts++
				cmds := make([][]string, 1+g.r.IntN(4))
				for i := range cmds {
					cmds[i] = g.command()
				}
				db := 0
				if g.r.IntN(5) == 0 {
					db = 1 + g.r.IntN(2)
				}
				return scriptOf(db, cmds)
			}
			replicate(t, g.r, rp, next, 1500, 5, 20, func() {
				if g.r.IntN(10) == 0 {
					clock.Add(time.Duration(g.r.IntN(1500)) * time.Millisecond)
				}
			})
			if scripts < 500 || len(log.units) < 300 {
				t.Fatalf("%d scripts, %d units: the generator is not exercising scripts", scripts, len(log.units))
			}
		})
	}
}

// A script's writes are one unit, wrapped in MULTI/EXEC, with a SELECT for
// the database it switched to; the caller's database does not change.
func TestScriptIsOneUnit(t *testing.T) {
	master := command.New(command.Config{})
	log := &unitLog{}
	master.SetLog(log)
	master.Lock()
	cl := master.NewClient("c", "")
	master.Unlock()
	got := exec(master, cl, "EVAL", "redis.call('set', KEYS[1], 'a') redis.call('select', 2) redis.call('incr', 'n') return redis.call('get', 'n')", "1", "k")
	if got != "$1\r\n1\r\n" {
		t.Fatalf("EVAL replied %q", got)
	}
	if len(log.units) != 1 {
		t.Fatalf("%d units, want 1: %q", len(log.units), log.units)
	}
	want := "*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\na\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*2\r\n$4\r\nincr\r\n$1\r\nn\r\n*1\r\n$4\r\nEXEC\r\n"
	if string(log.units[0]) != want {
		t.Fatalf("unit %q\nwant %q", log.units[0], want)
	}
	if got := exec(master, cl, "GET", "k"); got != "$1\r\na\r\n" {
		t.Fatalf("the caller's database changed: GET k = %q", got)
	}
	// A read-only script logs nothing; a failing one keeps (and logs) the
	// writes made before the error, as in Redis.
	exec(master, cl, "EVAL", "return redis.call('get', 'k')", "0")
	got = exec(master, cl, "EVAL", "redis.call('set', 'before', '1') error('stop')", "0")
	if !strings.HasPrefix(got, "-ERR user_script:1: stop") {
		t.Fatalf("EVAL replied %q", got)
	}
	if len(log.units) != 2 || !strings.Contains(string(log.units[1]), "before") {
		t.Fatalf("units %q", log.units)
	}
}

// On a replica, scripts read; a write they call fails with READONLY, and a
// script that declares flags without no-writes is refused before it runs.
func TestScriptOnReplica(t *testing.T) {
	e := command.New(command.Config{Role: "slave"})
	e.Lock()
	link := e.NewClient("replication", "")
	link.Master = true
	cl := e.NewClient("c", "")
	e.Unlock()
	exec(e, link, "SET", "k", "v")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"EVAL", "return redis.call('get', 'k')", "0"}, "$1\r\nv\r\n"},
		{[]string{"EVAL", "return redis.call('set', 'k', 'x')", "0"}, "-READONLY You can't write against a read only replica. script: "},
		{[]string{"EVAL", "return redis.pcall('set', 'k', 'x')", "0"}, "-READONLY You can't write against a read only replica.\r\n"},
		{[]string{"EVAL", "#!lua\nreturn redis.call('get', 'k')", "0"}, "-READONLY You can't write against a read only replica.\r\n"},
		{[]string{"EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'k')", "0"}, "$1\r\nv\r\n"},
		{[]string{"EVAL_RO", "return redis.call('get', 'k')", "0"}, "$1\r\nv\r\n"},
	} {
		if got := exec(e, cl, tc.args...); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q: %q, want %q...", tc.args, got, tc.want)
		}
	}
	if got := exec(e, cl, "GET", "k"); got != "$1\r\nv\r\n" {
		t.Fatalf("a script changed the replica: GET k = %q", got)
	}
	// Link down with replica-serve-stale-data no: a script's reads get
	// MASTERDOWN unless it declares allow-stale, which lets it run but
	// only call commands allowed on a stale replica (as in Redis).
	e.Lock()
	e.SetMasterDown(true)
	e.Unlock()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"EVAL", "return redis.call('get', 'k')", "0"}, "-MASTERDOWN "},
		{[]string{"EVAL", "return 1", "0"}, ":1\r\n"},
		{[]string{"EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'k')", "0"}, "-MASTERDOWN "},
		{[]string{"EVAL", "#!lua flags=no-writes,allow-stale\nreturn redis.call('get', 'k')", "0"}, "-ERR Can not execute the command on a stale replica script: "},
		{[]string{"EVAL", "#!lua flags=no-writes,allow-stale\nreturn redis.call('info', 'keyspace') ~= nil", "0"}, ":1\r\n"},
	} {
		if got := exec(e, cl, tc.args...); !strings.HasPrefix(got, tc.want) {
			t.Errorf("link down: %q: %q, want %q...", tc.args, got, tc.want)
		}
	}
}

// A script cannot write more than one log entry holds: the write that
// would pass the limit fails (the writes before it stay, one unit within
// the limit), and the master goes on taking writes.
func TestScriptWritesLargerThanAnEntry(t *testing.T) {
	master := command.New(command.Config{})
	log := &unitLog{}
	master.SetLog(log)
	master.Lock()
	master.SetMaxWriteBytes(64 << 10)
	cl := master.NewClient("c", "")
	master.Unlock()
	got := exec(master, cl, "EVAL", "for i = 1, 1000 do redis.call('set', 'k' .. i, string.rep('x', 1000)) end", "0")
	if !strings.HasPrefix(got, "-ERR ferry: the script's writes are more than ") || !strings.Contains(got, "more than one replication log entry holds (65536") {
		t.Fatalf("EVAL replied %q", got)
	}
	if len(log.units) != 1 || len(log.units[0]) > 64<<10 {
		t.Fatalf("%d units, the first %d bytes", len(log.units), len(log.units[0]))
	}
	n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(exec(master, cl, "DBSIZE"), ":")))
	if n < 50 || n >= 1000 {
		t.Fatalf("DBSIZE %d after the refused write", n)
	}
	if got := exec(master, cl, "SET", "after", "1"); got != "+OK\r\n" {
		t.Fatalf("SET after the script: %q", got)
	}
}

// TestCachedScriptsInInfo: INFO memory counts the scripts in the cache
// (number_of_cached_scripts), loaded or run, until SCRIPT FLUSH.
func TestCachedScriptsInInfo(t *testing.T) {
	e := command.New(command.Config{})
	e.Lock()
	cl := e.NewClient("c", "")
	e.Unlock()
	count := func() string {
		info := exec(e, cl, "INFO", "memory")
		i := strings.Index(info, "number_of_cached_scripts:")
		if i < 0 {
			t.Fatalf("INFO memory: %q", info)
		}
		return info[i : i+strings.Index(info[i:], "\r\n")]
	}
	if got := count(); got != "number_of_cached_scripts:0" {
		t.Fatalf("before any script: %s", got)
	}
	exec(e, cl, "SCRIPT", "LOAD", "return 1")
	exec(e, cl, "SCRIPT", "LOAD", "return 2")
	exec(e, cl, "EVAL", "return 3", "0")
	exec(e, cl, "SCRIPT", "LOAD", "return 1")
	if got := count(); got != "number_of_cached_scripts:3" {
		t.Fatalf("after three scripts: %s", got)
	}
	exec(e, cl, "SCRIPT", "FLUSH")
	if got := count(); got != "number_of_cached_scripts:0" {
		t.Fatalf("after SCRIPT FLUSH: %s", got)
	}
}
