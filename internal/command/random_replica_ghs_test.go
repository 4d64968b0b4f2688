package command_test

import (
	"fmt"
	"testing"
	"time"
)

// TestRandomReplicateGeoHLLSort runs the random geo, HyperLogLog and SORT
// commands of TestRandomGeoAgainstRedis, TestRandomHLLAgainstRedis and
// TestRandomSortAgainstRedis on a master engine, applies the effects it
// logs to a replica engine, and requires the same DEBUG DIGEST on both
// after every command (now and then a transaction of a few): GEOADD as
// ZADD, the STORE and STOREDIST forms as DEL and ZADD of the stored
// doubles, PFADD, PFMERGE, PFCOUNT's cached cardinality and PFDEBUG's
// rewrites on valid and damaged strings, SORT ... STORE as itself.
func TestRandomReplicateGeoHLLSort(t *testing.T) {
	steps := map[string]func(d *diff){"geo": geoStep, "hll": hllStep, "sort": sortStep}
	for _, name := range []string{"geo", "hll", "sort"} {
		seeds, n := diffSeeds(t, 800)
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("%s/seed%d", name, seed), func(t *testing.T) {
				clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
				rp := newReplication(clock, 1)
				conn := engineConn{rp.master, rp.clients[0]}
				d, units := replicaDiff(t, seed, 97, clock, rp, conn, nil)
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
