package redistest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Conn is a raw RESP client connection for wire-level tests.
type Conn struct {
	tb testing.TB
	nc net.Conn
	br *bufio.Reader
}

// Dial connects to addr.
func Dial(tb testing.TB, addr string) *Conn {
	tb.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	return &Conn{tb: tb, nc: nc, br: bufio.NewReader(nc)}
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Net returns the underlying connection.
func (c *Conn) Net() net.Conn { return c.nc }

// Encode returns args as a RESP multibulk request.
func Encode(args ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.Bytes()
}

// WriteRaw sends bytes as they are.
func (c *Conn) WriteRaw(b []byte) {
	c.tb.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.tb.Fatal(err)
	}
}

// Do sends one command and returns its raw reply.
func (c *Conn) Do(args ...string) string {
	c.tb.Helper()
	c.WriteRaw(Encode(args...))
	return c.Read()
}

// Read returns the raw bytes of the next reply.
func (c *Conn) Read() string {
	c.tb.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := ReadReply(c.br)
	if err != nil {
		c.tb.Fatalf("read reply: %v", err)
	}
	return string(b)
}

// ReadTimeout returns the next reply, or an error if none arrives within d.
func (c *Conn) ReadTimeout(d time.Duration) (string, error) {
	c.nc.SetReadDeadline(time.Now().Add(d))
	b, err := ReadReply(c.br)
	return string(b), err
}

// ReadReply reads the raw bytes of one complete RESP2 or RESP3 reply.
func ReadReply(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("malformed reply line %q", line)
	}
	out := line
	switch line[0] {
	case '+', '-', ':', '_', ',', '#', '(':
		return out, nil
	case '$', '=', '!':
		n, err := strconv.Atoi(string(line[1 : len(line)-2]))
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return out, nil
		}
		body := make([]byte, n+2)
		if _, err := io.ReadFull(br, body); err != nil {
			return nil, err
		}
		return append(out, body...), nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(string(line[1 : len(line)-2]))
		if err != nil {
			return nil, err
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		for i := 0; i < n; i++ {
			el, err := ReadReply(br)
			if err != nil {
				return nil, err
			}
			out = append(out, el...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown reply type %q", line)
}

// SortReply sorts the elements of an aggregate reply (for replies whose
// order is unspecified, such as SMEMBERS). With pairs, elements are sorted
// two by two (HGETALL, maps). Nested aggregates are sorted as wholes.
func SortReply(raw string, pairs bool) string {
	br := bufio.NewReader(bytes.NewReader([]byte(raw)))
	line, err := br.ReadBytes('\n')
	if err != nil || len(line) < 1 {
		return raw
	}
	switch line[0] {
	case '*', '~', '%', '>':
	default:
		return raw
	}
	var els []string
	for {
		el, err := ReadReply(br)
		if err != nil {
			break
		}
		els = append(els, string(el))
	}
	if pairs || line[0] == '%' {
		var ps []string
		for i := 0; i+1 < len(els); i += 2 {
			ps = append(ps, els[i]+els[i+1])
		}
		sort.Strings(ps)
		return string(line) + join(ps)
	}
	sort.Strings(els)
	return string(line) + join(els)
}

func join(s []string) string {
	var b bytes.Buffer
	for _, x := range s {
		b.WriteString(x)
	}
	return b.String()
}

// WaitInfo polls INFO section on c, up to 5 s, until it holds the line
// field:value; the test fails after that.
func (c *Conn) WaitInfo(section, field, value string) {
	c.tb.Helper()
	want := "\r\n" + field + ":" + value + "\r\n"
	deadline := time.Now().Add(5 * time.Second)
	for {
		info := c.Do("INFO", section)
		if strings.Contains(info, want) {
			return
		}
		if time.Now().After(deadline) {
			c.tb.Fatalf("INFO %s: no %s:%s after 5 s: %q", section, field, value, info)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
