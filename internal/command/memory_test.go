package command_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// MEMORY USAGE: an estimate that grows with the value, for every type,
// from a sample or (SAMPLES 0) every element.
func TestMemoryUsage(t *testing.T) {
	_, addr := redistest.Ferry(t, command.Config{})
	c := redistest.Dial(t, addr)
	usage := func(args ...string) int {
		t.Helper()
		got := c.Do(append([]string{"MEMORY", "USAGE"}, args...)...)
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(got, ":"), "\r\n"))
		if err != nil || !strings.HasPrefix(got, ":") {
			t.Fatalf("MEMORY USAGE %q = %q", args, got)
		}
		return n
	}
	c.Do("SET", "small", "v")
	c.Do("SET", "big", strings.Repeat("x", 10000))
	if s, b := usage("small"), usage("big"); s <= 1 || b < 10000 || b <= s {
		t.Fatalf("strings: 1 byte %d, 10000 bytes %d", s, b)
	}
	for _, fill := range [][]string{
		{"RPUSH", "list"}, {"SADD", "set"}, {"HSET", "hash"}, {"ZADD", "zset"},
	} {
		key := fill[1]
		for i := range 1000 {
			m := "member-" + strconv.Itoa(i)
			switch key {
			case "hash":
				c.Do(fill[0], key, m, "value")
			case "zset":
				c.Do(fill[0], key, strconv.Itoa(i), m)
			default:
				c.Do(fill[0], key, m)
			}
		}
		sampled, all := usage(key), usage(key, "SAMPLES", "0")
		if sampled < 1000*len("member-1") || all < 1000*len("member-1") {
			t.Fatalf("%s of 1000 members: %d sampled, %d from all; want at least their bytes", key, sampled, all)
		}
	}
	if got := c.Do("MEMORY", "PURGE"); got != "+OK\r\n" {
		t.Fatalf("MEMORY PURGE = %q", got)
	}
}
