//go:build linux

package server_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/internal/server"
)

// lagLog is a log whose stored point the test moves, and whose progress
// notification comes a little after the change, as from a publisher
// whose confirmation wakes the blocking waiters before the loop runs.
type lagLog struct {
	mu       sync.Mutex
	cond     *sync.Cond
	stored   uint64
	progress func()
}

func newLagLog(stored uint64) *lagLog {
	l := &lagLog{stored: stored}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func (l *lagLog) poll(need uint64) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stored >= need, nil
}

func (l *lagLog) wait(need uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.stored < need {
		l.cond.Wait()
	}
	return nil
}

func (l *lagLog) notify(f func()) {
	l.mu.Lock()
	l.progress = f
	l.mu.Unlock()
}

// set stores units up to stored: the blocking waiters return at once,
// the loop hears of it lag later.
func (l *lagLog) set(stored uint64, lag time.Duration) {
	l.mu.Lock()
	l.stored = stored
	l.cond.Broadcast()
	f := l.progress
	l.mu.Unlock()
	time.Sleep(lag)
	if f != nil {
		f()
	}
}

// TestLoopNudgedWhileWaitingForLog: a RESP3 client whose reply waits for
// the log gets an invalidation (CLIENT TRACKING REDIRECT to it) and is
// handed to a goroutine of its own while still on the loop's list of
// connections waiting for the log. Its goroutine then owns the
// connection (it runs a batch, which sets the log point its replies
// need); the loop must not look at it any more. The race detector
// catches the loop reading that point (checkWaiting's minimum) while the
// goroutine writes it. The client gets its reply, once stored, then the
// invalidation.
func TestLoopNudgedWhileWaitingForLog(t *testing.T) {
	log := newLagLog(^uint64(0))
	srv, _, e := startLoop(t, func(s *server.Server, e *command.Engine) {
		e.SetLog(unitLog{}) // units are counted: AckPoint moves
		s.SetAckWaiter(log.wait)
		s.SetAckPoller(log.poll, log.notify)
	})
	for round := range 5 {
		conns := dialLoop(t, srv, 2, 2)
		tracker, target := conns[0], conns[1]
		if got := target.Do("HELLO", "3"); !strings.HasPrefix(got, "%") {
			t.Fatalf("HELLO 3: %q", got)
		}
		id := strings.TrimSuffix(strings.TrimPrefix(target.Do("CLIENT", "ID"), ":"), "\r\n")
		if got := tracker.Do("CLIENT", "TRACKING", "ON", "REDIRECT", id); got != "+OK\r\n" {
			t.Fatalf("CLIENT TRACKING: %q", got)
		}
		tracker.Do("GET", "k")

		e.Lock()
		base := e.AckPoint()
		e.Unlock()
		log.set(base, 0)
		target.WriteRaw(redistest.Encode("SET", "x", "1"))
		time.Sleep(20 * time.Millisecond) // the reply waits for the log
		// The invalidation nudges target while it waits.
		tracker.WriteRaw(redistest.Encode("SET", "k", "1"))
		time.Sleep(20 * time.Millisecond)
		e.Lock()
		need := e.AckPoint()
		e.Unlock()
		log.set(need, 5*time.Millisecond)
		if got, err := target.ReadTimeout(5 * time.Second); err != nil || got != "+OK\r\n" {
			t.Fatalf("round %d: SET once stored: %q, %v", round, got, err)
		}
		if got, err := target.ReadTimeout(5 * time.Second); err != nil || !strings.Contains(got, "invalidate") {
			t.Fatalf("round %d: invalidation: %q, %v", round, got, err)
		}
		if got, err := tracker.ReadTimeout(5 * time.Second); err != nil || got != "+OK\r\n" {
			t.Fatalf("round %d: tracker's SET: %q, %v", round, got, err)
		}
		log.set(^uint64(0), 0)
		if got := target.Do("PING"); got != "+PONG\r\n" {
			t.Fatalf("round %d: PING after: %q", round, got)
		}
		tracker.Close()
		target.Close()
		waitLoopConns(t, srv, 0)
	}
}
