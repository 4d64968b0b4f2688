package keyspace

import (
	"bytes"
	"testing"
)

// TestAddNodeBadEntry: a node whose first entry does not follow the
// previous node's last entry is refused for that reason (the error the
// entry check finds, not a count mismatch found later), and the stream
// keeps only the good node.
func TestAddNodeBadEntry(t *testing.T) {
	src := NewStream()
	for _, ms := range []uint64{1, 5, 9} {
		src.Append(StreamID{ms, 0}, fv("f", "v"), StreamNodeMaxBytes, StreamNodeMaxEntries)
	}
	if src.NodeCount() != 1 {
		t.Fatalf("%d nodes, want 1", src.NodeCount())
	}
	lp := src.nodes[0].lp
	s := NewStream()
	if n, err := s.AddNode(StreamID{1, 0}, bytes.Clone(lp)); err != nil || n != 3 {
		t.Fatalf("good node: %d, %v", n, err)
	}
	// The same listpack under master 3-0 holds 3-0, 7-0 and 11-0: its
	// first entry is below the previous node's last, 9-0.
	_, err := s.AddNode(StreamID{3, 0}, bytes.Clone(lp))
	const want = "stream entry 3-0 does not follow entry 9-0"
	if err == nil || err.Error() != want {
		t.Fatalf("overlapping node: error %v, want %q", err, want)
	}
	if s.NodeCount() != 1 {
		t.Fatalf("%d nodes after the refused one, want 1", s.NodeCount())
	}
	// A node after the last entry is taken.
	if n, err := s.AddNode(StreamID{10, 0}, bytes.Clone(lp)); err != nil || n != 3 {
		t.Fatalf("following node: %d, %v", n, err)
	}
}
