package main

import (
	"context"
	"errors"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/ferrydb/ferry/master"
)

func runMaster(args []string) error {
	fs := newFlagSet("master")
	addr := fs.String("addr", "127.0.0.1:6379", "RESP listen address")
	pass := fs.String("requirepass", "", "password clients must AUTH with (empty: none)")
	aclFile := addACLFileFlag(fs)
	ack := fs.String("ack", "durable", "when writes are acknowledged: durable (stored in the log) or async")
	maxUnacked := fs.Int("max-unacked", 0, "log entries sent and not yet confirmed (default 2 durable, 8 async)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics on http://ADDR/metrics (empty: off)")
	announce := addAnnounceFlag(fs, "replicas")
	hf := addHTTPFlags(fs)
	nf := addNATSFlags(fs)
	sf := addStoreFlags(fs, "")
	snf := addSnapshotFlags(fs)
	procs := addProcsFlag(fs, 1)
	eventLoop := addEventLoopFlag(fs)
	if err := parseServerFlags(fs, args); err != nil {
		return err
	}
	if err := hf.check(hf.addr); err != nil {
		return err
	}
	if err := checkAnnounce(*announce); err != nil {
		return err
	}
	// Checked before NATS is reached: a bad flag must not create a stream.
	if err := checkAck(*ack); err != nil {
		return err
	}
	if sf.url == "" && (nf.maxAge > 0 || nf.maxBytes > 0) {
		return errors.New("--stream-max-age and --stream-max-bytes drop log entries, and without --store no snapshot holds them: acknowledged writes would be lost; set --store")
	}
	setProcs(fs, *procs)
	logger, err := newLogger(*logLevel, *logFormat)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cfg := master.Config{
		Addr: *addr, AnnounceAddr: *announce, RequirePass: *pass, Version: version, Logger: logger,
		ConnGoroutines: !*eventLoop, Dataset: nf.dataset, Ack: master.AckMode(*ack), MaxUnacked: *maxUnacked,
		LogMaxAge: nf.maxAge, LogMaxBytes: nf.maxBytes,
	}
	st, err := sf.open(ctx, false)
	if err != nil {
		return err
	}
	if st != nil && nf.url == "" {
		return errors.New("--store needs --nats: a snapshot records a log offset")
	}
	snf.apply(&cfg, st)
	if nf.url != "" {
		lg, closeLog, err := nf.open(ctx, false, logger)
		if err != nil {
			return err
		}
		defer closeLog()
		cfg.Log = lg
		if st == nil {
			logger.Warn("no --store: no snapshots; a restart replays the whole log, and replicas too")
		}
	} else {
		logger.Warn("no --nats: standalone master, writes are not replicated")
	}
	m, err := master.New(ctx, cfg)
	if err != nil {
		return err
	}
	if err := loadACLFile(m.Engine(), *aclFile); err != nil {
		m.Close()
		return err
	}
	if err := serveMetrics(ctx, *metricsAddr, m.Metrics(), masterReady(m), logger); err != nil {
		m.Close()
		return err
	}
	if err := hf.serve(ctx, hf.addr, newMasterNode(m, *ack), logger); err != nil {
		m.Close()
		return err
	}
	logger.Info("master listening", "addr", m.Addr().String(), "version", version, "dataset", nf.dataset, "ack", cfg.Ack)
	err = m.Serve(ctx)
	logger.Info("master stopped", "offset", m.Offset())
	return err
}

// checkAck checks an --ack value.
func checkAck(ack string) error {
	if ack != string(master.AckDurable) && ack != string(master.AckAsync) {
		return fmt.Errorf("--ack %q: want durable or async", ack)
	}
	return nil
}
