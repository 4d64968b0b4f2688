package keyspace

import (
	"testing"
	"time"
)

// TestKeepTTLWhenApplyingLate: an effect with KEEPTTL applied after the
// key's time has passed (a replica catching up, a snapshot plus the log)
// keeps the TTL the master kept.
func TestKeepTTLWhenApplyingLate(t *testing.T) {
	now := time.UnixMilli(1_000_000)
	ks := New(func() time.Time { return now })
	db := ks.DB(0)
	db.SetString("k", []byte("a"), false)
	db.SetExpire("k", 1_000_500)
	now = now.Add(time.Second)
	ks.Tick()
	ks.Mode = ExpireIgnore
	db.SetString("k", []byte("b"), true)
	if o := db.Get("k"); o == nil || o.Expire() != 1_000_500 || string(o.Str()) != "b" {
		t.Fatalf("after SET KEEPTTL applied late: %+v", o)
	}
	ks.Mode = ExpireDelete
	db.SetString("k", []byte("c"), true)
	if o := db.Peek("k"); o == nil || o.Expire() != 0 {
		t.Fatalf("a master's SET KEEPTTL on an expired key starts without a TTL: %+v", o)
	}
}
