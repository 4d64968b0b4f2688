package keyspace

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// listModel is the obvious slice implementation List must agree with.
type listModel []string

func (m listModel) removeMatches(v string, count int64) (listModel, int) {
	limit := count
	if limit < 0 {
		limit = -limit
	}
	removed := 0
	if count >= 0 {
		var out listModel
		for _, e := range m {
			if e == v && (limit <= 0 || int64(removed) < limit) {
				removed++
				continue
			}
			out = append(out, e)
		}
		return out, removed
	}
	var rev listModel
	for i := len(m) - 1; i >= 0; i-- {
		e := m[i]
		if e == v && (limit <= 0 || int64(removed) < limit) {
			removed++
			continue
		}
		rev = append(rev, e)
	}
	slices.Reverse(rev)
	return rev, removed
}

func listElems(l *List) []string {
	var out []string
	l.Each(func(s string) bool { out = append(out, s); return true })
	return out
}

func checkList(t *testing.T, step int, l *List, m listModel) {
	t.Helper()
	got := listElems(l)
	if l.Len() != len(m) || !slices.Equal(got, []string(m)) {
		t.Fatalf("step %d: list %q (len %d), want %q", step, got, l.Len(), m)
	}
	for i := range m {
		if l.At(i) != m[i] {
			t.Fatalf("step %d: At(%d) = %q, want %q", step, i, l.At(i), m[i])
		}
	}
	if c := len(l.buf); c != 0 && c&(c-1) != 0 {
		t.Fatalf("step %d: ring size %d is not a power of two", step, c)
	}
	if len(m) == 0 && l.buf != nil {
		t.Fatalf("step %d: empty list keeps a ring of %d", step, len(l.buf))
	}
}

func TestListAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	l := NewList()
	var m listModel
	val := func() string { return strconv.Itoa(r.IntN(6)) }
	for step := 0; step < 20000; step++ {
		switch op := r.IntN(10); {
		case op < 2:
			v := val()
			l.PushFront([]byte(v))
			m = append(listModel{v}, m...)
		case op < 4:
			v := val()
			l.PushBack([]byte(v))
			m = append(m, v)
		case op == 4 && len(m) > 0:
			if got := l.PopFront(); got != m[0] {
				t.Fatalf("step %d: PopFront = %q, want %q", step, got, m[0])
			}
			m = m[1:]
		case op == 5 && len(m) > 0:
			if got := l.PopBack(); got != m[len(m)-1] {
				t.Fatalf("step %d: PopBack = %q, want %q", step, got, m[len(m)-1])
			}
			m = m[:len(m)-1]
		case op == 6:
			i := r.IntN(len(m) + 1)
			v := val()
			l.Insert(i, []byte(v))
			m = slices.Insert(m, i, v)
		case op == 7 && len(m) > 0:
			i := r.IntN(len(m))
			v := val()
			l.Set(i, []byte(v))
			m[i] = v
		case op == 8:
			count := int64(r.IntN(7) - 3)
			v := val()
			var want int
			m, want = m.removeMatches(v, count)
			if got := l.RemoveMatches(v, count); got != want {
				t.Fatalf("step %d: RemoveMatches(%q, %d) = %d, want %d", step, v, count, got, want)
			}
		case op == 9:
			a, b := r.IntN(len(m)/3+1), r.IntN(len(m)/3+1)
			l.DropFront(a)
			l.DropBack(b)
			m = m[a : len(m)-b]
		}
		checkList(t, step, l, m)
	}
}

func TestListRingWrapsAndShrinks(t *testing.T) {
	l := NewList()
	for i := 0; i < 1000; i++ {
		l.PushBack([]byte(strconv.Itoa(i)))
	}
	if len(l.buf) != 1024 {
		t.Fatalf("ring of %d for 1000 elements, want 1024", len(l.buf))
	}
	for i := 0; i < 990; i++ {
		if got := l.PopFront(); got != strconv.Itoa(i) {
			t.Fatalf("PopFront = %q, want %d", got, i)
		}
	}
	if len(l.buf) > 64 {
		t.Fatalf("ring of %d kept for 10 elements", len(l.buf))
	}
	// A queue that wraps around the ring many times keeps its order.
	next, want := 1000, 990
	for i := 0; i < 10000; i++ {
		l.PushBack([]byte(strconv.Itoa(next)))
		next++
		if got := l.PopFront(); got != strconv.Itoa(want) {
			t.Fatalf("PopFront = %q, want %d", got, want)
		}
		want++
	}
	l.DropFront(l.Len())
	if l.Len() != 0 || l.buf != nil {
		t.Fatalf("after dropping everything: len %d, ring %d", l.Len(), len(l.buf))
	}
}

func TestListCopiesInput(t *testing.T) {
	l := NewList()
	b := []byte("abc")
	l.PushBack(b)
	l.PushFront(b)
	l.Insert(1, b)
	l.Set(2, b)
	b[0] = 'X'
	if got := listElems(l); !slices.Equal(got, []string{"abc", "abc", "abc"}) {
		t.Fatalf("list shares the caller's bytes: %q", got)
	}
}

func TestListCloneIsIndependent(t *testing.T) {
	l := NewList()
	for _, s := range []string{"a", "b", "c"} {
		l.PushBack([]byte(s))
	}
	c := l.Clone().(*List)
	l.PopFront()
	l.Set(0, []byte("z"))
	if got := listElems(c); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("clone changed with the original: %q", got)
	}
	if c.Encoding() != "quicklist" || c.Kind() != KindList {
		t.Fatalf("clone: encoding %q kind %v", c.Encoding(), c.Kind())
	}
}

func TestListRemoveMatchesMinCount(t *testing.T) {
	l := NewList()
	for _, s := range []string{"a", "x", "a", "a"} {
		l.PushBack([]byte(s))
	}
	if n := l.RemoveMatches("a", math.MinInt64); n != 3 {
		t.Fatalf("RemoveMatches(MinInt64) removed %d, want 3", n)
	}
	if got := listElems(l); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("left %q", got)
	}
}

// TestListDigest checks DEBUG DIGEST-VALUE against redis-server 7.0's
// answer for RPUSH k a bb 1 "".
func TestListDigest(t *testing.T) {
	l := NewList()
	for _, s := range []string{"a", "bb", "1", ""} {
		l.PushBack([]byte(s))
	}
	ks := New(nil)
	o := ks.DB(0).SetCollection("k", l, false)
	d := ValueDigest(o)
	if got, want := d.Hex(), "438afde4f153957dfafe429a7ac70387ac65ff25"; got != want {
		t.Fatalf("digest %s, want %s", got, want)
	}
}
