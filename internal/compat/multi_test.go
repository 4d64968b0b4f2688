package compat

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/internal/resp"
)

// Differential tests with several connections per server: a scenario is a
// list of lines "<conn>: <command>" (conn 0, 1, 2...), "<conn> <mode>:
// <command>" with a compare mode of the script runner (sort, sortpairs,
// type), "<conn> noreply: <command>" for a command whose reply is read
// later (a blocking command), "<conn> read:" to read such a reply (or a
// message), "<conn> unordered N:" to read N replies that may come in any
// order, "<conn> quiet:" to check that nothing more arrives, "<conn>
// close:" to disconnect, and "sleep <ms>". Every reply from ferry must
// equal redis-server's.

type sessions struct {
	ferry, redis []*redistest.Conn
}

func openSessions(t *testing.T, ferryAddr, redisAddr string, n, proto int) sessions {
	t.Helper()
	var s sessions
	for i := 0; i < n; i++ {
		f, r := redistest.Dial(t, ferryAddr), redistest.Dial(t, redisAddr)
		if proto == 3 {
			f.Do("HELLO", "3")
			r.Do("HELLO", "3")
		}
		s.ferry = append(s.ferry, f)
		s.redis = append(s.redis, r)
	}
	return s
}

// trailingInt matches a reply's last element when it is an integer (the
// subscription count of a confirmation).
var trailingInt = regexp.MustCompile(`:-?[0-9]+\r\n$`)

// readUnordered reads n replies whose order Redis does not define (it walks
// a hash table): the replies less their trailing counts are sorted, and the
// counts, which must still go down one by one, are appended in order.
func readUnordered(c *redistest.Conn, n int) string {
	var bodies, counts []string
	for i := 0; i < n; i++ {
		r := c.Read()
		loc := trailingInt.FindStringIndex(r)
		if loc == nil {
			bodies = append(bodies, r)
			continue
		}
		bodies = append(bodies, r[:loc[0]])
		counts = append(counts, r[loc[0]:])
	}
	sort.Strings(bodies)
	return strings.Join(bodies, "") + " counts " + strings.Join(counts, "")
}

// runScenario runs script against both servers, flushed first.
func runScenario(t *testing.T, s sessions, script string) {
	t.Helper()
	s.ferry[0].Do("FLUSHALL")
	s.redis[0].Do("FLUSHALL")
	for n, line := range strings.Split(script, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if ms, ok := strings.CutPrefix(line, "sleep "); ok {
			d, err := strconv.Atoi(ms)
			if err != nil {
				t.Fatalf("line %d: %q", n+1, line)
			}
			time.Sleep(time.Duration(d) * time.Millisecond)
			continue
		}
		head, rest, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("line %d: no connection in %q", n+1, line)
		}
		who, mode, _ := strings.Cut(head, " ")
		i, err := strconv.Atoi(who)
		if err != nil || i >= len(s.ferry) {
			t.Fatalf("line %d: bad connection in %q", n+1, line)
		}
		f, r := s.ferry[i], s.redis[i]
		var got, want string
		switch {
		case mode == "close":
			f.Close()
			r.Close()
			continue
		case mode == "quiet":
			// Nothing more may arrive (or the same thing from both).
			g, gerr := f.ReadTimeout(150 * time.Millisecond)
			w, werr := r.ReadTimeout(150 * time.Millisecond)
			if g != w || (gerr == nil) != (werr == nil) {
				t.Errorf("line %d: %s\n ferry: %q %v\n redis: %q %v", n+1, line, g, gerr, w, werr)
			}
			continue
		case strings.HasPrefix(mode, "unordered"):
			k, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(mode, "unordered")))
			if err != nil {
				t.Fatalf("line %d: %q", n+1, line)
			}
			got, want = readUnordered(f, k), readUnordered(r, k)
		case mode == "read":
			got, want = f.Read(), r.Read()
		default:
			args, ok := resp.SplitArgs([]byte(strings.TrimSpace(rest)), nil)
			if !ok || len(args) == 0 {
				t.Fatalf("line %d: cannot parse %q", n+1, line)
			}
			strs := make([]string, len(args))
			for j, a := range args {
				strs[j] = string(a)
			}
			if mode == "noreply" {
				f.WriteRaw(redistest.Encode(strs...))
				r.WriteRaw(redistest.Encode(strs...))
				continue
			}
			got, want = f.Do(strs...), r.Do(strs...)
		}
		switch mode {
		case "sort":
			got, want = redistest.SortReply(got, false), redistest.SortReply(want, false)
		case "sortpairs":
			got, want = redistest.SortReply(got, true), redistest.SortReply(want, true)
		case "type":
			got, want = got[:1], want[:1]
		case "", "read":
		default:
			if strings.HasPrefix(mode, "unordered") {
				break
			}
			t.Fatalf("line %d: unknown mode %q", n+1, mode)
		}
		if got != want {
			t.Errorf("line %d: %s\n ferry: %q\n redis: %q", n+1, line, got, want)
		}
	}
}

// scenarioTest runs each scenario in RESP2 and RESP3 (only in one when its
// name starts with "resp2-" or "resp3-") with nconn connections per server.
func scenarioTest(t *testing.T, nconn int, scenarios map[string]string, redisArgs ...string) {
	p := newWirePair(t, command.Config{}, redisArgs...)
	ctl := []*redistest.Conn{redistest.Dial(t, p.ferry), redistest.Dial(t, p.redis)}
	for name, script := range scenarios {
		for _, proto := range []int{2, 3} {
			if (strings.HasPrefix(name, "resp2-") && proto != 2) || (strings.HasPrefix(name, "resp3-") && proto != 3) {
				continue
			}
			t.Run(name+"/resp"+strconv.Itoa(proto), func(t *testing.T) {
				runScenario(t, openSessions(t, p.ferry, p.redis, nconn, proto), script)
			})
			// The scenario's connections are closed; wait until each
			// server has let them go, or a subscription one left would
			// count in the next scenario's PUBLISH (a server sees a
			// close when it next reads, a moment later).
			for _, c := range ctl {
				c.WaitInfo("clients", "connected_clients", "1")
			}
		}
	}
}

func TestMulti(t *testing.T) {
	scenarioTest(t, 2, map[string]string{
		"basic": `
			0: MULTI
			0: SET k v
			0: INCR n
			0: GET k
			0: PING
			0: ECHO "a b"
			0: EXEC
			0: GET n
			0: MULTI
			0: EXEC
			0: EXEC
			0: DISCARD
			0: MULTI
			0: SET k other
			0: DISCARD
			0: GET k
			0: multi
			0: set k lower
			0: exec`,
		"nested": `
			0: MULTI
			0: MULTI
			0: SET a 1
			0: MULTI
			0: EXEC
			0: GET a`,
		"queue-errors": `
			0: MULTI
			0: SET a 1
			0: NOSUCHCMD x
			0: GET a
			0: EXEC
			0: GET a
			0: MULTI
			0: GET
			0: SET a 2
			0: EXEC
			0: MULTI
			0: CLIENT NOSUCHSUB
			0: EXEC
			0: MULTI
			0: SET a 3
			0: DISCARD x
			0: EXEC
			0: MULTI
			0: MULTI x
			0: EXEC
			0: MULTI
			0: WATCH a
			0: SET a 4
			0: EXEC
			0: MULTI
			0: SET a 5
			0: EXEC x
			0: EXEC
			0: GET a
			0: EXEC x
			0: DISCARD x`,
		"exec-time-errors": `
			0: SET s str
			0: MULTI
			0: LPUSH s x
			0: INCR s
			0: SET s 10
			0: INCR s
			0: SELECT 99
			0: INCRBYFLOAT s abc
			0: HSET s f v
			0: GET s
			0: EXEC`,
		"unwatch-queued": `
			0: WATCH k
			0: MULTI
			0: UNWATCH
			0: EXEC
			1: SET k x
			0: MULTI
			0: EXEC`,
		"watch-other-conn": `
			0: SET k 1
			0: WATCH k
			1: SET k 2
			0: MULTI
			0: SET k 3
			0: EXEC
			0: GET k
			0: WATCH k
			1: GET k
			0: MULTI
			0: SET k 4
			0: EXEC
			0: GET k`,
		"watch-self": `
			0: WATCH k
			0: SET k mine
			0: MULTI
			0: GET k
			0: EXEC`,
		"watch-missing-created": `
			0: WATCH missing
			1: SET missing 1
			0: MULTI
			0: PING
			0: EXEC
			0: WATCH missing2
			0: MULTI
			0: PING
			0: EXEC`,
		"watch-del": `
			0: SET k v
			0: WATCH k
			1: DEL k
			0: MULTI
			0: PING
			0: EXEC
			0: WATCH gone
			1: DEL gone
			0: MULTI
			0: PING
			0: EXEC`,
		"watch-writes": `
			0: SET s 1
			0: WATCH s
			1: INCR s
			0: MULTI
			0: EXEC
			0: WATCH s
			1: APPEND s x
			0: MULTI
			0: EXEC
			0: WATCH s
			1: SET s 1x
			0: MULTI
			0: EXEC
			0: WATCH s
			1: EXPIRE s 100
			0: MULTI
			0: EXEC
			0: WATCH s
			1: PERSIST s
			0: MULTI
			0: EXEC
			0: WATCH s
			1: PERSIST s
			0: MULTI
			0: EXEC
			0: WATCH l
			1: RPUSH l a b
			0: MULTI
			0: EXEC
			0: WATCH l
			1: LPOP l
			0: MULTI
			0: EXEC
			0: WATCH h
			1: HSET h f v
			0: MULTI
			0: EXEC
			0: WATCH z
			1: SADD z m
			0: MULTI
			0: EXEC
			0: WATCH z
			1: SADD z m
			0: MULTI
			0: EXEC
			0: WATCH dst
			1: RENAME s dst
			0: MULTI
			0: EXEC
			0: WATCH dst
			1: MOVE dst 1
			0: MULTI
			0: EXEC
			0: WATCH r
			1: MULTI
			1: SET r 1
			1: EXEC
			0: MULTI
			0: EXEC`,
		"watch-expiry": `
			0: SET k v PX 100
			0: WATCH k
			sleep 250
			0: MULTI
			0: PING
			0: EXEC
			0: SET e v PX 10
			sleep 50
			0: WATCH e
			0: MULTI
			0: PING
			0: EXEC
			0: SET e2 v PX 10
			sleep 50
			0: WATCH e2
			1: GET e2
			0: MULTI
			0: PING
			0: EXEC
			0: SET e3 v PX 10
			sleep 50
			0: WATCH e3
			1: GET e3
			1: SET e3 new
			0: MULTI
			0: PING
			0: EXEC`,
		"watch-flush": `
			0: SET k v
			0: WATCH k
			1: FLUSHALL
			0: MULTI
			0: PING
			0: EXEC
			0: WATCH missing
			1: SET other 1
			1: FLUSHALL
			0: MULTI
			0: PING
			0: EXEC
			0: SET k v
			0: WATCH k
			1: SELECT 1
			1: FLUSHDB
			0: MULTI
			0: PING
			0: EXEC
			0: WATCH k
			1: SELECT 0
			1: FLUSHDB
			0: MULTI
			0: PING
			0: EXEC
			0: SET x v PX 10
			sleep 50
			0: WATCH x
			1: FLUSHALL
			0: MULTI
			0: PING
			0: EXEC`,
		"watch-swapdb": `
			0: SET k v
			0: WATCH k
			1: SWAPDB 0 1
			0: MULTI
			0: PING
			0: EXEC
			1: FLUSHALL
			1: SELECT 1
			1: SET k in1
			0: WATCH k
			1: SWAPDB 0 1
			0: MULTI
			0: PING
			0: EXEC
			1: FLUSHALL
			0: WATCH nothing
			1: SWAPDB 0 1
			0: MULTI
			0: PING
			0: EXEC
			0: WATCH k
			1: SWAPDB 2 3
			0: MULTI
			0: PING
			0: EXEC`,
		"watch-dbs": `
			0: SELECT 1
			0: WATCH k
			1: SET k in0
			0: MULTI
			0: PING
			0: EXEC
			0: WATCH k
			1: SELECT 1
			1: SET k in1
			0: MULTI
			0: PING
			0: EXEC`,
		"unwatch": `
			0: WATCH k
			0: UNWATCH
			1: SET k 1
			0: MULTI
			0: PING
			0: EXEC
			0: WATCH k
			1: SET k 2
			0: UNWATCH
			0: WATCH k
			0: MULTI
			0: PING
			0: EXEC
			0: WATCH k
			1: SET k 3
			0: WATCH other
			0: MULTI
			0: PING
			0: EXEC
			0: WATCH k k k other k
			0: MULTI
			0: EXEC
			0: WATCH
			0: UNWATCH x`,
		"watch-survives-exec-error": `
			0: WATCH k
			0: EXEC
			0: DISCARD
			1: SET k 1
			0: MULTI
			0: PING
			0: EXEC
			0: WATCH k
			0: MULTI
			0: DISCARD
			1: SET k 2
			0: MULTI
			0: PING
			0: EXEC
			0: WATCH k
			0: MULTI
			0: NOSUCH
			0: EXEC
			1: SET k 3
			0: MULTI
			0: PING
			0: EXEC`,
		"watch-both-abort-and-touch": `
			0: WATCH k
			1: SET k 1
			0: MULTI
			0: NOSUCH
			0: EXEC`,
		"blocking-in-multi": `
			0: MULTI
			0: BLPOP nolist 0
			0: BRPOP nolist 1
			0: BLMOVE a b LEFT RIGHT 0
			0: BRPOPLPUSH a b 0
			0: BZPOPMIN z 0
			0: EXEC
			0: MULTI
			0: RPUSH l a b
			0: BLPOP l 0
			0: BLMOVE l l2 LEFT RIGHT 0
			0: BLPOP l 0
			0: EXEC`,
		"select": `
			0: MULTI
			0: SELECT 1
			0: SET k in1
			0: SELECT 0
			0: GET k
			0: SET k in0
			0: EXEC
			0: GET k
			0: MULTI
			0: SELECT 2
			0: EXEC
			0: SET k in2
			1: SELECT 2
			1: GET k
			0: SELECT 0
			0: MULTI
			0: SELECT 16
			0: SELECT x
			0: GET k
			0: EXEC`,
		"reset": `
			0: WATCH k
			0: MULTI
			0: SET a 1
			0: RESET
			0: EXEC
			1: SET k 1
			0: MULTI
			0: PING
			0: EXEC`,
		"info-in-multi": `
			0: MULTI
			0: CLIENT SETNAME n
			0: CLIENT GETNAME
			0: EXEC`,
	})
}

// TestMultiQuit covers QUIT inside a transaction: it is not queued.
func TestMultiQuit(t *testing.T) {
	p := newWirePair(t, command.Config{})
	runWireCases(t, p, []wireCase{
		one("quit-in-multi", "MULTI\r\nSET q1 1\r\nQUIT\r\nEXEC\r\n"),
		one("exec-pipeline", "MULTI\r\nSET q2 1\r\nGET q2\r\nEXEC\r\nMULTI\r\nEXEC\r\n"),
		one("protocol-error-in-multi", "MULTI\r\nSET q3 1\r\n*x\r\n"),
	})
}
