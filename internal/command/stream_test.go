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
		// Entries delivered alike go out as one XCLAIM with all their IDs.
		{[]string{"XGROUP", "CREATE", "s", "h", "0"}, ""},
		{[]string{"XREADGROUP", "GROUP", "h", "c", "COUNT", "3", "STREAMS", "s", ">"}, "*1 $5 MULTI *5 $6 XGROUP $14 CREATECONSUMER $1 s $1 h $1 c *16 $6 XCLAIM $1 s $1 h $1 c $1 0 $5 204-1 $5 205-1 $5 206-1 $4 TIME $13 1700000000000 $10 RETRYCOUNT $1 1 $5 FORCE $6 JUSTID $6 LASTID $5 206-1 *7 $6 XGROUP $5 SETID $1 s $1 h $5 206-1 $11 ENTRIESREAD $3 206 *1 $4 EXEC "},
		{[]string{"XCLAIM", "s", "h", "d", "0", "204-1", "205-1", "RETRYCOUNT", "7"}, "*15 $6 XCLAIM $1 s $1 h $1 d $1 0 $5 204-1 $5 205-1 $4 TIME $13 1700000000000 $10 RETRYCOUNT $1 7 $5 FORCE $6 JUSTID $6 LASTID $5 206-1 "},
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

// TestStreamGroupReadFitsAnEntry: a group read (or XAUTOCLAIM) whose
// deliveries would outgrow one log entry delivers fewer entries, and its
// effect fits; the rest comes with the next read, as with COUNT.
func TestStreamGroupReadFitsAnEntry(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	rp := newReplication(clock, 1)
	cl := rp.clients[0]
	const total, limit = 20000, 64 << 10
	rp.master.Lock()
	rp.master.SetMaxWriteBytes(limit)
	rp.master.Unlock()
	for i := 1; i <= total; i++ {
		exec(rp.master, cl, "XADD", "s", strconv.Itoa(i)+"-1", "f", "v")
	}
	exec(rp.master, cl, "XGROUP", "CREATE", "s", "g", "0")
	// The units are larger than apply's reader takes at once.
	applier := rp.replica.NewApplier()
	for _, u := range rp.log.units {
		if err := applier.Apply(u); err != nil {
			t.Fatal(err)
		}
	}
	rp.log.units = nil
	delivered := 0
	for reads := 0; delivered < total; reads++ {
		if reads > 100 {
			t.Fatalf("%d of %d entries delivered after 100 reads", delivered, total)
		}
		before := len(rp.log.units)
		r := exec(rp.master, cl, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
		n := strings.Count(r, "$1\r\nf\r\n")
		if n == 0 || n == total {
			t.Fatalf("read %d delivered %d entries: want some, not all %d in one entry", reads, n, total)
		}
		delivered += n
		for ; before < len(rp.log.units); before++ {
			if u := rp.log.units[before]; len(u) > limit {
				t.Fatalf("a unit of %d bytes, more than the %d-byte limit", len(u), limit)
			} else if err := applier.Apply(u); err != nil {
				t.Fatal(err)
			}
		}
	}
	if delivered != total {
		t.Fatalf("delivered %d entries, want %d", delivered, total)
	}
	clock.now = clock.now.Add(time.Minute)
	// XAUTOCLAIM of everything stops early with a cursor to go on from.
	before := len(rp.log.units)
	r := exec(rp.master, cl, "XAUTOCLAIM", "s", "g", "d", "1000", "0", "COUNT", "100000", "JUSTID")
	if strings.HasPrefix(r, "*3\r\n$3\r\n0-0\r\n") {
		t.Fatalf("XAUTOCLAIM of %d pending entries finished in one call under a %d-byte limit", total, limit)
	}
	for ; before < len(rp.log.units); before++ {
		if u := rp.log.units[before]; len(u) > limit {
			t.Fatalf("a unit of %d bytes, more than the %d-byte limit", len(u), limit)
		} else if err := applier.Apply(u); err != nil {
			t.Fatal(err)
		}
	}
	if m, r := exec(rp.master, cl, "DEBUG", "DIGEST"), exec(rp.replica, rp.rc, "DEBUG", "DIGEST"); m != r {
		t.Fatalf("digests: master %s, replica %s", m, r)
	}
}
