package command_test

import (
	"strconv"
	"strings"
	"testing"
)

// TestRandomKeysAgainstRedis runs random generic key commands (DEL,
// EXISTS, TYPE, RENAME, COPY, MOVE, the EXPIRE family with NX XX GT LT,
// PERSIST, TTLs, OBJECT ENCODING, SELECT, SWAPDB, KEYS, SCAN) over keys of
// every type in three databases on ferry and redis-server, and compares
// every reply and DEBUG DIGEST; see random_diff_test.go. KEYS is compared
// as a set, as is the union of a full SCAN (README.md: their order comes
// from the hash table's seed); TTL and PTTL by class (-2, -1, or counting
// down: the remaining time depends on when each server read its clock).
func TestRandomKeysAgainstRedis(t *testing.T) {
	runDiff(t, 1000, keysStep)
}

var diffKeyNames = []string{"a", "b", "ab", "abc", "k1", "k2", "k10", "h[e]llo", "x*y", "", "\xff\x00"}

func keysStep(d *diff) {
	key := func() string { return d.pick(diffKeyNames...) }
	db := func() string {
		if d.r.IntN(8) == 0 {
			return d.pick("16", "-1", "x", "1.0", "-0", "+1", " 1", "9223372036854775808", "")
		}
		return d.n(0, 2)
	}
	rel := func() string {
		if d.r.IntN(4) == 0 {
			return d.pick(d.oddTime(), "-5", "0", "9223372036854775807", "-9223372036854775808", "9223372036854775", "9223372036854776")
		}
		// Whole multiples of 10 s: GT and LT compare a relative time with
		// one set earlier, and the two servers' clocks differ by a
		// fraction of a millisecond; with times 10 s apart, that
		// difference never changes the outcome.
		return strconv.Itoa((10 + d.r.IntN(10)) * 10000)
	}
	abs := func(ms bool) string {
		if d.r.IntN(5) == 0 {
			return d.pick(d.oddTime(), "0", "-1", "9223372036854775807", "9223372036854775", "1")
		}
		t := d.now + 1000 + int64(d.r.IntN(1000))
		if d.r.IntN(6) == 0 {
			t = d.now - 1000
		}
		if ms {
			return strconv.FormatInt(t*1000+int64(d.r.IntN(1000)), 10)
		}
		return strconv.FormatInt(t, 10)
	}
	pattern := func() string {
		return d.pick("*", "a*", "?", "??", "m1*", "m?", "m[1-3]?", "k[0-9]*", "k[^1]*", "h\\[e\\]llo", "h[e]llo", "x\\*y", "*[", "[a-", "[z-a]*", "\\", "*b*", "", "k1?", "[!a]*", "\\xff*")
	}
	k := key()
	relative := false
	var c []string
	switch d.r.IntN(45) {
	case 0, 1:
		c = []string{"SET", k, d.pick("1", "v", "12345678901234567890", strings.Repeat("z", 50), "-0", "")}
	case 2:
		c = []string{"RPUSH", k, "x", "y"}
	case 3:
		c = []string{"SADD", k, d.pick("1", "m"), d.pick("2", "n")}
	case 4:
		c = []string{"ZADD", k, "1", "m"}
	case 5:
		c = []string{"HSET", k, "f", "v"}
	case 6:
		c = []string{"XADD", k, "1-1", "f", "v"}
	case 7:
		c = []string{d.pick("DEL", "UNLINK"), k, key(), key()}
	case 8:
		c = []string{"EXISTS", k, key(), k}
	case 9:
		c = []string{"TYPE", k}
	case 10, 11:
		c = []string{d.pick("RENAME", "RENAMENX"), k, key()}
	case 12, 13:
		c = []string{"COPY", k, key()}
		for i := d.r.IntN(3); i > 0; i-- {
			switch opt := d.pick("DB", "REPLACE", "db", "replace", "FOO"); opt {
			case "DB", "db":
				c = append(c, d.kw(opt))
				if d.r.IntN(10) > 0 {
					c = append(c, db())
				}
			default:
				c = append(c, d.kw(opt))
			}
		}
	case 14:
		c = []string{"MOVE", k, db()}
	case 15, 16, 17:
		cmd := d.pick("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT")
		c = []string{cmd, k}
		switch cmd {
		case "EXPIRE", "PEXPIRE":
			c = append(c, rel())
			relative = true
		default:
			c = append(c, abs(cmd == "PEXPIREAT"))
		}
		for i := d.r.IntN(3); i > 0; i-- {
			c = append(c, d.kw(d.pick("NX", "XX", "GT", "LT", "gt", "FOO", "F\r\nOO", "\x00x")))
		}
	case 18:
		c = []string{"PERSIST", k}
	case 19:
		c = []string{d.pick("TTL", "PTTL"), k}
	case 20, 21:
		c = []string{d.pick("EXPIRETIME", "PEXPIRETIME"), k}
	case 22:
		c = []string{"OBJECT", d.pick("ENCODING", "encoding", "FOO"), k}
	case 23:
		c = []string{"DBSIZE"}
	case 24, 25:
		c = []string{"SELECT", db()}
	case 26:
		c = []string{"SWAPDB", db(), db()}
	case 27, 28:
		c = []string{"KEYS", pattern()}
	case 29, 30, 31:
		d.scan(pattern)
		return
	case 32:
		cmd := d.pick("DEL", "UNLINK", "EXISTS", "TYPE", "RENAME", "RENAMENX", "COPY", "MOVE", "EXPIRE", "PEXPIRE",
			"EXPIREAT", "PEXPIREAT", "PERSIST", "TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "OBJECT", "DBSIZE",
			"SELECT", "SWAPDB", "KEYS")
		c = []string{cmd}
		for i := d.r.IntN(4); i > 0; i-- {
			c = append(c, key())
		}
	case 33:
		c = []string{"SET", k, "v", "EX", d.n(100000, 200000)}
		relative = true
	case 34:
		// odd cursors; the MATCH matches no key, so that no expired
		// key is deleted on the way (that depends on the hash table)
		c = []string{"SCAN", d.pick("abc", "-1", " 0", "0 ", "+0", "18446744073709551616", "1.5", "", "0"), "MATCH", "\x01none", "COUNT", d.pick("5", "0", "x")}
		if d.r.IntN(8) == 0 {
			c = c[:1]
		}
	case 35:
		c = []string{"GET", k}
	case 36:
		// stored, already expired: each command must treat it as Redis
		// does (DBSIZE counts it, KEYS skips it, SCAN and lookups delete it)
		c = []string{"SET", k, "old", d.pick("EXAT", "PXAT"), d.pick("1", strconv.FormatInt(d.now-100, 10))}
	case 38:
		// many keys, so that SCAN, KEYS and SWAPDB work on a larger table
		c = []string{"MSET"}
		for i := 20 + d.r.IntN(60); i > 0; i-- {
			c = append(c, "m"+strconv.Itoa(d.r.IntN(100)), d.pick("1", "v"))
		}
	case 39:
		c = []string{"SET", "m" + strconv.Itoa(d.r.IntN(100)), "old", "PXAT", "1"}
	case 40:
		c = []string{"DEL"}
		for i := 10 + d.r.IntN(40); i > 0; i-- {
			c = append(c, "m"+strconv.Itoa(d.r.IntN(100)))
		}
	case 37:
		c = []string{"FLUSHDB"}
		if d.r.IntN(3) == 0 {
			c = append(c, d.kw(d.pick("SYNC", "ASYNC", "FOO")))
		}
		if d.r.IntN(4) > 0 {
			c = []string{"DBSIZE"}
		}
	default:
		c = []string{"EXISTS", k}
	}
	switch c[0] {
	case "TTL", "PTTL":
		if len(c) == 2 {
			d.doTTL(c...)
			return
		}
	case "KEYS":
		if len(c) == 2 {
			w, g := d.send(c...)
			if w != g && (w[0] != '*' || sortedFlat(d.t, w) != sortedFlat(d.t, g)) {
				d.fail("%s:\n ferry %q\n redis %q", quoteArgs(c), g, w)
			}
			return
		}
	case "SCAN":
		// a cursor that is not 0 points into the hash table, laid out
		// differently ("" is 0 to strtoul): compare errors only
		w, g := d.send(c...)
		if w != g && (w[0] == '-' || g[0] == '-') {
			d.fail("%s:\n ferry %q\n redis %q", quoteArgs(c), g, w)
		}
		return
	}
	d.do(c...)
	if relative {
		d.alignExpiry(c[1])
	}
}

// scan runs a full SCAN with random options on both servers and compares
// the keys returned as sets (and errors exactly).
func (d *diff) scan(pattern func() string) {
	d.t.Helper()
	var opts []string
	for i := d.r.IntN(4); i > 0; i-- {
		switch opt := d.pick("MATCH", "COUNT", "TYPE", "match", "type", "FOO"); opt {
		case "MATCH", "match":
			opts = append(opts, d.kw(opt), pattern())
		case "COUNT":
			opts = append(opts, d.kw(opt), d.pick("1", "2", "10", "1000", "0", "-1", "x", "9223372036854775807", "9223372036854775808"))
		case "TYPE", "type":
			opts = append(opts, d.kw(opt), d.kw(d.pick("string", "list", "set", "zset", "hash", "stream", "STRING", "foo", "")))
		default:
			opts = append(opts, opt)
		}
	}
	all := func(c diffConn) (string, []string) {
		cursor, seen := "0", map[string]bool{}
		for i := 0; i < 1000; i++ {
			reply := c.Do(append([]string{"SCAN", cursor}, opts...)...)
			if reply[0] == '-' {
				return reply, nil
			}
			els := zParseFlat(d.t, reply)
			for _, k := range els[1:] {
				seen[k] = true
			}
			if cursor = els[0]; cursor == "0" {
				keys := make([]string, 0, len(seen))
				for k := range seen {
					keys = append(keys, k)
				}
				return "", keys
			}
		}
		d.fail("SCAN %q did not end after 1000 calls", opts)
		return "", nil
	}
	d.hist = append(d.hist, "# full iteration of: "+quoteArgs(append([]string{"SCAN", "<cursor>"}, opts...)))
	first := d.redis
	if d.digests != nil {
		first = d.ferry // a replication run: twice on the master
	}
	we, wk := all(first)
	ge, gk := all(d.ferry)
	if we != ge || sortedFlat(d.t, arrayReply(wk)) != sortedFlat(d.t, arrayReply(gk)) {
		d.fail("SCAN <cursor> %s:\n ferry %q %q\n redis %q %q", quoteArgs(opts), ge, gk, we, wk)
	}
}

// arrayReply encodes strings as a RESP array of bulk strings.
func arrayReply(els []string) string {
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(els)) + "\r\n")
	for _, e := range els {
		b.WriteString("$" + strconv.Itoa(len(e)) + "\r\n" + e + "\r\n")
	}
	return b.String()
}
