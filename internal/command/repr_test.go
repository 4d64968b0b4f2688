package command_test

import (
	"testing"

	"github.com/ferrydb/ferry/internal/command"
)

// TestAppendRepr: arguments are quoted as Redis's sdscatrepr (MONITOR,
// redis-cli, ferry log show) prints them.
func TestAppendRepr(t *testing.T) {
	for in, want := range map[string]string{
		"":                     `""`,
		"plain text":           `"plain text"`,
		"\"\\":                 `"\"\\"`,
		"\n\r\t\a\b":           `"\n\r\t\a\b"`,
		"\x00\x1f\x7f\x80\xff": `"\x00\x1f\x7f\x80\xff"`,
		"caf\u00e9 ~":          `"caf\xc3\xa9 ~"`,
	} {
		if got := string(command.AppendRepr(nil, []byte(in))); got != want {
			t.Errorf("%q quoted as %s, want %s", in, got, want)
		}
	}
}
