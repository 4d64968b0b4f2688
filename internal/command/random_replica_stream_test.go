package command_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestRandomReplicateStream runs the random stream commands of
// TestRandomStreamAgainstRedis, with "*" IDs too, on a master engine,
// applies the effects it logs to a replica engine, and after every
// command requires the same DEBUG DIGEST on both (which covers the
// entries only, as Redis's does) and the same XINFO STREAM FULL of every
// stream key (the groups: last-delivered IDs, entries-read, lag, consumers,
// pending entries with their delivery times and counts). Now and then a
// few commands run in a transaction, and the clock moves, so that idle
// thresholds and "*" IDs change. Consumers' seen-times are left out of
// the comparison: README.md ("Deliberate differences", Streams) says some
// come from the replica's clock.
func TestRandomReplicateStream(t *testing.T) {
	seeds, n := diffSeeds(t, 800)
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed%d", seed), func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			rp := newReplication(clock, 2)
			conn := engineConn{rp.master, rp.clients[0]}
			// the master's and the replica's state is read by other
			// clients: the first may be in a transaction
			master, replica := engineConn{rp.master, rp.clients[1]}, engineConn{rp.replica, rp.rc}
			// the engine's own applier, as a replica uses: a transaction of
			// many long XADDs is more than apply's single read takes
			applier, units := rp.replica.NewApplier(), 0
			d := &diff{t: t, seed: seed, resp: 2, r: rand.New(rand.NewPCG(seed, 98)), ferry: conn,
				now: clock.Now().Unix(), marks: map[string]bool{}}
			d.digests = func() (string, string) {
				for _, u := range rp.log.units {
					if err := applier.Apply(u); err != nil {
						d.fail("the replica: %v", err)
					}
				}
				units += len(rp.log.units)
				rp.log.units = rp.log.units[:0]
				for _, key := range []string{"x0", "x1", "x2"} {
					args := []string{"XINFO", "STREAM", key, "FULL", "COUNT", "0"}
					m, err1 := streamSeenTimes(t, args, master.Do(args...))
					r, err2 := streamSeenTimes(t, args, replica.Do(args...))
					if err1 != "" || err2 != "" || m != r {
						d.fail("XINFO STREAM %s FULL COUNT 0 (seen-times left out; %s%s):\n master  %s\n replica %s", key, err1, err2, m, r)
					}
				}
				rp.master.Lock()
				md := rp.master.Keyspace().Digest()
				rp.master.Unlock()
				rp.replica.Lock()
				rd := rp.replica.Keyspace().Digest()
				rp.replica.Unlock()
				return md.Hex(), rd.Hex()
			}
			step := newStreamStep(true)
			inMulti := 0
			for i := 0; i < n; i++ {
				if inMulti == 0 && d.r.IntN(25) == 0 {
					inMulti = 2 + d.r.IntN(4)
					d.do("MULTI")
				}
				step(d)
				if inMulti > 0 {
					if inMulti--; inMulti == 0 {
						d.do("EXEC")
					}
				}
				d.digest()
				if d.r.IntN(40) == 0 {
					clock.Add(time.Duration(d.r.IntN(300_000)) * time.Millisecond)
				}
			}
			if units < n/10 {
				t.Fatalf("only %d units logged in %d steps", units, n)
			}
		})
	}
}

// streamSeenTimes renders an XINFO STREAM FULL reply with the consumers'
// seen-times replaced by "T" (delivery times are kept), or returns why it
// could not.
func streamSeenTimes(t *testing.T, args []string, raw string) (string, string) {
	if raw[0] == '-' {
		return raw, ""
	}
	return streamNormalizeSome(t, args, raw, false)
}
