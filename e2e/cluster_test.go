package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/stream/jetstream"
	"github.com/ferrydb/ferry/stream/natsserver"
)

// natsCluster is a JetStream cluster of nats-servers in the test process,
// on loopback.
type natsCluster struct {
	mu      sync.Mutex
	servers []*server.Server // nil once shut down
	names   []string
	urls    []string
}

// startNATSCluster runs n nats-servers with JetStream as one cluster, each
// with its own temporary store, and returns once the cluster has a meta
// leader that can place streams on all n. They are shut down when the
// test ends.
func startNATSCluster(tb testing.TB, n int) *natsCluster {
	tb.Helper()
	return startNATSClusterWith(tb, n, natsserver.DefaultMaxPayload)
}

// startNATSClusterWith is startNATSCluster with the servers' max_payload.
func startNATSClusterWith(tb testing.TB, n int, maxPayload int32) *natsCluster {
	tb.Helper()
	// Route ports must be known before the servers start: free ones are
	// taken from the kernel and held until their server starts. Another
	// listener may still take one in between; the server then never gets
	// ready, and the cluster is started again on other ports.
	var c *natsCluster
	var err error
	for range 3 {
		c = &natsCluster{}
		tb.Cleanup(c.shutdownAll)
		if err = c.start(tb, n, maxPayload); err == nil {
			break
		}
		tb.Logf("start the NATS cluster: %v; again on other ports", err)
		c.shutdownAll()
	}
	if err != nil {
		tb.Fatal(err)
	}
	checkFor(tb, 20*time.Second, 20*time.Millisecond, func() error {
		var leaders []*server.Server
		for _, s := range c.servers {
			if s.JetStreamIsLeader() {
				leaders = append(leaders, s)
			}
		}
		if len(leaders) != 1 {
			return fmt.Errorf("%d JetStream meta leaders", len(leaders))
		}
		// Streams are placed on the peers whose statistics the meta
		// leader has: until it has all n, a stream with n replicas is
		// refused with "no suitable peers for placement".
		if peers := leaders[0].JetStreamClusterPeers(); len(peers) != n {
			return fmt.Errorf("the meta leader can place streams on %v only", peers)
		}
		for i, s := range c.servers {
			if !s.JetStreamIsCurrent() {
				return fmt.Errorf("server %s not current with the meta leader", c.names[i])
			}
		}
		return nil
	})
	return c
}

// start starts the n servers of c.
func (c *natsCluster) start(tb testing.TB, n int, maxPayload int32) error {
	tb.Helper()
	lns := make([]net.Listener, n)
	defer func() {
		for _, ln := range lns {
			if ln != nil {
				ln.Close()
			}
		}
	}()
	var routes []string
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		lns[i] = ln
		routes = append(routes, "nats-route://"+ln.Addr().String())
	}
	for i := range n {
		name := "n" + strconv.Itoa(i)
		port := lns[i].Addr().(*net.TCPAddr).Port
		o := &server.Options{
			ServerName: name,
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   tb.TempDir(),
			NoSigs:     true,
			NoLog:      true,
			MaxPayload: maxPayload,
			Cluster:    server.ClusterOpts{Name: "ferry-e2e", Host: "127.0.0.1", Port: port},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
		}
		s, err := server.NewServer(o)
		if err != nil {
			return err
		}
		lns[i].Close()
		lns[i] = nil
		go s.Start()
		if !s.ReadyForConnections(5 * time.Second) {
			s.Shutdown()
			s.WaitForShutdown()
			return fmt.Errorf("nats-server %s (route port %d) not ready for connections", name, port)
		}
		c.mu.Lock()
		c.servers = append(c.servers, s)
		c.names = append(c.names, name)
		c.urls = append(c.urls, s.ClientURL())
		c.mu.Unlock()
	}
	return nil
}

// shutdown stops the server named name and waits until it has stopped.
func (c *natsCluster) shutdown(tb testing.TB, name string) {
	tb.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, n := range c.names {
		if n == name && c.servers[i] != nil {
			c.servers[i].Shutdown()
			c.servers[i].WaitForShutdown()
			c.servers[i] = nil
			return
		}
	}
	tb.Fatalf("no running server %q", name)
}

func (c *natsCluster) shutdownAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.servers {
		if s != nil {
			s.Shutdown()
			s.WaitForShutdown()
			c.servers[i] = nil
		}
	}
}

// index returns the index of the server named name.
func (c *natsCluster) index(tb testing.TB, name string) int {
	tb.Helper()
	for i, n := range c.names {
		if n == name {
			return i
		}
	}
	tb.Fatalf("no server %q in %v", name, c.names)
	return -1
}

// streamCluster returns the JetStream stream's cluster information as the
// servers at urls tell it.
func streamCluster(tb testing.TB, urls, name string) (*natsjs.ClusterInfo, error) {
	tb.Helper()
	nc, err := nats.Connect(urls, nats.Timeout(2*time.Second))
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := natsjs.New(nc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	s, err := js.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	if info.Cluster == nil {
		return nil, fmt.Errorf("stream %s has no cluster information", name)
	}
	return info.Cluster, nil
}

// waitStreamCurrent waits until the stream has a leader and every one of
// its replicas is current, and returns the leader's name.
func waitStreamCurrent(tb testing.TB, urls, name string, replicas int) string {
	tb.Helper()
	var leader string
	checkFor(tb, 20*time.Second, 20*time.Millisecond, func() error {
		ci, err := streamCluster(tb, urls, name)
		if err != nil {
			return err
		}
		if ci.Leader == "" {
			return fmt.Errorf("stream %s has no leader", name)
		}
		current := 0
		for _, p := range ci.Replicas {
			if p.Current && !p.Offline {
				current++
			}
		}
		if current != replicas-1 {
			return fmt.Errorf("stream %s: leader %s, %d of %d followers current", name, ci.Leader, current, replicas-1)
		}
		leader = ci.Leader
		return nil
	})
	return leader
}

// waitDirectGets waits until every server answers direct gets on the
// stream: followers join the direct-get queue group only once they are
// caught up, checked every 2 s after they became followers.
func (c *natsCluster) waitDirectGets(tb testing.TB, stream string) {
	tb.Helper()
	subject := "$JS.API.DIRECT.GET." + stream
	checkFor(tb, 10*time.Second, 20*time.Millisecond, func() error {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, s := range c.servers {
			if s == nil {
				continue
			}
			sz, err := s.Subsz(&server.SubszOptions{Subscriptions: true, Test: subject, Limit: 1000})
			if err != nil {
				return err
			}
			found := false
			for _, d := range sz.Subs {
				// The stream's own subscription, in its queue group (the
				// JetStream API's "$JS.API.>" matches too).
				found = found || (d.Subject == subject && d.Queue != "")
			}
			if !found {
				return fmt.Errorf("server %s does not answer direct gets on %s", c.names[i], stream)
			}
		}
		return nil
	})
}

// moveStreamLeader has the stream's leader step down until the server
// named to leads it.
func moveStreamLeader(tb testing.TB, urls, name, to string) {
	tb.Helper()
	nc, err := nats.Connect(urls, nats.Timeout(2*time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	defer nc.Close()
	req := []byte(`{"placement":{"preferred":"` + to + `"}}`)
	checkFor(tb, 20*time.Second, 50*time.Millisecond, func() error {
		ci, err := streamCluster(tb, urls, name)
		if err != nil {
			return err
		}
		switch ci.Leader {
		case to:
			return nil
		case "":
			return fmt.Errorf("stream %s has no leader", name)
		}
		if _, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+name, req, 2*time.Second); err != nil {
			return fmt.Errorf("step down %s on %s: %v", name, ci.Leader, err)
		}
		return fmt.Errorf("stream %s led by %s, asked to move to %s", name, ci.Leader, to)
	})
}

// startClusterMaster starts a master whose log, a stream of the given
// replica count, is reached through the server at url.
func startClusterMaster(tb testing.TB, url, dataset string, replicas int) *masterNode {
	tb.Helper()
	lg := openLogWith(tb, url, dataset, false, func(c *jetstream.Config) { c.Replicas = replicas })
	m, err := newMaster(lg, dataset, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return serveMaster(tb, m, lg)
}

// TestClusterReplicaReadsMaster runs a master and a replica on a
// three-server JetStream cluster, each connected to a different server,
// with the dataset's stream on all three (durable acks, the default): the
// replica reads the master's writes, and a random workload leaves both
// with the same DEBUG DIGEST.
func TestClusterReplicaReadsMaster(t *testing.T) {
	nc := startNATSCluster(t, 3)
	m := startClusterMaster(t, nc.urls[0], "clustered", 3)
	r := startReplica(t, nc.urls[1], "clustered", true)
	leader := waitStreamCurrent(t, strings.Join(nc.urls, ","), jetstream.StreamName("clustered"), 3)
	t.Logf("stream leader %s; master on n0, replica on n1", leader)

	mc := redistest.Dial(t, m.addr)
	expect(t, mc, "+OK\r\n", "SET", "str", "hello")
	expect(t, mc, ":3\r\n", "RPUSH", "list", "a", "b", "c")
	expect(t, mc, ":2\r\n", "HSET", "hash", "f1", "v1", "f2", "v2")
	expect(t, mc, "+OK\r\n", "SET", "ttl", "v", "EX", "100")
	waitCaughtUp(t, m, r, 10*time.Second)
	rc := redistest.Dial(t, r.addr)
	expect(t, rc, bulk("hello"), "GET", "str")
	expect(t, rc, "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", "LRANGE", "list", "0", "-1")
	expect(t, rc, bulk("v2"), "HGET", "hash", "f2")
	expect(t, rc, errReadOnly, "SET", "str", "x")

	zsets := hasCommand(t, m.addr, "zadd")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, sorted sets %t", seed, zsets)
	start := time.Now()
	n := runWorkload(t, m.addr, seed, 4, 20, 2000, time.Second, zsets, true)
	t.Logf("%d commands in %s, log offset %d", n, time.Since(start).Round(time.Millisecond), m.Offset())
	waitCaughtUp(t, m, r, 20*time.Second)
	// A replica that starts late, on the third server, reads the backlog
	// from that server.
	late := startReplica(t, nc.urls[2], "clustered", true)
	waitCaughtUp(t, m, late, 20*time.Second)
}

// TestClusterStreamLeaderLoss shuts down the server that leads the
// dataset's stream while several clients write with durable acks: the
// cluster elects a new leader, the master takes writes again (it may
// rebuild from the log meanwhile, refusing writes), every acknowledged
// write is on the master and on the replica, and both end with the same
// digest. The master is connected to n0 and the replica to n1; the
// leader is moved to n0 (the master loses its server with the leader) or
// to n2 (both keep their servers) before its server is shut down.
func TestClusterStreamLeaderLoss(t *testing.T) {
	t.Run("master's server", func(t *testing.T) { streamLeaderLoss(t, "n0") })
	t.Run("third server", func(t *testing.T) { streamLeaderLoss(t, "n2") })
}

func streamLeaderLoss(t *testing.T, leader string) {
	nc := startNATSCluster(t, 3)
	all := strings.Join(nc.urls, ",")
	name := jetstream.StreamName("leaderloss")
	m := startClusterMaster(t, nc.urls[0], "leaderloss", 3)
	r := startReplica(t, nc.urls[1], "leaderloss", true)
	waitStreamCurrent(t, all, name, 3)
	moveStreamLeader(t, all, name, leader)
	waitStreamCurrent(t, all, name, 3)
	watch := watchOffsets(r)
	ws := startWriters(m.addr, 4)
	ws.waitMore(t, 300, 10*time.Second)

	before := m.Offset()
	down := time.Now()
	nc.shutdown(t, leader)
	t.Logf("shut down stream leader %s at master offset %d", leader, before)
	var rest []string
	for i, u := range nc.urls {
		if nc.names[i] != leader {
			rest = append(rest, u)
		}
	}
	var newLeader string
	checkFor(t, 25*time.Second, 20*time.Millisecond, func() error {
		ci, err := streamCluster(t, strings.Join(rest, ","), name)
		if err != nil {
			return err
		}
		if ci.Leader == "" || ci.Leader == leader {
			return fmt.Errorf("stream leader %q", ci.Leader)
		}
		newLeader = ci.Leader
		return nil
	})
	elected := time.Now()
	checkFor(t, 20*time.Second, 10*time.Millisecond, func() error {
		if got, err := query(m.addr, "SET", "probe", "y"); err != nil || got != "+OK\r\n" {
			return fmt.Errorf("SET on the master after the election = %q, %v", got, err)
		}
		return nil
	})
	t.Logf("new stream leader %s after %s; master took writes %s later (offset %d, %d failures so far)",
		newLeader, elected.Sub(down).Round(time.Millisecond), time.Since(elected).Round(time.Millisecond), m.Offset(), ws.failures.Load())
	ws.waitMore(t, 300, 10*time.Second)
	ws.stop(t)
	ws.checkAcked(t, "master", m.addr)
	t.Logf("300 more acknowledged writes, master checked after %s", time.Since(elected).Round(time.Millisecond))
	waitCaughtUp(t, m, r, 20*time.Second)
	t.Logf("replica caught up at offset %d after %s", m.Offset(), time.Since(elected).Round(time.Millisecond))
	watch.stop(t)
	ws.checkAcked(t, "replica", r.addr)
	if m.Offset() <= before {
		t.Errorf("master offset %d, %d before the leader went away", m.Offset(), before)
	}
}

// TestClusterGetOnFollower reads each entry right after it was appended,
// through a connection to a server that follows the stream. Direct gets
// (AllowDirect) are answered by that follower, which may not have applied
// an entry the leader already acknowledged: Get must not report such an
// entry as removed from the middle of the log. Before Get asked again,
// 15-20% of the entries were.
func TestClusterGetOnFollower(t *testing.T) {
	getOnFollower(t, natsserver.DefaultMaxPayload, 40, 2000)
}

// TestClusterGetLargeOnFollower is TestClusterGetOnFollower with entries
// larger than a message, kept in the object store bucket: the follower
// may not have the object, or all of its chunks, yet. Before Get asked
// again, 1-7% were reported gone or corrupt.
func TestClusterGetLargeOnFollower(t *testing.T) {
	getOnFollower(t, 64<<10, 100<<10, 200)
}

// getOnFollower appends n entries of size bytes on a cluster whose servers
// take messages of up to maxPayload bytes, through the stream leader, and
// reads each one back at once through a follower.
func getOnFollower(t *testing.T, maxPayload int32, size, n int) {
	nc := startNATSClusterWith(t, 3, maxPayload)
	all := strings.Join(nc.urls, ",")
	mod := func(c *jetstream.Config) { c.Replicas = 3; c.MaxEntryBytes = max(size, 1<<20) }
	w := openLogWith(t, nc.urls[0], "getfollower", false, mod)
	name := jetstream.StreamName("getfollower")
	leader := waitStreamCurrent(t, all, name, 3)
	// The writer talks to the leader, the reader to a follower.
	li := nc.index(t, leader)
	fi := (li + 1) % 3
	w.Close()
	w = openLogWith(t, nc.urls[li], "getfollower", false, mod)
	rd := openLogWith(t, nc.urls[fi], "getfollower", true, nil)
	nc.waitDirectGets(t, name)
	large := size > int(maxPayload)
	if large {
		// The bucket's stream is created with the first large entry.
		if _, err := w.Append(context.Background(), bytes.Repeat([]byte{'-'}, size), 0); err != nil {
			t.Fatal(err)
		}
		nc.waitDirectGets(t, "OBJ_"+jetstream.BucketName("getfollower"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	last, err := w.Last(ctx)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	start := time.Now()
	for i := range n {
		data := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		copy(data, strconv.Itoa(i)+":")
		off, err := w.Append(ctx, data, last)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		last = off
		en, err := rd.Get(ctx, off)
		switch {
		case err != nil:
			if failed < 3 {
				t.Errorf("Get %d on the follower right after the append: %v", off, err)
			}
			failed++
		case en.Offset != off || !bytes.Equal(en.Data, data):
			t.Fatalf("Get %d on the follower = offset %d, %d bytes %.20q, want %d bytes %.20q", off, en.Offset, len(en.Data), en.Data, len(data), data)
		}
	}
	t.Logf("%d appends of %d bytes and gets on follower %s (leader %s) in %s", n, size, nc.names[fi], leader, time.Since(start).Round(time.Millisecond))
	if failed > 0 {
		t.Errorf("%d of %d entries could not be read right after their append", failed, n)
	}
}

// TestClusterReplicaLargeEntriesOnFollower: a replica connected to a
// follower reads large entries through its consumer, which fetches each
// one's object from the bucket through that follower (a follower that has
// the message but not yet the object was taken for a removed object: the
// replica stopped with resync-needed in 3 runs of 5).
func TestClusterReplicaLargeEntriesOnFollower(t *testing.T) {
	nc := startNATSClusterWith(t, 3, 64<<10)
	all := strings.Join(nc.urls, ",")
	name := jetstream.StreamName("largefollower")
	lg := openLogWith(t, nc.urls[0], "largefollower", false, func(c *jetstream.Config) { c.Replicas = 3; c.MaxEntryBytes = 1 << 20 })
	mm, err := newMaster(lg, "largefollower", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := serveMaster(t, mm, lg)
	leader := waitStreamCurrent(t, all, name, 3)
	mc := redistest.Dial(t, m.addr)
	expect(t, mc, "+OK\r\n", "SET", "first", strings.Repeat("f", 100<<10))
	nc.waitDirectGets(t, name)
	nc.waitDirectGets(t, "OBJ_"+jetstream.BucketName("largefollower"))
	r := startReplica(t, nc.urls[(nc.index(t, leader)+1)%3], "largefollower", true)
	watch := watchOffsets(r)
	for i := range 200 {
		expect(t, mc, "+OK\r\n", "SET", "k"+strconv.Itoa(i%5), strings.Repeat(string(rune('a'+i%26)), 100<<10))
	}
	waitCaughtUp(t, m, r, 20*time.Second)
	watch.stop(t)
}
