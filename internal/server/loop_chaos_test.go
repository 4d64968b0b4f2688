//go:build linux

package server_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/internal/server"
)

// chaosClients is how many clients TestLoopChaos runs at once.
const chaosClients = 16

// TestLoopChaos runs concurrent raw clients, each mixing at random the
// requests the event loop serves itself with those that hand a connection
// to a goroutine of its own (BLPOP, SUBSCRIBE, EVAL, CLIENT PAUSE, CLIENT
// KILL, a pipeline whose replies the client does not read, an abrupt
// close), and checks every reply against the client's own model: its
// counter's INCR replies must follow one another by one, its list's pops
// must return what it pushed, in order. It runs with the event loop and
// with a goroutine per connection.
//
// FERRY_CHAOS_SEED replays one seed, FERRY_CHAOS_STEPS sets the steps per
// client (a long run by hand).
func TestLoopChaos(t *testing.T) {
	seed, steps := chaosParams(t)
	for _, mode := range []struct {
		name string
		loop bool
	}{{"loop", true}, {"goroutines", false}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Logf("seed %d, %d steps per client (FERRY_CHAOS_SEED, FERRY_CHAOS_STEPS)", seed, steps)
			runChaos(t, mode.loop, seed, steps)
		})
	}
}

// chaosParams returns the seed and the steps per client (FERRY_CHAOS_SEED
// and FERRY_CHAOS_STEPS replay another).
func chaosParams(t *testing.T) (uint64, int) {
	seeds, steps := redistest.SeedsFrom(t, "FERRY_CHAOS", []uint64{1}, 120)
	return seeds[0], steps
}

// chaosShared is what the clients know of one another: how many values
// each pushed onto another's blocking key, and how many each popped.
type chaosShared struct {
	addr   string
	pushed [chaosClients]atomic.Int64 // onto client i's blocking key
	popped [chaosClients]atomic.Int64 // by client i's BLPOP
}

func runChaos(t *testing.T, useLoop bool, seed uint64, steps int) {
	before := runtime.NumGoroutine()
	_, srv := redistest.FerryServer(t, command.Config{}, func(s *server.Server, _ *command.Engine) {
		s.SetEventLoop(useLoop)
	})
	sh := &chaosShared{addr: srv.Addr().String()}
	clients := make([]*chaosClient, chaosClients)
	for i := range clients {
		clients[i] = &chaosClient{id: i, sh: sh, rng: rand.New(rand.NewPCG(seed, uint64(i)))}
	}
	stopSampling, peak := sampleLoopConns(srv)
	errs := runClients(len(clients), func(i int) error { return clients[i].run(steps) })
	stopSampling()
	// The loop must have served some connections itself (and none when
	// every connection has a goroutine), or the test tests little.
	if useLoop != (peak.Load() > 0) {
		t.Errorf("event loop %v: it served at most %d connections at once", useLoop, peak.Load())
	}
	for _, err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	checkChaosEnd(t, sh, clients)
	for _, c := range clients {
		c.close()
	}
	done := make(chan struct{})
	go func() {
		srv.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("closing the server did not return within 5s")
	}
	waitGoroutines(t, before)
}

// runClients runs n clients' steps (run(i)) at once and returns their
// errors, each naming its client.
func runClients(n int, run func(i int) error) []error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(i); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	var out []error
	for err := range errs {
		out = append(out, err)
	}
	return out
}

// sampleLoopConns records the most connections the loop serves at once,
// until stop is called.
func sampleLoopConns(srv *server.Server) (stop func(), peak *atomic.Int64) {
	peak = new(atomic.Int64)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			if n := srv.LoopConns(); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return func() { close(done); <-finished }, peak
}

// checkChaosEnd checks, from a fresh client, every client's keys against
// its model, and that the server still answers PING.
func checkChaosEnd(t *testing.T, sh *chaosShared, clients []*chaosClient) {
	c := redistest.Dial(t, sh.addr)
	defer c.Close()
	if got := c.Do("PING"); got != "+PONG\r\n" {
		t.Fatalf("PING from a fresh client: %q", got)
	}
	for _, cl := range clients {
		if got, want := c.Do("GET", cl.key("ctr")), bulk(strconv.FormatInt(cl.ctr, 10)); cl.ctr > 0 && got != want {
			t.Errorf("client %d: counter %q, want %q (INCR replies it got)", cl.id, got, want)
		}
		if got, want := c.Do("LLEN", cl.key("list")), fmt.Sprintf(":%d\r\n", len(cl.list)); got != want {
			t.Errorf("client %d: list length %q, want %q", cl.id, got, want)
		}
		left := sh.pushed[cl.id].Load() - sh.popped[cl.id].Load()
		if got, want := c.Do("LLEN", cl.key("bl")), fmt.Sprintf(":%d\r\n", left); got != want {
			t.Errorf("client %d: blocking key holds %q, want %q (pushed %d, popped %d)",
				cl.id, got, want, sh.pushed[cl.id].Load(), sh.popped[cl.id].Load())
		}
	}
}

// waitGoroutines waits until no more goroutines run than before the
// server started, with a little slack for the runtime's own.
func waitGoroutines(t *testing.T, before int) {
	const slack = 3
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+slack {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines after the server closed, %d before:\n%s", runtime.NumGoroutine(), before, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// chaosClient is one client and its model of its own keys.
type chaosClient struct {
	id   int
	sh   *chaosShared
	rng  *rand.Rand
	nc   net.Conn
	br   *bufio.Reader
	ctr  int64    // the counter's value: INCR replies received
	list []string // the list's values, head first
	seq  int      // for unique values
	hist []int    // the last actions drawn, for a failure's message
}

// key names one of the client's own keys.
func (c *chaosClient) key(name string) string { return fmt.Sprintf("chaos:%d:%s", c.id, name) }

// value returns a value no other is equal to.
func (c *chaosClient) value() string {
	c.seq++
	return fmt.Sprintf("v:%d:%d:%s", c.id, c.seq, strings.Repeat("x", c.rng.IntN(40)))
}

func (c *chaosClient) close() {
	if c.nc != nil {
		c.nc.Close()
		c.nc = nil
	}
}

// dial (re)connects and checks the counter against the model.
func (c *chaosClient) dial() error {
	c.close()
	nc, err := net.DialTimeout("tcp", c.sh.addr, 5*time.Second)
	if err != nil {
		return err
	}
	c.nc, c.br = nc, bufio.NewReader(nc)
	want := "$-1\r\n"
	if c.ctr > 0 {
		want = bulk(strconv.FormatInt(c.ctr, 10))
	}
	return c.expect("GET after connecting", encode("GET", c.key("ctr")), want)
}

func (c *chaosClient) run(steps int) error {
	if err := c.dial(); err != nil {
		return err
	}
	for step := range steps {
		if err := c.step(); err != nil {
			return fmt.Errorf("step %d: %w", step, err)
		}
	}
	return nil
}

// step runs one random action. Odd clients rarely do what hands their
// connection to a goroutine, so that the loop keeps serving some.
func (c *chaosClient) step() error {
	n := c.rng.IntN(100)
	if c.id%2 == 1 && n >= 55 && n < 90 && c.rng.IntN(4) != 0 {
		n = 90
	}
	c.hist = append(c.hist, n)
	if len(c.hist) > 8 {
		c.hist = c.hist[1:]
	}
	switch {
	case n < 30:
		return c.pipeline(1 + c.rng.IntN(200))
	case n < 45:
		return c.pipeline(1)
	case n < 55:
		return c.blpop()
	case n < 62:
		return c.pushOther()
	case n < 70:
		return c.subscribe()
	case n < 75:
		return c.eval()
	case n < 80 && c.id == 0:
		return c.expect("CLIENT PAUSE", encode("CLIENT", "PAUSE", strconv.Itoa(1+c.rng.IntN(5))), "+OK\r\n")
	case n < 85:
		return c.abruptClose()
	case n < 88:
		return c.killSelf()
	case n < 90:
		return c.unreadFlood()
	default:
		return c.pipeline(1 + c.rng.IntN(20))
	}
}

// chaosReq is a request and the exact reply the model expects, or
// anyBLPOP.
type chaosReq struct {
	req  []byte
	want string
}

// anyBLPOP, as a chaosReq's want, accepts either reply a BLPOP on the
// client's own blocking key may get (blpopReply).
const anyBLPOP = "(BLPOP: none or a pushed value)"

// model returns a random request on the client's own keys, advancing the
// model as if it ran. Now and then it is one that hands the connection to
// a goroutine in the middle of a pipeline: a BLPOP that blocks, a script,
// a CLIENT PAUSE.
func (c *chaosClient) model() []chaosReq {
	k := c.rng.IntN(64)
	switch {
	case k == 0:
		return []chaosReq{{req: encode("BLPOP", c.key("bl"), "0.01"), want: anyBLPOP}}
	case k == 1:
		c.ctr++
		return []chaosReq{{
			req:  encode("EVAL", "return redis.call('INCR', KEYS[1])", "1", c.key("ctr")),
			want: fmt.Sprintf(":%d\r\n", c.ctr),
		}}
	case k == 2 && c.id == 0:
		return []chaosReq{{req: encode("CLIENT", "PAUSE", "2"), want: "+OK\r\n"}}
	}
	switch k % 8 {
	case 0, 1:
		c.ctr++
		return []chaosReq{{encode("INCR", c.key("ctr")), fmt.Sprintf(":%d\r\n", c.ctr)}}
	case 2:
		v := c.value()
		c.list = append(c.list, v)
		return []chaosReq{{encode("RPUSH", c.key("list"), v), fmt.Sprintf(":%d\r\n", len(c.list))}}
	case 3:
		if len(c.list) == 0 {
			return []chaosReq{{encode("LPOP", c.key("list")), "$-1\r\n"}}
		}
		v := c.list[0]
		c.list = c.list[1:]
		return []chaosReq{{encode("LPOP", c.key("list")), bulk(v)}}
	case 4:
		c.ctr++
		return []chaosReq{
			{encode("MULTI"), "+OK\r\n"},
			{encode("INCR", c.key("ctr")), "+QUEUED\r\n"},
			{encode("EXEC"), fmt.Sprintf("*1\r\n:%d\r\n", c.ctr)},
		}
	case 5:
		v := c.value()
		return []chaosReq{{encode("ECHO", v), bulk(v)}}
	case 6:
		want := "$-1\r\n"
		if c.ctr > 0 {
			want = bulk(strconv.FormatInt(c.ctr, 10))
		}
		return []chaosReq{{encode("GET", c.key("ctr")), want}}
	default:
		return []chaosReq{{encode("PING"), "+PONG\r\n"}}
	}
}

// pipeline writes n modelled requests at once, or in pieces cut at random
// byte offsets, then checks every reply in order.
func (c *chaosClient) pipeline(n int) error {
	var reqs []chaosReq
	for len(reqs) < n {
		reqs = append(reqs, c.model()...)
	}
	if err := c.send(reqs); err != nil {
		return err
	}
	for i, r := range reqs {
		if err := c.checkReq(fmt.Sprintf("pipeline request %d of %d (%q)", i, len(reqs), r.req), r); err != nil {
			return fmt.Errorf("%w (pipeline's hand-offs: %s; last actions %v)", err, handOffs(reqs), c.hist)
		}
	}
	return nil
}

// handOffs lists where a pipeline holds requests that hand a connection
// to a goroutine, for a failure's message.
func handOffs(reqs []chaosReq) string {
	var b strings.Builder
	for i, r := range reqs {
		for _, name := range []string{"BLPOP", "EVAL", "PAUSE"} {
			if strings.Contains(string(r.req), "\r\n"+name+"\r\n") {
				fmt.Fprintf(&b, "%s at %d ", name, i)
			}
		}
	}
	return b.String()
}

// writeCut writes buf whole or in up to four pieces cut anywhere, even
// inside a request, with a short pause between them.
func (c *chaosClient) writeCut(buf []byte) error {
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if c.rng.IntN(2) == 0 || len(buf) < 2 {
		_, err := c.nc.Write(buf)
		return err
	}
	for cuts := c.rng.IntN(4); cuts > 0 && len(buf) > 1; cuts-- {
		at := 1 + c.rng.IntN(len(buf)-1)
		if _, err := c.nc.Write(buf[:at]); err != nil {
			return err
		}
		buf = buf[at:]
		time.Sleep(time.Duration(c.rng.IntN(300)) * time.Microsecond)
	}
	_, err := c.nc.Write(buf)
	return err
}

// blpop waits briefly on the client's own blocking key, which others may
// push onto (pushOther).
func (c *chaosClient) blpop() error {
	key := c.key("bl")
	if err := c.writeCut(encode("BLPOP", key, "0.02")); err != nil {
		return err
	}
	got, err := c.read()
	if err != nil {
		return fmt.Errorf("BLPOP: %w", err)
	}
	return c.blpopReply(got)
}

// blpopReply checks a BLPOP reply on the client's own blocking key: none
// within the timeout, or a value another client pushed for it.
func (c *chaosClient) blpopReply(got string) error {
	if got == "*-1\r\n" {
		return nil
	}
	key := c.key("bl")
	prefix := "*2\r\n" + bulk(key) + "$"
	if !strings.HasPrefix(got, prefix) || !strings.Contains(got, fmt.Sprintf("\r\nb:%d:", c.id)) {
		return fmt.Errorf("BLPOP %s: %q", key, got)
	}
	c.sh.popped[c.id].Add(1)
	return nil
}

// pushOther pushes a value onto another client's blocking key.
func (c *chaosClient) pushOther() error {
	to := c.rng.IntN(chaosClients)
	c.seq++
	// Counted before the reply: the owner may pop it first.
	c.sh.pushed[to].Add(1)
	if err := c.writeCut(encode("RPUSH", fmt.Sprintf("chaos:%d:bl", to), fmt.Sprintf("b:%d:%d", to, c.seq))); err != nil {
		return err
	}
	got, err := c.read()
	if err != nil {
		return fmt.Errorf("RPUSH: %w", err)
	}
	if n, ok := intReply(got); !ok || n < 1 {
		return fmt.Errorf("RPUSH onto client %d's blocking key: %q", to, got)
	}
	return nil
}

// subscribe subscribes to the client's own channel, has a message
// published to it (by itself, from a second connection), pings, and
// unsubscribes; messages others published meanwhile may come between.
func (c *chaosClient) subscribe() error {
	ch := c.key("ch")
	if err := c.writeCut(encode("SUBSCRIBE", ch)); err != nil {
		return err
	}
	if err := c.check("SUBSCRIBE", "*3\r\n$9\r\nsubscribe\r\n"+bulk(ch)+":1\r\n"); err != nil {
		return err
	}
	msg := c.value()
	if err := c.publish(ch, msg); err != nil {
		return err
	}
	if err := c.skipMessages(ch, "*3\r\n$7\r\nmessage\r\n"+bulk(ch)+bulk(msg)); err != nil {
		return err
	}
	if err := c.writeCut(append(encode("PING"), encode("UNSUBSCRIBE", ch)...)); err != nil {
		return err
	}
	if err := c.skipMessages(ch, "*2\r\n$4\r\npong\r\n$0\r\n\r\n"); err != nil {
		return err
	}
	return c.skipMessages(ch, "*3\r\n$11\r\nunsubscribe\r\n"+bulk(ch)+":0\r\n")
}

// publish publishes msg on ch from a connection of its own, and sometimes
// on another client's channel too.
func (c *chaosClient) publish(ch, msg string) error {
	nc, err := net.DialTimeout("tcp", c.sh.addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	req := encode("PUBLISH", ch, msg)
	other := c.rng.IntN(2) == 0
	if other {
		req = append(req, encode("PUBLISH", fmt.Sprintf("chaos:%d:ch", c.rng.IntN(chaosClients)), "other")...)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write(req); err != nil {
		return err
	}
	br := bufio.NewReader(nc)
	b, err := redistest.ReadReply(br)
	if err != nil || string(b) != ":1\r\n" {
		return fmt.Errorf("PUBLISH to the client's own channel: %q, %v", b, err)
	}
	if other {
		b, err := redistest.ReadReply(br)
		if n, ok := intReply(string(b)); err != nil || !ok || n < 0 {
			return fmt.Errorf("PUBLISH to another channel: %q, %v", b, err)
		}
	}
	return nil
}

// skipMessages reads replies until want, skipping the messages others
// publish on ch.
func (c *chaosClient) skipMessages(ch, want string) error {
	other := "*3\r\n$7\r\nmessage\r\n" + bulk(ch) + bulk("other")
	for {
		got, err := c.read()
		if err != nil {
			return fmt.Errorf("subscribed, want %q: %w", want, err)
		}
		if got == want {
			return nil
		}
		if got != other {
			return fmt.Errorf("subscribed: %q, want %q", got, want)
		}
	}
}

// eval runs a tiny script on the counter, sometimes in a pipeline.
func (c *chaosClient) eval() error {
	c.ctr++
	reqs := []chaosReq{{
		encode("EVAL", "return redis.call('INCR', KEYS[1])", "1", c.key("ctr")),
		fmt.Sprintf(":%d\r\n", c.ctr),
	}}
	if c.rng.IntN(2) == 0 {
		reqs = append(reqs, c.model()...)
	}
	if err := c.send(reqs); err != nil {
		return err
	}
	for _, r := range reqs {
		if err := c.checkReq(fmt.Sprintf("%q after EVAL", r.req), r); err != nil {
			return err
		}
	}
	return nil
}

// abruptClose closes the connection idle, in the middle of a request, or
// with replies it never reads to requests that change nothing, then
// reconnects: the counter must be what the model says.
func (c *chaosClient) abruptClose() error {
	switch c.rng.IntN(3) {
	case 1:
		req := encode("INCR", c.key("ctr"))
		c.nc.Write(req[:1+c.rng.IntN(len(req)-1)])
	case 2:
		var buf []byte
		for range 1 + c.rng.IntN(100) {
			buf = append(buf, encode("ECHO", c.value())...)
		}
		c.nc.Write(buf)
	}
	return c.dial()
}

// killSelf has the server close the connection with CLIENT KILL, after
// its reply (SKIPME no: by default a client does not kill itself), then
// reconnects.
func (c *chaosClient) killSelf() error {
	if err := c.writeCut(encode("CLIENT", "ID")); err != nil {
		return err
	}
	got, err := c.read()
	id, ok := intReply(got)
	if err != nil || !ok {
		return fmt.Errorf("CLIENT ID: %q, %v", got, err)
	}
	if err := c.expect("CLIENT KILL", encode("CLIENT", "KILL", "ID", strconv.FormatInt(id, 10), "SKIPME", "no"), ":1\r\n"); err != nil {
		return err
	}
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, err := redistest.ReadReply(c.br); err == nil {
		return fmt.Errorf("after CLIENT KILL of itself: reply %q, want the connection closed", b)
	}
	return c.dial()
}

// unreadFlood writes a pipeline whose replies are large and reads none
// until all is written, so that the server meets a client that does not
// take its replies.
func (c *chaosClient) unreadFlood() error {
	big := strings.Repeat("z", 8<<10)
	n := 100 + c.rng.IntN(300)
	var reqs []chaosReq
	for range n {
		if c.rng.IntN(4) == 0 {
			reqs = append(reqs, c.model()...)
		} else {
			reqs = append(reqs, chaosReq{encode("ECHO", big), bulk(big)})
		}
	}
	buf := joinReqs(reqs)
	werr := make(chan error, 1)
	go func() {
		c.nc.SetWriteDeadline(time.Now().Add(20 * time.Second))
		_, err := c.nc.Write(buf)
		werr <- err
	}()
	time.Sleep(time.Duration(1+c.rng.IntN(20)) * time.Millisecond)
	for i, r := range reqs {
		if err := c.checkReq(fmt.Sprintf("flood request %d of %d", i, len(reqs)), r); err != nil {
			return err
		}
	}
	return <-werr
}

// send writes reqs at once, or in pieces cut at random (writeCut).
func (c *chaosClient) send(reqs []chaosReq) error { return c.writeCut(joinReqs(reqs)) }

// joinReqs returns the bytes of reqs, one after the other.
func joinReqs(reqs []chaosReq) []byte {
	var buf []byte
	for _, r := range reqs {
		buf = append(buf, r.req...)
	}
	return buf
}

// expect sends req and checks its one reply.
func (c *chaosClient) expect(what string, req []byte, want string) error {
	if err := c.writeCut(req); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return c.check(what, want)
}

// checkReq reads r's reply and checks it.
func (c *chaosClient) checkReq(what string, r chaosReq) error {
	if r.want != anyBLPOP {
		return c.check(what, r.want)
	}
	got, err := c.read()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return c.blpopReply(got)
}

// check reads one reply and compares it with want.
func (c *chaosClient) check(what, want string) error {
	got, err := c.read()
	if err != nil {
		return fmt.Errorf("%s: want %q: %w; the server's clients then:\n%s", what, trim(want), err, c.sh.clientList())
	}
	if got != want {
		return fmt.Errorf("%s: got %q, want %q", what, trim(got), trim(want))
	}
	return nil
}

// read returns the next reply, waiting at most 10s.
func (c *chaosClient) read() (string, error) {
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := redistest.ReadReply(c.br)
	return string(b), err
}

func encode(args ...string) []byte { return redistest.Encode(args...) }

// bulk is s as a RESP bulk string.
func bulk(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

// intReply parses a RESP integer reply.
func intReply(s string) (int64, bool) {
	if !strings.HasPrefix(s, ":") || !strings.HasSuffix(s, "\r\n") {
		return 0, false
	}
	n, err := strconv.ParseInt(s[1:len(s)-2], 10, 64)
	return n, err == nil
}

// trim shortens a reply for a message.
func trim(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

// clientList returns CLIENT LIST from a fresh connection, for a failure's
// message.
func (sh *chaosShared) clientList() string {
	nc, err := net.DialTimeout("tcp", sh.addr, 2*time.Second)
	if err != nil {
		return err.Error()
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := nc.Write(encode("CLIENT", "LIST")); err != nil {
		return err.Error()
	}
	b, err := redistest.ReadReply(bufio.NewReader(nc))
	if err != nil {
		return err.Error()
	}
	return string(b)
}
