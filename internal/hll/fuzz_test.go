package hll

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzHLL reads and edits arbitrary strings that pass Valid, as clients,
// RDB files and the log can store them: nothing may panic or loop, every
// reader must agree on whether a sparse string is corrupt, and on a sound
// one, sparse edits must set the registers dense edits set.
func FuzzHLL(f *testing.F) {
	const hdr = "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80"
	dense := make([]byte, DenseSize)
	copy(dense, "HYLL")
	for i := HeaderSize; i < len(dense); i += 7 {
		dense[i] = byte(i)
	}
	f.Add([]byte(hdr+"\x7f\xff"), "a b c")
	f.Add([]byte(hdr+"\x60\xf3\x80\x50\xb1\x84\x4b\xfb\x80\x42\x5a"), "d e")
	f.Add([]byte(hdr+"\x3f\x3f\x3f\x3e\x7f"), "x0 x1 x2 x3")
	f.Add([]byte(hdr+"\x7f\xfe\x40"), "y")
	f.Add([]byte(hdr+"\x7f\xff\x80"), "z")
	f.Add([]byte(hdr+"\x80\x81\x82\x83\xfc\x7f\xf0"), "")
	f.Add(dense, "w")
	f.Fuzz(func(t *testing.T, s []byte, elements string) {
		if !Valid(s) {
			return
		}
		n, err := Count(s)
		var u Union
		if merr := u.Merge(s); (merr == nil) != (err == nil) {
			t.Fatalf("Count: %v, Merge: %v", err, merr)
		}
		if err == nil && u.Count() != n {
			t.Fatalf("Count %d, union count %d", n, u.Count())
		}
		if !IsDense(s) {
			Decode(s)
		}
		d := Edit(bytes.Clone(s))
		if derr := d.ToDense(); (derr == nil) != (err == nil) {
			t.Fatalf("Count: %v, ToDense: %v", err, derr)
		}
		if err == nil && !bytes.Equal(Registers(d.Bytes()), u[:]) {
			t.Fatal("ToDense and Merge read different registers")
		}

		h := Edit(bytes.Clone(s))
		for _, e := range strings.Fields(elements) {
			if _, aerr := h.Add([]byte(e), DefaultSparseMaxBytes); aerr != nil {
				if err == nil && !truncated(s) {
					t.Fatalf("add %q to a sound HyperLogLog: %v", e, aerr)
				}
				break
			}
			if err == nil {
				d.Add([]byte(e), DefaultSparseMaxBytes)
			}
		}
		if !Valid(h.Bytes()) {
			t.Fatalf("edits left an invalid string: %q", h.Bytes())
		}
		if err != nil || truncated(s) {
			return
		}
		after := Edit(bytes.Clone(h.Bytes()))
		if err := after.ToDense(); err != nil {
			t.Fatalf("edits corrupted a sound HyperLogLog: %v", err)
		}
		if !bytes.Equal(after.Bytes()[HeaderSize:], d.Bytes()[HeaderSize:]) {
			t.Fatal("sparse and dense edits set different registers")
		}
	})
}

// truncated reports whether the sparse string s ends in the first byte of
// an XZERO opcode, whose edits read and write past the end of the string.
func truncated(s []byte) bool {
	if IsDense(s) {
		return false
	}
	r := s[HeaderSize:]
	for i := 0; i < len(r); {
		size, _, _ := opAt(r, i, 0)
		if i+size > len(r) {
			return true
		}
		i += size
	}
	return false
}
