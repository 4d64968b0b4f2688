package httpapi

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
)

// TestCommandWithoutReply: SHUTDOWN runs and closes the client without a
// reply. The HTTP answer must not claim it did not run (the node is
// shutting down), and what follows it in a pipeline did not run.
func TestCommandWithoutReply(t *testing.T) {
	f := newFixture(t, command.Config{}, nil)
	var shutdowns atomic.Int32
	f.node.e.Lock()
	f.node.e.Shutdown = func() { shutdowns.Add(1) }
	f.node.e.Unlock()

	res := f.do("POST", "/", `["SHUTDOWN","NOSAVE"]`)
	if shutdowns.Load() != 1 {
		t.Fatalf("SHUTDOWN ran %d times", shutdowns.Load())
	}
	if strings.Contains(res.body, "not run") || !strings.Contains(res.body, "closed the connection") {
		t.Fatalf("SHUTDOWN: %d %s: it ran, and closed the connection without a reply", res.status, res.body)
	}
	res = f.do("POST", "/pipeline", `[["SET","a","1"],["SHUTDOWN","NOSAVE"],["SET","b","2"]]`)
	if shutdowns.Load() != 2 {
		t.Fatalf("SHUTDOWN ran %d times", shutdowns.Load())
	}
	want := `[{"result":"OK"},{"error":"ERR no reply: the command closed the connection"},{"error":"ERR the command was not run: the client was closed"}]`
	if res.status != 200 || res.body != want {
		t.Fatalf("pipeline with SHUTDOWN: %d %s\nwant 200 %s", res.status, res.body, want)
	}
	f.expect("GET", "/exists/b", "", 200, `{"result":0}`)
}
