package command_test

import (
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestRandomHashAgainstRedis runs random hash commands (HSET, HSETNX,
// HMSET, HGET, HMGET, HGETALL, HKEYS, HVALS, HDEL, HEXISTS, HLEN, HSTRLEN,
// HINCRBY, HINCRBYFLOAT with odd numbers, HRANDFIELD, HSCAN) on ferry and
// redis-server over small (listpack) and large (hashtable) hashes, with
// binary fields, keyword oddities, wrong arities, keys of other types and
// CONFIG SET of the listpack limits, and compares every reply, OBJECT
// ENCODING and DEBUG DIGEST; see random_diff_test.go. Replies in hash
// table order (README.md: they depend on the hash function's seed) are
// compared as sets, with their type and length; random picks (HRANDFIELD)
// by their shape and by the fields being in the hash.
func TestRandomHashAgainstRedis(t *testing.T) {
	runDiff(t, 1500, hashStep)
}

// hashEncodingDefaults are the listpack limits a run starts with.
var hashEncodingDefaults = [][]string{
	{"CONFIG", "SET", "hash-max-listpack-entries", "128"},
	{"CONFIG", "SET", "hash-max-listpack-value", "64"},
}

func hashStep(d *diff) {
	if !d.marks["hash-config"] {
		d.marks["hash-config"] = true
		for _, c := range hashEncodingDefaults {
			d.do(c...)
		}
	}
	key := func() string { return d.pick("h0", "h1", "h2", "h0", "h1", "hb", "str", "set") }
	field := func() string {
		switch d.r.IntN(10) {
		case 0:
			return d.pick(oddNumbers...)
		case 1:
			return d.pick("", "\x00", "f\x00g", "\xff\xfe", "é", strings.Repeat("F", 64), strings.Repeat("F", 65))
		case 2, 3:
			return "bf" + strconv.Itoa(d.r.IntN(300)) // the fields of the large hash
		}
		return d.pick("a", "b", "c", "d", "e", "1", "2", "-1")
	}
	val := func() string {
		switch d.r.IntN(8) {
		case 0:
			return d.pick(oddNumbers...)
		case 1:
			return d.pick("", "\x00\xff\r\n", "hello", strings.Repeat("v", 64), strings.Repeat("v", 65), "é")
		case 2:
			return d.pick("9223372036854775807", "-9223372036854775808", "1.5", "1e10", "3.0", "0.1", "-0", "1.7976931348623157e308")
		}
		return d.n(-20, 20)
	}
	incr := func() string {
		if d.r.IntN(3) == 0 {
			return d.pick(oddNumbers...)
		}
		return d.n(-100, 100)
	}
	fincr := func() string {
		switch d.r.IntN(4) {
		case 0:
			return d.pick(oddNumbers...)
		case 1:
			return d.pick("1e400", "-1e400", "1e4932", "1e4933", "1e-400", "1e-5000", "0x1p3", "1.5e", "e5", "1e+5", "1E5",
				"  1.5", "1.5  ", "\t1", "1.000000000000000000001", "123456789012345678901234567890", "-0.0", "infinity",
				"-nan", "NaN", "0.1", "-3.25", "5.0e3", "10.5", "1.1e-10")
		}
		return d.n(-100, 100)
	}
	k := key()
	var c []string
	switch d.r.IntN(45) {
	case 0, 1, 2, 3:
		c = []string{d.pick("HSET", "HSET", "HMSET"), k}
		for i := d.r.IntN(4); i >= 0; i-- {
			c = append(c, field(), val())
		}
	case 4:
		c = []string{"HSETNX", k, field(), val()}
	case 5, 6:
		c = []string{"HGET", k, field()}
	case 7:
		c = []string{"HMGET", k}
		for i := d.r.IntN(5); i >= 0; i-- {
			c = append(c, field())
		}
	case 8, 9:
		c = []string{d.pick("HGETALL", "HKEYS", "HVALS"), k}
	case 10, 11:
		c = []string{"HDEL", k}
		for i := d.r.IntN(4); i >= 0; i-- {
			c = append(c, field())
		}
	case 12:
		c = []string{"HEXISTS", k, field()}
	case 13:
		c = []string{"HLEN", k}
	case 14:
		c = []string{"HSTRLEN", k, field()}
	case 15, 16:
		c = []string{"HINCRBY", k, field(), incr()}
	case 17, 18:
		c = []string{"HINCRBYFLOAT", k, field(), fincr()}
	case 19, 20:
		hrandfield(d, k)
		return
	case 21, 22:
		hscanStep(d, k, field)
		return
	case 23:
		// a large hash, hashtable-encoded at the default limits
		c = []string{"HSET", "hb"}
		for i := 100 + d.r.IntN(100); i > 0; i-- {
			c = append(c, "bf"+strconv.Itoa(d.r.IntN(300)), d.pick("1", "x", "-5", "2.5", strings.Repeat("w", 30)))
		}
	case 24:
		// the listpack limits, sometimes small (aliases too)
		if d.r.IntN(2) == 0 {
			c = []string{"CONFIG", "SET", d.pick("hash-max-listpack-entries", "hash-max-ziplist-entries"), d.pick("0", "1", "2", "3", "5", "8", "128", "128", "512")}
		} else {
			c = []string{"CONFIG", "SET", d.pick("hash-max-listpack-value", "hash-max-ziplist-value"), d.pick("0", "1", "2", "3", "5", "8", "64", "64", "200")}
		}
	case 25, 26:
		c = []string{"OBJECT", "ENCODING", k}
	case 27:
		c = []string{"SET", "str", val()}
	case 28:
		c = []string{"SADD", "set", val()}
	case 29:
		c = []string{"DEL", k}
	case 30:
		c = []string{"TYPE", k}
	case 31:
		// wrong arity
		cmd := d.pick("HSET", "HSETNX", "HMSET", "HGET", "HMGET", "HGETALL", "HKEYS", "HVALS", "HDEL", "HEXISTS",
			"HLEN", "HSTRLEN", "HINCRBY", "HINCRBYFLOAT", "HRANDFIELD", "HSCAN")
		c = []string{cmd}
		for i := d.r.IntN(6); i > 0; i-- {
			c = append(c, key())
		}
		if cmd == "HRANDFIELD" {
			c = c[:1] // with a key, a random pick, compared in hrandfield
		}
	case 32:
		// integers at the edges, for HINCRBY's overflow and HINCRBYFLOAT
		c = []string{"HSET", k, d.pick("a", "b", "1"), d.pick("9223372036854775807", "-9223372036854775808", "9223372036854775806",
			"-9223372036854775807", "1e308", "-1.7976931348623157e308", "1.18973149535723176502e+4932", "0x10", " 1", "1 ", "")}
	case 33:
		c = []string{"HINCRBY", k, d.pick("a", "b", "1"), d.pick("9223372036854775807", "-9223372036854775808", "1", "-1", "2", "-2")}
	case 34:
		c = []string{"HINCRBYFLOAT", k, d.pick("a", "b", "1"), d.pick("1e308", "-1e308", "1.7976931348623157e308", "1e4932", "-1e4932", "1.18973149535723176502e+4932", "1", "-1")}
	case 35:
		c = []string{"HGET", "hb", "bf" + strconv.Itoa(d.r.IntN(300))}
	case 36:
		c = []string{d.pick("HEXISTS", "HSTRLEN"), "hb", "bf" + strconv.Itoa(d.r.IntN(300))}
	case 37:
		c = []string{"HLEN", "hb"}
	case 38:
		// a field or value just at or past hash-max-listpack-value
		c = []string{"HSET", k, field(), strings.Repeat("x", d.pick2(0, 1, 2, 3, 4, 5, 8, 9, 63, 64, 65))}
	case 39:
		c = []string{"HSETNX", k, d.pick("a", "b", strings.Repeat("L", 65)), strings.Repeat("y", d.pick2(1, 3, 64, 65))}
	default:
		c = []string{"EXISTS", k}
	}
	switch c[0] {
	case "HGETALL", "HKEYS", "HVALS":
		if len(c) != 2 {
			break
		}
		group := 1
		if c[0] == "HGETALL" {
			group = 2
		}
		d.doUnordered(d.hashOrdered(c[1]), group, c...)
		return
	}
	d.do(c...)
}

// pick2 returns one of ns.
func (d *diff) pick2(ns ...int) int { return ns[d.r.IntN(len(ns))] }

// enc returns redis-server's OBJECT ENCODING reply for key (not recorded:
// it changes nothing).
func (d *diff) enc(key string) string { return d.redis.Do("OBJECT", "ENCODING", key) }

// hashOrdered reports whether replies listing key's hash come in a
// defined order: it is missing or listpack-encoded on redis-server.
func (d *diff) hashOrdered(key string) bool {
	if d.digests != nil {
		return true
	}
	e := d.enc(key)
	return e != "$9\r\nhashtable\r\n"
}

// doUnordered sends c and, unless ordered, compares the replies by their
// first line (type and length) and their elements sorted in groups of
// group (2 for field-value pairs); errors and ordered replies exactly.
func (d *diff) doUnordered(ordered bool, group int, c ...string) (redis, ferry string) {
	d.t.Helper()
	w, g := d.send(c...)
	if w == g {
		return w, g
	}
	if ordered || w[0] == '-' || g[0] == '-' || firstLine(w) != firstLine(g) || groupSorted(d, w, group, false) != groupSorted(d, g, group, false) {
		d.fail("%s:\n ferry %q\n redis %q", quoteArgs(c), g, w)
	}
	return w, g
}

// firstLine returns a reply's first line.
func firstLine(raw string) string {
	if i := strings.IndexByte(raw, '\n'); i >= 0 {
		return raw[:i+1]
	}
	return raw
}

// groupSorted returns the strings a reply holds (the first one left out
// when skipFirst, as a SCAN cursor), grouped by group and sorted.
func groupSorted(d *diff, raw string, group int, skipFirst bool) string {
	d.t.Helper()
	els := zParseFlat(d.t, raw)
	if skipFirst && len(els) > 0 {
		els = els[1:]
	}
	return strings.Join(groups(els, group), ",")
}

// groups returns els in groups of n, each rendered quoted, sorted.
func groups(els []string, n int) []string {
	var out []string
	for i := 0; i < len(els); i += n {
		var b strings.Builder
		for j := i; j < i+n && j < len(els); j++ {
			b.WriteString(strconv.Quote(els[j]))
		}
		out = append(out, b.String())
	}
	sort.Strings(out)
	return out
}

// hashContents returns ferry's hash at key, field to value (not recorded).
func (d *diff) hashContents(key string) map[string]string {
	m := map[string]string{}
	r := d.ferry.Do("HGETALL", key)
	if r[0] == '-' {
		return m
	}
	els := zParseFlat(d.t, r)
	for i := 0; i+1 < len(els); i += 2 {
		m[els[i]] = els[i+1]
	}
	return m
}

// hrandfield sends HRANDFIELD with random arguments. Which fields come back
// is random, in a different way on each server (README.md): the reply's
// shape must agree, and what ferry returns must be in the hash (distinct
// for a positive count); a count covering the hash returns it whole.
func hrandfield(d *diff, k string) {
	c := []string{"HRANDFIELD", k}
	withValues := false
	if d.r.IntN(5) > 0 {
		n := d.number(-6, 8)
		if d.r.IntN(4) == 0 {
			// near the hash's size: the strategies depend on the ratio
			n = strconv.FormatInt(max(1, sizeOf(d, "HLEN", k)-int64(d.r.IntN(4))*int64(d.r.IntN(40))/10), 10)
		}
		if v, err := strconv.ParseInt(n, 10, 64); err == nil && v < -1000 {
			n = "-7" // a huge negative count replies that many fields
		}
		c = append(c, n)
		switch d.r.IntN(6) {
		case 0, 1:
			c = append(c, d.kw("WITHVALUES"))
			withValues = true
		case 2:
			c = append(c, d.pick("WITHSCORES", "VALUES", ""))
		case 3:
			c = append(c, "WITHVALUES", "x")
		}
	}
	if d.r.IntN(20) == 0 {
		// past LONG_MAX/2: refused with WITHVALUES (or out of range)
		c = []string{"HRANDFIELD", k, d.pick("-9223372036854775807", "-4611686018427387904", "4611686018427387903", "4611686018427387904",
			"9223372036854775807", "-9223372036854775808"), "WITHVALUES"}
		withValues = true
	}
	if d.digests != nil {
		d.send(c...)
		return
	}
	before := d.hashContents(k)
	w, g := d.send(c...)
	if w == g {
		return
	}
	bad := func() { d.fail("%s:\n ferry %q\n redis %q", quoteArgs(c), g, w) }
	if w[0] == '-' || g[0] == '-' || w[0] != g[0] {
		bad()
	}
	if len(c) == 2 {
		// one field or a null
		els := zParseFlat(d.t, g)
		if w[:3] == "$-1" || g[:3] == "$-1" {
			bad()
		}
		if len(els) != 1 {
			bad()
		}
		if _, ok := before[els[0]]; !ok {
			bad()
		}
		return
	}
	if firstLine(w) != firstLine(g) {
		bad()
	}
	count, _ := strconv.ParseInt(c[2], 10, 64)
	group := 1
	if withValues {
		group = 2
	}
	if count >= int64(len(before)) {
		// the whole hash, in hash table order
		if d.hashOrdered(k) || groupSorted(d, w, group, false) != groupSorted(d, g, group, false) {
			bad()
		}
		return
	}
	we, ge := zParseFlat(d.t, w), zParseFlat(d.t, g)
	if len(we) != len(ge) {
		bad()
	}
	seen := map[string]bool{}
	for i := 0; i < len(ge); i += group {
		v, ok := before[ge[i]]
		if !ok || (withValues && ge[i+1] != v) || (count > 0 && seen[ge[i]]) {
			bad()
		}
		seen[ge[i]] = true
	}
}

// hscanStep sends HSCAN with random options: a listpack hash comes whole
// in one call whatever the cursor, compared exactly; a hashtable one is
// iterated from cursor 0 to the end on both servers and the pairs compared
// as sets (other cursors point into hash tables laid out differently:
// only errors are compared).
func hscanStep(d *diff, k string, field func() string) {
	elemScanStep(d, "HSCAN", k, 2, d.hashOrdered(k), func() string {
		return d.pick("*", "a*", "?", "bf1*", "bf[0-2]?", "b*", "*1", "", "\\", "[", "*\x00*", field())
	}, []string{"NOVALUES", "novalues", "WITHSCORES"})
}

// elemScanStep sends HSCAN, SSCAN or (group 2 for pairs) with random
// options on key: in one call when ordered (a compact encoding, returned
// whole) or the cursor is bad, else as a full iteration from cursor 0.
func elemScanStep(d *diff, cmd, k string, group int, ordered bool, pattern func() string, extra []string) {
	cursor := "0"
	if d.r.IntN(4) == 0 {
		cursor = d.pick("abc", "-1", " 0", "0 ", "+0", "18446744073709551615", "18446744073709551616", "1.5", "", "1", "7", "0x1", "00")
	}
	var opts []string
	for i := d.r.IntN(4); i > 0; i-- {
		switch opt := d.pick("MATCH", "COUNT", "match", "count", "FOO", "TYPE"); opt {
		case "MATCH", "match":
			opts = append(opts, d.kw(opt), pattern())
		case "COUNT", "count":
			opts = append(opts, d.kw(opt))
			if d.r.IntN(12) > 0 {
				opts = append(opts, d.pick("1", "2", "5", "10", "1000", "0", "-1", "x", "9223372036854775807", "9223372036854775808", "4611686018427387904"))
			}
		case "TYPE":
			opts = append(opts, opt, "hash")
		default:
			opts = append(opts, opt)
		}
	}
	if d.r.IntN(8) == 0 {
		opts = append(opts, d.pick(extra...))
	}
	c := append([]string{cmd, k, cursor}, opts...)
	if d.digests != nil || ordered {
		d.do(c...)
		return
	}
	if cursor != "0" {
		w, g := d.send(c...)
		if w != g && (w[0] == '-' || g[0] == '-') {
			d.fail("%s:\n ferry %q\n redis %q", quoteArgs(c), g, w)
		}
		return
	}
	all := func(conn diffConn) (string, []string) {
		cur, seen := "0", map[string]bool{}
		for i := 0; i < 100000; i++ {
			reply := conn.Do(append([]string{cmd, k, cur}, opts...)...)
			if reply[0] == '-' {
				return reply, nil
			}
			els := zParseFlat(d.t, reply)
			for _, e := range groups(els[1:], group) {
				seen[e] = true
			}
			if cur = els[0]; cur == "0" {
				out := make([]string, 0, len(seen))
				for e := range seen {
					out = append(out, e)
				}
				sort.Strings(out)
				return "", out
			}
		}
		d.fail("%s did not end after 100000 calls", quoteArgs(c))
		return "", nil
	}
	d.hist = append(d.hist, "# full iteration of: "+quoteArgs(append([]string{cmd, k, "<cursor>"}, opts...)))
	we, wk := all(d.redis)
	ge, gk := all(d.ferry)
	if we != ge || strings.Join(wk, ",") != strings.Join(gk, ",") {
		d.fail("%s <cursor> %s:\n ferry %q %q\n redis %q %q", cmd, quoteArgs(opts), ge, gk, we, wk)
	}
}
