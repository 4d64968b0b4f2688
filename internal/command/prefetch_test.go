package command_test

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/resp"
)

// TestApplyOverManyKeys applies runs of small entries and entries of many
// commands to a dataset large enough (20,000 keys in two databases) that
// the applier reads keys ahead (Engine.Prefetch), and runs the same
// commands on another engine one by one: the two end with the same
// digest.
func TestApplyOverManyKeys(t *testing.T) {
	direct := command.New(command.Config{})
	direct.Lock()
	cl := direct.NewClient("direct", "")
	direct.Unlock()
	applied := command.New(command.Config{})
	ap := applied.NewApplier()
	rng := rand.New(rand.NewPCG(7, 11))
	key := func() string { return "key:" + strconv.Itoa(rng.IntN(25000)) }
	// entry runs args on direct and returns them as a log entry; each
	// entry starts in database 0.
	entry := func(cmds ...[]string) []byte {
		exec(direct, cl, "SELECT", "0")
		var b []byte
		for _, c := range cmds {
			exec(direct, cl, c...)
			args := make([][]byte, len(c))
			for i, a := range c {
				args[i] = []byte(a)
			}
			b = resp.AppendCommand(b, args...)
		}
		return b
	}
	var load [][]string
	for i := range 20000 {
		load = append(load, []string{"SET", "key:" + strconv.Itoa(i), strconv.Itoa(i)})
	}
	load = append(load, []string{"SELECT", "1"})
	load = append(load, load[:20000]...)
	run := [][]byte{entry(load...)}
	random := func() []string {
		switch rng.IntN(6) {
		case 0:
			return []string{"SET", key(), strconv.Itoa(rng.IntN(100))}
		case 1:
			return []string{"INCR", key()}
		case 2:
			return []string{"DEL", key(), key()}
		case 3:
			return []string{"SELECT", strconv.Itoa(rng.IntN(2))}
		case 4:
			return []string{"INCRBY", key(), "3"}
		}
		return []string{"EXPIRE", key(), "1000"}
	}
	for range 300 {
		run = append(run, entry(random()))
	}
	var many [][]string
	for range 500 {
		many = append(many, random())
	}
	run = append(run, entry(many...))
	if n, err := ap.ApplyRun(run, nil); err != nil || n != len(run) {
		t.Fatalf("ApplyRun: %d of %d, %v", n, len(run), err)
	}
	direct.Lock()
	want := direct.Keyspace().Digest()
	direct.Unlock()
	applied.Lock()
	got := applied.Keyspace().Digest()
	applied.Unlock()
	if got != want || applied.Keyspace().DB(1).Len() < 19000 {
		t.Fatalf("digest applied %s, run one by one %s", got.Hex(), want.Hex())
	}
}
