package command_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
)

// stalled makes a RESP3 client of e, tracking with opts, whose unwritten output is one message
// short of the Pub/Sub output limit, so that the next invalidation sent
// to it disconnects it.
func stalled(t *testing.T, e *command.Engine, opts ...string) *command.Client {
	t.Helper()
	e.Lock()
	cl := e.NewClient("stalled", "")
	e.Unlock()
	exec(e, cl, "HELLO", "3")
	// A tracking client is of the normal class, unlimited by default.
	exec(e, cl, "CONFIG", "SET", "client-output-buffer-limit", "normal 32mb 0 0")
	if got := exec(e, cl, append([]string{"CLIENT", "TRACKING", "ON"}, opts...)...); got != "+OK\r\n" {
		t.Fatalf("CLIENT TRACKING: %q", got)
	}
	e.Lock()
	cl.W.Reset()
	cl.Push(make([]byte, 32<<20))
	e.Unlock()
	return cl
}

// TestTrackingBroadcastDisconnects: a BCAST client disconnected for its
// output while the keys of its first prefix go out has left the later
// prefixes; the broadcast went on to them and panicked (nil prefix) in
// Engine.Unlock.
func TestTrackingBroadcastDisconnects(t *testing.T) {
	e := command.New(command.Config{})
	a := stalled(t, e, "BCAST", "PREFIX", "a", "PREFIX", "b")
	e.Lock()
	w := e.NewClient("writer", "")
	e.Unlock()
	exec(e, w, "MSET", "a1", "1", "b1", "2")
	if !a.CloseAfterReply() {
		t.Errorf("the stalled BCAST client was not disconnected")
	}
	if got := exec(e, w, "GET", "b1"); got != "$1\r\n2\r\n" {
		t.Errorf("GET b1 = %q", got)
	}
}

// TestTrackingFlushDisconnects: a FLUSHALL's null sent through a redirect
// disconnects the stalled target, itself a tracking client after it in
// the client list; trackingFlush then met the removed client and
// panicked.
func TestTrackingFlushDisconnects(t *testing.T) {
	e := command.New(command.Config{})
	e.Lock()
	c := e.NewClient("redirecting", "")
	e.Unlock()
	r := stalled(t, e) // tracking, created after c
	id := strings.TrimSuffix(strings.TrimPrefix(exec(e, r, "CLIENT", "ID"), ":"), "\r\n")
	if _, err := strconv.Atoi(id); err != nil {
		t.Fatalf("CLIENT ID: %q", id)
	}
	e.Lock()
	r.W.Reset()
	e.Unlock()
	if got := exec(e, c, "CLIENT", "TRACKING", "ON", "REDIRECT", id); got != "+OK\r\n" {
		t.Fatalf("CLIENT TRACKING ON REDIRECT: %q", got)
	}
	e.Lock()
	w := e.NewClient("writer", "")
	e.Unlock()
	if got := exec(e, w, "FLUSHALL"); got != "+OK\r\n" {
		t.Errorf("FLUSHALL = %q", got)
	}
	if !r.CloseAfterReply() {
		t.Errorf("the stalled redirect target was not disconnected")
	}
}
