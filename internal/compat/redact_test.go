package compat

import (
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// migrateRedacted are MIGRATE commands whose credentials Redis hides from
// MONITOR and the slow log: AUTH's password, AUTH2's user name and
// password, as its option parser meets them, up to KEYS or an option it
// does not know (an AUTH without its value is a syntax error and shows).
// No key exists, so each answers NOKEY or a syntax error without
// connecting to the target.
var migrateRedacted = [][]string{
	{"MIGRATE", "127.0.0.1", "1", "nokey", "0", "100", "AUTH", "secret"},
	{"MIGRATE", "127.0.0.1", "1", "nokey", "0", "100", "AUTH2", "user", "secret"},
	{"MIGRATE", "127.0.0.1", "1", "", "0", "100", "COPY", "AUTH", "p1", "REPLACE", "AUTH2", "u2", "p2", "KEYS", "AUTH", "k"},
	{"MIGRATE", "127.0.0.1", "1", "nokey", "0", "100", "AUTH", "p1", "BOGUS", "AUTH", "p2"},
	{"MIGRATE", "127.0.0.1", "1", "nokey", "0", "100", "AUTH2", "onlyuser"},
	{"MIGRATE", "127.0.0.1", "1", "nokey", "0", "100", "COPY", "AUTH"},
	{"MIGRATE", "127.0.0.1", "1", "nokey", "0", "100", "auth", "p", "auth2", "u", "p"},
}

// TestMigrateRedacted compares MONITOR's lines and SLOWLOG's entries of
// MIGRATE commands with credentials, and of CONFIG SET with several
// sensitive settings, with redis-server's (found by Redis's 'SLOWLOG -
// Some commands can redact sensitive fields' test: ferry showed MIGRATE's
// passwords, and only the first of CONFIG SET's sensitive values, and ACL
// SETUSER's arguments).
func TestMigrateRedacted(t *testing.T) {
	redisAddr := redistest.Redis(t)
	_, ferryAddr := redistest.Ferry(t, command.Config{})
	var inline []string
	for _, cmd := range migrateRedacted {
		q := make([]string, len(cmd))
		for i, a := range cmd {
			q[i] = `"` + a + `"`
		}
		inline = append(inline, strings.Join(q, " "))
	}
	want, wantReplies := monitorSession(t, redisAddr, inline)
	got, gotReplies := monitorSession(t, ferryAddr, inline)
	for i := range inline {
		if gotReplies[i] != wantReplies[i] {
			t.Errorf("%s: ferry %q, redis %q", inline[i], gotReplies[i], wantReplies[i])
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ferry's monitor:\n%s\nredis's:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// CONFIG SET redacts every sensitive value, whatever the reply (ferry
	// has no masteruser: the error differs, the entry does not), ACL
	// SETUSER every argument after SETUSER.
	cmds := append(migrateRedacted[:len(migrateRedacted):len(migrateRedacted)],
		[]string{"CONFIG", "SET", "requirepass", "", "masteruser", "mu"},
		[]string{"CONFIG", "SET", "masteruser", "mu", "hz", "10", "requirepass", ""},
		[]string{"ACL", "SETUSER", "someone", "on", ">secret", "+get"},
	)
	gotSlow, wantSlow := slowlogSession(t, ferryAddr, cmds), slowlogSession(t, redisAddr, cmds)
	if gotSlow != wantSlow {
		t.Errorf("SLOWLOG GET -1\n ferry: %q\n redis: %q", gotSlow, wantSlow)
	}
}
