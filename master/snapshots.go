package master

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ferrydb/ferry/snapshot"
	"github.com/ferrydb/ferry/snapshot/taker"
	"github.com/ferrydb/ferry/stream"
)

// logEntryOverhead is what the log stores per entry besides its data, at
// most (JetStream's file store: record header, subject, the
// expected-last-sequence header, checksum), so that logSize errs high.
const logEntryOverhead = 192

// newTaker returns the master's snapshot taker (snapshot/taker).
func (m *Master) newTaker() *taker.Taker {
	cfg := m.cfg
	return taker.New(taker.Config{
		Engine: m.engine, Node: snapshotNode{m}, Store: cfg.Store, Log: cfg.Log,
		Dataset: cfg.Dataset, Generation: m.gen, Cuts: &m.cuts,
		Go: func(fn func(context.Context)) bool {
			return m.spawn(func() { fn(m.ctx) })
		},
		Interval: cfg.SnapshotInterval, AfterWrites: cfg.SnapshotAfterWrites, Keep: cfg.SnapshotKeep,
		LogMaxAge: cfg.LogMaxAge, LogMaxBytes: cfg.LogMaxBytes, LogSize: m.logSize,
		Logger: cfg.Logger,
	})
}

// snapshotNode is the master as its snapshot taker sees it.
type snapshotNode struct{ m *Master }

// Unready implements taker.Node: a master that takes no writes (loading,
// rebuilding, fenced) takes no snapshot.
func (n snapshotNode) Unready() string {
	e := n.m.engine
	if reason := e.WriteError(); reason != "" {
		return "ERR ferry: no snapshot while the master takes no writes: " + strings.TrimPrefix(reason, "READONLY ")
	}
	if e.Loading() {
		return "ERR ferry: no snapshot while the master is loading"
	}
	return ""
}

// Cut implements taker.Node: it seals the log entry being filled, so that
// the cut falls on an entry boundary, and the snapshot becomes visible
// only once the log has stored every write it holds.
func (n snapshotNode) Cut() (uint64, func(context.Context) error, error) {
	m := n.m
	unit, offset, err := m.pub.cut()
	if err != nil {
		return 0, nil, err
	}
	commit := func(ctx context.Context) error {
		// A unit the log lost makes the master rebuild, and the cut held
		// it.
		if err := m.pub.WaitDurable(unit, false); err != nil {
			return fmt.Errorf("the log did not store the writes up to offset %d: %w", offset, err)
		}
		// Offsets name entries of one log: a snapshot labelled with an
		// offset of a log deleted and created again would be taken for
		// the new log's, and replayed from there. Only that refuses it;
		// a log out of reach (a shutdown snapshot while NATS is down)
		// does not, since every write it holds was stored.
		if _, err := m.cfg.Log.Last(ctx); errors.Is(err, stream.ErrReplaced) {
			return fmt.Errorf("snapshot at offset %d: %w", offset, err)
		}
		return nil
	}
	return offset, commit, nil
}

// Snapshot writes a snapshot now and returns it; if one is running, it
// waits for that one to end first.
func (m *Master) Snapshot(ctx context.Context) (snapshot.Info, error) {
	if m.snaps == nil {
		return snapshot.Info{}, errors.New("master: no snapshot store")
	}
	return m.snaps.Snapshot(ctx)
}

// logSize estimates the bytes the log has stored so far, as its
// LogMaxBytes limit counts them.
func (m *Master) logSize() int64 {
	if m.pub == nil {
		return 0 // starting: nothing published yet
	}
	_, entries, bytes, _, _ := m.pub.stats()
	return int64(bytes + entries*logEntryOverhead)
}
