package replica_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/resp"
	"github.com/ferrydb/ferry/replica"
	"github.com/ferrydb/ferry/stream"
)

// runLog hands a reader its entries as one run, then waits.
type runLog struct{ entries []stream.Entry }

func (l *runLog) First(context.Context) (uint64, error) { return 1, nil }
func (l *runLog) Last(context.Context) (uint64, error) {
	return l.entries[len(l.entries)-1].Offset, nil
}
func (l *runLog) Range(ctx context.Context) (uint64, uint64, error) {
	last, _ := l.Last(ctx)
	return 1, last, nil
}
func (l *runLog) Read(ctx context.Context, from uint64, fn func(stream.Entry) error) error {
	panic("a RunReader's runs are read")
}
func (l *runLog) ReadRuns(ctx context.Context, from uint64, fn func([]stream.Entry) error) error {
	var run []stream.Entry
	for _, en := range l.entries {
		if en.Offset >= from {
			run = append(run, en)
		}
	}
	if err := fn(run); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestRunWithAGap: a run that skips an offset is applied up to the entry
// before the gap, and the replica stops there (broken), never applying
// past it.
func TestRunWithAGap(t *testing.T) {
	set := func(k string) []byte { return resp.AppendCommand(nil, []byte("SET"), []byte(k), []byte("v")) }
	lg := &runLog{entries: []stream.Entry{
		{Offset: 1, Data: set("a")}, {Offset: 2, Data: set("b")}, {Offset: 3, Data: set("c")},
		{Offset: 5, Data: set("e")}, {Offset: 6, Data: set("f")},
	}}
	r, err := replica.New(replica.Config{Addr: "127.0.0.1:0", Log: lg, Dataset: "gap"})
	if err != nil {
		t.Fatal(err)
	}
	r.Start()
	defer r.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		state, off, err := r.Status()
		if state == replica.StateBroken {
			if off != 3 || err == nil || !strings.Contains(err.Error(), "expected offset 4") {
				t.Fatalf("broken at offset %d with %v; want offset 3 and the gap", off, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %s at offset %d (%v), want broken", state, off, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	e := r.Engine()
	e.Lock()
	defer e.Unlock()
	if e.Keyspace().DB(0).Get("c") == nil || e.Keyspace().DB(0).Get("e") != nil {
		t.Fatal("want c applied and nothing past the gap")
	}
}
