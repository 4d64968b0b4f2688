//go:build linux

package server_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/internal/server"
)

// startLoop serves a fresh engine with the event loop (the default on
// Linux) and returns the server, its address and the engine.
func startLoop(t *testing.T, setup func(*server.Server, *command.Engine)) (*server.Server, string, *command.Engine) {
	t.Helper()
	e, srv := redistest.FerryServer(t, command.Config{}, func(s *server.Server, e *command.Engine) {
		s.SetEventLoop(true)
		if setup != nil {
			setup(s, e)
		}
	})
	return srv, srv.Addr().String(), e
}

// dialLoop opens n connections, each answered once, and waits until the
// loop serves them (with the others it served before: want in all).
func dialLoop(t *testing.T, srv *server.Server, n int, want int64) []*redistest.Conn {
	t.Helper()
	conns := make([]*redistest.Conn, n)
	for i := range conns {
		conns[i] = redistest.Dial(t, srv.Addr().String())
		if got := conns[i].Do("PING"); got != "+PONG\r\n" {
			t.Fatalf("PING: %q", got)
		}
	}
	waitLoopConns(t, srv, want)
	return conns
}

// waitLoopConns waits until the loop serves n connections.
func waitLoopConns(t *testing.T, srv *server.Server, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for srv.LoopConns() != n {
		if time.Now().After(deadline) {
			t.Fatalf("event loop serves %d connections, want %d", srv.LoopConns(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLoopServesPipelines runs many clients' pipelines on the loop, each
// with requests split across reads, and checks every reply.
func TestLoopServesPipelines(t *testing.T) {
	srv, _, _ := startLoop(t, nil)
	const clients, depth = 20, 200
	conns := dialLoop(t, srv, clients, clients)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var req []byte
			for j := range depth {
				req = append(req, redistest.Encode("SET", fmt.Sprintf("k%d:%d", i, j), strings.Repeat("v", j))...)
				req = append(req, redistest.Encode("GET", fmt.Sprintf("k%d:%d", i, j))...)
			}
			// Written in pieces that cut requests in the middle.
			go func() {
				for len(req) > 0 {
					n := min(len(req), 777)
					c.Net().Write(req[:n])
					req = req[n:]
					time.Sleep(time.Millisecond)
				}
			}()
			br := bufio.NewReader(c.Net())
			c.Net().SetReadDeadline(time.Now().Add(20 * time.Second))
			for j := range depth {
				set, err := redistest.ReadReply(br)
				if err != nil || string(set) != "+OK\r\n" {
					errs <- fmt.Errorf("client %d SET %d: %q %v", i, j, set, err)
					return
				}
				get, err := redistest.ReadReply(br)
				want := fmt.Sprintf("$%d\r\n%s\r\n", j, strings.Repeat("v", j))
				if err != nil || string(get) != want {
					errs <- fmt.Errorf("client %d GET %d: %q %v", i, j, get, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := srv.LoopConns(); n != clients {
		t.Errorf("after the pipelines the loop serves %d connections, want %d", n, clients)
	}
}

// TestLoopLargeValue moves a value larger than any one read through a
// loop connection, both ways.
func TestLoopLargeValue(t *testing.T) {
	srv, addr, _ := startLoop(t, nil)
	c := redistest.Dial(t, addr)
	val := strings.Repeat("0123456789abcdef", 300_000) // 4.8 MB
	if got := c.Do("SET", "big", val); got != "+OK\r\n" {
		t.Fatalf("SET: %q", got)
	}
	got := c.Do("GET", "big")
	if want := fmt.Sprintf("$%d\r\n%s\r\n", len(val), val); got != want {
		t.Fatalf("GET: %d bytes, want %d", len(got), len(want))
	}
	// The reply was larger than the socket takes at once: the
	// connection may have gone to a goroutine of its own, and still works.
	if got := c.Do("STRLEN", "big"); got != fmt.Sprintf(":%d\r\n", len(val)) {
		t.Fatalf("STRLEN: %q", got)
	}
	_ = srv
}

// TestLoopHandsOver checks the paths that leave the loop: a subscriber
// gets its messages, a blocked client its element, a script's caller its
// reply, and the other clients stay on the loop meanwhile.
func TestLoopHandsOver(t *testing.T) {
	srv, _, _ := startLoop(t, nil)
	conns := dialLoop(t, srv, 4, 4)
	plain, sub, blocked, script := conns[0], conns[1], conns[2], conns[3]

	if got := sub.Do("SUBSCRIBE", "ch"); !strings.HasPrefix(got, "*3\r\n$9\r\nsubscribe\r\n") {
		t.Fatalf("SUBSCRIBE: %q", got)
	}
	blocked.WriteRaw(redistest.Encode("BLPOP", "list", "0"))
	if got := script.Do("EVAL", "return redis.call('INCR', KEYS[1])", "1", "n"); got != ":1\r\n" {
		t.Fatalf("EVAL: %q", got)
	}
	waitLoopConns(t, srv, 1)

	if got := plain.Do("PUBLISH", "ch", "hello"); got != ":1\r\n" {
		t.Fatalf("PUBLISH: %q", got)
	}
	if got := sub.Read(); got != "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n" {
		t.Fatalf("message: %q", got)
	}
	if got := plain.Do("RPUSH", "list", "x"); got != ":1\r\n" {
		t.Fatalf("RPUSH: %q", got)
	}
	if got := blocked.Read(); got != "*2\r\n$4\r\nlist\r\n$1\r\nx\r\n" {
		t.Fatalf("BLPOP: %q", got)
	}
	// Handed over for good, and served as before.
	if got := script.Do("GET", "n"); got != "$1\r\n1\r\n" {
		t.Fatalf("GET after EVAL: %q", got)
	}
	if got := blocked.Do("PING"); got != "+PONG\r\n" {
		t.Fatalf("PING after BLPOP: %q", got)
	}
	if n := srv.LoopConns(); n != 1 {
		t.Errorf("loop serves %d connections, want 1 (the plain one)", n)
	}
}

// TestLoopSlowReader checks that a client that sends a deep pipeline and
// reads nothing holds up nobody: its replies outgrow the socket, it
// leaves the loop, and gets them all once it reads.
func TestLoopSlowReader(t *testing.T) {
	_, addr, _ := startLoop(t, nil)
	c := redistest.Dial(t, addr)
	val := strings.Repeat("x", 100_000)
	if got := c.Do("SET", "v", val); got != "+OK\r\n" {
		t.Fatalf("SET: %q", got)
	}
	const n = 300 // 30 MB of replies
	var req []byte
	for range n {
		req = append(req, redistest.Encode("GET", "v")...)
	}
	c.WriteRaw(req)
	other := redistest.Dial(t, addr)
	start := time.Now()
	if got := other.Do("PING"); got != "+PONG\r\n" {
		t.Fatalf("PING: %q", got)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("PING took %v while a client did not read", d)
	}
	want := fmt.Sprintf("$%d\r\n%s\r\n", len(val), val)
	for i := range n {
		if got := c.Read(); got != want {
			t.Fatalf("reply %d: %d bytes, want %d", i, len(got), len(want))
		}
	}
}

// TestLoopKillAndClose checks CLIENT KILL of a loop connection, QUIT, a
// protocol error and a peer that goes away, and that no descriptor stays
// open once their connections are gone.
func TestLoopKillAndClose(t *testing.T) {
	srv, addr, _ := startLoop(t, nil)
	admin := redistest.Dial(t, addr)
	admin.Do("PING")
	before := openFDs(t)
	for round := range 20 {
		victim := redistest.Dial(t, addr)
		victim.Do("CLIENT", "SETNAME", "victim")
		idle1 := redistest.Dial(t, addr)
		idle2 := redistest.Dial(t, addr)
		idle3 := redistest.Dial(t, addr)
		sub := redistest.Dial(t, addr)
		// Registered by a first command, as clients in CLIENT KILL.
		for _, c := range []*redistest.Conn{idle1, idle2, idle3} {
			c.Do("PING")
		}
		sub.Do("SUBSCRIBE", "x")
		if got := admin.Do("CLIENT", "KILL", "USER", "default", "SKIPME", "yes"); got != ":5\r\n" {
			// Every other client: victim, idle1-3, sub.
			t.Fatalf("round %d: CLIENT KILL: %q", round, got)
		}
		for _, c := range []*redistest.Conn{victim, idle1, idle2, idle3, sub} {
			c.Net().SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Net().Read(make([]byte, 64)); err == nil {
				t.Fatalf("round %d: a killed connection is still open", round)
			}
			c.Close()
		}
		q := redistest.Dial(t, addr)
		q.WriteRaw([]byte("PING\r\nQUIT\r\n"))
		if got := readAll(t, q.Net()); got != "+PONG\r\n+OK\r\n" {
			t.Fatalf("QUIT: %q", got)
		}
		q.Close()
		p := redistest.Dial(t, addr)
		p.WriteRaw([]byte("*1\r\n$x\r\n"))
		if got := readAll(t, p.Net()); got != "-ERR Protocol error: invalid bulk length\r\n" {
			t.Fatalf("protocol error: %q", got)
		}
		p.Close()
	}
	waitLoopConns(t, srv, 1)
	deadline := time.Now().Add(5 * time.Second)
	for {
		clients := strings.Contains(admin.Do("INFO", "clients"), "connected_clients:1\r\n")
		after := openFDs(t)
		if after <= before && clients {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("descriptors open: %d before, %d after; one client left: %v", before, after, clients)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestLoopCloseServer checks that closing the server ends the loop's
// connections and returns.
func TestLoopCloseServer(t *testing.T) {
	srv, _, _ := startLoop(t, nil)
	conns := dialLoop(t, srv, 10, 10)
	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	for _, c := range conns {
		c.Net().SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Net().Read(make([]byte, 16)); err == nil {
			t.Fatal("a connection is still open after Close")
		}
	}
}

// ackLog is a log whose stored point the test moves.
type ackLog struct {
	mu       sync.Mutex
	stored   uint64
	fail     error
	progress func()
	waits    atomic.Int64
}

func (a *ackLog) poll(need uint64) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		return false, a.fail
	}
	return a.stored >= need, nil
}

func (a *ackLog) wait(need uint64) error {
	a.waits.Add(1)
	for {
		ok, err := a.poll(need)
		if ok || err != nil {
			return err
		}
		time.Sleep(time.Millisecond)
	}
}

func (a *ackLog) set(stored uint64, fail error) {
	a.mu.Lock()
	a.stored, a.fail = stored, fail
	f := a.progress
	a.mu.Unlock()
	if f != nil {
		f()
	}
}

// unitLog is an engine log that drops what it is given.
type unitLog struct{}

func (unitLog) Append(command.Unit) {}

// TestLoopWaitsForLog checks that loop connections' replies wait for the
// log: none leaves before the units it depends on are stored, all leave
// once they are, and a failed log closes the connections unanswered.
func TestLoopWaitsForLog(t *testing.T) {
	log := &ackLog{stored: ^uint64(0)}
	srv, _, e := startLoop(t, func(s *server.Server, e *command.Engine) {
		e.SetLog(unitLog{}) // units are counted: AckPoint moves
		s.SetAckWaiter(log.wait)
		s.SetAckPoller(log.poll, func(f func()) {
			log.mu.Lock()
			log.progress = f
			log.mu.Unlock()
		})
	})
	conns := dialLoop(t, srv, 5, 5)
	e.Lock()
	base := e.AckPoint()
	e.Unlock()
	log.set(base, nil)
	for i, c := range conns {
		c.WriteRaw(redistest.Encode("SET", fmt.Sprint("k", i), "v"))
	}
	for _, c := range conns {
		if got, err := c.ReadTimeout(100 * time.Millisecond); err == nil {
			t.Fatalf("a reply before the log stored its write: %q", got)
		}
	}
	e.Lock()
	need := e.AckPoint()
	e.Unlock()
	if need <= base {
		t.Fatalf("AckPoint %d after five SETs, %d before", need, base)
	}
	log.set(need, nil)
	for i, c := range conns {
		if got, err := c.ReadTimeout(5 * time.Second); err != nil || got != "+OK\r\n" {
			t.Fatalf("client %d once stored: %q %v", i, got, err)
		}
	}
	if n := log.waits.Load(); n != 0 {
		t.Errorf("the blocking waiter ran %d times for loop connections", n)
	}
	// A failed log: the writes are never acknowledged.
	for i, c := range conns {
		c.WriteRaw(redistest.Encode("SET", fmt.Sprint("k", i), "w"))
	}
	time.Sleep(50 * time.Millisecond)
	log.set(need, errors.New("log lost"))
	for i, c := range conns {
		c.Net().SetReadDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 64)
		if n, err := c.Net().Read(b); err == nil {
			t.Fatalf("client %d got %q from a failed log", i, b[:n])
		}
	}
}

// TestLoopHalfClose: a client that sends its requests and its end of
// stream at once gets every reply, then the server closes too, as
// redis-server does, also when both were in the socket before the loop
// read it (one edge for both).
func TestLoopHalfClose(t *testing.T) {
	_, addr, _ := startLoop(t, nil)
	sleeper := redistest.Dial(t, addr)
	for round := range 5 {
		nc := dialRaw(t, addr)
		nc.Write([]byte("PING\r\n"))
		if n, err := nc.Read(make([]byte, 7)); n != 7 || err != nil {
			t.Fatalf("PING: %d bytes, %v", n, err)
		}
		// The loop is busy while the request and the end arrive.
		sleeper.WriteRaw(redistest.Encode("DEBUG", "SLEEP", "0.2"))
		time.Sleep(50 * time.Millisecond)
		nc.Write([]byte("SET a 1\r\nINCR n\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1"))
		nc.(*net.TCPConn).CloseWrite()
		if got := readAll(t, nc); !strings.HasPrefix(got, "+OK\r\n:") || !strings.HasSuffix(got, "\r\n+PONG\r\n") {
			t.Fatalf("round %d: %q, then the close", round, got)
		}
		nc.Close()
		if got := sleeper.Read(); got != "+OK\r\n" {
			t.Fatalf("DEBUG SLEEP: %q", got)
		}
	}
}

// TestLoopCloseDuringBusyScript: a loop client that goes away while a
// script is busy does not stop the loop until the script ends: the
// others still get BUSY at once.
func TestLoopCloseDuringBusyScript(t *testing.T) {
	srv, addr, _ := startLoop(t, nil)
	conns := dialLoop(t, srv, 3, 3)
	admin, gone, other := conns[0], conns[1], conns[2]
	if got := admin.Do("CONFIG", "SET", "busy-reply-threshold", "100"); got != "+OK\r\n" {
		t.Fatalf("CONFIG SET: %q", got)
	}
	runner := redistest.Dial(t, addr)
	start := time.Now()
	runner.WriteRaw(redistest.Encode("EVAL", `local t = redis.call('time')
local stop = t[1] * 1000000 + t[2] + 2000000
repeat t = redis.call('time') until t[1] * 1000000 + t[2] >= stop
return 'done'`, "0"))
	time.Sleep(300 * time.Millisecond)
	gone.Close()
	time.Sleep(50 * time.Millisecond)
	other.WriteRaw(redistest.Encode("PING"))
	got, err := other.ReadTimeout(5 * time.Second)
	if err != nil || !strings.HasPrefix(got, "-BUSY ") {
		t.Fatalf("PING while the script is busy: %q, %v", got, err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("BUSY came after %v: the loop waited for the script", d)
	}
	if got, err := runner.ReadTimeout(10 * time.Second); err != nil || got != "$4\r\ndone\r\n" {
		t.Fatalf("EVAL: %q, %v", got, err)
	}
}
