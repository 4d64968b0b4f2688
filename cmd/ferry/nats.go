package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/ferrydb/ferry/stream/jetstream"
	"github.com/ferrydb/ferry/stream/natsserver"
)

// natsFlags are the flags that say where the replication log is.
type natsFlags struct {
	url, dataset, dataDir              string
	creds, nkey, user, password, token string
	tlsCA, tlsCert, tlsKey             string
	replicas                           int
	maxAge                             time.Duration
	maxBytes                           int64
	embeddedPort                       int
	mirror                             string // a replica's --log-mirror

	resolved string // the URL open connected to (the embedded server's)
}

func addNATSFlags(fs *flag.FlagSet) *natsFlags {
	n := &natsFlags{}
	fs.StringVar(&n.url, "nats", "", `NATS server URL(s), or "embedded" to run one in-process under --data-dir`)
	fs.StringVar(&n.dataset, "dataset", "default", "dataset name: the log is stream FERRY_<DATASET>, subject ferry.<dataset>.log")
	fs.StringVar(&n.dataDir, "data-dir", "./ferry-data", "directory for the embedded NATS server's JetStream store")
	fs.StringVar(&n.creds, "nats-creds", "", "NATS credentials file")
	fs.StringVar(&n.nkey, "nats-nkey", "", "NATS nkey seed file")
	fs.StringVar(&n.user, "nats-user", "", "NATS user")
	fs.StringVar(&n.password, "nats-password", "", "NATS password")
	fs.StringVar(&n.token, "nats-token", "", "NATS token")
	fs.StringVar(&n.tlsCA, "nats-tls-ca", "", "CA certificate to verify the NATS server")
	fs.StringVar(&n.tlsCert, "nats-tls-cert", "", "client certificate for NATS")
	fs.StringVar(&n.tlsKey, "nats-tls-key", "", "client key for NATS")
	fs.IntVar(&n.replicas, "stream-replicas", 1, "replicas of the stream on a clustered NATS (1-5)")
	fs.DurationVar(&n.maxAge, "stream-max-age", 0, "drop log entries older than this (the replication backlog); 0 keeps them")
	fs.Int64Var(&n.maxBytes, "stream-max-bytes", 0, "drop the oldest log entries past this size; 0: no limit")
	fs.IntVar(&n.embeddedPort, "nats-port", 0, "port of the embedded NATS server (0: any free port)")
	return n
}

// open connects to the log, starting the embedded NATS server first when
// asked to. The returned function closes both.
func (n *natsFlags) open(ctx context.Context, readOnly bool, logger *slog.Logger) (*jetstream.Log, func(), error) {
	url := n.url
	var srv *natsserver.Server
	if url == "embedded" {
		var err error
		opts := []natsserver.Option{natsserver.WithLogger(logger)}
		if n.embeddedPort != 0 {
			opts = append(opts, natsserver.WithPort(n.embeddedPort))
		}
		srv, err = natsserver.Start(filepath.Join(n.dataDir, "nats"), opts...)
		if err != nil {
			return nil, nil, fmt.Errorf("start embedded NATS: %w", err)
		}
		url = srv.URL()
		logger.Info("embedded NATS server running", "url", url, "dir", srv.Dir())
	}
	n.resolved = url
	cfg := n.config(url, readOnly, logger)
	if srv != nil {
		// The process's own connection skips the loopback sockets: with
		// --ack durable, 25-30% more writes/s (bench/README.md).
		cfg.InProcess = srv
	}
	lg, err := jetstream.Open(ctx, cfg)
	if err != nil {
		if srv != nil {
			srv.Shutdown()
		}
		return nil, nil, err
	}
	return lg, func() {
		lg.Close()
		if srv != nil {
			srv.Shutdown()
		}
	}, nil
}

// config returns the log configuration the flags describe.
func (n *natsFlags) config(url string, readOnly bool, logger *slog.Logger) jetstream.Config {
	return jetstream.Config{
		URL: url, Dataset: n.dataset, Replicas: n.replicas, MaxAge: n.maxAge, MaxBytes: n.maxBytes,
		ReadOnly: readOnly, CredsFile: n.creds, NKeySeedFile: n.nkey, User: n.user, Password: n.password,
		Token: n.token, TLSCA: n.tlsCA, TLSCert: n.tlsCert, TLSKey: n.tlsKey, Logger: logger,
		Mirror: n.mirror,
	}
}
