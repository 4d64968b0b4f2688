package keyspace

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// copyInto stores a deep copy of o under key in db (what a snapshot
// encoder does with what it is handed).
func copyInto(db *DB, key string, o *Object) {
	var n *Object
	if c := o.Collection(); c != nil {
		n = db.SetCollection(key, c.Clone(), false)
	} else {
		n = db.SetString(key, o.Str(), false)
	}
	if o.Expire() != 0 {
		db.SetExpire(key, o.Expire())
	}
	_ = n
}

// mutate applies one random write to ks: every path that touches objects.
func mutate(r *rand.Rand, ks *Keyspace, keys int) {
	db := ks.DB(r.IntN(4))
	key := fmt.Sprintf("k%d", r.IntN(keys))
	switch op := r.IntN(100); {
	case op < 25:
		db.SetString(key, []byte(fmt.Sprintf("v%d", r.Int())), r.IntN(2) == 0)
	case op < 40:
		if o := db.Get(key); o != nil && o.Kind() == KindList {
			o.Collection().(*List).PushBack([]byte("x"))
		} else if o == nil {
			l := NewList()
			l.PushBack([]byte("first"))
			db.SetCollection(key, l, false)
		}
	case op < 50:
		if o := db.Get(key); o != nil && o.Kind() == KindHash {
			o.Collection().(*Hash).Set(fmt.Sprintf("f%d", r.IntN(50)), []byte("y"), ks.Limits)
		} else if o == nil {
			h := NewHash()
			h.Set("f", []byte("v"), ks.Limits)
			db.SetCollection(key, h, false)
		}
	case op < 62:
		db.Delete(key)
	case op < 72:
		if db.Exists(key) {
			db.SetExpire(key, ks.Now()+int64(r.IntN(100000))+1)
		}
	case op < 78:
		dst := fmt.Sprintf("k%d", r.IntN(keys))
		if db.Exists(key) && dst != key {
			db.Rename(key, dst)
		}
	case op < 84:
		other := ks.DB(r.IntN(4))
		if other != db && db.Exists(key) && !other.Exists(key) {
			db.MoveTo(key, other)
		}
	case op < 86:
		ks.Swap(r.IntN(4), r.IntN(4))
	case op < 87:
		db.Flush()
	case op < 88:
		if r.IntN(4) == 0 {
			ks.Flush()
		}
	default:
		db.Get(key)
	}
}

// TestCutIsPointInTime runs random writes between the steps of a cut and
// checks that what the cut emitted is exactly the keyspace at the cut.
func TestCutIsPointInTime(t *testing.T) {
	for seed := uint64(1); seed <= 60; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		now := time.UnixMilli(1_700_000_000_000)
		ks := New(func() time.Time { return now })
		keys := 50 + r.IntN(400)
		for range keys * 3 {
			mutate(r, ks, keys)
		}
		want := ks.Digest()
		wantKeys := 0
		for i := range NumDBs {
			wantKeys += ks.DB(i).Len()
		}

		got := New(func() time.Time { return now })
		seen := map[string]bool{}
		cut := ks.BeginCut(func(db int, key string, o *Object) {
			id := fmt.Sprintf("%d/%s", db, key)
			if seen[id] {
				t.Fatalf("seed %d: %s emitted twice", seed, id)
			}
			seen[id] = true
			copyInto(got.DB(db), key, o)
		})
		for !cut.Step(1 + r.IntN(8)) {
			for range r.IntN(20) {
				mutate(r, ks, keys)
			}
		}
		cut.End()
		if gotD := got.Digest(); gotD != want || len(seen) != wantKeys {
			t.Fatalf("seed %d: cut has %d keys digest %x; the keyspace at the cut had %d keys digest %x", seed, len(seen), gotD, wantKeys, want)
		}
		// After End, writes emit nothing and a new cut sees everything.
		mutate(r, ks, keys)
		n := 0
		c2 := ks.BeginCut(func(int, string, *Object) { n++ })
		for !c2.Step(100) {
		}
		c2.End()
		total := 0
		for i := range NumDBs {
			total += ks.DB(i).Len()
		}
		if n != total {
			t.Fatalf("seed %d: second cut emitted %d keys, keyspace has %d", seed, n, total)
		}
	}
}

func TestCutOnlyOneAtATime(t *testing.T) {
	ks := New(nil)
	ks.BeginCut(func(int, string, *Object) {})
	defer func() {
		if recover() == nil {
			t.Fatal("a second BeginCut did not panic")
		}
	}()
	ks.BeginCut(func(int, string, *Object) {})
}
