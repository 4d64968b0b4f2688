package taker

import (
	"testing"
	"time"
)

// TestPacerRest: uncontended steps run back to back until they held the
// lock for idleRun, then rest minScanPause; a contended step rests
// scanRest times its hold (at least minScanPause) and starts the count
// again.
func TestPacerRest(t *testing.T) {
	var p pacer
	step := idleRun / 4
	for i, want := range []time.Duration{0, 0, 0, minScanPause, 0, 0, 0, minScanPause} {
		if got := p.rest(step, false); got != want {
			t.Fatalf("uncontended step %d: rest %v, want %v", i, got, want)
		}
	}
	if got := p.rest(step, false); got != 0 {
		t.Fatalf("uncontended step after a rest: %v, want 0", got)
	}
	if got := p.rest(step, true); got != scanRest*step {
		t.Fatalf("contended step of %v: rest %v, want %v", step, got, scanRest*step)
	}
	if got := p.rest(time.Microsecond, true); got != minScanPause {
		t.Fatalf("contended step of 1µs: rest %v, want %v", got, minScanPause)
	}
	// The contended step reset the count: three more steps before a rest.
	for i, want := range []time.Duration{0, 0, 0, minScanPause} {
		if got := p.rest(step, false); got != want {
			t.Fatalf("uncontended step %d after a contended one: rest %v, want %v", i, got, want)
		}
	}
}
