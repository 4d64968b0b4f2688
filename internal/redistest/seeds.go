package redistest

import (
	"os"
	"strconv"
	"testing"
)

// Seeds returns the seeds a randomized test runs and the steps for each:
// fixed with def steps, or the one seed FERRY_DIFF_SEED names and
// FERRY_DIFF_STEPS steps, to replay a failure or run longer by hand.
func Seeds(tb testing.TB, fixed []uint64, def int) ([]uint64, int) {
	tb.Helper()
	seeds, steps := fixed, def
	if s := os.Getenv("FERRY_DIFF_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			tb.Fatalf("FERRY_DIFF_SEED=%q: %v", s, err)
		}
		seeds = []uint64{n}
	}
	if s := os.Getenv("FERRY_DIFF_STEPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			tb.Fatalf("FERRY_DIFF_STEPS=%q: not a positive number", s)
		}
		steps = n
	}
	return seeds, steps
}
