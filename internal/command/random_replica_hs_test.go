package command_test

import (
	"fmt"
	"testing"
	"time"
)

// TestRandomReplicateHashSet runs the random hash and set commands of
// TestRandomHashAgainstRedis and TestRandomSetAgainstRedis on a master
// engine, applies the effects it logs to a replica engine, and requires the
// same DEBUG DIGEST on both after every command (now and then a
// transaction of a few), as TestRandomReplicate does for the other types. Here SPOP's random picks are kept (no DEL
// after them): its effect (SREMs, or DEL for the whole set) must make the
// replica pop the same members; HINCRBYFLOAT must reach it as the value
// the master computed. CONFIG SET of the encoding limits changes the
// master only, so the replica's encodings may differ while its contents
// may not.
func TestRandomReplicateHashSet(t *testing.T) {
	steps := map[string]func(d *diff){"hash": hashStep, "set": setStep}
	for _, name := range []string{"hash", "set"} {
		seeds, n := diffSeeds(t, 1500)
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("%s/seed%d", name, seed), func(t *testing.T) {
				clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
				rp := newReplication(clock, 1)
				conn := engineConn{rp.master, rp.clients[0]}
				d, units := replicaDiff(t, seed, 98, clock, rp, conn, nil)
				for i := 0; i < n; i++ {
					if d.r.IntN(20) == 0 {
						// a few steps as one transaction: one unit for
						// all, SPOP's own MULTI inside it
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
