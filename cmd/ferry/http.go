package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ferrydb/ferry/httpapi"
	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/master"
	"github.com/ferrydb/ferry/replica"
)

// httpFlags configure the HTTP API (the Upstash Redis REST API, package
// httpapi).
type httpFlags struct {
	addr        string
	token       string
	maxBody     int64
	syncTimeout time.Duration
}

// addHTTPFlags defines --http-addr, --http-token (also FERRY_HTTP_TOKEN,
// as every flag has its variable), --http-max-body and --http-sync-timeout.
// ferry dev adds --replica-http-addr for its replica.
func addHTTPFlags(fs *flag.FlagSet) *httpFlags {
	h := &httpFlags{}
	fs.StringVar(&h.addr, "http-addr", "", "serve the Upstash-compatible REST API on ADDR (empty: off)")
	fs.StringVar(&h.token, "http-token", "", "bearer token HTTP requests must present (required with an HTTP address)")
	fs.Int64Var(&h.maxBody, "http-max-body", httpapi.DefaultMaxBodyBytes, "largest HTTP request body in bytes (larger: 413)")
	fs.DurationVar(&h.syncTimeout, "http-sync-timeout", httpapi.DefaultSyncTimeout, "how long a request waits for the offset of its upstash-sync-token (then 503)")
	return h
}

// check refuses an HTTP address without a token before anything starts.
func (h *httpFlags) check(addrs ...string) error {
	for _, a := range addrs {
		if a != "" && h.token == "" {
			return errors.New("an HTTP address needs --http-token (or FERRY_HTTP_TOKEN)")
		}
	}
	return nil
}

// serve serves the API for node on addr until ctx ends. An empty addr
// serves nothing.
func (h *httpFlags) serve(ctx context.Context, addr string, node httpapi.Node, logger *slog.Logger) error {
	if addr == "" {
		return nil
	}
	handler, err := httpapi.New(node, httpapi.Config{
		Token: h.token, MaxBodyBytes: h.maxBody, SyncTimeout: h.syncTimeout, Logger: logger,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http api stopped", "err", err)
		}
	}()
	logger.Info("http api listening", "addr", ln.Addr().String())
	return nil
}

// masterNode adapts a master to httpapi.Node: replies wait for the log as
// the master's RESP replies do (Master.WaitAck), and name the last entry
// stored, or with async acks the entry that holds or will hold the newest
// write (a reply may leave before its entry is sent).
type masterNode struct {
	m     *master.Master
	async bool
}

var (
	_ httpapi.Node = masterNode{}
	_ httpapi.Node = (*replica.Replica)(nil)
)

func newMasterNode(m *master.Master, ack string) masterNode {
	return masterNode{m: m, async: master.AckMode(ack) == master.AckAsync}
}

func (n masterNode) Engine() *command.Engine { return n.m.Engine() }

// Ack waits until the units up to need are as durable as --ack promises.
func (n masterNode) Ack(_ context.Context, need uint64) error { return n.m.WaitAck(need) }

// Offset is the offset of the last entry the log stored or, with async
// acks, of the entry that holds or will hold the newest write.
func (n masterNode) Offset() uint64 {
	off := n.m.Offset()
	if n.async {
		off = max(off, n.m.WriteOffset())
	}
	return off
}

// WaitOffset waits until the master's log reaches off (a master applies
// before it stores, so only a token from elsewhere ever waits).
func (n masterNode) WaitOffset(ctx context.Context, off uint64) error {
	return pollOffset(ctx, off, n.Offset)
}

// pollOffset polls offset every millisecond until it reaches off or ctx
// ends.
func pollOffset(ctx context.Context, off uint64, offset func() uint64) error {
	if offset() >= off {
		return nil
	}
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if offset() >= off {
				return nil
			}
		}
	}
}
