package compat

import (
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// TestMonitorRejectedExec: an EXEC refused before it runs (wrong arity,
// with or without MULTI) ends the transaction with EXECABORT and shows in
// MONITOR, as Redis's execCommandAbort feeds it; the queued commands do
// not. ferry showed nothing.
func TestMonitorRejectedExec(t *testing.T) {
	redisAddr := redistest.Redis(t)
	_, ferryAddr := redistest.Ferry(t, command.Config{})
	cmds := []string{"MULTI", "INCR c", "EXEC foo", "EXEC bar", "MULTI", "SET y", "EXEC", "GET c"}
	want, wantReplies := monitorSession(t, redisAddr, cmds)
	got, gotReplies := monitorSession(t, ferryAddr, cmds)
	if strings.Join(gotReplies, "") != strings.Join(wantReplies, "") {
		t.Errorf("replies: ferry %q, redis %q", gotReplies, wantReplies)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("ferry's monitor:\n%s\nredis's:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestMonitorBusyExec: an EXEC refused because a script is busy shows in
// MONITOR too, before the script (shown when it ends).
func TestMonitorBusyExec(t *testing.T) {
	redisAddr := redistest.Redis(t)
	_, ferryAddr := redistest.Ferry(t, command.Config{})
	session := func(addr string) []string {
		busyAfter(t, addr, "100")
		_, mr := openMonitor(t, addr, 10*time.Second)
		tx, runner, other := redistest.Dial(t, addr), redistest.Dial(t, addr), redistest.Dial(t, addr)
		tx.Do("MULTI")
		tx.Do("INCR", "c")
		runner.WriteRaw(redistest.Encode("EVAL", "while true do end", "0"))
		time.Sleep(300 * time.Millisecond)
		if got := tx.Do("EXEC"); !strings.HasPrefix(got, "-EXECABORT Transaction discarded because of: BUSY ") {
			t.Fatalf("EXEC while busy: %q", got)
		}
		if got := other.Do("SCRIPT", "KILL"); got != "+OK\r\n" {
			t.Fatalf("SCRIPT KILL: %q", got)
		}
		runner.ReadTimeout(5 * time.Second)
		tx.Do("ECHO", "end")
		var lines []string
		for {
			m := nextMonitorLine(t, mr, lines)
			lines = append(lines, m[4])
			if m[4] == `"ECHO" "end"` {
				return lines
			}
		}
	}
	want, got := session(redisAddr), session(ferryAddr)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("ferry's monitor:\n%s\nredis's:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
