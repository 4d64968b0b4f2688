package hll_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"testing"

	"github.com/ferrydb/ferry/internal/hll"
)

// header is a sparse header with a stale cached cardinality.
const header = "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80"

// pfadd adds elements as PFADD does, reporting whether a register changed.
func pfadd(t *testing.T, h *hll.HLL, elements ...string) bool {
	t.Helper()
	changed := false
	for _, e := range elements {
		ch, err := h.Add([]byte(e), hll.DefaultSparseMaxBytes)
		if err != nil {
			t.Fatalf("add %q: %v", e, err)
		}
		changed = changed || ch
	}
	if changed {
		h.Invalidate()
	}
	return changed
}

// pfcount counts as PFCOUNT of one key does, caching the result.
func pfcount(t *testing.T, s []byte) uint64 {
	t.Helper()
	if n, ok := hll.Cached(s); ok {
		return n
	}
	n, err := hll.Count(s)
	if err != nil {
		t.Fatal(err)
	}
	hll.SetCached(s, n)
	return n
}

// The expected values below are what redis-server 7.0.15 replies and
// stores for the same commands.

func TestNew(t *testing.T) {
	want := "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff"
	if got := hll.New().Bytes(); string(got) != want {
		t.Fatalf("New: %q, want %q", got, want)
	}
	h := hll.New()
	h.Invalidate()
	if got := h.Bytes(); string(got) != header+"\x7f\xff" {
		t.Fatalf("PFADD k: %q", got)
	}
}

func TestAddSparse(t *testing.T) {
	h := hll.New()
	if !pfadd(t, h, "a", "b", "c") {
		t.Fatal("PFADD a b c changed nothing")
	}
	want := header + "\x60\xf3\x80\x50\xb1\x84\x4b\xfb\x80\x42\x5a"
	if got := h.Bytes(); string(got) != want {
		t.Fatalf("PFADD a b c:\n got %q\nwant %q", got, want)
	}
	if got := hll.Decode(h.Bytes()); got != "Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603" {
		t.Fatalf("decode: %q", got)
	}
	if pfadd(t, h, "a", "c") {
		t.Fatal("adding known elements changed a register")
	}
	if n := pfcount(t, h.Bytes()); n != 3 {
		t.Fatalf("count %d, want 3", n)
	}
	if got := h.Bytes()[8:16]; string(got) != "\x03\x00\x00\x00\x00\x00\x00\x00" {
		t.Fatalf("cached cardinality bytes %q", got)
	}
}

// Adding "0", "1", ... in order: the counts and the SHA-256 of the strings
// (cached cardinality included) at each checkpoint, across the promotion
// to dense.
func TestCheckpoints(t *testing.T) {
	checks := []struct {
		n, count, size int
		sha            string
	}{
		{10, 10, 48, "0ebf84842d7d96ccf6bb1ae86c7459929aac188b10eb8211c7739d737cbd13da"},
		{100, 100, 287, "2473556c4cfaa6e01dd62571918dbd2270532e03c2f4b564f0a5124a7ed229c0"},
		{1000, 1001, 1923, "7aba7a1e51e42bb6394317e057e944f80a42330cb58e14380ab40e4ba864bc39"},
		{10000, 9987, hll.DenseSize, "6a92ca5ab849e1b88feadc5881cbe5549af2cb6e9b7f8670251061c602a2f846"},
		{100000, 99565, hll.DenseSize, "1d3c14faefff3f6166a9bcb075bc40b76b23c078ebd534d4af5102d7061343db"},
	}
	h := hll.New()
	i := 0
	for _, c := range checks {
		for ; i < c.n; i++ {
			pfadd(t, h, strconv.Itoa(i))
		}
		n := pfcount(t, h.Bytes())
		sum := sha256.Sum256(h.Bytes())
		if int(n) != c.count || len(h.Bytes()) != c.size || hex.EncodeToString(sum[:]) != c.sha {
			t.Fatalf("after %d: count %d, %d bytes, sha %x; want %d, %d bytes, sha %s",
				c.n, n, len(h.Bytes()), sum, c.count, c.size, c.sha)
		}
	}
}

// A sparse string that ends in the first byte of an XZERO opcode: Redis
// reads its string's terminator as the second byte, and the split that
// PFADD makes of that opcode leaves a byte there, which the next element
// of the same PFADD reads.
func TestTruncatedXZero(t *testing.T) {
	s := []byte(header + "\x3f\x3f\x3f\x3e\x7f")
	if !hll.Valid(s) {
		t.Fatal("not valid")
	}
	if n, err := hll.Count(s); err != nil || n != 0 {
		t.Fatalf("count %d, %v", n, err)
	}
	h := hll.Edit(s)
	var elements []string
	for i := range 8 {
		elements = append(elements, "x"+strconv.Itoa(i))
	}
	pfadd(t, h, elements...)
	want, _ := hex.DecodeString("48594c4c0100000000000000000000803f3f3f3e42739442a384482b844295b44d088c4e578c476d884bed88")
	if got := h.Bytes(); !bytes.Equal(got, want) {
		t.Fatalf("got  %x\nwant %x", got, want)
	}
}

// Registers at 51 and above make Redis's estimate infinite: llroundl
// overflows to the most negative integer, which PFCOUNT replies and caches
// (leaving the cache marked stale).
func TestInfiniteEstimate(t *testing.T) {
	s := []byte("HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80" + string(bytes.Repeat([]byte("\xf3<\xcf"), 4096)))
	if regs := hll.Registers(s); regs[0] != 51 || regs[hll.NumRegisters-1] != 51 {
		t.Fatalf("registers %d ... %d", regs[0], regs[hll.NumRegisters-1])
	}
	n, err := hll.Count(s)
	if err != nil || int64(n) != -1<<63 {
		t.Fatalf("count %d, %v", int64(n), err)
	}
	var u hll.Union
	if err := u.Merge(s); err != nil || u.Count() != n {
		t.Fatalf("union count %d, %v", u.Count(), err)
	}
}

func TestValid(t *testing.T) {
	dense := make([]byte, hll.DenseSize)
	copy(dense, "HYLL")
	for _, c := range []struct {
		s    string
		want bool
	}{
		{header + "\x7f\xff", true},
		{header, true}, // no opcodes: valid, but corrupt when read
		{header[:15], false},
		{"HYLM" + header[4:] + "\x7f\xff", false},
		{"HYLL\x02" + header[5:] + "\x7f\xff", false},
		{string(dense), true},
		{string(dense[:len(dense)-1]), false},
		{string(dense) + "\x00", false},
	} {
		if got := hll.Valid([]byte(c.s)); got != c.want {
			t.Errorf("Valid(%.24q... %d bytes) = %v", c.s, len(c.s), got)
		}
	}
	if _, err := hll.Count([]byte(header)); err != hll.ErrCorrupt {
		t.Errorf("count of no opcodes: %v", err)
	}
}

// A sparse HyperLogLog turns dense once it would grow past sparseMax, and
// holds the same registers.
func TestPromotion(t *testing.T) {
	small, big := hll.New(), hll.New()
	for i := range 200 {
		e := []byte("e" + strconv.Itoa(i))
		small.Add(e, 100)
		big.Add(e, hll.DefaultSparseMaxBytes)
	}
	if !hll.IsDense(small.Bytes()) || hll.IsDense(big.Bytes()) {
		t.Fatalf("dense: with 100 bytes %v, with 3000 %v", hll.IsDense(small.Bytes()), hll.IsDense(big.Bytes()))
	}
	if err := big.ToDense(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(small.Bytes()[hll.HeaderSize:], big.Bytes()[hll.HeaderSize:]) {
		t.Fatal("promoted registers differ from the converted ones")
	}
}

func TestSelfTest(t *testing.T) {
	if err := hll.SelfTest(); err != nil {
		t.Fatal(err)
	}
}
