package command_test

import (
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
)

// An engine built without a value codec (a bare engine in a test) answers
// DUMP and RESTORE with an error that says why, and stores nothing.
// snapshot/rdb's dump_test.go tests both commands with the codec.
func TestDumpRestoreWithoutCodec(t *testing.T) {
	e := command.New(command.Config{})
	e.Lock()
	cl := e.NewClient("c", "")
	e.Unlock()
	exec(e, cl, "SET", "k", "v")
	for _, args := range [][]string{
		{"DUMP", "k"},
		{"DUMP", "missing"},
		{"RESTORE", "new", "0", "\x00\x01v\x0a\x00" + strings.Repeat("\x00", 8)},
		{"RESTORE", "k", "0", "x", "REPLACE"},
	} {
		got := exec(e, cl, args...)
		if !strings.HasPrefix(got, "-ERR ferry: DUMP and RESTORE are not available") {
			t.Errorf("%q: %q", args, got)
		}
	}
	if got := exec(e, cl, "DBSIZE"); got != ":1\r\n" {
		t.Errorf("DBSIZE after the refused RESTOREs: %q", got)
	}
	if got := exec(e, cl, "GET", "k"); got != "$1\r\nv\r\n" {
		t.Errorf("GET k: %q", got)
	}
}
