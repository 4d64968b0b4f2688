package command_test

import (
	"strconv"
	"strings"
	"testing"
)

// TestRandomStringAgainstRedis runs random string commands (SET with every
// option, GET and its variants, MSET, APPEND, SETRANGE, GETRANGE, the INCR
// family, LCS) on ferry and redis-server with odd numbers, bad options,
// binary values and keys of other types, and compares every reply and
// DEBUG DIGEST; see random_diff_test.go.
func TestRandomStringAgainstRedis(t *testing.T) {
	runDiff(t, 1500, func(d *diff) { stringStep(d, d.marks) })
}

// stringEncodings are OBJECT ENCODING's replies for strings.
var stringEncodings = map[string]bool{"$3\r\nint\r\n": true, "$6\r\nembstr\r\n": true, "$3\r\nraw\r\n": true}

// stringStep sends one random string command. rawish, when not nil, holds
// the keys last written by APPEND, SETRANGE or INCRBYFLOAT, whose OBJECT
// ENCODING README.md documents as different (Redis keeps raw or embstr
// where ferry decides from the content).
func stringStep(d *diff, rawish map[string]bool) {
	key := func() string { return "s" + strconv.Itoa(d.r.IntN(4)) }
	val := func() string {
		switch d.r.IntN(6) {
		case 0:
			return d.pick(oddNumbers...)
		case 1:
			return strings.Repeat("ab", d.r.IntN(40))
		case 2:
			return d.pick("", "\x00\xff\r\n", "hello", "world", "ohmytext", "mynewtext", "é")
		}
		return d.n(-20, 20)
	}
	rel := func() string {
		if d.r.IntN(5) == 0 {
			return d.oddTime()
		}
		return d.n(100000, 200000)
	}
	abs := func(ms bool) string {
		if d.r.IntN(5) == 0 {
			return d.pick(oddNumbers...)
		}
		t := d.now + 1000 + int64(d.r.IntN(1000))
		if d.r.IntN(6) == 0 {
			t = d.now - 1000 // in the past: stored, then expired when read
		}
		if ms {
			return strconv.FormatInt(t*1000+int64(d.r.IntN(1000)), 10)
		}
		return strconv.FormatInt(t, 10)
	}
	k := key()
	relative := false
	setOpts := func(getex bool) []string {
		var o []string
		opts := []string{"NX", "XX", "GET", "KEEPTTL", "EX", "PX", "EXAT", "PXAT", "nx", "ex", "get", "FOO", "PERSIST"}
		if getex {
			opts = []string{"EX", "PX", "EXAT", "PXAT", "PERSIST", "ex", "persist", "KEEPTTL", "FOO"}
		}
		for i := d.r.IntN(4); i > 0; i-- {
			opt := d.pick(opts...)
			o = append(o, d.kw(opt))
			switch strings.ToUpper(opt) {
			case "EX", "PX":
				relative = true
				if d.r.IntN(15) > 0 {
					o = append(o, rel())
				}
			case "EXAT", "PXAT":
				if d.r.IntN(15) > 0 {
					o = append(o, abs(strings.ToUpper(opt) == "PXAT"))
				}
			}
		}
		return o
	}
	var c []string
	switch d.r.IntN(42) {
	case 0, 1, 2:
		c = append([]string{"SET", k, val()}, setOpts(false)...)
	case 3:
		c = []string{"SET", k, val()}
	case 4:
		c = []string{"GET", k}
	case 5:
		c = []string{"GETSET", k, val()}
	case 6:
		c = []string{"GETDEL", k}
	case 7, 8:
		c = append([]string{"GETEX", k}, setOpts(true)...)
	case 9:
		c = []string{"SETNX", k, val()}
	case 10:
		c = []string{"SETEX", k, rel(), val()}
		relative = true
	case 11:
		c = []string{"PSETEX", k, rel(), val()}
		relative = true
	case 12:
		c = []string{"MSET", k, val(), key(), val()}
	case 13:
		c = []string{"MSETNX", k, val(), key(), val()}
	case 14:
		c = []string{"MGET", k, key(), key()}
	case 15:
		c = []string{"APPEND", k, val()}
	case 16:
		c = []string{"STRLEN", k}
	case 17:
		c = []string{"SETRANGE", k, d.number(-2, 30), val()}
	case 18:
		c = []string{d.pick("GETRANGE", "SUBSTR"), k, d.number(-30, 30), d.number(-30, 30)}
	case 19:
		c = []string{d.pick("INCR", "DECR"), k}
	case 20, 21:
		c = []string{d.pick("INCRBY", "DECRBY"), k, d.number(-100, 100)}
	case 22, 23:
		c = []string{"INCRBYFLOAT", k, d.pick(d.number(-100, 100), "0.1", "1.5e2", "-3.25", "1e-5", "5.0e3", "10.5")}
	case 24, 25:
		c = []string{"LCS", k, key()}
		for i := d.r.IntN(4); i > 0; i-- {
			switch opt := d.pick("LEN", "IDX", "MINMATCHLEN", "WITHMATCHLEN", "idx", "FOO"); opt {
			case "MINMATCHLEN":
				c = append(c, d.kw(opt), d.number(-1, 4))
			default:
				c = append(c, d.kw(opt))
			}
		}
	case 26:
		c = []string{"RPUSH", k, val()}
	case 27:
		c = []string{"DEL", k}
	case 28:
		c = []string{"TYPE", k}
	case 29:
		c = []string{"OBJECT", "ENCODING", k}
	case 30:
		c = []string{"EXPIRETIME", k}
	case 31:
		c = []string{"PEXPIRETIME", k}
	case 32:
		c = []string{"TTL", k}
	case 33:
		// wrong arity
		cmd := d.pick("SET", "GET", "GETSET", "GETDEL", "GETEX", "SETNX", "SETEX", "PSETEX", "MSET", "MSETNX", "MGET",
			"APPEND", "STRLEN", "SETRANGE", "GETRANGE", "SUBSTR", "INCR", "DECR", "INCRBY", "DECRBY", "INCRBYFLOAT", "LCS")
		c = []string{cmd}
		for i := d.r.IntN(5); i > 0; i-- {
			c = append(c, key())
		}
	case 34:
		c = []string{"SET", k, strings.Repeat("x", 50+d.r.IntN(30))}
	case 35:
		// at and past the limit (protoMaxBulkLen, 1 MB)
		c = []string{"SETRANGE", k, d.pick("1048574", "1048575", "1048576", "536870911", "536870912", "-1", "4294967296"), d.pick("", "x", "xy")}
	case 36:
		c = []string{"MSET", k, val(), key()}
	case 37:
		c = []string{"SET", k, d.pick("9223372036854775807", "-9223372036854775808", "1.7976931348623157e308", "10", "-5", "3.5")}
	case 38:
		c = []string{"GETRANGE", k, d.pick("0", "-1", "9223372036854775807", "-9223372036854775808"), d.pick("0", "-1", "9223372036854775807", "-9223372036854775808")}
	case 39:
		// long enough for LCS's matches and GETRANGE's clamping
		c = []string{"SET", k, d.text(d.pick("ab", "abc", "acgt", "\x00\xff"), 200)}
	default:
		c = []string{"EXISTS", k}
	}
	if len(c) > 1 {
		k = c[1] // the wrong-arity case picks its own keys
	}
	var w string
	switch c[0] {
	case "TTL":
		d.doTTL(c...)
		return
	case "OBJECT":
		var g string
		w, g = d.send(c...)
		if w != g && !(rawish != nil && rawish[c[2]] && stringEncodings[w] && stringEncodings[g]) {
			d.fail("%s:\n ferry %q\n redis %q", quoteArgs(c), g, w)
		}
		return
	}
	w = d.do(c...)
	if relative && len(c) > 1 {
		d.alignExpiry(c[1])
	}
	if rawish == nil || strings.HasPrefix(w, "-") {
		return
	}
	switch c[0] {
	case "APPEND", "SETRANGE", "INCRBYFLOAT":
		rawish[k] = true
	case "SET":
		if len(c) == 3 {
			delete(rawish, k)
		}
	case "GETSET", "SETEX", "PSETEX", "DEL", "GETDEL":
		delete(rawish, k)
	case "MSET":
		for i := 1; i < len(c); i += 2 {
			delete(rawish, c[i])
		}
	}
}
