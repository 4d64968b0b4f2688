package e2e

import (
	"context"
	"errors"
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
	"github.com/ferrydb/ferry/stream"
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
// leader. They are shut down when the test ends.
func startNATSCluster(tb testing.TB, n int) *natsCluster {
	tb.Helper()
	// Route ports must be known before the servers start: take free ones
	// from the kernel (another process could take one meanwhile; then the
	// server does not come up and the test says so).
	ports := make([]int, n)
	var routes []string
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		routes = append(routes, "nats-route://127.0.0.1:"+strconv.Itoa(ports[i]))
	}
	c := &natsCluster{}
	tb.Cleanup(c.shutdownAll)
	for i := range n {
		name := "n" + strconv.Itoa(i)
		o := &server.Options{
			ServerName: name,
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   tb.TempDir(),
			NoSigs:     true,
			NoLog:      true,
			MaxPayload: natsserver.DefaultMaxPayload,
			Cluster:    server.ClusterOpts{Name: "ferry-e2e", Host: "127.0.0.1", Port: ports[i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
		}
		s, err := server.NewServer(o)
		if err != nil {
			tb.Fatal(err)
		}
		go s.Start()
		if !s.ReadyForConnections(10 * time.Second) {
			s.Shutdown()
			tb.Fatalf("nats-server %s not ready for connections", name)
		}
		c.servers = append(c.servers, s)
		c.names = append(c.names, name)
		c.urls = append(c.urls, s.ClientURL())
	}
	checkFor(tb, 20*time.Second, 20*time.Millisecond, func() error {
		leaders := 0
		for _, s := range c.servers {
			if s.JetStreamIsLeader() {
				leaders++
			}
		}
		if leaders != 1 {
			return fmt.Errorf("%d JetStream meta leaders", leaders)
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
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
// digest.
func TestClusterStreamLeaderLoss(t *testing.T) {
	nc := startNATSCluster(t, 3)
	all := strings.Join(nc.urls, ",")
	name := jetstream.StreamName("leaderloss")
	m := startClusterMaster(t, nc.urls[0], "leaderloss", 3)
	r := startReplica(t, nc.urls[1], "leaderloss", true)
	leader := waitStreamCurrent(t, all, name, 3)
	watch := watchOffsets(r)
	ws := startWriters(m.addr, 4)
	ws.waitMore(t, 300, 10*time.Second)

	before := m.Offset()
	down := time.Now()
	nc.shutdown(t, leader)
	t.Logf("shut down stream leader %s at master offset %d (master on n0, replica on n1)", leader, before)
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
	waitCaughtUp(t, m, r, 20*time.Second)
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
// entry as removed from the middle of the log.
func TestClusterGetOnFollower(t *testing.T) {
	nc := startNATSCluster(t, 3)
	all := strings.Join(nc.urls, ",")
	w := openLogWith(t, nc.urls[0], "getfollower", false, func(c *jetstream.Config) { c.Replicas = 3 })
	name := jetstream.StreamName("getfollower")
	leader := waitStreamCurrent(t, all, name, 3)
	// The writer talks to the leader, the reader to a follower.
	li := nc.index(t, leader)
	fi := (li + 1) % 3
	w.Close()
	w = openLogWith(t, nc.urls[li], "getfollower", false, func(c *jetstream.Config) { c.Replicas = 3 })
	rd := openLogWith(t, nc.urls[fi], "getfollower", true, nil)
	nc.waitDirectGets(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var last uint64
	const n = 2000
	truncated := 0
	start := time.Now()
	for i := range n {
		data := []byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + strconv.Itoa(len(strconv.Itoa(i))) + "\r\n" + strconv.Itoa(i) + "\r\n")
		off, err := w.Append(ctx, data, last)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		last = off
		en, err := rd.Get(ctx, off)
		switch {
		case errors.Is(err, stream.ErrTruncated):
			if truncated < 3 {
				t.Errorf("Get %d on the follower right after the append: %v", off, err)
			}
			truncated++
		case err != nil:
			t.Fatalf("Get %d on the follower: %v", off, err)
		case en.Offset != off || string(en.Data) != string(data):
			t.Fatalf("Get %d on the follower = offset %d %q, want %q", off, en.Offset, en.Data, data)
		}
	}
	t.Logf("%d appends and gets on follower %s (leader %s) in %s", n, nc.names[fi], leader, time.Since(start).Round(time.Millisecond))
	if truncated > 0 {
		t.Errorf("%d of %d entries reported removed from the middle of the log", truncated, n)
	}
}
