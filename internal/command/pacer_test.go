package command

import (
	"testing"
	"time"
)

// TestPacerRest: holds nothing else interrupted follow each other until
// they held the lock for idleRun, then rest minScanPause; a hold after
// which something else took the lock rests scanRest times as long (at
// least minScanPause) and starts the count again. Whether anything did is
// read from the engine's count of holds.
func TestPacerRest(t *testing.T) {
	e := New(Config{})
	e.Lock()
	p := e.NewPacer()
	e.Unlock()
	step := idleRun / 4
	// holdFor is a hold of d after others took the lock others times.
	holdFor := func(others int, d time.Duration) time.Duration {
		for range others {
			e.ActiveExpire() // another hold of the lock
		}
		e.Lock()
		p.Hold()
		e.Unlock()
		return p.rest(d)
	}
	hold := func(others int) time.Duration { return holdFor(others, step) }
	for i, want := range []time.Duration{0, 0, 0, minScanPause, 0, 0, 0, minScanPause, 0} {
		if got := hold(0); got != want {
			t.Fatalf("hold %d with nothing else: rest %v, want %v", i, got, want)
		}
	}
	if got := hold(1); got != scanRest*step {
		t.Fatalf("hold of %v after another's: rest %v, want %v", step, got, scanRest*step)
	}
	if got := holdFor(1, time.Microsecond); got != minScanPause {
		t.Fatalf("hold of 1µs after another's: rest %v, want %v", got, minScanPause)
	}
	if got := hold(3); got != scanRest*step {
		t.Fatalf("hold after three others': rest %v, want %v", got, scanRest*step)
	}
	// The contended hold started the count again: three more before a rest.
	for i, want := range []time.Duration{0, 0, 0, minScanPause} {
		if got := hold(0); got != want {
			t.Fatalf("hold %d with nothing else after a contended one: rest %v, want %v", i, got, want)
		}
	}
}
