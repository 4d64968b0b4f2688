package jetstream

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/nats-io/nats.go"

	"github.com/ferrydb/ferry/stream"
)

// Replicas acknowledge the offsets they applied on a core NATS subject
// beside the log, ferry.<dataset>.acks (not stored: an acknowledgement is
// only worth its latest value), the way Redis replicas send REPLCONF ACK.
// The master counts them for WAIT and INFO replication. A WAIT asks for
// them on ferry.<dataset>.getack (the offset in decimal), as Redis's
// REPLCONF GETACK does. A master announces where it serves on
// ferry.<dataset>.master every second, as a Redis master pings its
// replicas.

var (
	_ stream.AckReporter         = (*Log)(nil)
	_ stream.AckWatcher          = (*Log)(nil)
	_ stream.Announcer           = (*Log)(nil)
	_ stream.AnnouncementWatcher = (*Log)(nil)
)

func acksSubject(dataset string) string { return "ferry." + dataset + ".acks" }

func getAckSubject(dataset string) string { return "ferry." + dataset + ".getack" }

func masterSubject(dataset string) string { return "ferry." + dataset + ".master" }

// ReportOffset publishes a replica's acknowledgement. It does not wait for
// anyone to receive it.
func (l *Log) ReportOffset(a stream.Ack) error {
	return l.publishJSON(acksSubject(l.cfg.Dataset), a)
}

// WatchOffsets calls fn with every acknowledgement until ctx ends (one
// that does not parse, or names no replica, is ignored). fn runs on one
// goroutine and must not block for long.
func (l *Log) WatchOffsets(ctx context.Context, fn func(stream.Ack)) error {
	return watchJSON(ctx, l, acksSubject(l.cfg.Dataset), func(a stream.Ack) bool { return a.ID != "" }, fn)
}

// RequestAcks publishes a request for acknowledgements once offset is
// applied. It does not wait for anyone to receive it.
func (l *Log) RequestAcks(offset uint64) error {
	return l.nc.Publish(getAckSubject(l.cfg.Dataset), strconv.AppendUint(nil, offset, 10))
}

// WatchAckRequests calls fn with the offset of every request for
// acknowledgements until ctx ends (a request that does not parse is
// ignored). fn runs on one goroutine and must not block.
func (l *Log) WatchAckRequests(ctx context.Context, fn func(offset uint64)) error {
	sub, err := l.nc.Subscribe(getAckSubject(l.cfg.Dataset), func(m *nats.Msg) {
		if off, err := strconv.ParseUint(string(m.Data), 10, 64); err == nil {
			fn(off)
		}
	})
	if err != nil {
		return err
	}
	context.AfterFunc(ctx, func() { sub.Unsubscribe() })
	// The server knows the subscription once it answered a ping sent
	// after it (not waited for while disconnected: the subscription is
	// sent again on reconnecting).
	if l.nc.IsConnected() {
		return l.nc.FlushTimeout(l.cfg.Timeout)
	}
	return nil
}

// Announce publishes a master's announcement. It does not wait for anyone
// to receive it.
func (l *Log) Announce(a stream.Announcement) error {
	return l.publishJSON(masterSubject(l.cfg.Dataset), a)
}

// WatchAnnouncements calls fn with every master's announcement until ctx
// ends (one that does not parse, or names no address, is ignored). fn runs
// on one goroutine and must not block.
func (l *Log) WatchAnnouncements(ctx context.Context, fn func(stream.Announcement)) error {
	return watchJSON(ctx, l, masterSubject(l.cfg.Dataset), func(a stream.Announcement) bool { return a.Addr != "" }, fn)
}

// publishJSON publishes v as JSON on subject, without waiting for anyone
// to receive it.
func (l *Log) publishJSON(subject string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return l.nc.Publish(subject, b)
}

// watchJSON calls fn with every message on subject that decodes as a T
// that valid accepts, until ctx ends.
func watchJSON[T any](ctx context.Context, l *Log, subject string, valid func(T) bool, fn func(T)) error {
	sub, err := l.nc.Subscribe(subject, func(m *nats.Msg) {
		var v T
		if json.Unmarshal(m.Data, &v) == nil && valid(v) {
			fn(v)
		}
	})
	if err != nil {
		return err
	}
	context.AfterFunc(ctx, func() { sub.Unsubscribe() })
	return nil
}
