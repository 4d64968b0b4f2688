package jetstream

import (
	"context"
	"errors"
	"fmt"
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
// stream.ErrTruncated. Lost connections and server restarts are not errors:
// the ordered consumer underneath is re-created after the last delivered
// offset. Read returns stream.ErrClosed when the Log is closed.
func (l *Log) Read(ctx context.Context, from uint64, fn func(stream.Entry) error) error {
	if from == 0 {
		from = 1
	}
	first, last, err := l.state(ctx)
	if err != nil {
		return fmt.Errorf("read from %d: %w", from, err)
	}
	if from < first {
		return fmt.Errorf("read from %d: first retained offset is %d: %w", from, first, stream.ErrTruncated)
	}
	if from > last+1 {
		return fmt.Errorf("read from %d: last offset is %d: %w", from, last, stream.ErrAhead)
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
	it, err := cons.Messages(jetstream.PullMaxMessagesWithBytesLimit(readBatch, reqBytes))
	if err != nil {
		return fmt.Errorf("read from %d: %w", from, l.mapErr(err))
	}
	// Stop also cancels the consumer's reconnect backoff, which ctx alone
	// does not reach.
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()

	next := from
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if l.closed.Load() || errors.Is(err, nats.ErrConnectionClosed) {
				return fmt.Errorf("read at %d: %w", next, stream.ErrClosed)
			}
			return fmt.Errorf("read at %d: %w", next, l.mapErr(err))
		}
		md, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("read at %d: %w", next, err)
		}
		switch off := md.Sequence.Stream; {
		case off > next:
			return fmt.Errorf("read at %d: next retained offset is %d: %w", next, off, stream.ErrTruncated)
		case off < next:
			// The ordered consumer resumes after the last offset it
			// handed out, so this would be a library bug; never deliver
			// an entry twice.
			return fmt.Errorf("read at %d: server sent offset %d again", next, off)
		}
		if err := fn(stream.Entry{Offset: next, Data: msg.Data(), Time: md.Timestamp}); err != nil {
			return err
		}
		next++
	}
}
