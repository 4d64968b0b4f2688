package compat

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// Wire-level differential tests: the same raw bytes go to redis-server and
// to ferry, and everything each sends back until it closes the connection
// (or stays quiet for a while) must be the same, byte for byte, as must
// whether it closed.

const (
	// idle is how long a server may stay quiet before the exchange counts
	// as over with the connection open.
	idle = 300 * time.Millisecond
	// closeWait is how long ferry gets to close a connection Redis closed.
	closeWait = 5 * time.Second
	// gap separates the writes of one exchange, so that each arrives in a
	// read of its own.
	gap = 40 * time.Millisecond
)

// outcome is what a server sent back to an exchange.
type outcome struct {
	data   []byte
	closed bool
}

func (o outcome) String() string {
	end := "left open"
	if o.closed {
		end = "closed"
	}
	d := o.data
	if len(d) > 600 {
		return fmt.Sprintf("%q ... (%d bytes) ... %q, %s", d[:300], len(d), d[len(d)-300:], end)
	}
	return fmt.Sprintf("%q, %s", d, end)
}

// exchange dials addr, writes chunks (gap apart) and reads until the server
// closes the connection or stays quiet for quiet, but not before expect
// bytes arrived (or closeWait passed): a slow server (under the race
// detector, on a busy machine) may pause longer than quiet.
func exchange(t testing.TB, addr string, chunks [][]byte, quiet time.Duration, expect int) outcome {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var (
		out    outcome
		wg     sync.WaitGroup
		last   = make(chan struct{})
		doneAt time.Time // when the last write ended; set before last closes
	)
	wg.Add(1)
	go func() {
		// Read while writing: a server that answers a large pipeline
		// before reading all of it must not stall on a full socket.
		defer wg.Done()
		buf := make([]byte, 64*1024)
		writing := true
		var lastData time.Time
		for {
			if writing {
				select {
				case <-last:
					writing = false
				default:
				}
			}
			nc.SetReadDeadline(time.Now().Add(quiet))
			n, err := nc.Read(buf)
			out.data = append(out.data, buf[:n]...)
			if n > 0 {
				lastData = time.Now()
			}
			if err == nil {
				continue
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if writing {
					continue
				}
				// Short of the expected bytes, wait closeWait after the
				// later of the last write and the last byte: a loaded
				// machine may slow a big reply down, not stop it.
				since := time.Since(doneAt)
				if lastData.After(doneAt) {
					since = time.Since(lastData)
				}
				if time.Since(doneAt) >= quiet && (len(out.data) >= expect || since >= closeWait) {
					return
				}
				continue
			}
			if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
				out.closed = true
				return
			}
			t.Errorf("read: %v", err)
			return
		}
	}()
	for i, c := range chunks {
		if i > 0 {
			time.Sleep(gap)
		}
		if _, err := nc.Write(c); err != nil {
			// The server may close while we write (after a protocol error).
			break
		}
	}
	doneAt = time.Now()
	close(last)
	wg.Wait()
	return out
}

// wirePair is one redis-server and one ferry.
type wirePair struct {
	redis, ferry string
}

func newWirePair(t *testing.T, cfg command.Config, redisArgs ...string) wirePair {
	t.Helper()
	r := redistest.Redis(t, redisArgs...)
	_, f := redistest.Ferry(t, cfg)
	return wirePair{redis: r, ferry: f}
}

// same sends chunks to both servers and fails the test unless both reply
// the same bytes and both close (or both keep) the connection.
func (p wirePair) same(t *testing.T, chunks ...[]byte) outcome {
	t.Helper()
	want := exchange(t, p.redis, chunks, idle, 0)
	quiet := idle
	if want.closed {
		quiet = closeWait
	}
	got := exchange(t, p.ferry, chunks, quiet, len(want.data))
	if !bytes.Equal(got.data, want.data) || got.closed != want.closed {
		t.Errorf("sent %s\n ferry: %v\n redis: %v", showChunks(chunks), got, want)
	}
	return want
}

func showChunks(chunks [][]byte) string {
	var parts []string
	for _, c := range chunks {
		if len(c) > 200 {
			parts = append(parts, fmt.Sprintf("%q...(%d bytes)", c[:200], len(c)))
		} else {
			parts = append(parts, fmt.Sprintf("%q", c))
		}
	}
	return strings.Join(parts, " then ")
}

func b(s string) []byte { return []byte(s) }

// cmd encodes args as a multibulk request.
func cmd(args ...string) []byte { return redistest.Encode(args...) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// wireCase is one exchange: the writes, in order.
type wireCase struct {
	name   string
	chunks [][]byte
}

func one(name, s string) wireCase { return wireCase{name, [][]byte{b(s)}} }

func runWireCases(t *testing.T, p wirePair, cases []wireCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p.same(t, c.chunks...)
		})
	}
}

func TestWireInline(t *testing.T) {
	p := newWirePair(t, command.Config{})
	runWireCases(t, p, []wireCase{
		one("ping", "PING\r\n"),
		one("lf-only", "PING\n"),
		one("lowercase", "ping\r\n"),
		one("ping-arg", "PING hello\r\n"),
		one("ping-too-many", "PING a b\r\n"),
		one("spaces", "   PING   \r\n"),
		one("tabs", "\tECHO\tx\t\r\n"),
		one("empty-lines", "\r\n\n\r\n  \r\nPING\r\n"),
		one("only-empty", "\r\n\r\n"),
		one("cr-in-line", "ECHO a\rb\r\n"),
		one("two-cr", "PING\r\r\n"),
		one("vt-inside-word", "ECHO a\vb\r\n"),
		one("ff-leading", "\v\fECHO x\r\n"),
		one("ff-trailing", "ECHO x\f\r\n"),
		one("double-quotes", "ECHO \"a b\"\r\n"),
		one("escapes", "ECHO \"\\n\\r\\t\\b\\a\\\\\\\"\\q\"\r\n"),
		one("hex", "ECHO \"\\x41\\x4a\\x4B\\x00z\"\r\n"),
		one("hex-short", "ECHO \"\\x4\"\r\n"),
		one("hex-bad", "ECHO \"\\xg1\"\r\n"),
		one("single-quotes", "ECHO 'a b'\r\n"),
		one("single-escape", "ECHO 'it\\'s'\r\n"),
		one("single-backslash", "ECHO 'a\\nb'\r\n"),
		one("empty-quoted", "ECHO \"\"\r\n"),
		one("empty-single", "SET '' ''\r\nGET ''\r\n"),
		one("quote-in-word", "ECHO a\"b c\"\r\n"),
		one("single-in-word", "ECHO a'b c'\r\n"),
		one("quote-then-word", "ECHO \"a\"b\r\n"),
		one("single-then-word", "ECHO 'a'b\r\n"),
		one("unbalanced-double", "ECHO \"abc\r\n"),
		one("unbalanced-single", "ECHO 'abc\r\n"),
		one("unbalanced-after-ok", "PING\r\nECHO \"x\r\nPING\r\n"),
		one("backslash-end", "ECHO \"abc\\\"\r\n"),
		one("quote-then-tab", "ECHO \"a\"\tb\r\n"),
		one("quote-then-vt", "ECHO \"a\"\vb\r\n"),
		one("unknown", "NOSUCH a b\r\n"),
		one("high-bytes", "\xff\xfe x\r\n"),
		one("nul-hides-newline", "PING\x00\r\nPING\r\n"),
		one("nul-in-second", "PING\r\nPI\x00NG\r\n"),
		one("no-newline", "PING"),
		one("quit", "QUIT\r\nPING\r\n"),
		one("quit-args", "QUIT now please\r\nPING\r\n"),
		one("post", "POST / HTTP/1.1\r\nHost: x\r\n\r\n"),
		one("host", "Host: example.com\r\n"),
		one("ping-then-post", "PING\r\nPOST /\r\n"),
		{"ping-then-post-later", [][]byte{b("PING\r\n"), b("POST /\r\n")}},
		one("get-http", "GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\n"),
		one("dollar-line", "$4\r\nPING\r\n"),
		one("colon-line", ":1\r\n"),
		{"split", [][]byte{b("PI"), b("NG\r\n")}},
		{"split-crlf", [][]byte{b("PING\r"), b("\nPING\r\n")}},
		{"split-quote", [][]byte{b("ECHO \"a "), b("b\"\r\n")}},
		{"split-three", [][]byte{b("EC"), b("HO x"), b("yz\r\nPI"), b("NG\r\n")}},
	})
}

func TestWireMultibulk(t *testing.T) {
	p := newWirePair(t, command.Config{})
	runWireCases(t, p, []wireCase{
		one("ping", "*1\r\n$4\r\nPING\r\n"),
		one("echo", "*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n"),
		one("empty-arg", "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"),
		one("empty-name", "*1\r\n$0\r\n\r\n"),
		one("zero", "*0\r\nPING\r\n"),
		one("minus-one", "*-1\r\nPING\r\n"),
		one("minus-many", "*-100\r\n*1\r\n$4\r\nPING\r\n"),
		one("minus-zero", "*-0\r\nPING\r\n"),
		one("plus", "*+1\r\n$4\r\nPING\r\n"),
		one("leading-zero", "*01\r\n$4\r\nPING\r\n"),
		one("empty-count", "*\r\n"),
		one("count-letters", "*x\r\n"),
		one("count-space", "* 1\r\n"),
		one("count-trailing-space", "*1 \r\n$4\r\nPING\r\n"),
		one("count-int-max", "*2147483647\r\n$4\r\nPING\r\n"),
		one("count-over-int-max", "*2147483648\r\n"),
		one("count-int64", "*9223372036854775807\r\n"),
		one("count-overflow", "*99999999999999999999\r\n"),
		one("count-lf-only", "*1\n$4\r\nPING\r\n"),
		one("count-cr-other", "*1\rX$4\r\nPING\r\n"),
		one("bulk-cr-other", "*1\r\n$4\rXPING\r\n"),
		one("payload-trailer-unchecked", "*1\r\n$4\r\nPINGab*1\r\n$4\r\nPING\r\n"),
		one("expected-dollar", "*1\r\nPING\r\n"),
		one("expected-dollar-colon", "*2\r\n$4\r\nECHO\r\n:5\r\n"),
		one("expected-dollar-cr", "*1\r\n\r\n"),
		one("expected-dollar-high", "*1\r\n\xff4\r\n"),
		one("expected-dollar-partial", "*1\r\nP"),
		one("bulk-negative", "*1\r\n$-1\r\n"),
		one("bulk-letters", "*1\r\n$x\r\n"),
		one("bulk-empty", "*1\r\n$\r\n"),
		one("bulk-leading-zero", "*1\r\n$04\r\nPING\r\n"),
		one("bulk-plus", "*1\r\n$+4\r\nPING\r\n"),
		one("bulk-max", "*1\r\n$536870912\r\nabc"),
		one("bulk-over-max", "*1\r\n$536870913\r\n"),
		one("bulk-huge", "*1\r\n$9223372036854775807\r\n"),
		one("bulk-overflow", "*1\r\n$99999999999999999999\r\n"),
		one("ping-then-error", "*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n*1\r\n$4\r\nPING\r\n"),
		one("inline-after-multibulk", "*1\r\n$4\r\nPING\r\nPING\r\n"),
		one("nul-in-count", "*1\x00\r\n$4\r\nPING\r\n"),
		one("nul-in-payload", "*2\r\n$4\r\nECHO\r\n$3\r\na\x00b\r\n"),
		one("crlf-in-payload", "*2\r\n$4\r\nECHO\r\n$4\r\n\r\n\r\n\r\n"),
		one("unknown-with-args", "*3\r\n$3\r\nFOO\r\n$3\r\nbar\r\n$3\r\nbaz\r\n"),
		one("unknown-crlf-name", "*1\r\n$4\r\nA\r\nB\r\n"),
		one("post", "*2\r\n$4\r\nPOST\r\n$1\r\n/\r\n"),
		one("host-lower", "*1\r\n$5\r\nhost:\r\n"),
		{"split-count", [][]byte{b("*"), b("1\r\n$4\r\nPING\r\n")}},
		{"split-count-cr", [][]byte{b("*1\r"), b("\n$4\r\nPING\r\n")}},
		{"split-bulk-count", [][]byte{b("*1\r\n$"), b("4\r\nPING\r\n")}},
		{"split-payload", [][]byte{b("*1\r\n$4\r\nPI"), b("NG\r\n")}},
		{"split-trailer", [][]byte{b("*1\r\n$4\r\nPING\r"), b("\n")}},
		{"split-before-trailer", [][]byte{b("*1\r\n$4\r\nPING"), b("\r\n")}},
		{"split-args", [][]byte{b("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n"), b("$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")}},
		{"split-then-error", [][]byte{b("*2\r\n$4\r\nECHO\r\n"), b("x\r\n")}},
		{"many-splits", [][]byte{b("*2\r"), b("\n$4"), b("\r\nEC"), b("HO\r\n$1"), b("\r\na"), b("\r\n")}},
	})
}

// TestWireLimits covers the 64 KB limit on inline requests and count lines,
// whose outcome depends on how many bytes each read brings in.
func TestWireLimits(t *testing.T) {
	p := newWirePair(t, command.Config{})
	inline := func(n int) []byte { // an ECHO request of n bytes, CRLF included
		return cat(b("ECHO "), bytes.Repeat(b("a"), n-7), b("\r\n"))
	}
	runWireCases(t, p, []wireCase{
		{"inline-60k", [][]byte{inline(60000)}},
		{"inline-70k", [][]byte{inline(70000)}},
		{"inline-81910", [][]byte{inline(81910)}},
		{"inline-81911", [][]byte{inline(81911)}},
		{"inline-100k", [][]byte{inline(100000)}},
		{"inline-no-newline-70k", [][]byte{bytes.Repeat(b("a"), 70000)}},
		{"inline-no-newline-65536", [][]byte{bytes.Repeat(b("a"), 65536)}},
		{"inline-no-newline-65537", [][]byte{bytes.Repeat(b("a"), 65537)}},
		{"inline-split-70k", [][]byte{bytes.Repeat(b("a"), 40000), cat(bytes.Repeat(b("a"), 30000), b("\r\n"))}},
		{"inline-after-pipeline", [][]byte{cat(bytes.Repeat(b("PING\r\n"), 3000), inline(70000))}},
		{"mbulk-count-70k", [][]byte{cat(b("*"), bytes.Repeat(b("1"), 70000))}},
		{"mbulk-count-long-line", [][]byte{cat(b("*"), bytes.Repeat(b("1"), 70000), b("\r\n"))}},
		{"bulk-count-70k", [][]byte{cat(b("*1\r\n$"), bytes.Repeat(b("1"), 70000))}},
		{"bulk-count-long-line", [][]byte{cat(b("*1\r\n$"), bytes.Repeat(b("1"), 70000), b("\r\n"))}},
		{"bulk-count-nul", [][]byte{cat(b("*1\r\n$1\x00"), bytes.Repeat(b("1"), 70000), b("\r\n"))}},
		{"inline-nul-70k", [][]byte{cat(b("PING\x00"), bytes.Repeat(b("a"), 70000), b("\r\n"))}},
	})
}

// TestWireBig sends large arguments and deep pipelines.
func TestWireBig(t *testing.T) {
	p := newWirePair(t, command.Config{})
	mb := strings.Repeat("x", 1<<20)
	mb2 := strings.Repeat("yz", 1<<19)
	// Subtests run in parallel: each uses keys of its own.
	big := cat(cmd("SET", "big", mb), cmd("GET", "big"), cmd("STRLEN", "big"), cmd("APPEND", "big", mb2),
		cmd("STRLEN", "big"), cmd("GETRANGE", "big", "1048570", "1048580"), cmd("DEL", "big"))
	var pipe, mixed, echo bytes.Buffer
	for i := 0; i < 10000; i++ {
		k := "k" + strconv.Itoa(i%97)
		pipe.Write(cmd("SET", k, strconv.Itoa(i)))
		pipe.Write(cmd("INCR", k))
		pipe.Write(cmd("GET", k))
		if i%2 == 0 {
			fmt.Fprintf(&mixed, "ECHO %d\r\n", i)
		} else {
			mixed.Write(cmd("ECHO", strconv.Itoa(i)))
		}
		echo.Write(cmd("ECHO", strings.Repeat("e", i%300)))
	}
	pipe.Write(cmd("DEL", "k1", "k2"))
	// A large argument arriving in pieces, the first ending inside its count line.
	header := b("*3\r\n$3\r\nSET\r\n$4\r\nbig2\r\n$1048576\r")
	runWireCases(t, p, []wireCase{
		{"1mb-args", [][]byte{big}},
		{"1mb-split", [][]byte{header, cat(b("\n"), b(mb[:1000])), cat(b(mb[1000:]), b("\r\n"), cmd("STRLEN", "big2"), cmd("DEL", "big2"))}},
		{"1mb-echo", [][]byte{cmd("ECHO", mb)}},
		{"mset-3mb", [][]byte{cat(cmd("MSET", "ma", mb, "mb", mb2, "mc", mb), cmd("STRLEN", "mb"), cmd("DEL", "ma", "mb", "mc"))}},
		{"1mb-then-long-inline", [][]byte{cat(cmd("ECHO", mb), bytes.Repeat(b("a"), 70000))}},
		{"pipeline-30000", [][]byte{pipe.Bytes()}},
		{"pipeline-mixed-10000", [][]byte{mixed.Bytes()}},
		{"pipeline-echo-10000", [][]byte{echo.Bytes()}},
		{"pipeline-then-error", [][]byte{cat(bytes.Repeat(cmd("PING"), 10000), b("*1\r\n$x\r\n"), bytes.Repeat(cmd("PING"), 10))}},
		{"pipeline-in-pieces", splitEvery(echo.Bytes(), 50000)},
	})
}

func splitEvery(data []byte, n int) [][]byte {
	var out [][]byte
	for len(data) > n {
		out = append(out, data[:n])
		data = data[n:]
	}
	return append(out, data)
}

// TestWireGarbage sends random bytes, and random mutations of valid
// requests.
func TestWireGarbage(t *testing.T) {
	p := newWirePair(t, command.Config{})
	rng := rand.New(rand.NewSource(7))
	alphabet := []byte("*$\r\n0123456789-+ \"'\\xabPINGECHO\x00\xff\t")
	var cases []wireCase
	for i := 0; i < 40; i++ {
		n := 1 + rng.Intn(60)
		g := make([]byte, n)
		for j := range g {
			if i%2 == 0 {
				g[j] = alphabet[rng.Intn(len(alphabet))]
			} else {
				g[j] = byte(rng.Intn(256))
			}
		}
		cases = append(cases, wireCase{"random-" + strconv.Itoa(i), [][]byte{g}})
	}
	for i := 0; i < 40; i++ {
		// Subtests run in parallel: each uses a key of its own.
		g := "g" + strconv.Itoa(i)
		m := cat(cmd("SET", g, "v"), b("ECHO \"x y\"\r\n"), cmd("GET", g), cmd("DEL", g))
		for k := 0; k < 1+rng.Intn(3); k++ {
			m[rng.Intn(len(m))] = alphabet[rng.Intn(len(alphabet))]
		}
		cut := rng.Intn(len(m))
		cases = append(cases, wireCase{"mutated-" + strconv.Itoa(i), [][]byte{m[:cut], m[cut:]}})
	}
	runWireCases(t, p, cases)
}

// TestWireClientGone closes connections in the middle of pipelines and
// checks that both servers carry on, with the same data.
func TestWireClientGone(t *testing.T) {
	p := newWirePair(t, command.Config{})
	// Half-close after complete commands and half of one: the complete ones
	// run and are answered, the partial one is dropped.
	halfClose := func(addr string) outcome {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.Write(cat(cmd("SET", "a", "1"), cmd("APPEND", "l", "xy"), b("SET b 2\r\n"), b("*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1")))
		nc.(*net.TCPConn).CloseWrite()
		nc.SetReadDeadline(time.Now().Add(closeWait))
		data, err := io.ReadAll(nc)
		return outcome{data, err == nil}
	}
	got, want := halfClose(p.ferry), halfClose(p.redis)
	if !bytes.Equal(got.data, want.data) || got.closed != want.closed {
		t.Errorf("half-close:\n ferry: %v\n redis: %v", got, want)
	}
	for _, q := range [][]string{{"DBSIZE"}, {"MGET", "a", "b", "c"}, {"GET", "l"}, {"DEBUG", "DIGEST"}} {
		p.same(t, cmd(q...))
	}

	// An abrupt close in the middle of a deep pipeline of INCRs: some run,
	// the rest do not, and the server stays healthy.
	for _, addr := range []string{p.ferry, p.redis} {
		for round := 0; round < 3; round++ {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			pipe := bytes.Repeat(cmd("INCR", "counter"), 20000)
			nc.Write(pipe[:len(pipe)-7])
			nc.Close()
		}
		c := redistest.Dial(t, addr)
		if r := c.Do("PING"); r != "+PONG\r\n" {
			t.Fatalf("%s: PING after abrupt closes: %q", addr, r)
		}
		// The server may still be running what it read before it noticed
		// a close: wait for the counter to settle.
		r := c.Do("GET", "counter")
		for settled := 0; settled < 3; {
			time.Sleep(100 * time.Millisecond)
			if again := c.Do("GET", "counter"); again != r {
				r, settled = again, 0
			} else {
				settled++
			}
		}
		if r == "$-1\r\n" {
			continue
		}
		lines := strings.Split(r, "\r\n")
		n, err := strconv.Atoi(lines[1])
		if err != nil || n < 0 || n > 60000 {
			t.Fatalf("%s: counter after abrupt closes: %q", addr, r)
		}
		c.Do("DEL", "counter")
	}
	p.same(t, cat(cmd("DBSIZE"), cmd("DEBUG", "DIGEST")))
}

// TestWireWriteAllThenRead sends a deep pipeline (20 MB) without reading
// anything until it is all written, as simple clients do: redis-server
// buffers the replies and keeps reading, so ferry must not stop reading
// while a client does not read.
func TestWireWriteAllThenRead(t *testing.T) {
	p := newWirePair(t, command.Config{})
	const n = 1000000
	req := bytes.Repeat(cmd("GET", "wk"), n)
	var sums [2][32]byte
	for i, addr := range []string{p.ferry, p.redis} {
		c := redistest.Dial(t, addr)
		c.Do("SET", "wk", strings.Repeat("v", 100))
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(60 * time.Second))
		if _, err := nc.Write(req); err != nil {
			t.Fatalf("%s: writing the pipeline: %v", addr, err)
		}
		h := sha256.New()
		if _, err := io.CopyN(h, nc, n*(100+8)); err != nil {
			t.Fatalf("%s: reading the replies: %v", addr, err)
		}
		copy(sums[i][:], h.Sum(nil))
		nc.Close()
		c.Do("DEL", "wk")
	}
	if sums[0] != sums[1] {
		t.Fatal("replies differ")
	}
}
