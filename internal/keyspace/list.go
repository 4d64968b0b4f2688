package keyspace

// List is a list value. Redis 7.0 stores every list as a "quicklist"; ferry
// keeps the elements in a ring buffer, so that pushes and pops at both ends
// are O(1) and LINDEX/LRANGE reach any element directly.
//
// Elements are immutable strings: every method that takes bytes copies
// them, and the strings it hands out stay valid (and must not be modified
// through unsafe conversions). Indexes are 0-based from the head; callers
// convert Redis's negative indexes first.
type List struct {
	buf  []string // the ring; len(buf) is 0 or a power of two
	head int      // index in buf of element 0
	n    int      // number of elements
}

var _ Collection = (*List)(nil)

// minListCap is the smallest ring allocated; rings never shrink below it.
const minListCap = 4

// NewList returns an empty list.
func NewList() *List { return &List{} }

// Kind returns KindList.
func (l *List) Kind() Kind { return KindList }

// Len returns the number of elements.
func (l *List) Len() int { return l.n }

// Encoding returns "quicklist", Redis 7.0's only list encoding.
func (l *List) Encoding() string { return "quicklist" }

// Digest mixes every element into d, head to tail, as DEBUG DIGEST does.
func (l *List) Digest(d *Digest) {
	for i := 0; i < l.n; i++ {
		d.MixString(l.At(i))
	}
}

// Clone returns a copy. Elements are immutable, so they are shared.
func (l *List) Clone() Collection {
	c := &List{n: l.n}
	if l.n > 0 {
		c.buf = make([]string, ringCap(l.n))
		l.copyTo(c.buf)
	}
	return c
}

// slot returns the position in buf of element i.
func (l *List) slot(i int) int { return (l.head + i) & (len(l.buf) - 1) }

// At returns element i (0 <= i < Len()).
func (l *List) At(i int) string {
	if i < 0 || i >= l.n {
		panic("keyspace: list index out of range")
	}
	return l.buf[l.slot(i)]
}

// Set replaces element i (0 <= i < Len()) with a copy of v.
func (l *List) Set(i int, v []byte) {
	if i < 0 || i >= l.n {
		panic("keyspace: list index out of range")
	}
	l.buf[l.slot(i)] = string(v)
}

// PushFront inserts a copy of v before the head.
func (l *List) PushFront(v []byte) { l.PushFrontString(string(v)) }

// PushBack appends a copy of v after the tail.
func (l *List) PushBack(v []byte) { l.PushBackString(string(v)) }

// Reserve makes room for n more elements, so that pushing them does not
// grow the ring one doubling at a time.
func (l *List) Reserve(n int) {
	if n > 0 && l.n+n > len(l.buf) {
		l.resize(ringCap(l.n + n))
	}
}

// PushFrontString inserts s before the head (LMOVE moves elements between
// lists without copying them).
func (l *List) PushFrontString(s string) {
	l.grow()
	l.head = (l.head - 1) & (len(l.buf) - 1)
	l.buf[l.head] = s
	l.n++
}

// PushBackString appends s after the tail.
func (l *List) PushBackString(s string) {
	l.grow()
	l.buf[l.slot(l.n)] = s
	l.n++
}

// PopFront removes and returns the head; the list must not be empty.
func (l *List) PopFront() string {
	if l.n == 0 {
		panic("keyspace: pop from an empty list")
	}
	s := l.buf[l.head]
	l.buf[l.head] = ""
	l.head = (l.head + 1) & (len(l.buf) - 1)
	l.n--
	l.shrink()
	return s
}

// PopBack removes and returns the tail; the list must not be empty.
func (l *List) PopBack() string {
	if l.n == 0 {
		panic("keyspace: pop from an empty list")
	}
	i := l.slot(l.n - 1)
	s := l.buf[i]
	l.buf[i] = ""
	l.n--
	l.shrink()
	return s
}

// Insert inserts a copy of v so that it becomes element i (0 <= i <=
// Len()), moving the shorter side of the list by one.
func (l *List) Insert(i int, v []byte) {
	if i < 0 || i > l.n {
		panic("keyspace: list index out of range")
	}
	s := string(v)
	switch {
	case i == 0:
		l.PushFrontString(s)
	case i == l.n:
		l.PushBackString(s)
	case i < l.n/2:
		l.PushFrontString("")
		for j := 0; j < i; j++ {
			l.buf[l.slot(j)] = l.buf[l.slot(j+1)]
		}
		l.buf[l.slot(i)] = s
	default:
		l.PushBackString("")
		for j := l.n - 1; j > i; j-- {
			l.buf[l.slot(j)] = l.buf[l.slot(j-1)]
		}
		l.buf[l.slot(i)] = s
	}
}

// DropFront removes the first k elements (0 <= k <= Len()).
func (l *List) DropFront(k int) {
	if k < 0 || k > l.n {
		panic("keyspace: list range out of range")
	}
	for j := 0; j < k; j++ {
		l.buf[l.slot(j)] = ""
	}
	if k > 0 {
		l.head = l.slot(k)
		l.n -= k
		l.shrink()
	}
}

// DropBack removes the last k elements (0 <= k <= Len()).
func (l *List) DropBack(k int) {
	if k < 0 || k > l.n {
		panic("keyspace: list range out of range")
	}
	for j := l.n - k; j < l.n; j++ {
		l.buf[l.slot(j)] = ""
	}
	if k > 0 {
		l.n -= k
		l.shrink()
	}
}

// RemoveMatches removes elements equal to v (LREM): the first count of them
// from the head when count > 0, the last -count from the tail when count <
// 0, all of them when count is 0. It returns how many it removed.
func (l *List) RemoveMatches(v string, count int64) int {
	limit := count
	if limit < 0 {
		limit = -limit // -MinInt64 stays negative: no limit, like count 0
	}
	removed := 0
	full := func() bool { return limit > 0 && int64(removed) == limit }
	if count >= 0 {
		// Walk from the head, compacting the kept elements toward it.
		w := 0
		for r := 0; r < l.n; r++ {
			e := l.buf[l.slot(r)]
			if !full() && e == v {
				removed++
				continue
			}
			if w != r {
				l.buf[l.slot(w)] = e
			}
			w++
		}
		for j := w; j < l.n; j++ {
			l.buf[l.slot(j)] = ""
		}
	} else {
		// Walk from the tail, compacting toward it.
		w := l.n - 1
		for r := l.n - 1; r >= 0; r-- {
			e := l.buf[l.slot(r)]
			if !full() && e == v {
				removed++
				continue
			}
			if w != r {
				l.buf[l.slot(w)] = e
			}
			w--
		}
		for j := 0; j <= w; j++ {
			l.buf[l.slot(j)] = ""
		}
		if removed > 0 {
			l.head = l.slot(removed)
		}
	}
	l.n -= removed
	if removed > 0 {
		l.shrink()
	}
	return removed
}

// Each calls fn for every element from the head until fn returns false.
func (l *List) Each(fn func(s string) bool) {
	for i := 0; i < l.n; i++ {
		if !fn(l.buf[l.slot(i)]) {
			return
		}
	}
}

// grow makes room for one more element.
func (l *List) grow() {
	if l.n < len(l.buf) {
		return
	}
	l.resize(ringCap(l.n + 1))
}

// shrink halves the ring, or more, once it is at most a quarter full, so
// that a list that was long gives its memory back.
func (l *List) shrink() {
	if l.n == 0 {
		l.buf, l.head = nil, 0
		return
	}
	if len(l.buf) > minListCap && l.n <= len(l.buf)/4 {
		l.resize(ringCap(2 * l.n))
	}
}

func (l *List) resize(c int) {
	nb := make([]string, c)
	l.copyTo(nb)
	l.buf, l.head = nb, 0
}

// copyTo copies the elements in order to the start of dst.
func (l *List) copyTo(dst []string) {
	if l.n == 0 {
		return
	}
	end := l.head + l.n
	if end <= len(l.buf) {
		copy(dst, l.buf[l.head:end])
		return
	}
	k := copy(dst, l.buf[l.head:])
	copy(dst[k:], l.buf[:end-len(l.buf)])
}

// ringCap returns the ring size for n elements: a power of two, at least
// minListCap.
func ringCap(n int) int {
	c := minListCap
	for c < n {
		c <<= 1
	}
	return c
}
