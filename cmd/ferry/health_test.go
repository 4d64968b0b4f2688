package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/replica"
	"github.com/ferrydb/ferry/stream/jetstream"
)

// probe GETs url and returns the status code and the body.
func probe(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// waitProbe polls url until it answers code with a body containing want.
func waitProbe(t *testing.T, url string, code int, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, body := probe(t, url)
		if got == code && strings.Contains(body, want) {
			if strings.Count(body, "\n") != 1 || !strings.HasSuffix(body, "\n") {
				t.Fatalf("%s: body %q is not one line", url, body)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %d %q, want %d with %q", url, got, body, code, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHealthMaster: a master is live and ready once loaded; when its log
// stops confirming writes it stays live and is no longer ready.
func TestHealthMaster(t *testing.T) {
	const dataset = "health"
	srv := startNATS(t)
	lg := openLog(t, srv.URL(), dataset)
	m, _ := serveMaster(t, lg, dataset)
	hs := httptest.NewServer(metricsHandler(m.Metrics(), masterReady(m)))
	defer hs.Close()

	waitProbe(t, hs.URL+"/healthz", 200, "ok")
	waitProbe(t, hs.URL+"/readyz", 200, "ready")
	if code, body := probe(t, hs.URL+"/metrics"); code != 200 || !strings.Contains(body, "ferry_log_offset") {
		t.Fatalf("/metrics = %d %.200q", code, body)
	}
	c := redistest.Dial(t, m.Addr().String())
	if got := c.Do("SET", "k", "v"); got != "+OK\r\n" {
		t.Fatalf("SET = %q", got)
	}
	// The log goes away: the next write is not confirmed (the master may
	// drop the connection), the master refuses writes, and says why it is
	// not ready.
	srv.Shutdown()
	nc, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write([]byte("SET k w\r\n")); err != nil {
		t.Fatal(err)
	}
	waitProbe(t, hs.URL+"/readyz", 503, "not ready: writes refused: READONLY")
	waitProbe(t, hs.URL+"/healthz", 200, "ok")
}

// TestHealthReplica: a replica is not ready before it follows its log,
// ready once streaming, and not ready while its link is down.
func TestHealthReplica(t *testing.T) {
	const dataset = "health"
	srv := startNATS(t)
	mlog := openLog(t, srv.URL(), dataset)
	m, _ := serveMaster(t, mlog, dataset)
	mc := redistest.Dial(t, m.Addr().String())
	for i := range 5 {
		if got := mc.Do("SET", fmt.Sprint("k", i), "v"); got != "+OK\r\n" {
			t.Fatalf("SET = %q", got)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rlog, err := jetstream.Open(ctx, jetstream.Config{URL: srv.URL(), Dataset: dataset, ReadOnly: true, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rlog.Close() })
	r, err := replica.New(replica.Config{Addr: "127.0.0.1:0", Log: rlog, Dataset: dataset, Version: "test",
		ServeStaleData: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(metricsHandler(r.Metrics(), replicaReady(r)))
	defer hs.Close()
	// Not serving yet: live, not ready.
	waitProbe(t, hs.URL+"/healthz", 200, "ok")
	waitProbe(t, hs.URL+"/readyz", 503, "not ready: state loading")

	rdone := make(chan error, 1)
	go func() { rdone <- r.Serve(context.Background()) }()
	t.Cleanup(func() {
		r.Close()
		<-rdone
	})
	waitProbe(t, hs.URL+"/readyz", 200, "ready")
	if _, off, _ := r.Status(); off != 5 {
		t.Fatalf("ready at offset %d, want 5", off)
	}
	srv.Shutdown()
	waitProbe(t, hs.URL+"/readyz", 503, "not ready: state link-down at offset 5")
	waitProbe(t, hs.URL+"/healthz", 200, "ok")
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{"": "", "a b": "a b", "a\r\nb": "a", "x\n": "x"} {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}
