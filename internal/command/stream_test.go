package command_test

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
)

// streamGen produces random stream commands over a few keys, with IDs
// taken from what the master holds, so that deletions, claims and acks
// hit pending and live entries.
type streamGen struct {
	r      *rand.Rand
	master *command.Engine
	probe  *command.Client
}

var streamIDRe = regexp.MustCompile(`\$\d+\r\n(\d+-\d+)\r\n`)

func (g *streamGen) key() string { return "x" + strconv.Itoa(g.r.IntN(3)) }

// id returns an ID of key's entries or pending entries (or a made-up one).
func (g *streamGen) id(key string) string {
	var ids []string
	for _, cmd := range [][]string{{"XRANGE", key, "-", "+", "COUNT", "300"}, {"XPENDING", key, "g1", "-", "+", "50"}} {
		for _, m := range streamIDRe.FindAllStringSubmatch(exec(g.master, g.probe, cmd...), -1) {
			ids = append(ids, m[1])
		}
	}
	if len(ids) == 0 || g.r.IntN(10) == 0 {
		return strconv.Itoa(1_700_000_000_000+g.r.IntN(100000)) + "-" + strconv.Itoa(g.r.IntN(3))
	}
	return ids[g.r.IntN(len(ids))]
}

func (g *streamGen) group() string    { return "g" + strconv.Itoa(1+g.r.IntN(2)) }
func (g *streamGen) consumer() string { return "c" + strconv.Itoa(g.r.IntN(3)) }
func (g *streamGen) n(k int) string   { return strconv.Itoa(g.r.IntN(k)) }

func (g *streamGen) command() []string {
	k := g.key()
	grp, cons := g.group(), g.consumer()
	approx := []string{"=", "~"}[g.r.IntN(2)]
	cmds := [][]string{
		{"XADD", k, "*", "f", g.n(100)},
		{"XADD", k, "*", "f", g.n(100)},
		{"XADD", k, "*", "f", g.n(100), "g", strings.Repeat("v", g.r.IntN(200))},
		{"XADD", k, "MAXLEN", approx, g.n(150), "*", "f", "v"},
		{"XADD", k, "MAXLEN", "~", g.n(150), "LIMIT", g.n(200), "*", "f", "v"},
		{"XADD", k, "MINID", approx, g.id(k), "*", "f", "v"},
		{"XADD", k, "NOMKSTREAM", "*", "f", "v"},
		{"XADD", k, strconv.Itoa(1_700_000_000_000+g.r.IntN(3_000_000)) + "-*", "f", "v"},
		{"XDEL", k, g.id(k), g.id(k)},
		{"XTRIM", k, "MAXLEN", approx, g.n(150)},
		{"XTRIM", k, "MINID", approx, g.id(k)},
		{"XTRIM", k, "MAXLEN", "~", g.n(150), "LIMIT", g.n(150)},
		{"XSETID", k, g.id(k)},
		{"XGROUP", "CREATE", k, grp, []string{"$", "0", "-"}[g.r.IntN(2)], "MKSTREAM"},
		{"XGROUP", "CREATE", k, grp, "0", "ENTRIESREAD", g.n(10)},
		{"XGROUP", "SETID", k, grp, g.id(k)},
		{"XGROUP", "DESTROY", k, grp},
		{"XGROUP", "CREATECONSUMER", k, grp, cons},
		{"XGROUP", "DELCONSUMER", k, grp, cons},
		{"XREADGROUP", "GROUP", grp, cons, "COUNT", g.n(5), "STREAMS", k, ">"},
		{"XREADGROUP", "GROUP", grp, cons, "COUNT", g.n(5), "STREAMS", k, ">"},
		{"XREADGROUP", "GROUP", grp, cons, "NOACK", "STREAMS", k, ">"},
		{"XREADGROUP", "GROUP", grp, cons, "STREAMS", k, "0"},
		{"XREADGROUP", "GROUP", grp, cons, "BLOCK", "100", "COUNT", "3", "STREAMS", k, ">"},
		{"XREADGROUP", "GROUP", grp, cons, "NOACK", "BLOCK", "0", "STREAMS", k, g.key(), ">", ">"},
		{"XREADGROUP", "GROUP", grp, cons, "BLOCK", "0", "STREAMS", k, ">"},
		{"XREADGROUP", "GROUP", grp, cons, "BLOCK", "0", "STREAMS", k, ">"},
		{"XREAD", "BLOCK", "100", "STREAMS", k, "$"},
		{"XACK", k, grp, g.id(k), g.id(k)},
		{"XCLAIM", k, grp, cons, g.n(3000), g.id(k), g.id(k)},
		{"XCLAIM", k, grp, cons, "0", g.id(k), "JUSTID", "FORCE", "RETRYCOUNT", g.n(5)},
		{"XCLAIM", k, grp, cons, "0", g.id(k), "IDLE", g.n(5000), "LASTID", g.id(k)},
		{"XCLAIM", k, grp, cons, "0", g.id(k), "TIME", strconv.Itoa(1_700_000_000_000 + g.r.IntN(10_000_000))},
		{"XAUTOCLAIM", k, grp, cons, g.n(3000), "0", "COUNT", strconv.Itoa(1 + g.r.IntN(5))},
		{"XAUTOCLAIM", k, grp, cons, "0", g.id(k), "JUSTID"},
		{"DEL", k},
		{"SET", k, "string"},
		{"PEXPIRE", k, strconv.Itoa(1 + g.r.IntN(3000))},
		{"COPY", k, g.key(), "REPLACE"},
		{"RENAME", k, g.key()},
	}
	c := cmds[g.r.IntN(len(cmds))]
	if (c[0] == "DEL" || c[0] == "SET" || c[0] == "RENAME") && g.r.IntN(6) != 0 {
		return []string{"XADD", k, "*", "f", "v"}
	}
	return c
}

// seenTime matches a consumer's seen-time in XINFO STREAM FULL.
var seenTime = regexp.MustCompile(`seen-time\r\n:\d+`)

// TestStreamReplicate: random stream commands on a master, their effects
// applied to a replica whose clock is five seconds behind: the digests
// agree after every step, and so does everything XINFO STREAM FULL shows
// of every stream (groups, PELs with delivery times and counts, consumers)
// but the consumers' seen times, which a replica sets from its own clock
// when no delivery carries the master's.
func TestStreamReplicate(t *testing.T) {
	totalServed := 0
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			behind := func() time.Time { return clock.Now().Add(-5 * time.Second) }
			rp := newReplication(clock, 3)
			rp.replica, rp.rc = replicaOf(behind)
			rp.master.Lock()
			probe := rp.master.NewClient("probe", "")
			rp.master.Unlock()
			rp.replica.Lock()
			rprobe := rp.replica.NewClient("probe", "")
			rp.replica.Unlock()
			g := &streamGen{r: rand.New(rand.NewPCG(seed, seed*31)), master: rp.master, probe: probe}
			compare := func() {
				for i := 0; i < 3; i++ {
					k := "x" + strconv.Itoa(i)
					rp.master.Lock()
					expired := rp.master.Keyspace().DB(0).IsExpiredKey(k)
					rp.master.Unlock()
					if expired {
						continue // reading it would delete it on the master only
					}
					m := exec(rp.master, probe, "XINFO", "STREAM", k, "FULL", "COUNT", "0")
					r := exec(rp.replica, rprobe, "XINFO", "STREAM", k, "FULL", "COUNT", "0")
					if seenTime.ReplaceAllString(m, "") != seenTime.ReplaceAllString(r, "") {
						t.Fatalf("%s differs:\nmaster  %q\nreplica %q\nlast units: %q", k, m, r, lastUnits(rp.log.units, 4))
					}
				}
			}
			served := replicate(t, g.r, rp, g.command, 2500, 12, 15, func() {
				compare()
				if g.r.IntN(8) == 0 {
					clock.Add(time.Duration(g.r.IntN(1500)) * time.Millisecond)
				}
				if g.r.IntN(20) == 0 {
					rp.master.ActiveExpire()
				}
			})
			compare()
			claims := 0
			for _, u := range rp.log.units {
				claims += strings.Count(string(u), "XCLAIM")
			}
			if claims < 50 {
				t.Fatalf("%d XCLAIMs: the generator does not exercise groups", claims)
			}
			totalServed += served
		})
	}
	if totalServed < 12 {
		t.Fatalf("%d blocked clients served by writes: blocking is not exercised", totalServed)
	}
}

// TestStreamEffects: the effects of stream commands, as Redis 7.0 rewrites
// them.
func TestStreamEffects(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	rp := newReplication(clock, 1)
	cl := rp.clients[0]
	last := func() string {
		if len(rp.log.units) == 0 {
			return ""
		}
		return strings.ReplaceAll(string(rp.log.units[len(rp.log.units)-1]), "\r\n", " ")
	}
	for i := 1; i <= 250; i++ {
		exec(rp.master, cl, "XADD", "s", strconv.Itoa(i)+"-1", "f", "v")
	}
	for _, tc := range []struct {
		cmd  []string
		want string
	}{
		// The resolved ID.
		{[]string{"XADD", "s", "*", "a", "1"}, "*5 $4 XADD $1 s $15 1700000000000-0 $1 a $1 1 "},
		{[]string{"XADD", "s", "1700000000000-*", "a", "1"}, "*5 $4 XADD $1 s $15 1700000000000-1 $1 a $1 1 "},
		// An approximate trim becomes the exact one that did the same.
		{[]string{"XADD", "s", "MAXLEN", "~", "120", "*", "a", "1"}, "*8 $4 XADD $1 s $6 MAXLEN $1 = $3 153 $15 1700000000000-2 $1 a $1 1 "},
		{[]string{"XTRIM", "s", "MINID", "~", "201-0"}, "*5 $5 XTRIM $1 s $5 MINID $1 = $5 201-1 "},
		// Nothing removed: nothing propagated.
		{[]string{"XTRIM", "s", "MAXLEN", "~", "1", "LIMIT", "100"}, "none"},
		// Exact trims as received.
		{[]string{"XTRIM", "s", "MAXLEN", "50"}, "*4 $5 XTRIM $1 s $6 MAXLEN $2 50 "},
		{[]string{"XGROUP", "CREATE", "s", "g", "$"}, "*5 $6 XGROUP $6 CREATE $1 s $1 g $1 $ "},
		{[]string{"XADD", "s", "1700000000001-0", "a", "1"}, "*5 $4 XADD $1 s $15 1700000000001-0 $1 a $1 1 "},
		// A delivery: the consumer, an XCLAIM per entry, the group's
		// position and entries-read.
		{[]string{"XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"}, "*1 $5 MULTI *5 $6 XGROUP $14 CREATECONSUMER $1 s $1 g $1 c *14 $6 XCLAIM $1 s $1 g $1 c $1 0 $15 1700000000001-0 $4 TIME $13 1700000000000 $10 RETRYCOUNT $1 1 $5 FORCE $6 JUSTID $6 LASTID $15 1700000000001-0 *7 $6 XGROUP $5 SETID $1 s $1 g $15 1700000000001-0 $11 ENTRIESREAD $3 254 *1 $4 EXEC "},
		{[]string{"XADD", "s", "1700000000002-0", "a", "1"}, ""},
		{[]string{"XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "s", ">"}, "*7 $6 XGROUP $5 SETID $1 s $1 g $15 1700000000002-0 $11 ENTRIESREAD $3 255 "},
		{[]string{"XCLAIM", "s", "g", "d", "0", "1700000000001-0", "IDLE", "500"}, "*14 $6 XCLAIM $1 s $1 g $1 d $1 0 $15 1700000000001-0 $4 TIME $13 1699999999500 $10 RETRYCOUNT $1 2 $5 FORCE $6 JUSTID $6 LASTID $15 1700000000002-0 "},
	} {
		before := len(rp.log.units)
		exec(rp.master, cl, tc.cmd...)
		got := ""
		if len(rp.log.units) > before {
			got = last()
		}
		if tc.want == "none" {
			tc.want = ""
		} else if tc.want == "" {
			got = ""
		}
		if got != tc.want {
			t.Errorf("%q:\n got  %q\n want %q", tc.cmd, got, tc.want)
		}
		for ; before < len(rp.log.units); before++ {
			apply(t, rp.replica, rp.rc, rp.log.units[before])
		}
	}
}
