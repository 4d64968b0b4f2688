package main

import (
	"context"
	"errors"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/master"
	"github.com/ferrydb/ferry/replica"
	"github.com/ferrydb/ferry/stream/jetstream"
)

var errNoNATS = errors.New(`no --nats: give a NATS URL, or "embedded"`)

// runDev runs everything in one process on the embedded default: a NATS
// server with JetStream under --data-dir, a master and a replica.
func runDev(args []string) error {
	fs := newFlagSet("dev")
	addr := fs.String("addr", "127.0.0.1:6379", "master's RESP listen address")
	replicaAddr := fs.String("replica-addr", "127.0.0.1:6380", "replica's RESP listen address")
	pass := fs.String("requirepass", "", "password clients must AUTH with (empty: none)")
	aclFile := addACLFileFlag(fs)
	ack := fs.String("ack", "durable", "when writes are acknowledged: durable or async")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	metricsAddr := fs.String("metrics-addr", "", "serve the master's Prometheus metrics on http://ADDR/metrics (empty: off)")
	replicaMetricsAddr := fs.String("replica-metrics-addr", "", "serve the replica's Prometheus metrics on http://ADDR/metrics (empty: off)")
	hf := addHTTPFlags(fs)
	fs.Lookup("http-addr").Usage = "serve the master's Upstash-compatible REST API on ADDR (empty: off)"
	replicaHTTPAddr := fs.String("replica-http-addr", "", "serve the replica's Upstash-compatible REST API on ADDR (empty: off)")
	nf := addNATSFlags(fs)
	sf := addStoreFlags(fs, "")
	fs.Lookup("store").Usage = "where snapshots are kept: s3://BUCKET/PREFIX or file:///DIR (default: file://<data-dir>/snapshots)"
	snf := addSnapshotFlags(fs)
	eventLoop := addEventLoopFlag(fs)
	fs.Lookup("nats").DefValue = "embedded"
	nf.url = "embedded"
	nf.dataset = "dev"
	fs.Lookup("dataset").DefValue = "dev"
	if err := parseServerFlags(fs, args); err != nil {
		return err
	}
	if err := checkAck(*ack); err != nil {
		return err
	}
	if err := hf.check(hf.addr, *replicaHTTPAddr); err != nil {
		return err
	}
	logger, err := newLogger(*logLevel, *logFormat)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if sf.url == "" {
		if sf.url, err = fileStoreURL(filepath.Join(nf.dataDir, "snapshots")); err != nil {
			return err
		}
	}
	st, err := sf.open(ctx, true)
	if err != nil {
		return err
	}
	lg, closeLog, err := nf.open(ctx, false, logger)
	if err != nil {
		return err
	}
	defer closeLog()
	mcfg := master.Config{
		Addr: *addr, RequirePass: *pass, Version: version, Logger: logger.With("role", "master"),
		ConnGoroutines: !*eventLoop, Log: lg, Dataset: nf.dataset, Ack: master.AckMode(*ack),
		LogMaxAge: nf.maxAge, LogMaxBytes: nf.maxBytes,
	}
	snf.apply(&mcfg, st)
	// A first run on a fresh --data-dir creates the dev dataset.
	mcfg.NewDataset = true
	m, err := master.New(ctx, mcfg)
	if err != nil {
		return err
	}
	// The replica reads through its own connection, as a separate process would.
	rcfg := nf.config(nf.resolved, true, logger)
	rcfg.Name = "ferry-replica"
	rlog, err := jetstream.Open(ctx, rcfg)
	if err != nil {
		m.Close()
		return err
	}
	defer rlog.Close()
	r, err := replica.New(replica.Config{
		Addr: *replicaAddr, RequirePass: *pass, Version: version, Logger: logger.With("role", "replica"),
		ConnGoroutines: !*eventLoop, Log: rlog, Dataset: nf.dataset, ServeStaleData: true, Store: st,
	})
	if err != nil {
		m.Close()
		return err
	}
	// Both nodes read the same file: users are per node.
	for _, e := range []*command.Engine{m.Engine(), r.Engine()} {
		if err := loadACLFile(e, *aclFile); err != nil {
			m.Close()
			r.Close()
			return err
		}
	}
	if err := serveMetrics(ctx, *metricsAddr, m.Metrics(), masterReady(m), logger); err != nil {
		m.Close()
		return err
	}
	if err := serveMetrics(ctx, *replicaMetricsAddr, r.Metrics(), replicaReady(r), logger); err != nil {
		m.Close()
		return err
	}
	if err := hf.serve(ctx, hf.addr, newMasterNode(m, *ack), logger.With("role", "master")); err != nil {
		m.Close()
		return err
	}
	if err := hf.serve(ctx, *replicaHTTPAddr, r, logger.With("role", "replica")); err != nil {
		m.Close()
		return err
	}
	logger.Info("ferry dev: master and replica listening", "master", m.Addr().String(), "replica", r.Addr().String(), "dataset", nf.dataset, "data_dir", nf.dataDir, "store", sf.url)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.Serve(ctx)
	}()
	err = m.Serve(ctx)
	stop()
	r.Close()
	wg.Wait()
	return err
}
