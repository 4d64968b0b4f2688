package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/master"
	"github.com/ferrydb/ferry/snapshot"
)

// TestFunctionsAreData: function libraries are part of the dataset. A
// library loaded before a snapshot reaches a replica through the snapshot,
// one loaded after it through the log; the functions' writes replicate as
// their effects; a master restarted on its snapshot and log has its
// libraries back; FLUSHALL keeps them.
func TestFunctionsAreData(t *testing.T) {
	ns := startNATS(t)
	st := fsStore(t)
	cfg := func(c *master.Config) { c.Store, c.NoShutdownSnapshot = st, true }
	m := startMaster(t, ns.URL(), "fns", cfg)
	before := "#!lua name=before\nredis.register_function('bump', function(keys, args) redis.call('incrby', keys[1], args[1]) return redis.call('lpush', keys[2], args[1]) end)"
	after := "#!lua name=after\nredis.register_function{function_name='peek', callback=function(keys) return redis.call('lrange', keys[1], 0, -1) end, flags={'no-writes'}}"
	mustQuery(t, m.addr, "FUNCTION", "LOAD", before)
	for _, n := range []string{"1", "2", "3"} {
		mustQuery(t, m.addr, "FCALL", "bump", "2", "counter", "list", n)
	}
	info, err := m.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The snapshot holds the library loaded before it, and only that.
	_, meta, err := snapshot.Load(context.Background(), st, info, func() *keyspace.Keyspace { return keyspace.New(nil) })
	if err != nil {
		t.Fatal(err)
	}
	if len(meta.Functions) != 1 || meta.Functions[0] != before {
		t.Fatalf("snapshot %s functions %q", info, meta.Functions)
	}
	mustQuery(t, m.addr, "FUNCTION", "LOAD", after)
	mustQuery(t, m.addr, "FCALL", "bump", "2", "counter", "list", "4")
	if r := mustQuery(t, m.addr, "FLUSHALL"); r != "+OK\r\n" {
		t.Fatalf("FLUSHALL: %q", r)
	}
	mustQuery(t, m.addr, "FCALL", "bump", "2", "counter", "list", "5")
	want := mustQuery(t, m.addr, "FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "*")
	if !strings.Contains(want, "before") || !strings.Contains(want, "after") {
		t.Fatalf("master's libraries: %q", want)
	}

	r := startStoreReplica(t, ns.URL(), "fns", st)
	waitCaughtUp(t, m, r.replicaNode, 20*time.Second)
	if got := mustQuery(t, r.addr, "FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "*"); got != want {
		t.Fatalf("replica's libraries:\n%q\nmaster's:\n%q", got, want)
	}
	if got := mustQuery(t, r.addr, "FCALL_RO", "peek", "1", "list"); got != "*1\r\n$1\r\n5\r\n" {
		t.Fatalf("FCALL_RO peek on the replica: %q", got)
	}
	if got := mustQuery(t, r.addr, "FCALL", "bump", "2", "counter", "list", "6"); !strings.HasPrefix(got, "-READONLY") {
		t.Fatalf("FCALL bump on the replica: %q", got)
	}

	wantDigest, err := digest(m.addr)
	if err != nil {
		t.Fatal(err)
	}
	m.stop(t)
	m2 := startMaster(t, ns.URL(), "fns", cfg)
	if got := mustQuery(t, m2.addr, "FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "*"); got != want {
		t.Fatalf("restarted master's libraries:\n%q\nwant:\n%q", got, want)
	}
	if got, err := digest(m2.addr); err != nil || got != wantDigest {
		t.Fatalf("restarted master digest %s, %v; want %s", got, err, wantDigest)
	}
	if got := mustQuery(t, m2.addr, "FCALL", "bump", "2", "counter", "list", "7"); got != ":2\r\n" {
		t.Fatalf("FCALL bump after the restart: %q", got)
	}
}
