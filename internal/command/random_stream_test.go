package command_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestRandomStreamAgainstRedis runs random stream commands (XADD with
// NOMKSTREAM, MAXLEN and MINID exact or approximate with LIMIT, XLEN,
// XRANGE, XREVRANGE, XDEL, XTRIM, XSETID, XREAD without BLOCK, XINFO
// STREAM [FULL], GROUPS and CONSUMERS, XGROUP, XREADGROUP without BLOCK,
// XACK, XPENDING, XCLAIM, XAUTOCLAIM) on ferry and redis-server with odd
// IDs, numbers and options, binary field values, long values that fill
// Redis's 4096-byte listpack nodes, and keys of another type, and
// compares every reply and DEBUG DIGEST; see random_diff_test.go.
//
// Only what the two servers' clocks cannot change is compared:
//   - IDs are explicit ("5-1", "5") or partial ("5-*", whose sequence
//     follows from the stream's last ID); never "*", which is the clock.
//   - Idle times (XPENDING's extended form, XINFO CONSUMERS) and delivery
//     and seen times (XINFO STREAM FULL) are replaced by a placeholder
//     after checking that they are non-negative integers (streamNormalize).
//   - Idle thresholds (XPENDING IDLE, the min-idle-time of XCLAIM and
//     XAUTOCLAIM) are 0 or at least 1000 s, and idle times set by XCLAIM
//     IDLE or TIME are 0 or at least a day, so that an entry is on the same
//     side of a threshold on both servers in any run shorter than that.
//
// Streams stay far below what a log entry holds (README.md, "Deliberate
// differences", Streams: a group read or XAUTOCLAIM too large for one log
// entry delivers fewer entries than asked), so that difference never shows.
// HELP subcommands are left out: their texts are ferry's own (README.md).
func TestRandomStreamAgainstRedis(t *testing.T) {
	runDiff(t, 1200, newStreamStep(false))
}

// streamState is what a run's stream steps remember: the largest
// millisecond part of the IDs XADD returned, around which new IDs are
// made, and some IDs seen.
type streamState struct {
	top uint64
	// ids are IDs replies held lately (added, delivered, claimed).
	ids []string
	// pend are entries group reads delivered lately, for the commands
	// that name pending entries.
	pend []streamPending
}

// streamPending is an entry a group read delivered.
type streamPending struct{ key, group, id string }

// newStreamStep returns the step function of the stream tests; auto makes
// XADD also use "*" IDs (only for the master/replica test, where one
// server generates them).
func newStreamStep(auto bool) func(d *diff) {
	states := map[*diff]*streamState{}
	return func(d *diff) {
		st := states[d]
		if st == nil {
			st = &streamState{top: 1}
			states[d] = st
		}
		streamStep(d, st, auto)
	}
}

// streamIdleTimes are the min-idle-time and IDLE thresholds used: 0, or
// far from any idle time an entry can have during a run.
var streamIdleTimes = []string{"0", "0", "10000000", "1000000", "4294967296", "-1", "-9223372036854775808",
	"9223372036854775807", "abc", "1.5", "", "18446744073709551616"}

func streamStep(d *diff, st *streamState, auto bool) {
	key := func() string { return d.pick("x0", "x1", "x2", "x0", "x1", "str") }
	group := func() string { return d.pick("g1", "g2", "g1", "g3", "", "g1", "g2", "g\x00x") }
	consumer := func() string { return d.pick("c1", "c2", "c3", "c1", "Alice\x00") }
	ms := func(back, fwd int) uint64 {
		m := int64(st.top) - int64(back) + int64(d.r.IntN(back+fwd+1))
		if m < 0 {
			m = 0
		}
		return uint64(m)
	}
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	oddID := func() string {
		return d.pick("0-0", "0-1", "0", "18446744073709551615-18446744073709551615", "18446744073709551615-0",
			"18446744073709551616-0", "1-18446744073709551616", "-1", "abc", "5-", "-5", "1-2-3", "", "1-x",
			"+", "-", "$", ">", " 1-1", "1-1 ", "01-01", "0x10-1", "1e2-1")
	}
	// id is an existing or nearby ID, complete or not.
	id := func() string {
		switch d.r.IntN(10) {
		case 0:
			return oddID()
		case 3, 4, 5:
			if len(st.ids) > 0 {
				return st.ids[d.r.IntN(len(st.ids))]
			}
		case 1, 2:
			return u(ms(6, 1))
		}
		return u(ms(6, 1)) + "-" + strconv.Itoa(d.r.IntN(4))
	}
	// rangeID is an XRANGE bound.
	rangeID := func() string {
		switch d.r.IntN(8) {
		case 0:
			return d.pick("-", "+", "(-", "(+", "((1-1", "(", "(0-0", "(18446744073709551615-18446744073709551615")
		case 1:
			return "(" + id()
		case 2:
			return d.pick("-", "+")
		}
		return id()
	}
	addID := func() string {
		switch d.r.IntN(12) {
		case 0:
			return oddID()
		case 1:
			if auto {
				return "*"
			}
			return u(ms(1, 1))
		case 2, 3:
			return u(ms(2, 1)) + "-" + strconv.Itoa(d.r.IntN(4))
		case 4:
			return d.pick("0-*", "18446744073709551615-*", "1-*", "*-1", "**", "5-**")
		}
		if auto && d.r.IntN(3) == 0 {
			return "*"
		}
		return u(ms(1, 2)) + "-*"
	}
	field := func() string { return d.pick("f", "g", "f", "h", "", "\x00\xff") }
	value := func() string {
		switch d.r.IntN(8) {
		case 0:
			return d.pick(oddNumbers...)
		case 1:
			return strings.Repeat("v", 50+d.r.IntN(400))
		case 2:
			return d.pick("", "\r\n", "é", "-0", "007")
		}
		return d.n(-300, 300)
	}
	pairs := func() []string {
		var p []string
		for i := 1 + d.r.IntN(3); i > 0; i-- {
			p = append(p, field(), value())
		}
		if d.r.IntN(15) == 0 {
			p = p[:len(p)-1] // an odd number of arguments
		}
		if d.r.IntN(30) == 0 {
			p = nil
		}
		return p
	}
	count := func() string {
		if d.r.IntN(3) == 0 {
			return d.number(-1, 8)
		}
		return d.n(0, 8)
	}
	// trim is a MAXLEN or MINID trimming clause.
	trim := func() []string {
		var t []string
		strat := d.pick("MAXLEN", "MINID", "maxlen", "MAXLEN", "MINID")
		t = append(t, d.kw(strat))
		switch d.r.IntN(4) {
		case 0:
			t = append(t, d.pick("=", "~", "~\x00x", "=\x00", "~~", "<"))
		case 1:
			t = append(t, "~")
		}
		if d.r.IntN(20) == 0 {
			return t // no threshold
		}
		if strings.EqualFold(strat, "MAXLEN") {
			t = append(t, d.number(0, 120))
		} else {
			t = append(t, id())
		}
		if d.r.IntN(4) == 0 {
			t = append(t, d.kw("LIMIT"))
			if d.r.IntN(15) > 0 {
				t = append(t, d.number(0, 200))
			}
		}
		return t
	}
	claimOpts := func() []string {
		var o []string
		for i := d.r.IntN(4); i > 0; i-- {
			switch d.r.IntN(8) {
			case 0:
				o = append(o, d.kw("IDLE"), d.pick("0", "86400000", "100000000", "-5", "9223372036854775807", "-9223372036854775808", "x", "4294967296"))
			case 1:
				o = append(o, d.kw("TIME"), d.pick("0", "1000", strconv.FormatInt((d.now-86400)*1000, 10), strconv.FormatInt((d.now+86400)*1000, 10), "-1", "x"))
			case 2:
				o = append(o, d.kw("RETRYCOUNT"), d.number(0, 5))
			case 3:
				o = append(o, d.kw("FORCE"))
			case 4, 5:
				o = append(o, d.kw("JUSTID"))
			case 6:
				o = append(o, d.kw("LASTID"), id())
			default:
				o = append(o, d.pick("FOO", "IDLE", "TIME", "RETRYCOUNT", "LASTID"))
			}
		}
		return o
	}
	// sub is a subcommand name as sent or in lower case. Not followed by
	// a NUL as d.kw does: Redis finds a subcommand in a dict whose hash
	// covers the whole name and whose comparison stops at a NUL, so
	// whether "DESTROY\x00x" is DESTROY depends on the hash seed.
	sub := func(name string) string {
		if d.r.IntN(8) == 0 {
			return strings.ToLower(name)
		}
		return name
	}
	// pending returns, half the time, an entry delivered lately.
	pending := func() (streamPending, bool) {
		if len(st.pend) == 0 || d.r.IntN(2) == 0 {
			return streamPending{}, false
		}
		return st.pend[d.r.IntN(len(st.pend))], true
	}
	k := key()
	norm := false
	var c []string
	switch d.r.IntN(46) {
	case 0, 1, 2, 3, 4, 5:
		c = []string{"XADD", k}
		for i := d.r.IntN(3); i > 0 && d.r.IntN(2) == 0; i-- {
			if d.r.IntN(3) == 0 {
				c = append(c, d.kw("NOMKSTREAM"))
			} else {
				c = append(c, trim()...)
			}
		}
		c = append(c, addID())
		c = append(c, pairs()...)
	case 6:
		// many entries, to fill several listpack nodes for trims, XINFO
		// STREAM's radix-tree figures and node boundaries in ranges
		st.top++
		m := u(st.top)
		long := d.r.IntN(2) == 0
		for i := 20 + d.r.IntN(150); i > 0; i-- {
			v := d.n(0, 1000)
			if long {
				v = strings.Repeat("w", d.r.IntN(200))
			}
			a := []string{"XADD", k}
			if d.r.IntN(20) == 0 {
				a = append(a, "MAXLEN", "~", d.n(0, 150))
			}
			if auto && d.r.IntN(3) == 0 {
				a = append(a, "*")
			} else {
				a = append(a, m+"-*")
			}
			d.do(append(a, d.pick("f", "g"), v)...)
		}
		return
	case 7:
		c = []string{"XLEN", k}
	case 8, 9, 10:
		c = []string{d.pick("XRANGE", "XREVRANGE"), k, rangeID(), rangeID()}
		if d.r.IntN(3) == 0 {
			c = append(c, d.kw("COUNT"))
			if d.r.IntN(10) > 0 {
				c = append(c, count())
			}
		}
	case 11:
		c = []string{"XRANGE", k, "-", "+"}
	case 12, 13:
		c = []string{"XDEL", k, id()}
		for i := d.r.IntN(4); i > 0; i-- {
			c = append(c, id())
		}
	case 14, 15:
		c = append([]string{"XTRIM", k}, trim()...)
		if d.r.IntN(10) == 0 {
			c = append(c, d.pick("FOO", "LIMIT", "MAXLEN", "1"))
		}
	case 16:
		c = []string{"XSETID", k, d.pick(id(), u(ms(0, 3))+"-5")}
		for i := d.r.IntN(3); i > 0; i-- {
			switch d.r.IntN(3) {
			case 0:
				c = append(c, d.kw("ENTRIESADDED"), d.number(0, 400))
			case 1:
				c = append(c, d.kw("MAXDELETEDID"), id())
			default:
				c = append(c, d.pick("FOO", "ENTRIESADDED", "MAXDELETEDID"))
			}
		}
	case 17, 18:
		c = []string{"XREAD"}
		if d.r.IntN(2) == 0 {
			c = append(c, d.kw("COUNT"), count())
		}
		if d.r.IntN(15) == 0 {
			c = append(c, d.pick("FOO", "NOACK", "BLOCK"))
		}
		c = append(c, d.kw("STREAMS"))
		n := 1 + d.r.IntN(3)
		for i := 0; i < n; i++ {
			c = append(c, key())
		}
		if d.r.IntN(12) == 0 {
			n += 2*d.r.IntN(2) - 1 // one ID too many or too few
		}
		for i := 0; i < n; i++ {
			c = append(c, d.pick(id(), id(), "$", "0", "0-0", "$\x00x"))
		}
	case 19, 20:
		c = []string{"XINFO", "STREAM", k}
		if d.r.IntN(2) == 0 {
			c = append(c, d.kw("FULL"))
			norm = true
			if d.r.IntN(2) == 0 {
				c = append(c, d.kw("COUNT"))
				if d.r.IntN(10) > 0 {
					c = append(c, d.number(0, 12))
				}
			}
		} else if d.r.IntN(10) == 0 {
			c = append(c, d.pick("FOO", "COUNT"))
		}
	case 21:
		c = []string{"XINFO", sub(d.pick("GROUPS", "CONSUMERS", "FOO", "STREAM")), k}
		if c[1] != "GROUPS" || d.r.IntN(5) == 0 {
			c = append(c, group())
		}
		norm = true
	case 22, 23, 24:
		c = []string{"XGROUP", sub("CREATE"), k, group(), d.pick(id(), "$", "0", "0-0", "$\x00")}
		for i := d.r.IntN(3); i > 0; i-- {
			switch d.r.IntN(8) {
			case 0:
				c = append(c, d.pick("FOO", "ENTRIESREAD"))
			case 1, 2, 3:
				c = append(c, d.kw("ENTRIESREAD"), d.n(-1, 300))
			case 4:
				c = append(c, d.kw("ENTRIESREAD"), d.number(-1, 300))
			default:
				c = append(c, d.kw("MKSTREAM"))
			}
		}
	case 25:
		c = []string{"XGROUP", sub("SETID"), k, group(), d.pick(id(), "$", "0", "$\x00")}
		if d.r.IntN(2) == 0 {
			c = append(c, d.kw("ENTRIESREAD"), d.pick(d.n(-1, 300), d.number(-1, 300)))
		}
		if d.r.IntN(10) == 0 {
			c = append(c, d.pick("FOO", "MKSTREAM", "ENTRIESREAD"))
		}
	case 26:
		c = []string{"XGROUP", sub("DESTROY"), k, group()}
	case 27:
		c = []string{"XGROUP", sub(d.pick("CREATECONSUMER", "DELCONSUMER")), k, group(), consumer()}
	case 28:
		c = []string{"XGROUP", d.pick("FOO", "CREATE", "SETID", "DESTROY", "CREATECONSUMER", "DELCONSUMER"), k}
		for i := d.r.IntN(3); i > 0; i-- {
			c = append(c, group())
		}
	case 29, 30, 31, 32, 33:
		c = []string{"XREADGROUP", d.kw("GROUP"), group(), consumer()}
		for i := d.r.IntN(3); i > 0; i-- {
			switch d.r.IntN(10) {
			case 0:
				c = append(c, d.pick("FOO", "COUNT", "GROUP"))
			case 1, 2, 3:
				c = append(c, d.kw("NOACK"))
			default:
				c = append(c, d.kw("COUNT"), count())
			}
		}
		c = append(c, d.kw("STREAMS"))
		n := 1
		if d.r.IntN(4) == 0 {
			n = 2
		}
		for i := 0; i < n; i++ {
			c = append(c, key())
		}
		if d.r.IntN(15) == 0 {
			n += 2*d.r.IntN(2) - 1 // one ID too many or too few
		}
		for i := 0; i < n; i++ {
			switch d.r.IntN(6) {
			case 0:
				c = append(c, id())
			case 1:
				c = append(c, d.pick("0", "0-0", "$", ">\x00"))
			default:
				c = append(c, ">")
			}
		}
	case 34, 35:
		c = []string{"XACK", k, group(), id()}
		if p, ok := pending(); ok {
			c[1], c[2], c[3] = p.key, p.group, p.id
		}
		for i := d.r.IntN(3); i > 0; i-- {
			c = append(c, id())
		}
	case 36, 37:
		c = []string{"XPENDING", k, group()}
		if d.r.IntN(4) > 0 {
			if d.r.IntN(3) == 0 {
				c = append(c, d.kw("IDLE"))
				if d.r.IntN(10) > 0 {
					c = append(c, d.pick(streamIdleTimes...))
				}
			}
			c = append(c, rangeID(), rangeID(), count())
			if d.r.IntN(3) == 0 {
				c = append(c, consumer())
			}
			if d.r.IntN(15) == 0 {
				c = append(c, "FOO")
			}
			norm = true
		}
	case 38, 39:
		c = []string{"XCLAIM", k, group(), consumer(), d.pick("0", d.pick(streamIdleTimes...)), id()}
		if p, ok := pending(); ok {
			c[1], c[2], c[5] = p.key, p.group, p.id
		}
		for i := d.r.IntN(3); i > 0; i-- {
			c = append(c, id())
		}
		c = append(c, claimOpts()...)
	case 40, 41:
		c = []string{"XAUTOCLAIM", k, group(), consumer(), d.pick(streamIdleTimes...), rangeID()}
		for i := d.r.IntN(3); i > 0; i-- {
			switch d.r.IntN(3) {
			case 0:
				c = append(c, d.kw("COUNT"), d.pick(d.n(0, 10), d.number(0, 10), "1000000", "9223372036854775807",
					"576460752303423487", "576460752303423488", "8796093022208"))
				if c[len(c)-1] == "4294967296" {
					// Redis allocates 16 bytes per COUNT up front: whether
					// it can have 64 GiB depends on the machine (from 128
					// TiB, 8796093022208, it never can)
					c[len(c)-1] = "1000000"
				}
			case 1:
				c = append(c, d.kw("JUSTID"))
			default:
				c = append(c, d.pick("FOO", "COUNT"))
			}
		}
	case 42:
		c = []string{"SET", "str", value()}
	case 43:
		c = []string{d.pick("DEL", "EXISTS", "TYPE"), k}
		if c[0] == "DEL" && d.r.IntN(3) > 0 {
			c[0] = "EXISTS"
		}
	case 44:
		c = []string{"OBJECT", "ENCODING", k}
	default:
		// arity and argument errors
		c = []string{d.pick("XADD", "XLEN", "XRANGE", "XREVRANGE", "XDEL", "XTRIM", "XSETID", "XREAD", "XINFO",
			"XGROUP", "XREADGROUP", "XACK", "XPENDING", "XCLAIM", "XAUTOCLAIM")}
		for i := d.r.IntN(5); i > 0; i-- {
			c = append(c, d.pick(key(), group(), id(), "STREAMS", "GROUP", "STREAM"))
		}
	}
	if norm {
		d.doNormalized(c...)
	} else {
		r := d.do(c...)
		if c[0] == "XREADGROUP" && (r[0] == '*' || r[0] == '%') {
			st.delivered(d.t, c[2], r)
		}
		switch c[0] {
		case "XADD":
			st.saw(r)
			fallthrough
		case "XREADGROUP", "XCLAIM", "XAUTOCLAIM", "XRANGE", "XREVRANGE":
			for _, m := range streamReplyIDRe.FindAllStringSubmatch(r, 8) {
				if len(st.ids) == 40 {
					st.ids = st.ids[1:]
				}
				st.ids = append(st.ids, m[1])
			}
		}
	}
}

// streamReplyIDRe finds the IDs in a reply.
var streamReplyIDRe = regexp.MustCompile(`\$\d+\r\n(\d+-\d+)\r\n`)

// delivered records the entries of a group read's reply as pending.
func (st *streamState) delivered(t *testing.T, group, reply string) {
	n := srvParse(t, reply)
	for i := 0; i < len(n.elems); i++ {
		key, entries := n.elems[i], srvNode{}
		if n.kind == '%' {
			entries = n.elems[i+1]
			i++
		} else if len(key.elems) == 2 {
			key, entries = key.elems[0], key.elems[1]
		}
		for _, e := range entries.elems {
			if len(e.elems) == 2 {
				if len(st.pend) == 40 {
					st.pend = st.pend[1:]
				}
				st.pend = append(st.pend, streamPending{key.str, group, e.elems[0].str})
			}
		}
	}
}

// saw raises top to the millisecond part of an ID XADD returned.
func (st *streamState) saw(reply string) {
	if !strings.HasPrefix(reply, "$") {
		return
	}
	_, rest, _ := strings.Cut(reply, "\r\n")
	msPart, _, _ := strings.Cut(rest, "-")
	if m, err := strconv.ParseUint(msPart, 10, 64); err == nil && m > st.top && m < 1<<50 {
		st.top = m
	}
}

// doNormalized sends a command whose reply may hold idle, delivery or
// seen times, and compares the replies with those times replaced.
func (d *diff) doNormalized(args ...string) {
	d.t.Helper()
	w, g := d.send(args...)
	if w == g {
		return
	}
	if w[0] == '-' || g[0] == '-' {
		d.fail("%s:\n ferry %q\n redis %q", quoteArgs(args), g, w)
	}
	wn, err1 := streamNormalize(d.t, args, w)
	gn, err2 := streamNormalize(d.t, args, g)
	if err1 != "" || err2 != "" || wn != gn {
		d.fail("%s (times normalized; %s%s):\n ferry %q\n redis %q", quoteArgs(args), err1, err2, g, w)
	}
}

// streamNormalize renders the reply of an XPENDING (extended form), XINFO
// CONSUMERS or XINFO STREAM FULL with its clock-derived times replaced by
// "T", or returns why it could not.
func streamNormalize(t *testing.T, args []string, raw string) (string, string) {
	return streamNormalizeSome(t, args, raw, true)
}

// streamNormalizeSome is streamNormalize, but with all false it replaces
// only the consumers' seen-times and keeps idle and delivery times.
func streamNormalizeSome(t *testing.T, args []string, raw string, all bool) (string, string) {
	n := srvParse(t, raw)
	bad := ""
	seen := func(x *srvNode) {
		if v, err := strconv.ParseInt(x.str, 10, 64); x.kind != ':' || err != nil || v < 0 {
			bad = "a time is not a non-negative integer: " + string(x.kind) + x.str + "; "
		}
		x.str = "T"
	}
	clock := func(x *srvNode) {
		if all {
			seen(x)
		}
	}
	// field returns the value of name in a map (RESP3) or a flat
	// name, value, ... array (RESP2).
	field := func(m *srvNode, name string) *srvNode {
		for i := 0; i+1 < len(m.elems); i += 2 {
			if m.elems[i].str == name {
				return &m.elems[i+1]
			}
		}
		return nil
	}
	each := func(x *srvNode, f func(*srvNode)) {
		if x != nil && x.kind != '%' {
			for i := range x.elems {
				f(&x.elems[i])
			}
		}
	}
	switch strings.ToUpper(args[0]) {
	case "XPENDING":
		each(&n, func(p *srvNode) {
			if len(p.elems) == 4 {
				clock(&p.elems[2])
			}
		})
	case "XINFO":
		if len(args) > 1 && strings.EqualFold(args[1], "CONSUMERS") {
			each(&n, func(c *srvNode) {
				if v := field(c, "idle"); v != nil {
					clock(v)
				}
			})
			break
		}
		each(field(&n, "groups"), func(g *srvNode) {
			each(field(g, "pending"), func(p *srvNode) {
				if len(p.elems) == 4 {
					clock(&p.elems[2])
				}
			})
			each(field(g, "consumers"), func(c *srvNode) {
				if v := field(c, "seen-time"); v != nil {
					seen(v)
				}
				each(field(c, "pending"), func(p *srvNode) {
					if len(p.elems) == 3 {
						clock(&p.elems[1])
					}
				})
			})
		})
	}
	var b strings.Builder
	streamRender(&b, n)
	return b.String(), bad
}

// streamRender writes a parsed reply in a form that keeps its structure.
func streamRender(b *strings.Builder, n srvNode) {
	b.WriteByte(n.kind)
	b.WriteString(strconv.Quote(n.str))
	if n.elems != nil || n.kind == '*' || n.kind == '%' {
		b.WriteString("[" + strconv.Itoa(len(n.elems)))
		for _, e := range n.elems {
			b.WriteByte(' ')
			streamRender(b, e)
		}
		b.WriteByte(']')
	}
}
