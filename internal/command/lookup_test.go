package command_test

import (
	"testing"

	"github.com/ferrydb/ferry/internal/command"
)

// TestLookupRemembersLastCommand: the engine remembers the last command it
// looked up (a pipeline repeats one); names in any case, names of another
// length or that differ in one letter, and unknown names after a known one
// still find what they name.
func TestLookupRemembersLastCommand(t *testing.T) {
	e := command.New(command.Config{})
	e.Lock()
	cl := e.NewClient("c", "")
	e.Unlock()
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"SET", "k", "1"}, "+OK\r\n"},
		{[]string{"set", "k", "2"}, "+OK\r\n"},
		{[]string{"sEt", "k", "3"}, "+OK\r\n"},
		{[]string{"GET", "k"}, "$1\r\n3\r\n"},
		{[]string{"SETX", "k"}, "-ERR unknown command 'SETX', with args beginning with: 'k' \r\n"},
		{[]string{"get", "k"}, "$1\r\n3\r\n"},
		{[]string{"gex", "k"}, "-ERR unknown command 'gex', with args beginning with: 'k' \r\n"},
		{[]string{"INCR", "n"}, ":1\r\n"},
		{[]string{"INCRBY", "n", "2"}, ":3\r\n"},
		{[]string{"incr", "n"}, ":4\r\n"},
	}
	for _, s := range steps {
		if got := exec(e, cl, s.args...); got != s.want {
			t.Fatalf("%q: %q, want %q", s.args, got, s.want)
		}
	}
}
