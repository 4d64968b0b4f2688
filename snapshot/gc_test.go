package snapshot

import (
	"runtime/debug"
	"testing"
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
