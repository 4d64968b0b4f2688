package command_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
)

// TestSpopUnitFitsAnEntry: SPOP's check of its effect's size counts what
// the unit already holds, so two large pops in one transaction or script
// cannot make a unit larger than a log entry (the master would rebuild and
// the client get no reply): the second is refused.
func TestSpopUnitFitsAnEntry(t *testing.T) {
	const limit = 64 << 10
	e, cl, log := limitedEngine(limit)
	for i := 0; i < 8; i++ {
		args := []string{"SADD", "s"}
		for j := 0; j < 500; j++ {
			args = append(args, "member-"+strconv.Itoa(i)+"-"+strconv.Itoa(j)+strings.Repeat("x", 20))
		}
		exec(e, cl, args...)
	}
	// One pop of 700 members (about 40 KB of SREM) fits alone.
	if got := exec(e, cl, "SPOP", "s", "700"); !strings.HasPrefix(got, "*700\r\n") {
		t.Fatalf("one SPOP: %.60q", got)
	}
	log.units = nil
	exec(e, cl, "MULTI")
	exec(e, cl, "SPOP", "s", "700")
	exec(e, cl, "SPOP", "s", "700")
	if got := exec(e, cl, "EXEC"); !strings.HasPrefix(got, "*2\r\n*700\r\n") || !strings.Contains(got, "-ERR ferry: ") {
		t.Fatalf("EXEC of two SPOPs: %.80q ... %.120q", got, got[max(0, len(got)-120):])
	}
	got := exec(e, cl, "EVAL", "redis.call('SPOP', 's', 700) return redis.pcall('SPOP', 's', 700)", "0")
	if !strings.HasPrefix(got, "-ERR ferry: ") {
		t.Fatalf("a script's second SPOP: %.80q", got)
	}
	for _, u := range log.units {
		if len(u) > limit {
			t.Fatalf("a unit of %d bytes, more than the %d-byte limit", len(u), limit)
		}
	}
}

// limitedEngine returns an engine whose writes are limited to units of
// limit bytes (SetMaxWriteBytes), a client, and the log of its units.
func limitedEngine(limit int) (*command.Engine, *command.Client, *unitLog) {
	e := command.New(command.Config{})
	log := &unitLog{}
	e.SetLog(log)
	e.Lock()
	defer e.Unlock()
	e.SetMaxWriteBytes(limit)
	return e, e.NewClient("c", ""), log
}
