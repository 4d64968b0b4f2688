package command_test

import (
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/hll"
)

// TestRandomHLLAgainstRedis runs random HyperLogLog commands (PFADD,
// PFCOUNT of one and many keys, PFMERGE, PFDEBUG GETREG DECODE ENCODING
// TODENSE and bad subcommands) on ferry and redis-server, with small and
// large PFADDs that promote sparse strings to dense (hll-sparse-max-bytes
// is 3000 on both), strings that are no HyperLogLogs, damaged ones (SET
// of a mutated copy, SETRANGE over the header and the dense registers,
// APPEND), keys of other types and wrong arity, and compares every reply
// and DEBUG DIGEST (so the cached cardinality PFCOUNT writes back too);
// see random_diff_test.go.
func TestRandomHLLAgainstRedis(t *testing.T) {
	runDiff(t, 1500, hllStep)
}

func hllStep(d *diff) {
	key := func() string { return d.pick("h0", "h1", "h2", "h0", "h1", "str", "list", "none") }
	elem := func() string {
		switch d.r.IntN(10) {
		case 0:
			return d.pick("", "\x00", "\xff", "é", strings.Repeat("x", 100))
		case 1:
			return d.pick(oddNumbers...)
		case 2, 3:
			return "e" + d.n(0, 20)
		}
		return "e" + d.n(0, 30000)
	}
	elems := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = elem()
		}
		return out
	}
	keys := func(max int) []string {
		out := []string{key()}
		for i := d.r.IntN(max); i > 0; i-- {
			out = append(out, key())
		}
		return out
	}
	// value returns the string a key holds (on redis-server, or on the
	// master in a replication run), or "" and false.
	value := func(k string) (string, bool) {
		w, _ := d.send("GET", k)
		if !strings.HasPrefix(w, "$") || strings.HasPrefix(w, "$-1") {
			return "", false
		}
		_, body, _ := strings.Cut(w, "\r\n")
		return strings.TrimSuffix(body, "\r\n"), true
	}

	k := key()
	var c []string
	switch d.r.IntN(40) {
	case 0, 1, 2, 3, 4, 5, 6, 7:
		c = append([]string{"PFADD", k}, elems(d.r.IntN(6))...)
	case 8, 9:
		// enough to promote a sparse string to dense over a few commands
		c = append([]string{"PFADD", k}, elems(100+d.r.IntN(700))...)
	case 10, 11, 12, 13, 14:
		c = []string{"PFCOUNT", k}
	case 15, 16, 17:
		c = append([]string{"PFCOUNT"}, keys(3)...)
	case 18, 19, 20:
		c = append([]string{"PFMERGE", k}, keys(3)...)
	case 21:
		c = []string{"PFMERGE", k}
	case 22, 23:
		c = []string{"PFDEBUG", d.kw(d.pick("GETREG", "DECODE", "ENCODING", "TODENSE")), k}
	case 24:
		c = []string{"PFDEBUG", d.pick("getreg", "FOO", "", "SIMD"), k}
		if d.r.IntN(3) == 0 {
			c = c[:2]
		}
	case 25, 26, 27:
		// a damaged copy of what a key holds
		if v, ok := value(d.pick("h0", "h1", "h2")); ok && len(v) >= hll.HeaderSize {
			c = []string{"SET", k, string(mutate(d.r, []byte(v)))}
		} else {
			c = []string{"PFADD", k, elem()}
		}
	case 28, 29:
		// the header: magic, encoding, unused bytes, cached cardinality
		off := d.n(0, 15)
		b := d.pick("\x00", "\x01", "\x02", "\x80", "\xff", "H", "X", "\x00\x00\x00\x00", "\xff\xff\xff\xff\xff\xff\xff\xff")
		c = []string{"SETRANGE", k, off, b}
	case 30:
		// a dense string's registers: any bytes are registers there
		if v, ok := value(k); ok && len(v) == hll.DenseSize && v[4] == hll.Dense {
			c = []string{"SETRANGE", k, d.n(hll.HeaderSize, hll.DenseSize-4), d.text("\x00\x01\x3f\x40\xfc\xff\x7f\x80", 4)}
		} else {
			c = []string{"PFDEBUG", "TODENSE", k}
		}
	case 31:
		c = []string{"APPEND", k, d.pick("\x00", "x", "\x7f\xfe")}
	case 32:
		c = []string{"SET", d.pick("h0", "str"), d.pick("HYLL", "HYLL\x01\x00\x00\x00", "not a HyperLogLog", "", strings.Repeat("\x00", 16),
			"HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff")}
	case 33:
		c = []string{"RPUSH", "list", "x"}
	case 34:
		c = []string{"DEL", d.pick("h0", "h1", "h2", "str", "list")}
	case 35:
		c = []string{"COPY", d.pick("h0", "h1", "h2", "str"), d.pick("h0", "h1", "h2"), "REPLACE"}
	case 36, 37:
		// wrong arity
		c = []string{d.pick("PFADD", "PFCOUNT", "PFMERGE", "PFDEBUG")}
		for i := d.r.IntN(2); i > 0; i-- {
			c = append(c, d.pick("h0", "GETREG"))
		}
	case 38:
		c = []string{"STRLEN", k}
	default:
		c = []string{"GETRANGE", k, "0", "15"}
	}
	d.do(c...)
	if (c[0] == "SET" || c[0] == "SETRANGE" || c[0] == "APPEND") && c[1] != "list" {
		// A sparse string ending in half an XZERO opcode makes Redis read
		// its terminator, which a PFADD's split then overwrites in memory
		// and later commands read back; ferry reads 0 there, as Redis
		// does once the string is copied or reloaded (package hll). Such
		// strings are not kept.
		if v, ok := value(c[1]); ok && hllTruncatedXZero(v) {
			d.do("DEL", c[1])
		}
	}
}

// hllTruncatedXZero reports whether v is a sparse HyperLogLog string whose
// opcodes end in the first byte of an XZERO.
func hllTruncatedXZero(v string) bool {
	if len(v) < hll.HeaderSize || v[:4] != "HYLL" || v[4] != hll.Sparse {
		return false
	}
	i := hll.HeaderSize
	for i < len(v) {
		if v[i]&0xc0 == 0x40 {
			i += 2
		} else {
			i++
		}
	}
	return i > len(v)
}
