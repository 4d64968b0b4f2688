package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/master"
	"github.com/ferrydb/ferry/stream"
	"github.com/ferrydb/ferry/stream/jetstream"
)

// Stock Redis tools replicating from ferry nodes through Redis's own
// replication protocol (package downstream): redis-cli --rdb and
// redis-server --replicaof, from a master and from a replica.

// richData writes what the random workload does not: a stream with a
// consumer group and a pending entry, a HyperLogLog, a function library,
// a key with a long expiry and keys in databases beyond the workload's.
func richData(t *testing.T, addr string) {
	t.Helper()
	c := redistest.Dial(t, addr)
	for _, cmd := range [][]string{
		{"XADD", "rich:stream", "1-1", "a", "1"},
		{"XADD", "rich:stream", "2-1", "b", "2"},
		{"XGROUP", "CREATE", "rich:stream", "g", "0"},
		{"XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "rich:stream", ">"},
		{"PFADD", "rich:hll", "a", "b", "c"},
		{"SET", "rich:ttl", "v", "EX", "3600"},
		{"FUNCTION", "LOAD", "REPLACE", "#!lua name=richlib\nredis.register_function{function_name='richget', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}"},
		{"SELECT", "7"},
		{"HSET", "rich:h7", "f", "v"},
		{"SELECT", "15"},
		{"RPUSH", "rich:l15", "x", "y"},
	} {
		if r := c.Do(cmd...); strings.HasPrefix(r, "-") {
			t.Fatalf("%q: %q", cmd, r)
		}
	}
}

// redisCliRDB runs redis-cli --rdb against addr and returns the file.
func redisCliRDB(t *testing.T, addr string) string {
	t.Helper()
	bin := redistest.Need(t, "redis-cli")
	host, port, _ := net.SplitHostPort(addr)
	file := filepath.Join(t.TempDir(), "dump.rdb")
	out, err := exec.Command(bin, "-h", host, "-p", port, "--rdb", file).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --rdb against %s: %v\n%s", addr, err, out)
	}
	if !strings.Contains(string(out), "Transfer finished with success") {
		t.Fatalf("redis-cli --rdb against %s:\n%s", addr, out)
	}
	return file
}

// checkRDBLoads runs redis-check-rdb on file, then loads it into a
// redis-server and compares its DEBUG DIGEST with want.
func checkRDBLoads(t *testing.T, file, want string) {
	t.Helper()
	out, err := exec.Command(redistest.Need(t, "redis-check-rdb"), file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "RDB looks OK!") {
		t.Fatalf("redis-check-rdb %s: %v\n%s", file, err, out)
	}
	addr := redistest.Redis(t, "--dir", filepath.Dir(file), "--dbfilename", filepath.Base(file))
	got, err := digest(addr)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("redis-server loaded the RDB with digest %s, the ferry node has %s", got, want)
	}
	if r := mustQuery(t, addr, "FCALL", "richget", "1", "rich:ttl"); r != bulk("v") {
		t.Errorf("FCALL richget on the loaded RDB = %q (the function library did not travel)", r)
	}
}

// TestRedisCliRDB takes an RDB from a ferry master and from a ferry
// replica with redis-cli --rdb (REPLCONF rdb-only, SYNC): each file passes
// redis-check-rdb and loads in redis-server with the node's DEBUG DIGEST.
func TestRedisCliRDB(t *testing.T) {
	redistest.Need(t, "redis-server")
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "clirdb", nil)
	r := startReplica(t, ns.URL(), "clirdb", true)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	// No short expiries: a redis-server loading an RDB as a master drops
	// the keys whose time has passed, which the ferry node may still hold.
	runWorkload(t, m.addr, seed, 3, 20, 100, 5*time.Second, true, false)
	richData(t, m.addr)
	waitCaughtUp(t, m, r, 20*time.Second)
	want, err := digest(m.addr)
	if err != nil {
		t.Fatal(err)
	}
	if want == strings.Repeat("0", 40) {
		t.Fatal("the master's dataset is empty")
	}
	for _, n := range []struct{ role, addr string }{{"master", m.addr}, {"replica", r.addr}} {
		t.Run(n.role, func(t *testing.T) {
			file := redisCliRDB(t, n.addr)
			checkRDBLoads(t, file, want)
		})
	}
}

// startRedisReplica starts a redis-server replicating from the ferry node
// at addr.
func startRedisReplica(t *testing.T, addr string, extra ...string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	return redistest.Redis(t, append([]string{"--replicaof", host, port}, extra...)...)
}

// waitSameDigest polls until the redis replica at raddr has the ferry
// node's digest (the node's keys with passed expiries are deleted by the
// master's DELs in the stream, so they converge).
func waitSameDigest(t *testing.T, faddr, raddr string, total time.Duration) {
	t.Helper()
	checkFor(t, total, 50*time.Millisecond, func() error {
		fd, err := digest(faddr)
		if err != nil {
			return err
		}
		rd, err := digest(raddr)
		if err != nil {
			return err
		}
		if fd != rd {
			info, _ := query(raddr, "INFO", "replication")
			return fmt.Errorf("ferry digest %s, redis replica %s\n%s", fd, rd, info)
		}
		return nil
	})
}

// TestRedisReplicaOf runs redis-servers with --replicaof a ferry master,
// and one with --replicaof a ferry replica (cascading), while clients
// write on the master (several databases, short and long expiries,
// MULTI, sorted sets, streams, a function library): each ends with the
// master's DEBUG DIGEST. One redis replica attaches before any write, one
// during the writes; the one of the master authenticates (masterauth).
func TestRedisReplicaOf(t *testing.T) {
	redistest.Need(t, "redis-server")
	ns := startNATS(t)
	const pass = "s3cret"
	m := startMaster(t, ns.URL(), "replicaof", func(c *master.Config) { c.RequirePass = pass })
	r := startReplica(t, ns.URL(), "replicaof", true)
	early := startRedisReplica(t, m.addr, "--masterauth", pass)
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if info := mustQuery(t, early, "INFO", "replication"); !strings.Contains(info, "master_link_status:up") {
			return fmt.Errorf("redis replica of the master not linked:\n%s", info)
		}
		return nil
	})
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	maddr := m.addr
	// requirepass guarded the first handshake (AUTH from masterauth); the
	// workload's clients do not authenticate, so it is lifted for them.
	c := redistest.Dial(t, maddr)
	c.Do("AUTH", pass)
	if got := c.Do("CONFIG", "SET", "requirepass", ""); got != "+OK\r\n" {
		t.Fatalf("CONFIG SET requirepass = %q", got)
	}
	done := make(chan int, 1)
	go func() { done <- runWorkload(t, maddr, seed, 3, 20, 1<<20, 3*time.Second, true, true) }()
	time.Sleep(time.Second)
	late := startRedisReplica(t, maddr) // during the writes
	cascade := startRedisReplica(t, r.addr)
	n := <-done
	richData(t, maddr)
	t.Logf("%d commands, log offset %d", n, m.Offset())
	waitCaughtUp(t, m, r, 20*time.Second)
	for name, addr := range map[string]string{"early": early, "late": late, "cascade": cascade} {
		waitSameDigest(t, maddr, addr, 20*time.Second)
		t.Logf("%s redis replica has the master's digest", name)
	}
	// The link goes on: a write after the sync reaches every replica, one
	// larger than a NATS message (through the log's object store) too.
	for i := range 50 {
		mustQuery(t, maddr, "SELECT", "0")
		mustQuery(t, maddr, "INCR", fmt.Sprintf("after:%d", i%5))
	}
	mustQuery(t, maddr, "SET", "after:large", strings.Repeat("L", 9<<20))
	for _, addr := range []string{early, late, cascade} {
		waitSameDigest(t, maddr, addr, 20*time.Second)
		if got := mustQuery(t, addr, "GET", "after:0"); got != bulk("10") {
			t.Errorf("GET after:0 on redis replica %s = %q", addr, got)
		}
		if got := mustQuery(t, addr, "STRLEN", "after:large"); got != ":9437184\r\n" {
			t.Errorf("STRLEN after:large on redis replica %s = %q", addr, got)
		}
		if got := mustQuery(t, addr, "FCALL_RO", "richget", "1", "after:0"); got != bulk("10") {
			t.Errorf("FCALL_RO on redis replica %s = %q", addr, got)
		}
	}
	// INFO stats counts their full synchronizations: two of the master
	// (more if one reconnected), one of the ferry replica.
	for node, least := range map[string]int{maddr: 2, r.addr: 1} {
		stats := mustQuery(t, node, "INFO", "stats")
		m := regexp.MustCompile(`\r\nsync_full:(\d+)\r\n`).FindStringSubmatch(stats)
		if m == nil {
			t.Fatalf("INFO stats of %s has no sync_full: %q", node, stats)
		}
		if n, _ := strconv.Atoi(m[1]); n < least {
			t.Errorf("INFO stats of %s: sync_full:%d, want at least %d", node, n, least)
		}
	}
	// INFO replication lists the Redis replicas beside ferry's (the master:
	// its ferry replica and two redis-servers; the ferry replica: the
	// cascading one), and the master's ROLE names them.
	for node, want := range map[string]struct {
		replicas []string
		count    string
	}{maddr: {[]string{early, late}, "connected_slaves:3\r\n"}, r.addr: {[]string{cascade}, "connected_slaves:1\r\n"}} {
		info := mustQuery(t, node, "INFO", "replication")
		if !strings.Contains(info, want.count) {
			t.Errorf("INFO replication of %s: want %q in %q", node, want.count, info)
		}
		for _, a := range want.replicas {
			_, port, _ := net.SplitHostPort(a)
			if !strings.Contains(info, ",port="+port+",state=online,") {
				t.Errorf("INFO replication of %s lists no online replica on port %s: %q", node, port, info)
			}
			if role := mustQuery(t, maddr, "ROLE"); node == maddr && !strings.Contains(role, bulk(port)) {
				t.Errorf("ROLE of the master does not name the redis replica on port %s: %q", port, role)
			}
		}
	}
}

// TestRedisReplicaGetsOnlyDurableData takes NATS away right after a write
// the master applied but the log never stored, then asks for a sync: the
// master must not send an RDB holding that write. A raw PSYNC made at
// once gets no bulk (its cut may hold the write; the sync then waits for
// the log, and fails when the log does), and a redis-server attached
// during the outage syncs only once the master has rebuilt from the log,
// without the write, with the master's digest; it never holds the key.
func TestRedisReplicaGetsOnlyDurableData(t *testing.T) {
	redistest.Need(t, "redis-server")
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "durable", nil)
	for i := range 20 {
		mustQuery(t, m.addr, "SET", fmt.Sprintf("d:%d", i), "v")
	}
	ns.Shutdown()
	// The write whose outcome the log will never confirm: no reply.
	sendUnanswered(t, m.addr, "SET", "lost", "x")
	// Until the master applied it (it cannot tell us).
	time.Sleep(2 * time.Millisecond)
	first, lines := rawPSYNC(t, m.addr, 8*time.Second)
	t.Logf("raw PSYNC during the outage: %q (%d keepalive newlines before)", first, lines)
	switch {
	case strings.HasPrefix(first, "$"):
		t.Fatalf("the master sent an RDB while the log could not store its last write: %q", first)
	case strings.HasPrefix(first, "-LOADING"), strings.HasPrefix(first, "-ERR ferry: "):
	default:
		t.Fatalf("raw PSYNC during the outage: %q", first)
	}
	red := startRedisReplica(t, m.addr)
	stop := make(chan struct{})
	seen := watchKey(red, "lost", stop)
	time.Sleep(time.Second)
	if err := ns.Restart(); err != nil {
		t.Fatal(err)
	}
	waitDurableSync(t, m.addr, red)
	close(stop)
	if r, ok := <-seen; ok {
		t.Fatalf("the redis replica held the write the log never stored: EXISTS lost = %q", r)
	}
	if got := mustQuery(t, red, "DBSIZE"); got != ":20\r\n" {
		t.Errorf("DBSIZE on the redis replica = %q, want the 20 durable keys", got)
	}
}

// rawPSYNC sends PSYNC ? -1 and returns the first non-empty line of what
// comes back after +FULLRESYNC (or the line itself when it is not
// +FULLRESYNC), and how many keepalive newlines came first.
func rawPSYNC(t *testing.T, addr string, total time.Duration) (string, int) {
	t.Helper()
	res := startPSYNC(t, addr, total)
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.line, r.newlines
}

type psyncResult struct {
	fullResync bool   // +FULLRESYNC came
	line       string // the first line after it that is not a keepalive
	newlines   int    // keepalives before line
	err        error
}

// startPSYNC sends PSYNC ? -1 and reads the replies in the background.
func startPSYNC(t *testing.T, addr string, total time.Duration) <-chan psyncResult {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(total))
	// No REPLCONF first: its reply, as any, waits until the log holds the
	// writes applied before it.
	fmt.Fprint(nc, "PSYNC ? -1\r\n")
	br := bufio.NewReader(nc)
	res := make(chan psyncResult, 1)
	go func() {
		var r psyncResult
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				r.err = fmt.Errorf("PSYNC: %v after %d newlines", err, r.newlines)
				res <- r
				return
			}
			switch {
			case l == "\n":
				r.newlines++
			case strings.HasPrefix(l, "+FULLRESYNC ") && !r.fullResync:
				if f := strings.Fields(l); len(f) != 3 || len(f[1]) != 40 {
					r.err = fmt.Errorf("PSYNC reply %q", l)
					res <- r
					return
				}
				r.fullResync = true
			default:
				r.line = strings.TrimRight(l, "\r\n")
				res <- r
				return
			}
		}
	}()
	return res
}

// stallLog is a master's log whose appends can be held: while stalled,
// an append is neither sent nor confirmed, and it fails when released (as
// an append whose confirmation never came does). The master then rebuilds
// from the log, which never got the write.
type stallLog struct {
	*jetstream.Log
	mu   sync.Mutex
	gate chan struct{} // non-nil while stalled
}

func (l *stallLog) stall() {
	l.mu.Lock()
	l.gate = make(chan struct{})
	l.mu.Unlock()
}

func (l *stallLog) release() {
	l.mu.Lock()
	if l.gate != nil {
		close(l.gate)
		l.gate = nil
	}
	l.mu.Unlock()
}

func (l *stallLog) AppendAsync(data []byte, expectLast uint64) (stream.Pending, error) {
	l.mu.Lock()
	gate := l.gate
	l.mu.Unlock()
	if gate == nil {
		return l.Log.AppendAsync(data, expectLast)
	}
	return stalled{gate}, nil
}

type stalled struct{ gate chan struct{} }

func (p stalled) Done() <-chan struct{} { return p.gate }
func (p stalled) Offset() (uint64, error) {
	<-p.gate
	return 0, errors.New("e2e: the append was never confirmed")
}

// TestSyncWaitsForTheLog holds the log's confirmation of a write the
// master applied, and asks for syncs meanwhile: the cut holds the write,
// so no RDB may go out until the log stored it. A raw PSYNC gets
// +FULLRESYNC and keepalive newlines, never a bulk, and when the append
// fails an error line; a redis-server attached meanwhile syncs once the
// master rebuilt from the log, without the write, with its digest.
func TestSyncWaitsForTheLog(t *testing.T) {
	redistest.Need(t, "redis-server")
	ns := startNATS(t)
	lg := &stallLog{Log: openLog(t, ns.URL(), "stall", false)}
	mm, err := newMaster(lg, "stall", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := serveMaster(t, mm, lg.Log)
	t.Cleanup(lg.release) // before the master closes: its clients wait for the log
	for i := range 20 {
		mustQuery(t, m.addr, "SET", fmt.Sprintf("d:%d", i), "v")
	}
	lg.stall()
	sendUnanswered(t, m.addr, "SET", "lost", "x")
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		// Applied, not stored: no reply can say so, the keyspace does.
		e := m.Engine()
		e.Lock()
		n := e.Keyspace().DB(0).Len()
		e.Unlock()
		if n != 21 {
			return fmt.Errorf("%d keys applied, want 21", n)
		}
		return nil
	})
	res := startPSYNC(t, m.addr, 20*time.Second)
	red := startRedisReplica(t, m.addr)
	stop := make(chan struct{})
	seen := watchKey(red, "lost", stop)
	held := 2500 * time.Millisecond
	select {
	case r := <-res:
		t.Fatalf("PSYNC while the log holds back the write: %+v", r)
	case <-time.After(held):
	}
	lg.release()
	r := <-res
	t.Logf("raw PSYNC: +FULLRESYNC %v, then %d keepalive newlines in %s, then %q", r.fullResync, r.newlines, held, r.line)
	if r.err != nil || !r.fullResync || r.newlines < 2 || !strings.HasPrefix(r.line, "-ERR ferry: the log did not store offset ") {
		t.Errorf("raw PSYNC: %+v; want +FULLRESYNC, keepalives, then the log's failure", r)
	}
	waitDurableSync(t, m.addr, red)
	close(stop)
	if r, ok := <-seen; ok {
		t.Fatalf("the redis replica held the write the log never stored: EXISTS lost = %q", r)
	}
	if got := mustQuery(t, red, "DBSIZE"); got != ":20\r\n" {
		t.Errorf("DBSIZE on the redis replica = %q, want the 20 durable keys", got)
	}
}

// watchKey polls addr until stop is closed; the channel gets EXISTS's
// reply if key ever exists, and is closed.
func watchKey(addr, key string, stop <-chan struct{}) <-chan string {
	seen := make(chan string, 1)
	go func() {
		defer close(seen)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if r, err := query(addr, "EXISTS", key); err == nil && r != ":0\r\n" {
				seen <- r
				return
			}
		}
	}()
	return seen
}

// TestSyncBesideSnapshots takes RDBs with redis-cli --rdb while the
// master writes snapshots back to back and clients write: a sync and a
// snapshot share the keyspace's one cut (they take turns), every RDB
// passes redis-check-rdb, and the last, taken once writes stopped, loads
// with the master's digest.
func TestSyncBesideSnapshots(t *testing.T) {
	redistest.Need(t, "redis-server")
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "beside", func(c *master.Config) { c.Store = fsStore(t) })
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	runWorkload(t, m.addr, seed, 2, 20, 200, 5*time.Second, true, false)
	stop := make(chan struct{})
	saves := make(chan int, 1)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				saves <- n
				return
			case <-time.After(5 * time.Millisecond):
			}
			if r, err := query(m.addr, "BGSAVE"); err == nil && strings.HasPrefix(r, "+") {
				n++
			}
		}
	}()
	done := make(chan int, 1)
	go func() { done <- runWorkload(t, m.addr, seed+1, 2, 20, 1<<20, 2*time.Second, true, false) }()
	rdbs := 0
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); rdbs++ {
		file := redisCliRDB(t, m.addr)
		if out, err := exec.Command(redistest.Need(t, "redis-check-rdb"), file).CombinedOutput(); err != nil {
			t.Fatalf("redis-check-rdb: %v\n%s", err, out)
		}
	}
	<-done
	richData(t, m.addr)
	want, err := digest(m.addr)
	if err != nil {
		t.Fatal(err)
	}
	checkRDBLoads(t, redisCliRDB(t, m.addr), want)
	close(stop)
	t.Logf("%d RDBs beside %d snapshots", rdbs+1, <-saves)
}

// waitDurableSync waits until the redis replica at red holds the 20
// durable keys and the master's digest. The master answers DEBUG DIGEST
// while it rebuilds (as Redis does while loading), so an empty master and
// a not yet synced replica would agree: the keys come first.
func waitDurableSync(t *testing.T, master, red string) {
	t.Helper()
	checkFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		if got, err := query(red, "DBSIZE"); err != nil || got != ":20\r\n" {
			return fmt.Errorf("DBSIZE on the redis replica = %q (%v), want the 20 durable keys", got, err)
		}
		return nil
	})
	waitSameDigest(t, master, red, 30*time.Second)
}

// TestRedisReplicaWait checks that WAIT counts stock Redis replicas by the
// log offsets they acknowledge: with one redis-server following the
// master, WAIT 1 after each write answers 1 within half a second, shorter
// than the replica's own once-a-second ACK (so the master's REPLCONF
// GETACK is what answers it), INFO shows the replica at the master's
// offset, and once the replica stops following, a new write's WAIT times
// out with 0.
func TestRedisReplicaWait(t *testing.T) {
	redistest.Need(t, "redis-server")
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "wait", nil)
	rr := startRedisReplica(t, m.addr)
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if info := mustQuery(t, rr, "INFO", "replication"); !strings.Contains(info, "master_link_status:up") {
			return fmt.Errorf("redis replica not linked:\n%s", info)
		}
		return nil
	})
	c := redistest.Dial(t, m.addr)
	for i := range 6 {
		if got := c.Do("INCR", "n"); got != fmt.Sprintf(":%d\r\n", i+1) {
			t.Fatalf("INCR n = %q", got)
		}
		if got := c.Do("WAIT", "1", "500"); got != ":1\r\n" {
			t.Fatalf("WAIT 1 500 after write %d = %q, want :1", i+1, got)
		}
		if got := mustQuery(t, rr, "GET", "n"); got != bulk(strconv.Itoa(i+1)) {
			t.Fatalf("GET n on the redis replica after WAIT = %q, want %d", got, i+1)
		}
	}
	off := strconv.FormatUint(m.Offset(), 10)
	if info := mustQuery(t, m.addr, "INFO", "replication"); !strings.Contains(info, ",state=online,offset="+off+",") {
		t.Errorf("INFO replication does not show the redis replica at offset %s: %q", off, info)
	}
	if got := mustQuery(t, rr, "REPLICAOF", "NO", "ONE"); got != "+OK\r\n" {
		t.Fatalf("REPLICAOF NO ONE on the redis replica = %q", got)
	}
	c.Do("INCR", "n")
	if got := c.Do("WAIT", "1", "300"); got != ":0\r\n" {
		t.Errorf("WAIT 1 300 with no replica following = %q, want :0", got)
	}
}

// sendUnanswered sends a command on a connection of its own, closed when
// the test ends, without reading its reply: a write whose outcome the log
// never confirms gets none.
func sendUnanswered(t *testing.T, addr string, args ...string) {
	t.Helper()
	w, err := dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.close)
	if _, err := w.nc.Write(redistest.Encode(args...)); err != nil {
		t.Fatal(err)
	}
}

// TestRedisReplicaPartialResync: a redis-server replica of a ferry master,
// and one of a ferry replica, lose their links several times while
// clients write (CLIENT KILL TYPE master on the redis-server: it keeps its
// replication ID and offset and reconnects with PSYNC). Every reconnection
// continues the stream (+CONTINUE): each node counts one full
// synchronization and one partial one per kill, the redis replicas keep
// their replication IDs, and they end with the master's digest.
func TestRedisReplicaPartialResync(t *testing.T) {
	redistest.Need(t, "redis-server")
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "partial", nil)
	r := startReplica(t, ns.URL(), "partial", true)
	replicas := map[string]string{m.addr: startRedisReplica(t, m.addr), r.addr: startRedisReplica(t, r.addr)}
	linked := func(addr string) func() error {
		return func() error {
			if info := mustQuery(t, addr, "INFO", "replication"); !strings.Contains(info, "master_link_status:up") {
				return fmt.Errorf("redis replica %s not linked:\n%s", addr, info)
			}
			return nil
		}
	}
	replid := map[string]string{}
	for _, rr := range replicas {
		checkFor(t, 10*time.Second, 20*time.Millisecond, linked(rr))
		replid[rr] = infoField(t, rr, "replication", "master_replid")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	done := make(chan int, 1)
	go func() { done <- runWorkload(t, m.addr, seed, 3, 20, 1<<20, 4*time.Second, true, true) }()
	const kills = 3
	for range kills {
		time.Sleep(700 * time.Millisecond)
		for _, rr := range replicas {
			if got := mustQuery(t, rr, "CLIENT", "KILL", "TYPE", "master"); got != ":1\r\n" {
				t.Fatalf("CLIENT KILL TYPE master on %s = %q", rr, got)
			}
		}
		for _, rr := range replicas {
			checkFor(t, 10*time.Second, 20*time.Millisecond, linked(rr))
		}
	}
	n := <-done
	t.Logf("%d commands, log offset %d", n, m.Offset())
	waitCaughtUp(t, m, r, 20*time.Second)
	for node, rr := range replicas {
		waitSameDigest(t, m.addr, rr, 20*time.Second)
		if got := infoField(t, rr, "replication", "master_replid"); got != replid[rr] {
			t.Errorf("redis replica of %s: master_replid %s, was %s: it synchronized in full", node, got, replid[rr])
		}
		full, ok := infoField(t, node, "stats", "sync_full"), infoField(t, node, "stats", "sync_partial_ok")
		if full != "1" || ok != strconv.Itoa(kills) {
			t.Errorf("INFO stats of %s: sync_full:%s sync_partial_ok:%s, want 1 and %d", node, full, ok, kills)
		}
	}
}

// infoField returns one field of addr's INFO section.
func infoField(t *testing.T, addr, section, field string) string {
	t.Helper()
	info := mustQuery(t, addr, "INFO", section)
	m := regexp.MustCompile(`\r\n` + field + `:([^\r]*)\r\n`).FindStringSubmatch(info)
	if m == nil {
		t.Fatalf("INFO %s of %s has no %s: %q", section, addr, field, info)
	}
	return m[1]
}

// TestRedisReplicaRestartContinues: a redis-server replica of a ferry
// master that shuts down with SAVE and starts again from its dump.rdb
// (which keeps its replication ID and offset) continues the stream
// (+CONTINUE) instead of syncing in full, and gets the writes it missed.
func TestRedisReplicaRestartContinues(t *testing.T) {
	redistest.Need(t, "redis-server")
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "restart", nil)
	host, port, _ := net.SplitHostPort(m.addr)
	dir := t.TempDir()
	rr := redistest.Redis(t, "--dir", dir, "--replicaof", host, port)
	for i := range 200 {
		mustQuery(t, m.addr, "SET", fmt.Sprintf("k%d", i), "v")
	}
	waitSameDigest(t, m.addr, rr, 20*time.Second)
	replid := infoField(t, rr, "replication", "master_replid")
	// SHUTDOWN closes the connection without a reply.
	query(rr, "SHUTDOWN", "SAVE")
	for i := 200; i < 300; i++ {
		mustQuery(t, m.addr, "SET", fmt.Sprintf("k%d", i), "v")
	}
	rr = redistest.Redis(t, "--dir", dir, "--replicaof", host, port)
	waitSameDigest(t, m.addr, rr, 20*time.Second)
	if got := mustQuery(t, rr, "DBSIZE"); got != ":300\r\n" {
		t.Errorf("DBSIZE of the restarted redis replica = %q", got)
	}
	if got := infoField(t, rr, "replication", "master_replid"); got != replid {
		t.Errorf("restarted redis replica: master_replid %s, was %s: it synchronized in full", got, replid)
	}
	if full, ok := infoField(t, m.addr, "stats", "sync_full"), infoField(t, m.addr, "stats", "sync_partial_ok"); full != "1" || ok != "1" {
		t.Errorf("INFO stats of the master: sync_full:%s sync_partial_ok:%s, want 1 and 1", full, ok)
	}
}
