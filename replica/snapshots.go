package replica

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/ferrydb/ferry/snapshot/taker"
)

// A replica with TakeSnapshots takes snapshots as a master does
// (snapshot/taker): its keyspace at an offset is the dataset at that
// offset, whichever node holds it, so the master need not take any (the
// way MemoryDB builds snapshots off its serving nodes). Every write a
// replica's snapshot holds came from the log, so it is stored there
// already: nothing to wait for before the snapshot is made visible.

// newTaker returns the replica's snapshot taker.
func (r *Replica) newTaker() *taker.Taker {
	cfg := r.cfg
	var gen [10]byte
	rand.Read(gen[:])
	return taker.New(taker.Config{
		Engine: r.engine, Node: snapshotNode{r}, Store: cfg.Store, Log: cfg.Log,
		Dataset: cfg.Dataset, Generation: hex.EncodeToString(gen[:]), Go: r.spawn,
		Interval: cfg.SnapshotInterval, AfterWrites: cfg.SnapshotAfterWrites, Keep: cfg.SnapshotKeep,
		Logger: cfg.Logger,
	})
}

// snapshotNode is the replica as its snapshot taker sees it.
type snapshotNode struct{ r *Replica }

// Unready implements taker.Node: a replica takes snapshots while it
// serves a dataset that is whole at its offset: streaming, with its link
// down, or stopped at a gap (resync-needed). Not while it loads or
// resyncs, nor once broken (an entry that failed may have been applied in
// part).
func (n snapshotNode) Unready() string {
	r := n.r
	if r.engine.Loading() {
		return "ERR ferry: no snapshot while the replica is loading"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.syncing:
		return "ERR ferry: no snapshot while the replica loads a newer snapshot"
	case r.state == StateStreaming, r.state == StateLinkDown, r.state == StateResyncNeeded:
		return ""
	}
	return "ERR ferry: no snapshot while the replica is " + string(r.state)
}

// Cut implements taker.Node: the engine lock is held, and the replica
// applies whole entries under it, so its offset names exactly what the
// keyspace holds.
func (n snapshotNode) Cut() (uint64, func(context.Context) error, error) {
	return n.r.Offset(), nil, nil
}

// spawn runs fn in a goroutine Close waits for, with the replica's
// context, unless Close has begun.
func (r *Replica) spawn(fn func(ctx context.Context)) bool {
	r.closeMu.Lock()
	defer r.closeMu.Unlock()
	if r.closing {
		return false
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		fn(r.ctx)
	}()
	return true
}
