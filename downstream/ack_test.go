package downstream

import "testing"

// TestOutboxAck checks the map from a replica's processed stream bytes to
// log offsets: only entries processed whole count, PINGs and GETACKs in
// between move the bytes but no offset, and a replica that never
// acknowledges keeps the marks bounded without being credited early.
func TestOutboxAck(t *testing.T) {
	o := newOutbox()
	o.marks = append(o.marks, mark{end: 0, offset: 10}) // the RDB's offset
	entry := []byte("*1\r\n$4\r\nINCR\r\n")             // 14 bytes
	o.put(11, entry)
	o.put(0, ping)
	o.put(12, selectZero, entry)
	o.put(0, getAck)
	n := int64(len(entry))
	for _, c := range []struct {
		processed int64
		want      uint64
	}{
		{-1, 0},
		{0, 10},
		{n - 1, 0}, // mid-entry: nothing new
		{n, 11},
		{n + int64(len(ping)) + int64(len(selectZero)), 0},
		{n + int64(len(ping)+len(selectZero)) + n, 12},
		{1 << 40, 0}, // all consumed
	} {
		if got := o.ack(c.processed); got != c.want {
			t.Errorf("ack(%d) = %d, want %d", c.processed, got, c.want)
		}
	}

	o = newOutbox()
	for i := uint64(1); i <= 3*maxMarks; i++ {
		o.put(i, entry)
	}
	if len(o.marks) != maxMarks {
		t.Fatalf("%d marks kept, want %d", len(o.marks), maxMarks)
	}
	// Entries past the kept marks are credited only once the replica
	// processed the newest one.
	if got := o.ack(int64(maxMarks) * n); got != maxMarks-1 {
		t.Errorf("ack at entry %d = %d, want %d", maxMarks, got, maxMarks-1)
	}
	if got := o.ack(int64(3*maxMarks)*n - 1); got != 0 {
		t.Errorf("ack one byte short of the end = %d, want 0", got)
	}
	if got := o.ack(int64(3*maxMarks) * n); got != 3*maxMarks {
		t.Errorf("ack at the end = %d, want %d", got, 3*maxMarks)
	}
}
