package main

import (
	"context"
	"os/signal"
	"syscall"

	"github.com/ferrydb/ferry/master"
)

func runMaster(args []string) error {
	fs := newFlagSet("master")
	addr := fs.String("addr", "127.0.0.1:6379", "RESP listen address")
	pass := fs.String("requirepass", "", "password clients must AUTH with (empty: none)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := envDefaults(fs); err != nil {
		return err
	}
	logger, err := newLogger(*logLevel, *logFormat)
	if err != nil {
		return err
	}
	m, err := master.New(master.Config{Addr: *addr, RequirePass: *pass, Version: version, Logger: logger})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger.Info("master listening", "addr", m.Addr().String(), "version", version)
	err = m.Serve(ctx)
	logger.Info("master stopped")
	return err
}
