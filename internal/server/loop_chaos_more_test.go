//go:build linux

package server_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"regexp"
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

// TestLoopChaosHandOffs is TestLoopChaos with the clients that the loop
// hands to goroutines for reasons of their own: CLIENT TRACKING (RESP3
// pushes through HELLO 3, and RESP2 with REDIRECT to a subscribed
// client), MONITOR, CLIENT REPLY OFF/SKIP/ON inside pipelines, CLIENT
// NO-EVICT and SETNAME, WATCH/MULTI/EXEC with conflicts made by other
// connections, and a client cut off by a tiny output buffer limit (while
// the others wait, then go on). Every reply is checked against the
// client's model, as in TestLoopChaos, and so are the keys at the end.
//
// FERRY_CHAOS_SEED replays one seed, FERRY_CHAOS_STEPS sets the steps per
// client (default 60).
func TestLoopChaosHandOffs(t *testing.T) {
	seed, steps := chaosParams(t)
	if os.Getenv("FERRY_CHAOS_STEPS") == "" {
		steps = 60
	}
	for _, mode := range []struct {
		name string
		loop bool
	}{{"loop", true}, {"goroutines", false}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Logf("seed %d, %d steps per client (FERRY_CHAOS_SEED, FERRY_CHAOS_STEPS)", seed, steps)
			runChaosHandOffs(t, mode.loop, seed, steps)
		})
	}
}

// sharedKey is the counter every client increments, plainly or in
// watched transactions.
const sharedKey = "chaos:shared"

// handOffShared is what the clients of TestLoopChaosHandOffs share
// beyond chaosShared.
type handOffShared struct {
	// mu is held for reading by every step, and for writing by the step
	// that makes the output buffer limit tiny: no other client runs then.
	mu sync.RWMutex
	// shared counts the increments of sharedKey whose success a client
	// heard of.
	shared atomic.Int64
}

func runChaosHandOffs(t *testing.T, useLoop bool, seed uint64, steps int) {
	before := runtime.NumGoroutine()
	_, srv := redistest.FerryServer(t, command.Config{}, func(s *server.Server, _ *command.Engine) {
		s.SetEventLoop(useLoop)
	})
	r := newHandOffRun(srv.Addr().String(), seed)
	stopSampling, peak := sampleLoopConns(srv)
	errs := r.run(steps)
	stopSampling()
	if useLoop != (peak.Load() > 0) {
		t.Errorf("event loop %v: it served at most %d connections at once", useLoop, peak.Load())
	}
	for _, err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	r.check(t, r.sh.addr)
	r.close()
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

// handOffRun is one run of TestLoopChaosHandOffs's clients.
type handOffRun struct {
	sh      *chaosShared
	hs      *handOffShared
	base    []*chaosClient // clients[i].chaosClient
	clients []*handOffClient
}

// newHandOffRun makes the clients of a server at addr, their random
// choices drawn from seed.
func newHandOffRun(addr string, seed uint64) *handOffRun {
	r := &handOffRun{
		sh:      &chaosShared{addr: addr},
		hs:      &handOffShared{},
		base:    make([]*chaosClient, chaosClients),
		clients: make([]*handOffClient, chaosClients),
	}
	for i := range r.clients {
		r.base[i] = &chaosClient{id: i, sh: r.sh, rng: rand.New(rand.NewPCG(seed, uint64(i)+1000))}
		r.clients[i] = &handOffClient{chaosClient: r.base[i], hs: r.hs}
	}
	return r
}

// run runs every client's steps at once and returns their errors.
func (r *handOffRun) run(steps int) []error {
	return runClients(len(r.clients), func(i int) error { return r.clients[i].runMore(steps) })
}

// check checks every client's keys on the server at addr (the one the
// clients ran on, or a replica of it).
func (r *handOffRun) check(t *testing.T, addr string) {
	t.Helper()
	was := r.sh.addr
	r.sh.addr = addr
	defer func() { r.sh.addr = was }()
	checkChaosEnd(t, r.sh, r.base)
	checkHandOffEnd(t, addr, r.hs, r.clients)
}

// close closes the clients' connections.
func (r *handOffRun) close() {
	for _, c := range r.clients {
		c.close()
	}
}

// checkHandOffEnd checks the shared counter and every client's watched
// counter from a fresh client.
func checkHandOffEnd(t *testing.T, addr string, hs *handOffShared, clients []*handOffClient) {
	c := redistest.Dial(t, addr)
	defer c.Close()
	if got, want := c.Do("GET", sharedKey), intBulk(hs.shared.Load()); got != want {
		t.Errorf("shared counter %q, want %q (increments acknowledged)", got, want)
	}
	for _, cl := range clients {
		if got, want := c.Do("GET", cl.key("w")), intBulk(cl.w); got != want {
			t.Errorf("client %d: watched counter %q, want %q", cl.id, got, want)
		}
	}
}

// intBulk is a counter's GET reply: nil for zero (never incremented).
func intBulk(n int64) string {
	if n == 0 {
		return "$-1\r\n"
	}
	return bulk(strconv.FormatInt(n, 10))
}

// handOffClient is a chaosClient with more to do and more to model.
type handOffClient struct {
	*chaosClient
	hs     *handOffShared
	name   string // CLIENT SETNAME of the main connection
	w      int64  // the watched counter (key "w")
	tk     string // the tracked key's value ("tk"), "" when unset
	marker int    // for the MONITOR markers
}

// anyPositive, as a chaosReq's want, accepts any positive integer: the
// shared counter's INCR.
const anyPositive = "(a positive integer)"

// noReply, as a chaosReq's want, is a request whose reply CLIENT REPLY
// OFF or SKIP suppresses: nothing is read for it.
const noReply = ""

func (h *handOffClient) runMore(steps int) error {
	if err := h.dial(); err != nil {
		return err
	}
	for step := range steps {
		if err := h.stepMore(step, steps); err != nil {
			return fmt.Errorf("step %d: %w (last actions %v)", step, err, h.hist)
		}
	}
	return nil
}

// stepMore runs one random action. Client 1 makes the output limit tiny
// halfway through; others do it rarely.
func (h *handOffClient) stepMore(step, steps int) error {
	n := h.rng.IntN(100)
	if h.id == 1 && step == steps/2 || n == 99 && h.rng.IntN(3) == 0 {
		h.hs.mu.Lock()
		defer h.hs.mu.Unlock()
		h.note(99)
		return h.tinyOutputLimit()
	}
	h.hs.mu.RLock()
	defer h.hs.mu.RUnlock()
	h.note(n)
	switch {
	case n < 25:
		return h.pipelineMore(1 + h.rng.IntN(120))
	case n < 33:
		return h.pipelineMore(1)
	case n < 43:
		return h.trackResp3()
	case n < 52:
		return h.trackRedirect()
	case n < 58:
		return h.monitor()
	case n < 70:
		return h.watchConflict()
	case n < 74:
		return h.blpop()
	case n < 78:
		return h.pushOther()
	case n < 81:
		return h.eval()
	case n < 84 && h.id == 0:
		return h.expect("CLIENT PAUSE", encode("CLIENT", "PAUSE", strconv.Itoa(1+h.rng.IntN(5))), "+OK\r\n")
	case n < 88:
		if err := h.abruptClose(); err != nil {
			return err
		}
		h.name = ""
		return nil
	case n < 90:
		if err := h.killSelf(); err != nil {
			return err
		}
		h.name = ""
		return nil
	case n < 92:
		return h.unreadFlood()
	default:
		return h.pipelineMore(1 + h.rng.IntN(20))
	}
}

// note records an action drawn, for a failure's message.
func (h *handOffClient) note(n int) {
	h.hist = append(h.hist, n)
	if len(h.hist) > 8 {
		h.hist = h.hist[1:]
	}
}

// modelMore returns random requests on the client's keys, advancing the
// model: those of model, and CLIENT REPLY OFF/SKIP/ON around requests
// whose replies are then not sent, CLIENT NO-EVICT, SETNAME/GETNAME, the
// shared counter, and transactions watching the client's own counter.
func (h *handOffClient) modelMore() []chaosReq {
	switch k := h.rng.IntN(24); k {
	case 0:
		reqs := []chaosReq{{encode("CLIENT", "REPLY", "OFF"), noReply}}
		for range 1 + h.rng.IntN(6) {
			reqs = append(reqs, h.silent())
		}
		return append(reqs, chaosReq{encode("CLIENT", "REPLY", "ON"), "+OK\r\n"})
	case 1:
		return []chaosReq{{encode("CLIENT", "REPLY", "SKIP"), noReply}, h.silent()}
	case 2:
		return []chaosReq{{encode("CLIENT", "NO-EVICT", []string{"on", "off"}[h.rng.IntN(2)]), "+OK\r\n"}}
	case 3:
		h.name = fmt.Sprintf("c%d-%d", h.id, h.rng.IntN(1000))
		return []chaosReq{{encode("CLIENT", "SETNAME", h.name), "+OK\r\n"}}
	case 4:
		want := "$-1\r\n"
		if h.name != "" {
			want = bulk(h.name)
		}
		return []chaosReq{{encode("CLIENT", "GETNAME"), want}}
	case 5:
		h.hs.shared.Add(1) // counted first: the reply's number is checked only to be positive
		return []chaosReq{{encode("INCR", sharedKey), anyPositive}}
	case 6:
		// Nobody else writes the client's watched counter: EXEC runs.
		h.w++
		return []chaosReq{
			{encode("WATCH", h.key("w")), "+OK\r\n"},
			{encode("MULTI"), "+OK\r\n"},
			{encode("INCR", h.key("w")), "+QUEUED\r\n"},
			{encode("EXEC"), fmt.Sprintf("*1\r\n:%d\r\n", h.w)},
		}
	case 7:
		// The client itself touches what it watches: EXEC aborts.
		h.w++
		return []chaosReq{
			{encode("WATCH", h.key("w")), "+OK\r\n"},
			{encode("INCR", h.key("w")), fmt.Sprintf(":%d\r\n", h.w)},
			{encode("MULTI"), "+OK\r\n"},
			{encode("INCR", h.key("w")), "+QUEUED\r\n"},
			{encode("EXEC"), "*-1\r\n"},
		}
	}
	return h.model()
}

// silent returns a request whose reply CLIENT REPLY suppresses, advancing
// the model as if it ran: an INCR (plain, in a script, in a transaction),
// an RPUSH, an LPOP or an ECHO.
func (h *handOffClient) silent() chaosReq {
	switch h.rng.IntN(6) {
	case 0:
		h.ctr++
		return chaosReq{encode("EVAL", "return redis.call('INCR', KEYS[1])", "1", h.key("ctr")), noReply}
	case 1:
		v := h.value()
		h.list = append(h.list, v)
		return chaosReq{encode("RPUSH", h.key("list"), v), noReply}
	case 2:
		if len(h.list) > 0 {
			h.list = h.list[1:]
		}
		return chaosReq{encode("LPOP", h.key("list")), noReply}
	case 3:
		return chaosReq{encode("ECHO", h.value()), noReply}
	default:
		h.ctr++
		return chaosReq{encode("INCR", h.key("ctr")), noReply}
	}
}

// pipelineMore writes n requests of modelMore at once or cut anywhere,
// then checks every reply that is sent.
func (h *handOffClient) pipelineMore(n int) error {
	var reqs []chaosReq
	for len(reqs) < n {
		reqs = append(reqs, h.modelMore()...)
	}
	if reqs[len(reqs)-1].want == noReply {
		// A reply to wait for: until it comes, the client cannot know
		// that the server ran the requests whose replies it skipped (and
		// an abrupt close next would leave them unrun, unlike its model).
		reqs = append(reqs, chaosReq{encode("PING"), "+PONG\r\n"})
	}
	return h.sendChecked("pipeline", reqs)
}

// sendChecked writes reqs at once or cut anywhere and checks their
// replies on the main connection.
func (h *handOffClient) sendChecked(what string, reqs []chaosReq) error {
	if err := h.send(reqs); err != nil {
		return err
	}
	for i, r := range reqs {
		if err := h.checkMore(fmt.Sprintf("%s request %d of %d (%q)", what, i, len(reqs), trim(string(r.req))), r); err != nil {
			return fmt.Errorf("%w (hand-offs: %s)", err, handOffs(reqs))
		}
	}
	return nil
}

// checkMore checks r's reply, if one is sent.
func (h *handOffClient) checkMore(what string, r chaosReq) error {
	switch r.want {
	case noReply:
		return nil
	case anyPositive:
		got, err := h.read()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if n, ok := intReply(got); !ok || n < 1 {
			return fmt.Errorf("%s: got %q, want a positive integer", what, trim(got))
		}
		return nil
	}
	return h.checkReq(what, r)
}

// auxConn is a second connection of a client's, for one action.
type auxConn struct {
	what string
	nc   net.Conn
	br   *bufio.Reader
}

// aux opens a second connection.
func (h *handOffClient) aux(what string) (*auxConn, error) {
	nc, err := net.DialTimeout("tcp", h.sh.addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return &auxConn{what: what, nc: nc, br: bufio.NewReader(nc)}, nil
}

// send writes requests, cut anywhere like the main connection's.
func (a *auxConn) send(h *handOffClient, reqs ...[]string) error {
	var buf []byte
	for _, args := range reqs {
		buf = append(buf, encode(args...)...)
	}
	a.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	for cuts := h.rng.IntN(3); cuts > 0 && len(buf) > 1; cuts-- {
		at := 1 + h.rng.IntN(len(buf)-1)
		if _, err := a.nc.Write(buf[:at]); err != nil {
			return fmt.Errorf("%s: %w", a.what, err)
		}
		buf = buf[at:]
		time.Sleep(time.Duration(h.rng.IntN(200)) * time.Microsecond)
	}
	if _, err := a.nc.Write(buf); err != nil {
		return fmt.Errorf("%s: %w", a.what, err)
	}
	return nil
}

// read returns the next reply, waiting at most 10s.
func (a *auxConn) read() (string, error) {
	a.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := redistest.ReadReply(a.br)
	return string(b), err
}

// expect reads replies and compares them with want, in order.
func (a *auxConn) expect(what string, want ...string) error {
	for _, w := range want {
		got, err := a.read()
		if err != nil {
			return fmt.Errorf("%s, %s: want %q: %w", a.what, what, trim(w), err)
		}
		if got != w {
			return fmt.Errorf("%s, %s: got %q, want %q", a.what, what, trim(got), trim(w))
		}
	}
	return nil
}

// end closes the connection after QUIT and its reply, or abruptly, with
// or without requests whose replies it never reads.
func (a *auxConn) end(h *handOffClient) error {
	defer a.nc.Close()
	switch h.rng.IntN(3) {
	case 0:
		if err := a.send(h, []string{"QUIT"}); err != nil {
			return err
		}
		if err := a.expect("QUIT", "+OK\r\n"); err != nil {
			return err
		}
		return a.expectEOF("after QUIT")
	case 1:
		a.nc.Write(encode("ECHO", strings.Repeat("u", 1+h.rng.IntN(20000))))
	}
	return nil
}

// expectEOF reads until the server closes the connection, and fails if
// anything comes first.
func (a *auxConn) expectEOF(what string) error { return a.expectEOFAfter(what, nil) }

// expectEOFAfter reads until the server closes the connection, and fails
// unless what came first is a prefix (whole replies) of want's replies.
func (a *auxConn) expectEOFAfter(what string, want []string) error {
	a.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(a.br)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset by peer") {
		return fmt.Errorf("%s, %s: %w, want the connection closed", a.what, what, err)
	}
	got := string(b)
	for _, w := range want {
		if got == "" {
			break
		}
		if !strings.HasPrefix(got, w) {
			break
		}
		got = got[len(w):]
	}
	if got != "" {
		return fmt.Errorf("%s, %s: got %q, want the connection closed after at most %q", a.what, what, trim(string(b)), want)
	}
	return nil
}

// setTracked sets the tracked key from the main connection.
func (h *handOffClient) setTracked() error {
	h.tk = h.value()
	return h.expect("SET tracked key", encode("SET", h.key("tk"), h.tk), "+OK\r\n")
}

// trackedGet is the reply to GET of the tracked key, nil as proto says.
func (h *handOffClient) trackedGet(resp3 bool) string {
	switch {
	case h.tk != "":
		return bulk(h.tk)
	case resp3:
		return "_\r\n"
	}
	return "$-1\r\n"
}

// trackResp3 tracks the client's key from a RESP3 connection: a write
// from the main connection must push an invalidation before the reply
// to the tracking connection's next request, a write of its own right
// after that write's reply, and no write none at all.
func (h *handOffClient) trackResp3() error {
	a, err := h.aux("RESP3 tracking connection")
	if err != nil {
		return err
	}
	defer a.nc.Close()
	if err := a.send(h, []string{"HELLO", "3"}); err != nil {
		return err
	}
	if got, err := a.read(); err != nil || !strings.HasPrefix(got, "%") {
		return fmt.Errorf("HELLO 3: %q, %v", trim(got), err)
	}
	if err := a.send(h, []string{"CLIENT", "TRACKING", "ON"}); err != nil {
		return err
	}
	if err := a.expect("CLIENT TRACKING ON", "+OK\r\n"); err != nil {
		return err
	}
	key := h.key("tk")
	push := ">2\r\n$10\r\ninvalidate\r\n*1\r\n" + bulk(key)
	for range 1 + h.rng.IntN(4) {
		if err := a.send(h, []string{"GET", key}); err != nil {
			return err
		}
		if err := a.expect("GET tracked key", h.trackedGet(true)); err != nil {
			return err
		}
		switch h.rng.IntN(4) {
		case 0, 1:
			if err := h.setTracked(); err != nil {
				return err
			}
			if err := a.send(h, []string{"PING"}); err != nil {
				return err
			}
			if err := a.expect("invalidated by another connection, then PING", push, "+PONG\r\n"); err != nil {
				return err
			}
		case 2:
			h.tk = h.value()
			if err := a.send(h, []string{"SET", key, h.tk}, []string{"PING"}); err != nil {
				return err
			}
			if err := a.expect("SET of its own tracked key, then PING", "+OK\r\n", push, "+PONG\r\n"); err != nil {
				return err
			}
		default:
			if err := a.send(h, []string{"PING"}); err != nil {
				return err
			}
			if err := a.expect("PING, nothing written", "+PONG\r\n"); err != nil {
				return err
			}
		}
	}
	if h.rng.IntN(3) == 0 {
		// Off: a write pushes nothing.
		if err := a.send(h, []string{"CLIENT", "TRACKING", "OFF"}, []string{"GET", key}); err != nil {
			return err
		}
		if err := a.expect("CLIENT TRACKING OFF, GET", "+OK\r\n", h.trackedGet(true)); err != nil {
			return err
		}
		if err := h.setTracked(); err != nil {
			return err
		}
		if err := a.send(h, []string{"PING"}); err != nil {
			return err
		}
		if err := a.expect("PING after a write, tracking off", "+PONG\r\n"); err != nil {
			return err
		}
	}
	return a.end(h)
}

// invalidateChannel is where RESP2 clients get the invalidations
// redirected to them.
const invalidateChannel = "__redis__:invalidate"

// trackRedirect tracks the client's key from a RESP2 connection whose
// invalidations go to a third, subscribed to __redis__:invalidate.
// Sometimes the subscriber goes away first: then nothing comes at all
// (RESP2 has no tracking-redir-broken push).
func (h *handOffClient) trackRedirect() error {
	r, err := h.aux("redirect target")
	if err != nil {
		return err
	}
	defer r.nc.Close()
	if err := r.send(h, []string{"CLIENT", "ID"}, []string{"SUBSCRIBE", invalidateChannel}); err != nil {
		return err
	}
	got, err := r.read()
	id, ok := intReply(got)
	if err != nil || !ok {
		return fmt.Errorf("CLIENT ID: %q, %v", got, err)
	}
	if err := r.expect("SUBSCRIBE", "*3\r\n$9\r\nsubscribe\r\n"+bulk(invalidateChannel)+":1\r\n"); err != nil {
		return err
	}
	a, err := h.aux("tracking connection, redirected")
	if err != nil {
		return err
	}
	defer a.nc.Close()
	if err := a.send(h, []string{"CLIENT", "TRACKING", "ON", "REDIRECT", strconv.FormatInt(id, 10)}); err != nil {
		return err
	}
	if err := a.expect("CLIENT TRACKING ON REDIRECT", "+OK\r\n"); err != nil {
		return err
	}
	key := h.key("tk")
	msg := "*3\r\n$7\r\nmessage\r\n" + bulk(invalidateChannel) + "*1\r\n" + bulk(key)
	targetGone := false
	for range 1 + h.rng.IntN(4) {
		if !targetGone && h.rng.IntN(5) == 0 {
			r.nc.Close()
			targetGone = true
		}
		if err := a.send(h, []string{"GET", key}); err != nil {
			return err
		}
		if err := a.expect("GET tracked key", h.trackedGet(false)); err != nil {
			return err
		}
		if h.rng.IntN(2) == 0 {
			if err := h.setTracked(); err != nil {
				return err
			}
		} else {
			h.tk = h.value()
			if err := a.send(h, []string{"SET", key, h.tk}); err != nil {
				return err
			}
			if err := a.expect("SET of its own tracked key", "+OK\r\n"); err != nil {
				return err
			}
		}
		if !targetGone {
			if err := r.expect("invalidation", msg); err != nil {
				return err
			}
		}
		// Nothing for the tracking connection itself.
		if err := a.send(h, []string{"PING"}); err != nil {
			return err
		}
		if err := a.expect("PING", "+PONG\r\n"); err != nil {
			return err
		}
	}
	if !targetGone {
		// Nothing more for the target: its PING's reply is next.
		if err := r.send(h, []string{"PING"}); err != nil {
			return err
		}
		if err := r.expect("PING, subscribed", "*2\r\n$4\r\npong\r\n$0\r\n\r\n"); err != nil {
			return err
		}
	}
	return a.end(h)
}

// monitorLine is one line MONITOR sends.
var monitorLine = regexp.MustCompile(`^\+\d+\.\d{6} \[\d+ [^\]]+\]( "(?:[^"\\]|\\.)*")+\r\n$`)

// monitor opens a monitor, runs a pipeline and an ECHO of a marker on the
// main connection, and reads the monitor until the marker's line, every
// line checked for its form; then the monitor quits or goes away.
func (h *handOffClient) monitor() error {
	m, err := h.aux("monitor")
	if err != nil {
		return err
	}
	defer m.nc.Close()
	if err := m.send(h, []string{"MONITOR"}); err != nil {
		return err
	}
	if err := m.expect("MONITOR", "+OK\r\n"); err != nil {
		return err
	}
	if err := h.pipelineMore(1 + h.rng.IntN(20)); err != nil {
		return err
	}
	h.marker++
	marker := fmt.Sprintf("marker:%d:%d", h.id, h.marker)
	if err := h.expect("ECHO marker", encode("ECHO", marker), bulk(marker)); err != nil {
		return err
	}
	want := `"ECHO" "` + marker + `"` + "\r\n"
	for lines := 0; ; lines++ {
		got, err := m.read()
		if err != nil {
			return fmt.Errorf("monitor, after %d lines, waiting for %q: %w", lines, marker, err)
		}
		if !monitorLine.MatchString(got) {
			return fmt.Errorf("monitor line %q", trim(got))
		}
		if strings.HasSuffix(got, want) {
			break
		}
	}
	if h.rng.IntN(2) == 0 {
		// QUIT's reply comes after the lines already sent.
		if err := m.send(h, []string{"QUIT"}); err != nil {
			return err
		}
		for {
			got, err := m.read()
			if err != nil {
				return fmt.Errorf("monitor, waiting for QUIT's reply: %w", err)
			}
			if got == "+OK\r\n" {
				return m.expectEOF("after QUIT")
			}
			if !monitorLine.MatchString(got) {
				return fmt.Errorf("monitor line %q", trim(got))
			}
		}
	}
	return nil // closed abruptly, perhaps with lines unread
}

// watchConflict watches a key, has another connection write it (or
// another key) between WATCH and EXEC, and checks that EXEC aborts (or
// runs). On the shared counter, whose transaction sets the value read
// plus one, the other clients' increments are conflicts too: if WATCH
// missed one, the shared counter would come out short at the end.
func (h *handOffClient) watchConflict() error {
	shared := h.rng.IntN(2) == 0
	key := h.key("w")
	if shared {
		key = sharedKey
	}
	if err := h.writeCut(append(encode("WATCH", key), encode("GET", key)...)); err != nil {
		return err
	}
	if err := h.check("WATCH", "+OK\r\n"); err != nil {
		return err
	}
	got, err := h.read()
	if err != nil {
		return fmt.Errorf("GET watched: %w", err)
	}
	var v int64
	if got != "$-1\r\n" {
		s := strings.TrimSuffix(got, "\r\n")
		if i := strings.Index(s, "\r\n"); i >= 0 {
			v, err = strconv.ParseInt(s[i+2:], 10, 64)
		} else {
			err = errors.New("not a bulk string")
		}
		if err != nil {
			return fmt.Errorf("GET watched %s: %q: %v", key, got, err)
		}
	}
	if !shared && v != h.w {
		return fmt.Errorf("GET watched %s: %d, want %d", key, v, h.w)
	}
	conflict := h.rng.IntN(2) == 0
	if err := h.touch(key, conflict); err != nil {
		return err
	}
	if conflict && !shared {
		h.w++
		v++
	}
	reqs := []chaosReq{
		{encode("MULTI"), "+OK\r\n"},
		{encode("SET", key, strconv.FormatInt(v+1, 10)), "+QUEUED\r\n"},
		{encode("PING"), "+QUEUED\r\n"},
	}
	buf := append(joinReqs(reqs), encode("EXEC")...)
	if err := h.writeCut(buf); err != nil {
		return err
	}
	for i, r := range reqs {
		if err := h.check(fmt.Sprintf("watched transaction, request %d", i), r.want); err != nil {
			return err
		}
	}
	exec, err := h.read()
	if err != nil {
		return fmt.Errorf("EXEC: %w", err)
	}
	ran := exec == "*2\r\n+OK\r\n+PONG\r\n"
	switch {
	case !ran && exec != "*-1\r\n":
		return fmt.Errorf("EXEC watching %s: %q", key, exec)
	case conflict && ran:
		return fmt.Errorf("EXEC watching %s ran after another connection wrote it", key)
	case !conflict && !shared && !ran:
		return fmt.Errorf("EXEC watching %s aborted, nobody wrote it", key)
	}
	if ran {
		if shared {
			h.hs.shared.Add(1)
		} else {
			h.w++
		}
	}
	return nil
}

// touch writes key from a connection of its own (a conflict), or another
// key of the client's.
func (h *handOffClient) touch(key string, conflict bool) error {
	a, err := h.aux("conflicting writer")
	if err != nil {
		return err
	}
	defer a.nc.Close()
	if !conflict {
		key = h.key("other")
	}
	if err := a.send(h, []string{"INCR", key}); err != nil {
		return err
	}
	got, err := a.read()
	if n, ok := intReply(got); err != nil || !ok || n < 1 {
		return fmt.Errorf("INCR %s from another connection: %q, %v", key, got, err)
	}
	if conflict && key == sharedKey {
		h.hs.shared.Add(1)
	}
	return nil
}

// bigValue is larger than any output buffer a client is let keep at the
// tiny limit.
var bigValue = strings.Repeat("B", 64<<10)

// tinyOutputLimit runs while no other client does: it sets the normal
// clients' output buffer limit to 4096 bytes, has a fresh connection ask
// for a 64 KiB reply (GET, ECHO, or GET in a transaction), which must be
// closed without a byte of it, checks the main connection still works,
// and restores the limit.
func (h *handOffClient) tinyOutputLimit() error {
	if err := h.writeCut(encode("CONFIG", "GET", "client-output-buffer-limit")); err != nil {
		return err
	}
	saved, err := h.read()
	if err != nil {
		return fmt.Errorf("CONFIG GET: %w", err)
	}
	prefix := "*2\r\n" + bulk("client-output-buffer-limit") + "$"
	if !strings.HasPrefix(saved, prefix) {
		return fmt.Errorf("CONFIG GET client-output-buffer-limit: %q", saved)
	}
	value := saved[strings.Index(saved[len(prefix):], "\r\n")+len(prefix)+2 : len(saved)-2]
	big := h.key("big")
	if err := h.expect("SET big", encode("SET", big, bigValue), "+OK\r\n"); err != nil {
		return err
	}
	if err := h.expect("CONFIG SET tiny limit", encode("CONFIG", "SET", "client-output-buffer-limit", "normal 4096 0 0"), "+OK\r\n"); err != nil {
		return err
	}
	restored := false
	defer func() {
		if !restored {
			// Failed on the way: restore from a connection of its own,
			// so that the others' failures do not hide this one's.
			if a, err := h.aux("restoring the limit"); err == nil {
				a.send(h, []string{"CONFIG", "SET", "client-output-buffer-limit", value})
				a.read()
				a.nc.Close()
			}
		}
	}()
	v, err := h.aux("client over its output limit")
	if err != nil {
		return err
	}
	defer v.nc.Close()
	reqs := [][][]string{
		{{"GET", big}},
		{{"ECHO", bigValue}},
		{{"MULTI"}, {"GET", big}, {"EXEC"}},
	}[h.rng.IntN(3)]
	if err := v.send(h, reqs...); err != nil {
		return err
	}
	// In a transaction, MULTI's and GET's small replies may come first, or
	// may be dropped with EXEC's when the server ran all three before it
	// wrote any (as Redis does, which frees the client with its replies).
	var first []string
	if len(reqs) > 1 {
		first = []string{"+OK\r\n", "+QUEUED\r\n"}
	}
	if err := v.expectEOFAfter(fmt.Sprintf("%q at the tiny output limit", trim(fmt.Sprint(reqs))), first); err != nil {
		return err
	}
	// The main connection's small replies are under the limit.
	if err := h.pipelineMore(1 + h.rng.IntN(3)); err != nil {
		return err
	}
	if err := h.expect("CONFIG SET restoring the limit", encode("CONFIG", "SET", "client-output-buffer-limit", value), "+OK\r\n"); err != nil {
		return err
	}
	restored = true
	return h.expect("CONFIG GET restored", encode("CONFIG", "GET", "client-output-buffer-limit"), saved)
}

// TestNothingAfterQuit has a monitor that does not read while another
// client floods it, send QUIT, then the other client run one more
// command: the monitor's output must end with QUIT's reply, as Redis adds
// nothing to a client that is to close after its reply. (Found by
// TestLoopChaosHandOffs: ferry sent the monitor lines of commands run
// between QUIT and the close, its own QUIT's line first of all.)
func TestNothingAfterQuit(t *testing.T) {
	for _, loop := range []bool{true, false} {
		_, srv := redistest.FerryServer(t, command.Config{}, func(s *server.Server, _ *command.Engine) {
			s.SetEventLoop(loop)
		})
		addr := srv.Addr().String()
		m := redistest.Dial(t, addr)
		if got := m.Do("MONITOR"); got != "+OK\r\n" {
			t.Fatalf("MONITOR: %q", got)
		}
		x := redistest.Dial(t, addr)
		big := strings.Repeat("e", 64<<10)
		for range 20 {
			if got := x.Do("ECHO", big); got != bulk(big) {
				t.Fatalf("ECHO: %q", trim(got))
			}
		}
		m.WriteRaw(encode("QUIT"))
		// QUIT runs once the server reads it: ECHOs until then, and after.
		for range 50 {
			x.Do("ECHO", "after")
			time.Sleep(time.Millisecond)
		}
		m.Net().SetReadDeadline(time.Now().Add(10 * time.Second))
		out, err := io.ReadAll(m.Net())
		if err != nil && !strings.Contains(err.Error(), "reset by peer") {
			t.Fatalf("event loop %v: reading the monitor: %v", loop, err)
		}
		if !strings.HasSuffix(string(out), "+OK\r\n") {
			i := strings.LastIndex(string(out), "+OK\r\n")
			if i < 0 {
				t.Fatalf("event loop %v: no +OK for QUIT in the monitor's output (%d bytes)", loop, len(out))
			}
			t.Errorf("event loop %v: after QUIT's +OK the monitor got %q", loop, trim(string(out[i+5:])))
		}
	}
}
