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
