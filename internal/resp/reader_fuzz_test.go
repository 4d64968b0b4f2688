package resp

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"testing"
)

// collect parses chunks (one Read each) and returns the requests and the
// error that ended parsing (nil at the end of the input).
func collect(authed bool, chunks ...[]byte) ([][]string, error) {
	rd := NewReader(&chunkReader{chunks: chunks})
	var out [][]string
	for {
		for {
			args, err := rd.Next(authed)
			if err != nil {
				return out, err
			}
			if args == nil {
				break
			}
			req := make([]string, len(args))
			for i, a := range args {
				req[i] = string(a)
			}
			out = append(out, req)
		}
		if err := rd.Fill(); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
	}
}

func encodeRequest(args []string) []byte {
	var b bytes.Buffer
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	return b.Bytes()
}

func sameRequests(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

// FuzzReader feeds arbitrary bytes to the Reader in two reads, split at an
// arbitrary point (after nats-server's parser fuzz test). Parsing must not
// panic; every request parsed must come back unchanged when re-encoded as
// a multibulk request; and, below the 64 KB line limit (where only then
// the sizes of reads can matter), where the input is split must not change
// what is parsed.
func FuzzReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, split uint16, authed bool) {
		cut := int(split) % (len(data) + 1)
		reqs, err := collect(authed, data[:cut], data[cut:])
		var pe ProtocolError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("unexpected error %v", err)
		}
		for _, req := range reqs {
			if len(req) == 0 {
				t.Fatalf("empty request returned")
			}
			again, err := collect(true, encodeRequest(req))
			if err != nil || !sameRequests(again, [][]string{req}) {
				t.Fatalf("request %q re-encoded parses as %q, %v", req, again, err)
			}
		}
		// KeyHints reads any bytes without failing, and finds the second
		// argument of each request parsed, once they are written plainly.
		hints := KeyHints(data, make([][]byte, 0, 16))
		if len(hints) > 16 {
			t.Fatalf("KeyHints returned %d keys for 16", len(hints))
		}
		var plain []byte
		var want, wantFields []string
		for i, req := range reqs {
			plain = append(plain, encodeRequest(req)...)
			if len(req) > 1 && len(want) < 16 && i < 32 {
				want = append(want, req[1])
				field := ""
				if len(req) > 2 {
					field = req[2]
				}
				wantFields = append(wantFields, field)
			}
		}
		if got := KeyHints(plain, make([][]byte, 0, 16)); !sameRequests([][]string{want}, [][]string{toStrings(got)}) {
			t.Fatalf("KeyHints of %q = %q, want %q", plain, got, want)
		}
		// ArgHints: the same keys, and beside each its request's third
		// argument (nil, read as "", when it has none).
		keys, fields := ArgHints(plain, make([][]byte, 0, 16), make([][]byte, 0, 16))
		if !sameRequests([][]string{want, wantFields}, [][]string{toStrings(keys), toStrings(fields)}) {
			t.Fatalf("ArgHints of %q = %q, %q; want %q, %q", plain, keys, fields, want, wantFields)
		}
		if len(data) <= MaxInlineSize {
			whole, werr := collect(authed, data)
			if !sameRequests(whole, reqs) || (werr == nil) != (err == nil) || (werr != nil && werr.Error() != err.Error()) {
				t.Fatalf("split at %d: %q, %v; whole: %q, %v", cut, reqs, err, whole, werr)
			}
		}
	})
}

func toStrings(b [][]byte) []string {
	s := make([]string, len(b))
	for i, x := range b {
		s[i] = string(x)
	}
	return s
}
