// Package server accepts RESP connections and runs their commands on a
// command.Engine, the way redis-server serves a client: what the client
// sent is read, every complete request runs under one acquisition of the
// engine lock, and the replies are written. On Linux an event loop serves
// the plain request-reply clients (loop_linux.go); a client that blocks,
// subscribes, runs a script or stops reading moves to a goroutine of its
// own, which hands its output to a writer goroutine when it subscribes or
// its client stops reading, so that messages arrive at any time and
// reading never waits for the client to read.
package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/resp"
)

// prefetchEvery is how many pipelined requests run between reads ahead of
// their keys (command.Engine.Prefetch).
const prefetchEvery = 16

// maxBatchOutput bounds the replies buffered before they are written, so a
// deep pipeline of large replies does not grow one buffer without limit.
const maxBatchOutput = 64 * 1024

// Server serves one engine on one listener.
type Server struct {
	e   *command.Engine
	log *slog.Logger
	ln  net.Listener

	mu         sync.Mutex
	conns      map[net.Conn]struct{}
	closed     bool
	wg         sync.WaitGroup
	stop       chan struct{}
	maxClients int // connections the process serves at once; more are refused

	// ackWait, when set, blocks until the log holds every unit up to need
	// (see SetAckWaiter); ackPoll asks without waiting.
	ackWait   func(need uint64) error
	ackPoll   func(need uint64) (bool, error)
	ackNotify func(progress func())

	useLoop bool  // SetEventLoop
	lp      *loop // the event loop, once Serve started it
}

// reservedFDs are the file descriptors kept for everything but clients
// (NATS connections, an embedded NATS server's store, snapshot files):
// the client limit is lowered to leave them when the process may open
// fewer than DefaultMaxClients plus these (Redis keeps 32).
const reservedFDs = 128

// processConns counts the RESP connections of every Server in the process
// (ferry dev runs two): the file limit maxClients derives from is the
// process's, so the limit applies to them together.
var processConns atomic.Int64

// maxClients is the connection limit for a process that may open limit
// files (0: unknown): Redis's 10000, or fewer to stay within limit.
func maxClients(limit uint64) int {
	n := command.DefaultMaxClients
	if limit > 0 && limit < uint64(n+reservedFDs) {
		n = max(int(limit)-reservedFDs, 1)
	}
	return n
}

// errMaxClients is what a connection past the limit gets before it is
// closed, as from redis-server.
const errMaxClients = "-ERR max number of clients reached\r\n"

// New returns a server for e. logger may be nil.
func New(e *command.Engine, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{e: e, log: logger, conns: make(map[net.Conn]struct{}), stop: make(chan struct{}), maxClients: maxClients(fdLimit()), useLoop: true}
	e.Lock()
	e.SetMaxClients(s.maxClients)
	e.Unlock()
	return s
}

// Listen binds addr ("127.0.0.1:6379"; port 0 picks a free one).
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.ln = ln
	return nil
}

// Addr returns the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts connections until ctx ends or Close is called, and runs the
// active expiry cycle ten times a second. It returns nil after a clean stop.
func (s *Server) Serve(ctx context.Context) error {
	s.wg.Add(1)
	go s.expireLoop()
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.stop:
		}
	}()
	if s.useLoop && (s.ackWait == nil || s.ackPoll != nil && s.ackNotify != nil) {
		lp, err := s.newLoop()
		if err != nil {
			s.log.Warn("no event loop: a goroutine per connection", "err", err)
		}
		s.mu.Lock()
		s.lp = lp
		if s.closed && lp != nil {
			lp.stop()
		}
		s.mu.Unlock()
	}
	var backoff time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			// Out of file descriptors (EMFILE), or another failure of one
			// accept: the server goes on serving the clients it has and
			// tries again, 5 ms doubling to 1 s, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", "err", err, "after", backoff)
			select {
			case <-time.After(backoff):
			case <-s.stop:
			}
			continue
		}
		backoff = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		if processConns.Load() >= int64(s.maxClients) {
			s.mu.Unlock()
			s.e.Stats().RejectedConns.Add(1)
			nc.SetWriteDeadline(time.Now().Add(time.Second))
			io.WriteString(nc, errMaxClients)
			nc.Close()
			continue
		}
		processConns.Add(1)
		if s.lp != nil && s.lp.add(nc) {
			s.mu.Unlock()
			continue
		}
		s.conns[nc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.handle(nc)
	}
}

// Close stops accepting, closes every connection and waits for their
// goroutines. It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	close(s.stop)
	if s.lp != nil {
		s.lp.stop()
	}
	err := s.ln.Close()
	for nc := range s.conns {
		nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) expireLoop() {
	defer s.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for tick := 1; ; tick++ {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.e.ActiveExpire()
			if tick%10 == 0 {
				// Output left above a soft limit with nothing added.
				s.e.CheckOutputLimits()
			}
		}
	}
}

// conn is one client connection.
type conn struct {
	s *Server
	// mu guards the socket's hand-over from the event loop to the
	// connection's goroutine against kill and nudge.
	mu  sync.Mutex
	nc  net.Conn        // nil while the event loop serves the connection
	raw syscall.RawConn // nc's socket, for writes that do not wait (nil: not a socket)
	fd  int             // the socket while the event loop serves the connection, else -1
	lp  *loop           // the event loop serving the connection, if any
	ls  loopConn        // the event loop's state of the connection
	// held is a request the event loop parsed and left for the
	// connection's goroutine (runsScript); its arguments alias rd's buffer.
	held   [][]byte
	killed bool
	rd     *resp.Reader
	cl     *command.Client

	async    bool // a writer goroutine owns the socket's output (for good)
	writerWG sync.WaitGroup
	done     chan struct{}
	need     uint64 // the log must hold units up to here before replies go out
	// asyncNeed is need for the replies handed to the asynchronous writer.
	asyncNeed atomic.Uint64
	// nudged says the read deadline was moved to the past to wake the
	// connection for output queued while it sat in a read
	// (command.Client.Nudge).
	nudged atomic.Bool
	// early holds, while the client is blocked, the replies it had before
	// it blocked: cl.W then belongs to the command that serves it, which
	// may run on another connection.
	early resp.Writer
}

func (s *Server) handle(nc net.Conn) {
	defer s.wg.Done()
	c := s.newConn(nc.RemoteAddr().String(), nc.LocalAddr().String())
	c.attach(nc)
	c.run(c.serve)
}

// newConn returns a connection for a client at addr, with no socket yet
// (attach, or the event loop, gives it one).
func (s *Server) newConn(addr, laddr string) *conn {
	c := &conn{s: s, fd: -1, rd: resp.NewReader(nil), done: make(chan struct{})}
	// Registered by the first batch: a script may hold the lock now.
	c.cl = s.e.PrepareClient(addr, laddr)
	c.cl.Kill = c.kill
	c.cl.LogOutputLimit = func(client string) {
		s.log.Warn("closing client over output buffer limits", "client", client)
	}
	c.cl.Nudge = c.nudge
	return c
}

// attach gives the connection its socket, for a goroutine of its own.
func (c *conn) attach(nc net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nc = nc
	c.rd.SetSource(nc)
	if sc, ok := nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	if c.killed {
		nc.Close()
	}
	if c.nudged.Load() {
		nc.SetReadDeadline(time.Unix(1, 0))
	}
}

// kill closes the connection (CLIENT KILL), from any goroutine.
func (c *conn) kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.killed = true
	if c.nc != nil {
		c.nc.Close()
	} else if c.fd >= 0 {
		// The event loop closes the descriptor once it sees the end.
		shutdownFD(c.fd)
	}
}

// nudge wakes a connection idle in a read for output queued on it
// (command.Client.Nudge).
func (c *conn) nudge() {
	if c.cl.AsyncOutput() || c.nudged.Swap(true) {
		return
	}
	c.mu.Lock()
	nc, lp := c.nc, c.lp
	c.mu.Unlock()
	if nc != nil {
		nc.SetReadDeadline(time.Unix(1, 0))
	} else if lp != nil {
		lp.post(c)
	}
}

// run serves the connection on the calling goroutine until it ends, then
// forgets the client and closes the socket.
func (c *conn) run(serve func() error) {
	s, e := c.s, c.s.e
	defer func() {
		e.Lock()
		e.CloseClient(c.cl)
		e.Unlock()
		close(c.done)
		c.writerWG.Wait()
		c.nc.Close()
		s.mu.Lock()
		delete(s.conns, c.nc)
		processConns.Add(-1)
		s.mu.Unlock()
	}()
	if err := serve(); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		s.log.Debug("connection closed", "addr", c.cl.Addr, "err", err)
	}
}

// errOutputLimit ends the connection of a client closed for its output
// buffer limits (command.Engine.CheckOutput).
var errOutputLimit = errors.New("client output buffer limit reached")

// errCrossProtocol ends a connection that sent an HTTP request line or
// header (POST, Host:), which Redis drops without a reply.
var errCrossProtocol = errors.New("cross-protocol request")

// crossProtocol reports whether a command name is one of the words Redis
// takes for a cross-protocol attack ("POST", "Host:").
func crossProtocol(name []byte) bool {
	return bytes.EqualFold(name, []byte("post")) || bytes.EqualFold(name, []byte("host:"))
}

// serve runs the connection's read-execute-write loop, as redis-server
// does for a client: one read, then every complete request it brought in
// runs (until the client blocks or must be closed), then the replies are
// written.
func (c *conn) serve() error {
	for {
		closeAfter, more, blocked, err := c.batch()
		if err != nil {
			return err
		}
		if err := c.resume(closeAfter, more, blocked); err != nil {
			return err
		}
	}
}

// resume does what a batch left to do: it writes the replies, closes,
// hands the connection to a replica's sync, waits for a blocked command,
// and reads more unless requests are left. It returns an error (io.EOF
// for a clean end) once the connection must end.
func (c *conn) resume(closeAfter, more bool, blocked *command.Blocked) error {
	e := c.s.e
	if err := c.flushBatch(blocked); err != nil {
		return err
	}
	if closeAfter {
		return c.finish()
	}
	if req := c.cl.SyncRequested(); req != nil {
		return c.handOver(*req)
	}
	if blocked != nil {
		return c.serveBlocked(blocked)
	}
	if more {
		return nil
	}
	n := c.rd.Buffered()
	if err := c.rd.Fill(); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) && c.nudged.Load() {
			// Output was queued while the client sent nothing: a
			// writer takes it. The deadline goes before the flag, so
			// a nudge in between is covered by this emit.
			c.nc.SetReadDeadline(time.Time{})
			c.nudged.Store(false)
			e.Lock()
			c.emit()
			e.Unlock()
			return nil
		}
		if errors.Is(err, io.EOF) && c.async {
			// The client closed its side after, say, SUBSCRIBE: the
			// replies it is owed still go out, as from redis-server.
			c.finish()
			return err
		}
		if errors.Is(err, resp.ErrQueryBufferLimit) {
			c.s.log.Warn("closing client over query buffer limit", "addr", c.cl.Addr)
		}
		return err
	}
	e.Stats().NetInput.Add(int64(c.rd.Buffered() - n))
	return nil
}

// serveBlocked waits for a blocked (or paused) command to end and writes
// its reply, again while the client waits again (a command a pause held
// may block, or be held, when it runs again). It returns io.EOF once the
// connection must close.
func (c *conn) serveBlocked(blocked *command.Blocked) error {
	e := c.s.e
	for blocked != nil {
		if err := c.waitBlocked(blocked); err != nil {
			return err
		}
		e.Lock()
		e.EndWait(c.cl)
		closeAfter := c.cl.CloseAfterReply()
		if closeAfter {
			e.CloseClient(c.cl)
		}
		blocked = c.settle()
		e.Unlock()
		if blocked == nil && !closeAfter && c.cl.SyncRequested() == nil {
			// The reply goes out with those of the requests that came
			// meanwhile: a client released from a pause runs them in its
			// turn (command.Engine.EndTurn), which waits for no write.
			return nil
		}
		if err := c.flushBatch(blocked); err != nil {
			return err
		}
		if closeAfter {
			return c.finish()
		}
		if req := c.cl.SyncRequested(); req != nil {
			e.Lock()
			e.EndTurn(c.cl)
			e.Unlock()
			if err := c.handOver(*req); err != nil {
				return err
			}
			return io.EOF // the connection is over
		}
	}
	return nil
}

// batch runs, under the engine lock, the complete requests buffered. It
// reports whether the connection must close once the replies are written,
// whether requests are left (the replies grew large), and the client's
// wait when a command blocked.
//
// On the event loop, batch stops before a request that runs a script and
// returns with the engine lock still held and the request in c.held: the
// connection's goroutine goes on with the batch (batchLocked) and
// releases the lock, so that the script runs next, as in redis-server,
// and the loop's other clients get BUSY while it is busy.
func (c *conn) batch() (closeAfter, more bool, blocked *command.Blocked, err error) {
	e := c.s.e
	for !e.LockOrBusy() {
		closeAfter, ended := c.busyBatch()
		if !ended {
			return closeAfter, false, nil, nil
		}
		// The script ended: the rest runs as usual, from the request
		// held back (busyBatch).
	}
	e.RegisterClient(c.cl) // the first batch's, or BusyReply's before it
	closeAfter, more, blocked, err = c.batchLocked(c.lp != nil)
	if c.held == nil || err != nil {
		e.Unlock()
	}
	return closeAfter, more, blocked, err
}

// batchLocked runs the buffered requests with the engine lock held. With
// holdScripts (on the event loop) it returns before a script, without
// ending the batch (see batch).
func (c *conn) batchLocked(holdScripts bool) (closeAfter, more bool, blocked *command.Blocked, err error) {
	e := c.s.e
	cl := c.cl
	c.rd.MaxBulkLen = e.Config().MaxBulkLen
	waited := false // the batch stopped at a command that waits
	for ran := 0; ; ran++ {
		if ran%prefetchEvery == 0 && c.rd.Buffered() > 0 {
			// A pipeline: its next keys are read ahead together.
			e.Prefetch(cl.DB, c.rd.Unread())
		}
		args, err := c.next(!e.Unauthenticated(cl))
		if err != nil {
			var pe resp.ProtocolError
			if errors.As(err, &pe) {
				e.ProtocolError(cl, pe.Error())
			}
			closeAfter = true
			break
		}
		if args == nil {
			break
		}
		if holdScripts && runsScript(args[0]) {
			// A script may run past busy-reply-threshold, when the other
			// clients must get BUSY: it runs on a goroutine of the
			// connection's own, not on the event loop.
			c.held = args
			return false, false, nil, nil
		}
		if crossProtocol(args[0]) {
			// Nothing more is written, not even the replies to the
			// requests before this one.
			c.kill()
			e.CloseClient(cl)
			cl.W.Reset()
			c.need = e.AckPoint()
			return false, false, nil, errCrossProtocol
		}
		ok := e.Exec(cl, args)
		if e.CheckOutput(cl, cl.W.Len()) {
			// Over its output buffer limits: closed with none of the
			// replies of this batch written, as Redis frees a client
			// before it writes what it gathered in one event loop turn.
			cl.W.Reset()
			c.need = e.AckPoint()
			return false, false, nil, errOutputLimit
		}
		if !ok {
			closeAfter = true
			break
		}
		if cl.Blocked() != nil || cl.SyncRequested() != nil {
			waited = cl.Blocked() != nil
			break
		}
		// A client with an output limit gathers the replies to all it
		// sent, as redis-server does, so that the limit sees them.
		if cl.W.Len() > maxBatchOutput && !cl.OutputLimited() {
			more = c.rd.Buffered() > 0
			break
		}
	}
	if closeAfter {
		// The client gets no more messages once it must close.
		e.CloseClient(cl)
	}
	// A client released from a pause has run what it pipelined: the next
	// one's turn.
	e.EndTurn(cl)
	blocked = c.settle() // settle sets c.need
	if waited && blocked == nil {
		// The wait is already over: EndTurn released another client's
		// held command, which served this one's (a push to the key its
		// BLPOP waits on). The requests pipelined behind it are left to
		// run: nothing new may come from a client that waits for their
		// replies.
		more = c.rd.Buffered() > 0
	}
	return closeAfter, more, blocked, nil
}

// next returns the next complete request: the one the event loop held
// back, if any, then those buffered.
func (c *conn) next(authed bool) ([][]byte, error) {
	if args := c.held; args != nil {
		c.held = nil
		return args, nil
	}
	return c.rd.Next(authed)
}

// runsScript reports whether a command runs a script or a function.
func runsScript(name []byte) bool {
	switch len(name) {
	case 4, 5, 7, 8, 10:
		for _, s := range []string{"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"} {
			if bytes.EqualFold(name, []byte(s)) {
				return true
			}
		}
	}
	return false
}

// flushBatch writes a batch's replies once the log holds what they depend
// on: the replies before a command that blocked, when one did.
func (c *conn) flushBatch(blocked *command.Blocked) error {
	out := &c.cl.W
	if blocked != nil {
		out = &c.early
	}
	return c.ackedFlush(out)
}

// settle hands the replies written so far to the output and returns the
// client's wait, if it waits: its replies until then are in c.early, and
// cl.W belongs to the command that ends the wait. Called with the engine
// lock held; c.need is set by the caller.
func (c *conn) settle() *command.Blocked {
	c.emit()
	blocked := c.cl.Blocked()
	if blocked != nil {
		c.early.Buf, c.cl.W.Buf = c.cl.W.Buf, c.early.Buf[:0]
	}
	c.need = c.s.e.AckPoint()
	return blocked
}

// busyBatch answers the complete requests buffered while a script holds
// the engine past busy-reply-threshold, without waiting for the lock
// (Engine.BusyReply). It reports whether the connection must close, and
// ended: the script ended before a request it lets through could be
// answered, and that request is held back (c.held) for the engine lock,
// where a client pause may hold it as a blocked client.
func (c *conn) busyBatch() (closeAfter, ended bool) {
	for {
		args, err := c.next(!c.s.e.Unauthenticated(c.cl))
		if err != nil {
			var pe resp.ProtocolError
			if errors.As(err, &pe) {
				c.s.e.BusyError(c.cl, pe.Error())
			}
			return true, false
		}
		if args == nil {
			return false, false
		}
		mark := c.cl.W.Len()
		quit, run := c.s.e.BusyReply(c.cl, args)
		if run {
			c.held = args
			return false, true
		}
		c.cl.MutedReply(mark) // CLIENT REPLY OFF or SKIP
		if quit {
			return true, false
		}
	}
}

// emit hands the replies in the client's writer to the asynchronous output
// once the client has subscribed to something or monitors (starting the
// writer then). Called with the engine lock held; in synchronous
// mode the replies stay in the writer for flush.
func (c *conn) emit() {
	cl := c.cl
	if (cl.SubCount() > 0 || cl.Monitoring() || cl.Tracking() || cl.HasPending()) && !c.async {
		if c.lp != nil {
			// The event loop hands the connection to a goroutine.
			if err := c.lp.adopt(c); err != nil {
				c.s.log.Warn("closing client", "addr", cl.Addr, "err", err)
			}
		}
		if c.nc == nil {
			return // the hand-over failed: the connection is closing
		}
		c.startWriter()
	}
	if c.async && cl.W.Len() > 0 {
		// The writer waits for the log to hold what these replies depend on.
		c.asyncNeed.Store(c.s.e.AckPoint())
		cl.Push(cl.W.Buf)
		cl.W.Reset()
		c.s.e.CheckOutput(cl, 0)
	}
}

// flush writes the replies buffered in the client's writer (synchronous mode).
func (c *conn) flush() error { return c.flushWriter(&c.cl.W) }

// writeStall is how long a synchronous write may wait for a client that
// does not read before its output moves to the asynchronous writer.
const writeStall = 5 * time.Millisecond

// flushWriter writes and empties w (synchronous mode). A client that sends
// requests without reading the replies (a deep pipeline written whole
// before any read) must not stop the connection from reading, as
// redis-server, which buffers any amount of output, does not: when the
// write stalls, the rest goes to the asynchronous writer, which the
// connection keeps from then on.
func (c *conn) flushWriter(w *resp.Writer) error {
	if c.async || w.Len() == 0 {
		return nil
	}
	n, err := c.tryWrite(w.Buf)
	if err == nil && n < len(w.Buf) {
		// The socket's buffer is full: wait a little for the client.
		c.nc.SetWriteDeadline(time.Now().Add(writeStall))
		var m int
		m, err = c.nc.Write(w.Buf[n:])
		n += m
		if err == nil {
			c.nc.SetWriteDeadline(time.Time{}) // for tryWrite's next call
		}
	}
	c.s.e.Stats().NetOutput.Add(int64(n))
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		c.asyncNeed.Store(c.need)
		c.startWriter()
		c.cl.Push(w.Buf[n:])
		err = nil
		// Checked against the output limits now, unless a busy script
		// holds the engine: the once-a-second check covers that.
		if e := c.s.e; e.LockOrBusy() {
			if e.CheckOutput(c.cl, 0) {
				err = errOutputLimit
			}
			e.Unlock()
		}
	}
	releaseReplies(w)
	return err
}

// tryWrite writes as much of b as the socket takes without waiting, and
// reports how much that was: all of it but for replies larger than the
// socket's buffer, or a client that stopped reading. Replies are written
// so, and only what is left waits with a deadline, because setting a
// deadline for every write cost ~3% of the CPU at redis-benchmark -P 1.
func (c *conn) tryWrite(b []byte) (n int, err error) {
	if c.raw == nil {
		return 0, nil
	}
	werr := c.raw.Write(func(fd uintptr) bool {
		n, err = writeNow(int(fd), b)
		return true
	})
	if err == nil {
		err = werr
	}
	return n, err
}

// writeNow writes as much of b to the non-blocking socket fd as it takes
// without waiting (EAGAIN ends it with a nil error).
func writeNow(fd int, b []byte) (n int, err error) {
	for n < len(b) {
		m, e := syscall.Write(fd, b[n:])
		if m > 0 {
			n += m
		}
		switch {
		case e == syscall.EINTR:
		case e == syscall.EAGAIN:
			return n, nil
		case e != nil:
			return n, e
		case m <= 0:
			return n, nil
		}
	}
	return n, nil
}

// releaseReplies empties w once its replies are written, letting a buffer
// grown past 1 MiB go.
func releaseReplies(w *resp.Writer) {
	if cap(w.Buf) > 1<<20 {
		w.Buf = nil
	} else {
		w.Reset()
	}
}

// startWriter hands the socket's output to a goroutine that drains the
// client's asynchronous output (Pub/Sub messages and, from then on, the
// client's replies). Called by the connection's goroutine.
func (c *conn) startWriter() {
	c.async = true
	c.cl.SetAsyncOutput()
	// Synchronous writes leave a deadline behind; the writer may block.
	c.nc.SetWriteDeadline(time.Time{})
	c.writerWG.Add(1)
	go func() {
		defer c.writerWG.Done()
		var buf []byte
		for {
			select {
			case <-c.cl.Wake:
				buf = c.cl.TakePending(buf[:0])
				if len(buf) == 0 {
					continue
				}
				// Loaded after the bytes were taken: it covers them.
				if err := c.waitLog(c.asyncNeed.Load()); err != nil {
					c.nc.Close()
					return
				}
				if err := c.writeOut(buf); err != nil {
					c.nc.Close()
					return
				}
				if cap(buf) > 1<<20 {
					buf = nil
				}
			case <-c.done:
				return
			}
		}
	}()
}

// stopWriter takes the socket's output back from the writer goroutine, if
// one runs, and writes what it had not sent yet once the log holds what
// those replies depend on.
func (c *conn) stopWriter() error {
	if !c.async {
		return nil
	}
	close(c.done)
	c.writerWG.Wait()
	c.done = make(chan struct{})
	c.async = false
	rest := c.cl.TakePending(nil)
	if len(rest) == 0 {
		return nil
	}
	if err := c.waitLog(c.asyncNeed.Load()); err != nil {
		return err
	}
	return c.writeOut(rest)
}

// writeChunk is how much of the asynchronous output one write sends: the
// rest still counts as the client's output (command.Client.Wrote) for the
// output buffer limits.
const writeChunk = 64 * 1024

// writeOut writes bytes taken from the client's asynchronous output
// (command.Client.TakePending), a chunk at a time.
func (c *conn) writeOut(b []byte) error {
	for len(b) > 0 {
		k := min(len(b), writeChunk)
		n, err := c.nc.Write(b[:k])
		c.s.e.Stats().NetOutput.Add(int64(n))
		if err != nil {
			c.cl.Wrote(len(b))
			return err
		}
		c.cl.Wrote(n)
		b = b[k:]
	}
	return nil
}

// finish writes what is pending and ends the connection (QUIT, protocol
// errors): the client sees its last reply before the close.
func (c *conn) finish() error {
	if err := c.stopWriter(); err != nil {
		return err
	}
	if tc, ok := c.nc.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	return io.EOF
}

// waitBlocked waits until a blocked command is served, times out, or the
// client goes away. Meanwhile a read goroutine watches the socket so that a
// disconnect is noticed (and the client stops waiting for keys).
func (c *conn) waitBlocked(b *command.Blocked) error {
	e := c.s.e
	var timeout <-chan time.Time
	if !b.Deadline.IsZero() {
		t := time.NewTimer(time.Until(b.Deadline))
		defer t.Stop()
		timeout = t.C
	}
	fillDone := make(chan error, 1)
	go func() { fillDone <- c.rd.Fill() }()
	filling := true
	var readErr error
	for waiting := true; waiting; {
		select {
		case <-b.Done:
			waiting = false
		case <-timeout:
			e.Lock()
			e.TimeoutBlocked(c.cl)
			e.Unlock()
			waiting = false
		case err := <-fillDone:
			if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && c.nudged.Load() {
				// Output was queued for the waiting client (Nudge): a
				// writer takes it now, and the socket is watched again.
				c.nc.SetReadDeadline(time.Time{})
				c.nudged.Store(false)
				e.Lock()
				if !c.async {
					c.startWriter()
				}
				e.Unlock()
				go func() { fillDone <- c.rd.Fill() }()
				continue
			}
			if err != nil {
				// The client went away: stop waiting, unless it was served
				// at the same moment.
				e.Lock()
				if c.cl.Blocked() != nil {
					e.CloseClient(c.cl)
				}
				e.Unlock()
				return err
			}
			// The client sent more while it waits: that stays buffered for
			// after the wait, and the socket is still watched, so that a
			// client that then goes away stops waiting (its element is not
			// popped for nobody).
			go func() { fillDone <- c.rd.Fill() }()
		}
	}
	if filling {
		c.nc.SetReadDeadline(time.Unix(1, 0))
		err := <-fillDone
		c.nc.SetReadDeadline(time.Time{})
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			readErr = err
		}
		if c.nudged.Load() {
			// A nudge that came during the wait: the connection's next
			// read wakes at once to hand the output to a writer.
			c.nc.SetReadDeadline(time.Unix(1, 0))
		}
	}
	if readErr != nil {
		c.flush()
		return readErr
	}
	return nil
}

// waitLog waits until the log holds units up to need (no wait without an
// ack waiter or when need is 0).
func (c *conn) waitLog(need uint64) error {
	if w := c.s.ackWait; w != nil && need > 0 {
		return w(need)
	}
	return nil
}
