package dict

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"
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

// TestPutCopiesKeys stores keys of every length around the sizes whose
// bytes share the node's allocation: each is found, listed and deleted by
// its value, and changing the caller's bytes afterwards changes nothing.
func TestPutCopiesKeys(t *testing.T) {
	d := New[int]()
	buf := make([]byte, 0, 100)
	for n := range 100 {
		buf = buf[:n]
		for i := range buf {
			buf[i] = byte('a' + (n+i)%26)
		}
		key := unsafe.String(unsafe.SliceData(buf), n) // a view of buf, as the engine passes
		v, created := d.Put(key)
		if !created {
			t.Fatalf("Put of the %d-byte key: exists already", n)
		}
		*v = n
		for i := range buf {
			buf[i] = '#'
		}
	}
	if d.Len() != 100 {
		t.Fatalf("Len = %d, want 100", d.Len())
	}
	seen := 0
	d.Range(func(key string, v *int) bool {
		if len(key) != *v || strings.Contains(key, "#") {
			t.Errorf("listed key %q with value %d", key, *v)
		}
		seen++
		return true
	})
	if seen != 100 {
		t.Fatalf("Range listed %d keys, want 100", seen)
	}
	for n := range 100 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + (n+i)%26)
		}
		if v := d.Get(string(b)); v == nil || *v != n {
			t.Fatalf("Get of the %d-byte key = %v", n, v)
		}
		if _, ok := d.Delete(string(b)); !ok {
			t.Fatalf("Delete of the %d-byte key: not found", n)
		}
	}
	if d.Len() != 0 {
		t.Fatalf("Len after deleting every key = %d", d.Len())
	}
}

// BenchmarkGet looks up random keys among 100,000 of 16 bytes (as
// redis-benchmark's key:__rand_int__).
func BenchmarkGet(b *testing.B) {
	d := New[[56]byte]()
	keys := make([]string, 100000)
	for i := range keys {
		keys[i] = fmt.Sprintf("key:%012d", i)
		d.Put(keys[i])
	}
	q := make([]string, 1<<20)
	for i := range q {
		q[i] = strings.Clone(keys[rand.IntN(len(keys))])
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if d.Get(q[i&(len(q)-1)]) == nil {
			b.Fatal("missing")
		}
	}
}

// TestEmbedMask checks which key lengths share their node's allocation for
// an 80-byte node (the keyspace's): only those that take no more memory
// than a separate copy (1-8 and 17-24 bytes would take 8 more).
func TestEmbedMask(t *testing.T) {
	m := embedMask(80)
	for n := 1; n <= maxEmbedded; n++ {
		want := !(n <= 8 || n > 16 && n <= 24)
		if got := m&(1<<(n-1)) != 0; got != want {
			t.Errorf("80-byte node, %d-byte key: embedded %v, want %v", n, got, want)
		}
	}
	for _, c := range []struct{ n, class uintptr }{{1, 8}, {8, 8}, {9, 16}, {33, 48}, {81, 96}, {257, 288}, {512, 512}, {600, 600}} {
		if got := sizeClass(c.n); got != c.class {
			t.Errorf("sizeClass(%d) = %d, want %d", c.n, got, c.class)
		}
	}
}

// TestTouch: Touch reads where keys hash to in both tables while a rehash
// runs, for present and absent keys alike, and finds the same buckets as
// lookups (maphash of bytes and of strings agree).
func TestTouch(t *testing.T) {
	d := New[int]()
	for i := range 1000 {
		v, _ := d.Put(strconv.Itoa(i))
		*v = i
	}
	for d.rehashing() {
		d.step(100)
	}
	keys := [][]byte{[]byte("1"), []byte("999"), []byte("absent"), nil}
	// deep sees the values of the keys present, whatever their place in
	// their chains, and nothing for the others.
	var seen []int
	d.Touch(keys, func(v *int) uintptr { seen = append(seen, *v); return uintptr(*v) })
	slices.Sort(seen)
	if !slices.Equal(seen, []int{1, 999}) || d.touched != 1000 {
		t.Errorf("Touch's deep pass saw %v (read %d), want the values of 1 and 999", seen, d.touched)
	}
	// Every key alone: its own value, unless it lies deeper in its chain
	// than Touch walks.
	for i := range 1000 {
		seen = seen[:0]
		d.Touch([][]byte{[]byte(strconv.Itoa(i))}, func(v *int) uintptr { seen = append(seen, *v); return 0 })
		if len(seen) > 1 || len(seen) == 1 && seen[0] != i {
			t.Fatalf("Touch of %d saw %v", i, seen)
		}
	}
	for !d.rehashing() { // grow until a rehash is under way
		d.Put(strconv.Itoa(d.Len()))
	}
	d.Touch(keys, nil)
	d.Touch(make([][]byte, 40), nil) // more than maxTouch keys
	if *d.Get("999") != 999 {
		t.Fatal("Touch changed the table")
	}
}
