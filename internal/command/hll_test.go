package command_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/hll"
	"github.com/ferrydb/ferry/internal/redistest"
)

// hllGen produces random HyperLogLog commands over a few keys, with
// strings that are corrupt HyperLogLogs, other types and expiring keys
// mixed in.
type hllGen struct {
	r *rand.Rand
}

func (g *hllGen) key() string { return "h" + strconv.Itoa(g.r.IntN(4)) }

func (g *hllGen) elements(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "e" + strconv.Itoa(g.r.IntN(20000))
	}
	return out
}

// value returns a HyperLogLog string, often damaged.
func (g *hllGen) value() string {
	h := hll.New()
	for _, e := range g.elements(g.r.IntN(40)) {
		h.Add([]byte(e), hll.DefaultSparseMaxBytes)
	}
	return string(mutate(g.r, h.Bytes()))
}

// mutate damages a HyperLogLog string in one of the ways a client's SET or
// a bad file could, or leaves it alone.
func mutate(r *rand.Rand, s []byte) []byte {
	s = bytes.Clone(s)
	switch r.IntN(8) {
	case 0: // a register opcode changed
		if len(s) > hll.HeaderSize {
			s[hll.HeaderSize+r.IntN(len(s)-hll.HeaderSize)] = byte(r.IntN(256))
		}
	case 1: // cut short
		s = s[:hll.HeaderSize+r.IntN(len(s)-hll.HeaderSize+1)]
	case 2: // a byte more
		s = append(s, byte(r.IntN(256)))
	case 3: // the cached cardinality, current or not
		s[8+r.IntN(8)] = byte(r.IntN(256))
	case 4: // 16383 zero registers, then half an XZERO opcode (a longer
		// one, split by PFADD, would leave Redis a byte past the string
		// that later commands read and ferry does not keep: see package hll)
		s = append(s[:hll.HeaderSize:hll.HeaderSize], 0x7f, 0xfe, 0x40)
	case 5: // the unused header bytes
		s[5+r.IntN(3)] = byte(r.IntN(256))
	}
	return s
}

func (g *hllGen) command() []string {
	k, k2, k3 := g.key(), g.key(), g.key()
	switch n := g.r.IntN(100); {
	case n < 25:
		return append([]string{"PFADD", k}, g.elements(g.r.IntN(6))...)
	case n < 28:
		// Enough elements to turn a sparse HyperLogLog dense, over a few
		// commands (a replica applies effects of at most 16 KiB here).
		return append([]string{"PFADD", k}, g.elements(200+g.r.IntN(600))...)
	case n < 48:
		return []string{"PFCOUNT", k}
	case n < 53:
		return []string{"PFCOUNT", k, k2, k3}
	case n < 62:
		return []string{"PFMERGE", k, k2, k3}
	case n < 64:
		return []string{"PFMERGE", k}
	case n < 67:
		return []string{"PFDEBUG", "TODENSE", k}
	case n < 69:
		return []string{"PFDEBUG", "GETREG", k}
	case n < 71:
		return []string{"PFDEBUG", "DECODE", k}
	case n < 80:
		return []string{"SET", k, g.value()}
	case n < 82:
		return []string{"SET", k, "not a HyperLogLog"}
	case n < 84:
		return []string{"LPUSH", k, "x"}
	case n < 88:
		return []string{"DEL", k}
	case n < 92:
		return []string{"PEXPIRE", k, strconv.Itoa(1 + g.r.IntN(2000))}
	case n < 94:
		return []string{"RENAME", k, k2}
	case n < 96:
		return []string{"COPY", k, k2, "REPLACE"}
	default:
		return []string{"GET", k}
	}
}

// TestHLLEffectsReplicate runs random HyperLogLog commands on a master and
// applies its effects to a replica, whose digest must stay the master's:
// PFCOUNT's cached cardinalities, partial PFADDs into corrupt strings and
// promotions to dense included.
func TestHLLEffectsReplicate(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			rp := newReplication(clock, 2)
			master, log := rp.master, rp.log
			g := &hllGen{r: rand.New(rand.NewPCG(seed, seed*13))}
			replicate(t, g.r, rp, g.command, 1500, 5, 12, func() {
				switch g.r.IntN(12) {
				case 0:
					clock.Add(time.Duration(g.r.IntN(1500)) * time.Millisecond)
				case 1:
					master.ActiveExpire()
				}
			})
			counts := 0
			for _, u := range log.units {
				if bytes.Contains(u, []byte("PFCOUNT")) {
					counts++
				}
			}
			if counts < 20 {
				t.Fatalf("only %d units hold a PFCOUNT: the cache updates are not exercised", counts)
			}
		})
	}
}

// On a replica, PFCOUNT answers from the registers but leaves the stale
// cached cardinality alone; the master's effects still change it.
func TestHLLCountOnReplica(t *testing.T) {
	e := command.New(command.Config{Role: "slave"})
	e.Lock()
	master := e.NewClient("master", "")
	master.Master = true
	cl := e.NewClient("c", "")
	e.Unlock()
	exec(e, master, "PFADD", "h", "a", "b", "c")
	before := exec(e, cl, "GET", "h")
	if got := exec(e, cl, "PFCOUNT", "h"); got != ":3\r\n" {
		t.Fatalf("PFCOUNT on a replica: %q", got)
	}
	if after := exec(e, cl, "GET", "h"); after != before {
		t.Fatalf("PFCOUNT on a replica changed the string:\n before %q\n after  %q", before, after)
	}
	exec(e, master, "PFCOUNT", "h")
	if after := exec(e, cl, "GET", "h"); after == before {
		t.Fatal("the master's PFCOUNT did not cache the cardinality")
	}
}

// TestHLLMatchesRedis sends the same random HyperLogLog commands to ferry
// and to redis-server, corrupt strings included, and compares every reply
// byte for byte, and the values left behind.
func TestHLLMatchesRedis(t *testing.T) {
	rc := redistest.Dial(t, redistest.Redis(t))
	_, addr := redistest.Ferry(t, command.Config{})
	fc := redistest.Dial(t, addr)
	r := rand.New(rand.NewPCG(7, 11))
	g := &hllGen{r: r}
	var last [][]string // the commands before a difference
	do := func(args ...string) {
		t.Helper()
		if got, want := fc.Do(args...), rc.Do(args...); got != want {
			for _, k := range []string{"h0", "h1", "h2", "h3"} {
				t.Logf("%s: redis %q\n    ferry %q", k, rc.Do("GET", k), fc.Do("GET", k))
			}
			t.Fatalf("after %.300q\n%.200q:\n ferry %.300q\n redis %.300q", last, args, got, want)
		}
	}
	for step := 0; step < 3000; step++ {
		args := g.command()
		if args[0] == "PEXPIRE" {
			continue // the servers' clocks differ
		}
		if args[0] == "SET" && r.IntN(2) == 0 {
			// Damage what the commands left.
			if v := rc.Do("GET", args[1]); strings.HasPrefix(v, "$") {
				_, body, _ := strings.Cut(v, "\r\n")
				body = strings.TrimSuffix(body, "\r\n")
				if len(body) >= hll.HeaderSize {
					args[2] = string(mutate(r, []byte(body)))
				}
			}
		}
		do(args...)
		last = append(last[max(0, len(last)-4):], args)
		if step%10 == 0 {
			do("DEBUG", "DIGEST-VALUE", "h0", "h1", "h2", "h3")
		}
	}
	for _, k := range []string{"h0", "h1", "h2", "h3"} {
		do("GET", k)
	}
}
