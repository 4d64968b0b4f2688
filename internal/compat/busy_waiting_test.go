package compat

import (
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// TestBusyScriptAfterWaiting: a command that was already waiting for the
// server when a script began (behind the DEBUG SLEEP pipelined before the
// script) gets BUSY once the script is busy, as from redis-server, and
// not its reply when the script ends: ferry's connection was queued on
// the engine lock, which the script held throughout.
func TestBusyScriptAfterWaiting(t *testing.T) {
	redisAddr := redistest.Redis(t)
	_, ferryAddr := redistest.Ferry(t, command.Config{})
	for name, addr := range map[string]string{"ferry": ferryAddr, "redis": redisAddr} {
		t.Run(name, func(t *testing.T) {
			busyAfter(t, addr, "300")
			runner := redistest.Dial(t, addr)
			other := redistest.Dial(t, addr)
			start := time.Now()
			// Sleeps 0.4 s, then runs 2.5 s.
			runner.WriteRaw(append(redistest.Encode("DEBUG", "SLEEP", "0.4"), redistest.Encode("EVAL", `local t = redis.call('time')
local stop = t[1] * 1000000 + t[2] + 2500000
repeat t = redis.call('time') until t[1] * 1000000 + t[2] >= stop
return 'done'`, "0")...))
			time.Sleep(150 * time.Millisecond)
			other.WriteRaw(redistest.Encode("GET", "k"))
			got, err := other.ReadTimeout(10 * time.Second)
			took := time.Since(start)
			if err != nil || !strings.HasPrefix(got, "-BUSY Redis is busy running a script.") {
				t.Fatalf("GET sent during the DEBUG SLEEP before the script: %q, %v after %s", got, err, took)
			}
			if took > 2500*time.Millisecond {
				t.Errorf("BUSY came after %s: at the script's end, not at its threshold", took)
			}
			if got, err := runner.ReadTimeout(10 * time.Second); err != nil || got != "+OK\r\n" {
				t.Fatalf("DEBUG SLEEP: %q, %v", got, err)
			}
			if got, err := runner.ReadTimeout(10 * time.Second); err != nil || got != "$4\r\ndone\r\n" {
				t.Fatalf("the script: %q, %v", got, err)
			}
		})
	}
}
