package command_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
)

// busyReply answers args as the server does while a script is busy, and
// returns the reply and whether the connection must close.
func busyReply(e *command.Engine, cl *command.Client, args ...string) (string, bool) {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	cl.W.Reset()
	quit, run := e.BusyReply(cl, b)
	if run {
		// The script has ended: the server runs it as usual.
		e.Lock()
		quit = !e.Exec(cl, b)
		e.Unlock()
	}
	return string(cl.W.Buf), quit
}

// Commands answered while a script is busy run between the script's
// redis.call calls, here a tight loop of writes: WATCH, MULTI, DISCARD,
// RESET and HELLO from another client touch the engine's state (watched
// keys, the client's) with no data race (go test -race), and a key
// watched while busy and written by the script afterwards fails the
// transaction, as in Redis.
func TestBusyCommandsBetweenCalls(t *testing.T) {
	e := command.New(command.Config{})
	e.Lock()
	runner, other, admin := e.NewClient("r", ""), e.NewClient("o", ""), e.NewClient("a", "")
	e.Unlock()
	if got := exec(e, admin, "CONFIG", "SET", "busy-reply-threshold", "50"); got != "+OK\r\n" {
		t.Fatalf("CONFIG SET: %q", got)
	}
	done := make(chan string)
	go func() {
		done <- exec(e, runner, "EVAL", `local function now() local t = redis.call('time') return t[1] * 1000000 + t[2] end
local stop = now() + 1500000
while now() < stop do redis.call('incr', KEYS[1]) end
return 'done'`, "1", "k")
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !e.ScriptBusy() {
		if time.Now().After(deadline) {
			t.Fatal("the script never became busy")
		}
		time.Sleep(5 * time.Millisecond)
	}
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"WATCH", "k"}, "+OK\r\n"},
		{[]string{"GET", "k"}, "-BUSY "},
		{[]string{"MULTI"}, "+OK\r\n"},
		{[]string{"INCR", "k"}, "-BUSY "},
		{[]string{"UNWATCH"}, "+QUEUED\r\n"},
		{[]string{"DISCARD"}, "+OK\r\n"},
		{[]string{"HELLO", "3"}, "%7\r\n"},
		{[]string{"RESET"}, "+RESET\r\n"},
		{[]string{"SCRIPT", "KILL"}, "-UNKILLABLE "},
	}
	for round := 0; round < 10; round++ {
		for _, st := range steps {
			got, _ := busyReply(e, other, st.args...)
			if !strings.HasPrefix(got, st.want) {
				t.Fatalf("round %d: %q: %q, want %q", round, st.args, got, st.want)
			}
		}
	}
	if got, _ := busyReply(e, other, "WATCH", "k"); got != "+OK\r\n" {
		t.Fatalf("WATCH k: %q", got)
	}
	if got := <-done; got != "$4\r\ndone\r\n" {
		t.Fatalf("the script's reply: %q", got)
	}
	exec(e, other, "MULTI")
	exec(e, other, "GET", "k")
	if got := exec(e, other, "EXEC"); got != "*-1\r\n" {
		t.Fatalf("EXEC after the script wrote the key watched while busy: %q", got)
	}
}

// A command read with those that came while a script was busy, once the
// script has ended, is answered as if it were still busy (Redis answers
// the requests it reads together in one go), and a command allowed while
// busy runs as usual, under the engine lock: here with no script at all.
func TestBusyReplyAfterTheScript(t *testing.T) {
	e := command.New(command.Config{})
	cl := e.PrepareClient("c", "")
	for _, st := range []struct {
		args []string
		want string
		quit bool
	}{
		{[]string{"MULTI"}, "+OK\r\n", false},
		{[]string{"GET", "k"}, "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n", false},
		{[]string{"SCRIPT", "KILL"}, "+QUEUED\r\n", false},
		{[]string{"EXEC"}, "-EXECABORT Transaction discarded because of: BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n", false},
		{[]string{"DISCARD"}, "-ERR DISCARD without MULTI\r\n", false},
		{[]string{"SCRIPT", "KILL"}, "-NOTBUSY No scripts in execution right now.\r\n", false},
		{[]string{"NOSUCH"}, "-ERR unknown command 'NOSUCH', with args beginning with: \r\n", false},
		{[]string{"QUIT"}, "+OK\r\n", true},
	} {
		got, quit := busyReply(e, cl, st.args...)
		if got != st.want || quit != st.quit {
			t.Errorf("%q: %q, %v; want %q, %v", st.args, got, quit, st.want, st.quit)
		}
	}
	e.Lock()
	e.CloseClient(cl)
	e.Unlock()
}
