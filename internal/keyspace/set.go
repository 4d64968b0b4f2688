package keyspace

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"unsafe"

	"github.com/ferrydb/ferry/internal/dict"
	"github.com/ferrydb/ferry/internal/num"
)

// Set is a set value. Like Redis 7.0 it is an "intset", a sorted array of
// integers (so SMEMBERS and SSCAN reply in ascending order, as Redis does),
// while every member is an integer in Redis's string2ll form and there are
// at most Limits.SetMaxIntsetEntries of them; otherwise, for good, a
// "hashtable".
//
// Every method copies the bytes it retains. Members passed to callbacks may
// live in a scratch buffer: they are valid only during the call.
type Set struct {
	ints []int64              // intset encoding (ht == nil), ascending
	ht   *dict.Dict[struct{}] // hashtable encoding
}

var _ Collection = (*Set)(nil)

// maxIntsetEntries caps SetMaxIntsetEntries as Redis does (intset internals).
const maxIntsetEntries = 1 << 30

// NewSet returns an empty set in the intset encoding.
func NewSet() *Set { return &Set{} }

// Kind returns KindSet.
func (s *Set) Kind() Kind { return KindSet }

// Len returns the number of members.
func (s *Set) Len() int {
	if s.ht != nil {
		return s.ht.Len()
	}
	return len(s.ints)
}

// Encoding returns "intset" or "hashtable".
func (s *Set) Encoding() string {
	if s.ht != nil {
		return "hashtable"
	}
	return "intset"
}

// IsIntset reports whether the set is in the compact, sorted encoding.
func (s *Set) IsIntset() bool { return s.ht == nil }

// Ints returns the members of an intset in ascending order (nil for a
// hashtable set). The caller must not modify the slice.
func (s *Set) Ints() []int64 {
	if s.ht != nil {
		return nil
	}
	return s.ints
}

// Digest xors every member into d as DEBUG DIGEST does; integers count as
// their decimal strings.
func (s *Set) Digest(d *Digest) {
	s.Range(func(m []byte) bool {
		d.Xor(m)
		return true
	})
}

// Clone returns a deep copy in the same encoding.
func (s *Set) Clone() Collection {
	if s.ht == nil {
		return &Set{ints: slices.Clone(s.ints)}
	}
	n := &Set{ht: dict.New[struct{}]()}
	s.ht.Range(func(m string, _ *struct{}) bool {
		n.ht.Put(m)
		return true
	})
	return n
}

// memberView returns b as a string without copying, for lookups only.
func memberView(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// Has reports whether m is a member.
func (s *Set) Has(m []byte) bool {
	if s.ht != nil {
		return s.ht.Get(memberView(m)) != nil
	}
	v, ok := num.ParseInt(m)
	if !ok {
		return false
	}
	_, found := slices.BinarySearch(s.ints, v)
	return found
}

// Add adds m and reports whether it was not already a member. An intset
// converts to a hashtable when m is not an integer or when it grows past
// lim.SetMaxIntsetEntries.
func (s *Set) Add(m []byte, lim Limits) bool {
	if s.ht == nil {
		v, ok := num.ParseInt(m)
		if ok {
			i, found := slices.BinarySearch(s.ints, v)
			if found {
				return false
			}
			s.ints = slices.Insert(s.ints, i, v)
			if len(s.ints) > min(lim.SetMaxIntsetEntries, maxIntsetEntries) {
				s.convert()
			}
			return true
		}
		s.convert()
	}
	_, created := s.ht.Put(memberView(m))
	return created
}

// Remove removes m and reports whether it was a member.
func (s *Set) Remove(m []byte) bool {
	if s.ht != nil {
		_, ok := s.ht.Delete(memberView(m))
		return ok
	}
	v, ok := num.ParseInt(m)
	if !ok {
		return false
	}
	i, found := slices.BinarySearch(s.ints, v)
	if !found {
		return false
	}
	s.ints = slices.Delete(s.ints, i, i+1)
	return true
}

// convert moves an intset to the hashtable encoding.
func (s *Set) convert() {
	d := dict.New[struct{}]()
	var tmp [20]byte
	for _, v := range s.ints {
		d.Put(memberView(strconv.AppendInt(tmp[:0], v, 10)))
	}
	s.ints = nil
	s.ht = d
}

// Range calls fn for every member, in ascending order for an intset, until
// fn returns false. fn must not modify the set nor retain m.
func (s *Set) Range(fn func(m []byte) bool) {
	if s.ht != nil {
		s.ht.Range(func(m string, _ *struct{}) bool { return fn(unsafe.Slice(unsafe.StringData(m), len(m))) })
		return
	}
	var tmp [20]byte
	for _, v := range s.ints {
		if !fn(strconv.AppendInt(tmp[:0], v, 10)) {
			return
		}
	}
}

// Random returns a random member of a non-empty set, as a new slice.
func (s *Set) Random() []byte {
	if s.ht != nil {
		m, _, _ := s.ht.Random()
		return []byte(m)
	}
	return strconv.AppendInt(nil, s.ints[rand.IntN(len(s.ints))], 10)
}

// Pop removes and returns a random member of a non-empty set.
func (s *Set) Pop() []byte {
	if s.ht != nil {
		m, _, _ := s.ht.Random()
		s.ht.Delete(m)
		return []byte(m)
	}
	i := rand.IntN(len(s.ints))
	v := s.ints[i]
	s.ints = slices.Delete(s.ints, i, i+1)
	return strconv.AppendInt(nil, v, 10)
}

// Scan visits the members of one cursor step of a hashtable set (see
// dict.Dict.Scan) and returns the next cursor. An intset is visited whole
// and 0 is returned, as Redis does for compact encodings.
func (s *Set) Scan(cursor uint64, fn func(m []byte)) uint64 {
	if s.ht == nil {
		s.Range(func(m []byte) bool {
			fn(m)
			return true
		})
		return 0
	}
	return s.ht.Scan(cursor, func(m string, _ *struct{}) { fn(unsafe.Slice(unsafe.StringData(m), len(m))) })
}
