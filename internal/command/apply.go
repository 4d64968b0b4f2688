package command

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/resp"
)

// Applier applies entries of the replication log (RESP-encoded effects) to
// an engine, as a replica's link to its master does. Each entry is applied
// under one acquisition of the lock, so readers never see part of one.
type Applier struct {
	e       *Engine
	cl      *Client
	args    [][]byte                     // ParseCommands' scratch
	collect func([][]byte, []byte) error // a.collectOne, made once
	// entry is the entry being applied, parsed whole before its first
	// command runs: flat holds the arguments of all its commands, and
	// cmds where each one ends in flat and in entry.
	entry []byte
	flat  [][]byte
	cmds  []parsedCmd
}

// parsedCmd is where a command of the entry being applied ends: its
// arguments at Applier.flat[args], its bytes at Applier.entry[data].
type parsedCmd struct{ args, data int }

// NewApplier returns an applier for e; it registers an internal client.
func (e *Engine) NewApplier() *Applier {
	e.Lock()
	defer e.Unlock()
	cl := e.NewClient("replication", "")
	cl.Master = true
	cl.Authed = true
	delete(e.clients, cl.ID) // not a connection: CLIENT LIST does not show it
	a := &Applier{e: e, cl: cl}
	a.collect = a.collectOne
	return a
}

// Apply runs every command of data, which starts in database 0. Effects
// are not handed to the engine's log, expired keys are neither hidden nor
// deleted while applying (the master's DELs remove them), and writes are
// allowed whatever the engine's role. An entry that does not parse stops
// Apply with an error before any of its commands runs; a command the engine
// rejects stops it with an error naming the command, and the commands
// before it stay applied (a transaction it was in is discarded). So does an
// entry that ends inside MULTI: its queued commands never run.
func (a *Applier) Apply(data []byte) error {
	e := a.e
	e.Lock()
	defer e.Unlock()
	defer a.applying()()
	return a.applyLocked(data)
}

// maxRunHold is the most entries ApplyRun applies under one hold of the
// lock: readers wait at most ~0.5 ms for a run.
const maxRunHold = 256

// ApplyRun applies a run of entries, each as Apply, taking the lock once
// per maxRunHold entries (one reading of the clock) rather than once per
// entry. then(i) runs after entry i, before the lock is released: a
// replica records the entry's offset there, so that no reader sees the
// entry's effects with the offset before it. It stops at the first entry that
// fails and returns how many entries it applied whole, with the error.
func (a *Applier) ApplyRun(entries [][]byte, then func(i int)) (int, error) {
	for start := 0; start < len(entries); start += maxRunHold {
		if n, err := a.applyHold(entries[start:min(start+maxRunHold, len(entries))], start, then); err != nil {
			return start + n, err
		}
	}
	return len(entries), nil
}

// applyHold applies entries under one hold of the lock; then gets each
// one's index in the run, which starts at base.
func (a *Applier) applyHold(entries [][]byte, base int, then func(i int)) (int, error) {
	e := a.e
	e.Lock()
	defer e.Unlock()
	defer a.applying()()
	for i, data := range entries {
		if i%prefetchEvery == 0 {
			e.prefetchEntries(entries[i:])
		}
		if err := a.applyLocked(data); err != nil {
			return i, err
		}
		if then != nil {
			then(base + i)
		}
	}
	return len(entries), nil
}

// applying sets the engine up for applying entries (no effects logged,
// expiry ignored) and returns what puts it back; the caller holds the
// lock.
func (a *Applier) applying() (restore func()) {
	e := a.e
	log, mode := e.log, e.ks.Mode
	e.log = nil
	e.ks.Mode = keyspace.ExpireIgnore
	return func() {
		e.log = log
		e.ks.Mode = mode
	}
}

// applyLocked runs the commands of one entry, starting in database 0.
func (a *Applier) applyLocked(data []byte) error {
	a.cl.DB = 0
	// Parsed whole before its first command runs, so that a corrupt or
	// foreign entry changes nothing: readers never see part of one.
	a.entry, a.flat, a.cmds = data, a.flat[:0], a.cmds[:0]
	var err error
	a.args, err = resp.ParseCommands(data, a.args[:0], a.collect)
	if err == nil {
		start := 0
		for i, c := range a.cmds {
			if (i+1)%prefetchEvery == 0 && c.data < len(data) {
				// Many commands (a group commit): the next ones' keys.
				a.e.Prefetch(a.cl.DB, data[c.data:])
			}
			if err = a.execOne(a.flat[start:c.args:c.args]); err != nil {
				break
			}
			start = c.args
		}
	}
	clear(a.flat) // keeps no entry alive
	a.entry = nil
	a.cl.W.Reset()
	if a.cl.multi != nil {
		// A transaction left open (an entry cut after MULTI, or stopped
		// by an error inside the block) must not swallow the next
		// entry's commands as queued ones: none of it ran, so none runs.
		a.e.discardMulti(a.cl)
		if err == nil {
			err = errors.New("apply: the entry ends inside a MULTI block, without EXEC")
		}
	}
	if err != nil {
		var pe resp.ProtocolError
		if errors.As(err, &pe) {
			return fmt.Errorf("apply: malformed entry: %w", err)
		}
		return err
	}
	return nil
}

// collectOne records a command of the entry being parsed (applyLocked).
func (a *Applier) collectOne(args [][]byte, rest []byte) error {
	a.flat = append(a.flat, args...)
	a.cmds = append(a.cmds, parsedCmd{args: len(a.flat), data: len(a.entry) - len(rest)})
	return nil
}

// execOne runs one command of an entry; the caller holds the engine lock.
func (a *Applier) execOne(args [][]byte) error {
	a.cl.W.Reset()
	a.cl.applyErr = nil
	a.e.Exec(a.cl, args)
	if r := a.cl.W.Buf; len(r) > 0 && r[0] == '-' {
		return fmt.Errorf("apply: %q: %s", args[0], bytes.TrimSpace(r[1:]))
	}
	if a.cl.applyErr != nil {
		// A command of a transaction failed: EXEC's own reply is an array.
		return fmt.Errorf("apply: %q: a command inside it failed: %s", args[0], a.cl.applyErr)
	}
	return nil
}
