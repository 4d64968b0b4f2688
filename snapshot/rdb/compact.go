package rdb

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// The compact encodings Redis stores whole, as one RDB string: listpack
// (7.0), ziplist (before 7.0), intset and zipmap (before 2.6). Each parser
// checks the structure as Redis's deep integrity validation does (sizes,
// counts, back-lengths, end markers) and hands out the entries; none
// panics on any input.

// elem is one entry of a compact encoding: a string, or an integer.
type elem struct {
	s     []byte // the string, aliasing the encoding (when !isInt)
	n     int64
	isInt bool
}

// bytes returns the entry as a string: an integer in decimal, in tmp.
func (e elem) bytes(tmp []byte) []byte {
	if e.isInt {
		return strconv.AppendInt(tmp[:0], e.n, 10)
	}
	return e.s
}

// compactError is a flaw found at pos in an encoding.
type compactError struct {
	pos int
	msg string
}

func (e *compactError) Error() string {
	return fmt.Sprintf("%s (byte %d of the encoding)", e.msg, e.pos)
}

func flaw(pos int, format string, args ...any) error {
	return &compactError{pos: pos, msg: fmt.Sprintf(format, args...)}
}

// compactLen returns the number of entries a listpack's (or, with
// ziplist, a ziplist's) header claims, 0 when it is too short to say or
// the count did not fit the header. Only for sizing: the parsers check it.
func compactLen(b []byte, ziplist bool) int {
	at := 4
	if ziplist {
		at = 8
	}
	if len(b) < at+2 {
		return 0
	}
	n := int(binary.LittleEndian.Uint16(b[at:]))
	if n == 0xffff {
		return 0
	}
	return n
}

// listpackEach checks a listpack and calls fn for each entry in order.
func listpackEach(lp []byte, fn func(e elem) error) error {
	_, err := walkListpack(lp, false, fn)
	return err
}

// canonicalBacklens rewrites, in place, the back-lengths of lp's entries
// that read as the right length but are not encoded as listpack.c encodes
// them (see walkListpack). It reports whether it changed anything; it
// changes nothing in a listpack that is malformed otherwise.
func canonicalBacklens(lp []byte) bool {
	fixed, err := walkListpack(lp, false, nil)
	if err != nil || fixed == 0 {
		return false
	}
	walkListpack(lp, true, nil)
	return true
}

// walkListpack checks a listpack and calls fn (unless nil) for each entry
// in order. A back-length is checked as listpack.c's lpValidateNext does:
// it must read, right to left (lpDecodeBacklen), as the entry's length,
// which a back-length that is not the canonical encoding may also do (a
// 0x89 after a zero byte reads as 9, as 0x09 does). It returns the number
// of such back-lengths, which it rewrites when fix is set.
func walkListpack(lp []byte, fix bool, fn func(e elem) error) (int, error) {
	fixed := 0
	const header = 6
	if len(lp) < header+1 {
		return fixed, flaw(0, "listpack of %d bytes is too short", len(lp))
	}
	if total := binary.LittleEndian.Uint32(lp); uint64(total) != uint64(len(lp)) {
		return fixed, flaw(0, "listpack header says %d bytes, it has %d", total, len(lp))
	}
	count := int(binary.LittleEndian.Uint16(lp[4:]))
	p, n := header, 0
	for {
		if p >= len(lp) {
			return fixed, flaw(p, "listpack without end marker")
		}
		b := lp[p]
		if b == 0xff {
			if p != len(lp)-1 {
				return fixed, flaw(p, "listpack end marker before its end")
			}
			break
		}
		start := p
		var e elem
		need := func(k uint64) error {
			if uint64(p)+k > uint64(len(lp)) {
				return flaw(start, "listpack entry overflows the listpack")
			}
			return nil
		}
		switch {
		case b&0x80 == 0: // 7-bit unsigned integer
			e = elem{n: int64(b), isInt: true}
			p++
		case b&0xc0 == 0x80: // string up to 63 bytes
			l := uint64(b & 0x3f)
			if err := need(1 + l); err != nil {
				return fixed, err
			}
			e.s = lp[p+1 : p+1+int(l)]
			p += 1 + int(l)
		case b&0xe0 == 0xc0: // 13-bit signed integer
			if err := need(2); err != nil {
				return fixed, err
			}
			v := int64(b&0x1f)<<8 | int64(lp[p+1])
			if v >= 1<<12 {
				v -= 1 << 13
			}
			e = elem{n: v, isInt: true}
			p += 2
		case b&0xf0 == 0xe0: // string up to 4095 bytes
			if err := need(2); err != nil {
				return fixed, err
			}
			l := uint64(b&0x0f)<<8 | uint64(lp[p+1])
			if err := need(2 + l); err != nil {
				return fixed, err
			}
			e.s = lp[p+2 : p+2+int(l)]
			p += 2 + int(l)
		case b == 0xf0: // string with a 32-bit length
			if err := need(5); err != nil {
				return fixed, err
			}
			l := uint64(binary.LittleEndian.Uint32(lp[p+1:]))
			if err := need(5 + l); err != nil {
				return fixed, err
			}
			e.s = lp[p+5 : p+5+int(l)]
			p += 5 + int(l)
		case b >= 0xf1 && b <= 0xf4: // 16, 24, 32, 64-bit integers
			size := [...]int{2, 3, 4, 8}[b-0xf1]
			if err := need(uint64(1 + size)); err != nil {
				return fixed, err
			}
			e = elem{n: leInt(lp[p+1 : p+1+size]), isInt: true}
			p += 1 + size
		default:
			return fixed, flaw(p, "invalid listpack entry encoding 0x%02x", b)
		}
		var back [5]byte
		bl := lpBacklen(back[:], p-start)
		if p+bl > len(lp)-1 {
			return fixed, flaw(start, "listpack entry overflows the listpack")
		}
		if string(lp[p:p+bl]) != string(back[:bl]) {
			if lpDecodeBacklen(lp, p+bl-1) != uint64(p-start) {
				return fixed, flaw(p, "listpack entry back-length does not match its length %d", p-start)
			}
			fixed++
			if fix {
				copy(lp[p:], back[:bl])
			}
		}
		p += bl
		n++
		if fn != nil {
			if err := fn(e); err != nil {
				return fixed, err
			}
		}
	}
	if count != 0xffff && count != n {
		return fixed, flaw(4, "listpack header says %d entries, it has %d", count, n)
	}
	return fixed, nil
}

// lpDecodeBacklen reads the back-length whose last byte is lp[p] as
// listpack.c's lpDecodeBacklen does: right to left, 7 bits a byte while
// the high bit is set, up to 5 bytes (and 2^64-1 past them).
func lpDecodeBacklen(lp []byte, p int) uint64 {
	var v uint64
	for shift := 0; p >= 0; p-- {
		v |= uint64(lp[p]&127) << shift
		if lp[p]&128 == 0 {
			return v
		}
		if shift += 7; shift > 28 {
			break
		}
	}
	return math.MaxUint64
}

// lpBacklen encodes a listpack entry's length, read right to left, as
// listpack.c's lpEncodeBacklen, and returns its size.
func lpBacklen(buf []byte, l int) int {
	switch {
	case l <= 127:
		buf[0] = byte(l)
		return 1
	case l < 16383:
		buf[0] = byte(l >> 7)
		buf[1] = byte(l&127) | 128
		return 2
	case l < 2097151:
		buf[0] = byte(l >> 14)
		buf[1] = byte((l>>7)&127) | 128
		buf[2] = byte(l&127) | 128
		return 3
	case l < 268435455:
		buf[0] = byte(l >> 21)
		buf[1] = byte((l>>14)&127) | 128
		buf[2] = byte((l>>7)&127) | 128
		buf[3] = byte(l&127) | 128
		return 4
	}
	buf[0] = byte(l >> 28)
	buf[1] = byte((l>>21)&127) | 128
	buf[2] = byte((l>>14)&127) | 128
	buf[3] = byte((l>>7)&127) | 128
	buf[4] = byte(l&127) | 128
	return 5
}

// leInt reads a little-endian two's complement integer of 1 to 8 bytes.
func leInt(b []byte) int64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	shift := 64 - 8*uint(len(b))
	return int64(v<<shift) >> shift
}

// ziplistEach checks a ziplist and calls fn for each entry in order.
func ziplistEach(zl []byte, fn func(e elem) error) error {
	const header = 10
	if len(zl) < header+1 {
		return flaw(0, "ziplist of %d bytes is too short", len(zl))
	}
	if total := binary.LittleEndian.Uint32(zl); uint64(total) != uint64(len(zl)) {
		return flaw(0, "ziplist header says %d bytes, it has %d", total, len(zl))
	}
	tail := int64(binary.LittleEndian.Uint32(zl[4:]))
	count := int(binary.LittleEndian.Uint16(zl[8:]))
	p, n, prev, last := header, 0, 0, int64(header)
	for {
		if p >= len(zl) {
			return flaw(p, "ziplist without end marker")
		}
		if zl[p] == 0xff {
			if p != len(zl)-1 {
				return flaw(p, "ziplist end marker before its end")
			}
			break
		}
		start := p
		need := func(k uint64) error {
			// The end marker must still follow the entry.
			if uint64(p)+k >= uint64(len(zl)) {
				return flaw(start, "ziplist entry overflows the ziplist")
			}
			return nil
		}
		// The previous entry's length.
		var pl int
		if b := zl[p]; b < 254 {
			pl = int(b)
			p++
		} else {
			if err := need(5); err != nil {
				return err
			}
			pl = int(binary.LittleEndian.Uint32(zl[p+1:]))
			p += 5
		}
		if pl != prev {
			return flaw(start, "ziplist entry says the previous one has %d bytes, it has %d", pl, prev)
		}
		if err := need(1); err != nil {
			return err
		}
		var e elem
		enc := zl[p]
		var l uint64
		isStr := true
		switch enc >> 6 {
		case 0:
			l = uint64(enc & 0x3f)
			p++
		case 1:
			if err := need(2); err != nil {
				return err
			}
			l = uint64(enc&0x3f)<<8 | uint64(zl[p+1])
			p += 2
		case 2:
			if err := need(5); err != nil {
				return err
			}
			l = uint64(binary.BigEndian.Uint32(zl[p+1:]))
			p += 5
		default:
			isStr = false
			var size int
			switch {
			case enc == 0xc0:
				size = 2
			case enc == 0xd0:
				size = 4
			case enc == 0xe0:
				size = 8
			case enc == 0xf0:
				size = 3
			case enc == 0xfe:
				size = 1
			case enc >= 0xf1 && enc <= 0xfd:
				e = elem{n: int64(enc&0x0f) - 1, isInt: true}
			default:
				return flaw(p, "invalid ziplist entry encoding 0x%02x", enc)
			}
			if err := need(uint64(1 + size)); err != nil {
				return err
			}
			if size > 0 {
				e = elem{n: leInt(zl[p+1 : p+1+size]), isInt: true}
			}
			p += 1 + size
		}
		if isStr {
			if err := need(l); err != nil {
				return err
			}
			e.s = zl[p : p+int(l)]
			p += int(l)
		}
		prev, last = p-start, int64(start)
		n++
		if err := fn(e); err != nil {
			return err
		}
	}
	if tail != last {
		return flaw(4, "ziplist header says its last entry is at %d, it is at %d", tail, last)
	}
	if count != 0xffff && count != n {
		return flaw(8, "ziplist header says %d entries, it has %d", count, n)
	}
	return nil
}

// intsetEach checks an intset (sorted, no duplicates) and calls fn for each
// member in order.
func intsetEach(is []byte, fn func(n int64) error) error {
	if len(is) < 8 {
		return flaw(0, "intset of %d bytes is too short", len(is))
	}
	size := binary.LittleEndian.Uint32(is)
	if size != 2 && size != 4 && size != 8 {
		return flaw(0, "invalid intset integer size %d", size)
	}
	count := uint64(binary.LittleEndian.Uint32(is[4:]))
	if count == 0 {
		return flaw(4, "empty intset")
	}
	if 8+count*uint64(size) != uint64(len(is)) {
		return flaw(4, "intset of %d %d-byte integers in %d bytes", count, size, len(is))
	}
	var prev int64
	for i := 0; i < int(count); i++ {
		p := 8 + i*int(size)
		v := leInt(is[p : p+int(size)])
		if i > 0 && v <= prev {
			return flaw(p, "intset not in ascending order")
		}
		prev = v
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

// zipmapEach checks a zipmap (Redis 2.4's small hashes) as zipmap.c's
// zipmapValidateIntegrity does and calls fn for each field and value. As
// there, the entries end at the first end marker where an entry would
// start (what follows it is ignored, though the last byte must be an end
// marker too), a length byte of 254 or 255 is followed by a 32-bit
// length (of at least 254), there must be an entry, and a header count
// other than 254 (unknown) must be the number of entries.
func zipmapEach(zm []byte, fn func(field, value []byte) error) error {
	if len(zm) < 2 {
		return flaw(0, "zipmap of %d bytes is too short", len(zm))
	}
	if zm[len(zm)-1] != 0xff {
		return flaw(len(zm)-1, "zipmap without end marker")
	}
	count := int(zm[0])
	p, n := 1, 0
	readLen := func() (uint64, error) {
		if p >= len(zm)-1 {
			return 0, flaw(p, "zipmap entry overflows the zipmap")
		}
		b := zm[p]
		if b < 254 {
			p++
			return uint64(b), nil
		}
		if p+5 > len(zm)-1 {
			return 0, flaw(p, "zipmap entry overflows the zipmap")
		}
		l := uint64(binary.LittleEndian.Uint32(zm[p+1:]))
		if l < 254 {
			// zipmap.c skips a length by the size of its canonical
			// encoding: Redis reads this entry wrong and refuses the hash.
			return 0, flaw(p, "zipmap length %d in 5 bytes", l)
		}
		p += 5
		return l, nil
	}
	str := func(l uint64) ([]byte, error) {
		if uint64(p)+l >= uint64(len(zm)) {
			return nil, flaw(p, "zipmap entry overflows the zipmap")
		}
		s := zm[p : p+int(l)]
		p += int(l)
		return s, nil
	}
	for zm[p] != 0xff {
		l, err := readLen()
		if err != nil {
			return err
		}
		field, err := str(l)
		if err != nil {
			return err
		}
		if l, err = readLen(); err != nil {
			return err
		}
		if p >= len(zm)-1 {
			return flaw(p, "zipmap entry overflows the zipmap")
		}
		free := uint64(zm[p])
		p++
		value, err := str(l)
		if err != nil {
			return err
		}
		if _, err := str(free); err != nil {
			return err
		}
		n++
		if err := fn(field, value); err != nil {
			return err
		}
	}
	if n == 0 {
		return flaw(0, "empty zipmap")
	}
	if count != 254 && count != n {
		return flaw(0, "zipmap header says %d entries, it has %d", count, n)
	}
	return nil
}

// lzfMaxRatio bounds how much LZF can expand its input: a 3-byte back
// reference stands for at most 264 bytes.
const lzfMaxRatio = 88

// lzfDecompress appends to dst the n bytes that in decompresses to (LZF, as
// lzf_d.c), failing unless in decompresses to exactly n bytes.
func lzfDecompress(dst, in []byte, n int) ([]byte, error) {
	base := len(dst)
	limit := base + n
	dst = slices.Grow(dst, n)
	i := 0
	for i < len(in) {
		ctrl := int(in[i])
		i++
		if ctrl < 32 { // a run of ctrl+1 literal bytes
			run := ctrl + 1
			if i+run > len(in) {
				return dst, flaw(i, "literal run overflows the input")
			}
			if len(dst)+run > limit {
				return dst, flaw(i, "data longer than its stated length %d", n)
			}
			dst = append(dst, in[i:i+run]...)
			i += run
			continue
		}
		// A back reference: length in the top 3 bits (7 means more in the
		// next byte), distance in the low 5 bits and the next byte.
		l := ctrl >> 5
		if l == 7 {
			if i >= len(in) {
				return dst, flaw(i, "back reference overflows the input")
			}
			l += int(in[i])
			i++
		}
		if i >= len(in) {
			return dst, flaw(i, "back reference overflows the input")
		}
		ref := len(dst) - (ctrl&0x1f)<<8 - 1 - int(in[i])
		i++
		l += 2
		if ref < base {
			return dst, flaw(i, "back reference before the start")
		}
		if len(dst)+l > limit {
			return dst, flaw(i, "data longer than its stated length %d", n)
		}
		for k := 0; k < l; k++ {
			dst = append(dst, dst[ref+k])
		}
	}
	if len(dst) != limit {
		return dst, flaw(i, "%d bytes of data, %d stated", len(dst)-base, n)
	}
	return dst, nil
}
