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
	req := []byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + strconv.Itoa(size) + "\r\n")
	req = append(req, bytes.Repeat([]byte("v"), size)...)
	req = append(req, "\r\n"...)
	b.SetBytes(int64(len(req)))
	for range b.N {
		r := NewReader(&socketReader{req})
		for {
			args, err := r.Next(true)
			if err != nil {
				b.Fatal(err)
			}
			if args != nil {
				if len(args[2]) != size {
					b.Fatalf("value of %d bytes", len(args[2]))
				}
				break
			}
			if err := r.Fill(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestLargeBulkBuffer: a large bulk is buffered without doubling past its
// end once a quarter of it has arrived, and a bulk declared large but not
// sent gets a buffer in proportion to what did arrive, not its declared
// size.
func TestLargeBulkBuffer(t *testing.T) {
	head := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$"
	const size = 20 << 20
	req := []byte(head + strconv.Itoa(size) + "\r\n")
	req = append(req, bytes.Repeat([]byte("v"), size)...)
	req = append(req, "\r\n"...)
	r := NewReader(&socketReader{req})
	for {
		args, err := r.Next(true)
		if err != nil {
			t.Fatal(err)
		}
		if args != nil {
			if len(args[2]) != size {
				t.Fatalf("value of %d bytes", len(args[2]))
			}
			break
		}
		if err := r.Fill(); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(r.buf); got != len(req) {
		t.Fatalf("buffer of %d bytes for a request of %d", got, len(req))
	}

	// 500 MB declared, 1 MB sent.
	part := []byte(head + "500000000\r\n")
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
