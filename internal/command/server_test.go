package command_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	osexec "os/exec"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// srvNode is a parsed RESP reply. Maps are flattened to key, value, ...
type srvNode struct {
	kind  byte
	str   string
	elems []srvNode
}

func srvParse(t *testing.T, raw string) srvNode {
	t.Helper()
	br := bufio.NewReader(strings.NewReader(raw))
	n, err := srvRead(br)
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return n
}

func srvRead(br *bufio.Reader) (srvNode, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return srvNode{}, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	n := srvNode{kind: line[0]}
	switch line[0] {
	case '$', '=':
		size, _ := strconv.Atoi(line[1:])
		if size < 0 {
			n.kind = '_'
			return n, nil
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return n, err
		}
		n.str = string(buf[:size])
	case '*', '~', '%', '>':
		size, _ := strconv.Atoi(line[1:])
		if line[0] == '%' {
			size *= 2
		}
		for i := 0; i < size; i++ {
			el, err := srvRead(br)
			if err != nil {
				return n, err
			}
			n.elems = append(n.elems, el)
		}
	default:
		n.str = line[1:]
	}
	return n, nil
}

// srvInfo splits INFO text into sections: title -> ordered "name:value" lines.
func srvInfo(t *testing.T, text string) (titles []string, fields map[string][]string) {
	t.Helper()
	fields = map[string][]string{}
	cur := ""
	for _, line := range strings.Split(text, "\r\n") {
		switch {
		case line == "":
		case strings.HasPrefix(line, "# "):
			cur = line[2:]
			titles = append(titles, cur)
			fields[cur] = []string{}
		default:
			if cur == "" || !strings.Contains(line, ":") {
				t.Fatalf("INFO line %q outside a section or without ':'", line)
			}
			fields[cur] = append(fields[cur], line)
		}
	}
	return titles, fields
}

func srvNames(lines []string) []string {
	var out []string
	for _, l := range lines {
		name, _, _ := strings.Cut(l, ":")
		out = append(out, name)
	}
	return out
}

func srvValue(t *testing.T, lines []string, name string) string {
	t.Helper()
	for _, l := range lines {
		if n, v, _ := strings.Cut(l, ":"); n == name {
			return v
		}
	}
	t.Fatalf("INFO field %s missing", name)
	return ""
}

func TestInfoFormat(t *testing.T) {
	_, addr := redistest.Ferry(t, command.Config{FerryVersion: "test-1"})
	c := redistest.Dial(t, addr)
	raw := c.Do("INFO")
	if !strings.HasPrefix(raw, "$") || !strings.HasSuffix(raw, "\r\n\r\n") {
		t.Fatalf("INFO in RESP2 is not a bulk string ending with a blank line: %q", raw[:min(len(raw), 40)])
	}
	titles, fields := srvInfo(t, srvParse(t, raw).str)
	want := []string{"Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Modules", "Errorstats", "Cluster", "Keyspace"}
	if !slices.Equal(titles, want) {
		t.Fatalf("INFO sections %v, want %v", titles, want)
	}
	numeric := regexp.MustCompile(`^-?[0-9]+$`)
	human := regexp.MustCompile(`^[0-9]+(B|\.[0-9]{2}[KMGTP])$`)
	if v := srvValue(t, fields["Server"], "uptime_in_seconds"); !numeric.MatchString(v) {
		t.Errorf("uptime_in_seconds:%s", v)
	}
	for _, f := range []string{"used_memory", "used_memory_rss", "used_memory_peak", "total_system_memory", "process_id", "server_time_usec", "total_commands_processed"} {
		sec := "Memory"
		switch f {
		case "process_id", "server_time_usec":
			sec = "Server"
		case "total_commands_processed":
			sec = "Stats"
		}
		if v := srvValue(t, fields[sec], f); !numeric.MatchString(v) || v == "0" {
			t.Errorf("%s:%s, want a positive integer", f, v)
		}
	}
	for _, f := range []string{"used_memory_human", "used_memory_rss_human", "used_memory_peak_human", "maxmemory_human"} {
		if v := srvValue(t, fields["Memory"], f); !human.MatchString(v) {
			t.Errorf("%s:%s, not Redis's human format", f, v)
		}
	}
	if v := srvValue(t, fields["Server"], "redis_version"); v != "7.0.15" {
		t.Errorf("redis_version:%s", v)
	}
	if v := srvValue(t, fields["Server"], "run_id"); !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(v) {
		t.Errorf("run_id:%s", v)
	}
	if v := srvValue(t, fields["Server"], "tcp_port"); v != addr[strings.LastIndexByte(addr, ':')+1:] {
		t.Errorf("tcp_port:%s, listening on %s", v, addr)
	}
	if v := srvValue(t, fields["CPU"], "used_cpu_user"); !regexp.MustCompile(`^[0-9]+\.[0-9]{6}$`).MatchString(v) {
		t.Errorf("used_cpu_user:%s", v)
	}
	if v := srvValue(t, fields["Replication"], "role"); v != "master" {
		t.Errorf("role:%s", v)
	}
	if v := srvValue(t, fields["Clients"], "connected_clients"); v != "1" {
		t.Errorf("connected_clients:%s", v)
	}
	if len(fields["Keyspace"]) != 0 {
		t.Errorf("empty dataset has keyspace lines %v", fields["Keyspace"])
	}

	// Writes count as changes since the last save and show in Keyspace.
	before := srvValue(t, fields["Persistence"], "rdb_changes_since_last_save")
	c.Do("SET", "a", "1")
	c.Do("SET", "b", "2", "EX", "1000")
	c.Do("SELECT", "2")
	c.Do("SET", "c", "3")
	c.Do("GET", "c")
	c.Do("GET", "nosuch")
	_, fields = srvInfo(t, srvParse(t, c.Do("INFO", "persistence", "keyspace", "stats")).str)
	b, _ := strconv.Atoi(before)
	if v := srvValue(t, fields["Persistence"], "rdb_changes_since_last_save"); v != strconv.Itoa(b+3) {
		t.Errorf("rdb_changes_since_last_save:%s after 3 writes from %s", v, before)
	}
	db0 := srvValue(t, fields["Keyspace"], "db0")
	if !regexp.MustCompile(`^keys=2,expires=1,avg_ttl=[0-9]+$`).MatchString(db0) {
		t.Errorf("db0:%s", db0)
	}
	if ttl, _ := strconv.Atoi(db0[strings.LastIndexByte(db0, '=')+1:]); ttl < 990000 || ttl > 1000000 {
		t.Errorf("avg_ttl of one key with 1000s to live: %d", ttl)
	}
	if v := srvValue(t, fields["Keyspace"], "db2"); v != "keys=1,expires=0,avg_ttl=0" {
		t.Errorf("db2:%s", v)
	}
	if h, m := srvValue(t, fields["Stats"], "keyspace_hits"), srvValue(t, fields["Stats"], "keyspace_misses"); h != "1" || m != "1" {
		t.Errorf("keyspace_hits:%s keyspace_misses:%s", h, m)
	}

	// all and everything add the per-command sections; ferry's only when named.
	titles, _ = srvInfo(t, srvParse(t, c.Do("INFO", "everything")).str)
	if !slices.Contains(titles, "Commandstats") || !slices.Contains(titles, "Latencystats") || slices.Contains(titles, "Ferry") {
		t.Errorf("INFO everything sections %v", titles)
	}
	titles, fields = srvInfo(t, srvParse(t, c.Do("INFO", "ferry", "cluster")).str)
	if !slices.Equal(titles, []string{"Cluster", "Ferry"}) {
		t.Errorf("INFO ferry cluster sections %v", titles)
	}
	if v := srvValue(t, fields["Ferry"], "ferry_version"); v != "test-1" {
		t.Errorf("ferry_version:%s", v)
	}

	// RESP3: a verbatim string of format txt.
	c.Do("HELLO", "3")
	raw = c.Do("INFO", "cluster")
	if want := "=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n"; raw != want {
		t.Errorf("RESP3 INFO cluster %q, want %q", raw, want)
	}
}

// TestInfoFieldsMatchRedis checks that every section has Redis's fields,
// in Redis's order.
func TestInfoFieldsMatchRedis(t *testing.T) {
	rc := redistest.Dial(t, redistest.Redis(t))
	_, addr := redistest.Ferry(t, command.Config{})
	fc := redistest.Dial(t, addr)
	for _, c := range []*redistest.Conn{rc, fc} {
		c.Do("SET", "k", "v")
	}
	rt, rf := srvInfo(t, srvParse(t, rc.Do("INFO", "everything")).str)
	ft, ff := srvInfo(t, srvParse(t, fc.Do("INFO", "everything")).str)
	if !slices.Equal(rt, ft) {
		t.Fatalf("sections: ferry %v, redis %v", ft, rt)
	}
	for _, s := range rt {
		switch s {
		case "Commandstats", "Errorstats", "Latencystats":
			// Per-command figures: ferry does not keep them (yet).
			continue
		}
		if r, f := srvNames(rf[s]), srvNames(ff[s]); !slices.Equal(r, f) {
			t.Errorf("section %s fields:\n ferry %v\n redis %v", s, f, r)
		}
	}
}

func TestInfoResetstat(t *testing.T) {
	_, addr := redistest.Ferry(t, command.Config{})
	c := redistest.Dial(t, addr)
	c.Do("GET", "x")
	c.Do("SET", "x", "1")
	c.Do("GET", "x")
	c.Do("NOSUCHCOMMAND")
	_, f := srvInfo(t, srvParse(t, c.Do("INFO", "stats")).str)
	for name, want := range map[string]string{"keyspace_hits": "1", "keyspace_misses": "1", "total_error_replies": "1", "total_commands_processed": "5", "total_connections_received": "1"} {
		if v := srvValue(t, f["Stats"], name); v != want {
			t.Errorf("%s:%s, want %s", name, v, want)
		}
	}
	if r := c.Do("CONFIG", "RESETSTAT"); r != "+OK\r\n" {
		t.Fatalf("CONFIG RESETSTAT: %q", r)
	}
	_, f = srvInfo(t, srvParse(t, c.Do("INFO", "stats")).str)
	for name, want := range map[string]string{"keyspace_hits": "0", "keyspace_misses": "0", "total_error_replies": "0", "total_commands_processed": "1", "total_connections_received": "0"} {
		if v := srvValue(t, f["Stats"], name); v != want {
			t.Errorf("after RESETSTAT %s:%s, want %s", name, v, want)
		}
	}
}

// srvClientLines parses CLIENT LIST text into one field map per line.
func srvClientLines(t *testing.T, text string) []map[string]string {
	t.Helper()
	var out []map[string]string
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if line == "" {
			continue
		}
		m := map[string]string{"_order": ""}
		var order []string
		for _, kv := range strings.Split(line, " ") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("client line %q: field %q has no '='", line, kv)
			}
			m[k] = v
			order = append(order, k)
		}
		m["_order"] = strings.Join(order, " ")
		out = append(out, m)
	}
	return out
}

func srvFind(lines []map[string]string, id string) map[string]string {
	for _, l := range lines {
		if l["id"] == id {
			return l
		}
	}
	return nil
}

// srvID returns a connection's CLIENT ID.
func srvID(t *testing.T, c *redistest.Conn) string {
	t.Helper()
	r := c.Do("CLIENT", "ID")
	if !strings.HasPrefix(r, ":") {
		t.Fatalf("CLIENT ID: %q", r)
	}
	return strings.TrimSpace(r[1:])
}

// srvClosed reports whether the server closed c (EOF with nothing to read).
func srvClosed(t *testing.T, c *redistest.Conn) bool {
	t.Helper()
	r, err := c.ReadTimeout(2 * time.Second)
	if err == nil {
		t.Errorf("expected the connection to close, got reply %q", r)
		return false
	}
	return errors.Is(err, io.EOF) || strings.Contains(err.Error(), "reset")
}

func TestClientList(t *testing.T) {
	redisAddr := redistest.Redis(t)
	_, addr := redistest.Ferry(t, command.Config{})
	// The same fields, in the same order, as redis-server.
	rc := redistest.Dial(t, redisAddr)
	want := srvClientLines(t, srvParse(t, rc.Do("CLIENT", "LIST")).str)[0]["_order"]

	a, b := redistest.Dial(t, addr), redistest.Dial(t, addr)
	if r := a.Do("CLIENT", "SETNAME", "alpha"); r != "+OK\r\n" {
		t.Fatalf("SETNAME: %q", r)
	}
	aID, bID := srvID(t, a), srvID(t, b)
	a.Do("SELECT", "3")
	lines := srvClientLines(t, srvParse(t, b.Do("CLIENT", "LIST")).str)
	if len(lines) != 2 {
		t.Fatalf("CLIENT LIST has %d lines, want 2", len(lines))
	}
	if lines[0]["_order"] != want {
		t.Errorf("fields:\n ferry %s\n redis %s", lines[0]["_order"], want)
	}
	la, lb := srvFind(lines, aID), srvFind(lines, bID)
	if la == nil || lb == nil {
		t.Fatalf("ids %s and %s not both listed: %v", aID, bID, lines)
	}
	for k, v := range map[string]string{"name": "alpha", "db": "3", "flags": "N", "multi": "-1", "cmd": "select", "user": "default", "resp": "2", "laddr": addr} {
		if la[k] != v {
			t.Errorf("client a %s=%s, want %s", k, la[k], v)
		}
	}
	if la["addr"] != a.Net().LocalAddr().String() {
		t.Errorf("client a addr=%s, its socket is %s", la["addr"], a.Net().LocalAddr())
	}
	// The caller's line counts its own command, as Redis does.
	for k, v := range map[string]string{"name": "", "flags": "N", "multi": "-1", "cmd": "client|list", "qbuf": "26", "argv-mem": "10", "db": "0"} {
		if lb[k] != v {
			t.Errorf("client b %s=%s, want %s", k, lb[k], v)
		}
	}
	a.Do("MULTI")
	a.Do("SET", "k", "v")
	la = srvFind(srvClientLines(t, srvParse(t, b.Do("CLIENT", "LIST")).str), aID)
	if la["flags"] != "x" || la["multi"] != "1" || la["multi-mem"] == "0" {
		t.Errorf("client in MULTI with one command queued: %v", la)
	}
	a.Do("DISCARD")

	// CLIENT INFO is the caller's line; LIST ID and TYPE filter.
	info := srvClientLines(t, srvParse(t, b.Do("CLIENT", "INFO")).str)
	if len(info) != 1 || info[0]["id"] != bID || info[0]["cmd"] != "client|info" {
		t.Errorf("CLIENT INFO %v", info)
	}
	byID := srvClientLines(t, srvParse(t, b.Do("CLIENT", "LIST", "ID", aID, "999999")).str)
	if len(byID) != 1 || byID[0]["id"] != aID {
		t.Errorf("CLIENT LIST ID %s: %v", aID, byID)
	}
	a.Do("SUBSCRIBE", "ch")
	pubsub := srvClientLines(t, srvParse(t, b.Do("CLIENT", "LIST", "TYPE", "pubsub")).str)
	if len(pubsub) != 1 || pubsub[0]["id"] != aID || pubsub[0]["flags"] != "P" || pubsub[0]["sub"] != "1" {
		t.Errorf("CLIENT LIST TYPE pubsub: %v", pubsub)
	}
	normal := srvClientLines(t, srvParse(t, b.Do("CLIENT", "LIST", "TYPE", "normal")).str)
	if len(normal) != 1 || normal[0]["id"] != bID {
		t.Errorf("CLIENT LIST TYPE normal: %v", normal)
	}
	// RESP3: verbatim.
	b.Do("HELLO", "3")
	if r := b.Do("CLIENT", "INFO"); !strings.HasPrefix(r, "=") || !strings.Contains(r, "txt:id="+bID+" ") || !strings.Contains(r, " resp=3\n") {
		t.Errorf("RESP3 CLIENT INFO %q", r)
	}
}

func TestClientKill(t *testing.T) {
	_, addr := redistest.Ferry(t, command.Config{})
	killer := redistest.Dial(t, addr)

	// By id: the victim's connection closes and it is gone at once.
	victim := redistest.Dial(t, addr)
	vID := srvID(t, victim)
	if r := killer.Do("CLIENT", "KILL", "ID", vID); r != ":1\r\n" {
		t.Fatalf("CLIENT KILL ID: %q", r)
	}
	if !srvClosed(t, victim) {
		t.Error("killed connection still open")
	}
	if r := killer.Do("CLIENT", "LIST", "ID", vID); r != "$0\r\n\r\n" {
		t.Errorf("killed client still listed: %q", r)
	}
	_, f := srvInfo(t, srvParse(t, killer.Do("INFO", "clients")).str)
	if v := srvValue(t, f["Clients"], "connected_clients"); v != "1" {
		t.Errorf("connected_clients:%s after the kill", v)
	}

	// Old form by address: +OK, or an error when nobody matches.
	victim = redistest.Dial(t, addr)
	srvID(t, victim)
	if r := killer.Do("CLIENT", "KILL", victim.Net().LocalAddr().String()); r != "+OK\r\n" {
		t.Fatalf("CLIENT KILL addr: %q", r)
	}
	if !srvClosed(t, victim) {
		t.Error("connection killed by address still open")
	}
	if r := killer.Do("CLIENT", "KILL", victim.Net().LocalAddr().String()); r != "-ERR No such client\r\n" {
		t.Errorf("second kill: %q", r)
	}

	// LADDR and TYPE filters, sparing the caller (SKIPME yes by default).
	v1, v2 := redistest.Dial(t, addr), redistest.Dial(t, addr)
	srvID(t, v1)
	srvID(t, v2)
	v2.Do("SUBSCRIBE", "ch")
	if r := killer.Do("CLIENT", "KILL", "TYPE", "pubsub"); r != ":1\r\n" {
		t.Fatalf("CLIENT KILL TYPE pubsub: %q", r)
	}
	if !srvClosed(t, v2) {
		t.Error("pubsub client still open")
	}
	if r := killer.Do("CLIENT", "KILL", "LADDR", addr, "USER", "default"); r != ":1\r\n" {
		t.Fatalf("CLIENT KILL LADDR: %q", r)
	}
	if !srvClosed(t, v1) {
		t.Error("client killed by LADDR still open")
	}

	// SKIPME no: the caller gets its reply, then its connection closes.
	if r := killer.Do("CLIENT", "KILL", "ID", srvID(t, killer), "SKIPME", "no"); r != ":1\r\n" {
		t.Fatalf("self kill: %q", r)
	}
	if !srvClosed(t, killer) {
		t.Error("self-killed connection still open")
	}
}

// TestClientUnblock blocks a client with a test command (a BLPOP-like wait
// on a key) and ends the wait with CLIENT UNBLOCK.
func TestClientUnblock(t *testing.T) {
	if srvRaceBuild() {
		// server.go flushes a blocked client's reply buffer after releasing
		// the engine lock, so any reply another client writes for it (CLIENT
		// UNBLOCK here, a push that serves a BLPOP) is a data race there.
		t.Skip("skipping under -race: the server's flush of a blocked client races with replies written for it")
	}
	e, addr := redistest.Ferry(t, command.Config{})
	e.Lock()
	e.Table().Add(&command.Command{Name: "testwait", Arity: 2, Flags: command.Blocking, Handler: func(c *command.Ctx) {
		c.Block([]string{c.Arg(1)}, 0, func(c *command.Ctx) bool { return false }, func(c *command.Ctx) { c.W.NullArray() })
	}})
	e.Unlock()
	admin := redistest.Dial(t, addr)
	waiter := redistest.Dial(t, addr)
	wID := srvID(t, waiter)
	if r := admin.Do("CLIENT", "UNBLOCK", wID); r != ":0\r\n" {
		t.Errorf("unblocking a client that does not wait: %q", r)
	}
	for _, tc := range []struct{ how, reply string }{
		{"TIMEOUT", "*-1\r\n"},
		{"ERROR", "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"},
	} {
		waiter.WriteRaw(redistest.Encode("TESTWAIT", "k"))
		deadline := time.Now().Add(5 * time.Second)
		for {
			_, f := srvInfo(t, srvParse(t, admin.Do("INFO", "clients")).str)
			if srvValue(t, f["Clients"], "blocked_clients") == "1" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("client never blocked")
			}
			time.Sleep(5 * time.Millisecond)
		}
		l := srvClientLines(t, srvParse(t, admin.Do("CLIENT", "LIST", "ID", wID)).str)
		if len(l) != 1 || l[0]["flags"] != "b" {
			t.Errorf("blocked client line %v", l)
		}
		if r := admin.Do("CLIENT", "UNBLOCK", wID, tc.how); r != ":1\r\n" {
			t.Fatalf("CLIENT UNBLOCK %s: %q", tc.how, r)
		}
		if r := waiter.Read(); r != tc.reply {
			t.Errorf("unblocked with %s: %q, want %q", tc.how, r, tc.reply)
		}
	}
	if r := waiter.Do("PING"); r != "+PONG\r\n" {
		t.Errorf("after the waits: %q", r)
	}
}

// srvRaceBuild reports whether the test binary was built with -race.
func srvRaceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// srvBoth runs the same commands on ferry and redis-server and returns the
// last replies.
func srvBoth(f, r *redistest.Conn, cmds ...[]string) (string, string) {
	var fr, rr string
	for _, c := range cmds {
		fr, rr = f.Do(c...), r.Do(c...)
	}
	return fr, rr
}

func TestDebugDigestMatchesRedis(t *testing.T) {
	rc := redistest.Dial(t, redistest.Redis(t))
	_, addr := redistest.Ferry(t, command.Config{})
	fc := redistest.Dial(t, addr)
	digests := func(what string, keys ...string) {
		t.Helper()
		if f, r := srvBoth(fc, rc, []string{"DEBUG", "DIGEST"}); f != r {
			t.Errorf("%s: DEBUG DIGEST ferry %q, redis %q", what, f, r)
		}
		args := append([]string{"DEBUG", "DIGEST-VALUE"}, keys...)
		if f, r := srvBoth(fc, rc, args); f != r {
			t.Errorf("%s: DEBUG DIGEST-VALUE ferry %q, redis %q", what, f, r)
		}
	}
	digests("empty", "nokey")
	srvBoth(fc, rc,
		[]string{"SET", "int", "12345"},
		[]string{"SET", "neg", "-7"},
		[]string{"SET", "emb", "short value"},
		[]string{"SET", "raw", strings.Repeat("long value ", 10)},
		[]string{"SET", "empty", ""},
		[]string{"SET", "bin", "a\x00b\xffc"},
		[]string{"SET", "ttl", "v", "PXAT", "99999999999999"},
	)
	digests("strings", "int", "neg", "emb", "raw", "empty", "bin", "ttl", "nokey")
	srvBoth(fc, rc, []string{"SELECT", "9"}, []string{"SET", "int", "12345"}, []string{"SELECT", "0"})
	digests("two databases", "int")
	srvBoth(fc, rc, []string{"APPEND", "emb", "!"}, []string{"PERSIST", "ttl"}, []string{"DEL", "neg"})
	digests("after changes", "emb", "ttl", "neg")

	// Hashes and sets, compact and large.
	srvBoth(fc, rc,
		[]string{"HSET", "h", "f1", "v1", "f2", "v2"},
		[]string{"SADD", "iset", "3", "1", "2"},
		[]string{"SADD", "sset", "b", "a", "c"},
	)
	big := []string{"HSET", "bigh"}
	bigs := []string{"SADD", "bigs"}
	for i := 0; i < 600; i++ {
		big = append(big, "field"+strconv.Itoa(i), strconv.Itoa(i*7))
		bigs = append(bigs, "m"+strconv.Itoa(i))
	}
	srvBoth(fc, rc, big, bigs)
	digests("hashes and sets", "h", "iset", "sset", "bigh", "bigs")

	// Lists, short and long.
	long := []string{"RPUSH", "biglist"}
	for i := 0; i < 300; i++ {
		long = append(long, "e"+strconv.Itoa(i))
	}
	srvBoth(fc, rc, []string{"RPUSH", "l", "a", "1", "b"}, []string{"LPUSH", "l", "z"}, long)
	digests("lists", "l", "biglist")
}

func TestDebugCommands(t *testing.T) {
	e, addr := redistest.Ferry(t, command.Config{})
	c := redistest.Dial(t, addr)
	start := time.Now()
	if r := c.Do("DEBUG", "SLEEP", "0.2"); r != "+OK\r\n" {
		t.Fatalf("DEBUG SLEEP: %q", r)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("DEBUG SLEEP 0.2 returned after %v", d)
	}
	for _, tc := range []struct {
		arg  string
		want bool
	}{{"0", false}, {"1", true}, {"abc", false}, {"7", true}} {
		if r := c.Do("DEBUG", "SET-ACTIVE-EXPIRE", tc.arg); r != "+OK\r\n" {
			t.Fatalf("DEBUG SET-ACTIVE-EXPIRE %s: %q", tc.arg, r)
		}
		e.Lock()
		got := e.ActiveExpireEnabled()
		e.Unlock()
		if got != tc.want {
			t.Errorf("after SET-ACTIVE-EXPIRE %s: enabled %v", tc.arg, got)
		}
	}
}

func TestShutdown(t *testing.T) {
	_, addr := redistest.Ferry(t, command.Config{})
	c := redistest.Dial(t, addr)
	for _, args := range [][]string{{"SHUTDOWN", "SAVE"}, {"SHUTDOWN", "ABORT"}, {"SHUTDOWN", "BAD"}} {
		if r := c.Do(args...); !strings.HasPrefix(r, "-ERR") {
			t.Errorf("%v: %q", args, r)
		}
	}
	c.WriteRaw(redistest.Encode("SHUTDOWN", "NOSAVE", "NOW", "FORCE"))
	if !srvClosed(t, c) {
		t.Error("SHUTDOWN left the connection open")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		d, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		d.Close()
		if time.Now().After(deadline) {
			t.Fatal("server still accepts connections after SHUTDOWN")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Without a Shutdown function the engine refuses.
	e := command.New(command.Config{})
	e.Lock()
	cl := e.NewClient("127.0.0.1:1", "127.0.0.1:2")
	ok := e.Exec(cl, [][]byte{[]byte("SHUTDOWN")})
	e.Unlock()
	if !ok || string(cl.W.Buf) != "-ERR Errors trying to SHUTDOWN. Check logs.\r\n" {
		t.Errorf("SHUTDOWN without a server: %v %q", ok, cl.W.Buf)
	}
}

func TestTimeAndRole(t *testing.T) {
	now := time.Unix(1700000000, 123456789)
	e := command.New(command.Config{Clock: func() time.Time { return now }})
	e.Lock()
	defer e.Unlock()
	cl := e.NewClient("127.0.0.1:1", "127.0.0.1:2")
	run := func(args ...string) string {
		cl.W.Reset()
		var b [][]byte
		for _, a := range args {
			b = append(b, []byte(a))
		}
		e.Exec(cl, b)
		return string(cl.W.Buf)
	}
	if r := run("TIME"); r != "*2\r\n$10\r\n1700000000\r\n$6\r\n123456\r\n" {
		t.Errorf("TIME: %q", r)
	}
	if r := run("ROLE"); r != "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n" {
		t.Errorf("ROLE: %q", r)
	}
	e.Unlock()
	e.SetReplication(func() command.Replication { return command.Replication{Offset: 42} })
	e.Lock()
	if r := run("ROLE"); r != "*3\r\n$6\r\nmaster\r\n:42\r\n*0\r\n" {
		t.Errorf("ROLE with offset 42: %q", r)
	}
	if r := run("INFO", "replication"); !strings.Contains(r, "\r\nmaster_repl_offset:42\r\n") {
		t.Errorf("INFO replication: %q", r)
	}

	replica := command.New(command.Config{Role: "slave"})
	replica.SetReplication(func() command.Replication {
		return command.Replication{Offset: 7, MasterHost: "stream", MasterPort: 4222, LinkUp: true}
	})
	replica.Lock()
	rcl := replica.NewClient("127.0.0.1:1", "127.0.0.1:2")
	replica.Exec(rcl, [][]byte{[]byte("ROLE")})
	replica.Unlock()
	if r := string(rcl.W.Buf); r != "*5\r\n$5\r\nslave\r\n$6\r\nstream\r\n:4222\r\n$9\r\nconnected\r\n:7\r\n" {
		t.Errorf("replica ROLE: %q", r)
	}
}

func TestConfigSetApplies(t *testing.T) {
	e, addr := redistest.Ferry(t, command.Config{})
	c := redistest.Dial(t, addr)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"proto-max-bulk-len", "2mb"}, "+OK\r\n"},
		{[]string{"set-max-intset-entries", "3", "hash-max-ziplist-entries", "5", "list-max-listpack-size", "-3"}, "+OK\r\n"},
		{[]string{"port", "1234"}, "-ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config\r\n"},
		{[]string{"bind", "0.0.0.0"}, "-ERR CONFIG SET failed (possibly related to argument 'bind') - can't set immutable config\r\n"},
		{[]string{"appendonly", "yes"}, "-ERR CONFIG SET failed (possibly related to argument 'appendonly') - ferry has no append-only file: its writes go to the replication stream\r\n"},
		{[]string{"maxmemory", "1mb"}, "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - ferry does not evict keys: maxmemory must be 0\r\n"},
		{[]string{"save", "3600 1"}, "-ERR CONFIG SET failed (possibly related to argument 'save') - ferry schedules snapshots with --snapshot-interval and --snapshot-after-writes\r\n"},
		{[]string{"timeout", "30"}, "-ERR CONFIG SET failed (possibly related to argument 'timeout') - ferry does not close idle clients: timeout must be 0\r\n"},
		// A refused pair leaves the others unchanged.
		{[]string{"hz", "50", "maxmemory", "1"}, "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - ferry does not evict keys: maxmemory must be 0\r\n"},
	} {
		if r := c.Do(append([]string{"CONFIG", "SET"}, tc.args...)...); r != tc.want {
			t.Errorf("CONFIG SET %v: %q, want %q", tc.args, r, tc.want)
		}
	}
	if r := c.Do("CONFIG", "GET", "hz"); r != "*2\r\n$2\r\nhz\r\n$2\r\n10\r\n" {
		t.Errorf("hz after a refused CONFIG SET: %q", r)
	}
	e.Lock()
	lim, bulk := e.Keyspace().Limits, e.Config().MaxBulkLen
	e.Unlock()
	if lim.SetMaxIntsetEntries != 3 || lim.HashMaxListpackEntries != 5 || lim.ListMaxListpackSize != -3 || bulk != 2<<20 {
		t.Errorf("limits %+v, proto-max-bulk-len %d", lim, bulk)
	}
	if r := c.Do("CONFIG", "GET", "port"); r != "*2\r\n$4\r\nport\r\n$"+strconv.Itoa(len(addr)-strings.LastIndexByte(addr, ':')-1)+"\r\n"+addr[strings.LastIndexByte(addr, ':')+1:]+"\r\n" {
		t.Errorf("CONFIG GET port: %q (listening on %s)", r, addr)
	}

	// requirepass: new connections must authenticate, this one stays in.
	if r := c.Do("CONFIG", "SET", "requirepass", "s3cret"); r != "+OK\r\n" {
		t.Fatalf("CONFIG SET requirepass: %q", r)
	}
	other := redistest.Dial(t, addr)
	if r := other.Do("GET", "x"); r != "-NOAUTH Authentication required.\r\n" {
		t.Errorf("new connection without AUTH: %q", r)
	}
	if r := other.Do("AUTH", "s3cret"); r != "+OK\r\n" {
		t.Errorf("AUTH: %q", r)
	}
	if r := c.Do("PING"); r != "+PONG\r\n" {
		t.Errorf("existing connection after requirepass: %q", r)
	}
	c.Do("CONFIG", "SET", "requirepass", "")
	if r := redistest.Dial(t, addr).Do("PING"); r != "+PONG\r\n" {
		t.Errorf("new connection after clearing requirepass: %q", r)
	}
}

// TestCommandInfoMatchesRedis compares COMMAND INFO of every command and
// subcommand ferry serves with redis-server's, leaving out the notes Redis
// attaches to some key specs (prose ferry does not copy). A container is
// compared without its list of subcommands, which ferry has fewer of; each
// subcommand is compared on its own.
func TestCommandInfoMatchesRedis(t *testing.T) {
	rc := redistest.Dial(t, redistest.Redis(t))
	e, addr := redistest.Ferry(t, command.Config{})
	fc := redistest.Dial(t, addr)
	e.Lock()
	var names []string
	for _, cmd := range e.Table().All() {
		names = append(names, cmd.Name)
		for _, s := range cmd.Subcommands() {
			names = append(names, s.Name)
		}
	}
	e.Unlock()
	for _, proto := range []string{"2", "3"} {
		rc.Do("HELLO", proto)
		fc.Do("HELLO", proto)
		for _, name := range names {
			r := srvParse(t, rc.Do("COMMAND", "INFO", name)).elems[0]
			if r.kind == '_' {
				continue // a command of ferry's own
			}
			f := srvParse(t, fc.Do("COMMAND", "INFO", name)).elems[0]
			if len(f.elems) != 10 {
				t.Fatalf("COMMAND INFO %s: %d fields", name, len(f.elems))
			}
			for _, sub := range f.elems[9].elems {
				if !slices.ContainsFunc(r.elems[9].elems, func(n srvNode) bool { return n.elems[0].str == sub.elems[0].str }) {
					t.Errorf("%s: subcommand %s unknown to Redis", name, sub.elems[0].str)
				}
			}
			f.elems, r.elems = f.elems[:9], r.elems[:9]
			if got, want := srvCanon(f), srvCanon(r); got != want {
				t.Errorf("RESP%s COMMAND INFO %s:\n ferry %s\n redis %s", proto, name, got, want)
			}
		}
	}
}

// srvCanon renders a reply, leaving out "notes" entries of maps.
func srvCanon(n srvNode) string {
	var b strings.Builder
	b.WriteByte(n.kind)
	b.WriteString(n.str)
	if len(n.elems) > 0 {
		b.WriteByte('[')
		for i := 0; i < len(n.elems); i++ {
			if n.elems[i].str == "notes" && n.elems[i].kind == '$' && i%2 == 0 && (n.kind == '%' || len(n.elems)%2 == 0) {
				i++
				continue
			}
			b.WriteString(srvCanon(n.elems[i]))
			b.WriteByte(',')
		}
		b.WriteByte(']')
	}
	return b.String()
}

// TestGetkeysMatchesRedis runs COMMAND GETKEYS and GETKEYSANDFLAGS for
// command lines of every kind of key spec on both servers. Commands ferry
// does not serve yet are added to its table with Redis's arity and flags
// (the key specs come from ferry's own table).
func TestGetkeysMatchesRedis(t *testing.T) {
	rc := redistest.Dial(t, redistest.Redis(t))
	e, addr := redistest.Ferry(t, command.Config{})
	fc := redistest.Dial(t, addr)
	lines := [][]string{
		{"get", "a"}, {"set", "a", "b"}, {"set", "a", "b", "get"}, {"mset", "a", "1", "b", "2"},
		{"mset", "a", "1", "b"}, {"del", "a", "b", "c"}, {"rename", "a", "b"}, {"copy", "a", "b", "DB", "1"},
		{"blpop", "a", "b", "0"}, {"brpop", "a", "0"}, {"blmove", "a", "b", "left", "right", "0"},
		{"lmove", "a", "b", "left", "right"}, {"rpoplpush", "a", "b"},
		{"lmpop", "2", "a", "b", "LEFT"}, {"lmpop", "0", "a", "LEFT"}, {"lmpop", "3", "a", "LEFT"}, {"lmpop", "x", "a", "LEFT"},
		{"blmpop", "0", "2", "a", "b", "LEFT", "COUNT", "2"},
		{"zunionstore", "d", "2", "a", "b"}, {"zunionstore", "d", "0", "a"}, {"zunionstore", "d", "3", "a", "b"},
		{"zunionstore", "d", "x", "a"}, {"zunionstore", "d", "2abc", "a", "b"}, {"zunionstore", "d", "-1", "a"},
		{"zunionstore", "d", "2", "a", "b", "WEIGHTS", "1", "2"}, {"zinterstore", "d", "1", "a"}, {"zdiffstore", "d", "2", "a", "b"},
		{"zunion", "2", "a", "b", "WITHSCORES"}, {"zinter", "1", "a"}, {"zdiff", "2", "a", "b"}, {"zintercard", "2", "a", "b", "LIMIT", "1"},
		{"zmpop", "1", "a", "MIN"}, {"bzmpop", "0", "2", "a", "b", "MAX"}, {"bzpopmin", "a", "b", "0"},
		{"zrangestore", "d", "s", "0", "-1"}, {"sintercard", "2", "a", "b"}, {"sdiffstore", "d", "a", "b"},
		{"sort", "k"}, {"sort", "k", "BY", "p", "GET", "q", "LIMIT", "0", "1", "STORE", "d"},
		{"sort", "k", "STORE", "d1", "STORE", "d2"}, {"sort", "k", "STORE"}, {"sort", "k", "LIMIT", "STORE", "x", "y"},
		{"sort_ro", "k", "BY", "p"}, {"lcs", "a", "b"}, {"object", "encoding", "k"}, {"watch", "a", "b"},
		{"ssubscribe", "a"}, {"spublish", "a", "m"}, {"publish", "a", "m"}, {"ping"}, {"ping", "x"},
	}
	// Add what ferry lacks, with Redis's arity and flags.
	e.Lock()
	for _, l := range lines {
		if e.Table().Lookup([]byte(l[0])) != nil {
			continue
		}
		info := srvParse(t, rc.Do("COMMAND", "INFO", l[0])).elems[0]
		arity, _ := strconv.Atoi(info.elems[1].str)
		var flags command.Flags
		for _, f := range info.elems[2].elems {
			switch f.str {
			case "write":
				flags |= command.Write
			case "readonly":
				flags |= command.ReadOnly
			}
		}
		e.Table().Add(&command.Command{Name: l[0], Arity: arity, Flags: flags, Handler: func(c *command.Ctx) { c.W.OK() }})
	}
	e.Unlock()
	for _, proto := range []string{"2", "3"} {
		rc.Do("HELLO", proto)
		fc.Do("HELLO", proto)
		for _, l := range lines {
			for _, sub := range []string{"GETKEYS", "GETKEYSANDFLAGS"} {
				args := append([]string{"COMMAND", sub}, l...)
				if f, r := fc.Do(args...), rc.Do(args...); f != r {
					t.Errorf("RESP%s %v:\n ferry %q\n redis %q", proto, args, f, r)
				}
			}
		}
	}
}

// srvHelp runs "help <cmd>" lines through redis-cli against addr and returns
// each command's usage line (the arguments redis-cli builds from COMMAND
// DOCS, or its own table when the server has none).
func srvHelp(t *testing.T, cli, addr string, names []string) map[string]string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	var in bytes.Buffer
	for _, n := range names {
		in.WriteString("help " + strings.ReplaceAll(n, "|", " ") + "\n")
	}
	cmd := osexec.Command(cli, "-h", host, "-p", port)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("redis-cli help: %v %s", err, stderr.String())
	}
	usage := map[string]string{}
	re := regexp.MustCompile(`\x1b\[1m([A-Z_| -]+)\x1b\[0m \x1b\[90m(.*)\x1b\[0m`)
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		usage[strings.ToLower(strings.ReplaceAll(m[1], " ", "|"))] = m[2]
	}
	return usage
}

func TestRedisCLI(t *testing.T) {
	cli := redistest.Need(t, "redis-cli")
	redisAddr := redistest.Redis(t)
	e, addr := redistest.Ferry(t, command.Config{})
	_, port, _ := strings.Cut(addr, ":")
	run := func(args ...string) string {
		t.Helper()
		cmd := osexec.Command(cli, append([]string{"-p", port}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Fatalf("redis-cli %v: %v, stderr %q", args, err, stderr.String())
		}
		return string(out)
	}
	if out := run("ping"); out != "PONG\n" {
		t.Errorf("redis-cli ping: %q", out)
	}
	if out := run("--no-raw", "get", "x"); out != "(nil)\n" {
		t.Errorf("redis-cli get x: %q", out)
	}
	run("set", "x", "hello")
	if out := run("--no-raw", "get", "x"); out != "\"hello\"\n" {
		t.Errorf("redis-cli get x: %q", out)
	}
	if out := run("-3", "--no-raw", "config", "get", "maxmemory"); out != "1# \"maxmemory\" => \"0\"\n" {
		t.Errorf("redis-cli -3 config get maxmemory: %q", out)
	}

	// Hints: redis-cli builds each command's usage from COMMAND DOCS; it
	// must read the same as against redis-server. Commands of the groups
	// ferry serves that it lacks yet are added (documented by ferry's
	// table of arguments), so that the whole table is checked.
	rc := redistest.Dial(t, redisAddr)
	rc.Do("HELLO", "3")
	docs := srvParse(t, rc.Do("COMMAND", "DOCS"))
	e.Lock()
	for i := 0; i+1 < len(docs.elems); i += 2 {
		name := docs.elems[i].str
		var group string
		d := docs.elems[i+1]
		for j := 0; j+1 < len(d.elems); j += 2 {
			if d.elems[j].str == "group" {
				group = d.elems[j+1].str
			}
		}
		switch group {
		case "string", "generic", "hash", "list", "set", "sorted-set":
		default:
			continue
		}
		if name == "migrate" || e.Table().Lookup([]byte(name)) != nil {
			continue
		}
		e.Table().Add(&command.Command{Name: name, Arity: -1, Group: group, Since: "1.0.0", Summary: "(test)", Handler: func(c *command.Ctx) { c.W.OK() }})
	}
	var names []string
	for _, cmd := range e.Table().All() {
		names = append(names, cmd.Name)
		for _, s := range cmd.Subcommands() {
			names = append(names, s.Name)
		}
	}
	e.Unlock()
	fh, rh := srvHelp(t, cli, addr, names), srvHelp(t, cli, redisAddr, names)
	if len(fh) < len(names)/2 {
		t.Fatalf("redis-cli shows help for %d of %d commands", len(fh), len(names))
	}
	for _, n := range names {
		want, ok := rh[n]
		if !ok {
			continue // not a Redis command
		}
		if got := fh[n]; got != want {
			t.Errorf("help %s: ferry %q, redis %q", n, got, want)
		}
	}

	// redis-benchmark reads CONFIG at start and must not warn.
	if bench, err := osexec.LookPath("redis-benchmark"); err == nil {
		cmd := osexec.Command(bench, "-p", port, "-n", "200", "-c", "2", "-t", "set,get", "-q")
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Contains(string(out), "WARN") || !strings.Contains(string(out), "GET:") {
			t.Errorf("redis-benchmark: %v\n%s", err, out)
		}
	}
}

func TestCommandListAndCount(t *testing.T) {
	_, addr := redistest.Ferry(t, command.Config{})
	c := redistest.Dial(t, addr)
	all := srvParse(t, c.Do("COMMAND"))
	count := c.Do("COMMAND", "COUNT")
	if count != ":"+strconv.Itoa(len(all.elems))+"\r\n" {
		t.Errorf("COMMAND COUNT %q, COMMAND lists %d", count, len(all.elems))
	}
	names := func(args ...string) []string {
		var out []string
		for _, n := range srvParse(t, c.Do(append([]string{"COMMAND", "LIST"}, args...)...)).elems {
			out = append(out, n.str)
		}
		return out
	}
	list := names()
	if !slices.Contains(list, "get") || !slices.Contains(list, "config|get") || len(list) <= len(all.elems) {
		t.Errorf("COMMAND LIST (%d names) lacks commands or subcommands", len(list))
	}
	conn := names("FILTERBY", "ACLCAT", "CONNECTION")
	if !slices.Contains(conn, "ping") || !slices.Contains(conn, "client|kill") || slices.Contains(conn, "get") {
		t.Errorf("FILTERBY ACLCAT connection: %v", conn)
	}
	dangerous := names("FILTERBY", "ACLCAT", "dangerous")
	if !slices.Contains(dangerous, "config|set") || !slices.Contains(dangerous, "info") || slices.Contains(dangerous, "config|help") {
		t.Errorf("FILTERBY ACLCAT dangerous: %v", dangerous)
	}
	if got := names("FILTERBY", "PATTERN", "client|?et*"); !slices.Equal(got, []string{"client|getname", "client|getredir", "client|setname"}) {
		t.Errorf("FILTERBY PATTERN client|?et*: %v", got)
	}
	docs := srvParse(t, c.Do("COMMAND", "DOCS", "config", "nosuch", "get"))
	if len(docs.elems) != 4 || docs.elems[0].str != "config" || docs.elems[2].str != "get" {
		t.Fatalf("COMMAND DOCS config nosuch get: %d elements", len(docs.elems))
	}
	var subs []string
	cfg := docs.elems[1]
	for i := 0; i+1 < len(cfg.elems); i += 2 {
		if cfg.elems[i].str == "subcommands" {
			for j := 0; j < len(cfg.elems[i+1].elems); j += 2 {
				subs = append(subs, cfg.elems[i+1].elems[j].str)
			}
		}
	}
	if !slices.Equal(subs, []string{"config|get", "config|help", "config|resetstat", "config|rewrite", "config|set"}) {
		t.Errorf("COMMAND DOCS config subcommands %v", subs)
	}
}

// A client is registered once in its life: registering it again after
// CLIENT KILL (the connection's first batch after BusyReply registered it
// while a script was busy) neither lists it again nor counts a second
// connection.
func TestRegisterClientOnce(t *testing.T) {
	e := command.New(command.Config{})
	register := func(cl *command.Client) {
		e.Lock()
		e.RegisterClient(cl)
		e.Unlock()
	}
	e.Lock()
	killer := e.NewClient("127.0.0.1:1", "127.0.0.1:6379")
	e.Unlock()
	victim := e.PrepareClient("127.0.0.1:2", "127.0.0.1:6379")
	register(victim)
	register(victim)
	id := strconv.FormatInt(victim.ID, 10)
	if r := exec(e, killer, "CLIENT", "KILL", "ID", id); r != ":1\r\n" {
		t.Fatalf("CLIENT KILL ID %s: %q", id, r)
	}
	register(victim)
	if r := exec(e, killer, "CLIENT", "LIST", "ID", id); r != "$0\r\n\r\n" {
		t.Errorf("killed client listed again: %q", r)
	}
	if r := exec(e, killer, "INFO", "stats"); !strings.Contains(r, "total_connections_received:2\r\n") {
		t.Errorf("INFO stats after registering twice and a kill: %q", r)
	}
}
