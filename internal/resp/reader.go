// Package resp reads Redis requests (multibulk and inline) and writes RESP2
// and RESP3 replies, with Redis's protocol limits and error texts.
package resp

import (
	"errors"
	"io"

	"github.com/ferrydb/ferry/internal/num"
)

// Limits Redis applies to requests (src/server.h, config.c defaults).
const (
	// MaxInlineSize is the longest inline request or count line (PROTO_INLINE_MAX_SIZE).
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

// Reader parses requests from a client connection. Arguments returned by Next
// alias the Reader's buffer: they stay valid until the next call to Fill.
type Reader struct {
	rd   io.Reader
	buf  []byte
	r, w int
	args [][]byte

	// MaxBulkLen is the largest bulk argument accepted (proto-max-bulk-len).
	MaxBulkLen int64
	// MaxQueryBuffer bounds the bytes buffered for one pending request.
	MaxQueryBuffer int
}

// NewReader returns a Reader with Redis's default limits.
func NewReader(rd io.Reader) *Reader {
	return &Reader{
		rd:             rd,
		buf:            make([]byte, 16*1024),
		MaxBulkLen:     DefaultMaxBulkLen,
		MaxQueryBuffer: DefaultMaxQueryBuffer,
	}
}

// Buffered reports how many unparsed bytes are buffered.
func (r *Reader) Buffered() int { return r.w - r.r }

// Fill reads more bytes from the connection, compacting or growing the buffer
// first. It invalidates arguments returned by earlier calls to Next.
func (r *Reader) Fill() error {
	if r.r > 0 {
		n := copy(r.buf, r.buf[r.r:r.w])
		r.r, r.w = 0, n
	}
	if r.w == len(r.buf) {
		if r.w >= r.MaxQueryBuffer {
			return ErrQueryBufferLimit
		}
		size := 2 * len(r.buf)
		if size > r.MaxQueryBuffer {
			size = r.MaxQueryBuffer
		}
		nb := make([]byte, size)
		copy(nb, r.buf[:r.w])
		r.buf = nb
	}
	n, err := r.rd.Read(r.buf[r.w:])
	r.w += n
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
// requests (blank inline lines, "*0") are skipped. authed selects the limits
// Redis applies before a client has authenticated.
func (r *Reader) Next(authed bool) ([][]byte, error) {
	for r.r < r.w {
		var (
			args [][]byte
			n    int
			err  error
		)
		if r.buf[r.r] == '*' {
			args, n, err = r.parseMultibulk(r.buf[r.r:r.w], authed)
		} else {
			args, n, err = r.parseInline(r.buf[r.r:r.w])
		}
		if err != nil || n == 0 {
			return nil, err
		}
		r.r += n
		if len(args) > 0 {
			return args, nil
		}
	}
	return nil, nil
}

// parseMultibulk parses "*<n>\r\n" followed by n bulk strings. It returns the
// bytes consumed, or 0 when more input is needed.
func (r *Reader) parseMultibulk(b []byte, authed bool) ([][]byte, int, error) {
	line, pos, err := countLine(b, "too big mbulk count string")
	if pos == 0 || err != nil {
		return nil, 0, err
	}
	count, ok := num.ParseInt(line[1:])
	if !ok || count > MaxMultibulkLen {
		return nil, 0, ProtocolError("invalid multibulk length")
	}
	if !authed && count > unauthMultibulkLen {
		return nil, 0, ProtocolError("unauthenticated multibulk length")
	}
	if count <= 0 {
		return nil, pos, nil
	}
	args := r.args[:0]
	for i := int64(0); i < count; i++ {
		if pos >= len(b) {
			return nil, 0, nil
		}
		if b[pos] != '$' {
			return nil, 0, ProtocolError("expected '$', got '" + string(b[pos]) + "'")
		}
		line, n, err := countLine(b[pos:], "too big bulk count string")
		if n == 0 || err != nil {
			return nil, 0, err
		}
		size, ok := num.ParseInt(line[1:])
		if !ok || size < 0 || size > r.MaxBulkLen {
			return nil, 0, ProtocolError("invalid bulk length")
		}
		if !authed && size > unauthBulkLen {
			return nil, 0, ProtocolError("unauthenticated bulk length")
		}
		pos += n
		// Like Redis, the two bytes after the payload are skipped, not checked.
		if int64(len(b)-pos) < size+2 {
			r.args = args
			return nil, 0, nil
		}
		args = append(args, b[pos:pos+int(size):pos+int(size)])
		pos += int(size) + 2
	}
	r.args = args
	return args, pos, nil
}

// countLine finds a "*<n>\r\n" or "$<n>\r\n" line at the start of b and returns
// it without its CRLF plus the bytes it spans, or 0 when it is incomplete.
func countLine(b []byte, tooBig string) ([]byte, int, error) {
	limit := len(b)
	if limit > MaxInlineSize+1 {
		limit = MaxInlineSize + 1
	}
	for i := 0; i < limit; i++ {
		if b[i] == '\r' {
			if i+1 >= len(b) {
				return nil, 0, nil
			}
			return b[:i], i + 2, nil
		}
	}
	if len(b) > MaxInlineSize {
		return nil, 0, ProtocolError(tooBig)
	}
	return nil, 0, nil
}

// parseInline parses one inline request: a line of space-separated,
// optionally quoted arguments.
func (r *Reader) parseInline(b []byte) ([][]byte, int, error) {
	end := -1
	limit := len(b)
	if limit > MaxInlineSize+1 {
		limit = MaxInlineSize + 1
	}
	for i := 0; i < limit; i++ {
		if b[i] == '\n' {
			end = i
			break
		}
	}
	if end < 0 {
		if len(b) > MaxInlineSize {
			return nil, 0, ProtocolError("too big inline request")
		}
		return nil, 0, nil
	}
	line := b[:end]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	args, ok := SplitArgs(line, r.args[:0])
	if !ok {
		return nil, 0, ProtocolError("unbalanced quotes in request")
	}
	r.args = args
	return args, end + 1, nil
}

// SplitArgs splits an inline request the way Redis's sdssplitargs does:
// arguments are separated by white space and may be "double quoted" (with
// \n \r \t \b \a \\ \" and \xHH escapes) or 'single quoted' (with \'). It
// appends to dst and reports false on unbalanced quotes. Unquoted arguments
// alias line; quoted ones are copied.
func SplitArgs(line []byte, dst [][]byte) ([][]byte, bool) {
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i >= len(line) {
			return dst, true
		}
		switch line[i] {
		case '"', '\'':
			arg, n, ok := quotedArg(line[i:])
			if !ok {
				return dst, false
			}
			dst = append(dst, arg)
			i += n
		default:
			start := i
			for i < len(line) && !isSpace(line[i]) && line[i] != '"' && line[i] != '\'' {
				i++
			}
			if i < len(line) && (line[i] == '"' || line[i] == '\'') {
				// A quote inside an unquoted word starts a quoted part of the same
				// argument in Redis; treat the word plus the quoted part as one.
				head := append([]byte(nil), line[start:i]...)
				arg, n, ok := quotedArg(line[i:])
				if !ok {
					return dst, false
				}
				dst = append(dst, append(head, arg...))
				i += n
				continue
			}
			dst = append(dst, line[start:i:i])
		}
	}
}

// quotedArg decodes the quoted argument at the start of b and returns it with
// the bytes it spans. The closing quote must be followed by space or the end.
func quotedArg(b []byte) ([]byte, int, bool) {
	quote := b[0]
	var out []byte
	i := 1
	for i < len(b) {
		c := b[i]
		switch {
		case quote == '"' && c == '\\' && i+3 < len(b) && b[i+1] == 'x' && isHex(b[i+2]) && isHex(b[i+3]):
			out = append(out, hexVal(b[i+2])<<4|hexVal(b[i+3]))
			i += 4
		case quote == '"' && c == '\\' && i+1 < len(b):
			i++
			switch b[i] {
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'b':
				out = append(out, '\b')
			case 'a':
				out = append(out, '\a')
			default:
				out = append(out, b[i])
			}
			i++
		case quote == '\'' && c == '\\' && i+1 < len(b) && b[i+1] == '\'':
			out = append(out, '\'')
			i += 2
		case c == quote:
			i++
			if i < len(b) && !isSpace(b[i]) {
				return nil, 0, false
			}
			if out == nil {
				out = []byte{}
			}
			return out, i, true
		default:
			out = append(out, c)
			i++
		}
	}
	return nil, 0, false
}

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

