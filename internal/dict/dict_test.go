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
