package snapshot

import (
	"runtime"
	"sync"
)

// Servers run on few Go processors (ferry's --procs, 1 by default: the
// engine runs one command at a time and more processors only add lock
// hand-offs). Compressing or decompressing a snapshot is background work
// that would then share the one processor with every client, and Go's
// scheduler slices CPU-bound goroutines in 10 ms quanta: measured, SET p99
// went from 5.6 ms to 278 ms during a snapshot of 1M keys on 2 cores. So
// while snapshot work runs, the process borrows the machine's other cores
// (and so does a replica until it has caught up with the log).
var cores struct {
	mu       sync.Mutex
	borrowed int // snapshot operations running
	saved    int // GOMAXPROCS before the first
}

// BorrowCores raises GOMAXPROCS to the number of CPUs for the duration of
// background work (a snapshot operation, a replica's first catch-up); the
// returned function gives them back when the last borrower ends (unless
// someone else changed GOMAXPROCS meanwhile). Call it once.
func BorrowCores() (giveBack func()) {
	cores.mu.Lock()
	defer cores.mu.Unlock()
	n := runtime.NumCPU()
	if cores.borrowed == 0 {
		cores.saved = runtime.GOMAXPROCS(0)
		if cores.saved < n {
			runtime.GOMAXPROCS(n)
		}
	}
	cores.borrowed++
	return func() {
		cores.mu.Lock()
		defer cores.mu.Unlock()
		cores.borrowed--
		if cores.borrowed == 0 && cores.saved < n && runtime.GOMAXPROCS(0) == n {
			runtime.GOMAXPROCS(cores.saved)
		}
	}
}
