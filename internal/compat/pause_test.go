package compat

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// CLIENT PAUSE across connections: what a pause holds, what it lets run,
// how it ends, and that expired keys stay stored (but hidden) while it
// lasts. Every scenario ends its pause: the servers are shared.
func TestClientPause(t *testing.T) {
	scenarioTest(t, 3, map[string]string{
		"write": `
			0: SET k v
			2: CLIENT PAUSE 100000 WRITE
			1 noreply: SET k w
			1 quiet:
			0: GET k
			0: EXISTS k
			0: CLIENT PAUSE 10 WRITE
			1 quiet:
			2: CLIENT UNPAUSE
			1 read:
			0: GET k`,
		"pipeline-held-in-order": `
			2: CLIENT PAUSE 100000 WRITE
			1 noreply: RPUSH l a
			1 noreply: GET n
			1 noreply: INCR n
			sleep 50
			0 noreply: RPUSH l b
			0 noreply: INCR n
			1 quiet:
			0 quiet:
			2: CLIENT UNPAUSE
			1 read:
			1 read:
			1 read:
			0 read:
			0 read:
			2: LRANGE l 0 -1`,
		"no-writes-scripts-run": `
			0: FUNCTION LOAD REPLACE "#!lua name=pauselib\nredis.register_function{function_name='pro', callback=function() return 'ro' end, flags={'no-writes'}}\nredis.register_function('prw', function() return 'rw' end)"
			0: SCRIPT LOAD "#!lua flags=no-writes\nreturn 'cached'"
			2: CLIENT PAUSE 100000 WRITE
			1: EVAL "#!lua flags=no-writes\nreturn 'ro'" 0
			1: EVALSHA 910656b76ab90853c62009219abb6f9601b37763 0
			1: EVAL_RO "return 'ro'" 0
			1: FCALL pro 0
			1: FCALL_RO pro 0
			1 noreply: EVAL "return 'rw'" 0
			0 noreply: FCALL prw 0
			1 quiet:
			0 quiet:
			2: CLIENT UNPAUSE
			1 read:
			0 read:
			0: FUNCTION DELETE pauselib`,
		"all": `
			0: SET k v
			2: CLIENT PAUSE 1000 ALL
			1 noreply: GET k
			0 noreply: PING
			2 noreply: CLIENT UNPAUSE
			1 quiet:
			1 read:
			0 read:
			2 read:
			0: GET k`,
		"widened-and-extended": `
			2: CLIENT PAUSE 1000 WRITE
			2: CLIENT PAUSE 10 ALL
			1 noreply: GET k
			1 quiet:
			1 read:
			1: GET k`,
		"timeout-releases": `
			2: CLIENT PAUSE 700 WRITE
			1 noreply: SET k 1
			1 quiet:
			1 read:
			1: GET k`,
		"transaction": `
			1: MULTI
			2: CLIENT PAUSE 100000 WRITE
			1: GET k
			1 noreply: SET k v
			1 quiet:
			2: CLIENT UNPAUSE
			1 read:
			2: CLIENT PAUSE 100000 WRITE
			1 noreply: EXEC
			1 quiet:
			0: GET k
			2: CLIENT UNPAUSE
			1 read:
			0: GET k
			2: CLIENT PAUSE 100000 WRITE
			1: MULTI
			1: GET k
			1: EXEC
			2: CLIENT UNPAUSE`,
		"expiry-waits": `
			0: SET e 1 PX 100
			0: SET p 1
			2: CLIENT PAUSE 100000 WRITE
			sleep 300
			0: GET e
			0: EXISTS e
			0: TTL e
			0: DBSIZE
			0: SCAN 0
			0: KEYS *
			sleep 250
			0: DBSIZE
			2: CLIENT UNPAUSE
			0: GET e
			0: DBSIZE`,
		"reply-skip-held": `
			1 noreply: CLIENT REPLY SKIP
			2: CLIENT PAUSE 100000 WRITE
			1 noreply: SET k v
			1 noreply: GET k
			1 quiet:
			2: CLIENT UNPAUSE
			1 read:`,
		"reply-skip-blocked": `
			1 noreply: CLIENT REPLY SKIP
			1 noreply: BLPOP l 0
			1 noreply: PING
			1 quiet:
			0: RPUSH l a b
			1 read:
			0: LRANGE l 0 -1`,
		"subscriber": `
			1: SUBSCRIBE ch
			2: CLIENT PAUSE 100000 WRITE
			0 noreply: PUBLISH ch m
			1 quiet:
			0 quiet:
			2: CLIENT UNPAUSE
			0 read:
			1 read:`,
	})
}

// Which commands CLIENT PAUSE WRITE holds (writes, and EVAL, EVALSHA,
// FCALL, PUBLISH, SPUBLISH, PFCOUNT, which may propagate) and which it
// lets run, on both servers: each command on a connection of its own, all
// at once; then CLIENT UNPAUSE runs the held ones.
func TestClientPauseWriteHolds(t *testing.T) {
	p := newWirePair(t, command.Config{})
	cmds := [][]string{
		{"SET", "hk", "1"}, {"GET", "hk"}, {"PUBLISH", "ch", "x"}, {"SPUBLISH", "ch", "x"},
		{"EVAL", "return 1", "0"}, {"EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"},
		{"EVAL_RO", "return 1", "0"}, {"FCALL", "nosuch", "0"}, {"FCALL_RO", "nosuch", "0"},
		{"PFCOUNT", "hll"}, {"SCRIPT", "LOAD", "return 1"}, {"FUNCTION", "DELETE", "nosuch"},
		{"SWAPDB", "8", "9"}, {"PING"}, {"SELECT", "1"}, {"WAIT", "0", "0"}, {"CONFIG", "GET", "maxmemory"},
		{"CLIENT", "PAUSE", "10", "WRITE"}, {"DEL", "nosuch"}, {"EXPIRE", "nosuch", "100"}, {"OBJECT", "ENCODING", "hk"},
		{"INFO", "keyspace"}, {"DBSIZE"}, {"XREAD", "STREAMS", "s", "0"}, {"SORT_RO", "nosuch"}, {"SORT", "nosuch"},
	}
	outcome := func(addr string) []string {
		ctl := redistest.Dial(t, addr)
		ctl.Do("SCRIPT", "LOAD", "return 1")
		ctl.Do("CLIENT", "PAUSE", "100000", "WRITE")
		conns := make([]*redistest.Conn, len(cmds))
		for i, c := range cmds {
			conns[i] = redistest.Dial(t, addr)
			conns[i].WriteRaw(redistest.Encode(c...))
		}
		time.Sleep(200 * time.Millisecond)
		out := make([]string, len(cmds))
		for i, c := range conns {
			r, err := c.ReadTimeout(20 * time.Millisecond)
			if err != nil {
				r = "held"
			}
			out[i] = strings.Join(cmds[i], " ") + " -> " + r
		}
		blocked := infoField(ctl.Do("INFO", "clients"), "blocked_clients")
		ctl.Do("CLIENT", "UNPAUSE")
		for i, c := range conns {
			if strings.HasSuffix(out[i], "held") {
				out[i] += " then " + c.Read()
			}
		}
		ctl.Do("FLUSHALL")
		return append(out, "blocked_clients "+blocked)
	}
	got, want := outcome(p.ferry), outcome(p.redis)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ferry: %q\nredis: %q", got[i], want[i])
		}
	}
	if !slices.Contains(want, "SET hk 1 -> held then +OK\r\n") {
		t.Errorf("redis did not hold SET: %q", want)
	}
}

// infoField returns a field of an INFO reply.
func infoField(info, name string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `:(.*)\r$`).FindStringSubmatch(info)
	if m == nil {
		return ""
	}
	return m[1]
}

// A held client as CLIENT LIST and INFO show it: flags b (and x in a
// transaction), its command, its arguments' size; blocked_clients counts
// it and clients_in_timeout_table does not.
func TestClientPauseClientList(t *testing.T) {
	p := newWirePair(t, command.Config{})
	fields := regexp.MustCompile(`\b(flags|multi|argv-mem|cmd|qbuf)=(\S*)`)
	show := func(addr string) string {
		ctl := redistest.Dial(t, addr)
		c := redistest.Dial(t, addr)
		id := strings.TrimPrefix(strings.TrimSpace(c.Do("CLIENT", "ID")), ":")
		c.Do("MULTI")
		ctl.Do("CLIENT", "PAUSE", "100000", "WRITE")
		c.WriteRaw(redistest.Encode("SET", "k", "2"))
		time.Sleep(100 * time.Millisecond)
		var b strings.Builder
		for _, m := range fields.FindAllStringSubmatch(ctl.Do("CLIENT", "LIST", "ID", id), -1) {
			b.WriteString(m[0] + " ")
		}
		info := ctl.Do("INFO", "clients")
		b.WriteString("blocked_clients=" + infoField(info, "blocked_clients"))
		b.WriteString(" clients_in_timeout_table=" + infoField(info, "clients_in_timeout_table"))
		ctl.Do("CLIENT", "UNPAUSE")
		b.WriteString(" then " + strconv.Quote(c.Read()) + strconv.Quote(c.Do("EXEC")))
		return b.String()
	}
	if got, want := show(p.ferry), show(p.redis); got != want {
		t.Errorf("ferry: %s\nredis: %s", got, want)
	}
	// CLIENT UNBLOCK leaves a held command held on ferry (Redis 7.0 sends
	// the ERROR form's error and runs the command all the same, and
	// crashes on the TIMEOUT form).
	ctl, c := redistest.Dial(t, p.ferry), redistest.Dial(t, p.ferry)
	id := strings.TrimPrefix(strings.TrimSpace(c.Do("CLIENT", "ID")), ":")
	ctl.Do("CLIENT", "PAUSE", "100000", "WRITE")
	c.WriteRaw(redistest.Encode("SET", "k", "3"))
	time.Sleep(50 * time.Millisecond)
	for _, how := range []string{"ERROR", "TIMEOUT"} {
		if r := ctl.Do("CLIENT", "UNBLOCK", id, how); r != ":0\r\n" {
			t.Errorf("CLIENT UNBLOCK %s of a held client: %q", how, r)
		}
	}
	if r, err := c.ReadTimeout(50 * time.Millisecond); err == nil {
		t.Errorf("held SET replied %q before CLIENT UNPAUSE", r)
	}
	ctl.Do("CLIENT", "UNPAUSE")
	if r := c.Read(); r != "+OK\r\n" {
		t.Errorf("held SET after CLIENT UNPAUSE: %q", r)
	}
}

// CLIENT REPLY OFF and SKIP on the wire: replies and errors are dropped,
// messages the connection receives are not, and a transaction or a
// blocking command is muted as in Redis.
func TestClientReply(t *testing.T) {
	p := newWirePair(t, command.Config{})
	runWireCases(t, p, []wireCase{
		one("off-on", "CLIENT REPLY OFF\r\nSET cr1 1\r\nGET cr1\r\nCLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nGET cr1\r\n"),
		one("skip", "SET cr2 1\r\nCLIENT REPLY SKIP\r\nGET cr2\r\nGET cr2\r\nCLIENT REPLY SKIP\r\nCLIENT REPLY SKIP\r\nGET cr2\r\nINCR cr2\r\n"),
		one("skip-multi", "CLIENT REPLY SKIP\r\nMULTI\r\nGET cr3\r\nEXEC\r\nGET cr3\r\n"),
		one("off-in-exec", "MULTI\r\nCLIENT REPLY OFF\r\nGET cr4\r\nEXEC\r\nGET cr4\r\nCLIENT REPLY ON\r\n"),
		one("on-in-exec", "CLIENT REPLY SKIP\r\nMULTI\r\nCLIENT REPLY ON\r\nGET cr4b\r\nEXEC\r\nPING\r\n"),
		one("errors", "CLIENT REPLY OFF\r\nNOSUCH\r\nGET\r\nCLIENT REPLY foo\r\nCLIENT REPLY ON\r\n"),
		one("skip-then-off", "CLIENT REPLY SKIP\r\nCLIENT REPLY OFF\r\nGET cr5\r\nCLIENT REPLY ON\r\n"),
		one("off-then-skip", "CLIENT REPLY OFF\r\nCLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nPING\r\nPING\r\n"),
		one("subscribe", "CLIENT REPLY OFF\r\nSUBSCRIBE cr6\r\nPING\r\nPSUBSCRIBE cr6*\r\nUNSUBSCRIBE\r\nPUNSUBSCRIBE\r\nPING\r\nCLIENT REPLY ON\r\nPING\r\n"),
		one("resp3-pushes", "CLIENT REPLY SKIP\r\nHELLO 3\r\nCLIENT REPLY OFF\r\nSUBSCRIBE cr7\r\nPUBLISH cr7 x\r\nCLIENT TRACKING ON\r\nGET cr7k\r\nSET cr7k 1\r\nPING\r\nCLIENT REPLY ON\r\nPING\r\n"),
		one("reset", "CLIENT REPLY OFF\r\nGET cr8\r\nRESET\r\nGET cr8\r\nCLIENT REPLY SKIP\r\nRESET\r\nPING\r\n"),
		one("exec-aborted", "CLIENT REPLY OFF\r\nMULTI\r\nSET cr9\r\nEXEC\r\nMULTI\r\nSET cr9 1\r\nEXEC x\r\nCLIENT REPLY ON\r\nEXEC\r\nGET cr9\r\n"),
		one("blocking", "CLIENT REPLY OFF\r\nBLPOP cr10 0.1\r\nCLIENT REPLY ON\r\nCLIENT REPLY SKIP\r\nBLPOP cr10 0.1\r\nPING\r\n"),
	})
	// QUIT, or a protocol error, with replies off: redis-server 7.0 leaves
	// the connection open, reading nothing more (it closes a connection
	// once its last reply is written, and none is); ferry closes it.
	for _, s := range []string{"CLIENT REPLY OFF\r\nPING\r\nQUIT\r\n", "CLIENT REPLY OFF\r\nPING\r\n*1\r\n$x\r\n"} {
		if o := exchange(t, p.ferry, [][]byte{b(s)}, closeWait, 0); !o.closed || len(o.data) > 0 {
			t.Errorf("sent %q: %v", s, o)
		}
	}
}
