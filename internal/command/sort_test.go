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
	"github.com/ferrydb/ferry/internal/redistest"
)

// sortGen produces random commands for SORT: lists, sets (intset and
// hashtable) and sorted sets of a small pool of elements, weights as
// strings and hash fields, and SORT / SORT_RO with random options.
type sortGen struct {
	r *rand.Rand
	// expire adds expiring weights and keys (not for the differential
	// test: the servers' clocks differ).
	expire bool
}

// sortElems are the elements: numbers in the forms strtod takes, words,
// and values that are no numbers.
var sortElems = []string{"1", "2", "10", "-3", "1.5", "0x10", " 4", "", "inf", "-inf", "abc", "b", "Z", "1e3", "01", "1.0", "7", "100", "x y"}

var sortWeights = []string{"1", "2", "3", "-1", "0", "1.5", "a", "b", "c", "", "10", "nan", "1e400", "1e-310", "abc", "inf"}

func (g *sortGen) elem() string   { return sortElems[g.r.IntN(len(sortElems))] }
func (g *sortGen) weight() string { return sortWeights[g.r.IntN(len(sortWeights))] }

// src returns a key to sort: lists l0-l1, sets s0-s2 (s0 stays an
// intset), a sorted set z0, a string or a missing key.
func (g *sortGen) src() string {
	return []string{"l0", "l1", "s0", "s1", "s2", "z0", "str", "none"}[g.r.IntN(8)]
}

func (g *sortGen) elems(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = g.elem()
	}
	return out
}

func (g *sortGen) ints(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(g.r.IntN(40) - 10)
	}
	return out
}

// sortCmd is one random SORT or SORT_RO; dst is the STORE destination
// ("" without STORE).
func (g *sortGen) sortCmd(dsts []string) (args []string, dst string) {
	name := "SORT"
	ro := g.r.IntN(5) == 0
	if ro {
		name = "SORT_RO"
	}
	args = []string{name, g.src()}
	var opts [][]string
	switch g.r.IntN(8) {
	case 0, 1:
		opts = append(opts, []string{"BY", "w_*"})
	case 2:
		opts = append(opts, []string{"BY", "h_*->f"})
	case 3, 4:
		opts = append(opts, []string{"BY", "nosort"})
	case 5:
		opts = append(opts, []string{"BY", "nosuch_*"})
	}
	if g.r.IntN(3) == 0 {
		opts = append(opts, []string{"LIMIT", strconv.Itoa(g.r.IntN(12) - 2), strconv.Itoa(g.r.IntN(12) - 2)})
	}
	for i := g.r.IntN(4); i > 0; i-- {
		opts = append(opts, []string{"GET", []string{"#", "w_*", "h_*->f", "nosuch_*", "h_*->g"}[g.r.IntN(5)]})
	}
	switch g.r.IntN(3) {
	case 0:
		opts = append(opts, []string{"DESC"})
	case 1:
		opts = append(opts, []string{"ASC"})
	}
	if g.r.IntN(2) == 0 {
		opts = append(opts, []string{"ALPHA"})
	}
	if !ro && g.r.IntN(3) != 0 {
		dst = dsts[g.r.IntN(len(dsts))]
		opts = append(opts, []string{"STORE", dst})
	}
	g.r.Shuffle(len(opts), func(i, j int) { opts[i], opts[j] = opts[j], opts[i] })
	for _, o := range opts {
		args = append(args, o...)
	}
	return args, dst
}

// command returns a random command; dsts are the STORE destinations.
func (g *sortGen) command(dsts []string) []string {
	e := g.elem()
	switch n := g.r.IntN(100); {
	case n < 6:
		return append([]string{"RPUSH", "l" + strconv.Itoa(g.r.IntN(2))}, g.elems(1+g.r.IntN(5))...)
	case n < 8:
		return []string{"LPOP", "l" + strconv.Itoa(g.r.IntN(2)), strconv.Itoa(1 + g.r.IntN(3))}
	case n < 11:
		return append([]string{"SADD", "s0"}, g.ints(1+g.r.IntN(4))...)
	case n < 17:
		return append([]string{"SADD", "s" + strconv.Itoa(1+g.r.IntN(2))}, g.elems(1+g.r.IntN(5))...)
	case n < 19:
		return []string{"SREM", "s" + strconv.Itoa(g.r.IntN(3)), e, strconv.Itoa(g.r.IntN(40) - 10)}
	case n < 23:
		return []string{"ZADD", "z0", strconv.Itoa(g.r.IntN(5)), e}
	case n < 32:
		return []string{"SET", "w_" + e, g.weight()}
	case n < 36:
		return []string{"HSET", "h_" + e, "f", g.weight(), "g", g.elem()}
	case n < 38:
		return []string{"DEL", "w_" + e, "h_" + e}
	case n < 39:
		return []string{"DEL", g.src()}
	case n < 40:
		return []string{"SET", "str", e}
	case n < 42 && g.expire:
		return []string{"PEXPIRE", []string{"w_" + e, "h_" + e, g.src()}[g.r.IntN(3)], strconv.Itoa(1 + g.r.IntN(1500))}
	case n < 44:
		return []string{"LRANGE", dsts[g.r.IntN(len(dsts))], "0", "-1"}
	default:
		args, _ := g.sortCmd(dsts)
		return args
	}
}

// TestSortEffectsReplicate runs random SORTs with STORE on a master, among
// changes to what they read, and applies the master's effects to a
// replica: both must end every step with the same digest. The replica's
// sets have their own hash table order (each table has its own seed), so
// a SORT ... STORE whose result followed it (BY nosort over a set) would
// show.
func TestSortEffectsReplicate(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			rp := newReplication(clock, 2)
			master, log := rp.master, rp.log
			g := &sortGen{r: rand.New(rand.NewPCG(seed, seed*29)), expire: true}
			dsts := []string{"d0", "d1", "l1", "s1"}
			gen := func() []string {
				if g.r.IntN(4) == 0 {
					// A set with BY nosort into a list: Redis sorts it.
					args := []string{"SORT", []string{"s1", "s2", "s0"}[g.r.IntN(3)], "BY", "nosort", "STORE", dsts[g.r.IntN(len(dsts))]}
					if g.r.IntN(2) == 0 {
						args = append(args, "GET", "#", "GET", "w_*")
					}
					if g.r.IntN(3) == 0 {
						args = append(args, "LIMIT", strconv.Itoa(g.r.IntN(5)), strconv.Itoa(g.r.IntN(5)))
					}
					return args
				}
				if g.r.IntN(20) == 0 {
					return []string{"BLPOP", dsts[g.r.IntN(2)], "0.5"}
				}
				return g.command(dsts)
			}
			replicate(t, g.r, rp, gen, 2500, 4, 10, func() {
				switch g.r.IntN(15) {
				case 0:
					clock.Add(time.Duration(g.r.IntN(1000)) * time.Millisecond)
				case 1:
					master.ActiveExpire()
				}
			})
			var sorts, dels int
			for _, u := range log.units {
				if bytes.Contains(u, []byte("SORT")) {
					sorts++
				}
				if bytes.Contains(u, []byte("$3\r\nDEL\r\n$2\r\nd")) {
					dels++
				}
			}
			if sorts < 200 || dels < 10 {
				t.Fatalf("%d units hold a SORT, %d a DEL of a destination: STORE is not exercised", sorts, dels)
			}
		})
	}
}

// A set sorted ALPHA BY a pattern whose weights tie, or with BY nosort,
// stores the same list whatever order its hash table holds the members
// in.
func TestSortStoreIgnoresSetLayout(t *testing.T) {
	members := make([]string, 200)
	for i := range members {
		members[i] = "m" + strconv.Itoa(i)
	}
	engines := make([]*command.Engine, 2)
	clients := make([]*command.Client, 2)
	for i := range engines {
		engines[i] = command.New(command.Config{})
		engines[i].Lock()
		clients[i] = engines[i].NewClient("c", "")
		engines[i].Unlock()
		order := append([]string(nil), members...)
		if i == 1 {
			for l, r := 0, len(order)-1; l < r; l, r = l+1, r-1 {
				order[l], order[r] = order[r], order[l]
			}
		}
		exec(engines[i], clients[i], append([]string{"SADD", "s"}, order...)...)
		for j, m := range members {
			exec(engines[i], clients[i], "SET", "w_"+m, strconv.Itoa(j%3))
		}
	}
	if a, b := exec(engines[0], clients[0], "SMEMBERS", "s"), exec(engines[1], clients[1], "SMEMBERS", "s"); a == b {
		t.Fatal("the two sets iterate in the same order: the test shows nothing")
	}
	for _, args := range [][]string{
		{"SORT", "s", "BY", "nosort", "STORE", "d"},
		{"SORT", "s", "BY", "nosort", "DESC", "LIMIT", "10", "50", "STORE", "d"},
		{"SORT", "s", "BY", "w_*", "ALPHA", "STORE", "d"},
		{"SORT", "s", "BY", "w_*", "ALPHA", "DESC", "STORE", "d"},
		{"SORT", "s", "BY", "w_*", "ALPHA", "LIMIT", "30", "40", "STORE", "d"},
		{"SORT", "s", "BY", "nosuch_*", "ALPHA", "LIMIT", "5", "100", "GET", "#", "GET", "w_*", "STORE", "d"},
		{"SORT", "s", "BY", "w_*", "STORE", "d"},
		{"SORT_RO", "s", "BY", "w_*", "ALPHA"},
		{"SORT_RO", "s", "BY", "w_*", "ALPHA", "LIMIT", "30", "40"},
	} {
		var got [2]string
		for i := range engines {
			if r := exec(engines[i], clients[i], args...); strings.HasPrefix(r, "-") {
				t.Fatalf("%q: %s", args, r)
			} else if args[0] == "SORT_RO" {
				got[i] = r
			} else {
				got[i] = exec(engines[i], clients[i], "LRANGE", "d", "0", "-1")
			}
		}
		if got[0] != got[1] {
			t.Errorf("%q depends on the hash table's order:\n %.300q\n %.300q", args, got[0], got[1])
		}
	}
}

// TestSortMatchesRedis sends the same random commands to ferry and to
// redis-server and compares every reply byte for byte. Where Redis's
// order comes from a hash table (a hashtable set with BY nosort and no
// STORE, or an ALPHA sort BY a pattern of a hashtable set or a sorted
// set, whose ties stay in hash table order) the elements are compared
// sorted, and not at all with a LIMIT, which picks from that order.
func TestSortMatchesRedis(t *testing.T) {
	rc := redistest.Dial(t, redistest.Redis(t))
	_, addr := redistest.Ferry(t, command.Config{})
	fc := redistest.Dial(t, addr)
	g := &sortGen{r: rand.New(rand.NewPCG(3, 17))}
	dsts := []string{"d0", "d1"}
	var last [][]string
	compare := func(args []string, unordered, skip bool) string {
		t.Helper()
		got, want := fc.Do(args...), rc.Do(args...)
		reply := got
		switch {
		case skip:
			if got[0] != want[0] {
				t.Fatalf("after %q\n%q:\n ferry %.300q\n redis %.300q", last, args, got, want)
			}
			return reply
		case unordered:
			got, want = redistest.SortReply(got, false), redistest.SortReply(want, false)
		}
		if got != want {
			t.Fatalf("after %q\n%q:\n ferry %.300q\n redis %.300q", last, args, got, want)
		}
		return reply
	}
	sorts, stores, errs, lists, skipped := 0, 0, 0, 0, 0
	for step := 0; step < 4000; step++ {
		var args []string
		if g.r.IntN(2) == 0 {
			args, _ = g.sortCmd(dsts)
		} else {
			args = g.command(dsts)
		}
		dst := ""
		for i := 2; args[0] == "SORT" && i < len(args)-1; i++ {
			if args[i] == "STORE" {
				dst = args[i+1]
			}
		}
		unordered, skip := false, false
		if args[0] == "SORT" || args[0] == "SORT_RO" {
			sorts++
			enc := rc.Do("OBJECT", "ENCODING", args[1])
			hashSet := strings.HasSuffix(enc, "\r\nhashtable\r\n")
			zset := strings.HasSuffix(enc, "\r\nlistpack\r\n") || strings.HasSuffix(enc, "\r\nskiplist\r\n")
			var alpha, dontsort, byPattern, limit bool
			for i := 2; i < len(args); i++ {
				switch args[i] {
				case "ALPHA":
					alpha = true
				case "LIMIT":
					limit = true
				case "BY":
					if strings.Contains(args[i+1], "*") {
						byPattern = true
					} else {
						dontsort = true
					}
				}
			}
			unordered = hashSet && dontsort && dst == "" ||
				(hashSet || zset) && alpha && byPattern && !dontsort
			skip = unordered && limit
			if skip {
				skipped++
			}
		}
		reply := compare(args, unordered, skip)
		if strings.HasPrefix(args[0], "SORT") {
			switch {
			case strings.HasPrefix(reply, "-"):
				errs++
			case strings.HasPrefix(reply, "*") && len(reply) > 4:
				lists++
			}
			if dst != "" {
				stores++
				compare([]string{"LRANGE", dst, "0", "-1"}, unordered, skip)
				compare([]string{"EXISTS", dst}, false, false)
				if skip || unordered {
					// Start the destination over on both servers.
					compare([]string{"DEL", dst}, false, false)
				}
			}
			// A weight out of range leaves errno set in Redis, failing the
			// SORTs after it: clear it.
			compare([]string{"ZADD", "errno", "0", "reset"}, false, false)
		}
		last = append(last[max(0, len(last)-4):], args)
	}
	for _, k := range []string{"l0", "l1", "s0", "s1", "s2", "z0", "d0", "d1"} {
		compare([]string{"DEBUG", "DIGEST-VALUE", k}, false, false)
	}
	if sorts < 1500 || stores < 500 || errs < 100 || lists < 300 || skipped > sorts/10 {
		t.Fatalf("%d SORTs, %d with STORE, %d errors, %d non-empty replies, %d not compared",
			sorts, stores, errs, lists, skipped)
	}
}
