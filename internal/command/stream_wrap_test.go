package command_test

import (
	"testing"
	"time"
)

// A group's entries-read wraps past the int64 limit, as Redis's does, and
// the effect that records it (XGROUP SETID ... ENTRIESREAD with the
// negative value) is taken by a replica, which a client's XGROUP SETID
// with that value is not. Found by TestRandomReplicateStream.
func TestStreamEntriesReadWrapsOnReplica(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	rp := newReplication(clock, 1)
	cl := rp.clients[0]
	for _, c := range [][]string{
		{"XADD", "s", "1-1", "f", "v"}, {"XADD", "s", "1-2", "f", "v"},
		{"XGROUP", "CREATE", "s", "g", "0", "ENTRIESREAD", "9223372036854775806"},
		{"XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"},
	} {
		if r := exec(rp.master, cl, c...); r[0] == '-' {
			t.Fatalf("%q: %q", c, r)
		}
	}
	applier := rp.replica.NewApplier()
	for _, u := range rp.log.units {
		if err := applier.Apply(u); err != nil {
			t.Fatal(err)
		}
	}
	want := "*1\r\n*12\r\n$4\r\nname\r\n$1\r\ng\r\n$9\r\nconsumers\r\n:1\r\n$7\r\npending\r\n:2\r\n$17\r\nlast-delivered-id\r\n$3\r\n1-2\r\n" +
		"$12\r\nentries-read\r\n:-9223372036854775808\r\n$3\r\nlag\r\n:-9223372036854775806\r\n"
	if m, r := exec(rp.master, cl, "XINFO", "GROUPS", "s"), exec(rp.replica, rp.rc, "XINFO", "GROUPS", "s"); m != want || r != want {
		t.Fatalf("XINFO GROUPS:\n master  %q\n replica %q\n want    %q", m, r, want)
	}
	if r := exec(rp.master, cl, "XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "-9223372036854775808"); r != "-ERR value for ENTRIESREAD must be positive or -1\r\n" {
		t.Fatalf("a client's negative ENTRIESREAD: %q", r)
	}
}

// A pending entry's delivery count is unsigned, as in Redis: XCLAIM
// RETRYCOUNT 9223372036854775807 and one more delivery make it 2^63, which
// the master's effect (XCLAIM ... RETRYCOUNT 9223372036854775808) gives a
// replica, which takes it; a client's RETRYCOUNT past the int64 limit is
// still refused. Found by TestRandomReplicateStream.
func TestStreamDeliveryCountPastInt64OnReplica(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	rp := newReplication(clock, 1)
	cl := rp.clients[0]
	for _, c := range [][]string{
		{"XADD", "s", "1-1", "f", "v"}, {"XGROUP", "CREATE", "s", "g", "0"},
		{"XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"},
		{"XCLAIM", "s", "g", "c", "0", "1-1", "RETRYCOUNT", "9223372036854775807", "JUSTID"},
		{"XCLAIM", "s", "g", "c2", "0", "1-1"},
		{"XCLAIM", "s", "g", "c3", "0", "1-1"},
	} {
		if r := exec(rp.master, cl, c...); r[0] == '-' {
			t.Fatalf("%q: %q", c, r)
		}
	}
	applier := rp.replica.NewApplier()
	for _, u := range rp.log.units {
		if err := applier.Apply(u); err != nil {
			t.Fatal(err)
		}
	}
	want := "*1\r\n*4\r\n$3\r\n1-1\r\n$2\r\nc3\r\n:0\r\n:-9223372036854775807\r\n"
	if m, r := exec(rp.master, cl, "XPENDING", "s", "g", "-", "+", "10"), exec(rp.replica, rp.rc, "XPENDING", "s", "g", "-", "+", "10"); m != want || r != want {
		t.Fatalf("XPENDING:\n master  %q\n replica %q\n want    %q", m, r, want)
	}
	if r := exec(rp.master, cl, "XCLAIM", "s", "g", "c", "0", "1-1", "RETRYCOUNT", "9223372036854775808"); r != "-ERR Invalid RETRYCOUNT option argument for XCLAIM\r\n" {
		t.Fatalf("a client's RETRYCOUNT 2^63: %q", r)
	}
}
