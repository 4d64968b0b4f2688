package stream

import "context"

// Ack is a replica's acknowledgement of the offsets it applied, sent beside
// the log (like Redis's REPLCONF ACK); a master counts them for WAIT and
// INFO replication.
type Ack struct {
	// ID identifies the replica process.
	ID string `json:"id"`
	// Addr is where the replica serves RESP.
	Addr string `json:"addr"`
	// Offset is the last offset it applied.
	Offset uint64 `json:"offset"`
}

// AckReporter is a replica's side of acknowledgements: it publishes them,
// and hears the master's requests for them.
type AckReporter interface {
	// ReportOffset sends a without waiting for anyone to receive it.
	ReportOffset(a Ack) error
	// WatchAckRequests calls fn with the offset of every request for
	// acknowledgements (a master's WAIT, like Redis's REPLCONF GETACK)
	// until ctx ends; fn runs on one goroutine and must not block.
	WatchAckRequests(ctx context.Context, fn func(offset uint64)) error
}

// AckWatcher is a master's side: it delivers replicas' acknowledgements,
// and asks for them.
type AckWatcher interface {
	// WatchOffsets calls fn with every acknowledgement until ctx ends; fn
	// runs on one goroutine and must not block for long.
	WatchOffsets(ctx context.Context, fn func(Ack)) error
	// RequestAcks asks every replica to acknowledge as soon as it has
	// applied offset, without waiting for anyone to receive the request.
	RequestAcks(offset uint64) error
}

// Announcement is a master's periodic word to its replicas, sent beside
// the log like the PING a Redis master sends its replicas: where it serves,
// so that a replica's INFO replication and ROLE name its master, and when
// it was last heard from.
type Announcement struct {
	// Addr is where the master serves RESP (host:port).
	Addr string `json:"addr"`
	// Offset is the offset of the last entry the master sent to the log:
	// a replica that applied a later one heard from a master another has
	// replaced (it is fenced when it next writes), and ignores it.
	Offset uint64 `json:"offset"`
}

// Announcer is a master's side of announcements.
type Announcer interface {
	// Announce sends a without waiting for anyone to receive it.
	Announce(a Announcement) error
}

// AnnouncementWatcher is a replica's side of announcements.
type AnnouncementWatcher interface {
	// WatchAnnouncements calls fn with every announcement until ctx ends;
	// fn runs on one goroutine and must not block.
	WatchAnnouncements(ctx context.Context, fn func(Announcement)) error
}
