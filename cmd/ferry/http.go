package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ferrydb/ferry/httpapi"
	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/master"
	"github.com/ferrydb/ferry/replica"
	"github.com/ferrydb/ferry/stream"
	"github.com/ferrydb/ferry/stream/jetstream"
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

// masterNode adapts a master to httpapi.Node. Replies wait for the log
// the way the master's RESP replies do, through the RESP server itself: a
// PING on a loopback connection is answered only once the log holds every
// unit applied before it ran (server.SetAckWaiter), so it is a barrier for
// the units an HTTP request saw.
type masterNode struct {
	m     *master.Master
	addr  string // the master's RESP address, dialable
	pass  string
	sent  *sentLog // async acks: the offsets sent, nil otherwise
	acked atomic.Uint64
	idle  chan *barrierConn
}

var _ httpapi.Node = (*masterNode)(nil)

func newMasterNode(m *master.Master, pass string, sent *sentLog) *masterNode {
	return &masterNode{m: m, addr: dialable(m.Addr()), pass: pass, sent: sent, idle: make(chan *barrierConn, 16)}
}

func (n *masterNode) Engine() *command.Engine { return n.m.Engine() }

// Offset is the offset of the last entry the log stored; with async acks,
// of the last entry sent (a reply may go out before its entry is stored).
func (n *masterNode) Offset() uint64 {
	off := n.m.Offset()
	if n.sent != nil {
		off = max(off, n.sent.last.Load())
	}
	return off
}

// WaitOffset waits until the master's log reaches off (a master applies
// what it stores, so only a token from elsewhere ever waits).
func (n *masterNode) WaitOffset(ctx context.Context, off uint64) error {
	return pollOffset(ctx, off, n.Offset)
}

// Ack waits until the units up to need are as durable as --ack promises.
func (n *masterNode) Ack(ctx context.Context, need uint64) error {
	if need == 0 || need <= n.acked.Load() {
		return nil
	}
	var bc *barrierConn
	select {
	case bc = <-n.idle:
	default:
		var err error
		if bc, err = n.dial(ctx); err != nil {
			return err
		}
	}
	if err := bc.ping(ctx); err != nil {
		bc.nc.Close()
		return err
	}
	for {
		cur := n.acked.Load()
		if need <= cur || n.acked.CompareAndSwap(cur, need) {
			break
		}
	}
	select {
	case n.idle <- bc:
	default:
		bc.nc.Close()
	}
	return nil
}

// barrierConn is a loopback RESP connection to the master.
type barrierConn struct {
	nc net.Conn
	rd *bufio.Reader
}

func (n *masterNode) dial(ctx context.Context) (*barrierConn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", n.addr)
	if err != nil {
		return nil, fmt.Errorf("dial the master's RESP port %s: %w", n.addr, err)
	}
	bc := &barrierConn{nc: nc, rd: bufio.NewReader(nc)}
	if n.pass != "" {
		if err := bc.do(ctx, "+OK", "AUTH", n.pass); err != nil {
			nc.Close()
			return nil, err
		}
	}
	if err := bc.do(ctx, "+OK", "CLIENT", "SETNAME", "ferry-http-ack"); err != nil {
		nc.Close()
		return nil, err
	}
	return bc, nil
}

func (bc *barrierConn) ping(ctx context.Context) error { return bc.do(ctx, "+PONG", "PING") }

// do sends a command and checks that the reply line is want.
func (bc *barrierConn) do(ctx context.Context, want string, args ...string) error {
	stop := context.AfterFunc(ctx, func() { bc.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	bc.nc.SetDeadline(time.Now().Add(time.Minute))
	req := "*" + strconv.Itoa(len(args)) + "\r\n"
	for _, a := range args {
		req += "$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n"
	}
	if _, err := bc.nc.Write([]byte(req)); err != nil {
		return fmt.Errorf("master ack barrier: %w", err)
	}
	line, err := bc.rd.ReadString('\n')
	if err != nil {
		return fmt.Errorf("master ack barrier: %w", err)
	}
	if got := line[:len(line)-1]; len(got) == 0 || got[:len(got)-1] != want {
		return fmt.Errorf("master ack barrier: %s: %q", args[0], oneLine(got))
	}
	return nil
}

// dialable turns a listener's address into one to dial: an unspecified IP
// (0.0.0.0, ::) becomes loopback.
func dialable(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok || !ta.IP.IsUnspecified() {
		return a.String()
	}
	ip := net.IPv4(127, 0, 0, 1)
	if ta.IP.To4() == nil {
		ip = net.IPv6loopback
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(ta.Port))
}

// sentLog is the master's log, recording the offset of the last entry
// sent: with async acks a reply may leave once its entry is sent, so its
// sync token must name that entry, not the last one stored.
type sentLog struct {
	*jetstream.Log
	last atomic.Uint64
}

func (l *sentLog) record(off uint64) {
	for {
		cur := l.last.Load()
		if off <= cur || l.last.CompareAndSwap(cur, off) {
			return
		}
	}
}

// AppendAsync records expectLast+1 (the entry's offset if it lands).
func (l *sentLog) AppendAsync(data []byte, expectLast uint64) (stream.Pending, error) {
	p, err := l.Log.AppendAsync(data, expectLast)
	if err == nil {
		l.record(expectLast + 1)
	}
	return p, err
}

// Append records the entry's offset.
func (l *sentLog) Append(ctx context.Context, data []byte, expectLast uint64) (uint64, error) {
	off, err := l.Log.Append(ctx, data, expectLast)
	if err == nil {
		l.record(off)
	}
	return off, err
}

// masterLog returns the log to give the master: wrapped to record sent
// offsets when the HTTP API serves a master with async acks.
func (h *httpFlags) masterLog(lg *jetstream.Log, ack master.AckMode) (master.Log, *sentLog) {
	if h.addr == "" || ack != master.AckAsync {
		return lg, nil
	}
	sl := &sentLog{Log: lg}
	return sl, sl
}

// replicaNode adapts a replica to httpapi.Node: it writes nothing, so
// there is nothing to acknowledge, and its offset is the last entry it
// applied.
type replicaNode struct{ r *replica.Replica }

var _ httpapi.Node = replicaNode{}

func (n replicaNode) Engine() *command.Engine { return n.r.Engine() }

func (n replicaNode) Ack(context.Context, uint64) error { return nil }

func (n replicaNode) Offset() uint64 { return n.r.Offset() }

// WaitOffset waits until the replica has applied off.
func (n replicaNode) WaitOffset(ctx context.Context, off uint64) error {
	return pollOffset(ctx, off, n.r.Offset)
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
