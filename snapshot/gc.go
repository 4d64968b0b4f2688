package snapshot

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// A first load builds a keyspace in a process that holds nothing else: all
// it allocates stays live, so every collection cycle the heap's growth
// triggers (at 4, 8, 16 ... MiB with GOGC=100) only marks what was loaded
// so far again. Measured on the 1M-key benchmark dataset: a quarter of the
// load's CPU. PauseGC turns the proportional trigger off for such a load;
// a memory limit (GOMEMLIMIT) still makes the collector run near it.
var gcPause struct {
	mu    sync.Mutex
	n     int // pauses in effect
	saved int // GC percent before the first
}

// PauseGC turns off the garbage collector's proportional trigger until the
// returned function is called (pauses nest). Callers use it around loading
// a snapshot into a process that serves nothing yet: a replica's first
// bootstrap, a master's recovery (at start, or after a log failure, when
// the keyspace it drops is garbage: the first pause collects what is
// garbage before it turns the trigger off, so that the load does not add
// to it).
func PauseGC() (resume func()) {
	gcPause.mu.Lock()
	defer gcPause.mu.Unlock()
	if gcPause.n == 0 {
		runtime.GC()
		gcPause.saved = debug.SetGCPercent(-1)
	}
	gcPause.n++
	var once sync.Once
	return func() {
		once.Do(func() {
			gcPause.mu.Lock()
			defer gcPause.mu.Unlock()
			gcPause.n--
			if gcPause.n == 0 {
				debug.SetGCPercent(gcPause.saved)
			}
		})
	}
}
