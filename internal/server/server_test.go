package server_test

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/internal/server"
)

func start(t *testing.T) string {
	t.Helper()
	_, addr := redistest.Ferry(t, command.Config{})
	return addr
}

// readAll reads until the server closes the connection.
func readAll(t *testing.T, nc net.Conn) string {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(nc)
	if err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

func TestQuitAndProtocolErrorClose(t *testing.T) {
	addr := start(t)
	for in, want := range map[string]string{
		"PING\r\nQUIT\r\nPING\r\n":       "+PONG\r\n+OK\r\n",
		"PING\r\n*1\r\n$x\r\nPING\r\n":   "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n",
		"ECHO \"a\r\n":                   "-ERR Protocol error: unbalanced quotes in request\r\n",
		"SET k v\r\nPOST / HTTP/1.1\r\n": "",
	} {
		nc := dialRaw(t, addr)
		nc.Write([]byte(in))
		if got := readAll(t, nc); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
	// The request before POST ran, unanswered.
	c := redistest.Dial(t, addr)
	if got := c.Do("GET", "k"); got != "$1\r\nv\r\n" {
		t.Errorf("GET k after the cross-protocol drop: %q", got)
	}
}

// TestOwnMessagesInOrder checks that a subscriber's own replies and the
// messages it receives keep their order, also when both come from one
// pipelined batch.
func TestOwnMessagesInOrder(t *testing.T) {
	addr := start(t)
	nc := dialRaw(t, addr)
	nc.Write([]byte("HELLO 3\r\n"))
	br := bufio.NewReader(nc)
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := redistest.ReadReply(br); err != nil {
		t.Fatal(err)
	}
	nc.Write([]byte("SUBSCRIBE ch\r\nPUBLISH ch one\r\nPING\r\nPUBLISH ch two\r\n"))
	want := []string{
		">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n",
		">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\none\r\n",
		":1\r\n",
		"+PONG\r\n",
		">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\ntwo\r\n",
		":1\r\n",
	}
	for i, w := range want {
		got, err := redistest.ReadReply(br)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != w {
			t.Fatalf("reply %d: got %q, want %q", i, got, w)
		}
	}
}

// TestBlockedSubscriber checks a RESP3 subscriber blocked in BLPOP: a
// message published while it waits arrives at once, and the reply of the
// pop comes before a message published right after it.
func TestBlockedSubscriber(t *testing.T) {
	addr := start(t)
	sub := redistest.Dial(t, addr)
	sub.Do("HELLO", "3")
	sub.Do("SUBSCRIBE", "ch")
	sub.WriteRaw(redistest.Encode("BLPOP", "l", "0"))
	time.Sleep(50 * time.Millisecond)
	pub := redistest.Dial(t, addr)
	pub.Do("PUBLISH", "ch", "first")
	if got := sub.Read(); got != ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nfirst\r\n" {
		t.Fatalf("message while blocked: %q", got)
	}
	pub.WriteRaw([]byte("RPUSH l x\r\nPUBLISH ch second\r\n"))
	if got := sub.Read(); got != "*2\r\n$1\r\nl\r\n$1\r\nx\r\n" {
		t.Fatalf("BLPOP reply: %q", got)
	}
	if got := sub.Read(); got != ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$6\r\nsecond\r\n" {
		t.Fatalf("message after the pop: %q", got)
	}
}

// TestBlockedClientGone checks that a client that disconnects while
// blocked does not pop anything afterwards.
func TestBlockedClientGone(t *testing.T) {
	addr := start(t)
	nc := dialRaw(t, addr)
	nc.Write([]byte("BLPOP l 0\r\n"))
	time.Sleep(50 * time.Millisecond)
	nc.Close()
	time.Sleep(50 * time.Millisecond)
	c := redistest.Dial(t, addr)
	c.Do("RPUSH", "l", "x")
	if got := c.Do("LLEN", "l"); got != ":1\r\n" {
		t.Fatalf("LLEN after the blocked client left: %q", got)
	}
}

// TestSlowSubscriberDropped checks the Pub/Sub output limit: a subscriber
// that reads nothing is disconnected once 32 MB wait for it.
func TestSlowSubscriberDropped(t *testing.T) {
	addr := start(t)
	sub := dialRaw(t, addr)
	sub.Write([]byte("SUBSCRIBE slow\r\n"))
	time.Sleep(50 * time.Millisecond)
	pub := redistest.Dial(t, addr)
	msg := strings.Repeat("m", 1<<20)
	dropped := false
	for i := 0; i < 200 && !dropped; i++ {
		pub.Do("PUBLISH", "slow", msg)
		dropped = pub.Do("PUBSUB", "NUMSUB", "slow") == "*2\r\n$4\r\nslow\r\n:0\r\n"
	}
	if !dropped {
		t.Fatal("a subscriber reading nothing was never dropped")
	}
	if got := pub.Do("PING"); got != "+PONG\r\n" {
		t.Fatalf("PING: %q", got)
	}
}

// TestPipelineAcrossReads sends a pipeline larger than a read and a reply
// batch, in pieces.
func TestPipelineAcrossReads(t *testing.T) {
	addr := start(t)
	nc := dialRaw(t, addr)
	var req, want strings.Builder
	for i := 0; i < 20000; i++ {
		req.WriteString("ECHO abcdefghij\r\n")
		want.WriteString("$10\r\nabcdefghij\r\n")
	}
	req.WriteString("QUIT\r\n")
	want.WriteString("+OK\r\n")
	go func() {
		s := req.String()
		for len(s) > 0 {
			n := min(len(s), 7777)
			nc.Write([]byte(s[:n]))
			s = s[n:]
		}
	}()
	if got := readAll(t, nc); got != want.String() {
		t.Fatalf("got %d bytes, want %d", len(got), want.Len())
	}
}

// BenchmarkPingPong measures one request at a time on one connection.
func BenchmarkPingPong(b *testing.B) {
	_, addr := redistest.Ferry(b, command.Config{})
	c := redistest.Dial(b, addr)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Do("PING")
	}
}

// BenchmarkPipeline16 measures pipelines of 16 SETs.
func BenchmarkPipeline16(b *testing.B) {
	_, addr := redistest.Ferry(b, command.Config{})
	c := redistest.Dial(b, addr)
	req := []byte(strings.Repeat("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", 16))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.WriteRaw(req)
		for j := 0; j < 16; j++ {
			c.Read()
		}
	}
}

// A client that subscribes and then closes its side of the connection
// still gets the confirmation, as from redis-server.
func TestSubscribeThenHalfClose(t *testing.T) {
	addr := start(t)
	for range 20 {
		nc := dialRaw(t, addr)
		if _, err := nc.Write([]byte("SUBSCRIBE ch\r\n")); err != nil {
			t.Fatal(err)
		}
		nc.(*net.TCPConn).CloseWrite()
		want := "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
		if got := readAll(t, nc); got != want {
			t.Fatalf("SUBSCRIBE then half-close: %q, want %q", got, want)
		}
	}
}

// TestPausedConnections checks what a connection held by CLIENT PAUSE
// does at the end of the pause: one that went away meanwhile has its
// command dropped; one that pipelined QUIT behind its held command gets
// both replies and is closed; a held BLPOP runs, blocks, and is served.
func TestPausedConnections(t *testing.T) {
	addr := start(t)
	ctl := redistest.Dial(t, addr)
	if got := ctl.Do("CLIENT", "PAUSE", "100000", "WRITE"); got != "+OK\r\n" {
		t.Fatalf("CLIENT PAUSE: %q", got)
	}
	gone := dialRaw(t, addr)
	gone.Write([]byte("SET gone 1\r\n"))
	quit := dialRaw(t, addr)
	quit.Write([]byte("SET q 1\r\nGET q\r\nQUIT\r\nSET after 1\r\n"))
	blpop := dialRaw(t, addr)
	blpop.Write([]byte("BLPOP l 0\r\n"))
	waitInfo := func(want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(ctl.Do("INFO", "clients"), want) {
			if time.Now().After(deadline) {
				t.Fatalf("INFO clients never had %q", want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// The two writes are held; BLPOP, no write, runs and blocks on l.
	waitInfo("blocked_clients:3\r\n")
	gone.Close()
	waitInfo("blocked_clients:2\r\n")
	// RPUSH is held behind the pause too; UNPAUSE runs it, which serves BLPOP.
	push := dialRaw(t, addr)
	push.Write([]byte("RPUSH l a\r\n"))
	waitInfo("blocked_clients:3\r\n")
	if got := ctl.Do("CLIENT", "UNPAUSE"); got != "+OK\r\n" {
		t.Fatalf("CLIENT UNPAUSE: %q", got)
	}
	if got := readAll(t, quit); got != "+OK\r\n$1\r\n1\r\n+OK\r\n" {
		t.Errorf("held SET, GET, QUIT: %q", got)
	}
	br := bufio.NewReader(blpop)
	blpop.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := redistest.ReadReply(br); err != nil || string(got) != "*2\r\n$1\r\nl\r\n$1\r\na\r\n" {
		t.Errorf("BLPOP: %q %v", got, err)
	}
	for key, want := range map[string]string{"gone": ":0\r\n", "after": ":0\r\n", "q": ":1\r\n"} {
		if got := ctl.Do("EXISTS", key); got != want {
			t.Errorf("EXISTS %s: %q, want %q", key, got, want)
		}
	}
}

// TestBusyReplyToSubscriber has a RESP2 subscriber send PINGs while a busy
// script publishes to its channel: each PING gets BUSY, and the subscriber
// receives every message the script published, once. The BUSY reply and
// the messages share the subscriber's output buffer; the reply was handed
// over without a lock, losing messages (go test -race reports it).
func TestBusyReplyToSubscriber(t *testing.T) {
	addr := start(t)
	admin := redistest.Dial(t, addr)
	if got := admin.Do("CONFIG", "SET", "busy-reply-threshold", "50"); got != "+OK\r\n" {
		t.Fatalf("CONFIG SET: %q", got)
	}
	sub := redistest.Dial(t, addr)
	if got := sub.Do("SUBSCRIBE", "ch"); !strings.HasPrefix(got, "*3\r\n$9\r\nsubscribe\r\n") {
		t.Fatalf("SUBSCRIBE: %q", got)
	}
	runner := redistest.Dial(t, addr)
	script := `local n = 0
local t0 = redis.call('time')
local stop = t0[1] * 1000000 + t0[2] + 1000000
while true do
  local t = redis.call('time')
  if t[1] * 1000000 + t[2] >= stop then return n end
  redis.call('publish', 'ch', 'm')
  n = n + 1
end`
	// Busy first, then PINGs while the script runs. (A command that comes
	// just as a script starts, before it counts as running, waits for its
	// end instead of getting BUSY: then the script is run again.)
	for attempt := 1; ; attempt++ {
		runner.WriteRaw(redistest.Encode("EVAL", script, "0"))
		time.Sleep(100 * time.Millisecond)
		got := admin.Do("GET", "x")
		if strings.HasPrefix(got, "-BUSY ") {
			break
		}
		r, err := runner.ReadTimeout(5 * time.Second)
		if got != "$-1\r\n" || err != nil || attempt == 3 {
			t.Fatalf("attempt %d: GET while the script runs: %q (EVAL: %q, %v)", attempt, got, r, err)
		}
		// A new subscriber, without that run's messages.
		sub = redistest.Dial(t, addr)
		if got := sub.Do("SUBSCRIBE", "ch"); !strings.HasPrefix(got, "*3\r\n$9\r\nsubscribe\r\n") {
			t.Fatalf("SUBSCRIBE: %q", got)
		}
	}
	busy := 0
	sub.Net().SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(sub.Net())
	messages, pings := 0, 0
	for busy < 20 {
		sub.WriteRaw([]byte("PING\r\n"))
		pings++
		for answered := false; !answered; {
			r, err := redistest.ReadReply(br)
			if err != nil {
				t.Fatal(err)
			}
			switch s := string(r); {
			case s == "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n":
				messages++
			case strings.HasPrefix(s, "-BUSY "):
				busy++
				answered = true
			case s == "*2\r\n$4\r\npong\r\n$0\r\n\r\n":
				answered = true
			default:
				t.Fatalf("subscriber got %q", s)
			}
		}
	}
	if busy < 20 {
		t.Fatalf("%d of %d PINGs sent while the script was busy got BUSY", busy, pings)
	}
	n, err := runner.ReadTimeout(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	published, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(n, ":")))
	// The messages still on their way, then a PING to know they all came.
	sub.WriteRaw([]byte("PING\r\n"))
	for {
		r, err := redistest.ReadReply(br)
		if err != nil {
			t.Fatal(err)
		}
		s := string(r)
		if s == "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n" {
			messages++
			continue
		}
		if s != "*2\r\n$4\r\npong\r\n$0\r\n\r\n" && !strings.HasPrefix(s, "-BUSY ") {
			t.Fatalf("subscriber got %q", s)
		}
		if s == "*2\r\n$4\r\npong\r\n$0\r\n\r\n" {
			break
		}
	}
	if published == 0 || messages != published {
		t.Fatalf("the script published %d messages (reply %q), the subscriber got %d (%d PINGs, %d BUSY)", published, n, messages, pings, busy)
	}
}

// TestPipelineAfterWaitServedInTurn: a client released from a pause runs
// what it pipelined behind its held command in its turn; when a BLPOP
// there blocks, the end of the turn releases the next held client, whose
// RPUSH serves that BLPOP before the batch is over. The requests behind
// the BLPOP must still run: the client sent them already and waits for
// their replies. They used to wait for more input that never came (found
// by TestLoopChaos), in both connection models.
func TestPipelineAfterWaitServedInTurn(t *testing.T) {
	for _, loop := range []bool{true, false} {
		t.Run(map[bool]string{true: "loop", false: "goroutines"}[loop], func(t *testing.T) {
			_, srv := redistest.FerryServer(t, command.Config{}, func(s *server.Server, _ *command.Engine) {
				s.SetEventLoop(loop)
			})
			addr := srv.Addr().String()
			admin, a, b := redistest.Dial(t, addr), redistest.Dial(t, addr), redistest.Dial(t, addr)
			if got := admin.Do("CLIENT", "PAUSE", "100000", "WRITE"); got != "+OK\r\n" {
				t.Fatalf("CLIENT PAUSE: %q", got)
			}
			// a's SET is held first, with its BLPOP and PING buffered
			// behind it; then b's RPUSH is held.
			a.WriteRaw(append(append(redistest.Encode("SET", "x", "1"), redistest.Encode("BLPOP", "k", "5")...), redistest.Encode("PING")...))
			waitBlockedClients(t, admin, 1)
			b.WriteRaw(redistest.Encode("RPUSH", "k", "v"))
			waitBlockedClients(t, admin, 2)
			if got := admin.Do("CLIENT", "UNPAUSE"); got != "+OK\r\n" {
				t.Fatalf("CLIENT UNPAUSE: %q", got)
			}
			for _, want := range []string{"+OK\r\n", "*2\r\n$1\r\nk\r\n$1\r\nv\r\n", "+PONG\r\n"} {
				got, err := a.ReadTimeout(3 * time.Second)
				if err != nil || got != want {
					t.Fatalf("a's pipeline: got %q, %v; want %q", got, err, want)
				}
			}
			if got, err := b.ReadTimeout(3 * time.Second); err != nil || got != ":1\r\n" {
				t.Fatalf("b's RPUSH: got %q, %v; want :1", got, err)
			}
		})
	}
}

// waitBlockedClients waits until INFO clients shows n blocked clients.
func waitBlockedClients(t *testing.T, c *redistest.Conn, n int) {
	t.Helper()
	want := "blocked_clients:" + strconv.Itoa(n) + "\r\n"
	deadline := time.Now().Add(3 * time.Second)
	for !strings.Contains(c.Do("INFO", "clients"), want) {
		if time.Now().After(deadline) {
			t.Fatalf("never %d blocked clients", n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
