package snapshot

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPauseGCNestsAndRestores(t *testing.T) {
	before := debug.SetGCPercent(150)
	defer debug.SetGCPercent(before)
	r1 := PauseGC()
	r2 := PauseGC()
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Fatalf("GC percent during a pause = %d, want -1 (off)", p)
	}
	r1()
	r1() // a second call does nothing
	if p := debug.SetGCPercent(-1); p != -1 {
		t.Fatalf("GC percent with one pause left = %d, want -1", p)
	}
	r2()
	if p := debug.SetGCPercent(150); p != 150 {
		t.Fatalf("GC percent after the pauses = %d, want 150 restored", p)
	}
}

func TestRelaxGCFollowsTheLiveHeap(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	live := make([][]byte, 0, 64)
	for range 16 {
		live = append(live, make([]byte, 1<<20))
	}
	runtime.GC()
	restore := RelaxGC()
	first := waitRelaxed(t)
	if first <= 100 || first > GCHeadroom*100/(16<<20) {
		t.Fatalf("GC percent relaxed with %d bytes live = %d, want above 100 and at most %d", liveHeap(), first, GCHeadroom*100/(16<<20))
	}
	// The heap goal is the live heap plus the headroom (stacks and
	// globals count toward it too: a little more).
	if goal, live := readMetric("/gc/heap/goal:bytes"), liveHeap(); goal < live+GCHeadroom || goal > live+GCHeadroom+4<<20 {
		t.Fatalf("heap goal %d with %d bytes live, want %d plus up to 4 MiB", goal, live, live+GCHeadroom)
	}

	// A heap that grows is followed: with 4x as much live the percent
	// falls to about a quarter (never under GOGC's).
	for range 48 {
		live = append(live, make([]byte, 1<<20))
	}
	runtime.GC()
	if grown := waitRelaxed(t); grown >= first/2 {
		t.Fatalf("GC percent after the live heap grew to %d bytes = %d, want under half of %d", liveHeap(), grown, first)
	}

	// A pause inside takes precedence, and the relaxed percent comes back.
	resume := PauseGC()
	if p := currentGCPercent(); p != -1 {
		t.Fatalf("GC percent during a pause inside a relaxation = %d, want -1", p)
	}
	resume()
	waitRelaxed(t)
	restore()
	restore()
	if p := currentGCPercent(); p != 100 {
		t.Fatalf("GC percent after the relaxation = %d, want 100 restored", p)
	}
	runtime.KeepAlive(live)
}

// waitRelaxed waits until the GC percent is what RelaxGC asks for the live
// heap with GOGC=100, and returns it.
func waitRelaxed(t *testing.T) int {
	t.Helper()
	var p, want int
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		p, want = currentGCPercent(), relaxedPercent(100, liveHeap())
		if p == want {
			return p
		}
	}
	t.Fatalf("GC percent = %d, want %d for %d bytes live", p, want, liveHeap())
	return 0
}

func TestRelaxGCKeepsGCOff(t *testing.T) {
	before := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(before)
	restore := RelaxGC()
	defer restore()
	if p := currentGCPercent(); p != -1 {
		t.Fatalf("GC percent relaxed with GOGC=off = %d, want -1", p)
	}
}

func TestRelaxedPercent(t *testing.T) {
	for _, c := range []struct {
		base int
		live uint64
		want int
	}{
		{100, 0, 1600},       // nothing measured yet: as if 4 MiB
		{100, 1 << 20, 1600}, // under 4 MiB: as 4 MiB
		{100, 16 << 20, 400},
		{100, 64 << 20, 100},
		{100, 1 << 30, 100},
		{300, 32 << 20, 300},
		{-1, 16 << 20, -1},
	} {
		if got := relaxedPercent(c.base, c.live); got != c.want {
			t.Errorf("relaxedPercent(%d, %d) = %d, want %d", c.base, c.live, got, c.want)
		}
	}
}

// currentGCPercent reads the GC percent without changing it.
func currentGCPercent() int { return gcPercent() }
