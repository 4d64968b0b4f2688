package command_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// MEMORY USAGE: an estimate that grows with the value, for every type,
// from a sample or (SAMPLES 0) every element.
func TestMemoryUsage(t *testing.T) {
	_, addr := redistest.Ferry(t, command.Config{})
	c := redistest.Dial(t, addr)
	usage := func(args ...string) int {
		t.Helper()
		got := c.Do(append([]string{"MEMORY", "USAGE"}, args...)...)
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(got, ":"), "\r\n"))
		if err != nil || !strings.HasPrefix(got, ":") {
			t.Fatalf("MEMORY USAGE %q = %q", args, got)
		}
		return n
	}
	c.Do("SET", "small", "v")
	c.Do("SET", "big", strings.Repeat("x", 10000))
	if s, b := usage("small"), usage("big"); s <= 1 || b < 10000 || b <= s {
		t.Fatalf("strings: 1 byte %d, 10000 bytes %d", s, b)
	}
	for _, fill := range [][]string{
		{"RPUSH", "list"}, {"SADD", "set"}, {"HSET", "hash"}, {"ZADD", "zset"},
	} {
		key := fill[1]
		for i := range 1000 {
			m := "member-" + strconv.Itoa(i)
			switch key {
			case "hash":
				c.Do(fill[0], key, m, "value")
			case "zset":
				c.Do(fill[0], key, strconv.Itoa(i), m)
			default:
				c.Do(fill[0], key, m)
			}
		}
		sampled, all := usage(key), usage(key, "SAMPLES", "0")
		if sampled < 1000*len("member-1") || all < 1000*len("member-1") {
			t.Fatalf("%s of 1000 members: %d sampled, %d from all; want at least their bytes", key, sampled, all)
		}
	}
	if got := c.Do("MEMORY", "PURGE"); got != "+OK\r\n" {
		t.Fatalf("MEMORY PURGE = %q", got)
	}
}

// memShape describes a MEMORY STATS reply: each field's name and the type
// byte of its value, nested maps as "name.field".
func memShape(n srvNode) []string {
	var out []string
	for i := 0; i+1 < len(n.elems); i += 2 {
		name, v := n.elems[i].str, n.elems[i+1]
		out = append(out, name+" "+string(v.kind))
		if v.kind == '%' || v.kind == '*' {
			for _, s := range memShape(v) {
				out = append(out, name+"."+s)
			}
		}
	}
	return out
}

// memFields maps MEMORY STATS's top-level fields to their values.
func memFields(n srvNode) map[string]srvNode {
	m := map[string]srvNode{}
	for i := 0; i+1 < len(n.elems); i += 2 {
		m[n.elems[i].str] = n.elems[i+1]
	}
	return m
}

// TestMemoryStatsLikeRedis: MEMORY STATS has redis-server 7.0's fields, in
// its order, with its value types (integers, doubles, a map per database
// holding keys), in RESP2 and RESP3; ferry's figures add up.
func TestMemoryStatsLikeRedis(t *testing.T) {
	redistest.Need(t, "redis-server")
	rc := redistest.Dial(t, redistest.Redis(t))
	_, addr := redistest.Ferry(t, command.Config{})
	fc := redistest.Dial(t, addr)
	for _, proto := range []string{"2", "3"} {
		var shapes [2][]string
		for i, c := range []*redistest.Conn{rc, fc} {
			c.Do("HELLO", proto)
			c.Do("FLUSHALL")
			c.Do("SET", "a", "b")
			c.Do("SELECT", "2")
			c.Do("SET", "x", "y", "EX", "100")
			c.Do("SET", "z", "y")
			c.Do("SELECT", "0")
			shapes[i] = memShape(srvParse(t, c.Do("MEMORY", "STATS")))
		}
		if !slices.Equal(shapes[0], shapes[1]) {
			t.Fatalf("RESP%s MEMORY STATS:\nredis-server %q\nferry        %q", proto, shapes[0], shapes[1])
		}
	}
	st := srvParse(t, fc.Do("MEMORY", "STATS"))
	f := memFields(st)
	num := func(name string) int64 {
		t.Helper()
		n, err := strconv.ParseInt(f[name].str, 10, 64)
		if err != nil {
			t.Fatalf("MEMORY STATS %s: %q", name, f[name].str)
		}
		return n
	}
	if num("keys.count") != 3 || num("total.allocated") <= 0 || num("peak.allocated") < num("total.allocated") {
		t.Errorf("MEMORY STATS: keys %d, total %d, peak %d", num("keys.count"), num("total.allocated"), num("peak.allocated"))
	}
	db0, db2 := memFields(f["db.0"]), memFields(f["db.2"])
	if db0["overhead.hashtable.expires"].str != "0" || db2["overhead.hashtable.expires"].str == "0" ||
		db2["overhead.hashtable.main"].str == db0["overhead.hashtable.main"].str {
		t.Errorf("MEMORY STATS per database: db.0 %v, db.2 %v", db0, db2)
	}
	if _, ok := f["db.1"]; ok {
		t.Error("MEMORY STATS reports an empty database")
	}
	if over, data := num("overhead.total"), num("dataset.bytes"); over <= 0 || over+data != num("total.allocated") && data != 0 {
		t.Errorf("MEMORY STATS: overhead %d + dataset %d != total %d", over, data, num("total.allocated"))
	}
}

// TestMemoryDoctorAndMallocStats: DOCTOR answers one of Redis's reports
// (the heap of a test process is small or healthy) as verbatim text;
// MALLOC-STATS the Go runtime's figures.
func TestMemoryDoctorAndMallocStats(t *testing.T) {
	_, addr := redistest.Ferry(t, command.Config{})
	c := redistest.Dial(t, addr)
	c.Do("HELLO", "3")
	doc := srvParse(t, c.Do("MEMORY", "DOCTOR"))
	if doc.kind != '=' || !strings.HasPrefix(doc.str, "txt:Hi Sam, ") && !strings.HasPrefix(doc.str, "txt:Sam, I detected") {
		t.Errorf("MEMORY DOCTOR: %c %q", doc.kind, doc.str)
	}
	ms := srvParse(t, c.Do("MEMORY", "MALLOC-STATS"))
	if ms.kind != '=' || !strings.Contains(ms.str, "\nHeapAlloc: ") || !strings.HasSuffix(ms.str, "---\n") {
		t.Errorf("MEMORY MALLOC-STATS: %c %q", ms.kind, ms.str)
	}
	c.Do("HELLO", "2")
	if got := c.Do("MEMORY", "DOCTOR"); !strings.HasPrefix(got, "$") {
		t.Errorf("RESP2 MEMORY DOCTOR: %q", got)
	}
}
