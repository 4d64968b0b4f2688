package server_test

import (
	"bufio"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// fakeSync is a SyncProvider that reports what it was handed, writes a
// greeting, then reports each request the replica sends until ctx ends or
// the replica goes away.
type fakeSync struct {
	got  chan command.SyncConn
	reqs chan string
	done chan error
}

func (f *fakeSync) ServeSync(ctx context.Context, c command.SyncConn) error {
	f.got <- c
	c.Conn.Write([]byte("+HELLO\r\n"))
	go func() {
		<-ctx.Done()
		c.Conn.SetReadDeadline(time.Unix(1, 0))
	}()
	for {
		args, err := c.Reader.Next(true)
		if err == nil && args == nil {
			err = c.Reader.Fill()
			if err == nil {
				continue
			}
		}
		if err != nil {
			f.done <- err
			return err
		}
		var s []string
		for _, a := range args {
			s = append(s, string(a))
		}
		f.reqs <- strings.Join(s, " ")
	}
}

// TestSyncHandsOver checks the handshake's replies and the handover: after
// SYNC or PSYNC the provider owns the connection, with what the replica
// pipelined after it still buffered; REPLCONF ACK never gets a reply; the
// client stays listed until it goes away; Close ends the provider.
func TestSyncHandsOver(t *testing.T) {
	f := &fakeSync{got: make(chan command.SyncConn, 1), reqs: make(chan string, 10), done: make(chan error, 1)}
	_, addr := redistest.Ferry(t, command.Config{Sync: f})
	nc := dialRaw(t, addr)
	br := bufio.NewReader(nc)
	line := func() string {
		t.Helper()
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return l
	}
	nc.Write([]byte("REPLCONF ACK 5\r\nREPLCONF GETACK *\r\nREPLCONF listening-port 7001 capa eof capa psync2\r\nPING\r\nPSYNC ? -1\r\n"))
	for _, want := range []string{"+OK\r\n", "+PONG\r\n", "-ERR SYNC and PSYNC are invalid with pending output\r\n"} {
		if got := line(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	nc.Write([]byte("PSYNC 0123 42\r\nREPLCONF ACK 9\r\n"))
	var c command.SyncConn
	select {
	case c = <-f.got:
	case <-time.After(5 * time.Second):
		t.Fatal("PSYNC did not hand the connection over")
	}
	want := command.SyncRequest{PSYNC: true, ReplID: "0123", Offset: 42, ListeningPort: 7001, CapaEOF: true, CapaPSYNC2: true}
	if c.Request != want {
		t.Errorf("request %+v, want %+v", c.Request, want)
	}
	if got := line(); got != "+HELLO\r\n" {
		t.Errorf("after PSYNC: %q, want the provider's output only", got)
	}
	select {
	case r := <-f.reqs:
		if r != "REPLCONF ACK 9" {
			t.Errorf("provider read %q", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the request pipelined after PSYNC did not reach the provider")
	}
	list := redistest.Dial(t, addr).Do("CLIENT", "LIST")
	if !strings.Contains(list, "cmd=psync") || strings.Count(list, "id=") != 2 {
		t.Errorf("CLIENT LIST while the provider serves the link:\n%s", list)
	}
	// A node without a provider refuses.
	_, plain := redistest.Ferry(t, command.Config{})
	pc := redistest.Dial(t, plain)
	if got := pc.Do("SYNC"); got != "-"+command.ErrNoSync+"\r\n" {
		t.Errorf("SYNC without a provider = %q", got)
	}
	if got := pc.Do("PSYNC", "?", "-1"); got != "-"+command.ErrNoSync+"\r\n" {
		t.Errorf("PSYNC without a provider = %q", got)
	}
}
