package httpapi

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strconv"
	"unicode/utf8"
)

// A reply is one RESP reply of the engine, parsed. Its JSON form is the
// Upstash REST API's: bulk and status strings are strings, nil is null,
// integers are numbers, arrays (and RESP3 maps and sets) are arrays.
type reply struct {
	kind byte    // RESP type byte: + - : $ * and the RESP3 ones
	str  []byte  // + - $ = , ( #: the text; nil with null for $-1 / *-1 / _
	n    int64   // :
	arr  []reply // * % ~ >
	null bool
}

// isError reports whether r is an error reply.
func (r reply) isError() bool { return r.kind == '-' }

// errText returns the text of an error reply.
func (r reply) errText() string { return string(r.str) }

var errShortReply = errors.New("httpapi: truncated reply")

// parseReply parses one reply at the start of b and returns it and the
// bytes after it. The engine writes well-formed replies; anything else is
// an internal error.
func parseReply(b []byte) (reply, []byte, error) {
	if len(b) == 0 {
		return reply{}, nil, errShortReply
	}
	kind := b[0]
	i := bytes.Index(b, []byte("\r\n"))
	if i < 0 {
		return reply{}, nil, errShortReply
	}
	line, rest := b[1:i], b[i+2:]
	switch kind {
	case '+', '-', ',', '(', '#':
		return reply{kind: kind, str: line}, rest, nil
	case '_':
		return reply{kind: kind, null: true}, rest, nil
	case ':':
		n, err := strconv.ParseInt(string(line), 10, 64)
		if err != nil {
			return reply{}, nil, err
		}
		return reply{kind: kind, n: n}, rest, nil
	case '$', '=', '!':
		n, err := strconv.Atoi(string(line))
		if err != nil {
			return reply{}, nil, err
		}
		if n < 0 {
			return reply{kind: kind, null: true}, rest, nil
		}
		if len(rest) < n+2 {
			return reply{}, nil, errShortReply
		}
		s := rest[:n]
		if kind == '=' && len(s) >= 4 {
			s = s[4:] // "txt:" prefix of a verbatim string
		}
		if kind == '!' {
			kind = '-'
		}
		return reply{kind: kind, str: s}, rest[n+2:], nil
	case '*', '%', '~', '>':
		n, err := strconv.Atoi(string(line))
		if err != nil {
			return reply{}, nil, err
		}
		if n < 0 {
			return reply{kind: kind, null: true}, rest, nil
		}
		if kind == '%' {
			n *= 2 // a map is its keys and values, flattened
		}
		r := reply{kind: kind, arr: make([]reply, 0, min(n, 1024))}
		for range n {
			var el reply
			if el, rest, err = parseReply(rest); err != nil {
				return reply{}, nil, err
			}
			r.arr = append(r.arr, el)
		}
		return r, rest, nil
	}
	return reply{}, nil, errors.New("httpapi: unknown reply type " + strconv.Quote(string(kind)))
}

// appendJSON appends r's JSON value to dst. With b64, every string but the
// status reply OK is base64-encoded (Upstash-Encoding: base64), so that
// binary values survive JSON.
func (r reply) appendJSON(dst []byte, b64 bool) []byte {
	if r.null {
		return append(dst, "null"...)
	}
	switch r.kind {
	case ':':
		return strconv.AppendInt(dst, r.n, 10)
	case '#':
		if len(r.str) == 1 && r.str[0] == 't' {
			return append(dst, '1')
		}
		return append(dst, '0')
	case '*', '%', '~', '>':
		dst = append(dst, '[')
		for i, el := range r.arr {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = el.appendJSON(dst, b64)
		}
		return append(dst, ']')
	}
	// Strings: bulk, status, verbatim, double, big number, and an error
	// nested in an array (its text).
	if b64 && !(r.kind == '+' && string(r.str) == "OK") {
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, r.str)
		return append(dst, '"')
	}
	return appendString(dst, r.str)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Bytes that are not valid UTF-8
// become U+FFFD, as encoding/json does (clients that store binary values
// ask for base64).
func appendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\ufffd"...)
		} else if r == 0x2028 || r == 0x2029 {
			// Valid JSON, but not valid JavaScript source: escape as
			// encoding/json does.
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
