package command

import (
	"os"
	"strings"
	"sync"
	_ "unsafe" // go:linkname
)

// Commands are timed with the cheapest monotonic clock at hand: the
// processor's time-stamp counter (RDTSC, about 8 ns here against 22 ns for
// the runtime's monotonic clock) when the kernel itself keeps time with it
// (its clocksource is "tsc": the counter is constant and synchronized
// across processors), else the runtime's monotonic clock. Durations are
// kept in ticks and converted to nanoseconds with the counter's rate,
// measured once against the monotonic clock.

//go:linkname nanotime runtime.nanotime
func nanotime() int64

var (
	clockOnce  sync.Once
	useTSC     bool
	nsPerTick  float64 = 1
	clockSrcFn         = "/sys/devices/system/clocksource/clocksource0/current_clocksource"
)

// initClock decides on the clock, measuring the counter's rate over 2 ms
// the first time an engine is made.
func initClock() {
	clockOnce.Do(func() {
		if !haveTSC {
			return
		}
		src, err := os.ReadFile(clockSrcFn)
		if err != nil || strings.TrimSpace(string(src)) != "tsc" {
			return
		}
		c0, n0 := rdtsc(), nanotime()
		for nanotime()-n0 < 2_000_000 {
		}
		c1, n1 := rdtsc(), nanotime()
		if c1 <= c0 {
			return
		}
		nsPerTick = float64(n1-n0) / float64(c1-c0)
		useTSC = true
	})
}

// ticks reads the command clock.
func ticks() int64 {
	if useTSC {
		return rdtsc()
	}
	return runtimeNano()
}

// runtimeNano is the runtime's monotonic clock.
func runtimeNano() int64 { return nanotime() }

// tickNanos converts a duration in ticks to nanoseconds (0 if negative).
func tickNanos(t int64) int64 {
	if t <= 0 {
		return 0
	}
	if useTSC {
		return int64(float64(t) * nsPerTick)
	}
	return t
}

// nanoTicks converts nanoseconds to ticks, rounding down.
func nanoTicks(ns int64) int64 {
	if useTSC {
		return int64(float64(ns) / nsPerTick)
	}
	return ns
}
