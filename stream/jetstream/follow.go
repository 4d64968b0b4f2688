package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ferrydb/ferry/stream"
)

// Following the log. Once caught up, a reader follows the log through a
// server-side consumer of its own: ephemeral, in memory, one replica, no
// acknowledgements, starting at the next offset. When that consumer can no
// longer be trusted to deliver every entry in order (the connection went
// down or was made again, heartbeats stopped, the server deleted it or
// shut down, a delivery was skipped), it is replaced, once connected, by
// a new one starting at the first offset not yet handed over. This is what nats.go's ordered
// consumer does, but that one waits 1, 2, 4, 8 then 10 s between failed
// attempts to make its next consumer, and a NATS server that has just
// restarted refuses the first attempts: a replica took 10-20 s to read
// again. Attempts here are followRetryMin apart at first, followRetryMax
// at most.
const (
	followRetryMin = 50 * time.Millisecond
	followRetryMax = time.Second
)

// follower hands fn the entries one server-side consumer after another
// delivers. The consumers' callbacks hold mu; one of a consumer that was
// replaced may still run, and is ignored (serial).
type follower struct {
	l        *Log
	ctx      context.Context // the read's
	fn       func([]stream.Entry) error
	reqBytes int

	mu     sync.Mutex
	one    [1]stream.Entry // the run handed to fn
	next   uint64          // the next offset to hand over
	serial int             // the current consumer's number
	dseq   uint64          // its last delivery sequence

	// conn ends when the connection the current consumer was made on goes
	// down or is made again (whileConnected); start sets it, and
	// stopConn, which follow calls once that consumer is done with.
	conn     context.Context
	stopConn context.CancelFunc

	// replace takes a request to replace a consumer.
	replace chan replaceRequest
	done    chan struct{} // closed once, with result set, when following ends
	once    sync.Once
	result  error
}

// follow calls fn with every entry from offset from on, as ReadRuns
// describes, through server-side consumers, and returns fn's error, ctx's,
// or one that ends the read.
func (l *Log) follow(ctx context.Context, from uint64, fn func([]stream.Entry) error) error {
	f := &follower{
		l:        l,
		ctx:      ctx,
		fn:       fn,
		reqBytes: max(readRequestBytes, 2*int(l.nc.MaxPayload())),
		next:     from,
		replace:  make(chan replaceRequest, 1),
		done:     make(chan struct{}),
	}
	pause := followRetryMin
	told := false
	for failures := 0; !f.ended(); {
		cc, name, err := f.start()
		if err == nil {
			failures, pause, told = 0, followRetryMin, false
			why := f.wait()
			cc.Stop()
			f.stopConn()
			f.drop(name)
			if why == nil {
				break
			}
			l.log.Debug("log consumer replaced", "offset", f.position(), "why", why)
			continue
		}
		if end := f.fatal(err); end != nil {
			f.finish(end)
			break
		}
		failures++
		// The first failure of a series that is not the connection's
		// own is told; the others, and a lost connection (already
		// logged as such), only at debug level.
		level := slog.LevelDebug
		if !told && !errors.Is(err, errConnectionChanged) {
			level, told = slog.LevelInfo, true
		}
		l.log.Log(ctx, level, "log consumer not made; trying again", "offset", f.position(), "attempt", failures, "pause", pause, "err", err)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			f.finish(ctx.Err())
		case <-t.C:
		}
		t.Stop()
		pause = min(2*pause, followRetryMax)
	}
	// Wait for a callback in progress: fn is not called after follow
	// returns.
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.result
}

// start makes a consumer that starts at the next offset, checks that the
// stream is still the one Open found, and starts consuming. It returns
// the consumer's subscription and name.
func (f *follower) start() (cc jetstream.ConsumeContext, name string, err error) {
	l := f.l
	if err := l.awaitConnection(f.ctx); err != nil {
		return nil, "", err
	}
	f.mu.Lock()
	from := f.next
	f.mu.Unlock()
	f.conn, f.stopConn = l.whileConnected(f.ctx)
	defer func() {
		if err != nil {
			f.stopConn()
		}
	}()
	// A request sent as the connection goes down gets no reply: give up
	// on it then, rather than after the timeout.
	cctx, cancel := context.WithTimeout(f.conn, l.cfg.Timeout)
	defer cancel()
	cons, err := l.js.CreateConsumer(cctx, l.name, jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       from,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: readerInactive,
		MemoryStorage:     true,
		Replicas:          1,
	})
	if err != nil {
		if cause := context.Cause(cctx); errors.Is(cause, errConnectionChanged) {
			err = cause
		}
		return nil, "", fmt.Errorf("read from %d: %w", from, l.mapErr(err))
	}
	name = cons.CachedInfo().Name
	// The stream may have been deleted and created again: its offsets
	// would name another log's entries. A consumer made before that
	// would have gone with the old stream.
	if err := l.checkIdentity(cctx); err != nil {
		f.drop(name)
		return nil, "", fmt.Errorf("read from %d: %w", from, err)
	}
	f.mu.Lock()
	f.serial++
	serial := f.serial
	f.dseq = 0
	f.mu.Unlock()
	cc, err = cons.Consume(f.handler(serial), jetstream.PullMaxMessagesWithBytesLimit(readBatch, f.reqBytes),
		jetstream.PullHeartbeat(readHeartbeat), jetstream.ConsumeErrHandler(f.onError(serial)))
	if err != nil {
		f.drop(name)
		return nil, "", fmt.Errorf("read from %d: %w", from, l.mapErr(err))
	}
	return cc, name, nil
}

// fatal returns the error that ends following when making a consumer
// failed with err, or nil when another attempt may succeed: the server is
// starting or unreachable for now, or the stream is not found (a
// clustered server restoring it, or a stream deleted that may be made
// again, which the identity check then reports).
func (f *follower) fatal(err error) error {
	switch {
	case f.ctx.Err() != nil:
		return f.ctx.Err()
	case f.l.closed.Load() || f.l.nc.IsClosed() || errors.Is(err, stream.ErrClosed):
		return fmt.Errorf("read at %d: %w", f.position(), stream.ErrClosed)
	case errors.Is(err, stream.ErrReplaced):
		return err
	}
	return nil
}

// wait waits until following ends (it returns nil) or the current
// consumer must be replaced (it returns why).
func (f *follower) wait() error {
	l := f.l
	f.mu.Lock()
	serial := f.serial
	f.mu.Unlock()
	// A mirror's consumer outlives the stream it mirrors being deleted and
	// created again: the mirror goes on with the new log's entries.
	var originCheck <-chan time.Time
	if l.cfg.Mirror != "" {
		t := time.NewTicker(originCheckEvery)
		defer t.Stop()
		originCheck = t.C
	}
	for {
		select {
		case <-originCheck:
			if err := l.checkOrigin(f.conn); errors.Is(err, stream.ErrReplaced) {
				f.finish(fmt.Errorf("read at %d: %w", f.position(), err))
				return nil
			}
		case <-f.ctx.Done():
			f.finish(f.ctx.Err())
			return nil
		case <-f.done:
			return nil
		case req := <-f.replace:
			if req.serial == serial {
				return req.why
			}
		case <-f.conn.Done():
			if l.closed.Load() || l.nc.IsClosed() {
				f.finish(fmt.Errorf("read at %d: %w", f.position(), stream.ErrClosed))
				return nil
			}
			// Entries sent while the connection was down are lost, and
			// the server may have restarted without it.
			return context.Cause(f.conn)
		}
	}
}

// handler returns the callback of consumer serial: it hands each entry to
// fn, in order, and asks for the consumer to be replaced when a delivery
// was skipped.
func (f *follower) handler(serial int) jetstream.MessageHandler {
	return func(msg jetstream.Msg) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if serial != f.serial {
			return
		}
		if f.ended() {
			return
		}
		pos, ok := replyPosition(msg.Reply())
		switch {
		case !ok:
			f.finish(fmt.Errorf("read at %d: reply subject %q is not a JetStream acknowledgement", f.next, msg.Reply()))
			return
		case pos.delivered != f.dseq+1:
			// A message between was lost (say, dropped as a slow
			// consumer's): a new consumer starts at f.next.
			f.requestReplace(serial, fmt.Errorf("delivery %d after %d", pos.delivered, f.dseq))
			return
		case pos.seq > f.next:
			f.finish(fmt.Errorf("read at %d: next retained offset is %d: %w", f.next, pos.seq, stream.ErrTruncated))
			return
		case pos.seq < f.next:
			// A consumer starts at f.next and delivers in order: never
			// hand an entry over twice.
			f.finish(fmt.Errorf("read at %d: server sent offset %d again", f.next, pos.seq))
			return
		}
		f.dseq = pos.delivered
		data := msg.Data()
		obj, ok, err := f.l.objectData(f.ctx, f.next, msg.Headers())
		if err != nil {
			f.finish(err)
			return
		}
		if ok {
			data = obj
		}
		f.one[0] = stream.Entry{Offset: f.next, Data: data, Time: time.Unix(0, pos.time)}
		if err := f.fn(f.one[:]); err != nil {
			f.finish(err)
			return
		}
		f.next++
	}
}

// onError returns the error handler of consumer serial's subscription.
func (f *follower) onError(serial int) jetstream.ConsumeErrHandler {
	return func(_ jetstream.ConsumeContext, err error) {
		switch {
		case f.l.closed.Load() || errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, jetstream.ErrConnectionClosed):
			f.finish(fmt.Errorf("read at %d: %w (%w)", f.position(), stream.ErrClosed, err))
		case errors.Is(err, jetstream.ErrConsumerLeadershipChanged):
			// The subscription asks the new leader itself.
		default:
			// Missed heartbeats, a deleted consumer, a server shutting
			// down, nothing answering the pull: a new consumer.
			f.requestReplace(serial, err)
		}
	}
}

// replaceRequest asks for consumer serial to be replaced, and says why.
type replaceRequest struct {
	serial int
	why    error
}

// requestReplace asks for consumer serial to be replaced.
func (f *follower) requestReplace(serial int, why error) {
	req := replaceRequest{serial, why}
	select {
	case f.replace <- req:
	default:
		// A request is pending; wait drops those of older consumers.
		select {
		case <-f.replace:
		default:
		}
		select {
		case f.replace <- req:
		default:
		}
	}
}

// drop deletes a consumer that is no longer read, in the background: if
// that fails, the server removes it after readerInactive.
func (f *follower) drop(name string) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), f.l.cfg.Timeout)
		defer cancel()
		_ = f.l.js.DeleteConsumer(ctx, f.l.name, name)
	}()
}

// position returns the next offset to hand over.
func (f *follower) position() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.next
}

// ended reports whether following has ended.
func (f *follower) ended() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// finish ends following with err, the first time it is called.
func (f *follower) finish(err error) {
	f.once.Do(func() {
		f.result = err
		close(f.done)
	})
}
