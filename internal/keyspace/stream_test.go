package keyspace

import (
	"fmt"
	"math/rand"
	"testing"
)

func fv(pairs ...string) [][]byte {
	out := make([][]byte, len(pairs))
	for i, p := range pairs {
		out[i] = []byte(p)
	}
	return out
}

// collect returns the live entries as "id f v ..." strings.
func collect(s *Stream, start, end StreamID, rev bool) []string {
	var out []string
	s.Range(start, end, rev, func(id StreamID, f [][]byte) bool {
		line := id.String()
		for _, b := range f {
			line += " " + string(b)
		}
		out = append(out, line)
		return true
	})
	return out
}

func TestStreamNodes(t *testing.T) {
	s := NewStream()
	for i := 1; i <= 250; i++ {
		s.Append(StreamID{uint64(i), 0}, fv("a", fmt.Sprint(i)), StreamNodeMaxBytes, StreamNodeMaxEntries)
	}
	if s.NodeCount() != 3 || s.Len() != 250 {
		t.Fatalf("nodes %d len %d, want 3 nodes of 100, 100, 50", s.NodeCount(), s.Len())
	}
	master, ents := s.NodeEntries(1)
	if master != (StreamID{101, 0}) || len(ents) != 100 {
		t.Fatalf("node 1: master %v, %d entries", master, len(ents))
	}
	// Approximate MAXLEN removes whole nodes only.
	if n := s.Trim(TrimMaxLen, 120, StreamID{}, true, 0); n != 100 || s.Len() != 150 {
		t.Fatalf("approx trim removed %d, len %d", n, s.Len())
	}
	if s.FirstID() != (StreamID{101, 0}) {
		t.Fatalf("first id %v", s.FirstID())
	}
	// Exact trim flags entries deleted within the node.
	if n := s.Trim(TrimMaxLen, 120, StreamID{}, false, 0); n != 30 || s.Len() != 120 {
		t.Fatalf("exact trim removed %d, len %d", n, s.Len())
	}
	_, ents = s.NodeEntries(0)
	if len(ents) != 100 || !ents[29].Deleted || ents[30].Deleted {
		t.Fatalf("exact trim flags: %d entries", len(ents))
	}
	if got := collect(s, StreamID{}, StreamID{132, 0}, false); len(got) != 2 || got[0] != "131-0 a 131" {
		t.Fatalf("range %q", got)
	}
	if got := collect(s, StreamID{}, MaxStreamID, true); len(got) != 120 || got[0] != "250-0 a 250" || got[119] != "131-0 a 131" {
		t.Fatalf("reverse range: %d entries, %q", len(got), got[:1])
	}
	// A node goes with its last live entry.
	for i := 201; i <= 250; i++ {
		if !s.Delete(StreamID{uint64(i), 0}) {
			t.Fatalf("delete %d", i)
		}
	}
	if s.NodeCount() != 1 || s.Len() != 70 || s.MaxDeletedID() != (StreamID{250, 0}) {
		t.Fatalf("nodes %d len %d maxdel %v", s.NodeCount(), s.Len(), s.MaxDeletedID())
	}
	if s.Delete(StreamID{250, 0}) || s.Delete(StreamID{120, 0}) {
		t.Fatal("deleted a missing entry")
	}
	// The tail node is full (100 entries counting deleted ones): a new one.
	s.Append(StreamID{300, 0}, fv("b", "x", "c", "y"), StreamNodeMaxBytes, StreamNodeMaxEntries)
	if s.NodeCount() != 2 || s.LastID() != (StreamID{300, 0}) {
		t.Fatalf("nodes %d", s.NodeCount())
	}
	if got := s.Get(StreamID{300, 0}); len(got) != 4 || string(got[3]) != "y" {
		t.Fatalf("get %q", got)
	}
}

func TestStreamMinIDAndBytes(t *testing.T) {
	s := NewStream()
	big := make([]byte, 1000)
	for i := 1; i <= 10; i++ {
		s.Append(StreamID{uint64(i), 5}, [][]byte{[]byte("f"), big}, StreamNodeMaxBytes, StreamNodeMaxEntries)
	}
	// 4 entries of ~1 KB fill a 4096-byte node.
	if s.NodeCount() != 3 {
		t.Fatalf("nodes %d", s.NodeCount())
	}
	if n := s.Trim(TrimMinID, 0, StreamID{6, 0}, true, 0); n != 4 || s.FirstID() != (StreamID{5, 5}) {
		t.Fatalf("approx minid removed %d, first %v", n, s.FirstID())
	}
	if n := s.Trim(TrimMinID, 0, StreamID{6, 0}, false, 0); n != 1 || s.FirstID() != (StreamID{6, 5}) {
		t.Fatalf("exact minid removed %d, first %v", n, s.FirstID())
	}
	if s.FirstEntryID() != (StreamID{5, 5}) {
		t.Fatalf("first entry with tombstones %v", s.FirstEntryID())
	}
}

func TestStreamRandomAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	s := NewStream()
	type ent struct {
		id StreamID
		f  []string
	}
	var model []ent
	next := uint64(1)
	for step := 0; step < 5000; step++ {
		switch r := rng.Intn(10); {
		case r < 6:
			id := StreamID{next, uint64(rng.Intn(3))}
			next += uint64(1 + rng.Intn(2))
			var f []string
			if rng.Intn(2) == 0 {
				f = []string{"a", fmt.Sprint(rng.Intn(1000)), "b", "x"}
			} else {
				f = []string{fmt.Sprint(rng.Intn(100)), "-12", "c", string(make([]byte, rng.Intn(200)))}
			}
			s.Append(id, fv(f...), StreamNodeMaxBytes, StreamNodeMaxEntries)
			model = append(model, ent{id, f})
		case r < 8 && len(model) > 0:
			i := rng.Intn(len(model))
			if !s.Delete(model[i].id) {
				t.Fatalf("step %d: delete %v failed", step, model[i].id)
			}
			model = append(model[:i], model[i+1:]...)
		default:
			keep := uint64(rng.Intn(len(model) + 1))
			n := s.Trim(TrimMaxLen, keep, StreamID{}, false, 0)
			if int(n) != len(model)-int(keep) {
				t.Fatalf("step %d: trim removed %d want %d", step, n, len(model)-int(keep))
			}
			model = model[len(model)-int(keep):]
		}
		if s.Len() != len(model) {
			t.Fatalf("step %d: len %d model %d", step, s.Len(), len(model))
		}
	}
	got := collect(s, StreamID{}, MaxStreamID, false)
	for i, e := range model {
		line := e.id.String()
		for _, f := range e.f {
			line += " " + f
		}
		if got[i] != line {
			t.Fatalf("entry %d: %q want %q", i, got[i], line)
		}
	}
	c := s.Clone().(*Stream)
	var d1, d2 Digest
	s.Digest(&d1)
	c.Digest(&d2)
	if d1 != d2 {
		t.Fatal("clone digest differs")
	}
}

func TestRaxNodes(t *testing.T) {
	k := func(ms uint64) [16]byte { return StreamID{ms, 0}.Key() }
	for _, tc := range []struct {
		keys [][16]byte
		want int
	}{
		{nil, 1},
		{[][16]byte{k(1)}, 2},
		{[][16]byte{k(1), k(2)}, 6}, // root, branch, two children, two leaves
	} {
		if got := RaxNodes(tc.keys); got != tc.want {
			t.Errorf("%d keys: %d nodes, want %d", len(tc.keys), got, tc.want)
		}
	}
}
