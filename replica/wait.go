package replica

import (
	"context"
	"fmt"
)

// setOffsetLocked records the last applied offset and wakes WaitOffset.
// The caller holds r.mu.
func (r *Replica) setOffsetLocked(off uint64) {
	r.offset = off
	r.wakeLocked()
	r.ackReachedLocked()
}

// wakeLocked wakes the WaitOffset calls waiting. The channel is made only
// when someone waits: a catch-up applies hundreds of thousands of entries
// a second, mostly with nobody waiting. The caller holds r.mu.
func (r *Replica) wakeLocked() {
	if r.advanced != nil {
		close(r.advanced)
		r.advanced = nil
	}
}

// WaitOffset waits until the replica has applied offset off (a client's
// sync token, or the log's last offset before a Lambda invocation
// answers), or ctx ends, or the apply loop stopped for good.
func (r *Replica) WaitOffset(ctx context.Context, off uint64) error {
	for {
		r.mu.Lock()
		if r.advanced == nil {
			r.advanced = make(chan struct{})
		}
		cur, ch, state, err := r.offset, r.advanced, r.state, r.err
		r.mu.Unlock()
		if cur >= off {
			return nil
		}
		if state == StateBroken || state == StateResyncNeeded {
			return fmt.Errorf("replica: stopped at offset %d (%s): %v", cur, state, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replica: offset %d not reached (at %d, %s): %w", off, cur, state, ctx.Err())
		case <-ch:
		}
	}
}

// LogLast asks the log for its last offset: what a replica that must be
// current before it answers waits for.
func (r *Replica) LogLast(ctx context.Context) (uint64, error) {
	return r.cfg.Log.Last(ctx)
}

// Ack returns at once: a replica takes no writes, so a reply it computed
// depends on nothing the log has yet to store. (With Engine, Offset and
// WaitOffset it makes a *Replica an httpapi.Node.)
func (r *Replica) Ack(ctx context.Context, need uint64) error { return nil }
