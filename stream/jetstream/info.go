package jetstream

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ferrydb/ferry/stream"
)

// Info returns what the NATS server says of the log's stream now: its
// configuration (age and size limits, replicas) and its state (entries,
// bytes, first and last sequences and their times). It changes nothing,
// so a read-only Log may call it. A stream deleted and created again since
// Open is stream.ErrReplaced, as for every read.
func (l *Log) Info(ctx context.Context) (*jetstream.StreamInfo, error) {
	if l.closed.Load() {
		return nil, stream.ErrClosed
	}
	info, err := l.stream.Info(ctx)
	if err != nil {
		return nil, l.mapErr(fmt.Errorf("jetstream: info of stream %s: %w", l.name, err))
	}
	if !info.Created.Equal(l.created) {
		return nil, l.replaced(info.Created)
	}
	return info, nil
}
