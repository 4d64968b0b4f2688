package command_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
)

// populated is a master and a replica that applies the master's units with
// the replica's own Applier (units can be larger than one read of the
// test's apply helper).
type populated struct {
	replication
	ap      *command.Applier
	applied int
}

func newPopulated(clock *fakeClock) *populated {
	rp := newReplication(clock, 1)
	return &populated{replication: rp, ap: rp.replica.NewApplier()}
}

// sync applies the units the master logged since the last sync and checks
// both end with the same DEBUG DIGEST. It returns the number of units.
func (p *populated) sync(t *testing.T) int {
	t.Helper()
	from := p.applied
	for ; p.applied < len(p.log.units); p.applied++ {
		if err := p.ap.Apply(p.log.units[p.applied]); err != nil {
			t.Fatalf("unit %d: %v", p.applied, err)
		}
	}
	md, rd := exec(p.master, p.clients[0], "DEBUG", "DIGEST"), exec(p.replica, p.rc, "DEBUG", "DIGEST")
	if md != rd {
		t.Fatalf("digests differ: master %q, replica %q", md, rd)
	}
	return p.applied - from
}

// TestDebugPopulateReplicates: DEBUG POPULATE 1000000 on a master reaches
// the replica as units of about 64 KiB (each well within a log entry)
// that leave it with the master's digest; padded values, prefixes, other
// databases, existing and expired keys too.
func TestDebugPopulateReplicates(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	rp := newPopulated(clock)
	m, cl := rp.master, rp.clients[0]
	count := 1000000
	if testing.Short() {
		count = 100000
	}
	start := time.Now()
	if got := exec(m, cl, "DEBUG", "POPULATE", strconv.Itoa(count)); got != "+OK\r\n" {
		t.Fatalf("DEBUG POPULATE %d: %q", count, got)
	}
	t.Logf("DEBUG POPULATE %d took %v", count, time.Since(start))
	if n := rp.sync(t); n < count/20000 {
		t.Fatalf("DEBUG POPULATE %d logged %d units", count, n)
	}
	for i, u := range rp.log.units {
		if len(u) > 70<<10 {
			t.Fatalf("unit %d is %d bytes", i, len(u))
		}
	}
	if got := exec(rp.replica, rp.rc, "DBSIZE"); got != ":"+strconv.Itoa(count)+"\r\n" {
		t.Fatalf("replica DBSIZE %q", got)
	}
	last := strconv.Itoa(count - 1)
	if got := exec(rp.replica, rp.rc, "GET", "key:"+last); got != "$"+strconv.Itoa(6+len(last))+"\r\nvalue:"+last+"\r\n" {
		t.Fatalf("replica GET key:%s %q", last, got)
	}

	// Existing keys are kept, expired ones replaced (their DEL logged
	// first), in database 5, with padded and cut values.
	rp = newPopulated(clock)
	m, cl = rp.master, rp.clients[0]
	exec(m, cl, "SELECT", "5")
	exec(m, cl, "SET", "p:1", "mine")
	exec(m, cl, "SET", "p:2", "short-lived", "PX", "100")
	exec(m, cl, "RPUSH", "p:3", "a")
	rp.sync(t)
	from := len(rp.log.units)
	clock.Add(time.Second)
	for _, args := range [][]string{
		{"DEBUG", "POPULATE", "5000", "p", "100"},
		{"DEBUG", "POPULATE", "5000", "q", "3"},
		{"DEBUG", "POPULATE", "100", "r", "7"},
		{"DEBUG", "POPULATE", "3000", strings.Repeat("x", 200)},
	} {
		if got := exec(m, cl, args...); got != "+OK\r\n" {
			t.Fatalf("%q: %q", args[:3], got)
		}
	}
	rp.sync(t)
	for _, c := range []struct{ key, want string }{
		{"p:1", "$4\r\nmine\r\n"},
		{"p:2", "$100\r\nvalue:2" + strings.Repeat("\x00", 93) + "\r\n"},
		{"p:4999", "$100\r\nvalue:4999" + strings.Repeat("\x00", 90) + "\r\n"},
		{"q:7", "$3\r\nval\r\n"},
		{"r:3", "$7\r\nvalue:3\r\n"},
	} {
		for _, node := range []struct {
			e  *command.Engine
			cl *command.Client
		}{{m, cl}, {rp.replica, rp.rc}} {
			exec(node.e, node.cl, "SELECT", "5")
			if got := exec(node.e, node.cl, "GET", c.key); got != c.want {
				t.Errorf("GET %s: %q, want %q", c.key, got, c.want)
			}
		}
	}
	if got := exec(m, cl, "TYPE", "p:3"); got != "+list\r\n" {
		t.Errorf("TYPE p:3 %q", got)
	}
	if got := exec(m, cl, "DBSIZE"); got != ":10101\r\n" {
		t.Errorf("DBSIZE %q (a 200-byte prefix makes one key of 127 bytes)", got)
	}
	if !bytes.Contains(bytes.Join(rp.log.units[from:], nil), []byte("*2\r\n$3\r\nDEL\r\n$3\r\np:2\r\n")) {
		t.Error("the expired key's DEL was not logged")
	}
}

// TestDebugPopulateInTransaction: in MULTI the whole EXEC is one unit, so
// a POPULATE whose effects could outgrow a log entry is refused before it
// changes anything, and a small one is one atomic unit.
func TestDebugPopulateInTransaction(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	rp := newPopulated(clock)
	m, cl := rp.master, rp.clients[0]
	m.Lock()
	m.SetMaxWriteBytes(64 << 10)
	m.Unlock()
	exec(m, cl, "MULTI")
	exec(m, cl, "SET", "before", "1")
	exec(m, cl, "DEBUG", "POPULATE", "100000")
	exec(m, cl, "DEBUG", "POPULATE", "10", "small")
	got := exec(m, cl, "EXEC")
	if !strings.Contains(got, "-ERR ferry: DEBUG POPULATE 100000 in a transaction may write ") || strings.Count(got, "+OK") != 2 {
		t.Fatalf("EXEC: %q", got)
	}
	if n := rp.sync(t); n != 1 {
		t.Fatalf("EXEC logged %d units", n)
	}
	if u := rp.log.units[0]; len(u) > 64<<10 || !bytes.HasPrefix(u, []byte("*1\r\n$5\r\nMULTI\r\n")) {
		t.Fatalf("EXEC's unit: %q", u)
	}
	if got := exec(m, cl, "DBSIZE"); got != ":11\r\n" {
		t.Fatalf("DBSIZE %q", got)
	}
	// Outside MULTI the same POPULATE splits into units under the limit.
	if got := exec(m, cl, "DEBUG", "POPULATE", "100000"); got != "+OK\r\n" {
		t.Fatalf("DEBUG POPULATE 100000: %q", got)
	}
	if n := rp.sync(t); n < 50 {
		t.Fatalf("DEBUG POPULATE 100000 logged %d units", n)
	}
	for _, u := range rp.log.units {
		if len(u) > 64<<10+4096 {
			t.Fatalf("a unit of %d bytes", len(u))
		}
	}
}

// TestDebugPopulateRefused: a replica's dataset is the log's, so it
// refuses DEBUG POPULATE as a write; a fenced master refuses it as it
// refuses writes; a value larger than proto-max-bulk-len is refused.
func TestDebugPopulateRefused(t *testing.T) {
	r, rc := newNode("slave")
	wantReply(t, r, rc, "-"+command.ErrReadOnly+"\r\n", "DEBUG", "POPULATE", "10")
	wantReply(t, r, rc, ":0\r\n", "DBSIZE")
	m, mc := newNode("master")
	wantReply(t, m, mc, "-ERR value is out of range, must be positive\r\n", "DEBUG", "POPULATE", "-1")
	wantReply(t, m, mc, "-"+command.ErrStringTooLong+"\r\n", "DEBUG", "POPULATE", "1", "k", "600000000")
	m.Lock()
	m.SetWriteError("READONLY fenced")
	m.Unlock()
	wantReply(t, m, mc, "-READONLY fenced\r\n", "DEBUG", "POPULATE", "10")
	wantReply(t, m, mc, ":0\r\n", "DBSIZE")
}
