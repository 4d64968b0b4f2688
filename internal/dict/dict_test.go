package dict

import (
	"strconv"
	"testing"
)

func TestReserve(t *testing.T) {
	d := New[int]()
	d.Reserve(1000)
	if d.Buckets() != 1024 {
		t.Fatalf("Reserve(1000): %d buckets, want 1024", d.Buckets())
	}
	for i := range 1000 {
		v, _ := d.Put(strconv.Itoa(i))
		*v = i
	}
	if d.Buckets() != 1024 || d.rehashing() {
		t.Fatalf("after 1000 puts: %d buckets, rehashing %v: the reserved table was resized", d.Buckets(), d.rehashing())
	}
	for i := range 1000 {
		if v := d.Get(strconv.Itoa(i)); v == nil || *v != i {
			t.Fatalf("Get(%d) = %v", i, v)
		}
	}
	d.Reserve(1 << 20) // not empty: nothing happens
	if d.Buckets() != 1024 || d.Len() != 1000 {
		t.Fatalf("Reserve on a full dict: %d buckets, %d keys", d.Buckets(), d.Len())
	}
}

// TestRandomIsFair draws from a dict of 10 keys, where some share a bucket,
// as Redis's SRANDMEMBER histogram test does: the chi-square value of the
// counts stays under 40 (df = 9: a uniform draw exceeds it with
// probability 1e-5), and so it does while the dict rehashes.
func TestRandomIsFair(t *testing.T) {
	for _, rehash := range []bool{false, true} {
		d := New[int]()
		keys := []string{"1", "5", "10", "50", "125", "MARY", "PATRICIA", "LINDA", "BARBARA", "ELIZABETH"}
		for _, k := range keys {
			d.Put(k)
		}
		if rehash {
			for i := range 6 { // past the table's size: a rehash starts
				d.Put("extra" + strconv.Itoa(i))
			}
			for i := range 6 {
				d.Delete("extra" + strconv.Itoa(i))
			}
		}
		const draws = 10000
		counts := map[string]int{}
		for range draws {
			k, _, ok := d.Random()
			if !ok {
				t.Fatal("Random on a full dict: not ok")
			}
			counts[k]++
		}
		want := float64(draws) / float64(len(keys))
		chi := 0.0
		for _, k := range keys {
			diff := float64(counts[k]) - want
			chi += diff * diff / want
		}
		if len(counts) != len(keys) || chi >= 40 {
			t.Errorf("rehashing %v: counts %v, chi-square %.1f", rehash, counts, chi)
		}
	}
}
