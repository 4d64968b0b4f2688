package command_test

import (
	"strconv"
	"strings"
	"testing"
)

// TestRandomSetAgainstRedis runs random set commands (SADD, SREM,
// SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SPOP, SRANDMEMBER, SMOVE, SINTER,
// SINTERCARD, SINTERSTORE, SUNION, SUNIONSTORE, SDIFF, SDIFFSTORE, SSCAN)
// on ferry and redis-server with integers at the edges of Redis's
// string2ll, binary members, wrong arities, keys of other types and
// CONFIG SET of set-max-intset-entries, and compares every reply, OBJECT
// ENCODING (intset or hashtable: Redis 7.0 has no listpack sets) and DEBUG
// DIGEST; see random_diff_test.go. Replies in hash table order (README.md)
// are compared as sets, with their type and length; intset replies exactly.
// Random picks (SPOP, SRANDMEMBER) by their shape and by the members being
// in the set; an SPOP that leaves members behind is followed by a DEL of
// the key on both servers, which then hold the same again.
func TestRandomSetAgainstRedis(t *testing.T) {
	runDiff(t, 1500, setStep)
}

func setStep(d *diff) {
	if !d.marks["set-config"] {
		d.marks["set-config"] = true
		d.do("CONFIG", "SET", "set-max-intset-entries", "512")
	}
	key := func() string { return d.pick("s0", "s1", "s2", "s0", "s1", "sb", "str", "hash") }
	member := func() string {
		switch d.r.IntN(10) {
		case 0:
			return d.pick(oddNumbers...)
		case 1:
			return d.pick("", "\x00", "a\x00b", "\xff", "é", strings.Repeat("m", 70), "0x", "00", "-00", "+0", "1e2",
				"9223372036854775808", "-9223372036854775809", "9223372036854775807", "-9223372036854775808")
		case 2, 3:
			return d.pick("a", "b", "c", "d")
		case 4:
			return strconv.Itoa(d.r.IntN(300)) // the members of the large set
		}
		return d.n(-10, 10)
	}
	members := func(max int) []string {
		m := []string{member()}
		for i := d.r.IntN(max); i > 0; i-- {
			m = append(m, member())
		}
		return m
	}
	keys := func() []string {
		k := []string{key()}
		for i := d.r.IntN(3); i > 0; i-- {
			k = append(k, key())
		}
		return k
	}
	k := key()
	var c []string
	switch d.r.IntN(48) {
	case 0, 1, 2, 3:
		c = append([]string{"SADD", k}, members(4)...)
	case 4, 5:
		c = append([]string{"SREM", k}, members(3)...)
	case 6, 7:
		c = []string{"SMEMBERS", k}
	case 8:
		c = []string{"SISMEMBER", k, member()}
	case 9:
		c = append([]string{"SMISMEMBER", k}, members(4)...)
	case 10:
		c = []string{"SCARD", k}
	case 11, 12, 13:
		spop(d, k)
		return
	case 14, 15:
		srandmember(d, k)
		return
	case 16, 17:
		c = []string{"SMOVE", k, key(), member()}
	case 18, 19:
		c = append([]string{d.pick("SINTER", "SUNION", "SDIFF")}, keys()...)
	case 20, 21:
		c = append([]string{d.pick("SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"), key()}, keys()...)
	case 22, 23:
		ks := keys()
		n := strconv.Itoa(len(ks))
		switch d.r.IntN(8) {
		case 0:
			n = d.pick(oddNumbers...)
		case 1:
			n = strconv.Itoa(len(ks) + 1 - 2*d.r.IntN(2))
		}
		c = append([]string{"SINTERCARD", n}, ks...)
		for i := d.r.IntN(3); i > 0; i-- {
			switch d.r.IntN(5) {
			case 0:
				c = append(c, d.kw("LIMIT"))
			case 1:
				c = append(c, d.pick("FOO", "COUNT", "0"))
			default:
				c = append(c, d.kw("LIMIT"), d.number(-1, 5))
			}
		}
	case 24, 25:
		elemScanStep(d, "SSCAN", k, 1, d.setOrdered(k), func() string {
			return d.pick("*", "1*", "?", "-*", "[0-2]*", "a*", "*0", "", "\\", "[", "*\x00*", member())
		}, []string{"NOVALUES", "WITHSCORES", "novalues"})
		return
	case 26:
		// a large set, hashtable-encoded (or intset, at a larger limit)
		c = []string{"SADD", "sb"}
		for i := 100 + d.r.IntN(500); i > 0; i-- {
			c = append(c, strconv.Itoa(d.r.IntN(700)))
		}
		if d.r.IntN(3) == 0 {
			c = append(c, "x")
		}
	case 27:
		c = []string{"CONFIG", "SET", "set-max-intset-entries", d.pick("0", "1", "2", "3", "5", "8", "512", "512", "1000", "-1")}
	case 28, 29:
		c = []string{"OBJECT", "ENCODING", k}
	case 30:
		c = []string{"SET", "str", member()}
	case 31:
		c = []string{"HSET", "hash", member(), "v"}
	case 32:
		c = []string{"DEL", k}
	case 33:
		c = []string{"TYPE", k}
	case 34:
		// wrong arity
		cmd := d.pick("SADD", "SREM", "SMEMBERS", "SISMEMBER", "SMISMEMBER", "SCARD", "SPOP", "SRANDMEMBER", "SMOVE",
			"SINTER", "SINTERCARD", "SINTERSTORE", "SUNION", "SUNIONSTORE", "SDIFF", "SDIFFSTORE", "SSCAN")
		c = []string{cmd}
		for i := d.r.IntN(3); i > 0; i-- {
			c = append(c, key())
		}
		if cmd == "SPOP" || cmd == "SRANDMEMBER" {
			c = c[:1] // with a key, a random pick, compared in spop and srandmember
		}
		if cmd == "SINTERCARD" && len(c) > 1 && d.r.IntN(2) == 0 {
			c[1] = "1"
		}
	case 35:
		c = []string{d.pick("SISMEMBER", "SREM"), "sb", strconv.Itoa(d.r.IntN(700))}
	case 36:
		c = []string{"SCARD", "sb"}
	case 37:
		// integer-like members that are not string2ll's integers
		c = []string{"SADD", k, d.pick("-0", "+1", "0x1", "01", " 1", "1 ", "9223372036854775808", "-9223372036854775809", "1.0", "-", "")}
	default:
		c = []string{"EXISTS", k}
	}
	switch c[0] {
	case "SMEMBERS", "SINTER", "SUNION", "SDIFF":
		if len(c) < 2 || (c[0] == "SMEMBERS" && len(c) != 2) {
			break
		}
		d.doUnordered(d.setOpOrdered(c[0], c[1:]), 1, c...)
		return
	}
	d.do(c...)
}

// setOrdered reports whether replies listing key's set come in a defined
// order: it is missing or intset-encoded (ascending) on redis-server.
func (d *diff) setOrdered(key string) bool {
	if d.digests != nil {
		return true
	}
	return d.enc(key) != "$9\r\nhashtable\r\n"
}

// redisInt asks redis-server for an integer reply (not recorded).
func (d *diff) redisInt(args ...string) int64 {
	r := d.redis.Do(args...)
	n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(r, ":"), "\r\n"), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// setOpOrdered reports whether SMEMBERS, SINTER, SUNION or SDIFF of keys
// replies in a defined order: SINTER walks its smallest set, the others
// build a new set, an intset (ascending) while every member is an integer
// and there are at most set-max-intset-entries of them.
func (d *diff) setOpOrdered(cmd string, keys []string) bool {
	if d.digests != nil {
		return true
	}
	for _, k := range keys {
		if e := d.enc(k); e != "$6\r\nintset\r\n" && e[0] != '_' && !strings.HasPrefix(e, "$-1") {
			return false
		}
	}
	limit := int64(512)
	if r := zParseFlat(d.t, d.redis.Do("CONFIG", "GET", "set-max-intset-entries")); len(r) == 2 {
		limit, _ = strconv.ParseInt(r[1], 10, 64)
	}
	switch cmd {
	case "SUNION":
		// the union's size, from a scratch key on redis-server only
		n := d.redisInt(append([]string{"SUNIONSTORE", "\x00scratch"}, keys...)...)
		d.redis.Do("DEL", "\x00scratch")
		return n <= limit
	case "SDIFF":
		return d.redisInt("SCARD", keys[0]) <= limit
	}
	return true
}

// setContents returns ferry's set at key (not recorded).
func (d *diff) setContents(key string) map[string]bool {
	m := map[string]bool{}
	r := d.ferry.Do("SMEMBERS", key)
	if r[0] == '-' {
		return m
	}
	for _, e := range zParseFlat(d.t, r) {
		m[e] = true
	}
	return m
}

// pickCommand returns SPOP (pop) or SRANDMEMBER of key k with, most of
// the time, a random count and now and then an argument too many.
func pickCommand(d *diff, name, k string, pop bool) []string {
	c := []string{name, k}
	if d.r.IntN(4) > 0 {
		c = append(c, d.randomCount(k, pop))
		if d.r.IntN(12) == 0 {
			c = append(c, d.pick("1", "x"))
		}
	}
	return c
}

// randomCount returns a count for SPOP or SRANDMEMBER on key: small, near
// the set's size (for the strategies chosen by the ratio of the two), or
// odd (a huge negative one only for SPOP, which refuses it: SRANDMEMBER
// would reply that many members).
func (d *diff) randomCount(key string, spop bool) string {
	if d.r.IntN(4) == 0 {
		return strconv.FormatInt(max(1, sizeOf(d, "SCARD", key)-int64(d.r.IntN(4))*int64(d.r.IntN(40))/10), 10)
	}
	n := d.number(-5, 8)
	if v, err := strconv.ParseInt(n, 10, 64); err == nil && v < -1000 && !spop {
		return "-3"
	}
	return n
}

// spop sends SPOP with random arguments. Which members it pops is random,
// in a different way on each server (README.md): the reply's shape must
// agree, and what ferry pops must have been in the set (distinct). A pop
// that leaves members behind leaves different ones on each server, so the
// key is then deleted on both (in the history as a DEL) to make them equal.
func spop(d *diff, k string) {
	c := pickCommand(d, "SPOP", k, true)
	if d.digests != nil {
		d.send(c...)
		return
	}
	before := d.setContents(k)
	// a count covering the set replies with SUNION's reply of the key
	ordered := d.setOpOrdered("SUNION", []string{k})
	w, g := d.send(c...)
	bad := func() { d.fail("%s:\n ferry %q\n redis %q", quoteArgs(c), g, w) }
	if w == g {
		return // the same members popped, or none
	}
	if w[0] == '-' || g[0] == '-' || w[0] != g[0] || (len(c) == 3 && firstLine(w) != firstLine(g)) {
		bad()
	}
	els := zParseFlat(d.t, g)
	count, _ := strconv.ParseInt(c[len(c)-1], 10, 64)
	if len(c) == 3 && count >= int64(len(before)) {
		// the whole set (then deleted): in its order when an intset
		if ordered || groupSorted(d, w, 1, false) != groupSorted(d, g, 1, false) {
			bad()
		}
		return
	}
	if len(c) == 2 && (w[:3] == "$-1" || g[:3] == "$-1") {
		bad()
	}
	seen := map[string]bool{}
	for _, e := range els {
		if !before[e] || seen[e] {
			bad()
		}
		seen[e] = true
	}
	if d.redisInt("SCARD", k) != int64(len(before)-len(els)) {
		d.fail("%s: redis-server has %d members left of %d", quoteArgs(c), d.redisInt("SCARD", k), len(before))
	}
	d.hist = append(d.hist, "# harness: DEL after a random SPOP")
	d.do("DEL", k)
}

// srandmember sends SRANDMEMBER with random arguments: the reply's shape
// must agree, and ferry's members must be in the set (distinct for a
// positive count); a count covering the set returns it whole.
func srandmember(d *diff, k string) {
	c := pickCommand(d, "SRANDMEMBER", k, false)
	if d.digests != nil {
		d.send(c...)
		return
	}
	before := d.setContents(k)
	w, g := d.send(c...)
	if w == g {
		return
	}
	bad := func() { d.fail("%s:\n ferry %q\n redis %q", quoteArgs(c), g, w) }
	if w[0] == '-' || g[0] == '-' || w[0] != g[0] || (len(c) == 3 && firstLine(w) != firstLine(g)) {
		bad()
	}
	if len(c) == 2 && (w[:3] == "$-1" || g[:3] == "$-1") {
		bad()
	}
	els := zParseFlat(d.t, g)
	count, _ := strconv.ParseInt(c[len(c)-1], 10, 64)
	if len(c) == 3 && count >= int64(len(before)) {
		if d.setOrdered(k) || groupSorted(d, w, 1, false) != groupSorted(d, g, 1, false) {
			bad()
		}
		return
	}
	seen := map[string]bool{}
	for _, e := range els {
		if !before[e] || (count > 0 && seen[e]) {
			bad()
		}
		seen[e] = true
	}
}

// sizeOf returns ferry's SCARD or HLEN of key (not recorded: a read), or 0.
func sizeOf(d *diff, cmd, key string) int64 {
	r := d.ferry.Do(cmd, key)
	n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(r, ":"), "\r\n"), 10, 64)
	if err != nil {
		return 0
	}
	return n
}
