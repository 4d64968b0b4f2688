// Package hll implements Redis's HyperLogLog strings (hyperloglog.c in
// redis-server 7.0) byte for byte: the "HYLL" header with its cached
// cardinality, the sparse and dense register encodings, the promotion from
// one to the other, MurmurHash64A and Ertl's cardinality estimator.
//
// A HyperLogLog is a plain string, so every function here takes input that
// may be anything a client stored: Valid checks the header as PFADD does,
// and a sparse string whose opcodes do not cover exactly the 16384
// registers yields ErrCorrupt. Nothing panics or loops on garbage.
//
// Edits follow Redis's in-place algorithm step by step, down to the byte
// Redis reads past the end of a sparse string that ends in half an opcode
// (its sds terminator, which a split can overwrite): an HLL carries that
// byte from one edit to the next, but the string stored does not, so the
// next command reads 0 there, as Redis does once its string was copied or
// reloaded.
package hll

import "errors"

// Layout of a HyperLogLog string.
const (
	// NumRegisters is the number of 6-bit registers (2^14).
	NumRegisters = 1 << precision
	// HeaderSize is the header's size: "HYLL", the encoding, three unused
	// bytes and the cached cardinality (little endian; its top bit set
	// when stale).
	HeaderSize = 16
	// DenseSize is the exact length of a dense HyperLogLog.
	DenseSize = HeaderSize + (NumRegisters*regBits+7)/8
	// DefaultSparseMaxBytes is Redis's hll-sparse-max-bytes: a sparse
	// HyperLogLog that would grow past it is promoted to dense.
	DefaultSparseMaxBytes = 3000
)

// Encodings, the header's fifth byte.
const (
	Dense  = 0
	Sparse = 1
)

const (
	precision = 14
	regBits   = 6
	regMax    = 1<<regBits - 1

	// Sparse opcodes: 00xxxxxx a run of 1-64 zero registers, 01xxxxxx
	// yyyyyyyy (XZERO) a run of 1-16384, 1vvvvvxx a run of 1-4 registers
	// of value 1-32.
	opXZero   = 0x40
	opVal     = 0x80
	valMax    = 32
	valMaxRun = 4
	zeroMax   = 64
)

// ErrCorrupt reports a sparse HyperLogLog whose opcodes do not describe
// exactly NumRegisters registers.
var ErrCorrupt = errors.New("hll: corrupt sparse representation")

// Valid reports whether s passes Redis's checks of a HyperLogLog string:
// the magic, a known encoding and, for a dense one, the exact length.
func Valid(s []byte) bool {
	if len(s) < HeaderSize || string(s[:4]) != "HYLL" || s[4] > Sparse {
		return false
	}
	return s[4] != Dense || len(s) == DenseSize
}

// IsDense reports whether the valid HyperLogLog s is dense.
func IsDense(s []byte) bool { return s[4] == Dense }

// Cached returns the cardinality cached in s's header and whether it is
// current.
func Cached(s []byte) (uint64, bool) {
	var n uint64
	for i := 7; i >= 0; i-- {
		n = n<<8 | uint64(s[8+i])
	}
	return n, s[15]&0x80 == 0
}

// SetCached stores n in s's header as the current cardinality.
func SetCached(s []byte, n uint64) {
	for i := range 8 {
		s[8+i] = byte(n >> (8 * i))
	}
}

// Invalidate marks the cardinality cached in s as stale.
func Invalidate(s []byte) { s[15] |= 0x80 }

// reg returns register i of dense registers r.
func reg(r []byte, i int) uint8 {
	bit := i * regBits
	b, fb := bit>>3, uint(bit&7)
	v := r[b] >> fb
	if fb > 8-regBits {
		v |= r[b+1] << (8 - fb)
	}
	return v & regMax
}

// setReg sets register i of dense registers r to v (at most regMax).
func setReg(r []byte, i int, v uint8) {
	bit := i * regBits
	b, fb := bit>>3, uint(bit&7)
	r[b] = r[b]&^(regMax<<fb) | v<<fb
	if fb > 8-regBits {
		r[b+1] = r[b+1]&^(regMax>>(8-fb)) | v>>(8-fb)
	}
}

// opAt decodes the sparse opcode at b[i]: its size in bytes, the registers
// it covers and their value (0 for a zero run). An XZERO cut short by the
// end of b reads next as its second byte.
func opAt(b []byte, i int, next byte) (size, run, val int) {
	c := b[i]
	switch {
	case c&0xc0 == 0:
		return 1, int(c&0x3f) + 1, 0
	case c&0xc0 == opXZero:
		lo := next
		if i+1 < len(b) {
			lo = b[i+1]
		}
		return 2, (int(c&0x3f)<<8 | int(lo)) + 1, 0
	default:
		return 1, int(c&3) + 1, int(c>>2&0x1f) + 1
	}
}

// valOp encodes a VAL opcode.
func valOp(v, run int) byte { return byte(opVal | (v-1)<<2 | (run - 1)) }

// putZeros encodes a zero run of n (1-16384) registers at b, as a ZERO
// opcode when it fits one, and returns its size.
func putZeros(b []byte, n int) int {
	if n > zeroMax {
		b[0] = byte(opXZero | (n-1)>>8)
		b[1] = byte(n - 1)
		return 2
	}
	b[0] = byte(n - 1)
	return 1
}

// eachRun walks the sparse registers b (next: the byte after them),
// calling fn with each opcode's first register, run and value (0 for a
// zero run). It reports whether the runs cover exactly NumRegisters,
// stopping at the first one that would go past the last register. So does
// Debian's redis-server 7.0.15, which carries the fix of CVE-2025-32023;
// the original 7.0.15 let a last VAL opcode overshoot.
func eachRun(b []byte, next byte, fn func(first, run, val int)) bool {
	idx := 0
	for i := 0; i < len(b); {
		size, run, val := opAt(b, i, next)
		if idx+run > NumRegisters {
			return false
		}
		fn(idx, run, val)
		idx += run
		i += size
	}
	return idx == NumRegisters
}

// HLL is a HyperLogLog string being edited. A dense one is changed in
// place, a sparse one in a copy; Bytes returns the result.
type HLL struct {
	s []byte
	// term is the byte after s: Redis reads it where a truncated XZERO
	// ends a sparse string, and a split can leave a byte there.
	term byte
}

// New returns an empty sparse HyperLogLog, as PFADD creates it: one XZERO
// opcode for all the registers, and a current cached cardinality of 0.
func New() *HLL {
	s := make([]byte, HeaderSize+2)
	copy(s, "HYLL")
	s[4] = Sparse
	putZeros(s[HeaderSize:], NumRegisters)
	return &HLL{s: s}
}

// Edit returns an HLL for changing the valid HyperLogLog s: a dense s is
// changed in place, a sparse one is copied.
func Edit(s []byte) *HLL {
	if IsDense(s) {
		return &HLL{s: s}
	}
	return &HLL{s: append(make([]byte, 0, len(s)+8), s...)}
}

// Bytes returns the HyperLogLog string.
func (h *HLL) Bytes() []byte { return h.s }

// Invalidate marks the cached cardinality as stale.
func (h *HLL) Invalidate() { Invalidate(h.s) }

// Add adds ele, reporting whether a register changed. sparseMax is
// hll-sparse-max-bytes.
func (h *HLL) Add(ele []byte, sparseMax int) (bool, error) {
	i, v := patLen(ele)
	return h.Set(i, v, sparseMax)
}

// Set raises register i to v (1-63), reporting whether it changed.
func (h *HLL) Set(i int, v uint8, sparseMax int) (bool, error) {
	if IsDense(h.s) {
		return denseSet(h.s[HeaderSize:], i, v), nil
	}
	return h.sparseSet(i, v, sparseMax)
}

// Raise raises every register to at least u's value, as PFMERGE writes
// its union into the destination: register by register, so that a sparse
// destination changes, or turns dense, as Redis's does. Like Redis, it
// ignores what it cannot set in a sparse HyperLogLog an earlier step left
// corrupt.
func (h *HLL) Raise(u *Union, sparseMax int) {
	for i, v := range u {
		if v != 0 {
			h.Set(i, v, sparseMax)
		}
	}
}

// ToDense converts a sparse HyperLogLog to dense, keeping its header.
func (h *HLL) ToDense() error {
	if IsDense(h.s) {
		return nil
	}
	d := make([]byte, DenseSize)
	copy(d, h.s[:HeaderSize])
	d[4] = Dense
	r := d[HeaderSize:]
	ok := eachRun(h.s[HeaderSize:], h.term, func(first, run, val int) {
		for i := first; i < first+run && val != 0; i++ {
			setReg(r, i, uint8(val))
		}
	})
	if !ok {
		return ErrCorrupt
	}
	h.s, h.term = d, 0
	return nil
}

func denseSet(r []byte, i int, v uint8) bool {
	if v <= reg(r, i) {
		return false
	}
	setReg(r, i, v)
	return true
}

// sparseSet raises register index to v the way Redis's hllSparseSet does:
// it finds the opcode covering the register, rewrites it (splitting a run
// into up to three opcodes), merges equal VAL opcodes around it, and
// promotes the HyperLogLog to dense when v does not fit a VAL opcode or the
// string would grow past sparseMax bytes.
func (h *HLL) sparseSet(index int, v uint8, sparseMax int) (bool, error) {
	if v > valMax {
		return h.promote(index, v)
	}
	n := len(h.s)
	// The string, its terminator, and room for the three bytes a split
	// adds. h.s is a copy of ours: appending in place is safe.
	w := append(h.s, h.term, 0, 0, 0)

	// Find the opcode at pos covering index: its first register, run and
	// value, and the opcode before it.
	pos, prev, first := HeaderSize, -1, 0
	size, run, val := 0, 0, 0
	for pos < n {
		size, run, val = opAt(w[:n], pos, w[n])
		if index <= first+run-1 {
			break
		}
		prev = pos
		pos += size
		first += run
	}
	if run == 0 || pos >= n {
		return false, ErrCorrupt
	}
	next := pos + size
	if next >= n {
		next = -1
	}

	switch {
	case val >= int(v):
		return false, nil
	case run == 1 && size == 1:
		// A VAL or ZERO opcode for this register alone.
		w[pos] = valOp(int(v), 1)
	default:
		var seq [5]byte
		k := 0
		last := first + run - 1
		if val != 0 {
			if index != first {
				seq[k] = valOp(val, index-first)
				k++
			}
			seq[k] = valOp(int(v), 1)
			k++
			if index != last {
				seq[k] = valOp(val, last-index)
				k++
			}
		} else {
			if index != first {
				k += putZeros(seq[k:], index-first)
			}
			seq[k] = valOp(int(v), 1)
			k++
			if index != last {
				k += putZeros(seq[k:], last-index)
			}
		}
		delta := k - size
		if delta > 0 && n+delta > sparseMax {
			return h.promote(index, v)
		}
		if delta != 0 && next >= 0 {
			copy(w[next+delta:], w[next:n])
		}
		n += delta
		w[n] = 0
		// A truncated XZERO at the end leaves seq's last byte past n.
		copy(w[pos:], seq[:k])
	}

	// Merge adjacent VAL opcodes of equal value, scanning up to five
	// opcodes from the one before the change.
	p := HeaderSize
	if prev >= 0 {
		p = prev
	}
	for scan := 5; p < n && scan > 0; scan-- {
		c := w[p]
		switch {
		case c&0xc0 == opXZero:
			p += 2
			continue
		case c&0xc0 == 0:
			p++
			continue
		}
		if p+1 < n && w[p+1]&opVal != 0 {
			_, r1, v1 := opAt(w, p, 0)
			_, r2, v2 := opAt(w, p+1, 0)
			if v1 == v2 && r1+r2 <= valMaxRun {
				w[p+1] = valOp(v1, r1+r2)
				copy(w[p:], w[p+1:n+1])
				n--
				w[n] = 0
				continue
			}
		}
		p++
	}
	h.s, h.term = w[:n], w[n]
	Invalidate(h.s)
	return true, nil
}

// promote converts the HyperLogLog to dense and sets register index to v.
func (h *HLL) promote(index int, v uint8) (bool, error) {
	if err := h.ToDense(); err != nil {
		return false, err
	}
	return denseSet(h.s[HeaderSize:], index, v), nil
}
