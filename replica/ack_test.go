package replica

import (
	"context"
	"testing"

	"github.com/ferrydb/ferry/stream"
)

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

// TestCaughtUpStreamingBeforeGivingBack: a replica that catches up says so
// (state streaming: link up in INFO) before it gives back the cores and the
// collector's headroom it loaded with, which starts a collection of all it
// loaded (on 1M keys that delayed the link's state by 100-150 ms after the
// replica already served).
func TestCaughtUpStreamingBeforeGivingBack(t *testing.T) {
	r, err := New(Config{Addr: "127.0.0.1:0", Log: nilLog{}, Dataset: "d"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var seen State
	r.loaded = func() { seen, _, _ = r.Status() }
	r.caughtUp()
	if seen != StateStreaming {
		t.Fatalf("state while giving back the cores: %s, want %s", seen, StateStreaming)
	}
	r.engine.Lock()
	loading := r.engine.Loading()
	r.engine.Unlock()
	if loading {
		t.Fatal("still loading after catching up")
	}
}

// nilLog is an empty log that is never read.
type nilLog struct{}

func (nilLog) First(context.Context) (uint64, error)         { return 1, nil }
func (nilLog) Last(context.Context) (uint64, error)          { return 0, nil }
func (nilLog) Range(context.Context) (uint64, uint64, error) { return 1, 0, nil }
func (nilLog) Read(ctx context.Context, _ uint64, _ func(stream.Entry) error) error {
	<-ctx.Done()
	return ctx.Err()
}
