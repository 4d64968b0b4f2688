package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/master"
	"github.com/ferrydb/ferry/replica"
	"github.com/ferrydb/ferry/stream"
	"github.com/ferrydb/ferry/stream/jetstream"
	"github.com/ferrydb/ferry/stream/natsserver"
)

// logTimeout is the jetstream.Config.Timeout of every log the tests open:
// short, so that an unreachable NATS shows quickly.
const logTimeout = 2 * time.Second

// testLogger returns the nodes' logger: stderr at the level in
// FERRY_E2E_LOG, or nothing. (Not t.Log: nodes log from goroutines that
// may outlive the test.)
func testLogger(role string) *slog.Logger {
	var level slog.Level
	switch os.Getenv("FERRY_E2E_LOG") {
	case "":
		return slog.New(slog.DiscardHandler)
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("role", role)
}

// checkFor calls f every interval until it returns nil, and fails the test
// with f's last error if total elapses first.
func checkFor(tb testing.TB, total, interval time.Duration, f func() error) {
	tb.Helper()
	if err := waitFor(total, interval, f); err != nil {
		tb.Fatalf("after %s: %v", total, err)
	}
}

// waitFor calls f every interval until it returns nil, and returns f's
// last error if total elapses first.
func waitFor(total, interval time.Duration, f func() error) error {
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(interval)
	}
}

// startNATS runs an embedded NATS server with JetStream on a temporary
// directory, shut down when the test ends.
func startNATS(tb testing.TB) *natsserver.Server {
	tb.Helper()
	s, err := natsserver.Start(tb.TempDir(), natsserver.WithLogger(testLogger("nats")))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Shutdown)
	return s
}

// openLog opens dataset's log on the NATS server at url, closed when the
// test ends.
func openLog(tb testing.TB, url, dataset string, readOnly bool) *jetstream.Log {
	tb.Helper()
	return openLogWith(tb, url, dataset, readOnly, nil)
}

// openLogWith is openLog with the configuration changed by mod (nil: as is).
func openLogWith(tb testing.TB, url, dataset string, readOnly bool, mod func(*jetstream.Config)) *jetstream.Log {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	name := "ferry-master"
	if readOnly {
		name = "ferry-replica"
	}
	cfg := jetstream.Config{
		URL: url, Dataset: dataset, ReadOnly: readOnly, Timeout: logTimeout, Name: name,
		Logger: testLogger(name),
	}
	if mod != nil {
		mod(&cfg)
	}
	l, err := jetstream.Open(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// node is a running master or replica.
type node struct {
	addr  string
	done  chan error // Serve's result
	close func() error
	once  sync.Once
}

// stop closes the node and waits for Serve to return; only the first call
// does anything.
func (n *node) stop(tb testing.TB) {
	tb.Helper()
	n.once.Do(func() { n.stopOnce(tb) })
}

func (n *node) stopOnce(tb testing.TB) {
	tb.Helper()
	closed := make(chan struct{})
	go func() {
		n.close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(15 * time.Second):
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		tb.Errorf("node %s: Close did not return within 15s; goroutines:\n%s", n.addr, buf)
		return
	}
	select {
	case <-n.done:
	case <-time.After(5 * time.Second):
		tb.Errorf("node %s: Serve did not return within 5s of Close", n.addr)
	}
}

// masterNode is a master serving on a loopback port.
type masterNode struct {
	node
	*master.Master
	log *jetstream.Log
}

// startMaster opens dataset's log on its own connection, starts a master on
// it (mod may change the configuration) and serves it until the test ends.
func startMaster(tb testing.TB, url, dataset string, mod func(*master.Config)) *masterNode {
	tb.Helper()
	lg := openLog(tb, url, dataset, false)
	m, err := newMaster(lg, dataset, mod)
	if err != nil {
		tb.Fatal(err)
	}
	return serveMaster(tb, m, lg)
}

// newMaster runs master.New on lg.
func newMaster(lg master.Log, dataset string, mod func(*master.Config)) (*master.Master, error) {
	cfg := master.Config{Addr: "127.0.0.1:0", Log: lg, Dataset: dataset, Version: "e2e", Logger: testLogger("master"), NewDataset: true}
	if mod != nil {
		mod(&cfg)
	}
	// No deadline on the context, as cmd/ferry passes none: each request to
	// NATS is bounded by the log's Timeout. The timer only keeps a hung
	// New from hanging the test binary.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t := time.AfterFunc(30*time.Second, cancel)
	defer t.Stop()
	return master.New(ctx, cfg)
}

// serveMaster serves m until the test ends.
func serveMaster(tb testing.TB, m *master.Master, lg *jetstream.Log) *masterNode {
	tb.Helper()
	n := &masterNode{node: node{addr: m.Addr().String(), done: make(chan error, 1), close: m.Close}, Master: m, log: lg}
	go func() { n.done <- m.Serve(context.Background()) }()
	tb.Cleanup(func() { n.stop(tb) })
	redistest.WaitPing(tb, n.addr)
	return n
}

// replicaNode is a replica serving on a loopback port.
type replicaNode struct {
	node
	*replica.Replica
	log *jetstream.Log
}

// startReplica follows dataset's log through its own read-only connection
// and serves until the test ends.
func startReplica(tb testing.TB, url, dataset string, serveStale bool) *replicaNode {
	tb.Helper()
	return startReplicaWith(tb, url, dataset, serveStale, nil)
}

// startReplicaWith is startReplica with the configuration changed by mod
// (nil: as is).
func startReplicaWith(tb testing.TB, url, dataset string, serveStale bool, mod func(*replica.Config)) *replicaNode {
	tb.Helper()
	lg := openLog(tb, url, dataset, true)
	cfg := replica.Config{
		Addr: "127.0.0.1:0", Log: lg, Dataset: dataset, Version: "e2e",
		ServeStaleData: serveStale, Logger: testLogger("replica"),
	}
	if mod != nil {
		mod(&cfg)
	}
	r, err := replica.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	n := &replicaNode{node: node{addr: r.Addr().String(), done: make(chan error, 1), close: r.Close}, Replica: r, log: lg}
	go func() { n.done <- r.Serve(context.Background()) }()
	tb.Cleanup(func() { n.stop(tb) })
	redistest.WaitPing(tb, n.addr)
	return n
}

// client is a RESP connection that returns errors instead of failing the
// test, for goroutines that drive load (and survive the server going away).
type client struct {
	nc net.Conn
	br *bufio.Reader
}

// dial connects to addr.
func dial(addr string) (*client, error) {
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	return &client{nc: nc, br: bufio.NewReader(nc)}, nil
}

// replyTimeout bounds the wait for any one reply.
const replyTimeout = 20 * time.Second

// do sends one command and returns its raw reply.
func (c *client) do(args ...string) (string, error) {
	r, err := c.pipeline([][]string{args})
	if err != nil {
		return "", err
	}
	return r[0], nil
}

// pipeline sends every command at once, then reads their replies. On an
// error the replies read so far are returned with it.
func (c *client) pipeline(cmds [][]string) ([]string, error) {
	var buf []byte
	for _, args := range cmds {
		buf = append(buf, redistest.Encode(args...)...)
	}
	c.nc.SetDeadline(time.Now().Add(replyTimeout))
	if _, err := c.nc.Write(buf); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(cmds))
	for range cmds {
		b, err := redistest.ReadReply(c.br)
		if err != nil {
			return out, err
		}
		out = append(out, string(b))
	}
	return out, nil
}

func (c *client) close() { c.nc.Close() }

// query dials addr, sends one command and returns its reply.
func query(addr string, args ...string) (string, error) {
	c, err := dial(addr)
	if err != nil {
		return "", err
	}
	defer c.close()
	return c.do(args...)
}

// mustQuery is query for the test goroutine.
func mustQuery(tb testing.TB, addr string, args ...string) string {
	tb.Helper()
	r, err := query(addr, args...)
	if err != nil {
		tb.Fatalf("%s %q: %v", addr, args, err)
	}
	return r
}

// digest returns addr's DEBUG DIGEST reply.
func digest(addr string) (string, error) {
	r, err := query(addr, "DEBUG", "DIGEST")
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(r, "+") || len(r) != 43 {
		return "", fmt.Errorf("DEBUG DIGEST on %s = %q", addr, r)
	}
	return r[1:41], nil
}

// waitCaughtUp polls until the replica has applied everything the master
// stored and both have the same DEBUG DIGEST, or fails with both digests.
func waitCaughtUp(tb testing.TB, m *masterNode, r *replicaNode, total time.Duration) {
	tb.Helper()
	checkFor(tb, total, 20*time.Millisecond, func() error {
		moff := m.Offset()
		state, roff, rerr := r.Status()
		if state == replica.StateBroken {
			return fmt.Errorf("replica broken at offset %d: %v", roff, rerr)
		}
		md, err := digest(m.addr)
		if err != nil {
			return err
		}
		rd, err := digest(r.addr)
		if err != nil {
			return err
		}
		if md != rd || moff != roff || moff != m.Offset() {
			return fmt.Errorf("not caught up: master digest %s offset %d, replica digest %s offset %d (state %s, err %v)", md, moff, rd, roff, state, rerr)
		}
		return nil
	})
}

// logEntries reads dataset's log from offset 1 to its last offset.
func logEntries(tb testing.TB, lg stream.Reader) []stream.Entry {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	last, err := lg.Last(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	var out []stream.Entry
	if last == 0 {
		return nil
	}
	errDone := errors.New("done")
	err = lg.Read(ctx, 1, func(e stream.Entry) error {
		out = append(out, e)
		if e.Offset >= last {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		tb.Fatalf("read the log up to %d: %v", last, err)
	}
	return out
}

// offsetWatch samples a replica's Status every few milliseconds and records
// any offset that went down, until stop is called.
type offsetWatch struct {
	stopc chan struct{}
	wg    sync.WaitGroup

	mu       sync.Mutex
	samples  int
	max      uint64
	drops    []string
	states   map[replica.State]int
	brokeErr error
}

func watchOffsets(r *replicaNode) *offsetWatch {
	w := &offsetWatch{stopc: make(chan struct{}), states: make(map[replica.State]int)}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.stopc:
				return
			case <-t.C:
			}
			state, off, err := r.Status()
			w.mu.Lock()
			w.samples++
			w.states[state]++
			if off < w.max && len(w.drops) < 10 {
				w.drops = append(w.drops, fmt.Sprintf("offset went from %d down to %d", w.max, off))
			}
			w.max = max(w.max, off)
			if state == replica.StateBroken && w.brokeErr == nil {
				w.brokeErr = err
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// stop ends the sampling and reports what it saw.
func (w *offsetWatch) stop(tb testing.TB) {
	tb.Helper()
	close(w.stopc)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	tb.Logf("replica status: %d samples, states %v, highest offset %d", w.samples, w.states, w.max)
	for _, d := range w.drops {
		tb.Errorf("replica.Status: %s", d)
	}
	if w.brokeErr != nil {
		tb.Errorf("replica broke: %v", w.brokeErr)
	}
}

// isNil reports whether a raw reply is a RESP2 null bulk string.
func isNil(r string) bool { return r == "$-1\r\n" }

// bulk encodes s as the raw RESP bulk string reply.
func bulk(s string) string { return "$" + strconv.Itoa(len(s)) + "\r\n" + s + "\r\n" }

// workload generates pipelined batches of random write commands over a
// small key space where types collide, keys expire and databases change.
type workload struct {
	rng   *rand.Rand
	keys  int  // keys per database
	zsets bool // the server has sorted sets
	ttls  bool // set expiries
	db    int  // database the connection has selected
}

func (w *workload) key() string { return "k" + strconv.Itoa(w.rng.IntN(w.keys)) }
func (w *workload) val() string { return "v" + strconv.Itoa(w.rng.IntN(50)) }
func (w *workload) num(n int) string {
	return strconv.Itoa(w.rng.IntN(n))
}

// batch returns n commands; the connection stays in w.db afterwards.
func (w *workload) batch(n int) [][]string {
	var out [][]string
	for len(out) < n {
		switch x := w.rng.IntN(100); {
		case x < 3:
			w.db = w.rng.IntN(3)
			out = append(out, []string{"SELECT", strconv.Itoa(w.db)})
		case x < 7:
			out = append(out, []string{"MULTI"})
			for range 2 + w.rng.IntN(3) {
				out = append(out, w.command())
			}
			out = append(out, []string{"EXEC"})
		default:
			out = append(out, w.command())
		}
	}
	return out
}

// command returns one random write command (a few are reads that may
// write, such as GETEX or lazy expiry).
func (w *workload) command() []string {
	k, k2 := w.key(), w.key()
	for {
		switch w.rng.IntN(48) {
		case 0:
			return []string{"SET", k, w.val()}
		case 1:
			if w.ttls {
				return []string{"SET", k, w.val(), "PX", strconv.Itoa(50 + w.rng.IntN(400))}
			}
		case 2:
			if w.ttls {
				return []string{"SET", k, w.val(), "EX", strconv.Itoa(1 + w.rng.IntN(2))}
			}
		case 3:
			return []string{"APPEND", k, w.val()}
		case 4:
			return []string{"INCR", k}
		case 5:
			return []string{"INCRBY", k, strconv.Itoa(w.rng.IntN(200) - 100)}
		case 6:
			return []string{"INCRBYFLOAT", k, "1.5"}
		case 7:
			return []string{"SETRANGE", k, w.num(8), w.val()}
		case 8:
			return []string{"GETDEL", k}
		case 9:
			if w.ttls {
				return []string{"GETEX", k, "PX", strconv.Itoa(100 + w.rng.IntN(400))}
			}
		case 10:
			return []string{"MSET", k, w.val(), k2, w.val()}
		case 11:
			return []string{"DEL", k, k2}
		case 12:
			if w.ttls {
				return []string{"PEXPIRE", k, strconv.Itoa(50 + w.rng.IntN(500))}
			}
		case 13:
			return []string{"EXPIRE", k, "100"} // outlives any test
		case 14:
			return []string{"PERSIST", k}
		case 15:
			return []string{"RENAME", k, k2}
		case 16:
			return []string{"COPY", k, k2, "DB", strconv.Itoa(w.rng.IntN(3)), "REPLACE"}
		case 17:
			return []string{"MOVE", k, strconv.Itoa(w.rng.IntN(3))}
		case 18:
			return []string{"LPUSH", k, w.val(), w.val()}
		case 19:
			return []string{"RPUSH", k, w.val()}
		case 20:
			return []string{"LPOP", k}
		case 21:
			return []string{"RPOP", k, "2"}
		case 22:
			return []string{"LMOVE", k, k2, "LEFT", "RIGHT"}
		case 23:
			return []string{"LTRIM", k, "0", w.num(5)}
		case 24:
			return []string{"LSET", k, "0", w.val()}
		case 25:
			return []string{"LREM", k, "1", w.val()}
		case 26:
			return []string{"HSET", k, "f" + w.num(6), w.val(), "f" + w.num(6), w.val()}
		case 27:
			return []string{"HDEL", k, "f" + w.num(6)}
		case 28:
			return []string{"HINCRBY", k, "n" + w.num(3), "3"}
		case 29:
			return []string{"HINCRBYFLOAT", k, "x", "0.25"}
		case 30:
			return []string{"HSETNX", k, "f" + w.num(6), w.val()}
		case 31:
			return []string{"SADD", k, w.val(), w.val(), w.val()}
		case 32:
			return []string{"SREM", k, w.val()}
		case 33:
			return []string{"SPOP", k}
		case 34:
			return []string{"SPOP", k, "2"}
		case 35:
			return []string{"SMOVE", k, k2, w.val()}
		case 36:
			return []string{"SUNIONSTORE", k, k2, w.key()}
		case 37:
			return []string{"SINTERSTORE", k, k2, w.key()}
		case 38:
			return []string{"LINSERT", k, "BEFORE", w.val(), w.val()}
		case 39:
			return []string{"GETSET", k, w.val()}
		case 40:
			return []string{"SETNX", k, w.val()}
		case 41:
			return []string{"HINCRBY", k, "n" + w.num(3), "-1"}
		case 42:
			return []string{"GET", k} // lazy expiry may write a DEL
		case 43, 44, 45, 46, 47:
			if w.zsets {
				switch w.rng.IntN(5) {
				case 0:
					return []string{"ZADD", k, w.num(20), w.val(), w.num(20), w.val()}
				case 1:
					return []string{"ZINCRBY", k, "0.5", w.val()}
				case 2:
					return []string{"ZREM", k, w.val()}
				case 3:
					return []string{"ZPOPMIN", k}
				default:
					return []string{"ZUNIONSTORE", k, "2", k, k2}
				}
			}
		}
	}
}

// hasCommand reports whether the server at addr knows the command name.
func hasCommand(tb testing.TB, addr, name string) bool {
	tb.Helper()
	r := mustQuery(tb, addr, "COMMAND", "INFO", name)
	// Unknown: a one-element array holding a null ("*1\r\n$-1\r\n" or
	// "*1\r\n*-1\r\n"); known: the command's description.
	return strings.HasPrefix(r, "*1\r\n*") && !strings.HasSuffix(r, "-1\r\n")
}

// runWorkload runs clients connections against addr, each sending
// pipelined batches of size commands until it sent maxBatches or d has
// passed, and returns the number of commands sent. zsets adds sorted-set
// commands, ttls short expiries (under a second). Errors such as
// WRONGTYPE are part of the game; a refused write or a connection error
// fails the test.
func runWorkload(tb testing.TB, addr string, seed uint64, clients, size, maxBatches int, d time.Duration, zsets, ttls bool) int {
	tb.Helper()
	var wg sync.WaitGroup
	var sent atomic.Int64
	errs := make(chan error, clients)
	deadline := time.Now().Add(d)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dial(addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.close()
			w := &workload{rng: rand.New(rand.NewPCG(seed, uint64(i))), keys: 12, zsets: zsets, ttls: ttls}
			for b := 0; b < maxBatches && time.Now().Before(deadline); b++ {
				cmds := w.batch(size)
				replies, err := c.pipeline(cmds)
				if err != nil {
					errs <- fmt.Errorf("client %d batch %d: %w", i, b, err)
					return
				}
				sent.Add(int64(len(cmds)))
				for j, r := range replies {
					if strings.HasPrefix(r, "-READONLY") || strings.HasPrefix(r, "-LOADING") || strings.HasPrefix(r, "-ERR unknown command") {
						errs <- fmt.Errorf("client %d: %q: %q", i, cmds[j], r)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Error(err)
	}
	if tb.Failed() {
		tb.FailNow()
	}
	return int(sent.Load())
}

// ackWriter is a client that writes until stopped, reconnecting when the
// master drops it, and records what the master acknowledged: each round
// pipelines INCR ctr:<id>, SET u:<id>:<n> <n> and RPUSH l:<id> <n>. Only a
// reply counts as an acknowledgement; an error reply or a dropped
// connection does not.
type ackWriter struct {
	id   int
	addr string

	incrAcks  int      // INCRs acknowledged
	maxIncr   int64    // highest value an INCR returned
	setAcks   []string // keys whose SET was acknowledged
	pushAcks  []int    // values whose RPUSH was acknowledged
	rounds    int
	errs      map[string]int // error replies by their first word
	drops     int            // connections lost or refused
	lastError string
}

// acks returns the number of acknowledged writes.
func (w *ackWriter) acks() int { return w.incrAcks + len(w.setAcks) + len(w.pushAcks) }

// run writes until stop is closed, publishing its acknowledgements count
// in total.
func (w *ackWriter) run(stop <-chan struct{}, total *atomic.Int64, failures *atomic.Int64) error {
	w.errs = make(map[string]int)
	var c *client
	defer func() {
		if c != nil {
			c.close()
		}
	}()
	ctr := "ctr:" + strconv.Itoa(w.id)
	list := "l:" + strconv.Itoa(w.id)
	for n := 0; ; n++ {
		select {
		case <-stop:
			return nil
		default:
		}
		if c == nil {
			var err error
			if c, err = dial(w.addr); err != nil {
				w.drops++
				failures.Add(1)
				time.Sleep(20 * time.Millisecond)
				continue
			}
		}
		key := fmt.Sprintf("u:%d:%d", w.id, n)
		val := strconv.Itoa(n)
		replies, err := c.pipeline([][]string{{"INCR", ctr}, {"SET", key, val}, {"RPUSH", list, val}})
		w.rounds++
		refused := false
		for i, r := range replies {
			switch {
			case strings.HasPrefix(r, "-"):
				word, _, _ := strings.Cut(r[1:], " ")
				w.errs[word]++
				w.lastError = r
				failures.Add(1)
				refused = true
			case i == 0 && strings.HasPrefix(r, ":"):
				v, perr := strconv.ParseInt(strings.TrimSpace(r[1:]), 10, 64)
				if perr != nil {
					return fmt.Errorf("INCR %s = %q", ctr, r)
				}
				w.incrAcks++
				w.maxIncr = max(w.maxIncr, v)
				total.Add(1)
			case i == 1 && r == "+OK\r\n":
				w.setAcks = append(w.setAcks, key)
				total.Add(1)
			case i == 2 && strings.HasPrefix(r, ":"):
				w.pushAcks = append(w.pushAcks, n)
				total.Add(1)
			default:
				return fmt.Errorf("round %d: reply %d = %q", n, i, r)
			}
		}
		if err != nil {
			w.drops++
			failures.Add(1)
			c.close()
			c = nil
			time.Sleep(20 * time.Millisecond)
		} else if refused {
			// Writes refused (-LOADING, -READONLY while the master
			// rebuilds or is fenced): back off a little, as a client
			// would, rather than spin on the CPU the servers need.
			time.Sleep(2 * time.Millisecond)
		}
	}
}

// writers runs n ackWriters against addr until stop is called.
type writers struct {
	ws       []*ackWriter
	stopc    chan struct{}
	wg       sync.WaitGroup
	total    atomic.Int64 // acknowledged writes so far
	failures atomic.Int64 // error replies and dropped connections so far
	errs     chan error
}

// pipelineWriters sends, on each of n connections to addr, the
// pipelines next(conn, round) returns, one after another, until the
// returned stop is called; stop waits for them. A failed pipeline fails
// the test and ends its connection's loop.
func pipelineWriters(t *testing.T, addr string, n int, next func(conn, round int) [][]string) (stop func()) {
	var stopped atomic.Bool
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dial(addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.close()
			for round := 0; !stopped.Load(); round++ {
				if _, err := c.pipeline(next(i, round)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	return func() {
		stopped.Store(true)
		wg.Wait()
	}
}

func startWriters(addr string, n int) *writers {
	ws := &writers{stopc: make(chan struct{}), errs: make(chan error, n)}
	for i := range n {
		w := &ackWriter{id: i, addr: addr}
		ws.ws = append(ws.ws, w)
		ws.wg.Add(1)
		go func() {
			defer ws.wg.Done()
			if err := w.run(ws.stopc, &ws.total, &ws.failures); err != nil {
				ws.errs <- fmt.Errorf("writer %d: %w", w.id, err)
			}
		}()
	}
	return ws
}

// waitMore waits until n more writes were acknowledged, or fails.
func (ws *writers) waitMore(tb testing.TB, n int64, total time.Duration) {
	tb.Helper()
	from := ws.total.Load()
	checkFor(tb, total, 5*time.Millisecond, func() error {
		if got := ws.total.Load() - from; got < n {
			return fmt.Errorf("%d of %d more writes acknowledged", got, n)
		}
		return nil
	})
}

// waitFailures waits until n more writes failed, or fails.
func (ws *writers) waitFailures(tb testing.TB, n int64, total time.Duration) {
	tb.Helper()
	from := ws.failures.Load()
	checkFor(tb, total, 5*time.Millisecond, func() error {
		if got := ws.failures.Load() - from; got < n {
			return fmt.Errorf("%d of %d more writes failed", got, n)
		}
		return nil
	})
}

// stop stops the writers and logs what they saw.
func (ws *writers) stop(tb testing.TB) {
	tb.Helper()
	close(ws.stopc)
	ws.wg.Wait()
	close(ws.errs)
	for err := range ws.errs {
		tb.Error(err)
	}
	for _, w := range ws.ws {
		tb.Logf("writer %d: %d rounds, %d acknowledged writes (INCR %d, max reply %d), %d drops, error replies %v, last %q",
			w.id, w.rounds, w.acks(), w.incrAcks, w.maxIncr, w.drops, w.errs, strings.TrimSpace(w.lastError))
	}
}

// checkAcked fails unless every write the writers had acknowledged is on
// the server at addr: each counter at least its acknowledged INCRs and its
// highest reply, every acknowledged SET key with its value, every
// acknowledged RPUSH value in the list, and no list value twice (a value
// pushed twice means an entry was applied twice).
func (ws *writers) checkAcked(tb testing.TB, who, addr string) {
	tb.Helper()
	c, err := dial(addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.close()
	for _, w := range ws.ws {
		r, err := c.do("GET", "ctr:"+strconv.Itoa(w.id))
		if err != nil {
			tb.Fatal(err)
		}
		var v int64
		if !isNil(r) {
			_, val, _ := strings.Cut(r, "\r\n")
			v, _ = strconv.ParseInt(strings.TrimSpace(val), 10, 64)
		}
		if v < int64(w.incrAcks) || v < w.maxIncr {
			tb.Errorf("%s: ctr:%d = %d, but %d INCRs were acknowledged, the last one with %d", who, w.id, v, w.incrAcks, w.maxIncr)
		}
		missing := 0
		for i := 0; i < len(w.setAcks); i += 500 {
			keys := w.setAcks[i:min(i+500, len(w.setAcks))]
			r, err := c.do(append([]string{"MGET"}, keys...)...)
			if err != nil {
				tb.Fatal(err)
			}
			vals := parseArray(tb, r)
			for j, k := range keys {
				if _, n, _ := strings.Cut(k[2:], ":"); vals[j] != n {
					if missing < 5 {
						tb.Errorf("%s: acknowledged SET %s %s, GET gives %q", who, k, n, vals[j])
					}
					missing++
				}
			}
		}
		if missing > 0 {
			tb.Errorf("%s: writer %d: %d of %d acknowledged SET keys missing", who, w.id, missing, len(w.setAcks))
		}
		r, err = c.do("LRANGE", "l:"+strconv.Itoa(w.id), "0", "-1")
		if err != nil {
			tb.Fatal(err)
		}
		have := make(map[int]bool)
		prev := -1
		for _, s := range parseArray(tb, r) {
			n, _ := strconv.Atoi(s)
			if n <= prev {
				tb.Errorf("%s: list l:%d holds %d after %d: an entry was applied twice or out of order", who, w.id, n, prev)
				break
			}
			prev = n
			have[n] = true
		}
		lost := 0
		for _, n := range w.pushAcks {
			if !have[n] {
				lost++
			}
		}
		if lost > 0 {
			tb.Errorf("%s: writer %d: %d of %d acknowledged RPUSH values missing from l:%d", who, w.id, lost, len(w.pushAcks), w.id)
		}
	}
}

// parseArray parses a raw RESP2 array of bulk strings (nil as "<nil>").
func parseArray(tb testing.TB, raw string) []string {
	tb.Helper()
	br := bufio.NewReader(strings.NewReader(raw))
	line, err := br.ReadString('\n')
	if err != nil || line[0] != '*' {
		tb.Fatalf("not an array: %q", raw)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
	out := make([]string, 0, max(n, 0))
	for range n {
		el, err := redistest.ReadReply(br)
		if err != nil {
			tb.Fatalf("array %q: %v", raw, err)
		}
		s := string(el)
		if isNil(s) {
			out = append(out, "<nil>")
			continue
		}
		_, body, _ := strings.Cut(s, "\r\n")
		out = append(out, strings.TrimSuffix(body, "\r\n"))
	}
	return out
}
