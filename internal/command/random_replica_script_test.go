package command_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// TestRandomReplicateInScript runs the random commands of the differential
// tests on a master engine wrapped in scripts and functions as
// TestRandomInScriptAgainstRedis does (random_script_test.go), applies the
// effects the master logs to a replica engine, and requires the same
// DEBUG DIGEST on both after every script: a script's writes reach the log
// as one unit of their effects (in MULTI/EXEC when there are several),
// also when the script fails after writing, and never the script itself.
func TestRandomReplicateInScript(t *testing.T) { runWrappedReplica(t, wrapScript, 150) }

// TestRandomReplicateInMulti is TestRandomReplicateInScript with the
// commands in MULTI/EXEC transactions (aborted by a WATCH, by a queue-time
// error, with runtime errors, discarded).
func TestRandomReplicateInMulti(t *testing.T) { runWrappedReplica(t, wrapMulti, 150) }

// runWrappedReplica runs each step function wrapped in kind on a master
// and replica engine, in RESP2 and RESP3; the clock moves now and then,
// so that keys with a time expire.
func runWrappedReplica(t *testing.T, kind, def int) {
	seeds, n := diffSeeds(t, def)
	names, stepFns := wrappedSteps(true)
	total, ran := map[string]int{}, 0
	for _, name := range names {
		for _, seed := range seeds {
			for _, resp := range []int{2, 3} {
				t.Run(fmt.Sprintf("%s/seed%d/resp%d", name, seed, resp), func(t *testing.T) {
					clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
					rp := newReplication(clock, 2)
					// CONFIG SET of the encoding limits goes to both, as in
					// TestRandomReplicateZset: a listpack turns a -0 score
					// into 0 where a skiplist keeps it (in Redis too)
					conn := configMirror{engineConn{rp.master, rp.clients[0]}, engineConn{rp.replica, rp.rc}}
					second := engineConn{rp.master, rp.clients[1]}
					d, units := replicaDiff(t, seed, 97, clock, rp, conn, nil)
					d.resp = resp
					for _, c := range [][]string{{"HELLO", strconv.Itoa(resp)}, {"DEBUG", "SET-ACTIVE-EXPIRE", "0"}} {
						conn.Do(c...) // replicaDiff set the string limit
					}
					second.Do("HELLO", strconv.Itoa(resp))
					w := newWrapper(d, kind, [2]diffConn{nil, second})
					w.setup()
					for i := 0; i < n; i++ {
						w.round(stepFns[name])
						if d.r.IntN(40) == 0 {
							clock.Add(time.Duration(d.r.IntN(300_000)) * time.Millisecond)
						}
					}
					checkUnits(t, *units, n)
					for k, v := range w.counts {
						total[k] += v
					}
					ran++
				})
			}
		}
	}
	if ran == len(names)*len(seeds)*2 { // all ran (not a -run of some), and passed
		checkCounts(t, kind, total)
	}
}
