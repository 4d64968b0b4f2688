package rdb

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

// TestLoadBothWays: the load stores keys from a second goroutine when the
// process has more than one processor, and in line otherwise; both give
// the same keyspace and the same errors.
func TestLoadBothWays(t *testing.T) {
	ks := mixedDataset(3000)
	data := encodeBytes(t, ks, Meta{Offset: 9})
	str := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	dup := rdbWith([]byte{0}, str("k"), str("v"), []byte{0}, str("x"), str("y"), []byte{0}, str("k"), str("w"))
	// A duplicate, then damage further on: the duplicate is reported, as
	// it comes first.
	dupThenBad := rdbWith([]byte{0}, str("k"), str("v"), []byte{0}, str("k"), str("w"), []byte{200})
	for _, procs := range []int{1, 2} {
		prev := runtime.GOMAXPROCS(procs)
		got, meta, err := loadBytes(data)
		if err != nil || meta.Offset != 9 {
			t.Fatalf("procs %d: %v", procs, err)
		}
		if d := diffKeyspaces(ks, got); d != "" {
			t.Fatalf("procs %d: %s", procs, d)
		}
		for name, b := range map[string][]byte{"duplicate": dup, "duplicate then damage": dupThenBad} {
			_, _, err = loadBytes(b)
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `key "k" (db 0): duplicate key`) {
				t.Fatalf("procs %d, %s: %v", procs, name, err)
			}
		}
		runtime.GOMAXPROCS(prev)
	}
}
