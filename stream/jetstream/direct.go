package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ferrydb/ferry/stream"
)

// Catch-up reads. A reader far behind the log reads its backlog with
// JetStream's batched direct gets ($JS.API.DIRECT.GET.<stream> with
// "batch" and "no_hdr") before it follows the log through the ordered
// consumer: the server then sends each entry's body alone, without the
// acknowledgement subject a consumer's delivery carries and without the
// Nats-Expected-Last-Sequence fence header every entry is stored with,
// which nats.go would parse into a map per message. Measured on 2 cores,
// 1,000,000 one-command entries: 270k-340k entries/s through the
// consumer, 530k-800k/s this way.
//
// A batch carries no offsets: they are counted from the request's, and
// the reply's end-of-batch status names the last offset sent, which must
// be the count's. Anything else (a gap, no reply within the timeout,
// direct gets not allowed or not permitted, a follower of a clustered
// stream that is behind) ends the catch-up early, and the consumer reads
// on from the first entry not delivered, reporting what is wrong if
// anything is. Only a permissions violation turns catch-up reads off for
// good (for the Log). Entries read this way have no Time.
const (
	// directMin is how far behind a reader must be for a catch-up read.
	directMin = 1024
	// directBatch is the most entries one request asks for, and
	// directBytes the most bytes (the server sends at least one entry).
	directBatch = 4096
	directBytes = 4 << 20
	// directPoll is how often a reader waiting for a batch checks whether
	// the Log was closed or catch-up reads were turned off.
	directPoll = 50 * time.Millisecond
)

// directGetRequest is the body of a batched direct get.
type directGetRequest struct {
	Seq       uint64 `json:"seq"`
	Batch     int    `json:"batch"`
	MaxBytes  int    `json:"max_bytes"`
	NoHeaders bool   `json:"no_hdr"`
}

// directBatchReply is one direct get's reply: the bodies of the entries
// from offset from on, or why the reply cannot be used.
type directBatchReply struct {
	from uint64
	data [][]byte
	err  error
}

// readDirect calls fn with the entries from offset from to last, a batch
// at a time, and returns the offset after the last one it delivered. An
// error is fn's, ctx's or a closed Log's (stream.ErrClosed), or the
// failure to read a large entry's object; a catch-up that cannot go on
// returns a nil error and leaves the rest to the consumer.
func (l *Log) readDirect(ctx context.Context, from, last uint64, fn func([]stream.Entry) error) (uint64, error) {
	next := from
	if l.noDirect.Load() || last < from || last-from+1 < directMin {
		return next, nil
	}
	subject := directSubject(l.name)
	inbox := nats.NewInbox()
	replies := make(chan directBatchReply, 1)
	stop := make(chan struct{})
	defer close(stop)
	request := func(seq uint64) error {
		body, err := json.Marshal(directGetRequest{Seq: seq, Batch: int(min(directBatch, last-seq+1)), MaxBytes: directBytes, NoHeaders: true})
		if err != nil {
			return err
		}
		return l.nc.PublishRequest(subject, inbox, body)
	}
	deliver := func(r directBatchReply) bool {
		select {
		case replies <- r:
			return true
		case <-stop:
			return false
		}
	}
	// The callback collects a batch and, at its end-of-batch status,
	// asks for the next one before handing it over, so the server sends
	// while fn applies. At most four batches are held: one applied, one
	// handed over, one in the callback waiting to hand it over, and the
	// next one arriving.
	cur := directBatchReply{from: from}
	sub, err := l.nc.Subscribe(inbox, func(m *nats.Msg) {
		status := ""
		if m.Header != nil {
			status = m.Header.Get("Status")
		}
		if status == "" {
			cur.data = append(cur.data, m.Data)
			return
		}
		b := cur
		n := uint64(len(b.data))
		if status != "204" {
			deliver(directBatchReply{err: fmt.Errorf("direct get from %d: status %s %s", b.from, status, m.Header.Get("Description"))})
			return
		}
		lseq, err := strconv.ParseUint(m.Header.Get("Nats-Last-Sequence"), 10, 64)
		if err != nil || n == 0 || lseq != b.from+n-1 {
			deliver(directBatchReply{err: fmt.Errorf("direct get from %d: %d entries, the last one said to be %q", b.from, n, m.Header.Get("Nats-Last-Sequence"))})
			return
		}
		cur = directBatchReply{from: b.from + n}
		var rerr error
		if cur.from <= last {
			rerr = request(cur.from)
		}
		if deliver(b) && rerr != nil {
			deliver(directBatchReply{err: fmt.Errorf("direct get from %d: %w", cur.from, rerr)})
		}
	})
	if err != nil {
		return next, nil
	}
	defer sub.Unsubscribe()
	// Asking for one batch at a time bounds what waits in the
	// subscription; the library's limits would drop a batch of large
	// entries.
	sub.SetPendingLimits(-1, -1)
	if err := request(from); err != nil {
		return next, nil
	}
	var run []stream.Entry
	for next <= last {
		// Without a reply (no connection, a server that does not
		// answer) or with direct gets turned off, the consumer reads on.
		r, end, err := awaitReply(ctx, l, "read at", next, replies)
		if err != nil || end != batchesDone {
			return next, err
		}
		if r.err != nil || r.from != next {
			l.log.Debug("catch-up read ends early: reading through the consumer", "offset", next, "err", r.err)
			return next, nil
		}
		run = run[:0]
		var getErr error
		for i, data := range r.data {
			off := next + uint64(i)
			if len(data) == 0 {
				// A large entry: its message's headers, which no_hdr left
				// out, name the object that holds it.
				en, err := l.Get(ctx, off)
				if err != nil {
					getErr = fmt.Errorf("read at %d: %w", off, err)
					break
				}
				data = en.Data
			}
			run = append(run, stream.Entry{Offset: off, Data: data})
		}
		// The stream may have been deleted and created again since the
		// last batch: its entries would be another log's.
		if err := l.checkIdentity(ctx); errors.Is(err, stream.ErrReplaced) {
			return next, fmt.Errorf("read at %d: %w", next, err)
		} else if err != nil {
			l.log.Debug("catch-up read ends early: reading through the consumer", "offset", next, "err", err)
			return next, nil
		}
		if len(run) > 0 {
			l.directEntries.Add(int64(len(run)))
			if err := fn(run); err != nil {
				return next, err
			}
			next += uint64(len(run))
		}
		if getErr != nil {
			return next, getErr
		}
	}
	return next, nil
}

// directSubject is the subject of the direct gets of stream name.
func directSubject(name string) string { return "$JS.API.DIRECT.GET." + name }

// noteAsyncError turns catch-up reads off for good when the server says
// this user may not make direct gets on the log's stream.
func (l *Log) noteAsyncError(err error) {
	if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), directSubject(l.name)) && !l.noDirect.Swap(true) {
		l.log.Warn("direct gets not permitted: catch-up reads go through the consumer", "err", err)
	}
}
