package e2e

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/ferrydb/ferry/master"
	"github.com/ferrydb/ferry/snapshot"
	"github.com/ferrydb/ferry/snapshot/fs"
	"github.com/ferrydb/ferry/stream/jetstream"
)

// snapshottedMaster starts a master of dataset with a directory store,
// fills it with before rounds of keys, takes a snapshot, then writes after
// more rounds that only the log holds.
func snapshottedMaster(t *testing.T, url, dataset string, before, after int) (*masterNode, *fs.Store, snapshot.Info) {
	t.Helper()
	st := fsStore(t)
	m := startMaster(t, url, dataset, func(c *master.Config) { c.Store, c.NewDataset = st, true })
	fill(t, m.addr, "a", before)
	snap, err := m.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fill(t, m.addr, "b", after)
	return m, st, snap
}

// createMirror creates stream name, a mirror of src with direct gets
// allowed, on the NATS server at url.
func createMirror(t *testing.T, url, name string, src natsjs.StreamSource) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := rawJS(t, url).CreateStream(ctx, natsjs.StreamConfig{Name: name, Mirror: &src, AllowDirect: true}); err != nil {
		t.Fatal(err)
	}
}

// TestReplicaOnMirror: a replica that reads the log from a JetStream
// mirror of the dataset's stream (cascading replicas, as in another
// region's NATS cluster) bootstraps from the master's newest snapshot,
// whose log identity is the mirrored stream's, reads the mirror from the
// snapshot's offset + 1, and ends with the master's dataset while writes
// go on.
func TestReplicaOnMirror(t *testing.T) {
	ns := startNATS(t)
	const dataset = "cascade"
	m, st, snap := snapshottedMaster(t, ns.URL(), dataset, 300, 100)
	const mirror = "FERRY_CASCADE_EU"
	createMirror(t, ns.URL(), mirror, natsjs.StreamSource{Name: jetstream.StreamName(dataset)})

	lg := openLogWith(t, ns.URL(), dataset, true, func(c *jetstream.Config) { c.Mirror = mirror })
	r := startStoreReplicaOn(t, lg, dataset, st)
	stop := pipelineWriters(t, m.addr, 2, func(conn, round int) [][]string {
		return [][]string{{"INCR", "counter"}, {"RPUSH", "list", "v"}, {"SET", "last", "x"}}
	})
	time.Sleep(200 * time.Millisecond)
	stop()
	waitCaughtUp(t, m, r.replicaNode, 20*time.Second)
	checkLoaded(t, r, snap)
	if froms := r.gate.readsFrom(); len(froms) == 0 || froms[0] != snap.Offset+1 {
		t.Errorf("reads of the mirror started at %v, want %d first", froms, snap.Offset+1)
	}
	if info := mustQuery(t, r.addr, "GET", "counter"); info == "$-1\r\n" {
		t.Errorf("the replica has no counter")
	}
}

// startDomain starts a nats-server with JetStream domain domain: a hub that
// takes leaf node connections on leafPort (0: none), or a leaf node of the
// hub at hubLeaf (a nats-leaf:// URL).
func startDomain(tb testing.TB, domain string, leafPort int, hubLeaf string) *server.Server {
	tb.Helper()
	o := &server.Options{
		ServerName: domain, Host: "127.0.0.1", Port: server.RANDOM_PORT,
		JetStream: true, JetStreamDomain: domain, StoreDir: tb.TempDir(), NoSigs: true, NoLog: true,
	}
	if leafPort != 0 {
		o.LeafNode = server.LeafNodeOpts{Host: "127.0.0.1", Port: leafPort}
	}
	if hubLeaf != "" {
		u, err := url.Parse(hubLeaf)
		if err != nil {
			tb.Fatal(err)
		}
		o.LeafNode.Remotes = []*server.RemoteLeafOpts{{URLs: []*url.URL{u}}}
	}
	s, err := server.NewServer(o)
	if err != nil {
		tb.Fatal(err)
	}
	go s.Start()
	tb.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(5 * time.Second) {
		tb.Fatalf("nats-server %s not ready", domain)
	}
	return s
}

// TestReplicaOnMirrorInAnotherDomain: the mirror lives in another
// JetStream domain (a leaf node's, as another region's NATS can be): the
// replica, connected there, reads the mirrored stream's identity through
// the mirror's API prefix and follows the master, whose NATS is the hub.
func TestReplicaOnMirrorInAnotherDomain(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	leafPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	hub := startDomain(t, "hub", leafPort, "")
	leaf := startDomain(t, "leaf", 0, fmt.Sprintf("nats-leaf://127.0.0.1:%d", leafPort))
	checkFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if hub.NumLeafNodes() != 1 || leaf.NumLeafNodes() != 1 {
			return fmt.Errorf("leaf node connections: hub %d, leaf %d", hub.NumLeafNodes(), leaf.NumLeafNodes())
		}
		return nil
	})

	const dataset = "faraway"
	m, st, snap := snapshottedMaster(t, hub.ClientURL(), dataset, 200, 50)
	const mirror = "FERRY_FARAWAY_LEAF"
	createMirror(t, leaf.ClientURL(), mirror, natsjs.StreamSource{Name: jetstream.StreamName(dataset), Domain: "hub"})
	lg := openLogWith(t, leaf.ClientURL(), dataset, true, func(c *jetstream.Config) { c.Mirror = mirror })
	if lg.Identity() != m.log.Identity() {
		t.Fatalf("identity through the mirror %s, want the hub's stream's %s", lg.Identity(), m.log.Identity())
	}
	r := startStoreReplicaOn(t, lg, dataset, st)
	fill(t, m.addr, "c", 50)
	// Larger than one message: the entry's data is an object in the
	// dataset's bucket, in the hub's domain.
	mustQuery(t, m.addr, "SET", "large", strings.Repeat("x", 3<<20))
	waitCaughtUp(t, m, r.replicaNode, 20*time.Second)
	checkLoaded(t, r, snap)
	if got := mustQuery(t, r.addr, "STRLEN", "large"); got != ":3145728\r\n" {
		t.Fatalf("STRLEN large on the replica = %q", got)
	}
}
