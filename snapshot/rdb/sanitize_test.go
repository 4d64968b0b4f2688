package rdb

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// sanitizations returns INFO stats dump_payload_sanitizations.
func sanitizations(t *testing.T, c *redistest.Conn) int {
	t.Helper()
	for _, line := range strings.Split(status(t, c.Do("INFO", "stats")), "\r\n") {
		if v, ok := strings.CutPrefix(line, "dump_payload_sanitizations:"); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("dump_payload_sanitizations:%s", v)
			}
			return n
		}
	}
	t.Fatal("INFO stats has no dump_payload_sanitizations")
	return 0
}

// TestDumpPayloadSanitizations: ferry, which sanitizes every payload,
// counts INFO stats dump_payload_sanitizations as redis-server with
// sanitize-dump-payload yes counts it (one per list listpack node,
// intset, sorted set or hash listpack, stream node; none for ziplists,
// zipmaps and plain encodings), whatever ferry's own setting says: for
// redis-server's and ferry's DUMPs of every type and encoding, and the
// older encodings and corrupt payloads both restore. CONFIG RESETSTAT zeroes it.
func TestDumpPayloadSanitizations(t *testing.T) {
	redistest.Need(t, "redis-server")
	red := redistest.Dial(t, redistest.Redis(t, "--sanitize-dump-payload", "yes"))
	_, fc := ferryConn(t, command.Config{})
	corruptSources(t, red)
	keys := bulks(t, red.Do("KEYS", "*"))
	slices.Sort(keys)
	var payloads []string
	var bodies [][]byte
	for _, key := range keys {
		p := status(t, red.Do("DUMP", key))
		if r := fc.Do("RESTORE", key, "0", p); r != "+OK\r\n" {
			t.Fatalf("RESTORE of redis-server's %s: %q", key, r)
		}
		fp := status(t, fc.Do("DUMP", key))
		payloads = append(payloads, p, fp)
		bodies = append(bodies, []byte(p[:len(p)-dumpFooter]), []byte(fp[:len(fp)-dumpFooter]))
	}
	good := len(payloads)
	// Older encodings (some of which 7.0 refuses, as RDB 11's set
	// listpack) and corrupt payloads.
	for _, b := range olderEncodings() {
		payloads = append(payloads, payloadOf(b, 10))
		bodies = append(bodies, b)
	}
	rng := rand.New(rand.NewPCG(7, 1))
	for i := 0; i < 400; i++ {
		payloads = append(payloads, payloadOf(mutate(rng, bodies[rng.IntN(len(bodies))]), 10))
	}
	settings := []string{"no", "yes", "clients"}
	var counted, compared int
	for i, p := range payloads {
		if r := fc.Do("CONFIG", "SET", "sanitize-dump-payload", settings[i%3]); r != "+OK\r\n" {
			t.Fatalf("CONFIG SET: %q", r)
		}
		rb, fb := sanitizations(t, red), sanitizations(t, fc)
		rr, fr := red.Do("RESTORE", "k", "0", p, "REPLACE"), fc.Do("RESTORE", "k", "0", p, "REPLACE")
		rd, fd := sanitizations(t, red)-rb, sanitizations(t, fc)-fb
		if i < good && (rr != "+OK\r\n" || fr != "+OK\r\n") {
			t.Fatalf("payload %d %q: redis-server %q, ferry %q", i, truncateKey(p), rr, fr)
		}
		if rr != "+OK\r\n" || fr != "+OK\r\n" {
			// Where a payload is refused, each stops at its own check.
			continue
		}
		compared++
		if rd != fd {
			t.Errorf("payload %d %q (ferry's setting %s): ferry counted %d, redis-server %d", i, truncateKey(p), settings[i%3], fd, rd)
		}
		if rd > 1 {
			counted++
		}
	}
	if counted == 0 || compared <= good+len(olderEncodings()) {
		t.Fatalf("%d payloads compared (%d DUMPs), %d counted more than one check", compared, good, counted)
	}
	t.Logf("%d payloads compared, %d DUMPs", compared, good)
	if r := fc.Do("CONFIG", "RESETSTAT"); r != "+OK\r\n" {
		t.Fatalf("CONFIG RESETSTAT: %q", r)
	}
	if n := sanitizations(t, fc); n != 0 {
		t.Errorf("after CONFIG RESETSTAT: %d", n)
	}
}
