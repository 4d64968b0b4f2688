// Package resp reads Redis requests (multibulk and inline) and writes RESP2
// and RESP3 replies, with Redis's protocol limits and error texts.
package resp

import (
	"bytes"
	"errors"
	"io"
	"strconv"

	"github.com/ferrydb/ferry/internal/num"
)

// Limits Redis applies to requests (src/server.h, config.c defaults).
const (
	// MaxInlineSize is how many bytes an inline request or a count line may
	// span before Redis gives up on it (PROTO_INLINE_MAX_SIZE).
	MaxInlineSize = 64 * 1024
	// DefaultMaxBulkLen is proto-max-bulk-len's default: 512 MB.
	DefaultMaxBulkLen = 512 * 1024 * 1024
	// MaxMultibulkLen is the largest element count of a request (INT_MAX).
	MaxMultibulkLen = 1<<31 - 1
	// DefaultMaxQueryBuffer is client-query-buffer-limit's default: 1 GB.
	DefaultMaxQueryBuffer = 1024 * 1024 * 1024
	// unauthenticated clients may send at most this many arguments, each of at most unauthBulkLen bytes.
	unauthMultibulkLen = 10
	unauthBulkLen      = 16384
)

// ProtocolError is a malformed request. Its text is Redis's reply; the
// connection must be closed once it has been sent.
type ProtocolError string

func (e ProtocolError) Error() string { return "ERR Protocol error: " + string(e) }

// ErrQueryBufferLimit means a client's pending request grew past the query
// buffer limit; Redis closes such a client without a reply.
var ErrQueryBufferLimit = errors.New("query buffer limit reached")

// Reader parses requests from a client connection the way Redis's
// processInputBuffer does: one request type per request (decided by its
// first byte), multibulk requests parsed incrementally as bytes arrive, and
// the same limits checked at the same moments, so that a client sees the
// same replies and the same protocol errors.
//
// Redis's choice between a protocol error and a reply can depend on how
// many bytes a read returned (a count line must end within 64 KB of the
// bytes buffered when it is examined). Fill therefore asks the connection
// for as many bytes as redis-server would (see readSize).
//
// Arguments returned by Next alias the Reader's buffer: they stay valid
// until the next call to Next or Fill.
type Reader struct {
	rd   io.Reader
	buf  []byte
	r, w int // buf[r:w] is unparsed input; the current request starts at r

	// State of the request at r (Redis's reqtype, multibulklen, bulklen).
	kind  byte   // 0 (undecided), '*' (multibulk) or 'i' (inline)
	left  int64  // multibulk: bulks still to read
	bulk  int64  // multibulk: length of the next bulk; -1 before its count line
	pos   int    // bytes of the request consumed (count lines, whole bulks)
	spans []span // multibulk: arguments read so far, relative to r
	args  [][]byte

	q queryBuf

	// MaxBulkLen is the largest bulk argument accepted (proto-max-bulk-len).
	MaxBulkLen int64
	// MaxQueryBuffer bounds the bytes buffered for one pending request
	// (client-query-buffer-limit).
	MaxQueryBuffer int
}

type span struct{ from, to int }

// NewReader returns a Reader with Redis's default limits.
func NewReader(rd io.Reader) *Reader {
	return &Reader{
		rd:             rd,
		bulk:           -1,
		q:              newQueryBuf(),
		MaxBulkLen:     DefaultMaxBulkLen,
		MaxQueryBuffer: DefaultMaxQueryBuffer,
	}
}

// SetSource makes later reads come from rd; what is buffered stays.
func (r *Reader) SetSource(rd io.Reader) { r.rd = rd }

// Buffered reports how many unparsed bytes are buffered, a partly parsed
// request included.
func (r *Reader) Buffered() int { return r.w - r.r }

// maxRead caps one read: Redis may offer a read of up to a whole declared
// bulk (512 MB), which needs no buffer here before the bytes arrive.
const maxRead = 1 << 20

// Fill reads more bytes from the connection (one read, of the size
// redis-server would ask for). It invalidates arguments returned by earlier
// calls to Next. It returns ErrQueryBufferLimit when the pending request
// outgrows MaxQueryBuffer.
func (r *Reader) Fill() error {
	// What Redis keeps in its query buffer starts where parsing stopped:
	// the request's consumed count lines and bulks were trimmed off.
	r.q.trim(r.r + r.pos)
	size := r.q.readSize(r.w, r.kind == '*' && r.left > 0, r.bulk)
	if size > maxRead {
		size = maxRead
	}
	if r.r == r.w && len(r.buf) > 256*1024 {
		// Let a buffer grown for a large request go.
		r.buf, r.r, r.w = nil, 0, 0
		r.q.shift(r.q.base)
	}
	if r.r > 0 {
		n := copy(r.buf, r.buf[r.r:r.w])
		r.q.shift(r.r)
		r.r, r.w = 0, n
	}
	if len(r.buf)-r.w < size {
		grow := max(2*len(r.buf), r.w+size, 16*1024)
		if r.kind == '*' && r.left > 0 && r.bulk >= bigArg {
			// Inside a large bulk, grow to its end once at least a
			// quarter of it would be buffered: doubling all the way
			// copied a 20 MB value about twice over. Until then the
			// buffer only doubles, so a client that declares a large
			// bulk and sends little of it does not get its whole size
			// allocated (Redis allocates it at once).
			if end := r.r + r.pos + int(r.bulk) + 2; end > grow && end <= 4*grow {
				grow = end
			}
		}
		nb := make([]byte, grow)
		copy(nb, r.buf[:r.w])
		r.buf = nb
	}
	n, err := r.rd.Read(r.buf[r.w : r.w+size])
	r.w += n
	if r.w-r.q.base > r.MaxQueryBuffer {
		return ErrQueryBufferLimit
	}
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// Next parses one request from the buffered bytes without reading. It returns
// nil arguments and a nil error when no complete request is buffered. Empty
// requests (blank inline lines, "*0", "*-1") are skipped. authed selects the
// limits Redis applies before a client has authenticated.
func (r *Reader) Next(authed bool) ([][]byte, error) {
	for r.r+r.pos < r.w {
		if r.kind == 0 {
			if r.buf[r.r] == '*' {
				r.kind = '*'
			} else {
				r.kind = 'i'
			}
		}
		var (
			done bool
			err  error
		)
		if r.kind == 'i' {
			done, err = r.inline()
		} else {
			done, err = r.multibulk(authed)
		}
		if err != nil || !done {
			return nil, err
		}
		args := r.args
		if r.kind == '*' {
			args = args[:0]
			for _, s := range r.spans {
				args = append(args, r.buf[r.r+s.from:r.r+s.to:r.r+s.to])
			}
			r.args = args
		}
		r.r += r.pos
		r.pos, r.kind, r.left, r.bulk, r.spans = 0, 0, 0, -1, r.spans[:0]
		if len(args) > 0 {
			return args, nil
		}
	}
	return nil, nil
}

// lineEnd returns the index in b of the first sep, or -1 when b holds
// none before a NUL byte: Redis looks for line ends with strchr on a
// NUL-terminated buffer, so a NUL hides everything after it.
func lineEnd(b []byte, sep byte) int {
	i := bytes.IndexByte(b, sep)
	if i < 0 {
		return -1
	}
	if z := bytes.IndexByte(b[:i], 0); z >= 0 {
		return -1
	}
	return i
}

// inline parses an inline request: one line of space-separated, optionally
// quoted arguments.
func (r *Reader) inline() (bool, error) {
	b := r.buf[r.r:r.w]
	nl := lineEnd(b, '\n')
	if nl < 0 {
		if len(b) > MaxInlineSize {
			return false, ProtocolError("too big inline request")
		}
		return false, nil
	}
	line := b[:nl]
	if nl > 0 && line[nl-1] == '\r' {
		line = line[:nl-1]
	}
	args, ok := SplitArgs(line, r.args[:0])
	if !ok {
		return false, ProtocolError("unbalanced quotes in request")
	}
	r.args = args
	r.pos = nl + 1
	return true, nil
}

// countLine finds the "<c><digits>\r" line at b and returns it without the
// '\r', and the bytes it spans with the byte after '\r' (which Redis does
// not check). n is 0 when the line is incomplete.
func countLine(b []byte, tooBig string) (line []byte, n int, err error) {
	cr := lineEnd(b, '\r')
	if cr < 0 {
		if len(b) > MaxInlineSize {
			return nil, 0, ProtocolError(tooBig)
		}
		return nil, 0, nil
	}
	if cr > len(b)-2 {
		return nil, 0, nil
	}
	return b[:cr], cr + 2, nil
}

// multibulk parses "*<n>\r\n" followed by n bulk strings, keeping what it
// has read when the request is incomplete.
func (r *Reader) multibulk(authed bool) (bool, error) {
	if r.left == 0 {
		line, n, err := countLine(r.buf[r.r:r.w], "too big mbulk count string")
		if n == 0 || err != nil {
			return false, err
		}
		count, ok := num.ParseInt(line[1:])
		if !ok || count > MaxMultibulkLen {
			return false, ProtocolError("invalid multibulk length")
		}
		if count > unauthMultibulkLen && !authed {
			return false, ProtocolError("unauthenticated multibulk length")
		}
		r.pos = n
		if count <= 0 {
			return true, nil
		}
		r.left, r.bulk = count, -1
	}
	for r.left > 0 {
		at := r.r + r.pos
		if r.bulk < 0 {
			b := r.buf[at:r.w]
			line, n, err := countLine(b, "too big bulk count string")
			if err != nil {
				return false, err
			}
			if n == 0 {
				return false, nil
			}
			if b[0] != '$' {
				return false, ProtocolError("expected '$', got '" + string(b[:1]) + "'")
			}
			size, ok := num.ParseInt(line[1:])
			if !ok || size < 0 || size > r.MaxBulkLen {
				return false, ProtocolError("invalid bulk length")
			}
			if size > unauthBulkLen && !authed {
				return false, ProtocolError("unauthenticated bulk length")
			}
			r.pos += n
			at += n
			r.q.bigBulk(at, r.w, size)
			r.bulk = size
		}
		if int64(r.w-at) < r.bulk+2 {
			return false, nil
		}
		// Like Redis, the two bytes after the payload are skipped, not checked.
		end := r.pos + int(r.bulk)
		r.q.bulkDone(at, r.w, r.bulk)
		r.spans = append(r.spans, span{r.pos, end})
		r.pos = end + 2
		r.bulk = -1
		r.left--
	}
	return true, nil
}

// SplitArgs splits an inline request the way Redis's sdssplitargs does:
// arguments are separated by white space and may be "double quoted" (with
// \n \r \t \b \a \xHH and backslash escapes) or 'single quoted' (with \'),
// a quoted part may follow unquoted bytes of the same argument, and a
// closing quote must be followed by white space or the end of the line. A
// NUL byte ends the line. It appends to dst and reports false on unbalanced
// quotes. Arguments without quotes alias line; the others are copies.
func SplitArgs(line []byte, dst [][]byte) ([][]byte, bool) {
	if z := bytes.IndexByte(line, 0); z >= 0 {
		line = line[:z]
	}
	at := func(i int) byte {
		if i < len(line) {
			return line[i]
		}
		return 0
	}
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i >= len(line) {
			return dst, true
		}
		start, end := i, 0
		var cur []byte
		quoted, inDouble, inSingle := false, false, false
		for done := false; !done; {
			c := at(i)
			switch {
			case inDouble:
				switch {
				case c == '\\' && at(i+1) == 'x' && isHex(at(i+2)) && isHex(at(i+3)):
					cur = append(cur, hexVal(at(i+2))<<4|hexVal(at(i+3)))
					i += 3
				case c == '\\' && at(i+1) != 0:
					i++
					cur = append(cur, unescape(line[i]))
				case c == '"':
					if n := at(i + 1); n != 0 && !isSpace(n) {
						return dst, false
					}
					done = true
				case c == 0:
					return dst, false
				default:
					cur = append(cur, c)
				}
			case inSingle:
				switch {
				case c == '\\' && at(i+1) == '\'':
					i++
					cur = append(cur, '\'')
				case c == '\'':
					if n := at(i + 1); n != 0 && !isSpace(n) {
						return dst, false
					}
					done = true
				case c == 0:
					return dst, false
				default:
					cur = append(cur, c)
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					// Only these end an unquoted argument: a \v or \f inside
					// one is part of it, although leading ones are skipped.
					done, end = true, i
				case '"':
					inDouble, quoted = true, true
					cur = append([]byte{}, line[start:i]...)
				case '\'':
					inSingle, quoted = true, true
					cur = append([]byte{}, line[start:i]...)
				}
			}
			if i < len(line) {
				i++
			}
		}
		if quoted {
			dst = append(dst, cur)
		} else {
			dst = append(dst, line[start:end:end])
		}
	}
}

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return c
}

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f'
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// ParseCommands calls fn with the arguments of every multibulk request in
// data, which must hold complete requests only (a replication log entry),
// and the bytes of data after the request. The arguments alias data and
// are valid during the call. args is scratch space for them (nil will do);
// ParseCommands returns it, grown as needed, so that a caller that keeps
// it allocates nothing per entry.
func ParseCommands(data []byte, args [][]byte, fn func(args [][]byte, rest []byte) error) ([][]byte, error) {
	for pos := 0; pos < len(data); {
		if data[pos] != '*' {
			return args, ProtocolError("expected '*' at byte " + strconv.Itoa(pos))
		}
		line, n, err := countLine(data[pos:], "too big mbulk count string")
		if err != nil || n == 0 {
			return args, ProtocolError("incomplete multibulk count at byte " + strconv.Itoa(pos))
		}
		count, ok := num.ParseInt(line[1:])
		if !ok || count < 0 || count > int64(len(data)) {
			return args, ProtocolError("invalid multibulk length at byte " + strconv.Itoa(pos))
		}
		pos += n
		args = args[:0]
		for i := int64(0); i < count; i++ {
			if pos >= len(data) || data[pos] != '$' {
				return args, ProtocolError("expected '$' at byte " + strconv.Itoa(pos))
			}
			line, n, err := countLine(data[pos:], "too big bulk count string")
			if err != nil || n == 0 {
				return args, ProtocolError("incomplete bulk length at byte " + strconv.Itoa(pos))
			}
			size, ok := num.ParseInt(line[1:])
			if !ok || size < 0 || size > int64(len(data)-pos-n) {
				return args, ProtocolError("invalid bulk length at byte " + strconv.Itoa(pos))
			}
			pos += n
			end := pos + int(size)
			if end+2 > len(data) || data[end] != '\r' || data[end+1] != '\n' {
				return args, ProtocolError("bulk not terminated by CRLF at byte " + strconv.Itoa(end))
			}
			args = append(args, data[pos:end:end])
			pos = end + 2
		}
		if count > 0 {
			if err := fn(args, data[pos:]); err != nil {
				return args, err
			}
		}
	}
	return args, nil
}

// KeyHints appends to keys the second argument (the first key of most
// commands) of each whole multibulk request at the start of data, until
// keys is full (cap) or 2*cap(keys) requests were looked at, and stops at
// anything else. It is a hint for reading keys ahead of the requests that
// use them (dict.Dict.Touch), not a parser: it checks only what it needs
// to find the arguments, and finds nothing in inline requests.
func KeyHints(data []byte, keys [][]byte) [][]byte {
	keys, _ = ArgHints(data, keys, nil)
	return keys
}

// ArgHints is KeyHints that also appends to fields, when it has room
// (cap), each request's third argument (the field or member of HSET,
// HGET, SADD, SISMEMBER...), or nil for a request that has none, so that
// fields[i] goes with keys[i].
func ArgHints(data []byte, keys, fields [][]byte) ([][]byte, [][]byte) {
	withFields := cap(fields) >= cap(keys)
	pos := 0
	for reqs := 0; reqs < 2*cap(keys) && len(keys) < cap(keys) && pos < len(data) && data[pos] == '*'; reqs++ {
		n, p, ok := hintNumber(data, pos+1)
		if !ok {
			break
		}
		pos = p
		var field []byte
		for i := 0; i < n; i++ {
			if pos >= len(data) || data[pos] != '$' {
				return keys, fields
			}
			size, p, ok := hintNumber(data, pos+1)
			if !ok || size > len(data)-p-2 {
				return keys, fields
			}
			switch i {
			case 1:
				keys = append(keys, data[p:p+size:p+size])
				if withFields {
					fields = append(fields, nil)
				}
			case 2:
				field = data[p : p+size : p+size]
			}
			pos = p + size + 2
		}
		if withFields && field != nil {
			fields[len(fields)-1] = field
		}
	}
	return keys, fields
}

// hintNumber reads the decimal at data[pos:] and the CRLF after it,
// returning it and the position after the CRLF; ok is false for anything
// else, or more than 9 digits.
func hintNumber(data []byte, pos int) (n, next int, ok bool) {
	start := pos
	for pos < len(data) && data[pos] >= '0' && data[pos] <= '9' && pos-start < 9 {
		n = n*10 + int(data[pos]-'0')
		pos++
	}
	if pos == start || pos+1 >= len(data) || data[pos] != '\r' || data[pos+1] != '\n' {
		return 0, 0, false
	}
	return n, pos + 2, true
}

// Unread returns the buffered bytes no call to Next has started on (nil
// while a request is partly read): the requests a caller may look ahead
// at (KeyHints). They stay valid until the next call to Next or Fill.
func (r *Reader) Unread() []byte {
	if r.kind != 0 {
		return nil
	}
	return r.buf[r.r:r.w]
}
