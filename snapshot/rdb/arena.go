package rdb

import "unsafe"

// arena hands out the copies of a collection's elements the keyspace keeps.
// Between start and done, a small collection's elements (a listpack's
// fields and values, members) come from one allocation instead of one per
// element: a collection of ten elements loaded with eleven allocations
// fewer. Each collection gets its own block (start), so a key deleted
// later frees its block and no other key's; the copies are capped at
// their length, so an append to one never writes over the next. Outside
// start and done (a large collection) each copy is an allocation of its
// own.
type arena struct {
	buf    []byte
	shared bool // between start and done
}

// smallCollection is the most elements a collection stored element by
// element may have for them to share blocks: Redis's listpack limit, so
// that blocks are only shared within collections small enough that
// deleting most of one keeps little memory alive.
const smallCollection = 128

// arenaGuess is the bytes per element a block starts with when the
// encoding does not say how many the elements take.
const arenaGuess = 16

// start begins a collection whose elements take about size bytes.
func (a *arena) start(size int) { a.buf, a.shared = make([]byte, 0, size), true }

// bytes returns a copy of b: from the block after start (a block that is
// full is followed by a new one), else an allocation of its own.
func (a *arena) bytes(b []byte) []byte {
	if !a.shared {
		return append(make([]byte, 0, len(b)), b...)
	}
	if len(b) > cap(a.buf)-len(a.buf) {
		a.buf = make([]byte, 0, max(len(b), cap(a.buf)))
	}
	s := len(a.buf)
	a.buf = append(a.buf, b...)
	return a.buf[s:len(a.buf):len(a.buf)]
}

// string returns a copy of b from the block as a string.
func (a *arena) string(b []byte) string {
	c := a.bytes(b)
	if len(c) == 0 {
		return ""
	}
	return unsafe.String(&c[0], len(c))
}

// done drops the block, so that the next collection does not share it.
func (a *arena) done() { a.buf, a.shared = nil, false }
