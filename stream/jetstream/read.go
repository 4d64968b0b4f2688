package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ferrydb/ferry/stream"
)

// Pull sizes for Read. The client keeps up to readBatch entries requested
// from the server, asking for more at half, each request at most
// readRequestBytes. Measured on 2 cores, 1,000,000 64-byte entries: the
// library's default of 500 catches up at ~300k entries/s, 2,000 to 3,000 at
// ~450k-550k/s, more than that no faster (and noisier). The byte limit keeps
// a run of large entries from piling up; it is raised to twice the server's
// max_payload so a single entry always fits (a pull request smaller than an
// entry would stall).
const (
	readBatch        = 3000
	readRequestBytes = 8 << 20
)

// readHeartbeat is how often the server tells a reader with nothing to
// deliver that its pull is alive; two missed make the ordered consumer
// re-create itself, say on another server of a cluster. The library's 5 s
// made a replica whose server went away wait ~9.5 s before it read again
// (half of e2e's TestClusterStreamLeaderLoss runs); 1 s costs a message a
// second per idle reader.
const readHeartbeat = time.Second

// readerInactive is how long the server keeps a reader's consumer after the
// reader went away without deleting it (the ordered consumer re-creates it
// if the reader was only disconnected).
const readerInactive = time.Minute

// Read calls fn with every entry from offset from on, in order, then follows
// new entries until ctx ends or fn returns an error, and returns that error.
// from 0 is read as 1.
//
// Read checks the log's range first: below the first retained offset it
// returns stream.ErrTruncated, past Last+1 stream.ErrAhead, both before
// calling fn. Each delivered offset is the one after the last; if the next
// offset turns out to be gone (retention overtook the reader), Read returns
// stream.ErrTruncated. Read checks that the stream is still the one Open
// found (its creation time) when it starts, before each catch-up batch and
// before the first entry of every server-side consumer the ordered
// consumer makes; a stream deleted and created again under it ends Read
// with stream.ErrReplaced. Lost connections and server restarts are not errors:
// the ordered consumer underneath is re-created after the last delivered
// offset. Read returns stream.ErrClosed when the Log is closed. A reader
// more than directMin entries behind reads the backlog in batches of
// direct gets first (direct.go); those entries have no Time.
func (l *Log) Read(ctx context.Context, from uint64, fn func(stream.Entry) error) error {
	return l.ReadRuns(ctx, from, func(run []stream.Entry) error {
		for _, en := range run {
			if err := fn(en); err != nil {
				return err
			}
		}
		return nil
	})
}

var _ stream.RunReader = (*Log)(nil)

// ReadRuns is Read with fn called for runs of entries: a catch-up read
// hands over each batch it got (up to directBatch entries), the consumer
// one entry at a time.
func (l *Log) ReadRuns(ctx context.Context, from uint64, fn func([]stream.Entry) error) error {
	if from == 0 {
		from = 1
	}
	first, last, err := l.Range(ctx)
	if err != nil {
		return fmt.Errorf("read from %d: %w", from, err)
	}
	if from < first {
		return fmt.Errorf("read from %d: first retained offset is %d: %w", from, first, stream.ErrTruncated)
	}
	if from > last+1 {
		return fmt.Errorf("read from %d: last offset is %d: %w", from, last, stream.ErrAhead)
	}
	if from, err = l.readDirect(ctx, from, last, fn); err != nil {
		return err
	}
	// A catch-up read that ended with the connection lost leaves the
	// consumer to be made once it is back: a lost connection is not an
	// error of Read's.
	if err := l.awaitConnection(ctx); err != nil {
		return fmt.Errorf("read from %d: %w", from, err)
	}

	cons, err := l.js.OrderedConsumer(ctx, l.name, jetstream.OrderedConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       from,
		InactiveThreshold: readerInactive,
	})
	if err != nil {
		return fmt.Errorf("read from %d: %w", from, l.mapErr(err))
	}
	reqBytes := max(readRequestBytes, 2*int(l.nc.MaxPayload()))

	// Entries arrive through a callback rather than the Messages iterator:
	// the iterator's hand-over between goroutines cost ~20% of a catch-up
	// (one entry per message). The ordered consumer may run a new
	// subscription's callback while the old one's is still in fn, so the
	// callback holds mu; after done is closed fn is never called again.
	var (
		mu   sync.Mutex
		one  [1]stream.Entry // the run handed to fn, under mu
		next = from
		// consumer is the name of the server-side consumer the last
		// entry came through, under mu.
		consumer string
		done     = make(chan struct{})
		once     sync.Once
		result   error
	)
	finish := func(err error) {
		once.Do(func() {
			result = err
			close(done)
		})
	}
	handle := func(msg jetstream.Msg) {
		mu.Lock()
		defer mu.Unlock()
		select {
		case <-done:
			return
		default:
		}
		name, off, ts, ok := replyPosition(msg.Reply())
		switch {
		case !ok:
			finish(fmt.Errorf("read at %d: reply subject %q is not a JetStream acknowledgement", next, msg.Reply()))
			return
		case name != consumer:
			// The first entry of a consumer the ordered consumer made
			// (at the start, or again after a reconnect, lost
			// heartbeats or a deleted consumer): the stream it reads
			// may be a new one of the same name, whose offsets name
			// other entries. Ask once per consumer.
			if err := l.checkIdentity(ctx); err != nil {
				finish(fmt.Errorf("read at %d: %w", next, err))
				return
			}
			consumer = name
		}
		switch {
		case off > next:
			finish(fmt.Errorf("read at %d: next retained offset is %d: %w", next, off, stream.ErrTruncated))
			return
		case off < next:
			// The ordered consumer resumes after the last offset it
			// handed out, so this would be a library bug; never deliver
			// an entry twice.
			finish(fmt.Errorf("read at %d: server sent offset %d again", next, off))
			return
		}
		data := msg.Data()
		obj, ok, err := l.objectData(ctx, next, msg.Headers())
		if err != nil {
			finish(err)
			return
		}
		if ok {
			data = obj
		}
		one[0] = stream.Entry{Offset: next, Data: data, Time: time.Unix(0, ts)}
		if err := fn(one[:]); err != nil {
			finish(err)
			return
		}
		next++
	}
	onErr := func(_ jetstream.ConsumeContext, err error) {
		// The ordered consumer re-creates itself after lost heartbeats,
		// reconnects and deleted consumers; a closed connection ends it.
		switch {
		case l.closed.Load() || errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, jetstream.ErrConnectionClosed):
			finish(fmt.Errorf("read: %w (%w)", stream.ErrClosed, err))
		case errors.Is(err, jetstream.ErrStreamNotFound):
			finish(fmt.Errorf("read: %w", err))
		}
	}
	cc, err := cons.Consume(handle, jetstream.PullMaxMessagesWithBytesLimit(readBatch, reqBytes),
		jetstream.PullHeartbeat(readHeartbeat), jetstream.ConsumeErrHandler(onErr))
	if err != nil {
		return fmt.Errorf("read from %d: %w", from, l.mapErr(err))
	}
	select {
	case <-ctx.Done():
		finish(ctx.Err())
	case <-done:
	}
	cc.Stop()
	// Wait for a callback in progress: fn is not called after Read returns.
	mu.Lock()
	defer mu.Unlock()
	return result
}

// replyPosition reads the consumer name, stream sequence and timestamp
// (ns) from a JetStream message's acknowledgement subject, without
// allocating: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>,
// or the form with <domain>.<account hash> after $JS.ACK and a token at
// the end (12 tokens or more).
func replyPosition(reply string) (consumer string, seq uint64, ts int64, ok bool) {
	var tok [12]string
	n := 0
	for start, i := 0, 0; i <= len(reply); i++ {
		if i == len(reply) || reply[i] == '.' {
			if n < len(tok) {
				tok[n] = reply[start:i]
			}
			n++
			start = i + 1
		}
	}
	var seqTok, tsTok string
	switch {
	case n == 9:
		consumer, seqTok, tsTok = tok[3], tok[5], tok[7]
	case n >= 12:
		consumer, seqTok, tsTok = tok[5], tok[7], tok[9]
	default:
		return "", 0, 0, false
	}
	if tok[0] != "$JS" || tok[1] != "ACK" {
		return "", 0, 0, false
	}
	seq, err := strconv.ParseUint(seqTok, 10, 64)
	if err != nil {
		return "", 0, 0, false
	}
	ts, err = strconv.ParseInt(tsTok, 10, 64)
	if err != nil {
		return "", 0, 0, false
	}
	return consumer, seq, ts, true
}

// awaitConnection returns once the connection to NATS is up, or with
// stream.ErrClosed or ctx's error.
func (l *Log) awaitConnection(ctx context.Context) error {
	for !l.nc.IsConnected() {
		if l.closed.Load() || l.nc.IsClosed() {
			return stream.ErrClosed
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(directPoll):
		}
	}
	return nil
}
