package command_test

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// TestRandomNotifyAgainstRedis runs the step functions of the randomized
// differential tests (string, list, keys, bitmap, hash, set, zset, stream)
// with keyspace notifications on, and compares, after every command, the
// messages a subscriber got from ferry with those it got from
// redis-server, byte for byte, besides every reply and DEBUG DIGEST as the
// step functions do.
//
// Each server has a second connection, in the run's protocol, that
// PSUBSCRIBEs to __key*@*__:*, SUBSCRIBEs to a few keyspace and keyevent
// channels (notifyChannels) and to a private sentinel channel. After every command the harness PUBLISHes a fresh sentinel
// from the command's connection and reads the subscriber until the
// sentinel arrives: what came before it is what the command raised (a
// server delivers to one subscriber in publishing order).
//
// The step functions also send commands to one server only (encoding
// look-ups, ferry's contents, alignExpiry's PEXPIREAT on ferry, a scratch
// SUNIONSTORE on redis-server): their messages are the harness's, not
// compared, except "expired": a one-sided look-up may be the first to
// touch a key whose time has passed, and the other server then raises the
// same event at its next touch of the key, so "expired" messages from
// one-sided commands are carried into the next comparison, sorted. SCAN
// is treated the same way: its cursors are each server's own, a full
// iteration takes different calls on each, and the keys whose time has
// passed expire in each server's own order. Active expiry
// is off on both (runDiff's setup), so expired events only come from
// lookups, which both servers make for the same commands.
//
// Each subtest sets notify-keyspace-events to one of notifyClassSets
// (most often everything, KEA plus m and n). Longer runs:
//
//	FERRY_DIFF_SEED=7 FERRY_DIFF_STEPS=3000 go test ./internal/command -run 'TestRandomNotifyAgainstRedis$'
func TestRandomNotifyAgainstRedis(t *testing.T) {
	runNotify(t, 200)
}

// notifyClassSets are the notify-keyspace-events values the runs use.
var notifyClassSets = []string{
	"KEAmn", "KEAmn", "KEAmn", "KEA", "Kg$", "El", "Ex", "Km", "Kd", "Kn", "Eh", "Ks", "Ez", "Kt",
	"KEg$lshzt", "Exe", "KEmn", "Eg", "KA", "EA",
}

// notifyChannels are channels the subscriber also SUBSCRIBEs to: a
// message on one of them comes as a message, then as a pmessage.
var notifyChannels = []string{"__keyevent@0__:expired", "__keyevent@0__:del", "__keyevent@1__:set", "__keyspace@0__:k1", "__keyspace@0__:x0"}

// notifySentinel is the private channel of the sentinel PUBLISHes.
const notifySentinel = "\x00notify-sentinel"

// notifySide wraps one server's connection: after each command it reads
// what the subscriber got.
type notifySide struct {
	n    *notifyRun
	side int // 0 redis-server, 1 ferry
	c    diffConn
	sub  *redistest.Conn
	seq  int
}

// notifyEntry is one command sent to one side and the messages it raised.
type notifyEntry struct {
	args []string
	msgs []string
}

// notifyRun pairs the two sides' commands and compares their messages.
type notifyRun struct {
	d *diff
	// pending are the commands each side ran since the last comparison.
	pending [2][]notifyEntry
	// compared counts the comparisons that held at least one message.
	compared, messages int
	// direct counts the messages on a SUBSCRIBEd channel (notifyChannels).
	direct int
}

// Do sends args, then the sentinel, and collects the messages before it.
func (s *notifySide) Do(args ...string) string {
	d := s.n.d
	d.t.Helper()
	reply := s.c.Do(args...)
	s.seq++
	tag := strconv.Itoa(s.seq)
	if r := s.c.Do("PUBLISH", notifySentinel, tag); r != ":1\r\n" {
		d.fail("sentinel PUBLISH on side %d after %s: %q", s.side, quoteArgs(args), r)
	}
	var msgs []string
	for {
		m, err := s.sub.ReadTimeout(10 * time.Second)
		if err != nil {
			d.fail("side %d: reading the subscriber after %s: %v", s.side, quoteArgs(args), err)
		}
		f := pushFields(d.t, m)
		if len(f) == 3 && f[0] == "message" && f[1] == notifySentinel {
			if f[2] != tag {
				d.fail("side %d: sentinel %q, want %q", s.side, f[2], tag)
			}
			break
		}
		msgs = append(msgs, m)
	}
	s.n.pending[s.side] = append(s.n.pending[s.side], notifyEntry{args: append([]string(nil), args...), msgs: msgs})
	if s.side == 1 {
		s.n.pair()
	}
	return reply
}

// pair compares the messages once ferry has run the command redis-server
// ran last (a command sent to both); otherwise ferry's command was its own.
func (n *notifyRun) pair() {
	r, f := n.pending[0], n.pending[1]
	if len(r) == 0 || !sameArgs(r[len(r)-1].args, f[len(f)-1].args) {
		return
	}
	if strings.EqualFold(r[len(r)-1].args[0], "SCAN") {
		// a SCAN's cursors are each server's own: a full iteration
		// takes different calls, so their expired events (SCAN raises
		// no other) are compared, sorted, at the next command
		return
	}
	want, got := notifyMessages(n.d.t, r), notifyMessages(n.d.t, f)
	n.pending = [2][]notifyEntry{}
	if len(want) > 0 {
		n.compared++
		n.messages += len(want)
		for _, m := range want {
			if f := pushFields(n.d.t, m); len(f) == 3 && f[0] == "message" {
				n.direct++
			}
		}
	}
	if strings.Join(want, "") != strings.Join(got, "") {
		i := 0
		for i < len(want) && i < len(got) && want[i] == got[i] {
			i++
		}
		n.d.fail("keyspace notifications after the last command differ from message %d on:\n ferry %s\n redis %s\nfirst differing raw message:\n ferry %q\n redis %q",
			i, notifyBrief(n.d.t, got[i:]), notifyBrief(n.d.t, want[i:]), at(got, i), at(want, i))
	}
}

// notifyBrief renders messages as "channel=payload" for a failure.
func notifyBrief(t *testing.T, msgs []string) string {
	var b []string
	for _, m := range msgs {
		if f := pushFields(t, m); len(f) >= 3 {
			b = append(b, strconv.Quote(f[0]+" "+f[len(f)-2]+"="+f[len(f)-1]))
		} else {
			b = append(b, strconv.Quote(m))
		}
	}
	return "[" + strings.Join(b, " ") + "]"
}

// at returns msgs[i], or "" past the end.
func at(msgs []string, i int) string {
	if i < len(msgs) {
		return msgs[i]
	}
	return ""
}

// notifyMessages returns the messages to compare from one side's commands
// since the last comparison, the last of them sent to both: the "expired"
// ones of the one-sided commands and SCANs before it, sorted (a SCAN
// meets keys in its server's own order), then the last command's.
func notifyMessages(t *testing.T, es []notifyEntry) []string {
	var carried []string
	for _, e := range es[:len(es)-1] {
		carried = append(carried, notifyKeep(t, e.msgs, false)...)
	}
	sort.Strings(carried)
	return append(carried, es[len(es)-1].msgs...)
}

// notifyKeep returns the messages of a command to compare: all of a
// command sent to both, only "expired" ones of a one-sided command.
func notifyKeep(t *testing.T, msgs []string, common bool) []string {
	if common {
		return msgs
	}
	var out []string
	for _, m := range msgs {
		f := pushFields(t, m)
		if len(f) >= 3 && (f[len(f)-1] == "expired" || strings.HasSuffix(f[len(f)-2], "__:expired")) {
			out = append(out, m)
		}
	}
	return out
}

func sameArgs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// pushFields returns the strings of a pub/sub message (an array or push
// of bulk strings), or nil for anything else.
func pushFields(t *testing.T, raw string) []string {
	t.Helper()
	br := bufio.NewReader(strings.NewReader(raw))
	line, err := br.ReadString('\n')
	if err != nil || len(line) < 3 || (line[0] != '*' && line[0] != '>') {
		return nil
	}
	n, err := strconv.Atoi(strings.TrimSuffix(line[1:], "\r\n"))
	if err != nil {
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		line, err := br.ReadString('\n')
		if err != nil || line[0] != '$' {
			return nil
		}
		l, err := strconv.Atoi(strings.TrimSuffix(line[1:], "\r\n"))
		if err != nil || l < 0 {
			return nil
		}
		b := make([]byte, l+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil
		}
		out = append(out, string(b[:l]))
	}
	return out
}

// newNotifyDiff connects to both servers, flushes them, sets
// notify-keyspace-events to classes and subscribes (see
// TestRandomNotifyAgainstRedis), and returns a diff whose connections
// compare the notifications.
func newNotifyDiff(t *testing.T, raddr, faddr string, seed uint64, resp int, classes string) (*diff, *notifyRun) {
	t.Helper()
	d, redis, ferry := startDiff(t, raddr, faddr, seed, resp, []string{"CONFIG", "SET", "notify-keyspace-events", classes})
	n := &notifyRun{d: d}
	var sides [2]*notifySide
	for i, c := range []*redistest.Conn{redis, ferry} {
		sub := redistest.Dial(t, []string{raddr, faddr}[i])
		sub.Do("HELLO", strconv.Itoa(resp))
		sub.WriteRaw(redistest.Encode("PSUBSCRIBE", "__key*@*__:*"))
		sub.WriteRaw(redistest.Encode("SUBSCRIBE", notifySentinel))
		sub.WriteRaw(redistest.Encode(append([]string{"SUBSCRIBE"}, notifyChannels...)...))
		sides[i] = &notifySide{n: n, side: i, c: c, sub: sub}
	}
	for k := 0; k < 2+len(notifyChannels); k++ {
		w, g := sides[0].sub.Read(), sides[1].sub.Read()
		if w != g {
			t.Fatalf("subscribing: ferry %q redis %q", g, w)
		}
	}
	d.redis, d.ferry = sides[0], sides[1]
	d.hist = append(d.hist, "# notify-keyspace-events "+classes)
	return d, n
}

// runNotify runs each step function with notifications compared (see
// TestRandomNotifyAgainstRedis).
func runNotify(t *testing.T, def int) {
	seeds, steps := diffSeeds(t, def)
	raddr := redistest.Redis(t)
	_, faddr := redistest.Ferry(t, command.Config{})
	names, stepFns := wrappedSteps(false)
	total, ran := map[string][3]int{}, 0
	for _, name := range names {
		for _, seed := range seeds {
			for _, resp := range []int{2, 3} {
				t.Run(fmt.Sprintf("%s/seed%d/resp%d", name, seed, resp), func(t *testing.T) {
					cr := rand.New(rand.NewPCG(seed, uint64(resp)+uint64(len(name))<<8))
					classes := notifyClassSets[cr.IntN(len(notifyClassSets))]
					d, n := newNotifyDiff(t, raddr, faddr, seed, resp, classes)
					for i := 0; i < steps; i++ {
						stepFns[name](d)
						d.digest()
					}
					tot := total[name]
					total[name] = [3]int{tot[0] + n.compared, tot[1] + n.messages, tot[2] + n.direct}
					ran++
				})
			}
		}
	}
	direct := 0
	for _, name := range names {
		if testing.Verbose() {
			t.Logf("%s: %d commands with messages, %d messages, %d on SUBSCRIBEd channels", name, total[name][0], total[name][1], total[name][2])
		}
		// (a chosen seed may give a step only classes it raises none of)
		if ran == len(names)*len(seeds)*2 && os.Getenv("FERRY_DIFF_SEED") == "" && total[name][1] == 0 {
			t.Errorf("%s: no keyspace notification compared", name)
		}
		direct += total[name][2]
	}
	if ran == len(names)*len(seeds)*2 && direct == 0 {
		t.Errorf("no message on a SUBSCRIBEd channel compared")
	}
}

// notifyFound are the command sequences TestRandomNotifyAgainstRedis
// found ferry raising different keyspace events for than redis-server
// 7.0.15 (fixed since), each run from an empty database with every class
// on (KEAmn) and active expiry off, so that a key given a time in the
// past stays until a command touches it.
var notifyFound = [][][]string{
	// MSET, SETEX and PSETEX over a key whose time has passed: expired,
	// then new, then set (Redis's setKey looks the key up for writing)
	{{"SET", "k1", "old", "PXAT", "1"}, {"MSET", "a", "1", "k1", "v", "b", "2"}, {"GET", "k1"}},
	{{"SET", "k1", "old", "PXAT", "1"}, {"SETEX", "k1", "100000", "v"}, {"TTL", "k1"}},
	{{"SET", "k1", "old", "PXAT", "1"}, {"PSETEX", "k1", "100000000", "v"}, {"TYPE", "k1"}},
	{{"SET", "k1", "old", "EXAT", "1"}, {"SET", "k2", "old", "EXAT", "1"}, {"MSET", "k2", "x", "k1", "y"}},
	// XACK, XCLAIM and XAUTOCLAIM of a missing key: keymiss (a read
	// lookup), XAUTOCLAIM's even when its arguments are wrong
	{{"XACK", "x0", "g", "1-1"}, {"XCLAIM", "x0", "g", "c", "0", "1-1"}, {"XAUTOCLAIM", "x0", "g", "c", "0", "0"}},
	{{"XAUTOCLAIM", "x0", "g", "c", "0", "0", "FOO"}, {"XAUTOCLAIM", "x0", "g", "c", "abc", "0"},
		{"XAUTOCLAIM", "x0", "g", "c", "0", "0", "COUNT", "576460752303423488"}},
	{{"SET", "x0", "s"}, {"XAUTOCLAIM", "x0", "g", "c", "abc", "0"}, {"XAUTOCLAIM", "x0", "g", "c", "0", "0"},
		{"XADD", "x1", "1-1", "f", "v"}, {"XAUTOCLAIM", "x1", "g", "c", "0", "0"}, {"XACK", "x1", "g", "1-1"}},
	// a key whose time has passed, expired by XACK's, XCLAIM's and
	// XAUTOCLAIM's lookups: expired, then keymiss
	{{"SET", "x0", "s", "PXAT", "1"}, {"XACK", "x0", "g", "1-1"}, {"SET", "x0", "s", "PXAT", "1"}, {"XCLAIM", "x0", "g", "c", "0", "1-1"},
		{"SET", "x0", "s", "PXAT", "1"}, {"XAUTOCLAIM", "x0", "g", "c", "abc", "0"}},
}

// TestNotifyRandomFound runs notifyFound on both servers, in RESP2 and
// RESP3, comparing every reply, DEBUG DIGEST and every keyspace message
// (as TestRandomNotifyAgainstRedis does).
func TestNotifyRandomFound(t *testing.T) {
	raddr := redistest.Redis(t)
	_, faddr := redistest.Ferry(t, command.Config{})
	for i, seq := range notifyFound {
		for _, resp := range []int{2, 3} {
			t.Run(fmt.Sprintf("%d/resp%d", i, resp), func(t *testing.T) {
				d, n := newNotifyDiff(t, raddr, faddr, 0, resp, "KEAmn")
				for _, c := range seq {
					d.do(c...)
					d.digest()
				}
				if n.messages == 0 {
					t.Fatal("no keyspace message compared")
				}
			})
		}
	}
}
