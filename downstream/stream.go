package downstream

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ferrydb/ferry/internal/num"
	"github.com/ferrydb/ferry/internal/resp"
	"github.com/ferrydb/ferry/stream"
)

// The replication stream's fixed commands.
var (
	selectZero = []byte("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n")
	ping       = []byte("*1\r\n$4\r\nPING\r\n")
	getAck     = []byte("*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n")
)

// maxPieces bounds the pieces an outbox keeps for a replica that does not
// acknowledge: past it the oldest quarter is dropped. An acknowledgement
// of bytes before the oldest kept piece then credits nothing (never too
// much), and a replica that reconnects from there syncs in full.
const maxPieces = 1 << 17

// piece says where one piece of the replication stream (an entry, with the
// SELECT before it, or a PING or GETACK) ends: once the replica processed
// the stream up to byte end, it applied every log entry up to offset and
// has database db selected. entry is true for an entry's piece (it holds
// the entry at offset), false for the fixed commands and the RDB's place.
type piece struct {
	end    int64
	offset uint64
	db     int
	entry  bool
}

// outboxHigh is how many bytes of entries may wait for the replica: the
// log reader waits above it, so a slow replica slows its own reader and
// holds at most this much memory.
const outboxHigh = 4 << 20

// outbox carries entries from the log reader to the link's writer, and
// records the stream's pieces from the replica's last acknowledgement on:
// they map acknowledged bytes back to log offsets, and let a replica that
// reconnects continue from where it stopped (Server.resume).
type outbox struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	last   uint64 // offset of the last entry put
	db     int    // database selected after the last entry put
	closed bool
	ready  chan struct{} // signalled when buf gains bytes
	total  int64         // stream bytes put so far
	pieces []piece       // in order; the first one is at or before the last ack
}

// newOutbox returns an outbox whose stream starts after the pieces put
// before (at least one: the RDB's place, at byte 0, for a new link) and
// skip bytes of the next entry's piece, which the replica already has.
func newOutbox(pieces []piece, skip int64) *outbox {
	p := pieces[len(pieces)-1]
	o := &outbox{ready: make(chan struct{}, 1), pieces: pieces, total: p.end + skip, last: p.offset, db: p.db}
	o.cond = sync.NewCond(&o.mu)
	return o
}

// ack takes the replica's processed stream bytes and returns the last log
// offset they cover whole (0: none known), dropping the pieces before the
// one that covers it.
func (o *outbox) ack(processed int64) uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	i, found := slices.BinarySearchFunc(o.pieces, processed, func(p piece, n int64) int { return cmp.Compare(p.end, n) })
	if found {
		i++
	}
	if i == 0 {
		return 0
	}
	off := o.pieces[i-1].offset
	o.pieces = o.pieces[:copy(o.pieces, o.pieces[i-1:])]
	return off
}

// put appends the entry at offset, parts being the SELECT before it and
// its commands, and db the database it leaves selected; offset 0 is a
// fixed command (a PING or GETACK, put by the writer itself), which never
// waits: the writer is the one that empties the outbox. An entry waits
// while the replica is behind by more than outboxHigh. put reports false
// once the link closed.
func (o *outbox) put(offset uint64, db int, parts ...[]byte) bool {
	o.mu.Lock()
	for offset > 0 && len(o.buf) > outboxHigh && !o.closed {
		o.cond.Wait()
	}
	if o.closed {
		o.mu.Unlock()
		return false
	}
	for _, p := range parts {
		o.buf = append(o.buf, p...)
		o.total += int64(len(p))
	}
	if offset > 0 {
		o.last, o.db = offset, db
	}
	if len(o.pieces) >= maxPieces {
		o.pieces = o.pieces[:copy(o.pieces, o.pieces[maxPieces/4:])]
	}
	o.pieces = append(o.pieces, piece{end: o.total, offset: o.last, db: o.db, entry: offset > 0})
	o.mu.Unlock()
	select {
	case o.ready <- struct{}{}:
	default:
	}
	return true
}

// take returns what waits (into spare, which the caller gives back next
// time) and the offset of the last entry in it.
func (o *outbox) take(spare []byte) ([]byte, uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	b := o.buf
	o.buf = spare[:0]
	o.cond.Broadcast()
	return b, o.last
}

// close ends the outbox and returns a copy of its pieces (acknowledgements
// may still arrive and trim them), which a later link may continue from.
func (o *outbox) close() []piece {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	o.cond.Broadcast()
	return slices.Clone(o.pieces)
}

// resumeAt is where a stream starts: with the entry at offset from, the
// database db selected before it, and skip bytes of that entry's piece
// already sent (a replica that stopped inside an entry of several
// commands), after the pieces sent before.
type resumeAt struct {
	from   uint64
	db     int
	skip   int64
	pieces []piece
}

// resumePoint finds where a stream whose pieces are these continues for a
// replica that processed its first pos bytes: at the end of a piece, or
// inside an entry's piece. ok is false when pos is outside them.
func resumePoint(pieces []piece, pos int64) (resumeAt, bool) {
	i, found := slices.BinarySearchFunc(pieces, pos, func(p piece, n int64) int { return cmp.Compare(p.end, n) })
	if found {
		p := pieces[i]
		return resumeAt{from: p.offset + 1, db: p.db, pieces: pieces[:i+1]}, true
	}
	if i == 0 || i == len(pieces) || !pieces[i].entry {
		return resumeAt{}, false
	}
	p := pieces[i-1]
	return resumeAt{from: p.offset + 1, db: p.db, skip: pos - p.end, pieces: pieces[:i]}, true
}

// stream forwards the log's entries from at.from on, each as the RESP
// commands it holds, with a SELECT 0 before an entry when the one before
// it left another database selected: an entry is applied starting in
// database 0, while a Redis replica keeps the database its master
// selected. A PING goes out every PingPeriod. When the link ends for any
// reason but the log's, its pieces are kept for the replica to continue
// from.
func (l *link) stream(ctx context.Context, at resumeAt) error {
	ob := newOutbox(at.pieces, at.skip)
	l.ob.Store(ob)
	readCtx, stopRead := context.WithCancel(ctx)
	readErr := make(chan error, 1)
	go func() {
		db, skip := at.db, at.skip
		var args [][]byte
		next := at.from
		forward := func(en stream.Entry) error {
			if en.Offset != next {
				// The log promises no gaps and no repeats; never forward
				// out of order if it broke that promise.
				return linkError{fmt.Errorf("log entry %d where %d was expected", en.Offset, next)}
			}
			before := db
			var err error
			if db, args, err = endDB(en.Data, args); err != nil {
				return linkError{fmt.Errorf("log entry %d: %w", en.Offset, err)}
			}
			parts := [][]byte{selectBefore(before), en.Data}
			if skip > 0 {
				rest, err := entryTail(before, en.Data, skip)
				if err != nil {
					return linkError{fmt.Errorf("continue inside log entry %d: %w", en.Offset, err)}
				}
				parts, skip = [][]byte{rest}, 0
			}
			if !ob.put(en.Offset, db, parts...) {
				return linkError{errors.New("link closed")}
			}
			next++
			return nil
		}
		// A read that fails on the way (NATS unreachable, a timeout) is
		// resumed at the next offset, as a ferry replica does: the Redis
		// replica keeps its link instead of syncing in full again.
		for attempt := 1; ; attempt++ {
			start := next
			err := l.s.cfg.Log.Read(readCtx, next, forward)
			if next > start {
				attempt = 1
			}
			if readCtx.Err() != nil || !transient(err) {
				readErr <- err
				return
			}
			l.s.cfg.Logger.Warn("redis replica link: log read failed; retrying", "replica", l.addr, "next", next, "err", err)
			select {
			case <-readCtx.Done():
				readErr <- err
				return
			case <-time.After(min(time.Duration(attempt)*250*time.Millisecond, 5*time.Second)):
			}
		}
	}()
	logFailed := false
	defer func() {
		stopRead()
		pieces := ob.close()
		<-readErr
		if !logFailed {
			l.s.keep(l.replid, l.base.Load(), pieces)
		}
	}()

	t := time.NewTicker(l.s.cfg.PingPeriod)
	defer t.Stop()
	var buf []byte
	for {
		var rerr error
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-ob.ready:
		case <-t.C:
			ob.put(0, 0, ping)
			continue
		case <-l.getAck:
		case rerr = <-readErr:
			readErr <- rerr // for the deferred wait
		}
		var last uint64
		buf, last = ob.take(buf)
		if len(buf) > 0 {
			if err := l.write(buf); err != nil {
				return err
			}
			l.sent.Store(last)
		}
		if want := l.ackWant.Load(); want > 0 && l.sent.Load() >= want && l.ackWant.CompareAndSwap(want, 0) {
			ob.put(0, 0, getAck)
		}
		if rerr != nil {
			if ctx.Err() != nil {
				// The read ended because the link did (the replica went
				// away): not the log's failure.
				return context.Cause(ctx)
			}
			logFailed = true
			if errors.Is(rerr, stream.ErrTruncated) {
				return fmt.Errorf("the log no longer holds offset %d: %w", l.sent.Load()+1, rerr)
			}
			return fmt.Errorf("read the log: %w", rerr)
		}
	}
}

// selectBefore is what the stream sends before an entry when the one
// before it left database db selected.
func selectBefore(db int) []byte {
	if db != 0 {
		return selectZero
	}
	return nil
}

// entryTail returns an entry's piece of the stream (its SELECT, when the
// entry before it left database db selected, and its commands) after its
// first skip bytes: where a replica that stopped inside it continues.
func entryTail(db int, data []byte, skip int64) ([]byte, error) {
	return tail(append(slices.Clip(selectBefore(db)), data...), skip)
}

// tail returns b after its first n bytes, which must be whole commands.
func tail(b []byte, n int64) ([]byte, error) {
	if n <= 0 || n >= int64(len(b)) {
		return nil, fmt.Errorf("byte %d of %d", n, len(b))
	}
	if _, err := resp.ParseCommands(b[:n], nil, func([][]byte, []byte) error { return nil }); err != nil {
		return nil, fmt.Errorf("byte %d of %d is not between two commands", n, len(b))
	}
	return b[n:], nil
}

// linkError is an error of the link itself while it forwards entries:
// reading again would not help.
type linkError struct{ error }

func (e linkError) Unwrap() error { return e.error }

// transient reports whether a log read that ended with err may succeed if
// tried again at the same offset.
func transient(err error) bool {
	var le linkError
	switch {
	case err == nil, errors.As(err, &le):
		return false
	case errors.Is(err, stream.ErrTruncated), errors.Is(err, stream.ErrAhead),
		errors.Is(err, stream.ErrReplaced), errors.Is(err, stream.ErrClosed), errors.Is(err, stream.ErrNoLog):
		return false
	}
	return true
}

// endDB returns the database an entry leaves selected, counting from 0:
// the argument of its last SELECT. An entry that does not parse as RESP
// commands is an error.
func endDB(data []byte, args [][]byte) (int, [][]byte, error) {
	db := 0
	args, err := resp.ParseCommands(data, args[:0], func(a [][]byte, _ []byte) error {
		if len(a) == 2 && bytes.EqualFold(a[0], []byte("select")) {
			n, ok := num.ParseInt(a[1])
			if !ok || n < 0 {
				return fmt.Errorf("SELECT %q", a[1])
			}
			db = int(n)
		}
		return nil
	})
	if err != nil {
		return 0, args, fmt.Errorf("malformed entry: %w", err)
	}
	return db, args, nil
}
