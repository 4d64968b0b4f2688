package command_test

import "testing"

// TestRandomReplicateGeoHLLSort runs the random geo, HyperLogLog and SORT
// commands of TestRandomGeoAgainstRedis, TestRandomHLLAgainstRedis and
// TestRandomSortAgainstRedis on a master engine, applies the effects it
// logs to a replica engine, and requires the same DEBUG DIGEST on both
// after every command (now and then a transaction of a few): GEOADD as
// ZADD, the STORE and STOREDIST forms as DEL and ZADD of the stored
// doubles, PFADD, PFMERGE, PFCOUNT's cached cardinality and PFDEBUG's
// rewrites on valid and damaged strings, SORT ... STORE as itself.
func TestRandomReplicateGeoHLLSort(t *testing.T) {
	replicateSteps(t, map[string]func(d *diff){"geo": geoStep, "hll": hllStep, "sort": sortStep}, []string{"geo", "hll", "sort"}, 800, 97)
}
