package replica

import "testing"

// TestAckRequests follows the requests for acknowledgements of two WAITs
// (offsets 10 and 20) on a replica at offset 5: it acknowledges when it
// reaches 10, again when it reaches 20 and not between, and at once for a
// request it has already applied.
func TestAckRequests(t *testing.T) {
	r := &Replica{ackNow: make(chan struct{}, 1), offset: 5}
	asked := func() bool {
		select {
		case <-r.ackNow:
			return true
		default:
			return false
		}
	}
	r.onAckRequest(20)
	r.onAckRequest(10)
	if asked() {
		t.Fatal("acknowledged at offset 5 for requests at 10 and 20")
	}
	for _, step := range []struct {
		offset uint64
		want   bool
	}{{9, false}, {10, true}, {15, false}, {19, false}, {21, true}, {30, false}} {
		r.mu.Lock()
		r.setOffsetLocked(step.offset)
		r.mu.Unlock()
		if got := asked(); got != step.want {
			t.Fatalf("at offset %d: acknowledged %v, want %v", step.offset, got, step.want)
		}
	}
	r.onAckRequest(25)
	if !asked() {
		t.Fatal("a request for an applied offset was not acknowledged at once")
	}
}
