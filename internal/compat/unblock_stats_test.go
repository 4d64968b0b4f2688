package compat

import (
	"regexp"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// unblockSession blocks a client in BLPOP and ends the wait with CLIENT
// UNBLOCK <id> <how>, then returns the blocked client's reply, the
// BLPOP line of INFO commandstats (durations masked), INFO errorstats
// and total_error_replies.
func unblockSession(t *testing.T, addr, how string) string {
	t.Helper()
	a, b := redistest.Dial(t, addr), redistest.Dial(t, addr)
	defer a.Close()
	defer b.Close()
	b.Do("DEL", "ul")
	b.Do("CONFIG", "RESETSTAT")
	id := strings.TrimSpace(strings.TrimPrefix(a.Do("CLIENT", "ID"), ":"))
	a.WriteRaw(redistest.Encode("BLPOP", "ul", "0"))
	b.WaitInfo("clients", "blocked_clients", "1")
	unblock := b.Do("CLIENT", "UNBLOCK", id, how)
	reply := a.Read()
	stats := regexp.MustCompile(`cmdstat_blpop:[^\r]*`).FindString(b.Do("INFO", "commandstats"))
	stats = regexp.MustCompile(`usec=\d+,usec_per_call=\d+\.\d\d,`).ReplaceAllString(stats, "")
	errs := b.Do("INFO", "errorstats")
	total := regexp.MustCompile(`total_error_replies:\d+`).FindString(b.Do("INFO", "stats"))
	return unblock + reply + stats + "\n" + errs + total
}

// TestClientUnblockStats checks that a blocked command ended by CLIENT
// UNBLOCK is counted as Redis counts it: one call, failed for ERROR and
// TIMEOUT alike, and the UNBLOCKED error in errorstats (found by Redis's
// 'errorstats: blocking commands' test; ferry counted nothing for ERROR).
func TestClientUnblockStats(t *testing.T) {
	redisAddr := redistest.Redis(t)
	_, ferryAddr := redistest.Ferry(t, command.Config{})
	for _, how := range []string{"ERROR", "TIMEOUT"} {
		got, want := unblockSession(t, ferryAddr, how), unblockSession(t, redisAddr, how)
		if got != want {
			t.Errorf("CLIENT UNBLOCK %s\n ferry: %q\n redis: %q", how, got, want)
		}
	}
}
