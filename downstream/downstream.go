// Package downstream lets stock Redis tools replicate from a ferry node
// through Redis's own replication protocol: redis-cli --rdb and --replica,
// and a redis-server started with --replicaof pointed at a ferry master or
// replica (cascading replicas, and a way back to plain Redis).
//
// A Server implements command.SyncProvider. After SYNC or PSYNC it takes a
// point-in-time cut of the node's keyspace at a log offset N that the log
// has stored (on a master it waits for that; a replica's applied offset is
// stored by construction), spools the cut as an RDB file to a temporary
// file, sends it as a length-prefixed bulk, and then forwards the log's
// entries from N+1 exactly as a ferry replica reads them: only durable
// data goes downstream, never a master's writes the log has not
// acknowledged. A log gap or read error ends the link (the Redis replica
// reconnects and syncs in full again); nothing is ever skipped.
//
// Each link has its own replication ID. When a link ends because the
// replica went away, the Server keeps where each piece of its stream
// ended (from the replica's last acknowledgement on) for backlogTTL, so
// that the replica's next PSYNC continues from its offset (+CONTINUE),
// reading the log again from there, as Redis's partial resynchronization
// does from its backlog.
//
// The package sits beside snapshot and stream: it uses both and the
// engine, and master and replica import it (never the reverse).
package downstream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/snapshot/rdb"
	"github.com/ferrydb/ferry/stream"
)

// Source is the node a Server replicates.
type Source interface {
	// Cut is called with the engine lock held, at the instant a sync's
	// view of the keyspace is taken. It returns the log offset whose
	// effects the keyspace holds, and wait, which blocks until the log has
	// stored that offset and fails if it never will (nil: it already has).
	// An error refuses the sync.
	Cut() (offset uint64, wait func(context.Context) error, err error)
}

// CutLock serializes the keyspace cuts of one node (keyspace.BeginCut
// allows one at a time): a master's snapshot writer holds the same lock
// for the length of its cut. *sync.Mutex implements it.
type CutLock interface {
	TryLock() bool
	Unlock()
}

// Config configures a Server.
type Config struct {
	// Engine is the node's engine. Required.
	Engine *command.Engine
	// Log is the dataset's replication log, read from the cut's offset + 1.
	// Required.
	Log stream.Reader
	// Source gives a cut's offset. Required.
	Source Source
	// Cuts is held for the length of every cut; nil: the Server's own.
	Cuts CutLock
	// Dataset and Generation go into the RDB's AUX fields.
	Dataset, Generation string
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// TempDir holds the RDB while it is written (default os.TempDir()).
	TempDir string
	// PingPeriod is how often the stream carries a PING (Redis's
	// repl-ping-replica-period, default 10 s), so that an idle link does
	// not reach the replica's repl-timeout.
	PingPeriod time.Duration
	// Timeout bounds every write to the replica (Redis's repl-timeout,
	// default 60 s): a replica that stops reading is dropped.
	Timeout time.Duration
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if c.Engine == nil || c.Log == nil || c.Source == nil {
		return errors.New("downstream: engine, log and source are required")
	}
	if c.Cuts == nil {
		c.Cuts = new(sync.Mutex)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.TempDir == "" {
		c.TempDir = os.TempDir()
	}
	if c.PingPeriod <= 0 {
		c.PingPeriod = 10 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 60 * time.Second
	}
	return nil
}

// Server serves SYNC and PSYNC for one node.
type Server struct {
	cfg Config

	mu          sync.Mutex
	links       map[*link]struct{}
	backlogs    map[string]*backlog // links that ended, by replication ID
	syncs       atomic.Int64        // full resynchronizations served
	partialOK   atomic.Int64        // partial ones (+CONTINUE)
	partialErrs atomic.Int64        // full ones asked as partial (PSYNC with an ID)
}

// backlogTTL is how long a link that ended stays resumable (Redis's
// repl-backlog-ttl), maxBacklogs how many are kept at most, and
// oldLinkWait how long a PSYNC waits for the link it continues to end.
const (
	backlogTTL  = time.Hour
	maxBacklogs = 16
	oldLinkWait = 2 * time.Second
)

// backlog is what a link leaves for its replica to continue from: the
// replication offset its stream counts from and the stream's pieces.
type backlog struct {
	base   int64
	pieces []piece
	ended  time.Time
}

var _ command.SyncProvider = (*Server)(nil)

// New returns a Server; install it with Engine.SetSync.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, links: make(map[*link]struct{}), backlogs: make(map[string]*backlog)}, nil
}

// newReplID returns a new replication ID: 40 hexadecimal digits.
func newReplID() string {
	var id [20]byte
	rand.Read(id[:])
	return hex.EncodeToString(id[:])
}

// keep records the pieces of a link that ended, for its replica's next
// PSYNC; expired backlogs go, and the oldest when there are too many.
func (s *Server) keep(replid string, base int64, pieces []piece) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	oldest := ""
	for id, b := range s.backlogs {
		if now.Sub(b.ended) > backlogTTL {
			delete(s.backlogs, id)
		} else if oldest == "" || b.ended.Before(s.backlogs[oldest].ended) {
			oldest = id
		}
	}
	if len(s.backlogs) >= maxBacklogs {
		delete(s.backlogs, oldest)
	}
	s.backlogs[replid] = &backlog{base: base, pieces: pieces, ended: now}
}

// resume takes the backlog a PSYNC names and returns where its stream
// continues and the replication offset it counts from: ok only if the
// replica's offset is one the stream reached and the log still holds the
// entries after it. A backlog is used once: a failed attempt leaves a
// full resynchronization for next time.
func (s *Server) resume(ctx context.Context, req command.SyncRequest) (at resumeAt, base int64, ok bool) {
	// A replica may reconnect before the node noticed that its last link
	// broke: wait a little for that link to end and leave its backlog.
	s.mu.Lock()
	var old *link
	for l := range s.links {
		if l.replid == req.ReplID {
			old = l
		}
	}
	s.mu.Unlock()
	if old != nil {
		select {
		case <-old.done:
		case <-ctx.Done():
		case <-time.After(oldLinkWait):
		}
	}
	s.mu.Lock()
	b := s.backlogs[req.ReplID]
	delete(s.backlogs, req.ReplID)
	s.mu.Unlock()
	if b == nil || time.Since(b.ended) > backlogTTL {
		return resumeAt{}, 0, false
	}
	why := func(format string, args ...any) (resumeAt, int64, bool) {
		s.cfg.Logger.Info("redis replica cannot continue: full resynchronization", "replid", req.ReplID,
			"offset", req.Offset, "why", fmt.Sprintf(format, args...))
		return resumeAt{}, 0, false
	}
	// PSYNC names the first byte the replica lacks, counted from 1.
	pos := req.Offset - 1 - b.base
	if at, ok = resumePoint(b.pieces, pos); !ok {
		return why("byte %d of the stream is not one it stopped at (kept: %d to %d)", pos, b.pieces[0].end, b.pieces[len(b.pieces)-1].end)
	}
	first, err := s.cfg.Log.First(ctx)
	if err != nil {
		return why("the log: %v", err)
	}
	if at.from < first {
		return why("the log no longer holds offset %d", at.from)
	}
	if at.skip > 0 {
		// The replica stopped inside an entry: only between two of its
		// commands can it have.
		data, err := s.entryAt(ctx, at.from)
		if err != nil {
			return why("read entry %d: %v", at.from, err)
		}
		if _, err := entryTail(at.db, data, at.skip); err != nil {
			return why("inside entry %d: %v", at.from, err)
		}
	}
	return at, b.base, true
}

// entryAt reads the log's entry at offset, waiting at most the Timeout.
func (s *Server) entryAt(ctx context.Context, offset uint64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if g, ok := s.cfg.Log.(stream.Getter); ok {
		en, err := g.Get(ctx, offset)
		return en.Data, err
	}
	var data []byte
	errGot := errors.New("got it")
	err := s.cfg.Log.Read(ctx, offset, func(en stream.Entry) error {
		data = en.Data
		return errGot
	})
	if !errors.Is(err, errGot) {
		return nil, err
	}
	return data, nil
}

// Replica is a Redis replica attached to the node.
type Replica struct {
	// Addr is the replica's address: its announced ip-address (or the
	// connection's host) and listening-port.
	Addr string
	// State is "wait_bgsave" while the RDB is written, "send_bulk" while
	// it is sent, "online" once the stream flows.
	State string
	// Offset is the log offset of the last entry sent to it.
	Offset uint64
	// Acked is the log offset it acknowledged having applied (REPLCONF
	// ACK): the RDB's offset once loaded, then each entry it processed
	// whole.
	Acked uint64
}

// Replicas lists the Redis replicas attached now.
func (s *Server) Replicas() []Replica {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Replica, 0, len(s.links))
	for l := range s.links {
		out = append(out, Replica{Addr: l.addr, State: l.state.Load().(string), Offset: l.sent.Load(), Acked: l.acked.Load()})
	}
	return out
}

// SyncReplicas implements command.SyncLister: INFO replication and ROLE
// list the Redis replicas too. Only links past their handshake are listed
// (sorted by address).
func (s *Server) SyncReplicas() []command.SyncReplica {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]command.SyncReplica, 0, len(s.links))
	for l := range s.links {
		out = append(out, command.SyncReplica{Addr: l.addr, State: l.state.Load().(string), Offset: l.sent.Load(), Acked: l.acked.Load(), LastIO: time.Unix(0, l.lastIO.Load())})
	}
	slices.SortFunc(out, func(a, b command.SyncReplica) int { return strings.Compare(a.Addr, b.Addr) })
	return out
}

// RequestAcks implements command.SyncLister: every streaming replica gets
// REPLCONF GETACK *, which a Redis replica answers at once with its
// processed offset (WAIT asks so, rather than waiting for the replica's
// once-a-second ACK). The GETACK goes out once the link has sent the
// entry at offset, since the log may deliver that entry to the link a
// little after the master stored it; an ACK of bytes before it would not
// cover it.
func (s *Server) RequestAcks(offset uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for l := range s.links {
		for {
			cur := l.ackWant.Load()
			if cur >= offset || l.ackWant.CompareAndSwap(cur, offset) {
				break
			}
		}
		select {
		case l.getAck <- struct{}{}:
		default: // the writer is already told
		}
	}
}

// SyncStats implements command.SyncCounter: the full resynchronizations
// the Server started, the partial ones, and how many of the full ones a
// replica asked as partial (PSYNC with a replication ID it could not
// continue).
func (s *Server) SyncStats() (full, partialOK, partialErr int64) {
	return s.syncs.Load(), s.partialOK.Load(), s.partialErrs.Load()
}

// ServeSync implements command.SyncProvider: the RDB at a durable offset,
// then the log after it, until the replica goes away, the log fails or
// ctx ends.
func (s *Server) ServeSync(ctx context.Context, c command.SyncConn) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	l := newLink(s, c)
	s.mu.Lock()
	s.links[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.links, l)
		s.mu.Unlock()
		close(l.done)
	}()
	// The replica's REPLCONF ACKs are read as they come; its going away
	// ends the link at any stage.
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		cancel(l.drain())
	}()
	defer func() {
		c.Conn.SetReadDeadline(time.Unix(1, 0))
		<-readDone
	}()
	log := s.cfg.Logger.With("replica", l.addr)
	log.Info("redis replica asks for synchronization", "psync", c.Request.PSYNC, "rdb_only", c.Request.RDBOnly)
	err := l.run(ctx)
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	log.Info("redis replica link closed", "offset", l.sent.Load(), "replid", l.replid, "err", err)
	return err
}

// link is one replica's connection.
type link struct {
	s      *Server
	c      command.SyncConn
	addr   string
	replid string        // the link's replication ID; written under s.mu
	done   chan struct{} // closed once the link ended (its backlog kept)
	state  atomic.Value  // string, as Replica.State
	sent   atomic.Uint64
	lastIO atomic.Int64 // unix ns of the last bytes the replica sent

	// Acknowledgements: the replica counts its stream bytes from base (the
	// offset +FULLRESYNC named), ob maps them back to log offsets once
	// the stream flows, acked is the newest log offset covered, and
	// getAck tells the writer that ackWant, the offset after whose entry
	// a REPLCONF GETACK should go out (0: none), moved.
	base    atomic.Int64
	ob      atomic.Pointer[outbox]
	acked   atomic.Uint64
	ackWant atomic.Uint64
	getAck  chan struct{}

	wmu sync.Mutex // guards writes to the connection
}

func newLink(s *Server, c command.SyncConn) *link {
	l := &link{s: s, c: c, addr: c.Client.Addr, replid: newReplID(), getAck: make(chan struct{}, 1), done: make(chan struct{})}
	if r := c.Request; r.ListeningPort > 0 {
		host := r.IPAddress
		if host == "" {
			host = hostOf(c.Client.Addr)
		}
		l.addr = host + ":" + strconv.FormatInt(r.ListeningPort, 10)
	}
	l.state.Store("wait_bgsave")
	l.lastIO.Store(time.Now().UnixNano())
	return l
}

// hostOf returns the host part of "host:port".
func hostOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[:i]
		}
	}
	return addr
}

// drain reads what the replica sends until the connection fails, and
// returns why. REPLCONF ACK <offset> moves the replica's acknowledged log
// offset (waking WAIT); anything else is dropped.
func (l *link) drain() error {
	rd := l.c.Reader
	for {
		args, err := rd.Next(true)
		if err != nil {
			return fmt.Errorf("downstream: replica sent a malformed request: %w", err)
		}
		if args != nil {
			l.lastIO.Store(time.Now().UnixNano())
			if len(args) >= 3 && strings.EqualFold(string(args[0]), "replconf") && strings.EqualFold(string(args[1]), "ack") {
				if n, err := strconv.ParseInt(string(args[2]), 10, 64); err == nil {
					l.onAck(n)
				}
			}
			continue
		}
		if err := rd.Fill(); err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("downstream: replica closed the connection")
			}
			return err
		}
	}
}

// onAck records that the replica processed the stream up to replication
// offset n and wakes WAIT when that covers a new log offset.
func (l *link) onAck(n int64) {
	ob := l.ob.Load()
	if ob == nil {
		return // the RDB is not sent yet
	}
	off := ob.ack(n - l.base.Load())
	for {
		cur := l.acked.Load()
		if off <= cur {
			return
		}
		if l.acked.CompareAndSwap(cur, off) {
			break
		}
	}
	l.s.cfg.Engine.Poke()
}

// write sends b, every write bounded by the timeout.
func (l *link) write(b []byte) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.writeLocked(b)
}

func (l *link) writeLocked(b []byte) error {
	l.c.Conn.SetWriteDeadline(time.Now().Add(l.s.cfg.Timeout))
	n, err := l.c.Conn.Write(b)
	l.s.cfg.Engine.Stats().NetOutput.Add(int64(n))
	return err
}

// keepalive writes a newline every second until stop is closed: what a
// Redis master sends while a replica waits for its RDB, so that neither
// the PSYNC reply nor the bulk wait times out.
func (l *link) keepalive(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if l.write([]byte("\n")) != nil {
				return
			}
		}
	}
}

// run is the link's life: the cut, the RDB, then the stream; or, for a
// PSYNC the Server can continue, the stream from the replica's offset.
func (l *link) run(ctx context.Context) error {
	req := l.c.Request
	if req.PSYNC && !req.RDBOnly && !req.Filtered {
		if at, base, ok := l.s.resume(ctx, req); ok {
			return l.resume(ctx, at, base)
		}
	}
	l.s.syncs.Add(1)
	if req.PSYNC && !strings.HasPrefix(req.ReplID, "?") {
		l.s.partialErrs.Add(1)
	}
	stop, stopped := make(chan struct{}), make(chan struct{})
	go l.keepalive(stop, stopped)
	halt := func() {
		if stop != nil {
			close(stop)
			<-stopped
			stop = nil
		}
	}
	defer halt()
	// refuse tells the replica why, as an error line: before the bulk,
	// Redis replicas and redis-cli both read one.
	refuse := func(err error) error {
		halt()
		l.write([]byte("-ERR ferry: " + oneLine(err.Error()) + "\r\n"))
		return err
	}

	f, err := os.CreateTemp(l.s.cfg.TempDir, "ferry-sync-*.rdb")
	if err != nil {
		return refuse(fmt.Errorf("temporary RDB file: %w", err))
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	sp, err := l.s.begin(ctx, f, req, l.replid)
	if err != nil {
		return refuse(err)
	}
	if req.PSYNC {
		// The cut fixed the offset: the reply names it while the RDB is
		// still being written, as Redis's does at BGSAVE's start.
		line := "+FULLRESYNC " + l.replid + " " + strconv.FormatUint(sp.offset, 10) + "\r\n"
		if err := l.write([]byte(line)); err != nil {
			sp.abandon()
			return err
		}
	}
	if err := sp.run(ctx); err != nil {
		return refuse(err)
	}
	if sp.wait != nil {
		if err := waitCtx(ctx, sp.wait); err != nil {
			return refuse(fmt.Errorf("the log did not store offset %d: %w", sp.offset, err))
		}
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		return refuse(err)
	}
	halt()
	l.state.Store("send_bulk")
	if err := l.sendFile(f, size); err != nil {
		return err
	}
	l.sent.Store(sp.offset)
	l.base.Store(int64(sp.offset))
	if req.RDBOnly {
		// Redis closes such a replica's link once the RDB is sent.
		return nil
	}
	l.state.Store("online")
	return l.stream(ctx, resumeAt{from: sp.offset + 1, pieces: []piece{{offset: sp.offset}}})
}

// resume continues the stream of the link that ended with the replica's
// replication ID: +CONTINUE (naming the ID, to a replica that announced
// psync2), then the rest of the stream from the replica's offset.
func (l *link) resume(ctx context.Context, at resumeAt, base int64) error {
	l.s.mu.Lock()
	l.replid = l.c.Request.ReplID
	l.s.mu.Unlock()
	line := "+CONTINUE\r\n"
	if l.c.Request.CapaPSYNC2 {
		line = "+CONTINUE " + l.replid + "\r\n"
	}
	if err := l.write([]byte(line)); err != nil {
		return err
	}
	l.s.partialOK.Add(1)
	l.s.cfg.Logger.Info("redis replica continues", "replica", l.addr, "replid", l.replid, "offset", at.from-1, "skip", at.skip)
	l.base.Store(base)
	l.sent.Store(at.from - 1)
	l.state.Store("online")
	return l.stream(ctx, at)
}

// oneLine keeps an error reply on one line.
func oneLine(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\r' || c == '\n' {
			b[i] = ' '
		}
	}
	return string(b)
}

// waitCtx runs wait, giving up when ctx ends (wait goes on in the
// background until it returns).
func waitCtx(ctx context.Context, wait func(context.Context) error) error {
	done := make(chan error, 1)
	go func() { done <- wait(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// sendFile sends the RDB as a bulk: "$<size>\r\n" and the bytes.
func (l *link) sendFile(f *os.File, size int64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writeLocked([]byte("$" + strconv.FormatInt(size, 10) + "\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 256<<10)
	var sent int64
	for sent < size {
		n, err := f.Read(buf)
		if n > 0 {
			if werr := l.writeLocked(buf[:n]); werr != nil {
				return werr
			}
			sent += int64(n)
		}
		if err != nil {
			if errors.Is(err, io.EOF) && sent == size {
				break
			}
			return fmt.Errorf("downstream: read the RDB file: %w", err)
		}
	}
	return nil
}

// spooler writes one cut into a file.
type spooler struct {
	s      *Server
	enc    *rdb.Encoder
	cut    *keyspace.Cut  // nil: no keys (a filtered RDB)
	pace   *command.Pacer // paces the cut's scan, as a snapshot's
	offset uint64
	wait   func(context.Context) error
	locked bool // holds the node's cut lock
}

// begin takes the cut: it waits for the node's cut lock, then, under the
// engine lock, asks the Source for the offset and starts the RDB with the
// function libraries and the cut of the keyspace.
func (s *Server) begin(ctx context.Context, w io.Writer, req command.SyncRequest, replid string) (*spooler, error) {
	sp := &spooler{s: s}
	keys := !req.Filtered
	if keys {
		for !s.cfg.Cuts.TryLock() {
			select {
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			case <-time.After(20 * time.Millisecond):
			}
		}
		sp.locked = true
	}
	e := s.cfg.Engine
	e.Lock()
	if e.Loading() {
		e.Unlock()
		sp.release()
		return nil, errors.New("the dataset is loading")
	}
	offset, wait, err := s.cfg.Source.Cut()
	if err != nil {
		e.Unlock()
		sp.release()
		return nil, err
	}
	sp.offset, sp.wait = offset, wait
	meta := rdb.Meta{Offset: offset, Generation: s.cfg.Generation, Dataset: s.cfg.Dataset, Created: time.Now(),
		Aux: map[string]string{"repl-stream-db": "0", "repl-id": replid, "repl-offset": strconv.FormatUint(offset, 10)}}
	if !req.Filtered || req.FunctionsOnly {
		meta.Functions = e.FunctionLibraries()
	}
	enc, err := rdb.NewEncoder(w, meta)
	if err != nil {
		e.Unlock()
		sp.release()
		return nil, err
	}
	sp.enc = enc
	if keys {
		sp.cut = enc.BeginCut(e.Keyspace())
		sp.pace = e.NewPacer()
	}
	e.Unlock()
	return sp, nil
}

// run scans the cut to its end and closes the RDB; it releases the cut
// lock whatever happens.
func (sp *spooler) run(ctx context.Context) error {
	defer sp.release()
	e := sp.s.cfg.Engine
	if sp.cut == nil {
		return sp.enc.Close()
	}
	for {
		if err := ctx.Err(); err != nil {
			sp.abandon()
			return context.Cause(ctx)
		}
		e.Lock()
		sp.pace.Hold()
		done := sp.cut.Step(command.ScanStep)
		var err error
		if done {
			sp.cut.End()
			err = sp.enc.Close()
		}
		e.Unlock()
		if done {
			return err
		}
		if r := sp.pace.Rest(); r > 0 {
			time.Sleep(r)
		}
	}
}

// abandon ends the cut before its end.
func (sp *spooler) abandon() {
	if sp.cut != nil {
		e := sp.s.cfg.Engine
		e.Lock()
		sp.cut.End()
		e.Unlock()
	}
	sp.release()
}

func (sp *spooler) release() {
	if sp.locked {
		sp.locked = false
		sp.s.cfg.Cuts.Unlock()
	}
}
