package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ferrydb/ferry/master"
	"github.com/ferrydb/ferry/replica"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// readiness reports whether a node should receive traffic: nil when it
// should, else the reason it should not.
type readiness func() error

// serveMetrics serves reg on http://addr/metrics until ctx ends, with the
// orchestrators' health checks beside it: /healthz (live: 200 while the
// process serves) and /readyz (200 when ready says so, else 503 with the
// reason on one line). An empty addr serves nothing.
func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry, ready readiness, logger *slog.Logger) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: metricsHandler(reg, ready), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics server stopped", "err", err)
		}
	}()
	logger.Info("metrics listening", "addr", ln.Addr().String())
	return nil
}

// metricsHandler routes /metrics, /healthz and /readyz.
func metricsHandler(reg *prometheus.Registry, ready readiness) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		healthReply(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if ready != nil {
			if err := ready(); err != nil {
				healthReply(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
				return
			}
		}
		healthReply(w, http.StatusOK, "ready")
	})
	return mux
}

// healthReply writes a one-line plain-text body that is never cached.
func healthReply(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}

// masterReady is a master's readiness: its dataset is loaded and it takes
// writes (not fenced, its log reachable).
func masterReady(m *master.Master) readiness {
	return func() error {
		e := m.Engine()
		e.Lock()
		loading, werr := e.Loading(), e.WriteError()
		e.Unlock()
		switch {
		case werr != "":
			return fmt.Errorf("writes refused: %s", oneLine(werr))
		case loading:
			return errors.New("loading the dataset")
		}
		return nil
	}
}

// replicaReady is a replica's readiness: it loaded its dataset and follows
// the log (state streaming); otherwise the reason names the state.
func replicaReady(r *replica.Replica) readiness {
	return func() error {
		state, off, err := r.Status()
		if state == replica.StateStreaming {
			return nil
		}
		if err != nil {
			return fmt.Errorf("state %s at offset %d: %s", state, off, oneLine(err.Error()))
		}
		return fmt.Errorf("state %s at offset %d", state, off)
	}
}

// oneLine keeps the first line of s (an error reply may end in CRLF).
func oneLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' || s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}
