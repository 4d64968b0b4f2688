package command_test

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// The randomized differential tests in random_*_test.go send the same
// random commands to ferry and to a real redis-server, in RESP2 and in
// RESP3, and compare every reply byte for byte and DEBUG DIGEST after every
// command. CI runs a few fixed seeds; by hand,
//
//	FERRY_DIFF_SEED=12345 FERRY_DIFF_STEPS=200000 go test ./internal/command -run 'Random(String|List|Keys|Bitmap)AgainstRedis'
//
// runs one chosen seed for longer. A mismatch prints the seed, the
// protocol and every command sent since the databases were flushed, in
// redis-cli's quoting, so it can be replayed by hand.

// diffSeeds returns the seeds to run and the number of steps for each:
// the fixed ones with def steps, or FERRY_DIFF_SEED and FERRY_DIFF_STEPS.
func diffSeeds(t *testing.T, def int) ([]uint64, int) {
	t.Helper()
	return redistest.Seeds(t, []uint64{1, 2, 3}, def)
}

// diff is one run of a randomized differential test: a seed, a protocol
// and a connection to each server, with the commands sent so far.
type diff struct {
	t            *testing.T
	seed         uint64
	resp         int
	r            *rand.Rand
	redis, ferry diffConn
	hist         []string
	// digests, when not nil, makes this a replication run: commands go to
	// ferry only, and it returns the master's and the replica's digests
	// after the master's effects were applied (random_replica_test.go).
	digests func() (master, replica string)
	// now is the Unix time in seconds when the run started: absolute
	// expiry times are built from it so that both servers get the same.
	now int64
	// marks is for the step function's own bookkeeping about keys.
	marks map[string]bool
}

// protoMaxBulkLen is the string size limit the tests set, Redis's
// smallest, so that strings can reach it without making DEBUG DIGEST slow.
const protoMaxBulkLen = "1048576"

// diffConn sends a command and returns its raw reply.
type diffConn interface{ Do(args ...string) string }

// runDiff starts a redis-server and a ferry, and
// for each seed and protocol flushes both and calls step steps times, then
// checks DEBUG DIGEST after each step.
func runDiff(t *testing.T, def int, step func(d *diff)) {
	seeds, steps := diffSeeds(t, def)
	raddr := redistest.Redis(t)
	_, faddr := redistest.Ferry(t, command.Config{})
	for _, seed := range seeds {
		for _, resp := range []int{2, 3} {
			t.Run(fmt.Sprintf("seed%d/resp%d", seed, resp), func(t *testing.T) {
				d, _, _ := startDiff(t, raddr, faddr, seed, resp)
				for i := 0; i < steps; i++ {
					step(d)
					d.digest()
				}
			})
		}
	}
}

// startDiff connects to both servers, sets the connections up as every
// run does (protocol resp, database 0, both servers flushed, no active
// expiry, the string limit, then each of extra, which must answer alike),
// and returns a diff over them.
func startDiff(t *testing.T, raddr, faddr string, seed uint64, resp int, extra ...[]string) (d *diff, redis, ferry *redistest.Conn) {
	t.Helper()
	redis, ferry = redistest.Dial(t, raddr), redistest.Dial(t, faddr)
	d = &diff{t: t, seed: seed, resp: resp, r: rand.New(rand.NewPCG(seed, uint64(resp))),
		redis: redis, ferry: ferry, now: time.Now().Unix(), marks: map[string]bool{}}
	setup := [][]string{{"HELLO", strconv.Itoa(resp)}, {"SELECT", "0"}, {"FLUSHALL"}, {"DEBUG", "SET-ACTIVE-EXPIRE", "0"},
		{"CONFIG", "SET", "proto-max-bulk-len", protoMaxBulkLen}}
	for _, c := range append(setup, extra...) {
		w, g := redis.Do(c...), ferry.Do(c...)
		if c[0] != "HELLO" && w != g {
			t.Fatalf("setup %q: ferry %q redis %q", c, g, w)
		}
	}
	return d, redis, ferry
}

// quoteArgs renders a command as a line redis-cli accepts.
func quoteArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = strconv.Quote(a)
	}
	return strings.Join(q, " ")
}

// fail stops the run, printing the seed, the protocol and the commands.
func (d *diff) fail(format string, a ...any) {
	d.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d, RESP%d (FERRY_DIFF_SEED=%d); commands since FLUSHALL (HELLO %d, DEBUG SET-ACTIVE-EXPIRE 0 first):\n", d.seed, d.resp, d.seed, d.resp)
	for _, h := range d.hist {
		b.WriteString("  " + h + "\n")
	}
	d.t.Fatalf("%s%s", b.String(), fmt.Sprintf(format, a...))
}

// send sends args to both servers and returns both replies unchecked.
func (d *diff) send(args ...string) (redis, ferry string) {
	d.t.Helper()
	d.hist = append(d.hist, quoteArgs(args))
	if d.digests != nil {
		g := d.ferry.Do(args...)
		return g, g
	}
	return d.redis.Do(args...), d.ferry.Do(args...)
}

// do sends args to both servers, requires the same reply and returns it.
func (d *diff) do(args ...string) string {
	d.t.Helper()
	w, g := d.send(args...)
	if w != g {
		d.fail("%s:\n ferry %q\n redis %q", quoteArgs(args), g, w)
	}
	return w
}

// doTTL compares a TTL or PTTL reply by class only: -2, -1, or a
// remaining time (which depends on when each server read its clock).
func (d *diff) doTTL(args ...string) {
	d.t.Helper()
	w, g := d.send(args...)
	class := func(s string) string {
		if strings.HasPrefix(s, ":") && !strings.HasPrefix(s, ":-") {
			return ":positive"
		}
		return s
	}
	if class(w) != class(g) {
		d.fail("%s:\n ferry %q\n redis %q", quoteArgs(args), g, w)
	}
}

// alignExpiry is called after a command that may have given key a
// relative expiry (EX, PX, SETEX, EXPIRE...): the absolute time depends on
// each server's clock, so when both have one within 5 s of each other,
// ferry's is set to redis-server's with PEXPIREAT, to keep DEBUG DIGEST,
// EXPIRETIME and later GT/LT comparisons exact.
func (d *diff) alignExpiry(key string) {
	d.t.Helper()
	if d.digests != nil {
		return
	}
	w, g := d.redis.Do("PEXPIRETIME", key), d.ferry.Do("PEXPIRETIME", key)
	if w == g {
		return
	}
	parse := func(s string) int64 {
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(s, ":"), "\r\n"), 10, 64)
		if err != nil {
			return -3
		}
		return n
	}
	wn, gn := parse(w), parse(g)
	if wn < 0 || gn < 0 || wn-gn > 5000 || gn-wn > 5000 {
		d.fail("PEXPIRETIME %q after the last command:\n ferry %q\n redis %q", key, g, w)
	}
	d.hist = append(d.hist, "# harness: ferry only: PEXPIREAT "+strconv.Quote(key)+" "+strconv.FormatInt(wn, 10))
	if r := d.ferry.Do("PEXPIREAT", key, strconv.FormatInt(wn, 10)); r != ":1\r\n" {
		d.fail("aligning %q's expiry on ferry: %q", key, r)
	}
}

// digest requires the same DEBUG DIGEST from both servers.
func (d *diff) digest() {
	d.t.Helper()
	if d.digests != nil {
		if m, r := d.digests(); m != r {
			d.fail("the master's and the replica's digests differ after the last command:\n master  %s\n replica %s", m, r)
		}
		return
	}
	w, g := d.redis.Do("DEBUG", "DIGEST"), d.ferry.Do("DEBUG", "DIGEST")
	if w != g {
		d.fail("DEBUG DIGEST after the last command:\n ferry %q\n redis %q", g, w)
	}
}

// pick returns one of xs.
func (d *diff) pick(xs ...string) string { return xs[d.r.IntN(len(xs))] }

// n returns a random integer in [lo, hi] as a string.
func (d *diff) n(lo, hi int) string { return strconv.Itoa(lo + d.r.IntN(hi-lo+1)) }

// oddNumbers are arguments that parse differently in different parsers:
// signs, spaces, hex, exponents, infinities, the int64 limits and past.
var oddNumbers = []string{
	"0", "1", "-1", "-0", "+1", " 1", "1 ", "0x10", "1e3", "inf", "-inf", "+inf", "nan", "", "01", "1.5", "-1.5",
	"9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809",
	"18446744073709551615", "99999999999999999999", "4294967296", "-4294967297", "1.0", "abc", "\x00", "1\x00",
	"1e308", "1e309", "-1e309", "0.1", "3.0e0", "1_000", ".5", "5.", "00", "-", "+",
}

// number returns a small number most of the time and an odd one otherwise.
func (d *diff) number(lo, hi int) string {
	if d.r.IntN(4) == 0 {
		return d.pick(oddNumbers...)
	}
	return d.n(lo, hi)
}

// kw returns an option keyword as sent, or now and then in lower case,
// or followed by a NUL and more bytes (Redis's strcasecmp stops at the NUL).
func (d *diff) kw(word string) string {
	switch d.r.IntN(12) {
	case 0:
		return strings.ToLower(word)
	case 1:
		return word + "\x00" + d.pick("", "x", "\x00")
	}
	return word
}

// text returns up to max random bytes from alphabet.
func (d *diff) text(alphabet string, max int) string {
	b := make([]byte, d.r.IntN(max+1))
	for i := range b {
		b[i] = alphabet[d.r.IntN(len(alphabet))]
	}
	return string(b)
}

// oddTime returns an odd number for a relative time (EX, PX, EXPIRE...),
// leaving out the small positive ones: a key that expires within the run
// would be deleted by one server and not yet by the other, depending on
// when each read its clock.
func (d *diff) oddTime() string {
	for {
		s := d.pick(oddNumbers...)
		if n, err := strconv.ParseInt(s, 10, 64); err != nil || n <= 0 || n >= 100000 {
			return s
		}
	}
}

// sortedFlat returns the strings an array reply holds, sorted (for
// replies in hash table order, such as KEYS).
func sortedFlat(t *testing.T, raw string) string {
	els := zParseFlat(t, raw)
	sort.Strings(els)
	return strings.Join(els, "\x00")
}
