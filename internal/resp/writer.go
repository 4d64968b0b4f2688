package resp

import (
	"math"
	"strconv"
)

// Writer accumulates replies in RESP2 or RESP3. Types that RESP2 lacks are
// downgraded the way Redis does it (maps to flat arrays, doubles to bulk
// strings, null to $-1 or *-1, booleans to integers).
type Writer struct {
	Buf []byte
	// Proto is 2 or 3.
	Proto int
}

// AppendCommand appends args as a request: an array of bulk strings, the
// form of commands on the wire and in the replication log.
func AppendCommand(b []byte, args ...[]byte) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

// Reset empties the buffer, keeping its memory.
func (w *Writer) Reset() { w.Buf = w.Buf[:0] }

// Len returns the number of buffered bytes.
func (w *Writer) Len() int { return len(w.Buf) }

// Raw appends bytes that are already RESP.
func (w *Writer) Raw(b []byte) { w.Buf = append(w.Buf, b...) }

// OK appends +OK.
func (w *Writer) OK() { w.Buf = append(w.Buf, "+OK\r\n"...) }

// Status appends a simple string.
func (w *Writer) Status(s string) {
	w.Buf = append(w.Buf, '+')
	w.Buf = append(w.Buf, s...)
	w.Buf = append(w.Buf, '\r', '\n')
}

// Error appends an error reply. msg is the whole text, error code included
// ("ERR syntax error"); CR and LF are replaced by spaces as Redis does.
func (w *Writer) Error(msg string) {
	w.Buf = append(w.Buf, '-')
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		w.Buf = append(w.Buf, c)
	}
	w.Buf = append(w.Buf, '\r', '\n')
}

// Int appends an integer reply.
func (w *Writer) Int(n int64) {
	w.Buf = append(w.Buf, ':')
	w.Buf = strconv.AppendInt(w.Buf, n, 10)
	w.Buf = append(w.Buf, '\r', '\n')
}

// Bulk appends a bulk string.
func (w *Writer) Bulk(b []byte) {
	w.Buf = append(w.Buf, '$')
	w.Buf = strconv.AppendInt(w.Buf, int64(len(b)), 10)
	w.Buf = append(w.Buf, '\r', '\n')
	w.Buf = append(w.Buf, b...)
	w.Buf = append(w.Buf, '\r', '\n')
}

// BulkString appends a bulk string.
func (w *Writer) BulkString(s string) {
	w.Buf = append(w.Buf, '$')
	w.Buf = strconv.AppendInt(w.Buf, int64(len(s)), 10)
	w.Buf = append(w.Buf, '\r', '\n')
	w.Buf = append(w.Buf, s...)
	w.Buf = append(w.Buf, '\r', '\n')
}

// BulkInt appends an integer formatted as a bulk string.
func (w *Writer) BulkInt(n int64) {
	var tmp [20]byte
	w.Bulk(strconv.AppendInt(tmp[:0], n, 10))
}

// Null appends a null bulk string ($-1, or _ in RESP3).
func (w *Writer) Null() {
	if w.Proto == 3 {
		w.Buf = append(w.Buf, "_\r\n"...)
		return
	}
	w.Buf = append(w.Buf, "$-1\r\n"...)
}

// NullArray appends a null array (*-1, or _ in RESP3).
func (w *Writer) NullArray() {
	if w.Proto == 3 {
		w.Buf = append(w.Buf, "_\r\n"...)
		return
	}
	w.Buf = append(w.Buf, "*-1\r\n"...)
}

// Array appends an array header of n elements.
func (w *Writer) Array(n int) { w.header('*', n) }

// Map appends a map header of n key-value pairs (an array of 2n in RESP2).
func (w *Writer) Map(n int) {
	if w.Proto == 3 {
		w.header('%', n)
		return
	}
	w.header('*', 2*n)
}

// Set appends a set header of n elements (an array in RESP2).
func (w *Writer) Set(n int) {
	if w.Proto == 3 {
		w.header('~', n)
		return
	}
	w.header('*', n)
}

// Push appends a push header of n elements (an array in RESP2).
func (w *Writer) Push(n int) {
	if w.Proto == 3 {
		w.header('>', n)
		return
	}
	w.header('*', n)
}

// Bool appends a boolean (:1/:0 in RESP2).
func (w *Writer) Bool(v bool) {
	switch {
	case w.Proto == 3 && v:
		w.Buf = append(w.Buf, "#t\r\n"...)
	case w.Proto == 3:
		w.Buf = append(w.Buf, "#f\r\n"...)
	case v:
		w.Buf = append(w.Buf, ":1\r\n"...)
	default:
		w.Buf = append(w.Buf, ":0\r\n"...)
	}
}

// Double appends a double as Redis 7.0 does: "%.17g" in a bulk string for
// RESP2, a ',' double for RESP3.
func (w *Writer) Double(f float64) {
	var tmp [32]byte
	b := AppendDouble(tmp[:0], f)
	if w.Proto == 3 {
		w.Buf = append(w.Buf, ',')
		w.Buf = append(w.Buf, b...)
		w.Buf = append(w.Buf, '\r', '\n')
		return
	}
	w.Bulk(b)
}

// Verbatim appends a verbatim string of format "txt" (a bulk string in RESP2).
func (w *Writer) Verbatim(s string) {
	if w.Proto != 3 {
		w.BulkString(s)
		return
	}
	w.Buf = append(w.Buf, '=')
	w.Buf = strconv.AppendInt(w.Buf, int64(len(s)+4), 10)
	w.Buf = append(w.Buf, "\r\ntxt:"...)
	w.Buf = append(w.Buf, s...)
	w.Buf = append(w.Buf, '\r', '\n')
}

func (w *Writer) header(c byte, n int) {
	w.Buf = append(w.Buf, c)
	w.Buf = strconv.AppendInt(w.Buf, int64(n), 10)
	w.Buf = append(w.Buf, '\r', '\n')
}

// Deferred marks where a header whose length is not yet known goes.
type Deferred int

// Defer reserves the place of a header to be written by SetArray, SetMap or
// SetSet once the number of elements is known.
func (w *Writer) Defer() Deferred { return Deferred(len(w.Buf)) }

// SetArray writes an array header of n elements at d.
func (w *Writer) SetArray(d Deferred, n int) { w.insertHeader(d, '*', n) }

// SetMap writes a map header of n pairs at d.
func (w *Writer) SetMap(d Deferred, n int) {
	if w.Proto == 3 {
		w.insertHeader(d, '%', n)
		return
	}
	w.insertHeader(d, '*', 2*n)
}

// SetSet writes a set header of n elements at d.
func (w *Writer) SetSet(d Deferred, n int) {
	if w.Proto == 3 {
		w.insertHeader(d, '~', n)
		return
	}
	w.insertHeader(d, '*', n)
}

func (w *Writer) insertHeader(d Deferred, c byte, n int) {
	var tmp [24]byte
	h := append(tmp[:0], c)
	h = strconv.AppendInt(h, int64(n), 10)
	h = append(h, '\r', '\n')
	at := int(d)
	w.Buf = append(w.Buf, h...)
	copy(w.Buf[at+len(h):], w.Buf[at:len(w.Buf)-len(h)])
	copy(w.Buf[at:], h)
}

// AppendDouble formats f as Redis 7.0 replies doubles: "%.17g", with inf,
// -inf and nan spelled out.
func AppendDouble(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case math.IsNaN(f):
		return append(dst, "nan"...)
	}
	return AppendG17(dst, f)
}

// AppendG17 formats f like C's printf("%.17g").
func AppendG17(dst []byte, f float64) []byte {
	if f == 0 {
		if math.Signbit(f) {
			return append(dst, "-0"...)
		}
		return append(dst, '0')
	}
	const prec = 17
	// %e form decides the exponent after rounding to prec digits.
	e := strconv.AppendFloat(nil, f, 'e', prec-1, 64)
	exp := 0
	for i := len(e) - 1; i >= 0; i-- {
		if e[i] == 'e' {
			n, _ := strconv.Atoi(string(e[i+1:]))
			exp = n
			break
		}
	}
	if exp < -4 || exp >= prec {
		// mantissa with trailing zeros removed, then e±XX.
		i := 0
		for e[i] != 'e' {
			i++
		}
		mant := trimZeros(e[:i])
		dst = append(dst, mant...)
		dst = append(dst, 'e')
		if exp < 0 {
			dst = append(dst, '-')
			exp = -exp
		} else {
			dst = append(dst, '+')
		}
		if exp < 10 {
			dst = append(dst, '0')
		}
		return strconv.AppendInt(dst, int64(exp), 10)
	}
	fixed := strconv.AppendFloat(nil, f, 'f', prec-1-exp, 64)
	return append(dst, trimZeros(fixed)...)
}

// trimZeros drops trailing zeros after a decimal point, and the point itself
// when nothing follows it.
func trimZeros(b []byte) []byte {
	dot := -1
	for i, c := range b {
		if c == '.' {
			dot = i
			break
		}
	}
	if dot < 0 {
		return b
	}
	end := len(b)
	for end > dot+1 && b[end-1] == '0' {
		end--
	}
	if end == dot+1 {
		end = dot
	}
	return b[:end]
}
