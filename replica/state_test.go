package replica_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/resp"
	"github.com/ferrydb/ferry/replica"
	"github.com/ferrydb/ferry/stream"
)

// gateLog is a log of n entries that hands a reader those up to half,
// then the rest once released; Connected is the test's to set.
type gateLog struct {
	n       uint64
	release chan struct{}
	down    atomic.Bool
}

func (l *gateLog) First(context.Context) (uint64, error) { return 1, nil }
func (l *gateLog) Last(context.Context) (uint64, error)  { return l.n, nil }
func (l *gateLog) Range(context.Context) (uint64, uint64, error) {
	return 1, l.n, nil
}
func (l *gateLog) Connected() bool { return !l.down.Load() }
func (l *gateLog) Read(context.Context, uint64, func(stream.Entry) error) error {
	panic("a RunReader's runs are read")
}

func (l *gateLog) ReadRuns(ctx context.Context, from uint64, fn func([]stream.Entry) error) error {
	entries := func(a, b uint64) []stream.Entry {
		var run []stream.Entry
		for off := max(a, from); off <= b; off++ {
			key := fmt.Sprint("k", off)
			run = append(run, stream.Entry{Offset: off, Data: resp.AppendCommand(nil, []byte("SET"), []byte(key), []byte("v"))})
		}
		return run
	}
	if run := entries(1, l.n/2); len(run) > 0 {
		if err := fn(run); err != nil {
			return err
		}
	}
	select {
	case <-l.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := fn(entries(l.n/2+1, l.n)); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

// waitState waits until the replica is in state want at offset off.
func waitState(t *testing.T, r *replica.Replica, want replica.State, off uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		state, got, err := r.Status()
		if state == want && got == off {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %s at offset %d (%v), want %s at %d", state, got, err, want, off)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCatchingUpState: a replica that has started replaying the log but
// has not reached where it was at its start is catching-up, and serves
// nothing; a link lost meanwhile puts it link-down, and back, catching-up
// again (not streaming, which it has never been); once there, streaming.
func TestCatchingUpState(t *testing.T) {
	lg := &gateLog{n: 10, release: make(chan struct{})}
	r, err := replica.New(replica.Config{Addr: "127.0.0.1:0", Log: lg, Dataset: "catching"})
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	defer r.Close()
	waitState(t, r, replica.StateCatchingUp, 5)
	e := r.Engine()
	e.Lock()
	loading := e.Loading()
	e.Unlock()
	if !loading {
		t.Fatal("a replica catching up serves reads")
	}

	lg.down.Store(true)
	waitState(t, r, replica.StateLinkDown, 5)
	lg.down.Store(false)
	waitState(t, r, replica.StateCatchingUp, 5)

	close(lg.release)
	waitState(t, r, replica.StateStreaming, 10)
	e.Lock()
	loading = e.Loading()
	e.Unlock()
	if loading {
		t.Fatal("a streaming replica still loading")
	}
}
