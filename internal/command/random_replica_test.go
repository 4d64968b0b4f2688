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
				applied := 0
				d := &diff{t: t, seed: seed, resp: 2, r: rand.New(rand.NewPCG(seed, 99)), ferry: conn,
					now: clock.Now().Unix(), marks: map[string]bool{}}
				d.digests = func() (string, string) {
					for ; applied < len(rp.log.units); applied++ {
						apply(t, rp.replica, rp.rc, rp.log.units[applied])
					}
					rp.master.Lock()
					md := rp.master.Keyspace().Digest()
					rp.master.Unlock()
					rp.replica.Lock()
					rd := rp.replica.Keyspace().Digest()
					rp.replica.Unlock()
					return md.Hex(), rd.Hex()
				}
				conn.Do("DEBUG", "SET-ACTIVE-EXPIRE", "0")
				if r := conn.Do("CONFIG", "SET", "proto-max-bulk-len", protoMaxBulkLen); r != "+OK\r\n" {
					t.Fatalf("CONFIG SET proto-max-bulk-len: %q", r)
				}
				for i := 0; i < n; i++ {
					steps[name](d)
					d.digest()
					if d.r.IntN(50) == 0 {
						// past relative times, now and then
						clock.Add(time.Duration(d.r.IntN(300)) * time.Second)
					}
				}
				if len(rp.log.units) < n/10 {
					t.Fatalf("only %d units logged in %d steps", len(rp.log.units), n)
				}
			})
		}
	}
}

// engineConn runs commands on an engine for one client.
type engineConn struct {
	e  *command.Engine
	cl *command.Client
}

// Do runs args and returns the raw reply.
func (c engineConn) Do(args ...string) string { return exec(c.e, c.cl, args...) }
