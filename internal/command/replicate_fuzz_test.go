package command_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/num"
)

// fuzzSkipped are the commands FuzzReplicate leaves out besides admin and
// blocking ones: they wait on something outside the engine (WAIT, a busy
// script), change how the client is served rather than the data (CLIENT,
// MONITOR, Pub/Sub), or run library code whose effects other tests cover
// with generated scripts.
var fuzzSkipped = map[string]bool{
	"eval": true, "evalsha": true, "eval_ro": true, "evalsha_ro": true, "fcall": true, "fcall_ro": true,
	"function": true, "script": true, "wait": true, "client": true, "monitor": true, "subscribe": true,
	"psubscribe": true, "ssubscribe": true, "lolwut": true, "pfselftest": true, "migrate": true,
}

// fuzzCounted are commands whose count argument sizes the reply whatever
// the data (a negative count repeats elements): counts past fuzzMaxCount
// would only make the fuzzer allocate.
var fuzzCounted = map[string]bool{"srandmember": true, "hrandfield": true, "zrandmember": true}

const fuzzMaxCount = 10000

// fuzzRunnable reports whether FuzzReplicate runs args on its master.
func fuzzRunnable(tab *command.Table, args [][]byte) bool {
	if len(args) == 0 {
		return false
	}
	cmd := tab.Lookup(args[0])
	if cmd == nil {
		return true // an unknown command: an error, and nothing logged
	}
	if fuzzSkipped[cmd.Name] || cmd.Flags&(command.Admin|command.Blocking) != 0 {
		return false
	}
	if cmd.Sub != nil && len(args) > 1 {
		if sub := cmd.Sub[strings.ToLower(string(args[1]))]; sub != nil && sub.Flags&(command.Admin|command.Blocking) != 0 {
			return false
		}
	}
	if fuzzCounted[cmd.Name] {
		for _, a := range args[1:] {
			if n, ok := num.ParseInt(a); ok && (n > fuzzMaxCount || n < -fuzzMaxCount) {
				return false
			}
		}
	}
	return true
}

// fuzzCommands reads FuzzReplicate's input: a command per line, its
// arguments separated by single spaces (so that the fuzzer's mutations
// keep commands apart, where RESP's lengths would break), at most 32.
func fuzzCommands(input []byte) [][][]byte {
	var cmds [][][]byte
	for _, line := range bytes.Split(input, []byte("\n")) {
		if len(cmds) == 32 {
			break
		}
		if args := bytes.Split(line, []byte(" ")); len(line) > 0 {
			cmds = append(cmds, args)
		}
	}
	return cmds
}

// FuzzReplicate runs arbitrary commands (fuzzCommands) on a master engine
// over a dataset of every type, applies every unit the master logs to a
// replica engine as a replica does, and requires after each command that
// the replica took every unit and holds the master's digest. Whatever the
// arguments, a write's effect must be deterministic and mean on the
// replica what it meant on the master. The clock moves a second per
// command, so that keys with a time expire on the way.
func FuzzReplicate(f *testing.F) {
	for _, seed := range []string{
		"SET a 1 EX 3\nINCRBYFLOAT n 1e3\nLMOVE l l2 LEFT RIGHT",
		"ZADD z GT CH 3 a\nZRANGESTORE d z (1 +inf BYSCORE LIMIT 0 1\nZREMRANGEBYLEX z [a +",
		"SPOP set 2\nHINCRBYFLOAT h f 1.5\nHRANDFIELD h -3 WITHVALUES",
		"XADD st MAXLEN ~ 1 * a b\nXREADGROUP GROUP g c COUNT 2 STREAMS st >\nXAUTOCLAIM st g c2 0 0\nXTRIM st MINID 0",
		"GETEX s PX 1500\nCOPY h h2 DB 1\nSORT l ALPHA STORE sorted",
		"BITFIELD b OVERFLOW SAT INCRBY u4 3 9\nSETBIT b 77 1\nBITOP NOT b2 b",
		"GEOADD g 1 2 m\nGEOSEARCHSTORE gd g FROMLONLAT 1 2 BYRADIUS 100 km STOREDIST",
		"PFADD hll2 x\nPFMERGE hll2 hll\nSWAPDB 0 1\nRENAME s s9",
		"MULTI\nSET k v\nSETRANGE k 10 x\nEXPIRE l 2 NX\nEXEC",
		"SELECT 1\nMOVE s 0\nFLUSHDB\nRANDOMKEY\nSELECT 0\nDEL l",
		"LPOS l a RANK -1\nLINSERT l BEFORE b q\nLTRIM l 1 -1\nRPOPLPUSH l l",
		"SINTERSTORE d set set\nSMOVE set s2 x\nZINCRBY z 1 c\nZPOPMIN z 2\nZMPOP 1 z MAX",
		"PEXPIREAT s 1700000002000\nGET s\nPERSIST n\nEXPIRETIME n",
	} {
		f.Add([]byte(seed))
	}
	base := fuzzEntry(fuzzBase...)
	f.Fuzz(func(t *testing.T, input []byte) {
		cmds := fuzzCommands(input)
		clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
		rp := newReplication(clock, 1)
		cl := rp.clients[0]
		exec(rp.master, cl, "CONFIG", "SET", "proto-max-bulk-len", "65536")
		// apply's appliers would keep every engine the fuzzer makes.
		ma, ra := rp.master.NewApplier(), rp.replica.NewApplier()
		if err := ma.Apply(base); err != nil { // the Applier's writes are not logged
			t.Fatalf("base dataset on the master: %v", err)
		}
		if err := ra.Apply(base); err != nil {
			t.Fatalf("base dataset on the replica: %v", err)
		}
		applied := 0
		for i, args := range cmds {
			if !fuzzRunnable(rp.master.Table(), args) {
				continue
			}
			rp.master.Lock()
			cl.W.Reset()
			rp.master.Exec(cl, args)
			rp.master.Unlock()
			for ; applied < len(rp.log.units); applied++ {
				if err := ra.Apply(rp.log.units[applied]); err != nil {
					t.Fatalf("command %d %q: the replica refused unit %q: %v", i, args, rp.log.units[applied], err)
				}
			}
			rp.master.Lock()
			md := rp.master.Keyspace().Digest()
			rp.master.Unlock()
			rp.replica.Lock()
			rd := rp.replica.Keyspace().Digest()
			rp.replica.Unlock()
			if md != rd {
				t.Fatalf("command %d %q: digests differ: master %s, replica %s\nunits: %q", i, args, md.Hex(), rd.Hex(), lastUnits(rp.log.units, 4))
			}
			clock.Add(time.Second)
		}
	})
}
