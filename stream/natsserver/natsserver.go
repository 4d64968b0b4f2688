// Package natsserver runs the real NATS server (nats-server/v2) in-process,
// with JetStream storing its files in a directory: the log backend of
// `ferry dev`, and the server every stream test runs against.
//
// It listens on 127.0.0.1 only. Restart stops the server and starts a new
// one on the same directory and port, so tests can take NATS away under load
// and bring it back with its streams intact.
package natsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// readyTimeout bounds how long Start waits for the server to accept
// connections (it takes ~30 ms on an idle machine).
const readyTimeout = 10 * time.Second

// Option changes how Start runs the server.
type Option func(*options)

type options struct {
	port       int
	logger     *slog.Logger
	maxPayload int32
}

// DefaultMaxPayload is the largest message the embedded server takes: one
// log entry, so one write or transaction. NATS's own default is 1 MB,
// below what Redis users store in one value (Redis's own tests SET 4 MB);
// 8 MB is the most NATS recommends.
const DefaultMaxPayload = 8 << 20

// WithMaxPayload sets the largest message the server takes (its
// max_payload; DefaultMaxPayload unless set).
func WithMaxPayload(n int32) Option { return func(o *options) { o.maxPayload = n } }

// WithPort makes the server listen on port instead of a random free one.
func WithPort(port int) Option { return func(o *options) { o.port = port } }

// WithLogger sends the server's notices, warnings and errors to l (they are
// discarded by default).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// Server is a running in-process NATS server with JetStream. Its methods are
// safe for concurrent use.
type Server struct {
	dir  string
	opts options

	mu   sync.Mutex
	srv  *server.Server // nil while stopped
	port int            // fixed after the first start
	// cur is srv for InProcessConn, which must not wait for a Restart
	// (nats.go calls it with its connection's lock held).
	cur atomic.Pointer[server.Server]
}

// Start runs a NATS server with JetStream on dir, listening on 127.0.0.1,
// and returns once it accepts connections.
func Start(dir string, opts ...Option) (*Server, error) {
	s := &Server{dir: dir}
	for _, o := range opts {
		o(&s.opts)
	}
	if s.opts.port < 0 || s.opts.port > 65535 {
		return nil, fmt.Errorf("natsserver: invalid port %d", s.opts.port)
	}
	s.port = s.opts.port
	if s.opts.maxPayload <= 0 {
		s.opts.maxPayload = DefaultMaxPayload
	}
	if s.port == 0 {
		s.port = server.RANDOM_PORT
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.startLocked(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) startLocked() error {
	if s.port > 0 {
		// The server reports a busy port only through its log and then never
		// becomes ready; find out now, with a clear error.
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)))
		if err != nil {
			return fmt.Errorf("natsserver: %w", err)
		}
		ln.Close()
	}
	o := &server.Options{
		Host:       "127.0.0.1",
		Port:       s.port,
		JetStream:  true,
		StoreDir:   s.dir,
		NoSigs:     true,
		NoLog:      s.opts.logger == nil,
		MaxPayload: s.opts.maxPayload,
		// The HTTP monitor, cluster, gateway and leaf ports stay off.
	}
	srv, err := server.NewServer(o)
	if err != nil {
		return fmt.Errorf("natsserver: %w", err)
	}
	if s.opts.logger != nil {
		srv.SetLoggerV2(logAdapter{s.opts.logger}, false, false, false)
	}
	go srv.Start()
	if !srv.ReadyForConnections(readyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return fmt.Errorf("natsserver: not ready for connections on 127.0.0.1:%d after %s", max(s.port, 0), readyTimeout)
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return errors.New("natsserver: jetstream did not start")
	}
	addr, ok := srv.Addr().(*net.TCPAddr)
	if !ok {
		srv.Shutdown()
		srv.WaitForShutdown()
		return fmt.Errorf("natsserver: unexpected listen address %v", srv.Addr())
	}
	s.port = addr.Port
	s.srv = srv
	s.cur.Store(srv)
	return nil
}

// URL returns the client URL, nats://127.0.0.1:PORT. It stays the same
// across restarts.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "nats://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Port returns the port the server listens on.
func (s *Server) Port() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.port
}

// InProcessConn returns a connection to the running server that does not
// go through the network (nats.InProcessServer takes the Server): the
// process's own clients skip the loopback sockets' system calls. It
// follows Restart: a client that reconnects gets the new server.
func (s *Server) InProcessConn() (net.Conn, error) {
	srv := s.cur.Load()
	if srv == nil {
		return nil, errors.New("natsserver: the server is stopped")
	}
	return srv.InProcessConn()
}

// Dir returns the JetStream storage directory.
func (s *Server) Dir() string { return s.dir }

// Running reports whether the server is up (not shut down).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.srv != nil
}

// Shutdown stops the server and waits until it has stopped: connections are
// closed and JetStream has flushed its files. Calling it again, or on a
// stopped server, does nothing. Restart brings it back.
func (s *Server) Shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdownLocked()
}

func (s *Server) shutdownLocked() {
	if s.srv == nil {
		return
	}
	s.cur.Store(nil)
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.srv = nil
}

// Restart stops the server if it is running, then starts a new one on the
// same directory and port. Clients configured to reconnect find it again at
// the same URL, with every stream as it was stored.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdownLocked()
	return s.startLocked()
}

// logAdapter feeds the server's printf-style log lines to slog.
type logAdapter struct{ l *slog.Logger }

func (a logAdapter) log(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if a.l.Enabled(ctx, level) {
		a.l.Log(ctx, level, fmt.Sprintf(format, v...), "component", "nats-server")
	}
}

func (a logAdapter) Noticef(format string, v ...any) { a.log(slog.LevelDebug, format, v) }
func (a logAdapter) Warnf(format string, v ...any)   { a.log(slog.LevelWarn, format, v) }
func (a logAdapter) Fatalf(format string, v ...any)  { a.log(slog.LevelError, format, v) }
func (a logAdapter) Errorf(format string, v ...any)  { a.log(slog.LevelError, format, v) }
func (a logAdapter) Debugf(format string, v ...any)  { a.log(slog.LevelDebug, format, v) }
func (a logAdapter) Tracef(format string, v ...any)  { a.log(slog.LevelDebug-4, format, v) }

var _ server.Logger = logAdapter{}
