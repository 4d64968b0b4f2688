package command_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
)

// TestRandomReplicate runs the random string, list, key and bitmap
// commands of the differential tests (random_*_test.go) on a master
// engine, applies the effects it logs to a replica engine, and requires
// the same DEBUG DIGEST on both after every command: odd options and
// numbers must reach the log as deterministic effects. The clock moves
// now and then, so that keys with a time expire.
func TestRandomReplicate(t *testing.T) {
	steps := map[string]func(d *diff){
		"string": func(d *diff) { stringStep(d, nil) }, "list": listStep, "keys": keysStep, "bitmap": bitmapStep,
	}
	for _, name := range []string{"string", "list", "keys", "bitmap"} {
		seeds, n := diffSeeds(t, 800)
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("%s/seed%d", name, seed), func(t *testing.T) {
				clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
				rp := newReplication(clock, 1)
				conn := engineConn{rp.master, rp.clients[0]}
				d, units := replicaDiff(t, seed, 99, clock, rp, conn, nil)
				conn.Do("DEBUG", "SET-ACTIVE-EXPIRE", "0")
				for i := 0; i < n; i++ {
					steps[name](d)
					d.digest()
					if d.r.IntN(50) == 0 {
						// past relative times, now and then
						clock.Add(time.Duration(d.r.IntN(300)) * time.Second)
					}
				}
				checkUnits(t, *units, n)
			})
		}
	}
}

// replicateSteps runs each of the named steps on a master engine whose
// effects a replica applies (replicaDiff), for def steps on each fixed seed
// (or FERRY_DIFF_SEED and FERRY_DIFF_STEPS), now and then a few steps as
// one transaction, that is one unit (SPOP's own MULTI inside it), and
// compares the digests after each. stream seeds the steps' generator.
func replicateSteps(t *testing.T, steps map[string]func(d *diff), names []string, def int, stream uint64) {
	for _, name := range names {
		seeds, n := diffSeeds(t, def)
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("%s/seed%d", name, seed), func(t *testing.T) {
				clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
				rp := newReplication(clock, 1)
				conn := engineConn{rp.master, rp.clients[0]}
				d, units := replicaDiff(t, seed, stream, clock, rp, conn, nil)
				for i := 0; i < n; i++ {
					if d.r.IntN(20) == 0 {
						d.send("MULTI")
						for j := 1 + d.r.IntN(4); j > 0; j-- {
							steps[name](d)
						}
						d.send("EXEC")
					} else {
						steps[name](d)
					}
					d.digest()
				}
				checkUnits(t, *units, n)
			})
		}
	}
}

// replicaDiff returns a run of the randomized tests on rp (random_*_test.go)
// at clock's time whose commands go to conn, on rp's master, and whose DEBUG DIGEST check
// first applies the units the master logged to rp's replica, as a replica
// does, then calls check (when not nil) and compares the master's digest
// with the replica's. The string limit is set as runDiff sets it. The
// count of units applied so far is kept in *units.
func replicaDiff(t *testing.T, seed, stream uint64, clock *fakeClock, rp replication, conn diffConn, check func(d *diff)) (d *diff, units *int) {
	t.Helper()
	units = new(int)
	d = &diff{t: t, seed: seed, resp: 2, r: rand.New(rand.NewPCG(seed, stream)), ferry: conn,
		now: clock.Now().Unix(), marks: map[string]bool{}}
	d.digests = func() (string, string) {
		for _, u := range rp.log.units {
			apply(t, rp.replica, rp.rc, u)
		}
		*units += len(rp.log.units)
		rp.log.units = rp.log.units[:0]
		if check != nil {
			check(d)
		}
		rp.master.Lock()
		md := rp.master.Keyspace().Digest()
		rp.master.Unlock()
		rp.replica.Lock()
		rd := rp.replica.Keyspace().Digest()
		rp.replica.Unlock()
		return md.Hex(), rd.Hex()
	}
	if r := conn.Do("CONFIG", "SET", "proto-max-bulk-len", protoMaxBulkLen); r != "+OK\r\n" {
		t.Fatalf("CONFIG SET proto-max-bulk-len: %q", r)
	}
	return d, units
}

// checkUnits fails a replication run whose steps logged too few units to
// have tested much.
func checkUnits(t *testing.T, units, steps int) {
	t.Helper()
	if units < steps/10 {
		t.Fatalf("only %d units logged in %d steps", units, steps)
	}
}

// engineConn runs commands on an engine for one client.
type engineConn struct {
	e  *command.Engine
	cl *command.Client
}

// Do runs args and returns the raw reply.
func (c engineConn) Do(args ...string) string { return exec(c.e, c.cl, args...) }
