package compat

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// busyLoop is a script that runs for ARGV[2] ms, setting KEYS[1] to
// "script" after ARGV[1] ms when it has a key, and returns "done".
const busyLoop = `"local function now() local t = redis.call('time') return t[1] * 1000000 + t[2] end ` +
	`local s = now() while now() < s + ARGV[1] * 1000 do end ` +
	`if #KEYS > 0 then redis.call('set', KEYS[1], 'script') end ` +
	`while now() < s + ARGV[2] * 1000 do end return 'done'"`

// busyLib is a function library whose function busy loops as busyLoop
// does, without writing.
const busyLib = `"#!lua name=busylib\nredis.register_function('spin', function(keys, args) local function now() local t = redis.call('time') return t[1] * 1000000 + t[2] end local s = now() while now() < s + args[1] * 1000 do end return 'spun' end)"`

// Commands while a script is past busy-reply-threshold (100 ms here),
// sent by other connections to redis-server and ferry: the commands Redis
// 7.0 flags allow-busy run (MULTI, DISCARD, WATCH, UNWATCH, AUTH, HELLO,
// RESET, QUIT, SCRIPT KILL, FUNCTION KILL and STATS, SHUTDOWN's errors),
// others get BUSY, the checks Redis makes before the busy one (unknown
// command, arity, NOAUTH, a command MULTI refuses) answer first, and
// inside MULTI the allowed commands are queued. Every reply must match.
func TestBusyAllowed(t *testing.T) {
	scenarios := map[string]string{
		"transaction": `
			0: CONFIG SET busy-reply-threshold 100
			2: SET k v
			0 noreply: EVAL $LOOP 0 0 1400
			sleep 400
			1: MULTI
			1: GET k
			1: WATCH k
			1: MULTI
			1: SCRIPT KILL
			1: FUNCTION KILL
			1: AUTH x
			1: PING
			1: SHUTDOWN
			1: UNWATCH
			1: FUNCTION STATS
			1: FOO bar
			1: EXEC
			1: EXEC
			1: DISCARD
			1: MULTI
			1: DISCARD
			1: MULTI
			1: SCRIPT KILL
			1: DISCARD
			1: FOO
			1: GET
			1: CLIENT
			1: CLIENT FOO
			1: CLIENT LIST
			1: SCRIPT FOO
			1: SCRIPT
			1: FUNCTION KILL
			1: FUNCTION STATS
			1: SHUTDOWN
			1: SHUTDOWN ABORT
			1: SHUTDOWN FOO
			1: SHUTDOWN NOSAVE SAVE
			1: SHUTDOWN ABORT NOW
			1: AUTH x
			1: AUTH a b
			1: HELLO 4
			1: HELLO 3 AUTH a b
			1: COMMAND INFO get
			1: ROLE
			1: SUBSCRIBE ch
			0 read:
			1: PING
			2: GET k
			0: CONFIG SET busy-reply-threshold 5000`,
		// A transaction begun while busy runs once the script is over.
		"queued": `
			0: CONFIG SET busy-reply-threshold 100
			0 noreply: EVAL $LOOP 0 0 1000
			sleep 400
			1: MULTI
			1: SCRIPT KILL
			1: FUNCTION KILL
			1: FUNCTION STATS
			1: UNWATCH
			1: AUTH x
			0 read:
			1: SET k 1
			1: EXEC
			2: GET k
			0: CONFIG SET busy-reply-threshold 5000`,
		// WATCH while busy watches from then on: the script's later
		// write fails the transaction, as it does in Redis.
		"watch": `
			0: CONFIG SET busy-reply-threshold 100
			0: SET w 1
			0: SET other 1
			0 noreply: EVAL $LOOP 1 w 1500 3000
			sleep 400
			1: WATCH w
			2: WATCH other
			3: WATCH w
			3: UNWATCH
			sleep 1600
			# ferry's UNKILLABLE says what stops such a script in ferry.
			1 type: SCRIPT KILL
			1: GET w
			0 read:
			1: MULTI
			1: GET w
			1: EXEC
			2: MULTI
			2: GET other
			2: EXEC
			3: MULTI
			3: GET w
			3: EXEC
			0: CONFIG SET busy-reply-threshold 5000`,
		// RESET while busy ends the connection's state: its transaction,
		// its subscriptions (a RESP2 subscriber may send only RESET,
		// PING, QUIT and the (un)subscribe commands), its name.
		"reset": `
			0: CONFIG SET busy-reply-threshold 100
			1: CLIENT SETNAME named
			1: SUBSCRIBE ch
			0 noreply: EVAL $LOOP 0 0 1000
			sleep 400
			1: GET k
			1: RESET
			1: GET k
			1: MULTI
			1: RESET
			1: EXEC
			0 read:
			1: CLIENT GETNAME
			2: PUBLISH ch m
			0: CONFIG SET busy-reply-threshold 5000`,
		// AUTH and HELLO while busy, with a password: RESET drops the
		// authentication, NOAUTH comes before BUSY, QUIT is allowed.
		"auth": `
			0: CONFIG SET busy-reply-threshold 100
			0: CONFIG SET requirepass pw
			0 noreply: EVAL $LOOP 0 0 1100
			sleep 400
			1: RESET
			1: GET k
			1: PING
			1: MULTI
			1: EXEC
			1: FOO
			1: AUTH wrong
			1: AUTH default wrong
			1: HELLO 3 AUTH default wrong
			1: GET k
			1: AUTH pw
			1: GET k
			# HELLO's reply has the client id.
			1 type: HELLO 2 AUTH default pw SETNAME busyname
			1 type: HELLO 3
			1: SET k v
			2: RESET
			2: QUIT
			0 read:
			1: CLIENT GETNAME
			1: HSET h f v
			1: HGETALL h
			0: CONFIG SET requirepass ""
			0: CONFIG SET busy-reply-threshold 5000`,
		// A busy function: FUNCTION's wording of BUSY, SCRIPT KILL
		// refused, FUNCTION KILL stops it.
		"function": `
			0: CONFIG SET busy-reply-threshold 100
			0: FUNCTION LOAD REPLACE $LIB
			0 noreply: FCALL spin 0 5000
			sleep 400
			1: GET k
			1: SHUTDOWN
			1: SCRIPT KILL
			1 type: FUNCTION STATS
			1: MULTI
			1: GET k
			1: EXEC
			1: FUNCTION KILL
			0 read:
			1: FUNCTION KILL
			1: FUNCTION DELETE busylib
			0: CONFIG SET busy-reply-threshold 5000`,
	}
	for name, s := range scenarios {
		s = strings.ReplaceAll(s, "$LOOP", busyLoop)
		scenarios[name] = strings.ReplaceAll(s, "$LIB", busyLib)
	}
	scenarioTest(t, 4, scenarios)
}

// COMMAND INFO of the commands Redis 7.0 lets through
// while a script is busy, and of some it does not, are the same on both
// servers: allow_busy is among the flags where Redis shows it.
func TestBusyAllowedFlags(t *testing.T) {
	scenarioTest(t, 1, map[string]string{
		"flags": `
			0: COMMAND INFO auth discard hello multi quit reset unwatch watch shutdown replconf
			0: COMMAND INFO script|kill function|kill function|stats script|flush function|list
			0: COMMAND INFO exec ping client|list role eval`,
	})
}

// SHUTDOWN NOSAVE while a script that has not written is busy stops the
// server: neither connection gets a reply, on either server.
func TestBusyShutdownNoSave(t *testing.T) {
	redisAddr := redistest.Redis(t)
	_, ferryAddr := redistest.Ferry(t, command.Config{})
	for name, addr := range map[string]string{"ferry": ferryAddr, "redis": redisAddr} {
		t.Run(name, func(t *testing.T) {
			admin := redistest.Dial(t, addr)
			if got := admin.Do("CONFIG", "SET", "busy-reply-threshold", "100"); got != "+OK\r\n" {
				t.Fatalf("CONFIG SET: %q", got)
			}
			runner := redistest.Dial(t, addr)
			other := redistest.Dial(t, addr)
			runner.WriteRaw(redistest.Encode("EVAL", "redis.call('get', 'k') while true do end", "0"))
			// Until the script is busy: a command sent before it starts
			// would wait for it (on ferry's lock, or in Redis's queue).
			time.Sleep(200 * time.Millisecond)
			for deadline := time.Now().Add(5 * time.Second); ; {
				if got := other.Do("PING"); strings.HasPrefix(got, "-BUSY ") {
					break
				} else if time.Now().After(deadline) {
					t.Fatalf("PING while the script should be busy: %q", got)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if got := other.Do("SHUTDOWN"); !strings.HasPrefix(got, "-BUSY ") {
				t.Fatalf("SHUTDOWN while busy: %q", got)
			}
			other.WriteRaw(redistest.Encode("SHUTDOWN", "NOSAVE"))
			if got, err := other.ReadTimeout(5 * time.Second); !closed(err) {
				t.Fatalf("SHUTDOWN NOSAVE: %q, %v; want the connection closed", got, err)
			}
			if got, err := runner.ReadTimeout(5 * time.Second); !closed(err) {
				t.Fatalf("the script's caller: %q, %v; want the connection closed", got, err)
			}
		})
	}
}

// ferry refuses SHUTDOWN NOSAVE while a script that wrote is busy (a
// deliberate difference: Redis exits, losing the script's writes with the
// process, while ferry would have to log half the script or stop it
// without a trace of writes it made in memory), and the script then ends
// as usual with its writes.
func TestBusyShutdownNoSaveWrote(t *testing.T) {
	_, addr := redistest.Ferry(t, command.Config{})
	admin := busyAfter(t, addr, "100")
	runner := redistest.Dial(t, addr)
	other := redistest.Dial(t, addr)
	runner.WriteRaw(redistest.Encode("EVAL", strings.Trim(busyLoop, `"`), "1", "w", "0", "2000"))
	// Past the script's start (a command that comes just as it starts
	// waits for its end), then busy: a SHUTDOWN NOSAVE after the script's
	// end would really shut the server down.
	time.Sleep(150 * time.Millisecond)
	if got := admin.Do("GET", "x"); !strings.HasPrefix(got, "-BUSY ") {
		t.Fatalf("GET while the script runs: %q, want BUSY", got)
	}
	if got := other.Do("SHUTDOWN", "NOSAVE"); !strings.HasPrefix(got, "-ERR ferry: SHUTDOWN NOSAVE cannot stop a script that already wrote") {
		t.Fatalf("SHUTDOWN NOSAVE: %q", got)
	}
	if got, err := runner.ReadTimeout(5 * time.Second); err != nil || got != "$4\r\ndone\r\n" {
		t.Fatalf("the script's reply: %q, %v", got, err)
	}
	if got := admin.Do("GET", "w"); got != "$6\r\nscript\r\n" {
		t.Fatalf("GET w: %q", got)
	}
}

// closed reports whether a read failed because the connection was closed
// (not because nothing came in time).
func closed(err error) bool {
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}
