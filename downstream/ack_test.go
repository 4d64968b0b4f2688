package downstream

import (
	"bytes"
	"testing"
)

// TestOutboxAck checks the map from a replica's processed stream bytes to
// log offsets: only entries processed whole count, PINGs and GETACKs in
// between move the bytes but no offset, and a replica that never
// acknowledges keeps the pieces bounded without being credited early.
func TestOutboxAck(t *testing.T) {
	o := newOutbox([]piece{{offset: 10}}, 0) // the RDB's offset
	entry := []byte("*1\r\n$4\r\nINCR\r\n")  // 14 bytes
	o.put(11, 0, entry)
	o.put(0, 0, ping)
	o.put(12, 0, selectZero, entry)
	o.put(0, 0, getAck)
	n := int64(len(entry))
	for _, c := range []struct {
		processed int64
		want      uint64
	}{
		{-1, 0},
		{0, 10},
		{n - 1, 10}, // mid-entry: nothing new
		{n, 11},
		{n + int64(len(ping)) + int64(len(selectZero)), 11},
		{n + int64(len(ping)+len(selectZero)) + n, 12},
		{1 << 40, 12}, // all of it
	} {
		if got := o.ack(c.processed); got != c.want {
			t.Errorf("ack(%d) = %d, want %d", c.processed, got, c.want)
		}
	}
	if len(o.pieces) != 1 {
		t.Errorf("%d pieces kept after the last one was acknowledged, want 1", len(o.pieces))
	}

	o = newOutbox([]piece{{}}, 0)
	const total = 3 * maxPieces
	for i := uint64(1); i <= total; i++ {
		o.put(i, 0, entry)
		o.take(nil) // as the link's writer does
	}
	if len(o.pieces) > maxPieces {
		t.Fatalf("%d pieces kept, want at most %d", len(o.pieces), maxPieces)
	}
	// An acknowledgement before the kept pieces credits nothing; one
	// inside them credits the entries it covers whole.
	if got := o.ack(n * 10); got != 0 {
		t.Errorf("ack of 10 entries = %d, want 0 (before the kept pieces)", got)
	}
	if got := o.ack(int64(total)*n - 1); got != total-1 {
		t.Errorf("ack one byte short of the end = %d, want %d", got, total-1)
	}
	if got := o.ack(int64(total) * n); got != total {
		t.Errorf("ack at the end = %d, want %d", got, total)
	}
}

// TestResumePoint: a replica's offset at the end of any piece continues
// after it; one inside an entry's piece continues inside that entry; one
// inside a PING, before the pieces or past them cannot continue.
func TestResumePoint(t *testing.T) {
	o := newOutbox([]piece{{offset: 10}}, 0)
	two := []byte("*1\r\n$4\r\nINCR\r\n*1\r\n$4\r\nDECR\r\n") // 28 bytes
	o.put(11, 3, two)                                         // 0-28, leaves db 3
	o.put(0, 0, ping)                                         // 28-42
	o.put(12, 0, selectZero, two)                             // 42-95
	pieces := o.close()
	for _, c := range []struct {
		pos  int64
		ok   bool
		want resumeAt
		kept int
	}{
		{0, true, resumeAt{from: 11}, 1},
		{14, true, resumeAt{from: 11, skip: 14}, 1},
		{28, true, resumeAt{from: 12, db: 3}, 2},
		{42, true, resumeAt{from: 12, db: 3}, 3},
		{42 + 23, true, resumeAt{from: 12, db: 3, skip: 23}, 3},
		{93, true, resumeAt{from: 13}, 4},
		{30, false, resumeAt{}, 0},
		{-1, false, resumeAt{}, 0},
		{94, false, resumeAt{}, 0},
	} {
		at, ok := resumePoint(pieces, c.pos)
		if ok != c.ok || at.from != c.want.from || at.db != c.want.db || at.skip != c.want.skip || len(at.pieces) != c.kept {
			t.Errorf("resumePoint(%d) = %+v (%d pieces), %v; want %+v (%d pieces), %v", c.pos, at, len(at.pieces), ok, c.want, c.kept, c.ok)
		}
	}
}

// TestTail: a stream continues inside an entry only between two commands.
func TestTail(t *testing.T) {
	b := append(bytes.Clone(selectZero), "*1\r\n$4\r\nINCR\r\n"...)
	if rest, err := tail(b, int64(len(selectZero))); err != nil || string(rest) != "*1\r\n$4\r\nINCR\r\n" {
		t.Errorf("tail after SELECT = %q, %v", rest, err)
	}
	for _, n := range []int64{0, 5, int64(len(selectZero)) + 3, int64(len(b))} {
		if rest, err := tail(b, n); err == nil {
			t.Errorf("tail(%d) = %q, want an error", n, rest)
		}
	}
}
