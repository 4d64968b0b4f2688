package httpapi

import (
	"sync/atomic"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
)

// TestShutdownRefused: SHUTDOWN, CLIENT KILL, DEBUG and CONFIG SET manage
// the node and its RESP clients, not the data: any holder of the HTTP token could otherwise
// stop the node. They are refused before anything in the request runs.
func TestShutdownRefused(t *testing.T) {
	f := newFixture(t, command.Config{}, nil)
	var shutdowns atomic.Int32
	f.node.e.Lock()
	f.node.e.Shutdown = func() { shutdowns.Add(1) }
	f.node.e.Unlock()

	f.expect("POST", "/", `["SHUTDOWN","NOSAVE"]`, 400,
		`{"error":"ERR 'shutdown' is not available over HTTP: it stops the node: use the RESP port, or stop the process"}`)
	f.expect("POST", "/pipeline", `[["SET","a","1"],["SHUTDOWN"],["SET","b","2"]]`, 400,
		`{"error":"ERR 'shutdown' is not available over HTTP: it stops the node: use the RESP port, or stop the process (command 2)"}`)
	f.expect("GET", "/shutdown", "", 400,
		`{"error":"ERR 'shutdown' is not available over HTTP: it stops the node: use the RESP port, or stop the process"}`)
	f.expect("POST", "/", `["CLIENT","KILL","127.0.0.1:1"]`, 400,
		`{"error":"ERR 'client' is not available over HTTP: it closes other clients' connections: use the RESP port"}`)
	f.expect("POST", "/", `["DEBUG","SLEEP","10"]`, 400,
		`{"error":"ERR 'debug' is not available over HTTP: it inspects or stalls the node (DEBUG SLEEP holds every client): use the RESP port"}`)
	f.expect("POST", "/", `["CONFIG","SET","requirepass","x"]`, 400,
		`{"error":"ERR 'config' is not available over HTTP: it changes the node's settings (requirepass...): use the RESP port; CONFIG GET works"}`)
	f.expect("POST", "/", `["CONFIG","GET","maxclients"]`, 200, `{"result":["maxclients","10000"]}`)
	if n := shutdowns.Load(); n != 0 {
		t.Fatalf("SHUTDOWN ran %d times over HTTP", n)
	}
	f.expect("GET", "/exists/a", "", 200, `{"result":0}`)
}
