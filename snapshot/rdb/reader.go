package rdb

import (
	"errors"
	"io"
	"slices"
	"unsafe"
)

// reader is a buffered reader that knows its offset in the stream and
// checksums what it consumes, in large chunks.
type reader struct {
	src    io.Reader
	buf    []byte
	pos    int   // next unread byte in buf
	end    int   // end of the valid bytes in buf
	crcPos int   // buf[:crcPos] is already in crc
	base   int64 // stream offset of buf[0]
	crc    uint64
	err    error // the source's error, once it returned one
}

const readerBuffer = 64 << 10

func newReader(src io.Reader) *reader {
	return &reader{src: src, buf: make([]byte, readerBuffer)}
}

// offset returns the stream offset of the next byte.
func (r *reader) offset() int64 { return r.base + int64(r.pos) }

// checksum returns the CRC of every byte consumed so far.
func (r *reader) checksum() uint64 {
	r.crc = crcUpdate(r.crc, r.buf[r.crcPos:r.pos])
	r.crcPos = r.pos
	return r.crc
}

// fill makes at least n (<= len(buf)) bytes available, or returns the
// source's error (io.ErrUnexpectedEOF for an early end).
func (r *reader) fill(n int) error {
	if r.end-r.pos >= n {
		return nil
	}
	r.checksum()
	copy(r.buf, r.buf[r.pos:r.end])
	r.base += int64(r.pos)
	r.end -= r.pos
	r.pos, r.crcPos = 0, 0
	for r.end < n {
		if r.err != nil {
			return r.err
		}
		m, err := r.src.Read(r.buf[r.end:])
		r.end += m
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			r.err = err
		} else if m == 0 {
			// A reader that keeps returning nothing: count it as an error
			// rather than spin (io.Reader allows it, rarely).
			r.err = io.ErrNoProgress
		}
	}
	return nil
}

// next returns the next n (<= readerBuffer) bytes, valid until the next call.
func (r *reader) next(n int) ([]byte, error) {
	if err := r.fill(n); err != nil {
		return nil, err
	}
	b := r.buf[r.pos : r.pos+n]
	r.pos += n
	return b, nil
}

func (r *reader) readByte() (byte, error) {
	if r.pos == r.end {
		if err := r.fill(1); err != nil {
			return 0, err
		}
	}
	b := r.buf[r.pos]
	r.pos++
	return b, nil
}

// readInto appends the next n bytes to dst and returns it. dst grows as the
// bytes arrive, so that a corrupt length does not allocate more than about
// twice what the input actually holds.
func (r *reader) readInto(dst []byte, n uint64) ([]byte, error) {
	dst = slices.Grow(dst, int(min(n, 1<<20)))
	for n > 0 {
		if r.pos == r.end {
			if err := r.fill(1); err != nil {
				return dst, err
			}
		}
		k := min(uint64(r.end-r.pos), n)
		dst = append(dst, r.buf[r.pos:r.pos+int(k)]...)
		r.pos += int(k)
		n -= k
	}
	return dst, nil
}

// unsafeString returns b as a string without copying: for keyspace calls,
// which copy what they retain, and for lookups.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// unsafeBytes returns s's bytes without copying; they must not be modified.
func unsafeBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
