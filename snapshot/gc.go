package snapshot

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// A first load builds a keyspace in a process that holds nothing else: all
// it allocates stays live, so every collection cycle the heap's growth
// triggers (at 4, 8, 16 ... MiB with GOGC=100) only marks what was loaded
// so far again. Measured on the 1M-key benchmark dataset: a quarter of the
// load's CPU. PauseGC turns the proportional trigger off for such a load;
// a memory limit (GOMEMLIMIT) still makes the collector run near it.
//
// Replaying the log is different: each entry's message and every value it
// overwrites become garbage, so the collector must run, but with a small
// keyspace GOGC=100 runs it very often: replaying 1M SETs over 100k keys
// (13 MB live) took 30 cycles in 1.9 s, and GOGC=300 cut the replay's CPU
// by 18%. RelaxGC lets the heap grow by at least GCHeadroom past what is
// live, a bounded amount of memory, while a process replays before it
// serves.
var gcState struct {
	mu      sync.Mutex
	pauses  int           // PauseGC calls in effect
	relaxed int           // RelaxGC calls in effect
	base    int           // GC percent before the first of either
	percent int           // what was set last
	stop    chan struct{} // ends the goroutine that follows the live heap
}

// GCHeadroom is how far past its live heap RelaxGC lets the heap grow
// before a collection (at the least: GOGC's proportional goal, if larger,
// stays).
const GCHeadroom = 64 << 20

// PauseGC turns off the garbage collector's proportional trigger until the
// returned function is called (pauses nest). Callers use it around loading
// a snapshot into a process that serves nothing yet: a replica's first
// bootstrap, a master's recovery (at start, or after a log failure, when
// the keyspace it drops is garbage: the first pause collects what is
// garbage before it turns the trigger off, so that the load does not add
// to it).
func PauseGC() (resume func()) {
	gcState.mu.Lock()
	defer gcState.mu.Unlock()
	if gcState.pauses == 0 {
		runtime.GC()
	}
	beginGCLocked(&gcState.pauses)
	return sync.OnceFunc(func() { endGC(&gcState.pauses) })
}

// RelaxGC sets the collector's heap goal to at least the live heap plus
// GCHeadroom until the returned function is called (calls nest; a pause
// takes precedence, and GOGC=off stays off). Callers use it around
// replaying the log before a process serves: a replica's catch-up, a
// master's rebuild.
func RelaxGC() (restore func()) {
	gcState.mu.Lock()
	defer gcState.mu.Unlock()
	beginGCLocked(&gcState.relaxed)
	if gcState.relaxed == 1 {
		gcState.stop = make(chan struct{})
		go followLiveHeap(gcState.stop)
	}
	return sync.OnceFunc(func() { endGC(&gcState.relaxed) })
}

// beginGCLocked counts one more pause or relaxation (*n) and sets the GC
// percent for the new state. The caller holds gcState.mu.
func beginGCLocked(n *int) {
	if gcState.pauses+gcState.relaxed == 0 {
		gcState.base = gcPercent()
		gcState.percent = gcState.base
	}
	*n++
	setGCLocked()
}

// endGC counts one pause or relaxation (*n) less and sets the GC percent
// for the new state: the one before the first, when none is left.
func endGC(n *int) {
	gcState.mu.Lock()
	defer gcState.mu.Unlock()
	*n--
	if n == &gcState.relaxed && gcState.relaxed == 0 {
		close(gcState.stop)
	}
	setGCLocked()
}

// setGCLocked sets the GC percent the state asks for. The caller holds
// gcState.mu.
func setGCLocked() {
	p := gcState.base
	switch {
	case gcState.pauses > 0:
		p = -1
	case gcState.relaxed > 0:
		p = relaxedPercent(gcState.base, liveHeap())
	}
	if p != gcState.percent {
		debug.SetGCPercent(p)
		gcState.percent = p
	}
}

// relaxedPercent is the GC percent that puts the heap goal at least
// GCHeadroom past live bytes: base when that does already, or when base is
// off (negative). Live heaps under 4 MiB count as 4 MiB, the runtime's
// smallest heap goal at GOGC=100, which it scales by GOGC: the goal stays
// at most GCHeadroom plus that.
func relaxedPercent(base int, live uint64) int {
	if base < 0 {
		return base
	}
	live = max(live, 4<<20)
	return max(base, int(GCHeadroom*100/live))
}

// followLiveHeap re-targets the relaxed GC percent as the live heap grows,
// every 10 ms until stop is closed.
func followLiveHeap(stop <-chan struct{}) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		gcState.mu.Lock()
		if gcState.relaxed > 0 {
			setGCLocked()
		}
		gcState.mu.Unlock()
	}
}

// liveHeap returns the bytes the last collection found live.
func liveHeap() uint64 { return readMetric("/gc/heap/live:bytes") }

// gcPercent returns the GC percent in effect (-1: off), without setting it
// (debug.SetGCPercent(-1) would wait for a running collection to finish).
func gcPercent() int { return int(int64(readMetric("/gc/gogc:percent"))) }

// readMetric returns a uint64 runtime metric (0 if there is none).
func readMetric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
