package compat

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// TestTracking runs client-side caching scenarios (CLIENT TRACKING and its
// invalidation messages) against both servers: connection 0 tracks,
// connection 1 writes. RESP2 clients without redirection get no messages.
func TestTracking(t *testing.T) {
	scenarioTest(t, 2, map[string]string{
		"resp3-default": `
			0: CLIENT TRACKING ON
			0: GET a
			0: GET b
			1: SET a 1
			0 read:
			0: GET a
			0: MGET a b c
			1: DEL b
			0 quiet:
			1: SET b x
			0 read:
			1: SET b 2
			0 quiet:
			0: SET a 2
			0 read:
			0: GET a
			0: HGET h f
			0: LRANGE l 0 -1
			1: HSET h f v
			0 read:
			1: RPUSH l x
			0 read:
			1: RPUSH l y
			0 quiet:
			0: GET a
			1: INCR a
			0 read:
			0: GET a
			1: EXPIRE a 100
			0 read:
			0: GET a
			1: RENAME a z
			0 read:
			0: GET z
			1: SELECT 1
			1: SET z other-db
			0 read:
			1: SELECT 0
			0: CLIENT TRACKINGINFO
			0: CLIENT GETREDIR
			0: GET a
			0: GET z
			1: FLUSHALL
			0 read:
			1: SET a 1
			0 quiet:
			0: GET a
			0: FLUSHDB
			0 read:
			0: CLIENT TRACKING OFF
			0: GET a
			1: SET a 2
			0 quiet:
			0: CLIENT TRACKINGINFO
			0: CLIENT GETREDIR`,
		"resp3-expire": `
			0: DEBUG SET-ACTIVE-EXPIRE 0
			0: CLIENT TRACKING ON
			0: SET e v PX 30
			0: GET e
			sleep 80
			0: GET e
			0 read:
			1: SET e again
			0 read:
			0: DEBUG SET-ACTIVE-EXPIRE 1`,
		"resp3-multi-and-scripts": `
			0: CLIENT TRACKING ON
			0: MULTI
			0: GET a
			0: GET b
			0: EXEC
			1: MSET a 1 b 2
			0 read:
			0 read:
			0: MULTI
			0: GET a
			0: SET a 5
			0: EXEC
			0 read:
			0: EVAL "return redis.call('get', KEYS[1])" 1 sk
			1: SET sk 1
			0 read:
			0: EVAL "return redis.call('get', 'undeclared')" 0
			1: SET undeclared 1
			0 quiet:
			0: EVAL_RO "return redis.call('get', KEYS[1])" 1 ro
			1: SET ro 1
			0 read:
			0: EVAL "return 1" 1 nokeyread
			1: SET nokeyread 1
			0 quiet:`,
		"resp3-optin": `
			0: CLIENT TRACKING ON OPTIN
			0: GET a
			1: SET a 1
			0 quiet:
			0: CLIENT TRACKINGINFO
			0: CLIENT CACHING YES
			0: CLIENT TRACKINGINFO
			0: GET a
			1: SET a 2
			0 read:
			0: CLIENT CACHING YES
			0: PING
			0: GET a
			1: SET a 3
			0 quiet:
			0: CLIENT CACHING YES
			0: MULTI
			0: GET a
			0: GET b
			0: EXEC
			1: MSET a 4 b 4
			0 read:
			0 read:
			0: CLIENT CACHING NO
			0: CLIENT CACHING maybe
			0: CLIENT TRACKING ON OPTOUT
			0: CLIENT TRACKING ON OPTIN NOLOOP
			0: CLIENT CACHING YES
			0: GET a
			0: SET a mine
			0 quiet:
			1: SET a theirs
			0 quiet:
			0: CLIENT CACHING YES
			0: GET a
			1: SET a theirs
			0 read:
			0: CLIENT TRACKINGINFO`,
		"resp3-optout": `
			0: CLIENT TRACKING ON OPTOUT
			0: CLIENT CACHING NO
			0: CLIENT TRACKINGINFO
			0: GET a
			1: SET a 1
			0 quiet:
			0: GET a
			1: SET a 2
			0 read:
			0: CLIENT CACHING YES
			0: CLIENT TRACKING ON OPTIN`,
		"resp3-bcast": `
			0: CLIENT TRACKING ON BCAST PREFIX user: PREFIX obj:
			0: CLIENT TRACKINGINFO
			1: SET user:1 a
			0 read:
			1: MSET user:2 x obj:1 y other z
			0 read:
			0 read:
			1: SET other again
			0 quiet:
			0: SET user:3 v
			0 read:
			1: MULTI
			1: SET user:b 1
			1: SET user:a 1
			1: DEL user:b
			1: EXEC
			0 read:
			1: FLUSHALL
			0 read:
			0: CLIENT TRACKING ON BCAST PREFIX more:
			0: CLIENT TRACKINGINFO
			1: SET more:x 1
			0 read:
			0: CLIENT TRACKING ON
			0: CLIENT TRACKING OFF
			0: CLIENT TRACKING ON BCAST NOLOOP
			0: CLIENT TRACKINGINFO
			0: SET mine 1
			0 quiet:
			1: SET theirs 1
			0 read:
			0: MSET a 1 b 2
			1: SET c 3
			0 read:`,
		"errors": `
			0: CLIENT TRACKING
			0: CLIENT TRACKING foo
			0: CLIENT TRACKING ON foo
			0: CLIENT TRACKING ON PREFIX a
			0: CLIENT TRACKING ON BCAST OPTIN
			0: CLIENT TRACKING ON BCAST OPTOUT
			0: CLIENT TRACKING ON OPTIN OPTOUT
			0: CLIENT TRACKING ON REDIRECT abc
			0: CLIENT TRACKING ON REDIRECT 999999
			0: CLIENT TRACKING ON REDIRECT
			0: CLIENT TRACKING ON PREFIX
			0: CLIENT TRACKING ON BCAST PREFIX ab PREFIX a
			0: CLIENT TRACKING ON BCAST PREFIX a PREFIX ab
			0: CLIENT TRACKING ON BCAST PREFIX ab PREFIX cd
			0: CLIENT TRACKING ON BCAST PREFIX a
			0: CLIENT TRACKING ON BCAST PREFIX abc
			0: CLIENT TRACKING ON BCAST PREFIX ef
			0: CLIENT TRACKINGINFO
			0: CLIENT TRACKING ON
			0: CLIENT TRACKING off extra
			0: CLIENT TRACKING OFF
			0: CLIENT TRACKINGINFO
			0: CLIENT CACHING YES
			0: CLIENT CACHING maybe
			0: CLIENT CACHING
			0: CLIENT CACHING YES NO
			0: CLIENT GETREDIR x
			0: CLIENT TRACKINGINFO x
			0: CLIENT TRACKING ON OPTIN
			0: CLIENT TRACKING ON
			0: CLIENT TRACKINGINFO
			0: CLIENT TRACKING ON NOLOOP
			0: CLIENT TRACKINGINFO
			0: CONFIG GET tracking-table-max-keys
			0: CONFIG SET tracking-table-max-keys -1
			0: CONFIG SET tracking-table-max-keys abc
			0: CONFIG SET tracking-table-max-keys 10
			0: CONFIG GET tracking-table-max-keys
			0: CONFIG SET tracking-table-max-keys 1000000
			0: RESET
			0: CLIENT TRACKINGINFO`,
		"resp2-no-messages": `
			0: CLIENT TRACKING ON
			0: GET a
			1: SET a 1
			0 quiet:
			0: CLIENT TRACKINGINFO
			0: CLIENT TRACKING ON BCAST
			0: CLIENT TRACKING OFF
			0: CLIENT TRACKING ON BCAST
			1: SET a 2
			0 quiet:`,
	})
}

// idField matches the client ids in replies that differ between servers.
var idField = regexp.MustCompile(`:[0-9]+\r\n`)

// TestTrackingRedirect: invalidation messages redirected to another
// connection, a RESP2 one subscribed to __redis__:invalidate or a RESP3
// one, and the broken-redirection message once that connection is gone.
// Client ids differ between the servers, so each gets its own.
func TestTrackingRedirect(t *testing.T) {
	p := newWirePair(t, command.Config{})
	type side struct {
		name                 string
		target, tracker, wri *redistest.Conn
		targetID             string
	}
	var sides []*side
	for _, addr := range []struct{ name, addr string }{{"ferry", p.ferry}, {"redis", p.redis}} {
		s := &side{name: addr.name, target: redistest.Dial(t, addr.addr), tracker: redistest.Dial(t, addr.addr), wri: redistest.Dial(t, addr.addr)}
		s.wri.Do("FLUSHALL")
		id := s.target.Do("CLIENT", "ID")
		s.targetID = strings.TrimSpace(strings.TrimPrefix(id, ":"))
		sides = append(sides, s)
	}
	// steps run on both servers; each returns what to compare.
	steps := []struct {
		name string
		run  func(s *side) string
	}{
		{"subscribe", func(s *side) string { return s.target.Do("SUBSCRIBE", "__redis__:invalidate") }},
		{"redirect", func(s *side) string { return s.tracker.Do("CLIENT", "TRACKING", "ON", "REDIRECT", s.targetID) }},
		{"getredir", func(s *side) string { return idField.ReplaceAllString(s.tracker.Do("CLIENT", "GETREDIR"), ":ID\r\n") }},
		{"info", func(s *side) string {
			return idField.ReplaceAllString(s.tracker.Do("CLIENT", "TRACKINGINFO"), ":ID\r\n")
		}},
		{"read", func(s *side) string { return s.tracker.Do("GET", "k") }},
		{"write", func(s *side) string { return s.wri.Do("SET", "k", "1") }},
		{"message", func(s *side) string { return s.target.Read() }},
		{"flush", func(s *side) string { return s.wri.Do("FLUSHALL") }},
		{"flush message", func(s *side) string { return s.target.Read() }},
		{"read again", func(s *side) string { return s.tracker.Do("MGET", "k", "j") }},
		{"two keys", func(s *side) string { return s.wri.Do("MSET", "k", "2", "j", "2") }},
		{"message k", func(s *side) string { return s.target.Read() }},
		{"message j", func(s *side) string { return s.target.Read() }},
		{"client list flags", func(s *side) string {
			line := s.tracker.Do("CLIENT", "INFO")
			return regexp.MustCompile(`flags=\S+`).FindString(line)
		}},
		{"tracker resp3", func(s *side) string { return s.tracker.Do("HELLO", "3")[:1] }},
		{"close target", func(s *side) string { s.target.Close(); time.Sleep(50 * time.Millisecond); return "" }},
		{"read after close", func(s *side) string { return s.tracker.Do("GET", "k") }},
		{"write after close", func(s *side) string { return s.wri.Do("SET", "k", "3") }},
		{"broken", func(s *side) string {
			return strings.Replace(s.tracker.Read(), ":"+s.targetID+"\r\n", ":ID\r\n", 1)
		}},
		{"info broken", func(s *side) string {
			return idField.ReplaceAllString(s.tracker.Do("CLIENT", "TRACKINGINFO"), ":ID\r\n")
		}},
		{"flags broken", func(s *side) string {
			line := s.tracker.Do("CLIENT", "INFO")
			return regexp.MustCompile(`flags=\S+`).FindString(line) + " " + strings.Replace(regexp.MustCompile(`redir=\S+`).FindString(line), s.targetID, "ID", 1)
		}},
	}
	for _, st := range steps {
		got, want := st.run(sides[0]), st.run(sides[1])
		if got != want {
			t.Fatalf("%s:\n ferry: %q\n redis: %q", st.name, got, want)
		}
	}
}

// TestTrackingTableLimit: past tracking-table-max-keys, keys leave the
// table as if they had changed (their readers are told), and INFO counts
// what the table holds.
func TestTrackingTableLimit(t *testing.T) {
	_, addr := redistest.Ferry(t, command.Config{})
	c, w := redistest.Dial(t, addr), redistest.Dial(t, addr)
	c.Do("HELLO", "3")
	w.Do("CONFIG", "SET", "tracking-table-max-keys", "10")
	c.Do("CLIENT", "TRACKING", "ON")
	for i := 0; i < 10; i++ {
		c.Do("GET", "k"+strconv.Itoa(i))
	}
	info := w.Do("INFO", "stats")
	if !strings.Contains(info, "tracking_total_keys:10\r\n") || !strings.Contains(info, "tracking_total_items:10\r\n") {
		t.Fatalf("INFO after 10 tracked keys: %q", info)
	}
	// The 11th key pushes one out: its reader gets an invalidation after
	// the reply.
	if got := c.Do("GET", "k10"); got != "_\r\n" {
		t.Fatalf("GET k10: %q", got)
	}
	// Any of the 11 keys may be the one evicted, k10 included.
	msg := c.Read()
	evicted := false
	for i := 0; i <= 10; i++ {
		evicted = evicted || msg == ">2\r\n$10\r\ninvalidate\r\n*1\r\n"+bulkString("k"+strconv.Itoa(i))
	}
	if !evicted {
		t.Fatalf("eviction message: %q", msg)
	}
	info = w.Do("INFO", "stats")
	if !strings.Contains(info, "tracking_total_keys:10\r\n") {
		t.Fatalf("INFO after eviction: %q", info)
	}
	if info := w.Do("INFO", "clients"); !strings.Contains(info, "tracking_clients:1\r\n") {
		t.Fatalf("INFO clients: %q", info)
	}
	c.Close()
	time.Sleep(50 * time.Millisecond)
	if info := w.Do("INFO", "clients"); !strings.Contains(info, "tracking_clients:0\r\n") {
		t.Fatalf("INFO clients after the tracker left: %q", info)
	}
}

// bulkString is s as a RESP bulk string.
func bulkString(s string) string { return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n" }

// TestTrackingRedirectRESP3Target: a RESP3 connection that only serves as
// a redirect target (it neither tracks nor subscribes) gets invalidation
// pushes while it sits idle, and while it waits in a blocking command, as
// from redis-server; its own replies still come in order afterwards.
func TestTrackingRedirectRESP3Target(t *testing.T) {
	p := newWirePair(t, command.Config{})
	type side struct {
		target, tracker, wri *redistest.Conn
		targetID             string
	}
	var sides []*side
	for _, addr := range []string{p.ferry, p.redis} {
		s := &side{target: redistest.Dial(t, addr), tracker: redistest.Dial(t, addr), wri: redistest.Dial(t, addr)}
		s.wri.Do("FLUSHALL")
		s.target.Do("HELLO", "3")
		s.targetID = strings.TrimSpace(strings.TrimPrefix(s.target.Do("CLIENT", "ID"), ":"))
		sides = append(sides, s)
	}
	steps := []struct {
		name string
		run  func(s *side) string
	}{
		{"redirect", func(s *side) string { return s.tracker.Do("CLIENT", "TRACKING", "ON", "REDIRECT", s.targetID) }},
		{"read", func(s *side) string { return s.tracker.Do("GET", "k") }},
		{"write", func(s *side) string { return s.wri.Do("SET", "k", "1") }},
		{"idle target's push", func(s *side) string { return s.target.Read() }},
		{"target's own command", func(s *side) string { return s.target.Do("PING") }},
		{"read again", func(s *side) string { return s.tracker.Do("GET", "k") }},
		{"target blocks", func(s *side) string {
			s.target.WriteRaw(redistest.Encode("BLPOP", "list", "0"))
			time.Sleep(50 * time.Millisecond)
			return ""
		}},
		{"write during the block", func(s *side) string { return s.wri.Do("SET", "k", "2") }},
		{"blocked target's push", func(s *side) string { return s.target.Read() }},
		{"serve the block", func(s *side) string { return s.wri.Do("RPUSH", "list", "x") }},
		{"block's reply", func(s *side) string { return s.target.Read() }},
		{"target after", func(s *side) string { return s.target.Do("ECHO", "after") }},
	}
	for _, st := range steps {
		got, want := st.run(sides[0]), st.run(sides[1])
		if got != want {
			t.Fatalf("%s:\n ferry: %q\n redis: %q", st.name, got, want)
		}
	}
}
