package server

import (
	"cmp"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/resp"
)

// loop serves connections the way redis-server's event loop does: one
// goroutine waits on an epoll set of client sockets and, for every socket
// with input, reads once, runs the complete requests under the engine lock
// and writes the replies, all in one pass. Go's netpoller gives every
// connection a goroutine instead, which costs a read that finds nothing, a
// park and a wake-up per request: with GOMAXPROCS=1 under many clients the
// log's acknowledgement waits behind all of them (bench/README.md).
//
// The loop keeps only the plain request-reply path. A connection that
// blocks, subscribes, monitors, tracks, syncs, runs a script, must close,
// or whose client does not take its replies is handed to a goroutine of
// its own (adopt) and never comes back: those paths stay in one place.
//
// The epoll set is edge-triggered, and a read shorter than asked means
// the socket is drained (epoll(7)), so a request costs one read and one
// write. The loop itself waits in Go's netpoller, on the epoll descriptor.
type loop struct {
	s     *Server
	epfd  int
	efd   int      // eventfd: post and the log's progress wake the loop
	file  *os.File // epfd, for Go's netpoller
	conns map[int32]*conn
	n     atomic.Int64 // len(conns), for other goroutines

	events []unix.EpollEvent
	ready  []*conn // connections this pass serves
	next   []*conn // connections the next pass serves (queue)
	// waiting are connections whose replies wait for the log; they are
	// not read meanwhile.
	waiting []*conn

	mu      sync.Mutex
	inbox   []*conn // new connections and nudged ones
	stopped bool
	efdGone bool // efd is closed: wake writes nothing
	woken   atomic.Bool
	// logWait is set while replies wait for the log: its progress wakes
	// the loop then (logProgress).
	logWait atomic.Bool
}

// loopConn is a connection's state in the loop.
type loopConn struct {
	queued   bool // in ready or next
	read     bool // read before running requests
	readable bool // an edge came while replies waited for the log
	more     bool // requests are buffered past the replies' size cap
	wait     bool // in waiting
	full     bool // the last read filled what was asked: more may wait
	// hup: the peer closed its side (or the socket failed). Its end may
	// have come with the last bytes read, in one edge: the connection is
	// read again after its replies, until the read finds the end.
	hup bool
}

// fdReader reads a loop connection's socket without waiting.
type fdReader struct{ c *conn }

// errAgain is fdReader's "nothing to read now".
var errAgain = errors.New("server: would block")

func (r fdReader) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(r.c.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			r.c.ls.full = false
			return 0, errAgain
		case err != nil:
			return 0, err
		case n == 0:
			return 0, io.EOF
		}
		r.c.ls.full = n == len(p)
		return n, nil
	}
}

// newLoop creates the epoll set and starts the loop and its log waiter.
func (s *Server) newLoop() (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(efd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(efd)
		return nil, err
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(efd)
		return nil, err
	}
	l := &loop{
		s: s, epfd: epfd, efd: efd, file: os.NewFile(uintptr(epfd), "epoll"),
		conns: make(map[int32]*conn), events: make([]unix.EpollEvent, 256),
	}
	if s.ackNotify != nil {
		s.ackNotify(l.logProgress)
	}
	s.wg.Add(1)
	go l.run()
	return l, nil
}

// add gives an accepted connection to the loop. The loop serves a copy
// of its descriptor; nc is closed. It reports false when the loop cannot
// take it (nc is then still open).
func (l *loop) add(nc net.Conn) bool {
	sc, ok := nc.(*net.TCPConn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	if err := rc.Control(func(s uintptr) {
		fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil || fd < 0 {
		return false
	}
	c := l.s.newConn(nc.RemoteAddr().String(), nc.LocalAddr().String())
	nc.Close()
	c.fd, c.lp = fd, l
	c.rd.SetSource(fdReader{c})
	l.mu.Lock()
	if l.efdGone {
		l.mu.Unlock()
		unix.Close(fd)
		processConns.Add(-1)
		return true
	}
	l.inbox = append(l.inbox, c)
	l.mu.Unlock()
	l.wake()
	return true
}

// post hands c to the loop (a new connection, or a nudged one) and wakes it.
func (l *loop) post(c *conn) {
	l.mu.Lock()
	if l.efdGone {
		l.mu.Unlock()
		return
	}
	l.inbox = append(l.inbox, c)
	l.mu.Unlock()
	l.wake()
}

func (l *loop) wake() {
	if !l.woken.Swap(true) {
		one := [8]byte{1}
		l.mu.Lock()
		if !l.efdGone {
			unix.Write(l.efd, one[:])
		}
		l.mu.Unlock()
	}
}

// stop makes the loop close its connections and end.
func (l *loop) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
	l.wake()
}

// logProgress is called, from any goroutine, when what the log holds
// changed: it wakes the loop if replies wait for it.
func (l *loop) logProgress() {
	if l.logWait.Load() {
		l.wake()
	}
}

func (l *loop) run() {
	defer l.s.wg.Done()
	rc, err := l.file.SyscallConn()
	if err != nil {
		l.s.log.Error("event loop", "err", err)
		return
	}
	rc.Read(func(uintptr) bool { return l.pass() })
	for _, c := range l.conns {
		l.closeConn(c, nil)
	}
	l.file.Close()
	l.mu.Lock()
	rest := l.inbox
	l.inbox = nil
	l.efdGone = true
	unix.Close(l.efd)
	l.mu.Unlock()
	for _, c := range rest {
		if c.fd >= 0 {
			// New since the last look at the inbox: never registered.
			unix.Close(c.fd)
			c.fd = -1
			processConns.Add(-1)
		}
	}
}

// pass runs the loop until it has nothing to do; it returns false to wait
// in the netpoller for the epoll set, true once the loop is stopped.
func (l *loop) pass() bool {
	for {
		n, err := unix.EpollWait(l.epfd, l.events, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			l.s.log.Error("event loop: epoll_wait", "err", err)
			return true
		}
		inbox := false
		for _, ev := range l.events[:n] {
			if int(ev.Fd) == l.efd {
				inbox = true
				continue
			}
			c := l.conns[ev.Fd]
			if c == nil {
				continue
			}
			if ev.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				c.ls.hup = true
			}
			if c.ls.wait {
				c.ls.readable = true
				continue
			}
			l.queue(c, true)
		}
		if inbox {
			var buf [8]byte
			unix.Read(l.efd, buf[:])
			l.woken.Store(false)
			if l.takeInbox() {
				return true
			}
		}
		l.checkWaiting()
		l.ready, l.next = l.next, l.ready[:0]
		for _, c := range l.ready {
			c.ls.queued = false
			if c.fd >= 0 {
				l.serve(c)
			}
		}
		// Fewer events than asked: the set was emptied. Whatever comes
		// after the epoll_wait above makes the epoll descriptor readable
		// again for Go's poller (every new event wakes the set's
		// watchers), so the loop may wait without asking once more.
		if n < len(l.events) && len(l.next) == 0 {
			if len(l.waiting) == 0 {
				l.logWait.Store(false)
				return false
			}
			// Set before the log is asked once more: progress after that
			// wakes the loop.
			l.logWait.Store(true)
			l.checkWaiting()
			if len(l.next) == 0 {
				return false
			}
		}
	}
}

// queue puts c in the next pass, reading first when read is set.
func (l *loop) queue(c *conn, read bool) {
	c.ls.read = c.ls.read || read
	if !c.ls.queued {
		c.ls.queued = true
		l.next = append(l.next, c)
	}
}

// takeInbox registers new connections and hands nudged ones over. It
// reports whether the loop must stop.
func (l *loop) takeInbox() bool {
	l.mu.Lock()
	in, stopped := l.inbox, l.stopped
	l.inbox = nil
	l.mu.Unlock()
	for _, c := range in {
		if c.fd >= 0 && l.conns[int32(c.fd)] == nil {
			// New.
			if stopped {
				l.closeConn(c, nil)
				continue
			}
			ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(c.fd)}
			if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
				l.closeConn(c, err)
				continue
			}
			l.conns[int32(c.fd)] = c
			l.n.Add(1)
			// Known from its connection on, as in redis-server (CLIENT
			// LIST); while a script is busy, from its first command.
			if e := l.s.e; e.LockOrBusy() {
				e.RegisterClient(c.cl)
				e.Unlock()
			}
			l.queue(c, true)
			continue
		}
		if c.fd >= 0 && l.conns[int32(c.fd)] == c {
			// Nudged: output waits for a client that may send nothing.
			l.handOff(c, false, false, nil)
		}
	}
	return stopped
}

// serve reads from c (when asked) and runs what it sent.
func (l *loop) serve(c *conn) {
	e := l.s.e
	if c.ls.read {
		c.ls.read = false
		n := c.rd.Buffered()
		err := c.rd.Fill()
		if err == errAgain {
			return
		}
		if err != nil {
			if errors.Is(err, resp.ErrQueryBufferLimit) {
				l.s.log.Warn("closing client over query buffer limit", "addr", c.cl.Addr)
			}
			l.closeConn(c, err)
			return
		}
		e.Stats().NetInput.Add(int64(c.rd.Buffered() - n))
	}
	closeAfter, more, blocked, err := c.batch()
	if c.held != nil {
		// A script is next, and the engine lock still held: the
		// connection's goroutine runs it and the rest of the batch.
		if err := l.adopt(c); err != nil || c.nc == nil {
			e.Unlock()
			l.dropConn(c, cmp.Or(err, errAdopt))
			return
		}
		l.start(c, func() error {
			closeAfter, more, blocked, err := c.batchLocked(false)
			e.Unlock()
			if err != nil {
				return err
			}
			if err := c.resume(closeAfter, more, blocked); err != nil {
				return err
			}
			return c.serve()
		})
		return
	}
	if c.fd < 0 {
		// emit handed the connection over (it subscribed, say), or
		// failed to.
		switch {
		case c.nc == nil:
			l.dropConn(c, errAdopt)
		case err != nil:
			l.start(c, func() error { return err })
		default:
			l.resume(c, closeAfter, more, blocked)
		}
		return
	}
	if err != nil {
		l.closeConn(c, err)
		return
	}
	if closeAfter || blocked != nil || c.cl.SyncRequested() != nil {
		l.handOff(c, closeAfter, more, blocked)
		return
	}
	c.ls.more = more
	if c.cl.W.Len() > 0 && c.need > 0 && l.s.ackPoll != nil {
		ok, err := l.s.ackPoll(c.need)
		if err != nil {
			// The client never hears that a write succeeded that the log
			// may not have.
			c.cl.W.Reset()
			l.closeConn(c, err)
			return
		}
		if !ok {
			c.ls.wait = true
			l.waiting = append(l.waiting, c)
			return
		}
	}
	l.reply(c)
}

// reply writes c's replies and queues what comes next for it.
func (l *loop) reply(c *conn) {
	w := &c.cl.W
	written, err := writeNow(c.fd, w.Buf)
	l.s.e.Stats().NetOutput.Add(int64(written))
	if err != nil {
		w.Reset()
		l.closeConn(c, err)
		return
	}
	if written < len(w.Buf) {
		// The client does not take its replies: its goroutine waits for
		// it, and the rest moves to a writer if it stalls.
		w.Buf = w.Buf[:copy(w.Buf, w.Buf[written:])]
		c.need = 0
		l.handOff(c, false, c.ls.more, nil)
		return
	}
	releaseReplies(w)
	switch {
	case c.ls.more:
		c.ls.more = false
		l.queue(c, false)
	case c.ls.full || c.ls.readable || c.ls.hup:
		c.ls.readable = false
		l.queue(c, true)
	}
}

// checkWaiting writes the replies the log now holds.
func (l *loop) checkWaiting() {
	// A connection nudged meanwhile belongs to its goroutine, which
	// writes c.need: not to be read here.
	l.waiting = slices.DeleteFunc(l.waiting, func(c *conn) bool { return c.fd < 0 })
	if len(l.waiting) == 0 {
		return
	}
	if ok, err := l.s.ackPoll(l.minNeed()); !ok && err == nil {
		return // none is stored
	}
	keep := l.waiting[:0]
	for _, c := range l.waiting {
		if c.fd < 0 {
			continue // handed over meanwhile
		}
		ok, err := l.s.ackPoll(c.need)
		if err != nil {
			c.ls.wait = false
			c.cl.W.Reset()
			l.closeConn(c, err)
			continue
		}
		if !ok {
			keep = append(keep, c)
			continue
		}
		c.ls.wait = false
		l.reply(c)
	}
	clear(l.waiting[len(keep):])
	l.waiting = keep
}

// minNeed is the smallest need among the waiting connections.
func (l *loop) minNeed() uint64 {
	need := l.waiting[0].need
	for _, c := range l.waiting[1:] {
		need = min(need, c.need)
	}
	return need
}

// adopt gives c a net.Conn of its own and takes it out of the loop, so
// that a goroutine can serve it (startWriter may need it at once: emit
// runs under the engine lock). Called on the loop's goroutine.
func (l *loop) adopt(c *conn) error {
	if c.fd < 0 {
		return nil
	}
	if l.conns[int32(c.fd)] == c {
		delete(l.conns, int32(c.fd))
		l.n.Add(-1)
	}
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	f := os.NewFile(uintptr(c.fd), "client")
	nc, err := net.FileConn(f) // a copy of the descriptor, in Go's netpoller
	c.mu.Lock()
	c.fd = -1
	c.lp = nil
	c.mu.Unlock()
	f.Close()
	c.ls.wait = false
	if err != nil {
		return err
	}
	s := l.s
	s.mu.Lock()
	closed := s.closed
	s.conns[nc] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	c.attach(nc)
	if closed {
		nc.Close()
	}
	return nil
}

// handOff adopts c and has its goroutine go on from the end of a batch.
func (l *loop) handOff(c *conn, closeAfter, more bool, blocked *command.Blocked) {
	if err := l.adopt(c); err != nil {
		l.dropConn(c, err)
		return
	}
	l.resume(c, closeAfter, more, blocked)
}

// resume starts the goroutine of an adopted connection, from the end of a
// batch.
func (l *loop) resume(c *conn, closeAfter, more bool, blocked *command.Blocked) {
	l.start(c, func() error {
		if err := c.resume(closeAfter, more, blocked); err != nil {
			return err
		}
		return c.serve()
	})
}

// start runs serve on a goroutine for an adopted connection.
func (l *loop) start(c *conn, serve func() error) {
	go func() {
		defer l.s.wg.Done()
		c.run(serve)
	}()
}

// errAdopt closes a connection the loop could not hand to a goroutine.
var errAdopt = errors.New("server: cannot hand the connection over")

// closeConn ends a connection the loop serves.
func (l *loop) closeConn(c *conn, err error) {
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, errCrossProtocol) {
		l.s.log.Debug("connection closed", "addr", c.cl.Addr, "err", err)
	}
	if l.conns[int32(c.fd)] == c {
		delete(l.conns, int32(c.fd))
		l.n.Add(-1)
	}
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	c.mu.Lock()
	unix.Close(c.fd)
	c.fd = -1
	c.mu.Unlock()
	l.dropConn(c, nil)
}

// dropConn forgets the client of a connection whose socket is gone.
func (l *loop) dropConn(c *conn, err error) {
	if err != nil {
		l.s.log.Warn("connection closed", "addr", c.cl.Addr, "err", err)
	}
	c.ls.wait = false
	e := l.s.e
	if e.LockOrBusy() {
		e.CloseClient(c.cl)
		e.Unlock()
	} else {
		// A busy script holds the engine: the loop goes on answering
		// BUSY, and the client is forgotten once the script ends. The
		// loop's own count keeps the server's above zero here.
		l.s.wg.Add(1)
		go func() {
			defer l.s.wg.Done()
			e.Lock()
			e.CloseClient(c.cl)
			e.Unlock()
		}()
	}
	processConns.Add(-1)
}

// count returns how many connections the loop serves.
func (l *loop) count() int64 { return l.n.Load() }

// shutdownFD ends a loop connection's socket from any goroutine: the loop
// sees the end and closes it.
func shutdownFD(fd int) { unix.Shutdown(fd, unix.SHUT_RDWR) }
