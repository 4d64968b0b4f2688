// Package stream holds ferry's replication log as domain types: an Entry
// numbered by its offset, the errors every log backend reports, and the small
// interfaces the master (Writer) and the replicas (Reader) consume.
//
// Offsets are the log's own sequence numbers: the first entry ever appended is
// offset 1, and offset 0 means "nothing yet" (an empty log, or a snapshot taken
// before the first write). A reader that loaded a snapshot at offset N resumes
// at N+1. Offsets only grow; entries are removed from the front by retention,
// never from the middle.
//
// The backend lives in a subpackage named after what it adapts
// (stream/jetstream); this package imports no SDK.
package stream

import (
	"context"
	"errors"
	"time"
)

// Entry is one message of the log: the effects of one or more whole commands,
// encoded as RESP, at one offset.
type Entry struct {
	// Offset is the entry's position in the log, starting at 1.
	Offset uint64
	// Data is the message body. It belongs to the receiver.
	Data []byte
	// Time is when the log stored the entry (the backend's clock), zero
	// when the read did not say: ferry's JetStream log reads a backlog in
	// bulk without it.
	Time time.Time
}

var (
	// ErrTruncated means the requested position is gone from the log: it is
	// below the first entry retention kept (or entries after it were
	// removed). A replica that gets it must load a newer snapshot, then
	// resume after that snapshot's offset. Like etcd-raft's ErrCompacted.
	ErrTruncated = errors.New("stream: offset no longer in the log")

	// ErrFenced means an append's expected-last-offset check failed: the log
	// does not end where the writer believed. Either another writer appended
	// (a second or stale master), or this writer lost its place (an earlier
	// append whose outcome it did not learn did land, or one it pipelined
	// before this one failed). Nothing was appended. A master that gets it
	// stops taking writes until it has re-read the log.
	ErrFenced = errors.New("stream: fenced: the log's last offset is not the expected one")

	// ErrAhead means the requested position is past the end of the log:
	// the reader has seen entries the log no longer has, so the log was
	// deleted and recreated, or restored from an older copy. It is never
	// "wait for more": a replica that gets it must not serve as if nothing
	// happened, and a master must not write on top of it.
	ErrAhead = errors.New("stream: offset past the end of the log")

	// ErrReplaced means the dataset's log is no longer the one the reader
	// or writer opened: it was deleted and created again, so its offsets
	// name other entries (a new log counts from 1 again). It is permanent
	// for that reader: carrying on from its offset would apply another
	// log's entries on top of this one's, as Redis would if a replica
	// continued a stream whose replication ID changed. Reopen the log
	// (restart the node) to start over from a snapshot.
	ErrReplaced = errors.New("stream: the log was deleted and created again")

	// ErrClosed means the log was closed by its owner.
	ErrClosed = errors.New("stream: closed")

	// ErrNoLog means the dataset has no log at all (a reader that may not
	// create one found none): nothing was ever written to it.
	ErrNoLog = errors.New("stream: the dataset has no log")
)

// RunReader is implemented by logs that can hand a reader several entries
// at once when they have them together (a catch-up read of a backlog).
// Readers prefer it to Read, so a wrapper of a log that changes Read must
// change ReadRuns too.
type RunReader interface {
	// ReadRuns is Reader.Read with fn called for runs of one or more
	// consecutive entries, in order. fn may keep the entries' Data, not
	// the slice.
	ReadRuns(ctx context.Context, from uint64, fn func([]Entry) error) error
}

// ReadRuns reads lg from offset from in runs: with lg's own ReadRuns when
// it is a RunReader, else with Read, one entry per run.
func ReadRuns(ctx context.Context, lg Reader, from uint64, fn func([]Entry) error) error {
	if rr, ok := lg.(RunReader); ok {
		return rr.ReadRuns(ctx, from, fn)
	}
	var one [1]Entry
	return lg.Read(ctx, from, func(en Entry) error {
		one[0] = en
		return fn(one[:])
	})
}

// Getter is implemented by logs that can read one entry by its offset.
type Getter interface {
	Get(ctx context.Context, offset uint64) (Entry, error)
}

// TimeOf returns when the log stored en: its Time, or, for an entry read
// without one (in bulk), the Time of the same entry fetched alone when lg
// is a Getter. The zero time if neither says.
func TimeOf(ctx context.Context, lg Reader, en Entry) time.Time {
	if !en.Time.IsZero() {
		return en.Time
	}
	if g, ok := lg.(Getter); ok {
		if got, err := g.Get(ctx, en.Offset); err == nil {
			return got.Time
		}
	}
	return time.Time{}
}

// Reader reads the log. Its methods are safe for concurrent use.
type Reader interface {
	// First returns the offset of the first retained entry. When the log
	// holds no entries it returns Last()+1, so the retained range is always
	// [First, Last] and holds Last-First+1 entries.
	First(ctx context.Context) (uint64, error)

	// Last returns the offset of the last entry, or 0 if nothing was ever
	// appended. Entries removed by retention do not lower it.
	Last(ctx context.Context) (uint64, error)

	// Range returns First and Last as of one moment, with one request.
	Range(ctx context.Context) (first, last uint64, err error)

	// Read calls fn with every entry from offset from on, in order and
	// without gaps or repeats, then keeps calling it for new entries until
	// ctx ends (it returns ctx's error) or fn returns an error (it returns
	// that error). from 0 is read as 1. If from is below First, Read returns
	// ErrTruncated before calling fn, and if from is above Last+1 it returns
	// ErrAhead; if entries after the ones it delivered
	// disappear before it reaches them, it returns ErrTruncated then. If
	// the log is found deleted and created again, it returns ErrReplaced
	// before handing over any of the new log's entries. A
	// connection lost on the way is not an error: Read resumes where it was.
	// fn is called from one goroutine and must not block for long; it may
	// keep Entry.Data.
	Read(ctx context.Context, from uint64, fn func(Entry) error) error
}

// Writer appends to the log, fenced by the offset the writer believes is
// last. One writer per log; its methods are safe for concurrent use, but
// entries are stored in the order their appends reach the log, so a writer
// that pipelines must call AppendAsync from one goroutine.
type Writer interface {
	// Last returns the offset of the last entry, or 0 for an empty log.
	Last(ctx context.Context) (uint64, error)

	// Append stores data as the entry after expectLast and returns its
	// offset (expectLast+1), or ErrFenced if the log's last offset is not
	// expectLast. Any other error leaves the outcome unknown: the entry may
	// or may not be stored. Retrying with the same expectLast never stores
	// it twice (a retry after a landed attempt gets ErrFenced), and Last
	// tells which happened. data may be reused once Append returns.
	Append(ctx context.Context, data []byte, expectLast uint64) (uint64, error)

	// AppendAsync sends data as the entry after expectLast without waiting
	// for the log to confirm it, so that many appends share one round trip:
	// the i-th of a pipelined run passes expectLast+i. The outcome arrives
	// on the returned Pending, with the same meaning as Append's. An error
	// from AppendAsync itself means nothing was sent. If one append of a
	// run fails, every later one fails with ErrFenced. data must not be
	// modified until the Pending is done.
	AppendAsync(data []byte, expectLast uint64) (Pending, error)
}

// Pending is the outcome of an AppendAsync, available once Done is closed.
type Pending interface {
	// Done is closed when the outcome is known.
	Done() <-chan struct{}
	// Offset waits until Done is closed, then returns the entry's offset,
	// or the error Append would have returned.
	Offset() (uint64, error)
}

// Identified is implemented by logs that can tell themselves apart from
// an earlier or later log of the same dataset, one deleted and created
// again (whose offsets name other entries): a snapshot records the
// identity of the log its offset belongs to, and a reader refuses a
// snapshot of another log.
type Identified interface {
	// Identity is the same for as long as the log exists and differs
	// between two logs of the dataset.
	Identity() string
}

// IdentityOf returns lg's identity, or "" when lg cannot tell (it is not
// Identified).
func IdentityOf(lg any) string {
	if id, ok := lg.(Identified); ok {
		return id.Identity()
	}
	return ""
}

// Trimmer is implemented by logs whose front can be removed on demand: a
// master trims the log below its oldest kept snapshot, which replaces the
// entries before it.
type Trimmer interface {
	// Trim removes every entry below offset keepFrom; entries from
	// keepFrom on stay. Trimming below First is a no-op.
	Trim(ctx context.Context, keepFrom uint64) error
}
