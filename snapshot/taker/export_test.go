package taker

import "time"

// SetSleep makes the scan rest through f instead of time.Sleep until the
// returned function restores it.
func SetSleep(f func(time.Duration)) (restore func()) {
	sleep = f
	return func() { sleep = time.Sleep }
}
