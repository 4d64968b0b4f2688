package command_test

import (
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestRandomZsetAgainstRedis runs random sorted-set commands (ZADD with
// every flag, ZINCRBY, the ranges by rank, score and lex with LIMIT REV
// WITHSCORES, their STORE and REM forms, pops, ZMPOP, the set operations
// with WEIGHTS and AGGREGATE over sorted and plain sets, ZSCAN,
// ZRANDMEMBER) on ferry and redis-server with odd scores and bounds, bad
// options, binary members, keys of other types and small listpack limits,
// and compares every reply and DEBUG DIGEST; see random_diff_test.go.
// ZRANDMEMBER's picks are compared by shape and membership only (README.md:
// random picks differ), and a full ZSCAN of a skiplist set as a set of
// pairs (its order comes from the hash table).
func TestRandomZsetAgainstRedis(t *testing.T) {
	runDiff(t, 2500, zsetStep)
}

// zsetKeys are the keys the sorted-set steps use: three sorted sets, a
// plain set (accepted by ZUNION and friends, with score 1) and a string.
var zsetKeys = []string{"z0", "z1", "z2", "z0", "z1", "z2", "set", "str"}

// zsetScores are scores as ZADD and ZINCRBY read them (strtod with
// Redis's checks): infinities, NaN, hex, spaces, exponents, long decimals.
var zsetScores = []string{
	"inf", "-inf", "+inf", "nan", "-nan", "1e308", "-1e308", "1e309", "-0", "0", "0x10", "0X1p3", " 1", "1 ", "1e3", "1E-3",
	"2.5e-1", "0.1000000000000000055511151231257827021181583404541015625", "3.14159265358979323846264338327950288",
	"1.7976931348623157e308", "4.9e-324", "+1", ".5", "5.", "", "abc", "1e", "-", "1.5", "-1.5", "9007199254740993",
	"123456789012345678901234567890", "Infinity", "-infinity", "1\x00", "0.0",
}

// zsetBounds are score range bounds: inclusive and exclusive, infinities
// and bad ones.
var zsetBounds = []string{
	"-inf", "+inf", "inf", "(-inf", "(+inf", "(1", "(0", "1", "0", "-1", "(-1", "2.5", "(2.5", "nan", "(nan", "x", "(", "((1",
	"( 1", "(1 ", "", "1e308", "(1e309", "0x10", "(0x10", "-0", "(-0",
}

// zsetLexBounds are lex range bounds, good and bad.
var zsetLexBounds = []string{
	"-", "+", "[a", "(a", "[b", "(b", "[c", "(d", "[", "(", "[\x00", "(\x00", "a", "x", "", "[aa", "(1", "[2", "++", "--", "[\xff",
}

func zsetStep(d *diff) {
	if !d.marks["zset-config"] {
		// the listpack limits the runs start from (a run may leave them
		// changed for the next)
		d.marks["zset-config"] = true
		d.do("CONFIG", "SET", "zset-max-listpack-entries", "128")
		d.do("CONFIG", "SET", "zset-max-listpack-value", "64")
	}
	key := func() string { return d.pick(zsetKeys...) }
	member := func() string {
		switch d.r.IntN(10) {
		case 0:
			return d.pick("", "\x00", "a\x00b", "\xff", "é", "A", "aa", "ab", "10", "3.5", "-0")
		case 1:
			return strings.Repeat("m", 60+d.r.IntN(10)) // around zset-max-listpack-value
		}
		return d.pick("a", "b", "c", "d", "e", "f", "1", "2")
	}
	score := func() string {
		switch d.r.IntN(6) {
		case 0:
			return d.pick(zsetScores...)
		case 1:
			return d.pick("1.5", "-2.25", "0.1", "1e-5", "100", "3")
		}
		return d.n(-3, 3) // small integers: many equal scores
	}
	bound := func() string {
		if d.r.IntN(3) == 0 {
			return d.pick(zsetBounds...)
		}
		return d.pick("(", "") + d.n(-3, 3)
	}
	lex := func() string {
		if d.r.IntN(4) == 0 {
			return d.pick(zsetLexBounds...)
		}
		return d.pick("[", "(") + d.pick("a", "b", "c", "d", "e", "f", "1", "")
	}
	members := func() []string {
		m := []string{member()}
		for i := d.r.IntN(4); i > 0; i-- {
			m = append(m, member())
		}
		return m
	}
	limit := func() []string {
		return []string{d.kw(d.pick("LIMIT", "LIMIT", "limit", "LIMITS")), d.number(-2, 5), d.number(-2, 5)}
	}
	// setOp builds ZUNION and friends from the numkeys on: keys, WEIGHTS,
	// AGGREGATE, WITHSCORES.
	setOp := func(withScores bool) []string {
		n := 1 + d.r.IntN(3)
		c := []string{strconv.Itoa(n)}
		switch d.r.IntN(12) {
		case 0:
			c[0] = d.pick("0", "-1", "x", "", " 1", "4", "9223372036854775807", "2147483648")
		case 1:
			c[0] = strconv.Itoa(n + 1)
		}
		for i := 0; i < n; i++ {
			c = append(c, key())
		}
		for i := d.r.IntN(3); i > 0; i-- {
			switch opt := d.pick("WEIGHTS", "AGGREGATE", "WITHSCORES", "weights", "aggregate", "FOO"); strings.ToUpper(opt) {
			case "WEIGHTS":
				c = append(c, d.kw(opt))
				m := n
				if d.r.IntN(8) == 0 {
					m = d.r.IntN(n + 2)
				}
				for j := 0; j < m; j++ {
					if d.r.IntN(3) == 0 {
						c = append(c, d.pick("0", "inf", "-inf", "nan", "x", "1e308", "-0", "0x10", " 2", "2.5", "1e-300", ""))
					} else {
						c = append(c, d.n(-2, 3))
					}
				}
			case "AGGREGATE":
				c = append(c, d.kw(opt))
				if d.r.IntN(10) > 0 {
					c = append(c, d.kw(d.pick("SUM", "MIN", "MAX", "sum", "max", "AVG")))
				}
			case "WITHSCORES":
				if withScores || d.r.IntN(4) == 0 {
					c = append(c, d.kw(opt))
				}
			default:
				c = append(c, opt)
			}
		}
		return c
	}
	k := key()
	var c []string
	switch d.r.IntN(60) {
	case 0, 1, 2, 3, 4:
		c = []string{"ZADD", k}
		for i := d.r.IntN(3); i > 0; i-- {
			c = append(c, d.kw(d.pick("NX", "XX", "GT", "LT", "CH", "INCR", "nx", "gt", "ch", "incr")))
		}
		for i := 1 + d.r.IntN(3); i > 0; i-- {
			c = append(c, score(), member())
		}
		if d.r.IntN(15) == 0 {
			c = c[:len(c)-1] // an odd number of score-member arguments
		}
	case 5:
		// INCR alone with one pair, towards infinities and NaN
		c = []string{"ZADD", k, d.kw(d.pick("INCR", "INCR", "XX", "NX", "GT", "LT")), "INCR", score(), member()}
	case 6, 7:
		c = []string{"ZINCRBY", k, score(), member()}
	case 8:
		c = []string{"ZINCRBY", k, d.pick("inf", "-inf", "+inf", "1e308", "-1e308"), d.pick("a", "b")}
	case 9, 10:
		c = append([]string{"ZREM", k}, members()...)
	case 11:
		c = []string{"ZSCORE", k, member()}
	case 12:
		c = append([]string{"ZMSCORE", k}, members()...)
	case 13:
		c = []string{"ZCARD", k}
	case 14:
		c = []string{"ZCOUNT", k, bound(), bound()}
	case 15:
		c = []string{"ZLEXCOUNT", k, lex(), lex()}
	case 16, 17, 18, 19:
		c = []string{d.pick("ZRANGE", "ZRANGE", "ZRANGESTORE")}
		if c[0] == "ZRANGESTORE" {
			c = append(c, key())
		}
		c = append(c, k)
		by := d.r.IntN(3)
		switch by {
		case 0:
			c = append(c, d.number(-6, 6), d.number(-6, 6))
		case 1:
			c = append(c, bound(), bound())
		default:
			c = append(c, lex(), lex())
		}
		opts := []string{"BYSCORE", "BYLEX", "REV", "LIMIT", "WITHSCORES", "FOO"}
		if by > 0 && d.r.IntN(3) > 0 {
			c = append(c, d.kw(opts[by-1]))
		}
		for i := d.r.IntN(3); i > 0; i-- {
			switch opt := d.pick(opts...); opt {
			case "LIMIT":
				if d.r.IntN(10) == 0 {
					c = append(c, "LIMIT", d.number(0, 3)) // LIMIT without its count
				} else {
					c = append(c, limit()...)
				}
			default:
				c = append(c, d.kw(opt))
			}
		}
	case 20, 21:
		c = []string{d.pick("ZRANGEBYSCORE", "ZREVRANGEBYSCORE"), k, bound(), bound()}
		for i := d.r.IntN(3); i > 0; i-- {
			if d.r.IntN(2) == 0 {
				c = append(c, d.kw("WITHSCORES"))
			} else {
				c = append(c, limit()...)
			}
		}
	case 22, 23:
		c = []string{d.pick("ZRANGEBYLEX", "ZREVRANGEBYLEX"), k, lex(), lex()}
		if d.r.IntN(2) == 0 {
			c = append(c, limit()...)
		}
		if d.r.IntN(8) == 0 {
			c = append(c, d.pick("WITHSCORES", "FOO"))
		}
	case 24:
		c = []string{"ZREVRANGE", k, d.number(-6, 6), d.number(-6, 6)}
		if d.r.IntN(2) == 0 {
			c = append(c, d.kw(d.pick("WITHSCORES", "WITHSCORES", "FOO")))
		}
	case 25, 26:
		c = []string{d.pick("ZRANK", "ZREVRANK"), k, member()}
		if d.r.IntN(6) == 0 {
			// WITHSCORE came in 7.2: an arity error in 7.0
			c = append(c, d.pick("WITHSCORE", "withscore", "FOO"))
		}
	case 27:
		c = []string{"ZREMRANGEBYRANK", k, d.number(-6, 6), d.number(-6, 6)}
	case 28:
		c = []string{"ZREMRANGEBYSCORE", k, bound(), bound()}
	case 29:
		c = []string{"ZREMRANGEBYLEX", k, lex(), lex()}
	case 30, 31:
		c = []string{d.pick("ZPOPMIN", "ZPOPMAX"), k}
		if d.r.IntN(2) == 0 {
			c = append(c, d.pick(d.number(-1, 5), "0", "-0", "9223372036854775807", "-9223372036854775808", "2147483648", "x"))
		}
	case 32, 33:
		n := 1 + d.r.IntN(3)
		c = []string{"ZMPOP", strconv.Itoa(n)}
		switch d.r.IntN(10) {
		case 0:
			c[1] = d.pick(oddNumbers...)
		case 1:
			c[1] = strconv.Itoa(n + 1 - 2*d.r.IntN(2))
		}
		for i := 0; i < n; i++ {
			c = append(c, key())
		}
		c = append(c, d.kw(d.pick("MIN", "MAX", "min", "MIDDLE")))
		if d.r.IntN(2) == 0 {
			c = append(c, d.kw(d.pick("COUNT", "count", "FOO")), d.number(-1, 5))
		}
		if d.r.IntN(10) == 0 {
			c = append(c, "COUNT", "2")
		}
	case 34:
		c = []string{"ZINTERCARD"}
		o := setOp(false)
		c = append(c, o[0])
		for _, a := range o[1:] {
			if strings.HasPrefix(a, "z") || a == "set" || a == "str" {
				c = append(c, a)
			}
		}
		if d.r.IntN(2) == 0 {
			c = append(c, d.kw(d.pick("LIMIT", "LIMIT", "FOO")), d.number(-1, 4))
		}
	case 35, 36, 37:
		c = append([]string{d.pick("ZUNION", "ZINTER", "ZDIFF")}, setOp(true)...)
	case 38, 39, 40:
		c = append([]string{d.pick("ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"), key()}, setOp(false)...)
	case 41:
		c = []string{"SADD", "set", member(), member()}
	case 42:
		c = []string{"SET", "str", d.pick("v", "1")}
	case 43:
		c = []string{"DEL", k}
	case 44:
		c = []string{"TYPE", k}
	case 45, 46:
		c = []string{"OBJECT", "ENCODING", k}
	case 47:
		cmd := d.pick("ZADD", "ZINCRBY", "ZREM", "ZSCORE", "ZMSCORE", "ZCARD", "ZCOUNT", "ZLEXCOUNT", "ZRANGE", "ZRANGESTORE",
			"ZRANGEBYSCORE", "ZREVRANGEBYSCORE", "ZRANGEBYLEX", "ZREVRANGEBYLEX", "ZREVRANGE", "ZRANK", "ZREVRANK",
			"ZREMRANGEBYRANK", "ZREMRANGEBYSCORE", "ZREMRANGEBYLEX", "ZPOPMIN", "ZPOPMAX", "ZMPOP", "ZINTERCARD",
			"ZUNION", "ZINTER", "ZDIFF", "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE", "ZSCAN", "ZRANDMEMBER")
		c = []string{cmd}
		for i := d.r.IntN(5); i > 0; i-- {
			c = append(c, key())
		}
	case 48:
		c = []string{"CONFIG", "SET", d.pick("zset-max-listpack-entries", "zset-max-ziplist-entries"), d.pick("0", "1", "3", "8", "128")}
	case 49:
		c = []string{"CONFIG", "SET", d.pick("zset-max-listpack-value", "zset-max-ziplist-value"), d.pick("0", "1", "4", "64")}
	case 50:
		// a larger set, past the default listpack limit now and then
		c = []string{"ZADD", k}
		for i := d.r.IntN(150); i >= 0; i-- {
			c = append(c, d.n(-20, 20), "m"+strconv.Itoa(d.r.IntN(200)))
		}
	case 51, 52:
		d.zscan(k)
		return
	case 53, 54:
		c = []string{"ZRANDMEMBER", k}
		if d.r.IntN(5) > 0 {
			n := d.number(-6, 6)
			if v, err := strconv.ParseInt(n, 10, 64); err == nil && v < -1000 {
				n = "-7"
			}
			c = append(c, d.pick(n, n, "10", "-10", "200", "-9223372036854775808", "9223372036854775807", "4611686018427387904"))
			if d.r.IntN(2) == 0 {
				c = append(c, d.kw(d.pick("WITHSCORES", "WITHSCORES", "FOO")))
			}
			if d.r.IntN(8) == 0 {
				// huge negative counts only where they are refused
				// (out of range with WITHSCORES): otherwise both servers
				// would reply that many picks
				c = append(c[:2], d.pick("-9223372036854775807", "-4611686018427387905", "-9223372036854775808"), "WITHSCORES")
			}
		}
		d.zrandmember(c)
		return
	case 55:
		c = []string{"ZADD", k, d.pick("1", "2", "0"), member()}
		if d.r.IntN(2) == 0 {
			c = append(c, d.pick("1", "2", "0"), member())
		}
	default:
		c = []string{"EXISTS", k}
	}
	if c[0] == "ZRANDMEMBER" { // from the wrong-arity case
		d.zrandmember(c)
		return
	}
	if d.lexUndefined(c) {
		c = []string{"EXISTS", k}
	}
	w, g := d.send(c...)
	if w != g {
		// the key as it is now on redis-server, to help reading the failure
		state := ""
		if len(c) > 1 && d.digests == nil {
			state = d.redis.Do("OBJECT", "ENCODING", c[1]) + d.redis.Do("ZRANGE", c[1], "0", "-1", "WITHSCORES")
		}
		d.fail("%s:\n ferry %q\n redis %q\n redis-server's %q now: %q", quoteArgs(c), g, w, c[1], state)
	}
}

// zscan runs a full ZSCAN of key with random options on both servers. A
// listpack set is scanned in one call, in its order: those replies must
// match exactly; a skiplist set's order comes from the hash table, so its
// pairs are compared as a set.
func (d *diff) zscan(key string) {
	d.t.Helper()
	var opts []string
	for i := d.r.IntN(3); i > 0; i-- {
		switch opt := d.pick("MATCH", "COUNT", "match", "NOVALUES", "FOO"); opt {
		case "MATCH", "match":
			opts = append(opts, d.kw(opt), d.pick("*", "a*", "?", "m1*", "[ab]", "*\x00*", "", "\\"))
		case "COUNT":
			opts = append(opts, d.kw(opt), d.pick("1", "2", "10", "1000", "0", "-1", "x"))
		default:
			opts = append(opts, opt)
		}
	}
	if d.digests == nil && d.redis.Do("OBJECT", "ENCODING", key) != "$8\r\nskiplist\r\n" {
		d.do(append([]string{"ZSCAN", key, d.pick("0", "0", "0", "x", "-1", "")}, opts...)...)
		return
	}
	all := func(c diffConn) (string, []string) {
		cursor, pairs := "0", map[string]bool{}
		for i := 0; i < 1000; i++ {
			reply := c.Do(append([]string{"ZSCAN", key, cursor}, opts...)...)
			if reply[0] == '-' {
				return reply, nil
			}
			els := zParseFlat(d.t, reply)
			if len(els)%2 != 1 {
				d.fail("ZSCAN %q %q: odd reply %q", key, cursor, reply)
			}
			for j := 1; j < len(els); j += 2 {
				pairs[els[j]+"\x00"+els[j+1]] = true
			}
			if cursor = els[0]; cursor == "0" {
				out := make([]string, 0, len(pairs))
				for p := range pairs {
					out = append(out, p)
				}
				return "", out
			}
		}
		d.fail("ZSCAN %q did not end after 1000 calls", key)
		return "", nil
	}
	d.hist = append(d.hist, "# full iteration of: "+quoteArgs(append([]string{"ZSCAN", key, "<cursor>"}, opts...)))
	first := d.redis
	if d.digests != nil {
		first = d.ferry
	}
	we, wp := all(first)
	ge, gp := all(d.ferry)
	sort.Strings(wp)
	sort.Strings(gp)
	if we != ge || strings.Join(wp, "\x01") != strings.Join(gp, "\x01") {
		d.fail("ZSCAN %q <cursor> %s:\n ferry %q %q\n redis %q %q", key, quoteArgs(opts), ge, gp, we, wp)
	}
}

// zrandmember sends a ZRANDMEMBER and compares what does not depend on the
// random picks: errors, nil, the reply's shape (array sizes, RESP3
// types), that every member picked is in the set with its score, that a
// positive count picks distinct members, and, when the count covers the
// whole set, the reply exactly (the set from its highest member down, as
// Redis's iterator gives it).
func (d *diff) zrandmember(c []string) {
	d.t.Helper()
	w, g := d.send(c...)
	if w == g {
		return
	}
	if w[0] == '-' || g[0] == '-' || zShape(w) != zShape(g) {
		d.fail("%s:\n ferry %q\n redis %q", quoteArgs(c), g, w)
	}
	// the set as ferry holds it (equal to redis-server's: DEBUG DIGEST
	// was checked after the last command)
	set := map[string]string{}
	els := zParseFlat(d.t, d.ferry.Do("ZRANGE", c[1], "0", "-1", "WITHSCORES"))
	for i := 0; i+1 < len(els); i += 2 {
		set[els[i]] = els[i+1]
	}
	withScores := len(c) == 4
	count := int64(1)
	if len(c) >= 3 {
		count, _ = strconv.ParseInt(c[2], 10, 64)
	}
	if count >= int64(len(set)) {
		d.fail("%s (the whole set):\n ferry %q\n redis %q", quoteArgs(c), g, w)
	}
	picked := zParseFlat(d.t, g)
	seen := map[string]bool{}
	step := 1
	if withScores {
		step = 2
	}
	for i := 0; i < len(picked); i += step {
		m := picked[i]
		s, ok := set[m]
		if !ok || withScores && picked[i+1] != s || count > 0 && seen[m] {
			d.fail("%s: ferry picked %q (in the set: %v, twice: %v):\n ferry %q\n redis %q", quoteArgs(c), m, ok, seen[m], g, w)
		}
		seen[m] = true
	}
}

// zShape returns a reply with its bulk strings' and doubles' contents
// left out: its types and array sizes.
func zShape(raw string) string {
	var b strings.Builder
	lines := strings.Split(raw, "\r\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case l == "":
		case l[0] == '$' && l != "$-1":
			b.WriteString("$ ")
			i++ // the contents (members hold no CR LF here)
		case l[0] == ',':
			b.WriteString(", ")
		default:
			b.WriteString(l + " ")
		}
	}
	return b.String()
}

// lexUndefined says whether c is a lex range command on a skiplist set
// whose scores differ. Redis's lex ranges assume equal scores; on a
// listpack it walks the entries in order, which ferry reproduces, but on a
// skiplist which members it finds depends on the nodes' random levels, so
// that two redis-servers disagree too: such commands are not sent.
func (d *diff) lexUndefined(c []string) bool {
	d.t.Helper()
	if d.digests != nil || len(c) < 2 {
		return false
	}
	key, lex := c[1], false
	switch c[0] {
	case "ZLEXCOUNT", "ZRANGEBYLEX", "ZREVRANGEBYLEX", "ZREMRANGEBYLEX":
		lex = true
	case "ZRANGESTORE":
		if len(c) < 3 {
			return false
		}
		key = c[2]
	}
	for _, a := range c {
		if i := strings.IndexByte(a, 0); i >= 0 {
			a = a[:i]
		}
		lex = lex || strings.EqualFold(a, "BYLEX")
	}
	if !lex || d.redis.Do("OBJECT", "ENCODING", key) != "$8\r\nskiplist\r\n" {
		return false
	}
	first := zParseFlat(d.t, d.redis.Do("ZRANGE", key, "0", "0", "WITHSCORES"))
	last := zParseFlat(d.t, d.redis.Do("ZRANGE", key, "-1", "-1", "WITHSCORES"))
	return len(first) != 2 || len(last) != 2 || first[1] != last[1]
}
