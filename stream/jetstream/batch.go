package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ferrydb/ferry/stream"
)

// Batched gets. GetEntries reads a range of offsets as Get reads one, but
// with JetStream's batched direct gets ($JS.API.DIRECT.GET.<stream> with
// "batch", headers included): up to directBatch entries and directBytes
// bytes per request, the next request sent before the last batch is
// handed over. What nats-server sends for such a request (v2.15.2,
// stream.go, getDirectRequest):
//
//   - each stored message from "seq" on, in order, stepping over deleted
//     ones, with its stored headers and Nats-Sequence, Nats-Time-Stamp
//     (RFC 3339, UTC), Nats-Num-Pending and Nats-Last-Sequence (the
//     sequence of the message sent before it in the batch, 0 for the
//     first) added. A request below the first retained sequence starts at
//     the first one;
//   - then, when at least one message was sent, a "204 EOB" status whose
//     Nats-Last-Sequence is the last message's sequence: after "batch"
//     messages, after "max_bytes" (stored bytes, so at least one message),
//     or at the last message the answering server has;
//   - or, when it has no message at or after "seq", "404 Message Not
//     Found" alone.
//
// A hole in the log (an entry deleted from the middle) is thus a jump in
// Nats-Sequence. One followed by a message in the same reply is real: the
// server that answered holds that message, and a stream's replicas (or a
// mirror) store messages in order, so it holds everything before it that
// exists. An offset past the last message a reply holds may be one that a
// follower of a clustered stream has not stored yet; those are asked for
// with Get, which waits for a lagging follower, and batches resume after
// the first.
//
// Anything that keeps batches from going on is handled as readDirect
// handles it, but the fallback is Get: a stream that does not allow
// direct gets (no responders) or a user who may not make them (l.noDirect)
// reads the rest with Get, one entry per request. After a batch that gets
// no reply within the timeout, is lost with the connection or cannot be
// used, batches are asked for again; a second such stall in a row that
// handed nothing over leaves the rest to Get.

// batchMsg is one message of a batch.
type batchMsg struct {
	seq  uint64
	time time.Time
	data []byte
	// hdr is kept for a message with an empty body only: it may name the
	// object that holds a large entry.
	hdr nats.Header
}

// batchReply is one batched direct get's reply: the messages the server
// sent from offset from on, or why the reply cannot be used.
type batchReply struct {
	from uint64
	msgs []batchMsg
	// tail means the answering server had no message at or after from.
	tail bool
	err  error
}

// batchEnd says why getBatches stopped without an error.
type batchEnd int

const (
	// batchesDone: every offset up to to was handed over.
	batchesDone batchEnd = iota
	// batchesTail: the server that answered had no message at or after
	// the offset returned, which is not past to.
	batchesTail
	// batchesStalled: a reply did not come, or could not be used.
	batchesStalled
	// batchesUnusable: direct gets are not allowed or not permitted.
	batchesUnusable
)

// errNoResponders is a batch's reply when nothing answers direct gets:
// the stream does not allow them.
var errNoResponders = errors.New("no responders: the stream does not allow direct gets")

// GetEntries calls fn for every offset from from to to, in order, as Get
// would return them one by one, but reading them in batches: en has its
// Offset, Data and Time, and large entries are read from their objects.
// An offset inside the log's range without an entry (deleted from the
// middle of the stream by hand, or a large entry whose object is gone) is
// handed to fn too, with only its Offset set and a non-nil missing error
// that says so (it wraps stream.ErrTruncated, worded as Get's); reading
// goes on after it.
//
// GetEntries returns fn's error, or ctx's, or stream.ErrClosed, or
// stream.ErrTruncated once it meets an offset below the log's first one
// (from is, or retention removed entries before GetEntries reached them),
// stream.ErrAhead for an offset past the last, stream.ErrReplaced if the
// stream was deleted and created again (checked before each batch is
// handed over). Those errors name the offset they stopped at. from 0 is
// read as 1; to below from reads nothing.
func (l *Log) GetEntries(ctx context.Context, from, to uint64, fn func(en stream.Entry, missing error) error) error {
	if from == 0 {
		from = 1
	}
	next, stalls := from, 0
	for next <= to {
		if l.noDirect.Load() {
			return l.getEach(ctx, next, to, fn)
		}
		n, end, err := l.getBatches(ctx, next, to, fn)
		if n > next {
			stalls = 0
		}
		next = n
		switch {
		case err != nil:
			return err
		case end == batchesDone:
			return nil
		case end == batchesTail:
			// Perhaps a follower that is behind: Get waits for it.
			if err := l.getEach(ctx, next, next, fn); err != nil {
				return err
			}
			next++
		case end == batchesUnusable:
			return l.getEach(ctx, next, to, fn)
		case end == batchesStalled:
			// Again, unless this is the second stall in a row and
			// nothing was handed over since the first.
			if stalls++; stalls == 2 {
				return l.getEach(ctx, next, to, fn)
			}
		}
	}
	return nil
}

// getEach is GetEntries with one Get per offset, from from to to, checking
// the stream's identity before every directBatch of them.
func (l *Log) getEach(ctx context.Context, from, to uint64, fn func(stream.Entry, error) error) error {
	for off := from; ; off++ {
		if (off-from)%directBatch == 0 {
			if err := l.checkIdentity(ctx); err != nil {
				return fmt.Errorf("get %d: %w", off, err)
			}
		}
		en, err := l.Get(ctx, off)
		if errors.Is(err, stream.ErrTruncated) {
			// Removed from the middle, or by retention: only the first
			// ends the read.
			if first, ferr := l.First(ctx); ferr == nil && off >= first {
				err = fn(stream.Entry{Offset: off}, err)
			}
		} else if err == nil {
			err = fn(en, nil)
		}
		if err != nil || off == to { // to may be the largest offset there is
			return err
		}
	}
}

// getBatches hands fn the offsets from from to to with batched direct
// gets, until they are all handed over or a batch cannot be had, and
// returns the offset after the last one handed over and why it stopped.
// An error is fn's, ctx's, a closed Log's, or one that ends GetEntries
// (the range, the stream's identity, a large entry's object).
func (l *Log) getBatches(ctx context.Context, from, to uint64, fn func(stream.Entry, error) error) (uint64, batchEnd, error) {
	next := from
	replies := make(chan batchReply, 1)
	stop := make(chan struct{})
	defer close(stop)
	deliver := func(r batchReply) bool {
		select {
		case replies <- r:
			return true
		case <-stop:
			return false
		}
	}
	sub, err := l.subscribeBatches(from, to, deliver)
	if err != nil {
		l.log.Debug("batched gets: no subscription", "offset", next, "err", err)
		return next, batchesStalled, nil
	}
	defer sub.Unsubscribe()
	for next <= to {
		r, end, err := awaitReply(ctx, l, "get", next, replies)
		if err != nil || end != batchesDone {
			return next, end, err
		}
		switch {
		case errors.Is(r.err, errNoResponders):
			return next, batchesUnusable, nil
		case r.err != nil || r.from != next:
			l.log.Debug("batched gets: reply not usable", "offset", next, "from", r.from, "err", r.err)
			return next, batchesStalled, nil
		}
		if next, err = l.handOver(ctx, next, to, r, fn); err != nil {
			return next, batchesDone, err
		}
		if r.tail && next <= to {
			return next, batchesTail, nil
		}
	}
	return next, batchesDone, nil
}

// subscribeBatches subscribes to the replies of batched direct gets of
// the offsets from from to to, and asks for the first batch. Its callback
// collects each batch and, at its end-of-batch status, asks for the next
// one before handing it to deliver, so the server sends while the last
// batch is handed over; at most four are held (one handed over, one
// waiting in the channel, one in the callback, the next one arriving).
func (l *Log) subscribeBatches(from, to uint64, deliver func(batchReply) bool) (*nats.Subscription, error) {
	subject, inbox := directSubject(l.name), nats.NewInbox()
	request := func(seq uint64) error {
		body, err := json.Marshal(directGetRequest{Seq: seq, Batch: int(min(directBatch, to-seq+1)), MaxBytes: directBytes})
		if err != nil {
			return err
		}
		return l.nc.PublishRequest(subject, inbox, body)
	}
	cur := batchReply{from: from}
	sub, err := l.nc.Subscribe(inbox, func(m *nats.Msg) {
		switch status := m.Header.Get("Status"); status {
		case "":
			if cur.err == nil {
				cur.err = cur.add(m)
			}
		case "204":
			b := cur
			if b.err == nil {
				b.err = b.checkEnd(m.Header)
			}
			if b.err != nil {
				deliver(b)
				return
			}
			lseq := b.msgs[len(b.msgs)-1].seq
			cur = batchReply{from: lseq + 1}
			var rerr error
			if lseq < to {
				rerr = request(lseq + 1)
			}
			if deliver(b) && rerr != nil {
				deliver(batchReply{err: fmt.Errorf("direct get from %d: %w", lseq+1, rerr)})
			}
		case "404":
			b := cur
			b.tail = true
			if len(b.msgs) > 0 {
				b.err = fmt.Errorf("direct get from %d: not found after %d messages", b.from, len(b.msgs))
			}
			deliver(b)
		case "503":
			deliver(batchReply{from: cur.from, err: errNoResponders})
		default:
			deliver(batchReply{from: cur.from, err: fmt.Errorf("direct get from %d: status %s %s", cur.from, status, m.Header.Get("Description"))})
		}
	})
	if err != nil {
		return nil, err
	}
	// One batch at a time bounds what waits in the subscription; the
	// library's limits would drop a batch of large entries.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		sub.Unsubscribe()
		return nil, err
	}
	if err := request(from); err != nil {
		sub.Unsubscribe()
		return nil, err
	}
	return sub, nil
}

// add appends a batch's message, with the offset and time its headers
// give; the offsets must grow.
func (b *batchReply) add(m *nats.Msg) error {
	seq, err := strconv.ParseUint(m.Header.Get("Nats-Sequence"), 10, 64)
	if err != nil {
		return fmt.Errorf("direct get from %d: message %d has Nats-Sequence %q", b.from, len(b.msgs), m.Header.Get("Nats-Sequence"))
	}
	if n := len(b.msgs); seq < b.from || (n > 0 && seq <= b.msgs[n-1].seq) {
		return fmt.Errorf("direct get from %d: message %d has offset %d, not after the last", b.from, n, seq)
	}
	ts, err := time.Parse(time.RFC3339Nano, m.Header.Get("Nats-Time-Stamp"))
	if err != nil {
		return fmt.Errorf("direct get from %d: offset %d: time stamp: %w", b.from, seq, err)
	}
	bm := batchMsg{seq: seq, time: ts, data: m.Data}
	if len(m.Data) == 0 {
		bm.hdr = m.Header
	}
	b.msgs = append(b.msgs, bm)
	return nil
}

// checkEnd checks a batch's end-of-batch status headers: the last offset
// it names must be its last message's.
func (b *batchReply) checkEnd(h nats.Header) error {
	lseq, err := strconv.ParseUint(h.Get("Nats-Last-Sequence"), 10, 64)
	if n := len(b.msgs); err != nil || n == 0 || lseq != b.msgs[n-1].seq {
		return fmt.Errorf("direct get from %d: %d messages, the last one said to be %q", b.from, n, h.Get("Nats-Last-Sequence"))
	}
	return nil
}

// awaitReply waits for the reply of the batched direct get from offset
// next, made for op ("read", "get"). end is batchesDone when it has one,
// else why it stopped waiting: batchesUnusable once direct gets were
// turned off for the Log, batchesStalled when no reply came within the
// timeout (counted while connected) or the connection was made again (the
// request may have been lost with it).
func awaitReply[R any](ctx context.Context, l *Log, op string, next uint64, replies <-chan R) (R, batchEnd, error) {
	var none R
	poll := time.NewTicker(directPoll)
	defer poll.Stop()
	reconnects := l.nc.Stats().Reconnects
	deadline := time.Now().Add(l.cfg.Timeout)
	for {
		select {
		case <-ctx.Done():
			return none, batchesDone, ctx.Err()
		case r := <-replies:
			if l.closed.Load() {
				return none, batchesDone, fmt.Errorf("%s %d: %w", op, next, stream.ErrClosed)
			}
			return r, batchesDone, nil
		case <-poll.C:
			switch {
			case l.closed.Load():
				return none, batchesDone, fmt.Errorf("%s %d: %w", op, next, stream.ErrClosed)
			case l.noDirect.Load():
				return none, batchesUnusable, nil
			case !l.nc.IsConnected():
				// Wait for the connection rather than for the batch.
				deadline = time.Now().Add(l.cfg.Timeout)
			case l.nc.Stats().Reconnects != reconnects:
				return none, batchesStalled, nil
			case time.Now().After(deadline):
				l.log.Info("batched direct get got no reply", "op", op, "offset", next, "timeout", l.cfg.Timeout)
				return none, batchesStalled, nil
			}
		}
	}
}

// handOver checks the stream's identity and range, then hands fn the
// offsets from next to to that batch r covers, and returns the offset
// after the last one handed over.
func (l *Log) handOver(ctx context.Context, next, to uint64, r batchReply, fn func(stream.Entry, error) error) (uint64, error) {
	// The stream may have been deleted and created again since the last
	// batch: its entries would be another log's. Its first offset tells
	// holes from entries retention removed.
	first, _, err := l.Range(ctx)
	if err != nil {
		return next, fmt.Errorf("get %d: %w", next, err)
	}
	for _, m := range r.msgs {
		if m.seq > next {
			if err := l.holes(next, min(m.seq-1, to), first, fn); err != nil {
				return next, err
			}
			next = min(m.seq, to+1)
		}
		if m.seq > to {
			break
		}
		en := stream.Entry{Offset: m.seq, Data: m.data, Time: m.time}
		var missing error
		if m.hdr != nil {
			obj, ok, err := l.objectData(ctx, m.seq, m.hdr)
			switch {
			case errors.Is(err, stream.ErrTruncated) && m.seq >= first:
				// Its object is gone: as Get's reader reports it.
				en, missing = stream.Entry{Offset: m.seq}, err
			case err != nil:
				return next, err
			case ok:
				en.Data = obj
			}
		}
		if err := fn(en, missing); err != nil {
			return next, err
		}
		next = m.seq + 1
	}
	return next, nil
}

// holes hands fn the offsets from a to b, which a batch stepped over
// although it holds a later message: deleted from the middle of the log,
// unless retention has removed them (a below the log's first offset).
func (l *Log) holes(a, b, first uint64, fn func(stream.Entry, error) error) error {
	if a < first {
		return fmt.Errorf("get %d: first retained offset is %d: %w", a, first, stream.ErrTruncated)
	}
	for off := a; off <= b; off++ {
		if err := fn(stream.Entry{Offset: off}, fmt.Errorf("get %d: removed from the middle of the log: %w", off, stream.ErrTruncated)); err != nil {
			return err
		}
	}
	return nil
}
