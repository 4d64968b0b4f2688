package command_test

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStreamClaimsFitAnEntry: entries whose delivery counts differ cannot
// share an XCLAIM effect, so each costs a whole XCLAIM command. An XCLAIM
// of a few thousand IDs (a request well under the limit), an XAUTOCLAIM
// and a history read of such entries must neither emit a unit larger than
// a log entry nor leave the replica behind.
func TestStreamClaimsFitAnEntry(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	rp := newReplication(clock, 1)
	cl := rp.clients[0]
	const total, limit = 2000, 64 << 10
	rp.master.Lock()
	rp.master.SetMaxWriteBytes(limit)
	rp.master.Unlock()
	applyAll := fitApplier(t, &rp, limit)
	ids := make([]string, total)
	for i := range ids {
		ids[i] = strconv.Itoa(i+1) + "-1"
		exec(rp.master, cl, "XADD", "s", ids[i], "f", "v")
	}
	exec(rp.master, cl, "XGROUP", "CREATE", "s", "g", "0")
	for delivered := 0; delivered < total; delivered += 500 {
		exec(rp.master, cl, "XREADGROUP", "GROUP", "g", "c", "COUNT", "500", "STREAMS", "s", ">")
	}
	// Entries alike go out as one XCLAIM: claiming them all fits.
	args := append([]string{"XCLAIM", "s", "g", "c", "0"}, ids...)
	args = append(args, "JUSTID")
	if r := exec(rp.master, cl, args...); !strings.HasPrefix(r, "*"+strconv.Itoa(total)+"\r\n") {
		t.Fatalf("XCLAIM of %d entries alike: %.200q", total, r)
	}
	// Every other entry gets its own delivery count.
	for i := 0; i < total; i += 2 {
		exec(rp.master, cl, "XCLAIM", "s", "g", "c", "0", ids[i], "RETRYCOUNT", strconv.Itoa(100+i), "JUSTID")
	}
	applyAll("setup")
	clock.now = clock.now.Add(time.Minute)

	r := exec(rp.master, cl, "XAUTOCLAIM", "s", "g", "e", "0", "0", "COUNT", "100000", "JUSTID")
	if strings.HasPrefix(r, "*3\r\n$3\r\n0-0\r\n") {
		t.Fatalf("XAUTOCLAIM of %d pending entries finished in one call under a %d-byte limit", total, limit)
	}
	applyAll("XAUTOCLAIM")

	r = exec(rp.master, cl, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0")
	if n := strings.Count(r, "$1\r\nf\r\n"); n == 0 || n == total {
		t.Fatalf("history read delivered %d entries: want some, not all %d in one entry", n, total)
	}
	applyAll("XREADGROUP history")
	// Each would be an XCLAIM of its own: refused before it changes
	// anything.
	args[3] = "d"
	r = exec(rp.master, cl, args...)
	if !strings.HasPrefix(r, "-ERR ferry: this XCLAIM's effect would be about ") {
		t.Fatalf("XCLAIM of %d entries unlike: %.200q", total, r)
	}
	if r := exec(rp.master, cl, "XINFO", "CONSUMERS", "s", "g"); strings.Contains(r, "$1\r\nd\r\n") {
		t.Fatalf("the refused XCLAIM created its consumer: %q", r)
	}
	applyAll("XCLAIM")

	if m, r := exec(rp.master, cl, "DEBUG", "DIGEST"), exec(rp.replica, rp.rc, "DEBUG", "DIGEST"); m != r {
		t.Fatalf("digests: master %s, replica %s", m, r)
	}
}

// TestStreamGroupReadManyStreamsFitsAnEntry: a group read names its group
// and consumer once, but its effects repeat them for every stream it
// delivers from (XGROUP CREATECONSUMER, XCLAIM, XGROUP SETID). A read of
// a few streams with a long consumer name must not emit a unit larger
// than a log entry.
func TestStreamGroupReadManyStreamsFitsAnEntry(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	rp := newReplication(clock, 1)
	cl := rp.clients[0]
	const streams, limit = 8, 64 << 10
	rp.master.Lock()
	rp.master.SetMaxWriteBytes(limit)
	rp.master.Unlock()
	args := []string{"XREADGROUP", "GROUP", "g", strings.Repeat("c", 10000), "STREAMS"}
	for i := 0; i < streams; i++ {
		key := "s" + strconv.Itoa(i)
		exec(rp.master, cl, "XADD", key, "1-1", "f", "v")
		exec(rp.master, cl, "XGROUP", "CREATE", key, "g", "0")
		args = append(args, key)
	}
	for i := 0; i < streams; i++ {
		args = append(args, ">")
	}
	applyAll := fitApplier(t, &rp, limit)
	applyAll("setup")
	r := exec(rp.master, cl, args...)
	if !strings.HasPrefix(r, "-ERR ferry: this XREADGROUP's effects would be about ") {
		t.Fatalf("XREADGROUP of %d streams with a long consumer name: %.200q", streams, r)
	}
	applyAll("XREADGROUP")
	// A quarter as many fit.
	args = append(args[:5+streams/4], args[5+streams:5+streams+streams/4]...)
	r = exec(rp.master, cl, args...)
	if n := strings.Count(r, "$1\r\nf\r\n"); n != streams/4 {
		t.Fatalf("XREADGROUP of %d streams delivered %d entries: %.200q", streams/4, n, r)
	}
	applyAll("XREADGROUP")
	if m, r := exec(rp.master, cl, "DEBUG", "DIGEST"), exec(rp.replica, rp.rc, "DEBUG", "DIGEST"); m != r {
		t.Fatalf("digests: master %s, replica %s", m, r)
	}
}

// fitApplier returns a function that applies the units the master logged
// since its last call to the replica, failing the test on a unit larger
// than limit (what names the step).
func fitApplier(t *testing.T, rp *replication, limit int) func(what string) {
	applier := rp.replica.NewApplier()
	return func(what string) {
		t.Helper()
		for _, u := range rp.log.units {
			if len(u) > limit {
				t.Fatalf("%s: a unit of %d bytes, more than the %d-byte limit", what, len(u), limit)
			}
			if err := applier.Apply(u); err != nil {
				t.Fatal(err)
			}
		}
		rp.log.units = nil
	}
}
