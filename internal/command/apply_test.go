package command_test

import (
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/resp"
)

// TestApplyRun: a run of entries is applied in order, each starting in
// database 0, then called back by index; an entry that fails stops the run
// with the entries before it applied and called back, and none after.
func TestApplyRun(t *testing.T) {
	e := command.New(command.Config{})
	ap := e.NewApplier()
	cmd := func(args ...string) []byte {
		var b [][]byte
		for _, a := range args {
			b = append(b, []byte(a))
		}
		return resp.AppendCommand(nil, b...)
	}
	run := [][]byte{
		cmd("SET", "a", "1"),
		append(cmd("SELECT", "3"), cmd("SET", "b", "2")...),
		cmd("SET", "c", "3"), // database 0 again
		cmd("INCR", "a"),
		cmd("NOSUCHCOMMAND"),
		cmd("SET", "d", "4"),
	}
	var called []int
	n, err := ap.ApplyRun(run, func(i int) { called = append(called, i) })
	if n != 4 || err == nil || !strings.Contains(err.Error(), "NOSUCHCOMMAND") {
		t.Fatalf("ApplyRun = %d, %v; want 4 and the unknown command's error", n, err)
	}
	if len(called) != 4 || called[3] != 3 {
		t.Fatalf("called back for %v, want 0 to 3", called)
	}
	e.Lock()
	defer e.Unlock()
	ks := e.Keyspace()
	for _, c := range []struct {
		db   int
		key  string
		want string
	}{{0, "a", "2"}, {3, "b", "2"}, {0, "c", "3"}, {0, "d", ""}, {3, "c", ""}} {
		got := ""
		if o := ks.DB(c.db).Get(c.key); o != nil {
			got = string(o.Str())
		}
		if got != c.want {
			t.Errorf("db %d key %s = %q, want %q", c.db, c.key, got, c.want)
		}
	}
}

// TestApplyRunLong: a run longer than one hold of the lock is applied in
// order across holds, indexes counted over the whole run, and stops at
// its failing entry.
func TestApplyRunLong(t *testing.T) {
	e := command.New(command.Config{})
	ap := e.NewApplier()
	incr := resp.AppendCommand(nil, []byte("INCR"), []byte("n"))
	run := make([][]byte, 700)
	for i := range run {
		run[i] = incr
	}
	run[600] = resp.AppendCommand(nil, []byte("NOSUCHCOMMAND"))
	next := 0
	n, err := ap.ApplyRun(run, func(i int) {
		if i != next {
			t.Errorf("called back for %d, want %d", i, next)
		}
		next++
	})
	if n != 600 || err == nil || next != 600 {
		t.Fatalf("ApplyRun = %d, %v after %d callbacks; want 600 and an error", n, err, next)
	}
	e.Lock()
	defer e.Unlock()
	if o := e.Keyspace().DB(0).Get("n"); o == nil || string(o.Str()) != "600" {
		t.Fatalf("n after the run: %v, want 600", o)
	}
}

// TestApplyMalformedEntryChangesNothing: an entry of several commands
// whose end does not parse (corrupt, cut short, or published by something
// else than a master) is refused whole, naming the byte, with none of its
// commands applied; the entries before it stay applied.
func TestApplyMalformedEntryChangesNothing(t *testing.T) {
	cmd := func(args ...string) []byte {
		var b [][]byte
		for _, a := range args {
			b = append(b, []byte(a))
		}
		return resp.AppendCommand(nil, b...)
	}
	good := append(cmd("SET", "a", "1"), cmd("SET", "b", "2")...)
	for name, bad := range map[string][]byte{
		"garbage after":   append(append([]byte{}, good...), "hello\r\n"...),
		"cut short":       good[:len(good)-3],
		"bulk too long":   append(append([]byte{}, good...), "*2\r\n$3\r\nDEL\r\n$9\r\na\r\n"...),
		"second is bad":   append(cmd("SET", "a", "1"), "*1\r\n$x\r\n"...),
		"inline after it": append(cmd("SET", "a", "1"), "SET b 2\r\n"...),
	} {
		t.Run(name, func(t *testing.T) {
			e := command.New(command.Config{})
			ap := e.NewApplier()
			n, err := ap.ApplyRun([][]byte{cmd("SET", "before", "x"), bad}, nil)
			if n != 1 || err == nil || !strings.Contains(err.Error(), "malformed entry") || !strings.Contains(err.Error(), "at byte") {
				t.Fatalf("ApplyRun = %d, %v; want 1 and a malformed-entry error", n, err)
			}
			if err := ap.Apply(bad); err == nil {
				t.Fatal("Apply of the bad entry succeeded")
			}
			e.Lock()
			defer e.Unlock()
			ks := e.Keyspace()
			if ks.DB(0).Get("before") == nil {
				t.Error("the entry before the bad one is not applied")
			}
			for _, k := range []string{"a", "b"} {
				if ks.DB(0).Get(k) != nil {
					t.Errorf("key %s of the bad entry was applied", k)
				}
			}
		})
	}
}

// TestApplyErrorInsideTransaction: a command of an entry's MULTI/EXEC that
// the replica refuses stops the apply with its error, although EXEC's own
// reply is an array and not an error: a replica whose data no longer
// matches its master's says so instead of going on.
func TestApplyErrorInsideTransaction(t *testing.T) {
	e := command.New(command.Config{})
	ap := e.NewApplier()
	var entry []byte
	for _, c := range [][]string{{"SET", "s", "text"}, {"MULTI"}, {"SET", "a", "1"}, {"INCR", "s"}, {"EXEC"}} {
		var b [][]byte
		for _, a := range c {
			b = append(b, []byte(a))
		}
		entry = resp.AppendCommand(entry, b...)
	}
	err := ap.Apply(entry)
	if err == nil || !strings.Contains(err.Error(), `"EXEC": a command inside it failed: ERR value is not an integer or out of range`) {
		t.Fatalf("Apply = %v; want EXEC's inner INCR error", err)
	}
	ok := resp.AppendCommand(nil, []byte("INCR"), []byte("n"))
	if err := ap.Apply(ok); err != nil {
		t.Fatalf("Apply of a good entry after it: %v", err)
	}
}

// TestApplyOpenTransaction: an entry that ends inside MULTI (cut short
// after it, or stopped by a command the replica refuses inside the block)
// is an error, and its transaction does not stay open to swallow the next
// entry's commands as queued ones (before, the next entry's SET was
// answered +QUEUED and never ran).
func TestApplyOpenTransaction(t *testing.T) {
	entry := fuzzEntry
	for name, bad := range map[string][]byte{
		"no EXEC":        entry([]string{"MULTI"}, []string{"SET", "a", "1"}),
		"refused inside": entry([]string{"MULTI"}, []string{"SET", "a", "1"}, []string{"NOSUCHCOMMAND"}, []string{"EXEC"}),
	} {
		t.Run(name, func(t *testing.T) {
			e := command.New(command.Config{})
			ap := e.NewApplier()
			if err := ap.Apply(bad); err == nil {
				t.Fatal("Apply of an entry that leaves MULTI open succeeded")
			}
			if err := ap.Apply(entry([]string{"SET", "b", "2"})); err != nil {
				t.Fatalf("Apply of the next entry: %v", err)
			}
			e.Lock()
			defer e.Unlock()
			if e.Keyspace().DB(0).Get("b") == nil {
				t.Error("the next entry's SET did not run: the transaction stayed open")
			}
			if e.Keyspace().DB(0).Get("a") != nil {
				t.Error("a command queued in the unfinished transaction ran")
			}
		})
	}
}
