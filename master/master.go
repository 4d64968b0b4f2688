// Package master runs a ferry master: the node that takes writes. For now it
// is a standalone Redis-compatible server; publishing effects to the
// replication log and snapshots build on it.
package master

import (
	"context"
	"errors"
	"log/slog"
	"net"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/server"
)

// Config configures a master.
type Config struct {
	// Addr is the RESP listen address.
	Addr string
	// RequirePass, when set, requires AUTH.
	RequirePass string
	// Version is ferry's version, for INFO.
	Version string
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Addr == "" {
		return errors.New("master: no listen address")
	}
	return nil
}

// Master is a running master.
type Master struct {
	cfg    Config
	engine *command.Engine
	srv    *server.Server
}

// New binds the listener and prepares the engine.
func New(cfg Config) (*Master, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := command.New(command.Config{RequirePass: cfg.RequirePass, FerryVersion: cfg.Version, Addr: cfg.Addr})
	srv := server.New(e, cfg.Logger)
	if err := srv.Listen(cfg.Addr); err != nil {
		return nil, err
	}
	m := &Master{cfg: cfg, engine: e, srv: srv}
	e.Shutdown = func() { go srv.Close() }
	return m, nil
}

// Addr returns the address the master listens on.
func (m *Master) Addr() net.Addr { return m.srv.Addr() }

// Engine returns the master's engine.
func (m *Master) Engine() *command.Engine { return m.engine }

// Serve serves clients until ctx ends, SHUTDOWN, or Close.
func (m *Master) Serve(ctx context.Context) error { return m.srv.Serve(ctx) }

// Close stops the master and disconnects its clients.
func (m *Master) Close() error { return m.srv.Close() }
