package command_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/keyspace"
)

// send runs a command for cl without clearing its writer (a held command
// writes nothing until it runs again).
func send(e *command.Engine, cl *command.Client, args ...string) {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	e.Lock()
	defer e.Unlock()
	e.Exec(cl, b)
}

// reply returns and clears what cl was sent.
func reply(e *command.Engine, cl *command.Client) string {
	e.Lock()
	defer e.Unlock()
	r := string(cl.W.Buf)
	cl.W.Reset()
	return r
}

// While clients are paused, expired keys are hidden but neither a lookup
// nor the active cycle deletes them: no DEL reaches the log until the
// pause ends, and then the replica deletes them with the master.
func TestPauseKeepsExpiredKeys(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	rp := newReplication(clock, 2)
	m, c := rp.master, rp.clients[0]
	exec(m, c, "SET", "e1", "1", "PX", "100")
	exec(m, c, "SET", "e2", "1", "PX", "100")
	exec(m, c, "SET", "p", "1")
	for _, u := range rp.log.units {
		apply(t, rp.replica, rp.rc, u)
	}
	rp.log.units = nil
	if r := exec(m, c, "CLIENT", "PAUSE", "100000", "WRITE"); r != "+OK\r\n" {
		t.Fatalf("CLIENT PAUSE: %q", r)
	}
	clock.Add(time.Second)
	for _, cmd := range [][]string{{"GET", "e1"}, {"EXISTS", "e1", "e2"}, {"TTL", "e2"}, {"SCAN", "0"}, {"RANDOMKEY"}, {"DBSIZE"}} {
		exec(m, c, cmd...)
	}
	if n := m.ActiveExpire(); n != 0 {
		t.Errorf("active expiry deleted %d keys while paused", n)
	}
	if r := exec(m, c, "GET", "e1"); r != "$-1\r\n" {
		t.Errorf("GET of an expired key while paused: %q", r)
	}
	if r := exec(m, c, "DBSIZE"); r != ":3\r\n" {
		t.Errorf("DBSIZE while paused: %q (expired keys stay stored)", r)
	}
	if len(rp.log.units) != 0 {
		t.Fatalf("units logged while paused: %q", rp.log.units)
	}
	exec(m, c, "CLIENT", "UNPAUSE")
	if len(rp.log.units) != 0 {
		t.Fatalf("units logged by CLIENT UNPAUSE: %q", rp.log.units)
	}
	exec(m, c, "GET", "e1")
	m.ActiveExpire()
	if r := exec(m, c, "DBSIZE"); r != ":1\r\n" {
		t.Errorf("DBSIZE after the pause: %q", r)
	}
	var dels int
	for _, u := range rp.log.units {
		dels += bytes.Count(u, []byte("DEL"))
		apply(t, rp.replica, rp.rc, u)
	}
	if dels != 2 {
		t.Errorf("units after the pause: %q, want the two DELs", rp.log.units)
	}
	if a, b := exec(m, c, "DEBUG", "DIGEST"), exec(rp.replica, rp.rc, "DEBUG", "DIGEST"); a != b {
		t.Errorf("digests differ: master %q, replica %q", a, b)
	}
}

// A held write runs when the pause's time is over (the cron notices, or
// the next command), in the order the writes were held, and only then
// reaches the log.
func TestPauseTimeout(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	rp := newReplication(clock, 3)
	m, c, w1, w2 := rp.master, rp.clients[0], rp.clients[1], rp.clients[2]
	exec(m, c, "CLIENT", "PAUSE", "1000", "WRITE")
	send(m, w1, "RPUSH", "l", "a")
	send(m, w2, "RPUSH", "l", "b")
	if w1.Blocked() == nil || w2.Blocked() == nil {
		t.Fatal("writes not held")
	}
	if r := exec(m, c, "LRANGE", "l", "0", "-1"); r != "*0\r\n" {
		t.Errorf("a read while paused: %q", r)
	}
	clock.Add(500 * time.Millisecond)
	m.ActiveExpire()
	if w1.Blocked() == nil || len(rp.log.units) != 0 {
		t.Fatal("released before the pause's end")
	}
	done := w1.Blocked().Done
	clock.Add(600 * time.Millisecond)
	m.ActiveExpire()
	// w1 has the turn (its connection would run what it pipelined); then w2.
	m.Lock()
	m.EndTurn(w1)
	m.EndTurn(w2)
	m.Unlock()
	select {
	case <-done:
	default:
		t.Fatal("the held client was not woken")
	}
	if w1.Blocked() != nil || w2.Blocked() != nil {
		t.Fatal("still held after the pause's end")
	}
	if a, b := reply(m, w1), reply(m, w2); a != ":1\r\n" || b != ":2\r\n" {
		t.Errorf("replies %q %q, want :1 then :2", a, b)
	}
	if len(rp.log.units) != 2 {
		t.Errorf("units: %q", rp.log.units)
	}
}

// A client that goes away while held never runs its command; one pause
// held more is released with the others.
func TestPauseClientGone(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	rp := newReplication(clock, 3)
	m, c, w1, w2 := rp.master, rp.clients[0], rp.clients[1], rp.clients[2]
	exec(m, c, "CLIENT", "PAUSE", "100000", "WRITE")
	send(m, w1, "SET", "k", "1")
	send(m, w2, "INCR", "n")
	if r := exec(m, c, "INFO", "clients"); !strings.Contains(r, "blocked_clients:2\r\n") {
		t.Errorf("INFO clients while two are held: %q", r)
	}
	m.Lock()
	m.CloseClient(w1)
	m.Unlock()
	exec(m, c, "CLIENT", "UNPAUSE")
	m.Lock()
	m.EndTurn(w2) // as its connection does once it ran what it pipelined
	m.Unlock()
	if r := reply(m, w2); r != ":1\r\n" {
		t.Errorf("INCR after the pause: %q", r)
	}
	if r := exec(m, c, "EXISTS", "k"); r != ":0\r\n" {
		t.Errorf("the SET of a client gone ran: EXISTS %q", r)
	}
	if r := exec(m, c, "INFO", "clients"); !strings.Contains(r, "blocked_clients:0\r\n") {
		t.Errorf("INFO clients after the pause: %q", r)
	}
}

// On a replica a pause holds its clients, never the replication link:
// effects go on being applied, and a held read sees them when it runs.
func TestPauseReplicaApplies(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	e := command.New(command.Config{Clock: clock.Now, Role: "slave"})
	e.Lock()
	e.Keyspace().Mode = keyspace.ExpireHide
	c := e.NewClient("c", "")
	r := e.NewClient("r", "")
	e.Unlock()
	ap := e.NewApplier()
	exec(e, c, "CLIENT", "PAUSE", "1000", "ALL")
	send(e, r, "GET", "k")
	if r.Blocked() == nil {
		t.Fatal("GET not held on a paused replica")
	}
	if err := ap.Apply([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")); err != nil {
		t.Fatalf("apply while paused: %v", err)
	}
	clock.Add(2 * time.Second)
	e.ActiveExpire()
	if r.Blocked() != nil {
		t.Fatal("GET still held after the pause's end")
	}
	if got := reply(e, r); got != "$1\r\nv\r\n" {
		t.Errorf("held GET: %q", got)
	}
	if e.Keyspace().Mode != keyspace.ExpireHide {
		t.Errorf("replica expiry mode after the pause: %v", e.Keyspace().Mode)
	}
	// Under WRITE a replica's reads run; its writes get READONLY at once.
	exec(e, c, "CLIENT", "PAUSE", "100000", "WRITE")
	if got := exec(e, r, "GET", "k"); got != "$1\r\nv\r\n" {
		t.Errorf("GET under WRITE: %q", got)
	}
	if got := exec(e, r, "SET", "k", "w"); !strings.HasPrefix(got, "-READONLY") {
		t.Errorf("SET on a paused replica: %q", got)
	}
}

// A caller that cannot wait for the end of a pause (the HTTP API ends any
// wait at once) gets an error, and the command does not run later.
func TestPauseCallerCannotWait(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	rp := newReplication(clock, 2)
	m, c, h := rp.master, rp.clients[0], rp.clients[1]
	exec(m, c, "CLIENT", "PAUSE", "100000", "WRITE")
	send(m, h, "SET", "k", "1")
	m.Lock()
	if h.Blocked() == nil {
		m.Unlock()
		t.Fatal("SET not held")
	}
	m.TimeoutBlocked(h)
	m.Unlock()
	if r := reply(m, h); !strings.HasPrefix(r, "-ERR ferry: clients are paused") {
		t.Errorf("reply to a held command ended at once: %q", r)
	}
	exec(m, c, "CLIENT", "UNPAUSE")
	if r := exec(m, c, "EXISTS", "k"); r != ":0\r\n" || len(rp.log.units) != 0 {
		t.Errorf("the command ran after all: EXISTS %q, units %q", r, rp.log.units)
	}
}
