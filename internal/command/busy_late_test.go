package command_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
)

// TestBusyNextScript: a connection answering BUSY while one script runs
// keeps answering BUSY, at the threshold, when a second script follows at
// once (pipelined after the first on its connection, so the lock passes
// straight from one to the other): it used to take the lock's late path
// when the first ended and wait for the whole of the second.
func TestBusyNextScript(t *testing.T) {
	e := command.New(command.Config{})
	e.Lock()
	runner, other, admin := e.NewClient("r", ""), e.NewClient("o", ""), e.NewClient("a", "")
	e.Unlock()
	if got := exec(e, admin, "CONFIG", "SET", "busy-reply-threshold", "100"); got != "+OK\r\n" {
		t.Fatalf("CONFIG SET: %q", got)
	}
	script := func(ms string) [][]byte {
		return [][]byte{[]byte("EVAL"), []byte(`local t = redis.call('time')
local stop = t[1] * 1000000 + t[2] + ` + ms + `000
repeat t = redis.call('time') until t[1] * 1000000 + t[2] >= stop
return 1`), []byte("0")}
	}
	var done atomic.Bool
	go func() {
		e.Lock()
		e.Exec(runner, script("400"))
		e.Exec(runner, script("2000"))
		e.Unlock()
		done.Store(true)
	}()
	get := [][]byte{[]byte("GET"), []byte("k")}
	var longest time.Duration
	busy := 0
	for !done.Load() {
		start := time.Now()
		if e.LockOrBusy() {
			other.W.Reset()
			e.Exec(other, get)
			e.Unlock()
		} else {
			other.W.Reset()
			e.BusyReply(other, get)
			if strings.HasPrefix(string(other.W.Buf), "-BUSY ") {
				busy++
			}
		}
		longest = max(longest, time.Since(start))
	}
	if busy == 0 {
		t.Fatal("no BUSY reply: the scripts never were busy")
	}
	if longest > time.Second {
		t.Errorf("one request waited %s: for the whole second script, not its threshold", longest)
	}
}

// TestBusyReplyLateLeavesCommandToCaller: a command that a busy script
// lets through, answered after the script ended (BusyReply's late path),
// is left to the caller to run under the engine lock, with nothing
// written: there a client pause holds it, as any command, and the
// connection must wait for it. It used to run inside BusyReply, which
// could not tell the connection that its client was now held.
func TestBusyReplyLateLeavesCommandToCaller(t *testing.T) {
	e := command.New(command.Config{})
	e.Lock()
	cl, admin := e.NewClient("c", ""), e.NewClient("a", "")
	e.Unlock()
	if got := exec(e, admin, "CLIENT", "PAUSE", "100000", "ALL"); got != "+OK\r\n" {
		t.Fatalf("CLIENT PAUSE: %q", got)
	}
	multi := [][]byte{[]byte("MULTI")}
	// No script runs: the script has ended, as far as BusyReply knows.
	closeAfter, run := e.BusyReply(cl, multi)
	if !run || closeAfter {
		t.Fatalf("BusyReply(MULTI) with no script busy: run %v, close %v; want the caller to run it", run, closeAfter)
	}
	if len(cl.W.Buf) != 0 {
		t.Fatalf("BusyReply wrote %q for a command it left to the caller", cl.W.Buf)
	}
	e.Lock()
	e.Exec(cl, multi)
	blocked := cl.Blocked() != nil
	e.Unlock()
	if !blocked {
		t.Fatalf("MULTI under CLIENT PAUSE ALL was not held (reply %q)", cl.W.Buf)
	}
	// Not allowed while busy: still answered as busy, by BusyReply.
	e.Lock()
	cl2 := e.NewClient("d", "")
	e.Unlock()
	if _, run := e.BusyReply(cl2, [][]byte{[]byte("GET"), []byte("k")}); run {
		t.Fatal("BusyReply left GET to the caller: it is not allowed while a script is busy")
	}
	if !strings.HasPrefix(string(cl2.W.Buf), "-BUSY") {
		t.Fatalf("GET answered late: %q, want BUSY", cl2.W.Buf)
	}
}
