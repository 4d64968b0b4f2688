package jetstream

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ferrydb/ferry/stream"
)

var errReadOnly = errors.New("jetstream: log opened read-only")

// Append stores data as the entry after expectLast and returns its offset.
// If the log's last offset is not expectLast, nothing is stored and the
// error is stream.ErrFenced. Any other error leaves the outcome unknown (the
// request may have been stored before the answer was lost): Last or Get
// tells, and retrying with the same expectLast never stores data twice.
// While NATS is unreachable Append fails at once.
func (l *Log) Append(ctx context.Context, data []byte, expectLast uint64) (uint64, error) {
	if l.closed.Load() {
		return 0, stream.ErrClosed
	}
	if l.cfg.ReadOnly {
		return 0, errReadOnly
	}
	m := l.newMsg(data, expectLast)
	ack, err := l.js.PublishMsg(ctx, m)
	if err != nil {
		return 0, fmt.Errorf("append after %d: %w", expectLast, l.mapErr(err))
	}
	if err := l.checkAck(ack, expectLast); err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// newMsg builds the message for the entry after expectLast, setting the
// expected-last-sequence header directly (what
// jetstream.WithExpectLastSequence does, without the option plumbing).
func (l *Log) newMsg(data []byte, expectLast uint64) *nats.Msg {
	return &nats.Msg{
		Subject: l.subject,
		Data:    data,
		Header:  nats.Header{jetstream.ExpectedLastSeqHeader: []string{formatOffset(expectLast)}},
	}
}

// checkAck verifies that the server stored the entry where the fence says.
func (l *Log) checkAck(ack *jetstream.PubAck, expectLast uint64) error {
	if ack.Stream != l.name || ack.Sequence != expectLast+1 || ack.Duplicate {
		return fmt.Errorf("append after %d: unexpected ack: stream %s offset %d duplicate %t", expectLast, ack.Stream, ack.Sequence, ack.Duplicate)
	}
	return nil
}

// AppendAsync sends data as the entry after expectLast and returns at once;
// the outcome arrives on the returned Pending, meaning what Append's result
// means. To pipeline, pass expectLast, expectLast+1, ... from one goroutine:
// if one append of the run fails, each later one fails with
// stream.ErrFenced, so the log never holds a run with a hole in it. At most
// Config.MaxPending appends wait for confirmation; beyond that AppendAsync
// blocks until one is confirmed (at most Config.Timeout, then an error and
// nothing sent). An error from AppendAsync means nothing was sent. data must
// not be modified before the Pending is done.
func (l *Log) AppendAsync(data []byte, expectLast uint64) (stream.Pending, error) {
	if l.closed.Load() {
		return nil, stream.ErrClosed
	}
	if l.cfg.ReadOnly {
		return nil, errReadOnly
	}
	m := l.newMsg(data, expectLast)
	p := &pending{done: make(chan struct{}), expect: expectLast}
	// Register before publishing: the confirmation can arrive before
	// PublishMsgAsync returns.
	l.mu.Lock()
	l.inflight[m] = p
	l.mu.Unlock()
	if _, err := l.js.PublishMsgAsync(m, jetstream.WithStallWait(l.cfg.Timeout)); err != nil {
		l.take(m)
		return nil, fmt.Errorf("append after %d: %w", expectLast, l.mapErr(err))
	}
	return p, nil
}

// take removes and returns the pending outcome of m, nil if it was resolved
// already.
func (l *Log) take(m *nats.Msg) *pending {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.inflight[m]
	delete(l.inflight, m)
	return p
}

// onAck runs on the library's ack goroutine: it must not block.
func (l *Log) onAck(_ jetstream.JetStream, m *nats.Msg, ack *jetstream.PubAck) {
	p := l.take(m)
	if p == nil {
		return
	}
	if err := l.checkAck(ack, p.expect); err != nil {
		p.resolve(0, err)
		return
	}
	p.resolve(ack.Sequence, nil)
}

// onAsyncErr receives every async failure: an error answer, an ack timeout,
// a disconnect while the ack was awaited.
func (l *Log) onAsyncErr(_ jetstream.JetStream, m *nats.Msg, err error) {
	p := l.take(m)
	if p == nil {
		return
	}
	p.resolve(0, fmt.Errorf("append after %d: %w", p.expect, l.mapErr(err)))
}

// pending is the outcome of one AppendAsync.
type pending struct {
	expect uint64
	done   chan struct{}
	offset uint64 // set before done is closed
	err    error
}

func (p *pending) resolve(offset uint64, err error) {
	p.offset, p.err = offset, err
	close(p.done)
}

// Done is closed once the outcome is known.
func (p *pending) Done() <-chan struct{} { return p.done }

// Offset waits for the outcome and returns the entry's offset or the error.
func (p *pending) Offset() (uint64, error) {
	<-p.done
	return p.offset, p.err
}
