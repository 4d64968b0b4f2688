package keyspace

import (
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/ferrydb/ferry/internal/dict"
)

// Hash is a hash value. Like Redis it starts in the "listpack" encoding, an
// insertion-ordered list of field-value pairs (so HGETALL, HKEYS, HVALS and
// HSCAN reply in the order Redis does), and converts for good to the
// "hashtable" encoding once it holds more than Limits.HashMaxListpackEntries
// fields or a field or value longer than Limits.HashMaxListpackValue.
//
// Every method copies the bytes it retains; the slices it returns alias the
// hash and must not be modified or retained past the next change.
type Hash struct {
	pairs []hashPair         // listpack encoding (ht == nil)
	ht    *dict.Dict[[]byte] // hashtable encoding
}

type hashPair struct {
	field string
	value []byte
}

var _ Collection = (*Hash)(nil)

// NewHash returns an empty hash in the listpack encoding.
func NewHash() *Hash { return &Hash{} }

// Kind returns KindHash.
func (h *Hash) Kind() Kind { return KindHash }

// Len returns the number of fields.
func (h *Hash) Len() int {
	if h.ht != nil {
		return h.ht.Len()
	}
	return len(h.pairs)
}

// Encoding returns "listpack" or "hashtable".
func (h *Hash) Encoding() string {
	if h.ht != nil {
		return "hashtable"
	}
	return "listpack"
}

// IsListpack reports whether the hash is in the compact, ordered encoding.
func (h *Hash) IsListpack() bool { return h.ht == nil }

// Digest mixes the hash into d as DEBUG DIGEST does: for each pair, the
// field then the value are mixed into a zeroed digest, which is xored into d.
func (h *Hash) Digest(d *Digest) {
	h.Range(func(field string, value []byte) bool {
		var e Digest
		e.MixString(field)
		e.Mix(value)
		d.Xor(e[:])
		return true
	})
}

// Clone returns a deep copy in the same encoding.
func (h *Hash) Clone() Collection {
	n := &Hash{}
	if h.ht == nil {
		n.pairs = make([]hashPair, len(h.pairs))
		for i, p := range h.pairs {
			n.pairs[i] = hashPair{p.field, cloneBytes(p.value)}
		}
		return n
	}
	n.ht = dict.New[[]byte]()
	h.ht.Range(func(field string, v *[]byte) bool {
		nv, _ := n.ht.Put(field)
		*nv = cloneBytes(*v)
		return true
	})
	return n
}

// cloneBytes returns a copy of b that is never nil.
func cloneBytes(b []byte) []byte { return append(make([]byte, 0, len(b)), b...) }

func (h *Hash) find(field string) int {
	for i := range h.pairs {
		if h.pairs[i].field == field {
			return i
		}
	}
	return -1
}

// Get returns field's value.
func (h *Hash) Get(field string) ([]byte, bool) {
	if h.ht != nil {
		if v := h.ht.Get(field); v != nil {
			return *v, true
		}
		return nil, false
	}
	if i := h.find(field); i >= 0 {
		return h.pairs[i].value, true
	}
	return nil, false
}

// Has reports whether field exists.
func (h *Hash) Has(field string) bool {
	_, ok := h.Get(field)
	return ok
}

// Fit converts a listpack hash to a hashtable when one of strs is longer
// than lim.HashMaxListpackValue, as Redis checks every field and value of
// HSET before adding any of them.
func (h *Hash) Fit(strs [][]byte, lim Limits) {
	if h.ht != nil {
		return
	}
	for _, s := range strs {
		if len(s) > lim.HashMaxListpackValue {
			h.convert()
			return
		}
	}
}

// Set sets field to a copy of value and reports whether the field is new.
// The hash converts to a hashtable when the field or value is too long or
// the number of fields goes past lim.HashMaxListpackEntries.
func (h *Hash) Set(field string, value []byte, lim Limits) (created bool) {
	return h.set(field, value, lim, true)
}

// SetOwned is Set for a field and value the hash keeps as they are, not
// copied: nobody may modify value afterwards, nor append to it within its
// capacity. A snapshot loader hands a small hash's elements over this way,
// carved from one allocation.
func (h *Hash) SetOwned(field string, value []byte, lim Limits) (created bool) {
	return h.set(field, value, lim, false)
}

func (h *Hash) set(field string, value []byte, lim Limits, clone bool) (created bool) {
	if h.ht == nil && (len(field) > lim.HashMaxListpackValue || len(value) > lim.HashMaxListpackValue) {
		h.convert()
	}
	if clone {
		value = cloneBytes(value)
	}
	if h.ht != nil {
		put := h.ht.Put
		if !clone {
			put = h.ht.PutOwned
		}
		v, created := put(field)
		*v = value
		return created
	}
	if i := h.find(field); i >= 0 {
		h.pairs[i].value = value
	} else {
		if clone {
			field = strings.Clone(field)
		}
		h.pairs = append(h.pairs, hashPair{field, value})
		created = true
	}
	// Checked after an update too, as Redis's hashTypeSet does: a hash
	// left longer than a lowered hash-max-listpack-entries converts on
	// its next write.
	if len(h.pairs) > lim.HashMaxListpackEntries {
		h.convert()
	}
	return created
}

// Reserve makes room for n more fields in the listpack encoding, so that
// adding them does not grow the pairs one doubling at a time.
func (h *Hash) Reserve(n int) {
	if h.ht == nil && n > 0 {
		h.pairs = slices.Grow(h.pairs, n)
	}
}

// Delete removes field and reports whether it existed.
func (h *Hash) Delete(field string) bool {
	if h.ht != nil {
		_, ok := h.ht.Delete(field)
		return ok
	}
	i := h.find(field)
	if i < 0 {
		return false
	}
	copy(h.pairs[i:], h.pairs[i+1:])
	h.pairs[len(h.pairs)-1] = hashPair{}
	h.pairs = h.pairs[:len(h.pairs)-1]
	return true
}

// convert moves a listpack hash to the hashtable encoding.
func (h *Hash) convert() {
	d := dict.New[[]byte]()
	for _, p := range h.pairs {
		v, _ := d.Put(p.field)
		*v = p.value
	}
	h.pairs = nil
	h.ht = d
}

// Range calls fn for every pair, in insertion order for a listpack hash,
// until fn returns false. fn must not modify the hash.
func (h *Hash) Range(fn func(field string, value []byte) bool) {
	if h.ht != nil {
		h.ht.Range(func(field string, v *[]byte) bool { return fn(field, *v) })
		return
	}
	for _, p := range h.pairs {
		if !fn(p.field, p.value) {
			return
		}
	}
}

// Random returns a random pair of a non-empty hash.
func (h *Hash) Random() (field string, value []byte) {
	if h.ht != nil {
		f, v, _ := h.ht.Random()
		return f, *v
	}
	p := h.pairs[rand.IntN(len(h.pairs))]
	return p.field, p.value
}

// Scan visits the pairs of one cursor step of a hashtable hash (see
// dict.Dict.Scan) and returns the next cursor. A listpack hash is visited
// whole and 0 is returned, as Redis does for compact encodings.
func (h *Hash) Scan(cursor uint64, fn func(field string, value []byte)) uint64 {
	if h.ht == nil {
		for _, p := range h.pairs {
			fn(p.field, p.value)
		}
		return 0
	}
	return h.ht.Scan(cursor, func(field string, v *[]byte) { fn(field, *v) })
}
