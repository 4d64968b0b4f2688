package master

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/stream"
)

var _ command.OffsetLog = (*publisher)(nil)

// selectZero ends an entry's unit that left another database selected, so
// that the next unit starts in database 0 as units assume.
var selectZero = []byte("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n")

// publisher is the engine's command.Log on a master: it groups units into
// log entries (group commit), appends them pipelined behind the
// expected-last-offset fence, and tells connections when their units are
// stored. Units are numbered from 1 in the order the engine hands them over.
//
// Lock order: the engine lock, then publisher.mu.
type publisher struct {
	w           stream.Writer
	maxEntry    int // bytes in one entry before it is sealed
	maxInflight int // entries sent and not yet confirmed
	// async replies before units are sent (--ack async): the open entry is
	// then sealed only while fewer than sealInflight entries are
	// unconfirmed, so that entries grow with the load instead of carrying
	// one command each, and writers wait only while more than maxEntry
	// bytes are unsent.
	async  bool
	onFail func(error)

	mu       sync.Mutex
	cond     *sync.Cond
	ready    []entry // sealed entries not yet sent
	open     []byte  // units not yet sent, as one entry
	lastSent int     // bytes of the last open entry sent: the next one's starting capacity
	unsent   int     // bytes in ready and open
	sending  bool    // an entry is being handed to the log, outside mu
	openDB   int     // database the open entry leaves selected
	unitSeq  uint64  // last unit accepted
	sentSeq  uint64  // last unit sent (async acknowledgement point)
	durable  uint64  // last unit stored (durable acknowledgement point)
	offset   uint64  // offset of the last entry stored
	next     uint64  // offset the next entry sent will have
	inflight []flight
	lost     [][]byte    // entries sent after a failure began, oldest first
	err      error       // sticky failure: set until reset
	fenced   bool        // settled for good: units are dropped as they come
	gone     [][2]uint64 // ranges of units the log never stored (first, last)
	wake     chan struct{}
	done     chan struct{}
	// waiters are the WaitDurable calls waiting for units to be stored,
	// by the unit they need: a confirmation wakes only those it serves
	// (waking all, ~25 connections at -P 1 durable, sent half of them
	// back to sleep every entry).
	waiters []durableWaiter
	// progress, when set (notify), is called whenever Stored's answer may
	// have changed: units stored or sent, a failure, a reset, the end.
	progress func()

	entries, bytes uint64 // stored so far, for stats
	lastLatency    time.Duration
	latency        prometheus.Histogram
}

type entry struct {
	data []byte
	seq  uint64 // last unit in the entry
}

type durableWaiter struct {
	need uint64
	ch   chan struct{} // closed to wake it
}

type flight struct {
	p    stream.Pending
	seq  uint64 // last unit in the entry
	data []byte
	sent time.Time
}

// sealInflight is how many unconfirmed entries let an asynchronous
// publisher still seal and send the open entry; while more are in flight,
// units gather in it (measured: see Config.MaxUnacked).
const sealInflight = 1

func newPublisher(w stream.Writer, last uint64, maxEntry, maxInflight int, async bool, onFail func(error)) *publisher {
	p := &publisher{
		w: w, maxEntry: maxEntry, maxInflight: maxInflight, async: async, onFail: onFail,
		offset: last, next: last + 1,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	p.cond = sync.NewCond(&p.mu)
	p.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "ferry_publish_latency_seconds",
		Help:    "Time from sending a log entry to the log's confirmation.",
		Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16),
	})
	return p
}

// Append takes one unit; the engine calls it with its lock held, in apply
// order. After a failure units are dropped: the master rebuilds its
// keyspace from the log, which never got them.
func (p *publisher) Append(u command.Unit) { p.AppendAt(u) }

// AppendAt is Append returning the offset of the entry that holds, or will
// hold, the unit (the offset the log would give the next entry, when the
// unit is dropped).
func (p *publisher) AppendAt(u command.Unit) (offset uint64) {
	p.mu.Lock()
	p.unitSeq++
	if p.fenced {
		// A fenced master takes no writes; what it still produces (expired
		// keys' DELs) goes nowhere and nobody waits for it.
		p.durable, p.sentSeq = p.unitSeq, p.unitSeq
		p.wakeWaitersLocked(false)
	}
	if len(u.Data) == 0 {
		// A barrier (Engine.Barrier): durable as soon as everything before it is.
		if len(p.open) == 0 && len(p.ready) == 0 && len(p.inflight) == 0 && p.err == nil {
			p.durable, p.sentSeq = p.unitSeq, p.unitSeq
			p.wakeWaitersLocked(false)
		}
	} else if p.err == nil {
		if len(p.open) > 0 && len(p.open)+len(u.Data) > p.maxEntry {
			p.ready = append(p.ready, entry{p.open, p.unitSeq - 1})
			p.open = nil
			p.openDB = 0
		}
		if len(p.open) > 0 && p.openDB != 0 {
			p.open = append(p.open, selectZero...)
			p.unsent += len(selectZero)
		}
		if p.open == nil {
			// Sized after the last entry sent: under steady load an entry
			// then grows once at most, not by doubling from a few bytes
			// (growslice was 6% of a master's CPU at async -P 16, 1,561
			// commands per entry).
			p.open = make([]byte, 0, max(len(u.Data), min(p.lastSent+p.lastSent/4, p.maxEntry)))
		}
		p.open = append(p.open, u.Data...)
		p.unsent += len(u.Data)
		p.openDB = u.EndDB
	}
	// The open entry is sent after the sealed ones.
	offset = p.next + uint64(len(p.ready))
	// Waking the sender when it may not send would cost a goroutine switch
	// per command under load; confirmLoop wakes it when an entry is stored.
	canSend := p.canSendLocked()
	p.mu.Unlock()
	if canSend {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	return offset
}

// canSendLocked reports whether sendReady would send an entry now.
func (p *publisher) canSendLocked() bool {
	switch {
	case p.err != nil || len(p.ready) == 0 && len(p.open) == 0 || len(p.inflight) >= p.maxInflight:
		return false
	case len(p.ready) == 0 && p.async && len(p.inflight) >= sealInflight:
		return false
	}
	return true
}

// run sends entries until ctx ends. One goroutine sends, so entries reach
// the log in order; confirmations are awaited in order by a second one.
func (p *publisher) run(ctx context.Context) {
	acks := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.confirmLoop(ctx, acks)
	}()
	defer func() {
		wg.Wait()
		// WaitDurable checks done when it wakes: done is closed and the
		// waiters woken under the lock, so none goes back to sleep for
		// good (a CI run caught Close hanging on such a waiter).
		p.mu.Lock()
		close(p.done)
		p.cond.Broadcast()
		p.wakeWaitersLocked(true)
		p.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			p.mu.Lock()
			p.cond.Broadcast()
			p.wakeWaitersLocked(true)
			p.mu.Unlock()
			return
		case <-p.wake:
		}
		p.sendReady(acks)
	}
}

// sendReady seals the open entry and sends it while fewer than maxInflight
// entries are unconfirmed (asynchronous: sealInflight). Under load, units
// pile up in the open entry meanwhile: that is the group commit.
func (p *publisher) sendReady(acks chan struct{}) {
	for {
		p.mu.Lock()
		if !p.canSendLocked() {
			p.mu.Unlock()
			return
		}
		var data []byte
		var seq uint64
		if len(p.ready) > 0 {
			data, seq = p.ready[0].data, p.ready[0].seq
			p.ready = p.ready[1:]
		} else {
			data, seq = p.open, p.unitSeq
			p.open = nil
			p.openDB = 0
			p.lastSent = len(data)
		}
		expect := p.next - 1
		p.next++
		p.unsent -= len(data)
		p.sending = true
		p.mu.Unlock()
		// Sent without the lock: a large entry can take a while to hand to
		// the connection, and Append, under the engine lock, must not wait
		// for it (measured: SET -P 16 p99 16 ms with the lock held, --ack
		// async). Only this goroutine sends, so entries keep their order.
		pend, err := p.w.AppendAsync(data, expect)
		p.mu.Lock()
		p.sending = false
		p.cond.Broadcast()
		if err != nil {
			p.failLocked(err)
			p.mu.Unlock()
			return
		}
		if seq > p.sentSeq {
			p.sentSeq = seq
		}
		if p.async && p.progress != nil {
			p.progress() // sentSeq and unsent moved
		}
		p.inflight = append(p.inflight, flight{p: pend, seq: seq, data: data, sent: time.Now()})
		p.mu.Unlock()
		select {
		case acks <- struct{}{}:
		default:
		}
	}
}

// confirmLoop waits for the oldest unconfirmed entry, in order.
func (p *publisher) confirmLoop(ctx context.Context, acks chan struct{}) {
	for {
		p.mu.Lock()
		var f flight
		have := len(p.inflight) > 0
		if have {
			f = p.inflight[0]
		}
		p.mu.Unlock()
		if !have {
			select {
			case <-ctx.Done():
				return
			case <-acks:
				continue
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-f.p.Done():
		}
		off, err := f.p.Offset()
		p.mu.Lock()
		p.inflight = p.inflight[1:]
		if err != nil || p.err != nil {
			// Whatever its own outcome, an entry sent after the first
			// failure is checked against the log by the recovery.
			p.lost = append(p.lost, f.data)
			p.failLocked(err)
		} else {
			p.offset = off
			p.durable = f.seq
			p.entries++
			p.bytes += uint64(len(f.data))
			p.lastLatency = time.Since(f.sent)
			p.latency.Observe(p.lastLatency.Seconds())
		}
		p.cond.Broadcast()
		p.wakeWaitersLocked(p.err != nil)
		p.mu.Unlock()
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// fail stops the publisher as a failed append does: nothing more is sent,
// writers waiting for their entries are refused, and onFail runs (once).
func (p *publisher) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failLocked(err)
}

func (p *publisher) failLocked(err error) {
	if p.err != nil {
		return
	}
	p.err = err
	p.open = nil
	p.ready = nil
	p.unsent = 0
	p.cond.Broadcast()
	p.wakeWaitersLocked(true)
	if p.onFail != nil {
		go p.onFail(err)
	}
}

// errNotStored tells a connection its writes may not be in the log.
var errNotStored = errors.New("master: writes not confirmed by the replication log")

// WaitDurable blocks until every unit up to need is stored (durable acks),
// or, with sentOnly (asynchronous acks), returns at once unless more than
// maxEntry bytes wait to be sent, in which case it waits until need is
// sent. It fails when the log failed before confirming or sending them:
// the caller must not acknowledge.
func (p *publisher) WaitDurable(need uint64, sentOnly bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if ok, err := p.storedLocked(need, sentOnly); ok || err != nil {
			return err
		}
		if sentOnly {
			p.cond.Wait()
			continue
		}
		w := durableWaiter{need: need, ch: make(chan struct{})}
		p.waiters = slices.Insert(p.waiters, p.waitersBefore(need), w)
		p.mu.Unlock()
		<-w.ch
		p.mu.Lock()
	}
}

// Stored reports, without waiting, whether WaitDurable would return now:
// true, or false with the error it would return.
func (p *publisher) Stored(need uint64, sentOnly bool) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.storedLocked(need, sentOnly)
}

// storedLocked is Stored with p.mu held: true once WaitDurable need not
// wait, false and an error when it must fail.
func (p *publisher) storedLocked(need uint64, sentOnly bool) (bool, error) {
	for _, g := range p.gone {
		if need >= g[0] && need <= g[1] {
			// Replies computed while units up to need were applied, one
			// of which the log never stored.
			return false, errNotStored
		}
	}
	if sentOnly && p.sentSeq >= need || !sentOnly && p.durable >= need {
		return true, nil
	}
	if p.err != nil {
		return false, errNotStored
	}
	if sentOnly && p.unsent <= p.maxEntry {
		return true, nil
	}
	select {
	case <-p.done:
		return false, errNotStored
	default:
	}
	return false, nil
}

// waitersBefore returns how many waiters need a unit below need (waiters
// are kept in the order of the unit they need). The caller holds p.mu.
func (p *publisher) waitersBefore(need uint64) int {
	i, _ := slices.BinarySearchFunc(p.waiters, need, func(w durableWaiter, need uint64) int { return cmp.Compare(w.need, need) })
	return i
}

// wakeWaitersLocked wakes the WaitDurable calls whose units are stored,
// or every one (all) when something else changed for them: a failure, a
// reset, the fence, the end. The caller holds p.mu.
func (p *publisher) wakeWaitersLocked(all bool) {
	if p.progress != nil {
		p.progress()
	}
	n := len(p.waiters)
	if !all {
		n = p.waitersBefore(p.durable + 1)
	}
	for _, w := range p.waiters[:n] {
		close(w.ch)
	}
	p.waiters = slices.Delete(p.waiters, 0, n)
}

// notify registers f to be called whenever Stored's answer may have
// changed (with p.mu held: f must not call back into the publisher).
func (p *publisher) notify(f func()) {
	p.mu.Lock()
	p.progress = f
	p.mu.Unlock()
}

// drained waits until no entry is in flight or being sent (after a
// failure).
func (p *publisher) drained() {
	p.mu.Lock()
	for len(p.inflight) > 0 || p.sending {
		p.cond.Wait()
	}
	p.mu.Unlock()
}

// failedData returns the data of the entries sent after the last confirmed
// one, oldest first, to check whether they landed after all.
func (p *publisher) failedData() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([][]byte, len(p.lost))
	copy(out, p.lost)
	return out
}

// reset resumes publishing after the master rebuilt its keyspace from the
// log up to last: every unit so far is settled.
func (p *publisher) reset(last uint64) {
	p.mu.Lock()
	p.settleLocked()
	p.err = nil
	p.open = nil
	p.ready = nil
	p.unsent = 0
	p.openDB = 0
	p.lost = nil
	p.offset = last
	p.next = last + 1
	p.cond.Broadcast()
	p.wakeWaitersLocked(true)
	p.mu.Unlock()
}

// settleLocked records the units accepted and not stored as gone, so that
// replies computed with them fail however late their connection asks, and
// moves the acknowledgement points past them.
func (p *publisher) settleLocked() {
	if p.durable < p.unitSeq {
		p.gone = append(p.gone, [2]uint64{p.durable + 1, p.unitSeq})
		if len(p.gone) > 64 {
			p.gone = p.gone[len(p.gone)-64:]
		}
	}
	p.sentSeq = p.unitSeq
	p.durable = p.unitSeq
}

// fence settles the publisher for good after another writer appended: it
// sends nothing more and drops what it is given.
func (p *publisher) fence() {
	p.mu.Lock()
	p.settleLocked()
	p.fenced = true
	p.cond.Broadcast()
	p.wakeWaitersLocked(true)
	p.mu.Unlock()
}

// sentOffset returns the offset of the last entry sent to the log.
func (p *publisher) sentOffset() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next - 1
}

// isFenced reports whether fence settled the publisher.
func (p *publisher) isFenced() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fenced
}

// stats returns the offset of the last stored entry and counters.
func (p *publisher) stats() (offset, entries, bytes uint64, latency time.Duration, failed error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.offset, p.entries, p.bytes, p.lastLatency, p.err
}

// assigned returns the offset of the entry that holds, or will hold, the
// newest unit accepted.
func (p *publisher) assigned() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	off := p.next - 1 + uint64(len(p.ready))
	if len(p.open) > 0 {
		off++
	}
	return max(off, p.offset)
}

// cut marks a snapshot's cut: it seals the open entry so that an entry ends
// exactly at the last unit accepted, and returns that unit and the offset
// the log gives (or gave) the entry holding it. Units before the cut are
// in the snapshot; the offset is exact as long as the publisher does not
// fail before the unit is stored (WaitDurable says). The caller holds the
// engine lock.
func (p *publisher) cut() (unit, offset uint64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return 0, 0, p.err
	}
	if p.fenced {
		return 0, 0, errors.New("master: fenced")
	}
	if len(p.open) > 0 {
		p.ready = append(p.ready, entry{p.open, p.unitSeq})
		p.open = nil
		p.openDB = 0
	}
	return p.unitSeq, p.next - 1 + uint64(len(p.ready)), nil
}
