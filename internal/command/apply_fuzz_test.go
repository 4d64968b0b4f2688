package command_test

import (
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/resp"
)

// fuzzBase is the dataset FuzzApply's entries land on: a key of every
// type, in two databases, one with an expiry time.
var fuzzBase = [][]string{
	{"SET", "s", "text"}, {"SET", "n", "12"}, {"PEXPIREAT", "n", "4102444800000"},
	{"RPUSH", "l", "a", "b", "c"}, {"HSET", "h", "f", "v", "g", "w"},
	{"SADD", "set", "1", "2", "x"}, {"ZADD", "z", "1", "a", "2.5", "b"},
	{"XADD", "st", "1-1", "f", "v"}, {"XGROUP", "CREATE", "st", "g", "0"},
	{"PFADD", "hll", "a", "b"}, {"SELECT", "1"}, {"SET", "s", "db1"},
}

// fuzzEntry encodes commands as one log entry (TestApplyOpenTransaction
// uses it too).
func fuzzEntry(cmds ...[]string) []byte {
	var out []byte
	for _, c := range cmds {
		b := make([][]byte, len(c))
		for i, a := range c {
			b[i] = []byte(a)
		}
		out = resp.AppendCommand(out, b...)
	}
	return out
}

// replicable reports whether every command of entry is one a master's log
// may carry (a write, MULTI, EXEC, SELECT, PING), and none that waits on
// something outside the engine. Other commands are never in the log, and
// some (a script's endless loop, MIGRATE's connection, DEBUG SLEEP) would
// only stall the fuzzer. An entry that does not parse counts as
// replicable: the applier must refuse it.
func replicable(tab *command.Table, entry []byte) bool {
	ok := true
	_, err := resp.ParseCommands(entry, nil, func(args [][]byte, _ []byte) error {
		if len(args) == 0 {
			return nil
		}
		cmd := tab.Lookup(args[0])
		if cmd == nil {
			return nil // an unknown command: the applier must refuse it
		}
		if cmd.Sub != nil && len(args) > 1 {
			if sub := cmd.Sub[strings.ToLower(string(args[1]))]; sub != nil {
				cmd = sub
			}
		}
		switch cmd.Name {
		case "multi", "exec", "select", "ping":
			return nil
		case "migrate", "function|load", "function|restore":
			ok = false // a connection; library code that runs at load
			return nil
		}
		if cmd.Flags&command.Write == 0 || cmd.Flags&command.Blocking != 0 {
			ok = false
		}
		return nil
	})
	return ok || err != nil
}

// FuzzApply hands arbitrary bytes to a replica's applier as one log entry,
// on a dataset of every type. Whatever the bytes: the applier does not
// panic; an entry that does not parse changes nothing (the dataset's
// digest is the same); and the engine then applies a good entry and
// answers a client.
func FuzzApply(f *testing.F) {
	for _, seed := range [][]byte{
		fuzzEntry([]string{"SET", "a", "1"}),
		fuzzEntry([]string{"MULTI"}, []string{"INCR", "n"}, []string{"LPUSH", "l", "z"}, []string{"EXEC"}),
		fuzzEntry([]string{"SELECT", "1"}, []string{"DEL", "s"}, []string{"SELECT", "0"}, []string{"HDEL", "h", "f"}),
		fuzzEntry([]string{"XADD", "st", "2-1", "a", "b"}, []string{"XGROUP", "SETID", "st", "g", "1-1", "ENTRIESREAD", "1"}),
		fuzzEntry([]string{"ZINCRBY", "z", "1.5", "c"}, []string{"SREM", "set", "x"}, []string{"PFADD", "hll", "c"}),
		fuzzEntry([]string{"RESTORE", "r", "0", "\x00\x03abc\n\x00\xf8\xb5\x92\xe1\xb9\x8c\xcd\x88"}),
		fuzzEntry([]string{"SETRANGE", "s", "3", "xyz"}, []string{"PEXPIREAT", "l", "1"}),
		fuzzEntry([]string{"INCR", "s"}),
		[]byte("*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$1\r\n1\r\nnot RESP"),
		[]byte("*2\r\n$3\r\nDEL\r\n$9\r\nl\r\n"),
		[]byte("PING\r\n"),
	} {
		f.Add(seed)
	}
	base := fuzzEntry(fuzzBase...)
	good := fuzzEntry([]string{"SET", "after", "1"})
	f.Fuzz(func(t *testing.T, entry []byte) {
		e := command.New(command.Config{})
		if !replicable(e.Table(), entry) {
			t.Skip("a command a master's log never carries")
		}
		ap := e.NewApplier()
		if err := ap.Apply(base); err != nil {
			t.Fatalf("base dataset: %v", err)
		}
		e.Lock()
		before := e.Keyspace().Digest()
		e.Unlock()

		err := ap.Apply(entry)
		if err != nil && strings.Contains(err.Error(), "malformed entry") {
			e.Lock()
			after := e.Keyspace().Digest()
			e.Unlock()
			if after != before {
				t.Fatalf("a malformed entry (%v) changed the dataset: digest %s, was %s", err, after.Hex(), before.Hex())
			}
		}
		if gerr := ap.Apply(good); gerr != nil {
			t.Fatalf("a good entry after %q (%v): %v", entry, err, gerr)
		}
		e.Lock()
		cl := e.NewClient("fuzz", "")
		e.Unlock()
		if got := exec(e, cl, "GET", "after"); got != "$1\r\n1\r\n" {
			t.Fatalf("GET after = %q, want 1", got)
		}
	})
}
