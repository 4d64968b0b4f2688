package command

import "time"

// How background work that walks the keyspace in short holds of the engine
// lock (a snapshot's scan, a Redis replica's full sync) is paced.
const (
	// ScanStep is how many keys one hold of the lock emits.
	ScanStep = 256
	// scanRest: while anything else uses the engine, the walk rests eight
	// times as long as each hold. Right after a hold it would take the
	// lock again before the clients woken by its release. Measured on 2
	// cores with 1M keys (SET p99 during a snapshot / at rest, SET/s during
	// / at rest, snapshot time): rest 1: 1.53, 0.65; 3: 1.38, 0.70, 10 s;
	// 5: 1.27, 0.83, 13 s; 8: 1.10, 0.94, 18 s (redis's fork: 2.0, 0.55,
	// 2 s).
	scanRest = 8
	// minScanPause is the shortest rest.
	minScanPause = 50 * time.Microsecond
	// idleRun is how long the walk holds the lock, one hold after another,
	// while nothing else takes it, before it rests minScanPause (on one
	// processor nothing else runs until it sleeps, so that a client that
	// comes meanwhile can take the lock).
	idleRun = time.Millisecond
)

// Pacer paces a walk of the keyspace done in short holds of the engine
// lock: it rests long after a hold when anything else (clients, a
// replica's apply, the expiry cycle) took the lock since the hold before,
// and goes on at once while nothing did. Paced as if always contended, an
// idle master's snapshot of 1M keys took 21 s; a client that comes while
// the walk goes on unrested waits about idleRun plus one hold at most.
type Pacer struct {
	e        *Engine
	holds    uint64        // Holds at the start of the last hold
	start    time.Time     // when the last hold began
	busy     bool          // something else took the lock before the last hold
	unrested time.Duration // held since the last rest, nothing else waiting
}

// NewPacer returns a pacer for a walk that starts now; the caller holds
// the engine lock.
func (e *Engine) NewPacer() *Pacer { return &Pacer{e: e, holds: e.lockHolds} }

// Hold starts a hold of the walk; the caller has just taken the engine
// lock.
func (p *Pacer) Hold() {
	p.busy = p.e.lockHolds != p.holds+1
	p.holds = p.e.lockHolds
	p.start = time.Now()
}

// Rest returns how long to rest after the hold Hold started, which just
// ended (0: go on at once).
func (p *Pacer) Rest() time.Duration { return p.rest(time.Since(p.start)) }

// rest returns the rest after a hold of d.
func (p *Pacer) rest(d time.Duration) time.Duration {
	if p.busy {
		p.unrested = 0
		return max(scanRest*d, minScanPause)
	}
	p.unrested += d
	if p.unrested < idleRun {
		return 0
	}
	p.unrested = 0
	return minScanPause
}
