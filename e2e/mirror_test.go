package e2e

import (
	"context"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/ferrydb/ferry/master"
	"github.com/ferrydb/ferry/stream/jetstream"
)

// TestReplicaOnMirror: a replica that reads the log from a JetStream
// mirror of the dataset's stream (cascading replicas, as in another
// region's NATS cluster) bootstraps from the master's newest snapshot,
// whose log identity is the mirrored stream's, reads the mirror from the
// snapshot's offset + 1, and ends with the master's dataset while writes
// go on.
func TestReplicaOnMirror(t *testing.T) {
	ns := startNATS(t)
	st := fsStore(t)
	const dataset = "cascade"
	m := startMaster(t, ns.URL(), dataset, func(c *master.Config) { c.Store, c.NewDataset = st, true })
	fill(t, m.addr, "a", 300)
	snap, err := m.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fill(t, m.addr, "b", 100)

	js := rawJS(t, ns.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const mirror = "FERRY_CASCADE_EU"
	if _, err := js.CreateStream(ctx, natsjs.StreamConfig{
		Name: mirror, Mirror: &natsjs.StreamSource{Name: jetstream.StreamName(dataset)}, AllowDirect: true,
	}); err != nil {
		t.Fatal(err)
	}

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
