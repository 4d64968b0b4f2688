package compat

import (
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// A script running past busy-reply-threshold: other clients get BUSY,
// SCRIPT KILL stops a script that has not written (its caller gets the
// kill error) and is refused with UNKILLABLE for one that has; both
// servers give the same replies.
func TestBusyScript(t *testing.T) {
	redisAddr := redistest.Redis(t)
	_, ferryAddr := redistest.Ferry(t, command.Config{})
	for name, addr := range map[string]string{"ferry": ferryAddr, "redis": redisAddr} {
		t.Run(name, func(t *testing.T) {
			admin := busyAfter(t, addr, "100")
			runner := redistest.Dial(t, addr)

			// A script that only reads loops until it is killed.
			runner.WriteRaw(redistest.Encode("EVAL", "redis.call('get', 'k') while true do end", "0"))
			time.Sleep(400 * time.Millisecond)
			other := redistest.Dial(t, addr)
			if got := other.Do("GET", "k"); !strings.HasPrefix(got, "-BUSY Redis is busy running a script.") {
				t.Fatalf("GET while busy: %q", got)
			}
			if got := other.Do("SCRIPT", "KILL"); got != "+OK\r\n" {
				t.Fatalf("SCRIPT KILL: %q", got)
			}
			got, err := runner.ReadTimeout(5 * time.Second)
			if err != nil || !strings.HasPrefix(got, "-ERR Script killed by user with SCRIPT KILL... script: ") {
				t.Fatalf("killed script's reply: %q, %v", got, err)
			}
			if got := other.Do("PING"); got != "+PONG\r\n" {
				t.Fatalf("PING after the kill: %q", got)
			}

			// A script that wrote cannot be killed; it ends by itself
			// about a second later, and its write is there.
			runner.WriteRaw(redistest.Encode("EVAL", `redis.call('set', 'w', '1')
local t = redis.call('time')
local stop = t[1] * 1000000 + t[2] + 1000000
repeat t = redis.call('time') until t[1] * 1000000 + t[2] >= stop
return 'done'`, "0"))
			time.Sleep(400 * time.Millisecond)
			if got := other.Do("SCRIPT", "KILL"); !strings.HasPrefix(got, "-UNKILLABLE Sorry the script already executed write commands against the dataset.") {
				t.Fatalf("SCRIPT KILL of a script that wrote: %q", got)
			}
			if got, err := runner.ReadTimeout(10 * time.Second); err != nil || got != "$4\r\ndone\r\n" {
				t.Fatalf("the writing script's reply: %q, %v", got, err)
			}
			if got := other.Do("GET", "w"); got != "$1\r\n1\r\n" {
				t.Fatalf("GET w: %q", got)
			}
			if got := other.Do("SCRIPT", "KILL"); !strings.HasPrefix(got, "-NOTBUSY") {
				t.Fatalf("SCRIPT KILL with no script: %q", got)
			}
			admin.Do("DEL", "w")
		})
	}
}

// A command sent while a script runs but before busy-reply-threshold gets
// its answer at the threshold, as in Redis, not when the script ends: a
// SCRIPT KILL sent early stops a script that would never end. A client in
// MULTI whose queued command got BUSY has its transaction fail: EXEC
// while busy gets EXECABORT, and so does EXEC after the script, with
// nothing of the transaction run.
func TestBusyScriptEarlyCommands(t *testing.T) {
	redisAddr := redistest.Redis(t)
	_, ferryAddr := redistest.Ferry(t, command.Config{})
	for name, addr := range map[string]string{"ferry": ferryAddr, "redis": redisAddr} {
		t.Run(name, func(t *testing.T) {
			admin := busyAfter(t, addr, "300")
			runner := redistest.Dial(t, addr)
			other := redistest.Dial(t, addr)
			tx := redistest.Dial(t, addr)
			admin.Do("SET", "xx", "1")
			// busy starts a script that never ends and waits past the
			// threshold; kill stops it and takes its reply.
			busy := func() {
				runner.WriteRaw(redistest.Encode("EVAL", "while true do end", "0"))
				time.Sleep(400 * time.Millisecond)
			}
			kill := func() {
				if got := other.Do("SCRIPT", "KILL"); got != "+OK\r\n" {
					t.Fatalf("SCRIPT KILL: %q", got)
				}
				runner.ReadTimeout(5 * time.Second)
			}

			// A transaction whose second command arrives while busy.
			if got := tx.Do("MULTI"); got != "+OK\r\n" {
				t.Fatalf("MULTI: %q", got)
			}
			if got := tx.Do("INCR", "xx"); got != "+QUEUED\r\n" {
				t.Fatalf("INCR queued: %q", got)
			}
			runner.WriteRaw(redistest.Encode("EVAL", "while true do end", "0"))
			time.Sleep(50 * time.Millisecond)
			start := time.Now()
			if got := other.Do("SCRIPT", "KILL"); got != "+OK\r\n" {
				t.Fatalf("SCRIPT KILL sent before the threshold: %q", got)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("SCRIPT KILL answered after %s", d)
			}
			if got, err := runner.ReadTimeout(5 * time.Second); err != nil || !strings.HasPrefix(got, "-ERR Script killed by user with SCRIPT KILL... script: ") {
				t.Fatalf("killed script's reply: %q, %v", got, err)
			}

			busy()
			if got := tx.Do("INCR", "xx"); !strings.HasPrefix(got, "-BUSY ") {
				t.Fatalf("INCR in MULTI while busy: %q", got)
			}
			kill()
			if got := tx.Do("EXEC"); got != "-EXECABORT Transaction discarded because of previous errors.\r\n" {
				t.Fatalf("EXEC after a BUSY in the transaction: %q", got)
			}
			if got := admin.Do("GET", "xx"); got != "$1\r\n1\r\n" {
				t.Fatalf("GET xx: %q, want nothing of the transaction run", got)
			}

			// EXEC itself while busy.
			tx.Do("MULTI")
			tx.Do("INCR", "xx")
			busy()
			if got := tx.Do("EXEC"); got != "-EXECABORT Transaction discarded because of: BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n" {
				t.Fatalf("EXEC while busy: %q", got)
			}
			kill()
			if got := tx.Do("PING"); got != "+PONG\r\n" {
				t.Fatalf("PING after the aborted EXEC: %q (still in MULTI?)", got)
			}

			// QUIT is answered while busy, and the connection ends.
			busy()
			if got := tx.Do("QUIT"); got != "+OK\r\n" {
				t.Fatalf("QUIT while busy: %q", got)
			}
			if got, err := tx.ReadTimeout(2 * time.Second); err == nil {
				t.Fatalf("the connection is still open after QUIT: %q", got)
			}
			kill()
			if got := admin.Do("GET", "xx"); got != "$1\r\n1\r\n" {
				t.Fatalf("GET xx: %q", got)
			}
		})
	}
}

// busyAfter connects to addr and sets busy-reply-threshold to ms until the
// test ends; it returns the connection.
func busyAfter(t *testing.T, addr, ms string) *redistest.Conn {
	t.Helper()
	admin := redistest.Dial(t, addr)
	if got := admin.Do("CONFIG", "SET", "busy-reply-threshold", ms); got != "+OK\r\n" {
		t.Fatalf("CONFIG SET: %q", got)
	}
	t.Cleanup(func() { admin.Do("CONFIG", "SET", "busy-reply-threshold", "5000") })
	return admin
}
