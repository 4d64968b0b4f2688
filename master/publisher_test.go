package master

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/stream"
)

// heldLog is a stream.Writer whose appends stay unconfirmed until the test
// confirms them, so that the publisher's policy can be observed between
// the send and the log's answer. (The e2e tests run the publisher against
// a real JetStream.)
type heldLog struct {
	mu      sync.Mutex
	entries [][]byte
	pending []*heldPending
	sent    chan struct{}
}

type heldPending struct {
	done chan struct{}
	off  uint64
}

func (p *heldPending) Done() <-chan struct{}   { return p.done }
func (p *heldPending) Offset() (uint64, error) { <-p.done; return p.off, nil }

func (l *heldLog) Last(context.Context) (uint64, error) { return 0, nil }

func (l *heldLog) Append(context.Context, []byte, uint64) (uint64, error) {
	panic("the publisher only appends asynchronously")
}

func (l *heldLog) AppendAsync(data []byte, expectLast uint64) (stream.Pending, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, append([]byte(nil), data...))
	p := &heldPending{done: make(chan struct{}), off: expectLast + 1}
	l.pending = append(l.pending, p)
	l.sent <- struct{}{}
	return p, nil
}

// confirm confirms the oldest unconfirmed append.
func (l *heldLog) confirm() {
	l.mu.Lock()
	p := l.pending[0]
	l.pending = l.pending[1:]
	l.mu.Unlock()
	close(p.done)
}

func (l *heldLog) entry(t *testing.T, i int) string {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if i >= len(l.entries) {
		t.Fatalf("entry %d not sent; %d sent", i, len(l.entries))
	}
	return string(l.entries[i])
}

// waitSent waits for the next AppendAsync.
func (l *heldLog) waitSent(t *testing.T) {
	t.Helper()
	select {
	case <-l.sent:
	case <-time.After(5 * time.Second):
		t.Fatal("no entry sent")
	}
}

// noSend checks that nothing is sent for a while.
func (l *heldLog) noSend(t *testing.T) {
	t.Helper()
	select {
	case <-l.sent:
		t.Fatal("an entry was sent")
	case <-time.After(50 * time.Millisecond):
	}
}

func startPublisher(t *testing.T, async bool, maxEntry, maxInflight int) (*publisher, *heldLog) {
	t.Helper()
	l := &heldLog{sent: make(chan struct{}, 100)}
	p := newPublisher(l, 0, maxEntry, maxInflight, async, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go p.run(ctx)
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	return p, l
}

// waitResult runs WaitDurable in the background and reports its result.
func waitResult(p *publisher, need uint64, sentOnly bool) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- p.WaitDurable(need, sentOnly) }()
	return ch
}

func expectDone(t *testing.T, ch <-chan error, what string) {
	t.Helper()
	select {
	case err := <-ch:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: still waiting", what)
	}
}

func expectWaiting(t *testing.T, ch <-chan error, what string) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("%s: returned (%v) before it should", what, err)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestAsyncRepliesAtOnceAndGroupsUnits: with --ack async a writer does not
// wait for its unit to be sent, and the units that arrive while an entry
// is unconfirmed travel together in the next one instead of one entry
// each.
func TestAsyncRepliesAtOnceAndGroupsUnits(t *testing.T) {
	p, l := startPublisher(t, true, 1<<10, 8)
	p.Append(command.Unit{Data: []byte("a;")})
	l.waitSent(t)
	for i, d := range []string{"b;", "c;", "d;"} {
		p.Append(command.Unit{Data: []byte(d)})
		expectDone(t, waitResult(p, uint64(i+2), true), "async wait for unit "+d)
	}
	l.noSend(t)
	l.confirm()
	l.waitSent(t)
	if got := l.entry(t, 1); got != "b;c;d;" {
		t.Fatalf("second entry = %q, want the three units that waited together", got)
	}
}

// TestAsyncWaitsPastTheBacklogBound: once more than an entry's worth of
// units waits to be sent, an asynchronous writer waits until the backlog
// is back under it, so that a log that does not answer cannot make the
// master buffer without bound.
func TestAsyncWaitsPastTheBacklogBound(t *testing.T) {
	const maxEntry = 64
	p, l := startPublisher(t, true, maxEntry, 1)
	p.Append(command.Unit{Data: []byte("first")})
	l.waitSent(t)
	unit := make([]byte, 20)
	for need := uint64(2); need <= 4; need++ { // up to 60 bytes unsent
		p.Append(command.Unit{Data: unit})
		expectDone(t, waitResult(p, need, true), "async wait under the bound")
	}
	p.Append(command.Unit{Data: unit}) // 80 bytes unsent
	over := waitResult(p, 5, true)
	expectWaiting(t, over, "async wait over the bound")
	l.noSend(t)
	l.confirm()
	l.waitSent(t) // units 2-4, sealed when unit 5 did not fit
	if got := len(l.entry(t, 1)); got != 60 {
		t.Fatalf("second entry has %d bytes, want 60", got)
	}
	expectDone(t, over, "async wait once the backlog is under the bound")
}

// TestDurableWaitsForTheLog: with --ack durable a writer waits until the
// log confirmed the entry holding its unit.
func TestDurableWaitsForTheLog(t *testing.T) {
	p, l := startPublisher(t, false, 1<<10, 2)
	p.Append(command.Unit{Data: []byte("a;")})
	l.waitSent(t)
	w := waitResult(p, 1, false)
	expectWaiting(t, w, "durable wait before the confirmation")
	l.confirm()
	expectDone(t, w, "durable wait after the confirmation")
}

// TestWaitEndsWhenThePublisherStops: a writer waiting for an entry the log
// never confirms gets errNotStored when the publisher stops (the master
// closing during a log outage), rather than waiting for good: the stop
// closes done and wakes the waiters together.
func TestWaitEndsWhenThePublisherStops(t *testing.T) {
	for i := range 20 {
		l := &heldLog{sent: make(chan struct{}, 100)}
		p := newPublisher(l, 0, 1<<10, 2, false, nil)
		ctx, cancel := context.WithCancel(context.Background())
		go p.run(ctx)
		p.Append(command.Unit{Data: []byte("a;")})
		l.waitSent(t)
		ws := []<-chan error{waitResult(p, 1, false), waitResult(p, 1, false)}
		for _, w := range ws {
			expectWaiting(t, w, "durable wait before the stop")
		}
		cancel()
		for _, w := range ws {
			select {
			case err := <-w:
				if !errors.Is(err, errNotStored) {
					t.Fatalf("run %d: wait after the stop = %v, want errNotStored", i, err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("run %d: a durable wait outlived the publisher", i)
			}
		}
	}
}

// TestAppendAtOffsets follows the offsets AppendAt gives units (the entry
// that will hold each, for WAIT) as entries are sent, grouped and sealed,
// and checks that a stored entry wakes only the waiters whose units it
// holds.
func TestAppendAtOffsets(t *testing.T) {
	p, l := startPublisher(t, false, 1<<10, 1)
	if off := p.AppendAt(command.Unit{Data: []byte("a;")}); off != 1 {
		t.Fatalf("first unit: offset %d, want 1", off)
	}
	l.waitSent(t) // entry 1 = a; in flight, one allowed
	for _, d := range []string{"b;", "c;"} {
		if off := p.AppendAt(command.Unit{Data: []byte(d)}); off != 2 {
			t.Fatalf("unit %s while entry 1 is in flight: offset %d, want 2", d, off)
		}
	}
	if _, off, err := p.cut(); err != nil || off != 2 {
		t.Fatalf("cut: offset %d, %v; want 2", off, err)
	}
	if off := p.AppendAt(command.Unit{Data: []byte("d;")}); off != 3 {
		t.Fatalf("unit after the entry was sealed: offset %d, want 3", off)
	}
	late := waitResult(p, 4, false) // unit 4 (d;) is in entry 3
	early := waitResult(p, 3, false)
	l.confirm() // entry 1 stored
	l.waitSent(t)
	expectPending(t, early, "unit 3 (entry 2) after entry 1 was stored")
	l.confirm() // entry 2 stored
	expectDone(t, early, "unit 3 once entry 2 is stored")
	l.waitSent(t)
	expectPending(t, late, "unit 4 (entry 3) after entry 2 was stored")
	l.confirm()
	expectDone(t, late, "unit 4 once entry 3 is stored")
	if got := l.entry(t, 1) + "|" + l.entry(t, 2); got != "b;c;|d;" {
		t.Fatalf("entries 2 and 3 = %q, want b;c;|d;", got)
	}
}

// expectPending fails if ch has a result within 50 ms.
func expectPending(t *testing.T, ch <-chan error, what string) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("%s: done (%v), want still waiting", what, err)
	case <-time.After(50 * time.Millisecond):
	}
}

// TestStoredAndProgress: Stored answers what WaitDurable would without
// waiting, and the progress hook (the event loop's wake-up) runs when the
// answer changes: a confirmation, a send in async mode, a failure.
func TestStoredAndProgress(t *testing.T) {
	var calls atomic.Int64
	p, l := startPublisher(t, false, 1<<10, 2)
	p.notify(func() { calls.Add(1) })
	p.Append(command.Unit{Data: []byte("a;")})
	l.waitSent(t)
	if ok, err := p.Stored(1, false); ok || err != nil {
		t.Fatalf("Stored(1) before the confirmation: %v, %v", ok, err)
	}
	before := calls.Load()
	l.confirm()
	waitCalls(t, &calls, before, "the confirmation")
	if ok, err := p.Stored(1, false); !ok || err != nil {
		t.Fatalf("Stored(1) after the confirmation: %v, %v", ok, err)
	}
	p.Append(command.Unit{Data: []byte("b;")})
	l.waitSent(t)
	before = calls.Load()
	p.fail(errors.New("log lost"))
	if calls.Load() == before {
		t.Fatal("no progress call after the failure")
	}
	if ok, err := p.Stored(2, false); ok || !errors.Is(err, errNotStored) {
		t.Fatalf("Stored(2) after the failure: %v, %v", ok, err)
	}

	// Async: sent is enough.
	pa, la := startPublisher(t, true, 1<<10, 8)
	var asyncCalls atomic.Int64
	pa.notify(func() { asyncCalls.Add(1) })
	pa.Append(command.Unit{Data: []byte("a;")})
	la.waitSent(t)
	if ok, err := pa.Stored(1, true); !ok || err != nil {
		t.Fatalf("async Stored(1) once sent: %v, %v", ok, err)
	}
	waitCalls(t, &asyncCalls, 0, "an async send")
}

// waitCalls waits until a progress hook ran more than before times.
func waitCalls(t *testing.T, calls *atomic.Int64, before int64, after string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() <= before {
		if time.Now().After(deadline) {
			t.Fatalf("no progress call after %s", after)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestOpenEntrySizedAfterTheLast: a new open entry starts with room for
// what the last entry sent held, so that it does not grow by doubling
// from a few bytes under steady load.
func TestOpenEntrySizedAfterTheLast(t *testing.T) {
	p, l := startPublisher(t, false, 1<<20, 1)
	p.Append(command.Unit{Data: []byte("first;")})
	l.waitSent(t)
	unit := make([]byte, 100)
	for range 40 { // 4,000 bytes gather while the first entry is unconfirmed
		p.Append(command.Unit{Data: unit})
	}
	l.confirm()
	l.waitSent(t)
	if got := len(l.entry(t, 1)); got != 4000 {
		t.Fatalf("second entry: %d bytes, want 4000", got)
	}
	p.Append(command.Unit{Data: unit})
	p.mu.Lock()
	got := cap(p.open)
	p.mu.Unlock()
	if got < 4000 {
		t.Errorf("the next open entry starts with room for %d bytes, want at least the last entry's 4000", got)
	}
}
