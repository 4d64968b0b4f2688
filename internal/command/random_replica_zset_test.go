package command_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRandomReplicateZset runs the random sorted-set commands of
// TestRandomZsetAgainstRedis (random_zset_test.go) on a master engine,
// applies the effects it logs to a replica engine, and requires the same
// DEBUG DIGEST on both after every command: ZADD INCR, ZINCRBY towards
// infinities, the STORE forms, pops, ZMPOP, range removals (lex ranges on
// skiplist sets with differing scores too) must all reach the replica as
// deterministic effects. CONFIG SET of the listpack limits goes to both
// (configMirror): a score of -0 is kept by a skiplist and turned into 0 by
// a listpack, in Redis as in ferry, so differently configured servers may
// differ.
func TestRandomReplicateZset(t *testing.T) {
	seeds, n := diffSeeds(t, 2500)
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			rp := newReplication(clock, 1)
			conn := configMirror{engineConn{rp.master, rp.clients[0]}, engineConn{rp.replica, rp.rc}}
			d, units := replicaDiff(t, seed, 98, clock, rp, conn, nil)
			for i := 0; i < n; i++ {
				zsetStep(d)
				d.digest()
			}
			checkUnits(t, *units, n)
		})
	}
}

// configMirror runs commands on a master, and CONFIG SET on its replica
// too, as an operator configures both alike.
type configMirror struct{ master, replica engineConn }

// Do runs args on the master (and CONFIG on the replica) and returns the
// master's reply.
func (c configMirror) Do(args ...string) string {
	r := c.master.Do(args...)
	if len(args) > 0 && strings.EqualFold(args[0], "CONFIG") {
		if rr := c.replica.Do(args...); rr != r {
			panic(fmt.Sprintf("%q: master %q, replica %q", args, r, rr))
		}
	}
	return r
}
