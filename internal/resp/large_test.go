package resp

import (
	"bytes"
	"io"
	"strconv"
	"testing"
)

// socketReader hands out at most 64 KiB per Read, as a socket does.
type socketReader struct{ b []byte }

func (c *socketReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), 64<<10)], c.b)
	c.b = c.b[n:]
	return n, nil
}

// BenchmarkReadLargeBulk parses one SET of a 20 MB value arriving in
// socket-sized reads.
func BenchmarkReadLargeBulk(b *testing.B) {
	const size = 20 << 20
	req := largeSet(size)
	b.SetBytes(int64(len(req)))
	for range b.N {
		readLargeSet(b, NewReader(&socketReader{req}), size)
	}
}

// largeSet is the request SET k <size bytes>.
func largeSet(size int) []byte {
	req := []byte(largeSetHead + strconv.Itoa(size) + "\r\n")
	req = append(req, bytes.Repeat([]byte("v"), size)...)
	return append(req, "\r\n"...)
}

const largeSetHead = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$"

// readLargeSet reads largeSet(size) from r.
func readLargeSet(tb testing.TB, r *Reader, size int) {
	tb.Helper()
	for {
		args, err := r.Next(true)
		if err != nil {
			tb.Fatal(err)
		}
		if args != nil {
			if len(args[2]) != size {
				tb.Fatalf("value of %d bytes", len(args[2]))
			}
			return
		}
		if err := r.Fill(); err != nil {
			tb.Fatal(err)
		}
	}
}

// TestLargeBulkBuffer: a large bulk is buffered without doubling past its
// end once a quarter of it has arrived, and a bulk declared large but not
// sent gets a buffer in proportion to what did arrive, not its declared
// size.
func TestLargeBulkBuffer(t *testing.T) {
	const size = 20 << 20
	req := largeSet(size)
	r := NewReader(&socketReader{req})
	readLargeSet(t, r, size)
	if got := len(r.buf); got != len(req) {
		t.Fatalf("buffer of %d bytes for a request of %d", got, len(req))
	}

	// 500 MB declared, 1 MB sent.
	part := []byte(largeSetHead + "500000000\r\n")
	part = append(part, bytes.Repeat([]byte("v"), 1<<20)...)
	r = NewReader(&socketReader{part})
	for {
		args, err := r.Next(true)
		if err != nil || args != nil {
			t.Fatalf("partial request: %q, %v", args, err)
		}
		if err := r.Fill(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if got := len(r.buf); got > 4<<20 {
		t.Fatalf("buffer of %d bytes after 1 MB of a bulk declared 500 MB", got)
	}
}
