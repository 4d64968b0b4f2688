package command_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// TestGeoStoreUnitFitsAnEntry: a STORE that fits alone must still not let
// its transaction's or script's unit outgrow a log entry: the second of two
// 39 KB stores under a 64 KB limit is refused, in MULTI and in a script.
func TestGeoStoreUnitFitsAnEntry(t *testing.T) {
	const limit = 64 << 10
	e, cl, log := limitedEngine(limit)
	for i := 0; i < 40; i++ {
		args := []string{"GEOADD", "g"}
		for j := 0; j < 100; j++ {
			args = append(args, strconv.FormatFloat(float64(i)*0.01, 'f', 4, 64),
				strconv.FormatFloat(float64(j)*0.01, 'f', 4, 64), fmt.Sprintf("member-%04d-%04d", i, j))
		}
		exec(e, cl, args...)
	}
	search := func(dst string) []string {
		return []string{"GEOSEARCHSTORE", dst, "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1000", "km", "COUNT", "600"}
	}
	if got := exec(e, cl, search("alone")...); got != ":600\r\n" {
		t.Fatalf("one store: %q", got)
	}
	log.units = nil
	exec(e, cl, "MULTI")
	exec(e, cl, search("d1")...)
	exec(e, cl, search("d2")...)
	got := exec(e, cl, "EXEC")
	if !strings.HasPrefix(got, "*2\r\n:600\r\n-ERR ferry: ") {
		t.Fatalf("EXEC of two stores: %q", got)
	}
	got = exec(e, cl, "EVAL", "redis.call('GEOSEARCHSTORE', 'd3', 'g', 'FROMLONLAT', 0, 0, 'BYRADIUS', 1000, 'km', 'COUNT', 600) "+
		"return redis.pcall('GEOSEARCHSTORE', 'd4', 'g', 'FROMLONLAT', 0, 0, 'BYRADIUS', 1000, 'km', 'COUNT', 600)", "0")
	if !strings.HasPrefix(got, "-ERR ferry: ") {
		t.Fatalf("a script's second store: %q", got)
	}
	for _, u := range log.units {
		if len(u) > limit {
			t.Fatalf("a unit of %d bytes, more than the %d-byte limit", len(u), limit)
		}
	}
}
