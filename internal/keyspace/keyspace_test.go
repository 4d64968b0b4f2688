package keyspace

import (
	"strings"
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

func TestRestoreAddsOnlyNewKeys(t *testing.T) {
	ks := New(nil)
	db := ks.DB(0)
	if !db.Restore("s", []byte("v1"), nil) {
		t.Fatal("Restore of a new key reported it existed")
	}
	h := NewHash()
	h.Set("f", []byte("x"), ks.Limits)
	if !db.Restore("h", nil, h) {
		t.Fatal("Restore of a new collection reported it existed")
	}
	if db.Restore("s", []byte("v2"), nil) {
		t.Fatal("Restore of an existing key reported it new")
	}
	o := db.Peek("s")
	if o == nil || string(o.Str()) != "v1" || db.Len() != 2 {
		t.Fatalf("existing key changed by Restore: %v, %d keys", o, db.Len())
	}
	if c := db.Peek("h"); c == nil || c.Collection() != h {
		t.Fatal("restored collection not stored")
	}
}

func TestOwnedInsertsKeepOrderAndRefuseDuplicates(t *testing.T) {
	lim := DefaultLimits
	h := NewHash()
	h.Reserve(3)
	for _, f := range []string{"b", "a", "c"} {
		if !h.SetOwned(f, []byte("v"+f), lim) {
			t.Fatalf("SetOwned(%s) of a new field reported an update", f)
		}
	}
	if h.SetOwned("a", []byte("w"), lim) {
		t.Fatal("SetOwned of an existing field reported a creation")
	}
	var got []string
	h.Range(func(f string, v []byte) bool { got = append(got, f+"="+string(v)); return true })
	if strings.Join(got, " ") != "b=vb a=w c=vc" || h.Encoding() != "listpack" {
		t.Fatalf("hash after SetOwned: %v (%s)", got, h.Encoding())
	}

	z := NewZSet()
	z.Reserve(2)
	if !z.AddOwned("m", 2, lim) || !z.AddOwned("n", 1, lim) || z.AddOwned("m", 5, lim) {
		t.Fatal("AddOwned results wrong")
	}
	if s, _ := z.Score("m"); s != 2 || z.Len() != 2 {
		t.Fatalf("a duplicate AddOwned changed the set: score %v, len %d", s, z.Len())
	}

	l := NewList()
	l.PushBackString("x")
	l.Reserve(100)
	for i := 0; i < 100; i++ {
		l.PushBackString("y")
	}
	if l.Len() != 101 || l.PopFront() != "x" {
		t.Fatal("Reserve lost the list's order")
	}
}
