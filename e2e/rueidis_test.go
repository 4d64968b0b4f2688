package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

// TestRueidisClientSideCaching drives a master and a replica through
// rueidis, which turns on CLIENT TRACKING (OPTIN) on every connection and
// serves DoCache reads from its own memory until the server invalidates
// them. A write on the master must reach the caches of readers on the
// master and on the replica (through the log), in the default mode and in
// BCAST mode; a cached value that is never invalidated fails the test
// (the cache TTL is an hour).
func TestRueidisClientSideCaching(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "rueidis", nil)
	r := startReplica(t, ns.URL(), "rueidis", true)
	ctx := context.Background()
	newClient := func(addr string, tracking ...string) rueidis.Client {
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, ClientTrackingOptions: tracking})
		if err != nil {
			t.Fatalf("rueidis.NewClient(%s): %v", addr, err)
		}
		t.Cleanup(c.Close)
		return c
	}
	mc, rc := newClient(m.addr), newClient(r.addr)
	bc := newClient(r.addr, "PREFIX", "user:", "BCAST")

	set := func(key, val string) {
		t.Helper()
		if err := mc.Do(ctx, mc.B().Set().Key(key).Value(val).Build()).Error(); err != nil {
			t.Fatalf("SET %s: %v", key, err)
		}
	}
	// cached reads key through c until it returns want, and reports
	// whether the last read was served from rueidis's cache.
	cached := func(c rueidis.Client, key, want string) bool {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			res := c.DoCache(ctx, c.B().Get().Key(key).Cache(), time.Hour)
			got, err := res.ToString()
			if err == nil && got == want {
				return res.IsCacheHit()
			}
			if time.Now().After(deadline) {
				t.Fatalf("cached GET %s = %q (err %v, cache hit %v), want %q", key, got, err, res.IsCacheHit(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	for _, k := range []string{"k", "user:1"} {
		set(k, "v1")
		for _, c := range []rueidis.Client{mc, rc, bc} {
			cached(c, k, "v1")
			if !cached(c, k, "v1") {
				t.Fatalf("a second cached GET %s was not served from the cache", k)
			}
		}
		set(k, "v2")
		for _, c := range []rueidis.Client{mc, rc, bc} {
			if k == "k" && c == bc {
				// BCAST for user: only: k stays cached.
				if !cached(c, k, "v1") {
					t.Fatalf("k left the BCAST client's cache")
				}
				continue
			}
			cached(c, k, "v2")
		}
	}

	// A flush invalidates everything the readers cached.
	if err := mc.Do(ctx, mc.B().Flushall().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	set("after", "x")
	cached(rc, "after", "x")
	// The invalidation is a push on the reader's own connection, which
	// the reader's client takes in when it reads that connection: as
	// with redis-server, it may come a moment after the FLUSHALL's reply
	// on another connection.
	for _, c := range []rueidis.Client{mc, rc} {
		deadline := time.Now().Add(5 * time.Second)
		for {
			res := c.DoCache(ctx, c.B().Get().Key("k").Cache(), time.Hour)
			if rueidis.IsRedisNil(res.Error()) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cached GET k 5 s after FLUSHALL: %v (cache hit %v), want nil", res.Error(), res.IsCacheHit())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}
