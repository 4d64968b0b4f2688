package natsserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ferrydb/ferry/stream/natsserver"
)

func TestRestartKeepsStreamsAndPort(t *testing.T) {
	s, err := natsserver.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	url, port := s.URL(), s.Port()
	if port <= 0 {
		t.Fatalf("port %d", port)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "t", []byte("kept")); err != nil {
		t.Fatal(err)
	}

	s.Shutdown()
	if s.Running() {
		t.Fatal("running after Shutdown")
	}
	s.Shutdown() // idempotent
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.URL() != url || s.Port() != port {
		t.Fatalf("after restart URL %s, want %s", s.URL(), url)
	}

	// The same client reconnects and finds the stream and its message.
	deadline := time.Now().Add(10 * time.Second)
	for !nc.IsConnected() {
		if time.Now().After(deadline) {
			t.Fatal("client did not reconnect")
		}
		time.Sleep(10 * time.Millisecond)
	}
	st, err := js.Stream(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMsg(ctx, 1)
	if err != nil || string(m.Data) != "kept" {
		t.Fatalf("message 1 after restart: %v, %v", m, err)
	}
}

func TestGivenPortInUse(t *testing.T) {
	s, err := natsserver.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	start := time.Now()
	if _, err := natsserver.Start(t.TempDir(), natsserver.WithPort(s.Port())); err == nil {
		t.Fatal("second server on the same port started")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %s to report a busy port", d)
	}
}

// TestInProcessConn: a client on the in-process connection reaches the
// server without a socket, and reconnects to the new server after Restart
// (over the same path, never over TCP).
func TestInProcessConn(t *testing.T) {
	s, err := natsserver.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	nc, err := nats.Connect(s.URL(), nats.InProcessServer(s), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	inProcess := func() {
		t.Helper()
		if addr := nc.ConnectedAddr(); addr != "pipe" {
			t.Fatalf("connected to %q, want the in-process pipe", addr)
		}
	}
	inProcess()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	for !nc.IsConnected() {
		if ctx.Err() != nil {
			t.Fatal("client did not reconnect")
		}
		time.Sleep(10 * time.Millisecond)
	}
	inProcess()
	if _, err := js.Publish(ctx, "t", []byte("after")); err != nil {
		t.Fatalf("publish after restart: %v", err)
	}

	s.Shutdown()
	if _, err := s.InProcessConn(); err == nil {
		t.Fatal("InProcessConn on a stopped server succeeded")
	}
}
