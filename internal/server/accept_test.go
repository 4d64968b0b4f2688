package server

import (
	"bufio"
	"context"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
)

// failingListener fails its first n Accepts as a process out of file
// descriptors does.
type failingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *failingListener) Accept() (net.Conn, error) {
	if l.n.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	return l.Listener.Accept()
}

// A failing accept (EMFILE) does not stop the server: it waits and
// accepts again.
func TestAcceptErrorsAreRetried(t *testing.T) {
	s := New(command.New(command.Config{}), nil)
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	fl := &failingListener{Listener: s.ln}
	fl.n.Store(4)
	s.ln = fl
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background()) }()
	defer func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve after Close: %v", err)
		}
	}()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("PING\r\n"))
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "+PONG\r\n" {
		t.Fatalf("PING after 4 failed accepts = %q, %v", line, err)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned: %v", err)
	default:
	}
}

func TestMaxClientsFromFileLimit(t *testing.T) {
	for limit, want := range map[uint64]int{0: 10000, 1 << 20: 10000, 10128: 10000, 10127: 9999, 256: 128, 100: 1} {
		if got := maxClients(limit); got != want {
			t.Errorf("maxClients(%d) = %d, want %d", limit, got, want)
		}
	}
}
