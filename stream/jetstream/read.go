package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

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
// deliver that its pull is alive; two missed make the reader replace its
// consumer (follow.go), say on another server of a cluster. The library's 5 s
// made a replica whose server went away wait ~9.5 s before it read again
// (half of e2e's TestClusterStreamLeaderLoss runs); 1 s costs a message a
// second per idle reader.
const readHeartbeat = time.Second

// readerInactive is how long the server keeps a reader's consumer after the
// reader went away without deleting it (a reader that was only
// disconnected makes a new one, follow.go).
const readerInactive = time.Minute

// originCheckEvery is how often a reader of a mirror checks that the
// stream it mirrors is still the one Open found (checkOrigin): after it is
// deleted and created again, a follower may hand over the new log's
// entries for that long before it stops.
const originCheckEvery = time.Second

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
// after making each server-side consumer it follows the log through; a
// stream deleted and created again under it ends Read with
// stream.ErrReplaced. Lost connections and server restarts are not errors:
// a new consumer starts after the last delivered offset (follow.go). Read returns stream.ErrClosed when the Log is closed. A reader
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
	return l.follow(ctx, from, fn)
}

// replyPos is where a delivered message stands: its stream sequence (the
// entry's offset), its consumer's delivery sequence and the time it was
// stored (ns).
type replyPos struct {
	seq, delivered uint64
	time           int64
}

// replyPosition reads a JetStream message's position from its
// acknowledgement subject, without allocating:
// $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>,
// or the form with <domain>.<account hash> after $JS.ACK and a token at
// the end (12 tokens or more).
func replyPosition(reply string) (replyPos, bool) {
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
	var at int // the index of <sseq>
	switch {
	case n == 9:
		at = 5
	case n >= 12:
		at = 7
	default:
		return replyPos{}, false
	}
	if tok[0] != "$JS" || tok[1] != "ACK" {
		return replyPos{}, false
	}
	seq, err1 := strconv.ParseUint(tok[at], 10, 64)
	dseq, err2 := strconv.ParseUint(tok[at+1], 10, 64)
	ts, err3 := strconv.ParseInt(tok[at+2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return replyPos{}, false
	}
	return replyPos{seq: seq, delivered: dseq, time: ts}, true
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

// errConnectionChanged is the cause of a whileConnected context's end when
// the connection went down or was made again.
var errConnectionChanged = errors.New("the connection to NATS went down or was made again")

// whileConnected returns a context that ends with ctx, or once the
// connection to NATS goes down or is made again (its cause is then
// errConnectionChanged): a request sent on a connection that is then lost
// gets no reply, and a consumer loses what was sent meanwhile.
func (l *Log) whileConnected(ctx context.Context) (context.Context, context.CancelFunc) {
	cctx, cancel := context.WithCancelCause(ctx)
	reconnects := l.nc.Stats().Reconnects
	go func() {
		poll := time.NewTicker(directPoll)
		defer poll.Stop()
		for {
			select {
			case <-cctx.Done():
				return
			case <-poll.C:
				if !l.nc.IsConnected() || l.nc.Stats().Reconnects != reconnects {
					cancel(errConnectionChanged)
					return
				}
			}
		}
	}()
	return cctx, func() { cancel(nil) }
}
