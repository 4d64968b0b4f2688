package main

import (
	"context"
	"errors"
	"os/signal"
	"syscall"

	"github.com/ferrydb/ferry/replica"
)

func runReplica(args []string) error {
	fs := newFlagSet("replica")
	addr := fs.String("addr", "127.0.0.1:6380", "RESP listen address")
	pass := fs.String("requirepass", "", "password clients must AUTH with (empty: none)")
	aclFile := addACLFileFlag(fs)
	stale := fs.String("serve-stale-data", "yes", "serve reads while the log is unreachable: yes, or no (-MASTERDOWN)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics on http://ADDR/metrics (empty: off)")
	announce := addAnnounceFlag(fs, "the master")
	hf := addHTTPFlags(fs)
	nf := addNATSFlags(fs)
	fs.StringVar(&nf.mirror, "log-mirror", "", "read the log from this JetStream mirror of FERRY_<DATASET> (say in this region's NATS cluster) instead of from the stream itself")
	sf := addStoreFlags(fs, "")
	takeSnaps := fs.Bool("take-snapshots", false, "take snapshots into --store as a master does (BGSAVE, --snapshot-interval, --snapshot-after-writes; retention by --snapshot-keep, which trims the log), so that the master need not")
	schf := addScheduleFlags(fs)
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
	setProcs(fs, *procs)
	logger, err := newLogger(*logLevel, *logFormat)
	if err != nil {
		return err
	}
	serveStale, err := yesNo("serve-stale-data", *stale)
	if err != nil {
		return err
	}
	if nf.url == "" {
		return errNoNATS
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	st, err := sf.open(ctx, false)
	if err != nil {
		return err
	}
	if *takeSnaps && st == nil {
		return errors.New("ferry replica: --take-snapshots needs --store")
	}
	if *takeSnaps && nf.mirror != "" {
		// Retention trims the log below the oldest snapshot it keeps: the
		// stream's, which a mirror's reader cannot.
		return errors.New("ferry replica: --take-snapshots reads the log from the stream itself, not --log-mirror")
	}
	if st == nil {
		logger.Warn("no --store: the replica starts empty and reads the log from its start, and stops if its position is gone from the log")
	}
	lg, closeLog, err := nf.open(ctx, true, logger)
	if err != nil {
		return err
	}
	defer closeLog()
	r, err := replica.New(replica.Config{
		Addr: *addr, AnnounceAddr: *announce, RequirePass: *pass, Version: version, Logger: logger,
		ConnGoroutines: !*eventLoop, Log: lg, Dataset: nf.dataset, ServeStaleData: serveStale, Store: st,
		TakeSnapshots: *takeSnaps, SnapshotInterval: schf.interval, SnapshotAfterWrites: schf.afterWrites, SnapshotKeep: schf.keep,
	})
	if err != nil {
		return err
	}
	if err := loadACLFile(r.Engine(), *aclFile); err != nil {
		r.Close()
		return err
	}
	if err := serveMetrics(ctx, *metricsAddr, r.Metrics(), replicaReady(r), logger); err != nil {
		r.Close()
		return err
	}
	if err := hf.serve(ctx, hf.addr, r, logger); err != nil {
		r.Close()
		return err
	}
	logger.Info("replica listening", "addr", r.Addr().String(), "version", version, "dataset", nf.dataset, "store", sf.url)
	err = r.Serve(ctx)
	_, off, _ := r.Status()
	logger.Info("replica stopped", "offset", off)
	return err
}
