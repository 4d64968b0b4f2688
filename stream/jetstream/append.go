package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"

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
	m, object, err := l.entryMsg(data, expectLast)
	if err != nil {
		return 0, err
	}
	ack, err := l.js.PublishMsg(ctx, m)
	if err != nil {
		err = fmt.Errorf("append after %d: %w", expectLast, l.mapErr(err))
		l.unreferenced(object, err)
		return 0, err
	}
	if err := l.checkAck(ack, expectLast); err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// entryMsg builds the message of the entry after expectLast: the data
// itself, or for data larger than a message a reference to the object it
// was first stored in (large.go), whose name it returns.
func (l *Log) entryMsg(data []byte, expectLast uint64) (m *nats.Msg, object string, err error) {
	if len(data) > l.MaxEntry() {
		return nil, "", fmt.Errorf("append after %d: entry of %d bytes, larger than the log's %d", expectLast, len(data), l.MaxEntry())
	}
	if l.inline(data) {
		return l.newMsg(data, expectLast), "", nil
	}
	if object, err = l.putObject(data, expectLast); err != nil {
		return nil, "", err
	}
	m = l.newMsg(nil, expectLast)
	m.Header.Set(objectHeader, object)
	m.Header.Set(objectSizeHeader, strconv.Itoa(len(data)))
	return m, object, nil
}

// unreferenced deletes the object of an append that failed with err, if
// the append was surely not stored (fenced): no entry references it.
func (l *Log) unreferenced(object string, err error) {
	if object != "" && errors.Is(err, stream.ErrFenced) {
		go l.dropObject(object)
	}
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
	m, object, err := l.entryMsg(data, expectLast)
	if err != nil {
		return nil, err
	}
	p := &pending{done: make(chan struct{}), expect: expectLast, object: object}
	// Register before publishing: the confirmation can arrive before
	// PublishMsgAsync returns.
	l.mu.Lock()
	l.inflight[m] = p
	l.mu.Unlock()
	if _, err := l.js.PublishMsgAsync(m, jetstream.WithStallWait(l.cfg.Timeout)); err != nil {
		l.take(m)
		// Nothing was sent: the object is nobody's.
		if object != "" {
			go l.dropObject(object)
		}
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
	err = fmt.Errorf("append after %d: %w", p.expect, l.mapErr(err))
	l.unreferenced(p.object, err)
	p.resolve(0, err)
}

// pending is the outcome of one AppendAsync.
type pending struct {
	expect uint64
	object string // the object holding the entry, if it is large
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
