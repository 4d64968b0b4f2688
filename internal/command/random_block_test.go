package command_test

import (
	"bufio"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// TestRandomBlockAgainstRedis runs random blocking commands (BLPOP, BRPOP,
// BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP, XREAD BLOCK with
// $ and explicit IDs, XREADGROUP BLOCK with >) from several clients of
// ferry and of redis-server, and random commands from one more client
// that wake them or not: pushes, LMOVE, ZADD, XADD on one or several keys,
// pushes inside MULTI/EXEC and EVAL, DEL, SET over a waited key, RENAME,
// MOVE, COPY, SWAPDB, FLUSHDB, FLUSHALL, CLIENT UNBLOCK with TIMEOUT and
// ERROR, XGROUP CREATE and DESTROY, reads. Every reply each client gets is
// compared byte for byte, in RESP2 and RESP3, as is DEBUG DIGEST and INFO
// clients' blocked_clients and clients_in_timeout_table after every step.
//
// To be deterministic, a blocking command waits forever (timeout 0) or
// times out while nothing else is sent: after a client sends a command
// with timeout 0, the harness waits until each server has either replied
// or lists the client as blocked (CLIENT LIST ID, flag b), and requires
// both to have done the same; after each command of the waking client,
// which each server handles with the serving of the clients it woke before
// replying to it, the harness asks each server which clients are still
// blocked and reads the replies of the others. A command with a timeout
// (50 ms or less) is sent alone and its reply read before the next step.
// One waiting client is in database 1. Now and then a waiting client
// pipelines a read after its blocking command, which runs once it is
// unblocked.
//
// Seeds and steps as the other randomized tests (random_diff_test.go):
// FERRY_DIFF_SEED and FERRY_DIFF_STEPS. In the history a failure prints,
// lines without # are the waking client's commands; "# client N: ..."
// lines are waiting client N's, followed by what it got or whether it
// blocked, and "CLIENT UNBLOCK <client N>" stands for that client's ID.
func TestRandomBlockAgainstRedis(t *testing.T) {
	seeds, steps := diffSeeds(t, 250)
	raddr := redistest.Redis(t)
	_, faddr := redistest.Ferry(t, command.Config{})
	for _, seed := range seeds {
		for _, resp := range []int{2, 3} {
			t.Run(fmt.Sprintf("seed%d/resp%d", seed, resp), func(t *testing.T) {
				b := startBlock(t, raddr, faddr, seed, resp)
				b.reset()
				for i := 0; i < steps; i++ {
					b.step()
					b.check()
					if i%60 == 59 {
						b.reset()
					}
				}
				if b.blocks < steps/10 || b.wakes < steps/20 || b.notified < steps/2 {
					t.Fatalf("only %d clients blocked, %d woken and %d notifications in %d steps", b.blocks, b.wakes, b.notified, steps)
				}
				t.Logf("%d clients blocked, %d woken, %d notifications in %d steps", b.blocks, b.wakes, b.notified, steps)
			})
		}
	}
}

// blockWaiters is the number of clients per server that send blocking
// commands, besides the one that wakes them.
const blockWaiters = 4

// blockRun is one run of TestRandomBlockAgainstRedis: the diff whose
// connections send the waking commands, the waiting clients, and the
// stream IDs used so far.
type blockRun struct {
	d *diff
	// ctl are the diff's connections, redis-server's then ferry's.
	ctl [2]*redistest.Conn
	// master, in a replication run (TestRandomReplicateBlock), is the
	// engine the waiting clients run on, without connections.
	master *command.Engine
	// clock is the master's clock in a replication run.
	clock *fakeClock
	// expired are the keys given a time that passed since the last
	// reset (in any database: they may have moved), which SWAPDB avoids.
	expired map[string]bool
	// sub are connections subscribed to every keyspace notification, on
	// redis-server and on ferry.
	sub [2]*blockConn
	// notified counts the notifications compared.
	notified int
	// redial replaces a client's connections, after CLIENT KILL.
	redial  func(c *blockClient)
	clients []*blockClient
	// xid is the millisecond part of the last ID XADD was given.
	xid int
	// blocks and wakes count the clients that blocked and that a
	// command woke, so that a run that tested little fails.
	blocks, wakes int
}

// blockClient is a waiting client: a connection to each server.
type blockClient struct {
	n, db int
	conn  [2]*blockConn
	// blocked is the command the client waits in, "" when it is idle,
	// and keys the keys it names.
	blocked string
	keys    []string
	// queued is a read-only command sent after the blocking one, which
	// each server runs once the client is unblocked, or nil.
	queued []string
	// cl and id are the client and its ID in a replication run.
	cl *command.Client
	id string
}

// blockConn is a connection whose replies a goroutine reads as they
// arrive, so that the harness can tell whether a reply came without
// blocking on it.
type blockConn struct {
	nc      net.Conn
	id      string
	replies chan string
}

// dialBlock connects to addr, sets protocol resp and database db, and
// returns the connection with its CLIENT ID.
func dialBlock(t *testing.T, addr string, resp, db int) *blockConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &blockConn{nc: nc, replies: make(chan string, 256)}
	go func() {
		br := bufio.NewReader(nc)
		for {
			r, err := redistest.ReadReply(br)
			if err != nil {
				close(c.replies)
				return
			}
			c.replies <- string(r)
		}
	}()
	c.send("HELLO", strconv.Itoa(resp))
	if _, err := c.read(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	c.send("SELECT", strconv.Itoa(db))
	c.send("CLIENT", "ID")
	r1, err1 := c.read(5 * time.Second)
	r2, err2 := c.read(5 * time.Second)
	if err1 != nil || err2 != nil || r1 != "+OK\r\n" || !strings.HasPrefix(r2, ":") {
		t.Fatalf("client setup on %s: %q %q %v %v", addr, r1, r2, err1, err2)
	}
	c.id = strings.TrimSpace(r2[1:])
	return c
}

// send writes a command without waiting for its reply.
func (c *blockConn) send(args ...string) {
	c.nc.Write(redistest.Encode(args...))
}

// read returns the next reply, waiting up to wait for it.
func (c *blockConn) read(wait time.Duration) (string, error) {
	select {
	case r, ok := <-c.replies:
		if !ok {
			return "", fmt.Errorf("connection closed")
		}
		return r, nil
	case <-time.After(wait):
		return "", fmt.Errorf("no reply after %v", wait)
	}
}

// poll returns a reply that already arrived, if any.
func (c *blockConn) poll() (string, bool) {
	select {
	case r, ok := <-c.replies:
		return r, ok
	default:
		return "", false
	}
}

// startBlock starts a run: the diff's connections (startDiff) and the
// waiting clients.
func startBlock(t *testing.T, raddr, faddr string, seed uint64, resp int) *blockRun {
	d, redis, ferry := startDiff(t, raddr, faddr, seed, resp, []string{"CONFIG", "SET", "notify-keyspace-events", "KEA"})
	b := &blockRun{d: d, ctl: [2]*redistest.Conn{redis, ferry}}
	for s, addr := range []string{raddr, faddr} {
		b.sub[s] = dialBlock(t, addr, resp, 0)
		b.sub[s].send("PSUBSCRIBE", "__key*@*__:*")
		if _, err := b.sub[s].read(5 * time.Second); err != nil {
			t.Fatalf("PSUBSCRIBE on %s: %v", serverNames[s], err)
		}
	}
	b.redial = func(c *blockClient) {
		c.conn = [2]*blockConn{dialBlock(t, raddr, resp, c.db), dialBlock(t, faddr, resp, c.db)}
	}
	for i := 1; i <= blockWaiters; i++ {
		// the last waits in database 1, where MOVE, SWAPDB and the
		// transactions that SELECT 1 make keys ready
		c := &blockClient{n: i}
		if i == blockWaiters {
			c.db = 1
		}
		b.redial(c)
		b.clients = append(b.clients, c)
	}
	return b
}

var blockFlagsRE = regexp.MustCompile(`flags=(\S*)`)

// isBlocked reports whether server s (0 redis-server, 1 ferry) lists
// client c as blocked.
func (b *blockRun) isBlocked(s int, c *blockClient) bool {
	b.d.t.Helper()
	line := b.ctl[s].Do("CLIENT", "LIST", "ID", c.conn[s].id)
	m := blockFlagsRE.FindStringSubmatch(line)
	if m == nil {
		b.d.fail("CLIENT LIST ID %s of client %d: %q", c.conn[s].id, c.n, line)
	}
	return strings.Contains(m[1], "b")
}

// blockedIDs returns the IDs of the clients server s (0 redis-server, 1
// ferry) lists as blocked, in one CLIENT LIST.
func (b *blockRun) blockedIDs(s int) map[string]bool {
	b.d.t.Helper()
	ids := map[string]bool{}
	list := b.ctl[s].Do("CLIENT", "LIST")
	n := 0
	for _, line := range strings.Split(list, "\n") {
		var id, flags string
		for _, f := range strings.Fields(line) {
			if i := strings.Index(f, "id="); i >= 0 && (i == 0 || strings.HasSuffix(f[:i], "txt:")) {
				id = f[i+3:]
			} else if v, ok := strings.CutPrefix(f, "flags="); ok {
				flags = v
			}
		}
		if id != "" {
			n++
			if strings.Contains(flags, "b") {
				ids[id] = true
			}
		}
	}
	if n <= blockWaiters {
		b.d.fail("CLIENT LIST on %s: %q", serverNames[s], list)
	}
	return ids
}

var serverNames = [2]string{"redis", "ferry"}

// settleNew waits, after client c sent a blocking command with timeout 0,
// until each server has replied to it or blocked it, and requires both
// to have done the same.
func (b *blockRun) settleNew(c *blockClient, args, keys []string) {
	b.d.t.Helper()
	var reply [2]string
	var blocked [2]bool
	for s := 0; s < 2; s++ {
		deadline := time.Now().Add(5 * time.Second)
		for {
			if r, ok := c.conn[s].poll(); ok {
				reply[s] = r
				break
			}
			if b.isBlocked(s, c) {
				blocked[s] = true
				break
			}
			if time.Now().After(deadline) {
				b.d.fail("client %d: %s on %s neither replied nor blocked in 5 s", c.n, quoteArgs(args), serverNames[s])
			}
			time.Sleep(time.Millisecond)
		}
	}
	switch {
	case blocked[0] && blocked[1]:
		c.blocked, c.keys = quoteArgs(args), keys
		b.blocks++
		b.d.hist = append(b.d.hist, fmt.Sprintf("# client %d blocked", c.n))
	case blocked[0] || blocked[1]:
		b.d.fail("client %d: %s:\n ferry blocked %v, reply %q\n redis blocked %v, reply %q", c.n, quoteArgs(args), blocked[1], reply[1], blocked[0], reply[0])
	default:
		b.compare(c, args, reply)
		b.readQueued(c)
	}
}

// readQueued reads and compares the reply to client c's pipelined
// command, if it sent one, once its blocking command was answered.
func (b *blockRun) readQueued(c *blockClient) {
	b.d.t.Helper()
	if c.queued == nil {
		return
	}
	var reply [2]string
	for s := 0; s < 2; s++ {
		r, err := c.conn[s].read(5 * time.Second)
		if err != nil {
			b.d.fail("client %d: pipelined %s on %s: %v", c.n, quoteArgs(c.queued), serverNames[s], err)
		}
		reply[s] = r
	}
	b.compare(c, c.queued, reply)
	c.queued = nil
}

// compare requires the same reply from both servers to client c.
func (b *blockRun) compare(c *blockClient, args []string, reply [2]string) {
	b.d.t.Helper()
	if reply[0] != reply[1] {
		b.d.fail("client %d: %s:\n ferry %q\n redis %q", c.n, quoteArgs(args), reply[1], reply[0])
	}
	b.d.hist = append(b.d.hist, fmt.Sprintf("# client %d got %q", c.n, reply[0]))
}

// settleBlocked runs after each step: every blocked client is still
// blocked on both servers, or was served by both, with the same reply.
// Each server serves the clients a command woke before it replies to that
// command, so what it says once the reply came holds.
func (b *blockRun) settleBlocked() {
	b.d.t.Helper()
	if b.master != nil {
		b.settleEngine()
		return
	}
	var blocked [2]map[string]bool
	for _, c := range b.clients {
		if c.blocked == "" {
			continue
		}
		if blocked[0] == nil {
			blocked = [2]map[string]bool{b.blockedIDs(0), b.blockedIDs(1)}
		}
		b0, b1 := blocked[0][c.conn[0].id], blocked[1][c.conn[1].id]
		if b0 && b1 {
			continue
		}
		var reply [2]string
		for s := 0; s < 2; s++ {
			if (s == 0 && b0) || (s == 1 && b1) {
				reply[s] = "(still blocked)"
				continue
			}
			r, err := c.conn[s].read(5 * time.Second)
			if err != nil {
				b.d.fail("client %d, blocked in %s, unblocked on %s without a reply: %v", c.n, c.blocked, serverNames[s], err)
			}
			reply[s] = r
		}
		if reply[0] != reply[1] {
			b.d.fail("client %d, blocked in %s, after the last command:\n ferry %q\n redis %q", c.n, c.blocked, reply[1], reply[0])
		}
		b.d.hist = append(b.d.hist, fmt.Sprintf("# client %d woken: %q", c.n, reply[0]))
		c.blocked = ""
		b.readQueued(c)
		b.wakes++
	}
}

// idle returns the clients not blocked.
func (b *blockRun) idle() []*blockClient {
	var out []*blockClient
	for _, c := range b.clients {
		if c.blocked == "" {
			out = append(out, c)
		}
	}
	return out
}

// step has an idle client send a blocking command, or the waking client
// send a command, then settles the blocked clients.
func (b *blockRun) step() {
	d := b.d
	d.t.Helper()
	if b.master != nil {
		b.stepEngine()
		return
	}
	if idle := b.idle(); len(idle) > 0 && d.r.IntN(2) == 0 {
		c := idle[d.r.IntN(len(idle))]
		args, keys, timed := b.blockingCmd()
		d.hist = append(d.hist, fmt.Sprintf("# client %d: %s", c.n, quoteArgs(args)))
		c.queued = nil
		if d.r.IntN(6) == 0 {
			// pipelined: waits in the server while the client is blocked
			c.queued = []string{d.pick("LLEN", "ZCARD", "XLEN", "TYPE", "EXISTS"), d.pick(blockAll...)}
			d.hist = append(d.hist, fmt.Sprintf("# client %d, pipelined: %s", c.n, quoteArgs(c.queued)))
		}
		for s := 0; s < 2; s++ {
			c.conn[s].send(args...)
			if c.queued != nil {
				c.conn[s].send(c.queued...)
			}
		}
		if !timed {
			b.settleNew(c, args, keys)
			// BLMOVE served at once pushes, which may wake others
			b.settleBlocked()
			return
		}
		// Nothing else is sent until both replied: at once, or at the
		// timeout.
		var reply [2]string
		for s := 0; s < 2; s++ {
			r, err := c.conn[s].read(5 * time.Second)
			if err != nil {
				d.fail("client %d: %s on %s: %v", c.n, quoteArgs(args), serverNames[s], err)
			}
			reply[s] = r
		}
		b.compare(c, args, reply)
		b.readQueued(c)
		b.settleBlocked()
		return
	}
	b.wake()
	b.settleBlocked()
}

// check compares DEBUG DIGEST, the blocked client counts of INFO clients,
// the blocking commands' counts in INFO commandstats, INFO errorstats,
// total_error_replies, keyspace hits and misses, expired keys, and the
// keyspace notifications (every class) the step raised, in order.
func (b *blockRun) check() {
	d := b.d
	d.t.Helper()
	d.digest()
	if b.master != nil {
		return
	}
	var got [2]string
	for s := 0; s < 2; s++ {
		got[s] = blockInfo(b.ctl[s].Do("INFO", "clients", "commandstats", "errorstats", "stats"))
	}
	if got[0] != got[1] || !strings.Contains(got[0], "blocked_clients") || !strings.Contains(got[0], "total_error_replies") {
		d.fail("INFO clients (blocked), commandstats (blocking commands), errorstats and total_error_replies after the last step:\n ferry %s\n redis %s", got[1], got[0])
	}
	for s := 0; s < 2; s++ {
		got[s] = b.notifications(s)
	}
	if got[0] != got[1] {
		d.fail("keyspace notifications of the last step:\n ferry %q\n redis %q", got[1], got[0])
	}
}

// notifications returns the keyspace notifications server s sent since
// the last call, up to the reply to a PING sent after them, which follows
// every message the commands before it published.
func (b *blockRun) notifications(s int) string {
	b.d.t.Helper()
	sub := b.sub[s]
	sub.send("PING")
	var out strings.Builder
	for {
		r, err := sub.read(5 * time.Second)
		if err != nil {
			b.d.fail("notifications on %s: %v (so far %q)", serverNames[s], err, out.String())
		}
		if !strings.Contains(r[:min(len(r), 20)], "pmessage") {
			out.WriteString(r)
			return out.String()
		}
		if s == 0 {
			b.notified++
		}
		out.WriteString(r)
	}
}

// reset ends every wait with CLIENT UNBLOCK, compares the replies and
// flushes both servers, starting a new history with streams x0 and x1
// empty, each with a group g1.
func (b *blockRun) reset() {
	b.d.t.Helper()
	for _, c := range b.clients {
		if c.blocked != "" {
			b.unblock(c, "TIMEOUT")
		}
	}
	b.settleBlocked()
	b.check()
	b.resetStats()
	b.d.do("FLUSHALL")
	b.check()
	b.d.hist = nil
	b.expired = map[string]bool{}
	// groups for XREADGROUP to wait in
	b.d.do("XGROUP", "CREATE", "x0", "g1", "$", "MKSTREAM")
	b.d.do("XGROUP", "CREATE", "x1", "g1", "$", "MKSTREAM")
}

// blockingCmdstats are the INFO commandstats lines check compares.
var blockingCmdstats = map[string]bool{"blpop": true, "brpop": true, "blmove": true, "brpoplpush": true,
	"blmpop": true, "bzpopmin": true, "bzpopmax": true, "bzmpop": true, "xread": true, "xreadgroup": true}

// blockInfo returns the lines of an INFO reply that check compares: the
// blocking commands' counts (calls, rejected, failed; sorted, as Redis's
// are in hash table order), blocked_clients, clients_in_timeout_table,
// errorstats, total_error_replies, keyspace_hits and misses, expired_keys.
func blockInfo(info string) string {
	var cmds, rest []string
	for _, line := range strings.Split(info, "\r\n") {
		if stat, ok := strings.CutPrefix(line, "cmdstat_"); ok {
			name, fields, _ := strings.Cut(stat, ":")
			if !blockingCmdstats[name] {
				continue
			}
			var keep []string
			for _, f := range strings.Split(fields, ",") {
				if !strings.HasPrefix(f, "usec") {
					keep = append(keep, f)
				}
			}
			cmds = append(cmds, name+":"+strings.Join(keep, ","))
			continue
		}
		for _, p := range []string{"blocked_clients:", "clients_in_timeout_table:", "errorstat_", "total_error_replies:",
			"keyspace_hits:", "keyspace_misses:", "expired_keys:"} {
			if strings.HasPrefix(line, p) {
				rest = append(rest, line)
			}
		}
	}
	sort.Strings(cmds)
	return strings.Join(append(cmds, rest...), "\n")
}

// resetStats resets INFO's counters on both servers (CONFIG RESETSTAT),
// which check compares after every step: of the blocking commands only
// (calls, rejected and failed, not times), as the harness sends other
// commands to one server only, or polls.
func (b *blockRun) resetStats() {
	if b.master != nil {
		return
	}
	for s := 0; s < 2; s++ {
		b.ctl[s].Do("CONFIG", "RESETSTAT")
	}
}

// unblock sends CLIENT UNBLOCK for client c (each server its own ID) and
// requires the same reply.
func (b *blockRun) unblock(c *blockClient, how string) {
	d := b.d
	d.t.Helper()
	if b.master != nil {
		args := []string{"CLIENT", "UNBLOCK", c.id}
		if how != "" {
			args = append(args, how)
		}
		d.do(args...)
		return
	}
	d.hist = append(d.hist, fmt.Sprintf("CLIENT UNBLOCK <client %d> %s", c.n, how))
	var reply [2]string
	for s := 0; s < 2; s++ {
		args := []string{"CLIENT", "UNBLOCK", c.conn[s].id}
		if how != "" {
			args = append(args, how)
		}
		reply[s] = b.ctl[s].Do(args...)
	}
	if reply[0] != reply[1] {
		d.fail("CLIENT UNBLOCK <client %d> %s:\n ferry %q\n redis %q", c.n, how, reply[1], reply[0])
	}
}

// Keys: lists, sorted sets, streams and a string, so that a client can
// wait on a key of another type.
var (
	blockLists   = []string{"l0", "l1", "l2", "l0", "l1"}
	blockZsets   = []string{"z0", "z1", "z0"}
	blockStreams = []string{"x0", "x1", "x0"}
	blockAll     = []string{"l0", "l1", "l2", "z0", "z1", "x0", "x1", "str"}
)

// keys returns 1 to 3 keys, mostly from kind, now and then any key.
func (b *blockRun) keys(kind []string) []string {
	d := b.d
	out := make([]string, 1+d.r.IntN(3))
	for i := range out {
		if d.r.IntN(12) == 0 {
			out[i] = d.pick(blockAll...)
		} else {
			out[i] = d.pick(kind...)
		}
	}
	return out
}

// elements returns 1 to 3 list or set elements.
func (b *blockRun) elements() []string {
	out := make([]string, 1+b.d.r.IntN(3))
	for i := range out {
		out[i] = b.d.pick("a", "b", "c", "d", "1", "", "\x00\xff")
	}
	return out
}

// blockingCmd returns a blocking command for a waiting client, the keys it
// names and whether it has a timeout (which then expires before anything
// else is sent).
func (b *blockRun) blockingCmd() (args, keys []string, timed bool) {
	d := b.d
	timed = d.r.IntN(12) == 0
	timeout, ms := "0", "0"
	if timed {
		timeout, ms = d.pick("0.05", "0.01", "0.001"), d.pick("50", "10", "1")
	}
	if d.r.IntN(40) == 0 {
		// bad timeouts: an error at once
		timeout, ms, timed = d.pick("-1", "abc", "-0.5", "1e400"), d.pick("-1", "abc", "1.5"), true
	}
	side := func() string { return d.pick("LEFT", "RIGHT", "left") }
	numkeys := func(keys []string) []string {
		n := len(keys)
		if d.r.IntN(30) == 0 {
			n += 2*d.r.IntN(2) - 1 // a syntax error, or a key taken for the side
		}
		return append([]string{strconv.Itoa(n)}, keys...)
	}
	count := func() []string {
		switch d.r.IntN(12) {
		case 0, 1, 2:
			return []string{"COUNT", d.n(1, 4)}
		case 3:
			return []string{"COUNT", d.pick("0", "-1", "abc")}
		}
		return nil
	}
	switch d.r.IntN(12) {
	case 0, 1:
		keys = b.keys(blockLists)
		args = append(append([]string{d.pick("BLPOP", "BRPOP")}, keys...), timeout)
	case 2:
		keys = []string{d.pick(blockLists...), b.keys(blockLists)[0]}
		args = []string{"BLMOVE", keys[0], keys[1], side(), side(), timeout}
	case 3:
		keys = []string{d.pick(blockLists...), b.keys(blockLists)[0]}
		args = []string{"BRPOPLPUSH", keys[0], keys[1], timeout}
	case 4:
		keys = b.keys(blockLists)
		args = append(append([]string{"BLMPOP", timeout}, numkeys(keys)...), side())
		args = append(args, count()...)
	case 5, 6:
		keys = b.keys(blockZsets)
		args = append(append([]string{d.pick("BZPOPMIN", "BZPOPMAX")}, keys...), timeout)
	case 7:
		keys = b.keys(blockZsets)
		args = append(append([]string{"BZMPOP", timeout}, numkeys(keys)...), d.pick("MIN", "MAX"))
		args = append(args, count()...)
	case 8, 9:
		keys = b.keys(blockStreams)
		args = append([]string{"XREAD"}, count()...)
		args = append(append(args, "BLOCK", ms, "STREAMS"), keys...)
		for range keys {
			args = append(args, b.readID())
		}
	default:
		// mostly one key: every key needs the group
		keys = []string{d.pick(blockStreams...)}
		if d.r.IntN(4) == 0 {
			keys = b.keys(blockStreams)
		}
		args = append([]string{"XREADGROUP", "GROUP", d.pick("g1", "g1", "g2"), d.pick("c1", "c2")}, count()...)
		if d.r.IntN(5) == 0 {
			args = append(args, "NOACK")
		}
		args = append(append(args, "BLOCK", ms, "STREAMS"), keys...)
		for range keys {
			if d.r.IntN(10) == 0 {
				args = append(args, "0") // the pending entries: no wait
			} else {
				args = append(args, ">")
			}
		}
	}
	return args, keys, timed
}

// readyAfterSwap returns how many of the keys blocked clients wait on
// exist in the other database (0 or 1), that SWAPDB 0 1 would make ready
// in theirs, or
// 2 when a waited-on key may be stored with its time past.
//
// That last case is a deliberate difference (keys.go, swapReady): Redis
// retries the clients waiting on such a key, whose lookup deletes it; ferry
// does not retry them, so as not to log a DEL outside any command, and the
// key stays stored until the next command that reads it: DEBUG DIGEST and
// DBSIZE differ until then.
func (b *blockRun) readyAfterSwap() int {
	b.d.t.Helper()
	if b.master != nil {
		return 0 // one server: any order is the master's
	}
	waited := map[string]bool{}
	for _, c := range b.clients {
		if c.blocked != "" {
			for _, k := range c.keys {
				if b.expired[k] {
					return 2
				}
				waited[strconv.Itoa(1-c.db)+" "+k] = true
			}
		}
	}
	n := 0
	for k := range waited {
		db, key, _ := strings.Cut(k, " ")
		// on both servers, for INFO's keyspace_hits and misses
		d := [2]string{}
		for s := 0; s < 2; s++ {
			b.ctl[s].Do("SELECT", db)
			d[s] = b.ctl[s].Do("EXISTS", key)
		}
		if d[0] != d[1] {
			b.d.fail("harness: EXISTS %q in database %s: ferry %q redis %q", key, db, d[1], d[0])
		}
		if d[0] == ":1\r\n" {
			n++
		}
	}
	for s := 0; s < 2; s++ {
		b.ctl[s].Do("SELECT", "0")
	}
	return n
}

// readID returns an ID for XREAD: $ mostly, else one around the last
// ID added.
func (b *blockRun) readID() string {
	d := b.d
	switch d.r.IntN(5) {
	case 0:
		return "0"
	case 1:
		return strconv.Itoa(b.xid+d.r.IntN(3)-1) + "-" + d.n(0, 2)
	}
	return "$"
}

// xaddID returns the next ID for XADD, now and then one too small.
func (b *blockRun) xaddID() string {
	if b.d.r.IntN(15) == 0 {
		return strconv.Itoa(b.xid) + "-1"
	}
	b.xid++
	return strconv.Itoa(b.xid) + "-1"
}

// push returns a command that may wake a client: a push, a move, ZADD or
// XADD.
func (b *blockRun) push() []string {
	d := b.d
	switch d.r.IntN(6) {
	case 0, 1:
		return append([]string{d.pick("LPUSH", "RPUSH"), d.pick(blockLists...)}, b.elements()...)
	case 2:
		if d.r.IntN(3) == 0 {
			return []string{"RPOPLPUSH", d.pick(blockLists...), d.pick(blockLists...)}
		}
		return []string{"LMOVE", d.pick(blockLists...), d.pick(blockLists...), d.pick("LEFT", "RIGHT"), d.pick("LEFT", "RIGHT")}
	case 3, 4:
		c := []string{"ZADD", d.pick(blockZsets...)}
		for _, e := range b.elements() {
			c = append(c, d.pick("-2", "-1", "0", "1", "2", "1.5", "inf", "-inf"), e)
		}
		return c
	}
	c := []string{"XADD", d.pick(blockStreams...), b.xaddID(), "f", d.pick("v", "", "w")}
	if d.r.IntN(6) == 0 {
		c = append(c[:2], append([]string{"NOMKSTREAM"}, c[2:]...)...)
	}
	return c
}

// blockScripts are scripts that write to their keys, to wake clients
// from inside EVAL, or run a blocking command (which does not block there,
// or is not allowed).
var blockScripts = []string{
	"for _, k in ipairs(KEYS) do redis.call('rpush', k, ARGV[1]) end return #KEYS",
	"redis.call('lpush', KEYS[1], ARGV[1]); redis.call('lpush', KEYS[1], ARGV[1] .. 'x'); return redis.call('llen', KEYS[1])",
	"redis.call('del', KEYS[1]); return redis.call('rpush', KEYS[1], ARGV[1])",
	"for _, k in ipairs(KEYS) do redis.call('zadd', k, 1, ARGV[1]) end return #KEYS",
	"return redis.call('blmpop', 0, 1, KEYS[1], 'LEFT', 'COUNT', ARGV[1])",
	"return redis.call('lmove', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')",
	"redis.call('rpush', KEYS[1], ARGV[1]); return redis.call('lpop', KEYS[1])",
	"return redis.call('blpop', KEYS[1], 0)",
	"return redis.call('bzmpop', 0, 1, KEYS[1], 'MIN')",
	"return redis.call('xread', 'BLOCK', 0, 'STREAMS', KEYS[1], '$')",
}

// wake has the waking client send a command.
func (b *blockRun) wake() {
	d := b.d
	d.t.Helper()
	switch d.r.IntN(48) {
	case 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13:
		d.do(b.push()...)
	case 14, 15:
		// the keys are made ready at the pushes but served at EXEC, after
		// what follows them
		d.do("MULTI")
		for i := 1 + d.r.IntN(3); i > 0; i-- {
			switch d.r.IntN(6) {
			case 0:
				d.do(d.pick("DEL", "LPOP", "ZPOPMAX"), d.pick(blockAll...))
			case 1:
				d.do("SET", d.pick(blockAll...), "v")
			case 2:
				d.do("RENAME", d.pick(blockAll...), d.pick(blockAll...))
			case 3:
				d.do("XTRIM", d.pick(blockStreams...), "MAXLEN", d.pick("0", "1"))
			default:
				d.do(b.push()...)
			}
		}
		d.do("EXEC")
	case 16, 17:
		script := d.pick(blockScripts...)
		keys := b.keys(blockLists)
		if strings.Contains(script, "zadd") || strings.Contains(script, "bzmpop") {
			keys = b.keys(blockZsets)
		}
		if strings.Contains(script, "xread") {
			keys = b.keys(blockStreams)
		}
		if strings.Contains(script, "lmove") {
			keys = []string{d.pick(blockLists...), d.pick(blockLists...)}
		}
		d.do(append(append([]string{"EVAL", script, strconv.Itoa(len(keys))}, keys...), d.pick("1", "2", "v"))...)
	case 18:
		d.do("DEL", d.pick(blockAll...))
	case 19:
		d.do("SET", d.pick(blockAll...), "v")
	case 20:
		d.do("RENAME", d.pick(blockAll...), d.pick(blockAll...))
	case 21:
		d.do("MOVE", d.pick(blockAll...), "1")
	case 22:
		d.do("COPY", d.pick(blockAll...), d.pick(blockAll...), "DB", d.pick("0", "1"))
	case 23:
		// Redis makes the keys SWAPDB brings in ready in the order of a
		// hash table whose seed is random (scanDatabaseForReadyKeys), so
		// when two waited-on keys come in, which client is served first,
		// or from which key, varies from run to run of redis-server itself:
		// swap only when at most one does (and no expired key comes in:
		// see readyAfterSwap).
		if b.readyAfterSwap() <= 1 {
			d.do("SWAPDB", "0", "1")
		} else {
			d.do("DBSIZE")
		}
	case 24:
		// the other database gets keys to swap or move in
		d.do("MULTI")
		d.do("SELECT", "1")
		d.do(b.push()...)
		d.do("SELECT", "0")
		d.do("EXEC")
	case 25:
		if d.r.IntN(3) == 0 {
			d.do("FLUSHALL")
		} else {
			d.do("FLUSHDB")
		}
	case 26, 27:
		c := b.clients[d.r.IntN(len(b.clients))]
		b.unblock(c, d.pick("TIMEOUT", "ERROR", ""))
	case 28, 29, 39:
		d.do("XGROUP", "CREATE", d.pick(blockStreams...), d.pick("g1", "g1", "g2"), d.pick("$", "0", "$"), "MKSTREAM")
	case 30:
		d.do("XGROUP", "DESTROY", d.pick(blockStreams...), d.pick("g1", "g2"))
	case 31:
		d.do("MULTI")
		d.do(append(append([]string{d.pick("BLPOP", "BZPOPMIN")}, b.keys(blockAll)...), "0")...)
		d.do("EXEC")
	case 32:
		d.do(d.pick("LPOP", "RPOP", "ZPOPMIN"), d.pick(blockAll...))
	case 33:
		d.do("XTRIM", d.pick(blockStreams...), "MAXLEN", d.pick("0", "1"))
	case 34:
		d.do("XINFO", "GROUPS", d.pick(blockStreams...))
	case 35:
		d.do("XPENDING", d.pick(blockStreams...), d.pick("g1", "g2"))
	case 36:
		d.do("LRANGE", d.pick(blockLists...), "0", "-1")
	case 37:
		d.do("ZRANGE", d.pick(blockZsets...), "0", "-1", "WITHSCORES")
	case 38:
		d.do("XRANGE", d.pick(blockStreams...), "-", "+")
	case 40:
		d.do("OBJECT", "ENCODING", d.pick(blockAll...))
	case 41:
		d.do("XADD", d.pick(blockStreams...), "MAXLEN", d.pick("0", "1", "2"), b.xaddID(), "f", "v")
	case 42:
		b.xid += 5
		d.do("XSETID", d.pick(blockStreams...), strconv.Itoa(b.xid)+"-0")
	case 43:
		d.do("XGROUP", "SETID", d.pick(blockStreams...), "g1", d.pick("0", "$"))
	case 44:
		b.expire(d.pick(blockAll...))
	case 45:
		b.kill(b.clients[d.r.IntN(len(b.clients))])
	case 46:
		d.do("XDEL", d.pick(blockStreams...), strconv.Itoa(b.xid)+"-1")
	default:
		d.do("LINSERT", d.pick(blockLists...), "BEFORE", "a", "new")
	}
}

// expire gives key an expiry a little ahead and lets it pass, so that the
// key is expired but not yet deleted (active expiry is off) when the next
// commands come: a blocking command on it must block, a push must create
// it anew.
func (b *blockRun) expire(key string) {
	d := b.d
	d.t.Helper()
	if b.clock != nil {
		at := b.clock.Now().Add(40 * time.Millisecond)
		d.do("PEXPIREAT", key, strconv.FormatInt(at.UnixMilli(), 10))
		b.clock.Add(50 * time.Millisecond)
		// the replica keeps expired keys until the master deletes them:
		// have it do so before the check reads the master's keys
		d.do("EXISTS", key)
		return
	}
	at := time.Now().Add(40 * time.Millisecond)
	d.do("PEXPIREAT", key, strconv.FormatInt(at.UnixMilli(), 10))
	b.expired[key] = true
	late := !time.Now().Before(at)
	time.Sleep(time.Until(at) + 10*time.Millisecond)
	if late {
		// ferry may have had the time past, deleting the key at once:
		// delete it on both
		d.hist = append(d.hist, "# harness: too late for the expiry")
		d.do("EXISTS", key)
	}
}

// kill closes a client's connections with CLIENT KILL ID and opens new
// ones (in a replication run, whose clients have no connection, it ends
// the client's wait with CLIENT UNBLOCK instead).
func (b *blockRun) kill(c *blockClient) {
	d := b.d
	d.t.Helper()
	if b.master != nil {
		b.unblock(c, "")
		return
	}
	d.hist = append(d.hist, fmt.Sprintf("CLIENT KILL ID <client %d>", c.n))
	var reply [2]string
	for s := 0; s < 2; s++ {
		reply[s] = b.ctl[s].Do("CLIENT", "KILL", "ID", c.conn[s].id)
	}
	if reply[0] != reply[1] {
		d.fail("CLIENT KILL ID <client %d>:\n ferry %q\n redis %q", c.n, reply[1], reply[0])
	}
	for s := 0; s < 2; s++ {
		if r, err := c.conn[s].read(5 * time.Second); err == nil {
			d.fail("client %d killed on %s, got %q", c.n, serverNames[s], r)
		}
		c.conn[s].nc.Close()
	}
	c.blocked, c.queued = "", nil
	b.redial(c)
}

// TestRandomReplicateBlock runs the commands of TestRandomBlockAgainstRedis
// on a master engine, whose waiting clients are served there or time out
// (when their command has a timeout, at once), applies the effects the
// master logs to a replica engine, and after every step requires the same
// DEBUG DIGEST on both and the same XINFO STREAM FULL of the streams
// (consumers' seen-times left out, as in TestRandomReplicateStream): a
// client served from a blocking pop, move or group read logs its effects
// as a unit of its own, after the command that woke it.
func TestRandomReplicateBlock(t *testing.T) {
	seeds, n := diffSeeds(t, 400)
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			rp := newReplication(clock, 2+blockWaiters)
			// the master's and the replica's state is read by clients
			// of their own
			master, replica := engineConn{rp.master, rp.clients[1]}, engineConn{rp.replica, rp.rc}
			d, units := replicaDiff(t, seed, 97, clock, rp, engineConn{rp.master, rp.clients[0]}, func(d *diff) {
				for _, key := range []string{"x0", "x1"} {
					args := []string{"XINFO", "STREAM", key, "FULL", "COUNT", "0"}
					m, err1 := streamSeenTimes(t, args, master.Do(args...))
					r, err2 := streamSeenTimes(t, args, replica.Do(args...))
					if err1 != "" || err2 != "" || m != r {
						d.fail("XINFO STREAM %s FULL COUNT 0 (seen-times left out; %s%s):\n master  %s\n replica %s", key, err1, err2, m, r)
					}
				}
			})
			b := &blockRun{d: d, master: rp.master, clock: clock}
			for i, cl := range rp.clients[2:] {
				c := &blockClient{n: i + 1, cl: cl}
				if i == blockWaiters-1 {
					c.db = 1
					exec(rp.master, cl, "SELECT", "1")
				}
				c.id = strings.TrimSpace(strings.TrimPrefix(exec(rp.master, cl, "CLIENT", "ID"), ":"))
				b.clients = append(b.clients, c)
			}
			b.reset()
			for i := 0; i < n; i++ {
				b.step()
				b.check()
				if i%60 == 59 {
					b.reset()
				}
				if d.r.IntN(40) == 0 {
					// delivery times of the entries served later differ
					clock.Add(time.Duration(d.r.IntN(300_000)) * time.Millisecond)
				}
			}
			checkUnits(t, *units, n)
			if b.blocks < n/10 || b.wakes < n/20 {
				t.Fatalf("only %d clients blocked and %d woken in %d steps", b.blocks, b.wakes, n)
			}
		})
	}
}

// stepEngine is step in a replication run: a waiting client runs a
// blocking command on the master engine (timing out at once if it has a
// timeout and blocked), or the waking client runs a command.
func (b *blockRun) stepEngine() {
	d := b.d
	d.t.Helper()
	if idle := b.idle(); len(idle) > 0 && d.r.IntN(2) == 0 {
		c := idle[d.r.IntN(len(idle))]
		args, keys, timed := b.blockingCmd()
		d.r.IntN(6) // the draw for a pipelined read, which needs a connection
		d.hist = append(d.hist, fmt.Sprintf("# client %d: %s", c.n, quoteArgs(args)))
		exec(b.master, c.cl, args...)
		b.master.Lock()
		if c.cl.Blocked() != nil {
			if timed {
				b.master.TimeoutBlocked(c.cl)
				d.hist = append(d.hist, fmt.Sprintf("# client %d timed out", c.n))
			} else {
				c.blocked, c.keys = quoteArgs(args), keys
				b.blocks++
				d.hist = append(d.hist, fmt.Sprintf("# client %d blocked", c.n))
			}
		}
		b.master.Unlock()
		b.settleEngine()
		return
	}
	b.wake()
	b.settleEngine()
}

// settleEngine marks the clients the master no longer blocks as idle.
func (b *blockRun) settleEngine() {
	b.master.Lock()
	defer b.master.Unlock()
	for _, c := range b.clients {
		if c.blocked != "" && c.cl.Blocked() == nil {
			b.d.hist = append(b.d.hist, fmt.Sprintf("# client %d woken", c.n))
			c.blocked = ""
			b.wakes++
		}
	}
}

// TestBlockedCallCountedAgainstRedis checks that INFO commandstats counts
// a blocking command when it blocks, as Redis 7.0 does: while the client
// waits, after it is killed waiting (which ferry never counted; found by
// TestRandomBlockAgainstRedis), and once, not twice, when it is served or
// times out.
func TestBlockedCallCountedAgainstRedis(t *testing.T) {
	raddr := redistest.Redis(t)
	_, faddr := redistest.Ferry(t, command.Config{})
	calls := regexp.MustCompile(`cmdstat_(blpop|brpop|bzpopmin):calls=\d+`)
	session := func(addr string) string {
		ctl := redistest.Dial(t, addr)
		ctl.Do("FLUSHALL")
		ctl.Do("CONFIG", "RESETSTAT")
		stats := func() string {
			s := calls.FindAllString(ctl.Do("INFO", "commandstats"), -1)
			sort.Strings(s) // Redis's are in hash table order
			return strings.Join(s, " ") + "; "
		}
		var out, id string
		block := func(args ...string) *redistest.Conn {
			c := redistest.Dial(t, addr)
			id = strings.TrimSpace(strings.TrimPrefix(c.Do("CLIENT", "ID"), ":"))
			c.WriteRaw(redistest.Encode(args...))
			ctl.WaitInfo("clients", "blocked_clients", "1")
			out += stats()
			return c
		}
		// killed waiting
		c := block("BLPOP", "q", "0")
		out += ctl.Do("CLIENT", "KILL", "ID", id)
		ctl.WaitInfo("clients", "blocked_clients", "0")
		c.Close()
		out += stats()
		// served
		c = block("BRPOP", "q", "0")
		out += ctl.Do("RPUSH", "q", "a") + c.Read() + stats()
		// timed out
		c = block("BZPOPMIN", "z", "0.01")
		out += c.Read() + stats()
		return out
	}
	if got, want := session(faddr), session(raddr); got != want {
		t.Errorf("\n ferry %q\n redis %q", got, want)
	}
}
