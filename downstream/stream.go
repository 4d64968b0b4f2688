package downstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

// maxMarks bounds the marks an outbox keeps for a replica that does not
// acknowledge: past it the newest mark moves forward instead of a new one
// being added, which only delays credit, never gives too much.
const maxMarks = 1024

// mark says that once the replica processed the stream up to byte end, it
// applied every entry up to log offset offset.
type mark struct {
	end    int64
	offset uint64
}

// outboxHigh is how many bytes of entries may wait for the replica: the
// log reader waits above it, so a slow replica slows its own reader and
// holds at most this much memory.
const outboxHigh = 4 << 20

// outbox carries entries from the log reader to the link's writer, and
// maps the replica's acknowledged stream bytes back to log offsets.
type outbox struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	last   uint64 // offset of the last entry in buf
	closed bool
	ready  chan struct{} // signalled when buf gains bytes
	total  int64         // stream bytes put so far
	marks  []mark        // entries put and not yet acknowledged, in order
}

func newOutbox() *outbox {
	o := &outbox{ready: make(chan struct{}, 1)}
	o.cond = sync.NewCond(&o.mu)
	return o
}

// ack takes the replica's processed stream bytes and returns the last log
// offset they cover whole (0: none yet).
func (o *outbox) ack(processed int64) uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	var off uint64
	i := 0
	for ; i < len(o.marks) && o.marks[i].end <= processed; i++ {
		off = o.marks[i].offset
	}
	o.marks = o.marks[:copy(o.marks, o.marks[i:])]
	return off
}

// put appends an entry (and the SELECT before it), waiting while the
// replica is behind by more than outboxHigh; false once the link closed.
// Offset 0 (a PING, put by the writer itself) never waits: the writer is
// the one that empties the outbox.
func (o *outbox) put(offset uint64, parts ...[]byte) bool {
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
		o.last = offset
		m := mark{end: o.total, offset: offset}
		if len(o.marks) < maxMarks {
			o.marks = append(o.marks, m)
		} else {
			o.marks[len(o.marks)-1] = m
		}
	}
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

func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.cond.Broadcast()
	o.mu.Unlock()
}

// stream forwards the log's entries from offset from on, each as the RESP
// commands it holds, with a SELECT 0 before an entry when the one before
// it left another database selected: an entry is applied starting in
// database 0, while a Redis replica keeps the database its master
// selected. A PING goes out every PingPeriod.
func (l *link) stream(ctx context.Context, from uint64) error {
	ob := newOutbox()
	// The replica holds the RDB's offset once it acknowledges the
	// stream's first byte.
	ob.marks = append(ob.marks, mark{end: 0, offset: from - 1})
	l.ob.Store(ob)
	readCtx, stopRead := context.WithCancel(ctx)
	readErr := make(chan error, 1)
	go func() {
		db := 0
		var args [][]byte
		next := from
		forward := func(en stream.Entry) error {
			if en.Offset != next {
				// The log promises no gaps and no repeats; never forward
				// out of order if it broke that promise.
				return linkError{fmt.Errorf("log entry %d where %d was expected", en.Offset, next)}
			}
			var pre []byte
			if db != 0 {
				pre = selectZero
			}
			var err error
			if db, args, err = endDB(en.Data, args); err != nil {
				return linkError{fmt.Errorf("log entry %d: %w", en.Offset, err)}
			}
			if !ob.put(en.Offset, pre, en.Data) {
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
	defer func() {
		stopRead()
		ob.close()
		<-readErr
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
			ob.put(0, ping)
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
			ob.put(0, getAck)
		}
		if rerr != nil {
			if errors.Is(rerr, stream.ErrTruncated) {
				return fmt.Errorf("the log no longer holds offset %d: %w", l.sent.Load()+1, rerr)
			}
			return fmt.Errorf("read the log: %w", rerr)
		}
	}
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
		errors.Is(err, stream.ErrClosed), errors.Is(err, stream.ErrNoLog):
		return false
	}
	return true
}

// endDB returns the database an entry leaves selected, counting from 0:
// the argument of its last SELECT. An entry that does not parse as RESP
// commands is an error.
func endDB(data []byte, args [][]byte) (int, [][]byte, error) {
	db := 0
	args, err := resp.ParseCommands(data, args[:0], func(a [][]byte) error {
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
