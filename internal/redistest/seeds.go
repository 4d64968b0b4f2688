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
	return SeedsFrom(tb, "FERRY_DIFF", fixed, def)
}

// SeedsFrom is Seeds with the variables PREFIX_SEED and PREFIX_STEPS.
func SeedsFrom(tb testing.TB, prefix string, fixed []uint64, def int) ([]uint64, int) {
	tb.Helper()
	seeds, steps := fixed, def
	if s := os.Getenv(prefix + "_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			tb.Fatalf("%s_SEED=%q: %v", prefix, s, err)
		}
		seeds = []uint64{n}
	}
	if s := os.Getenv(prefix + "_STEPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			tb.Fatalf("%s_STEPS=%q: not a positive number", prefix, s)
		}
		steps = n
	}
	return seeds, steps
}
