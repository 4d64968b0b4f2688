package jetstream

import (
	"context"
	"fmt"
	"time"

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
	if m := info.Mirror; l.cfg.Mirror != "" && m != nil && m.Active > mirrorSilence {
		// Cut off from the stream it mirrors: what it holds may be far
		// behind the log, as if NATS were unreachable.
		return nil, fmt.Errorf("jetstream: mirror %s has heard nothing from %s for %s", l.name, m.Name, m.Active.Round(time.Second))
	}
	return info, nil
}

// mirrorSilence is how long a mirror may go without hearing from the
// stream it mirrors (JetStream sends it a heartbeat every second or so)
// before a reader takes it for cut off.
const mirrorSilence = 10 * time.Second
