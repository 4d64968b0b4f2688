package downstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/resp"
	"github.com/ferrydb/ferry/stream"
)

func TestEndDB(t *testing.T) {
	enc := func(cmds ...[]string) []byte {
		var w resp.Writer
		for _, c := range cmds {
			w.Array(len(c))
			for _, a := range c {
				w.Bulk([]byte(a))
			}
		}
		return w.Buf
	}
	for _, c := range []struct {
		data []byte
		db   int
		bad  bool
	}{
		{enc([]string{"SET", "k", "v"}), 0, false},
		{enc([]string{"SELECT", "3"}, []string{"SET", "k", "v"}), 3, false},
		{enc([]string{"SELECT", "3"}, []string{"SET", "k", "v"}, []string{"select", "0"}), 0, false},
		{enc([]string{"MULTI"}, []string{"SELECT", "2"}, []string{"INCR", "k"}, []string{"SELECT", "5"}, []string{"EXEC"}), 5, false},
		{enc([]string{"SET", "select", "7"}), 0, false},
		{enc([]string{"SELECT", "x"}), 0, true},
		{[]byte("*1\r\n$3\r\nSE"), 0, true},
	} {
		db, _, err := endDB(c.data, nil)
		if (err != nil) != c.bad || err == nil && db != c.db {
			t.Errorf("endDB(%q) = %d, %v; want %d (error %v)", c.data, db, err, c.db, c.bad)
		}
	}
}

// memLog is a stream.Reader over entries in memory: Read delivers them
// from `from` on, then the error end (nil: waits for ctx).
type memLog struct {
	entries []stream.Entry
	end     error
}

func (l *memLog) First(context.Context) (uint64, error) { return 1, nil }
func (l *memLog) Last(context.Context) (uint64, error)  { return uint64(len(l.entries)), nil }
func (l *memLog) Range(ctx context.Context) (uint64, uint64, error) {
	last, _ := l.Last(ctx)
	return 1, last, nil
}
func (l *memLog) Read(ctx context.Context, from uint64, fn func(stream.Entry) error) error {
	for _, en := range l.entries {
		if en.Offset < from {
			continue
		}
		if err := fn(en); err != nil {
			return err
		}
	}
	if l.end != nil {
		return l.end
	}
	<-ctx.Done()
	return ctx.Err()
}

type fixedSource struct{ offset uint64 }

func (s fixedSource) Cut() (uint64, func(context.Context) error, error) { return s.offset, nil, nil }

// serve runs ServeSync on one end of a loopback connection and returns
// the other end.
func serve(t *testing.T, s *Server, req command.SyncRequest) (*bufio.Reader, net.Conn, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close(); sc.Close() })
	done := make(chan error, 1)
	go func() {
		e := s.cfg.Engine
		e.Lock()
		cl := e.NewClient(sc.RemoteAddr().String(), "")
		e.Unlock()
		done <- s.ServeSync(context.Background(), command.SyncConn{Conn: sc, Reader: resp.NewReader(sc), Client: cl, Request: req})
		sc.Close()
	}()
	cc.SetDeadline(time.Now().Add(10 * time.Second))
	return bufio.NewReader(cc), cc, done
}

// skipRDB reads SYNC's reply up to the end of its RDB bulk, keepalive
// newlines included.
func skipRDB(t *testing.T, br *bufio.Reader) {
	t.Helper()
	line, _ := br.ReadString('\n')
	for line == "\n" {
		line, _ = br.ReadString('\n')
	}
	var n int
	if _, err := fmt.Sscanf(line, "$%d\r\n", &n); err != nil {
		t.Fatalf("SYNC's first line %q, want the bulk", line)
	}
	if _, err := io.ReadFull(br, make([]byte, n)); err != nil {
		t.Fatalf("RDB bulk of %d bytes: %v", n, err)
	}
}

// TestStream checks what follows the RDB: +FULLRESYNC with the cut's
// offset, the bulk, then the entries after the offset with SELECT 0 where
// an entry left another database selected, PINGs, REPLCONF ACKs read and
// ignored, and the link's end at a gap in the log.
func TestStream(t *testing.T) {
	e := command.New(command.Config{})
	sel := func(db int, rest string) []byte {
		return []byte(fmt.Sprintf("*2\r\n$6\r\nSELECT\r\n$1\r\n%d\r\n%s", db, rest))
	}
	set := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
	lg := &memLog{entries: []stream.Entry{
		{Offset: 1, Data: []byte(set)}, // in the RDB
		{Offset: 2, Data: sel(3, set)}, // leaves 3 selected
		{Offset: 3, Data: []byte(set)}, // needs SELECT 0 first
		{Offset: 4, Data: sel(2, set)}, // leaves 2 selected
		{Offset: 5, Data: sel(0, set)}, // needs SELECT 0 first, leaves 0
		{Offset: 6, Data: []byte(set)}, // none
		{Offset: 8, Data: []byte(set)}, // a gap: the link ends
	}}
	s, err := New(Config{Engine: e, Log: lg, Source: fixedSource{1}, PingPeriod: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	br, cc, done := serve(t, s, command.SyncRequest{PSYNC: true, ReplID: "?", Offset: -1})
	cc.Write([]byte("REPLCONF ACK 0\r\n"))
	line, _ := br.ReadString('\n')
	if !regexp.MustCompile(`^\+FULLRESYNC [0-9a-f]{40} 1\r\n$`).MatchString(line) {
		t.Fatalf("first line %q, want +FULLRESYNC <replid> 1", line)
	}
	for line == "\n" || strings.HasPrefix(line, "+") {
		line, _ = br.ReadString('\n')
	}
	var n int
	if _, err := fmt.Sscanf(line, "$%d\r\n", &n); err != nil {
		t.Fatalf("bulk header %q", line)
	}
	rdb := make([]byte, n)
	if _, err := io.ReadFull(br, rdb); err != nil || !strings.HasPrefix(string(rdb), "REDIS0010") {
		t.Fatalf("RDB %q: %v", rdb, err)
	}
	cc.Write([]byte("REPLCONF ACK 1\r\n"))
	rest, _ := io.ReadAll(br)
	got := strings.ReplaceAll(string(rest), string(ping), "")
	zero := string(selectZero)
	want := string(sel(3, set)) + zero + set + string(sel(2, set)) + zero + string(sel(0, set)) + set
	if got != want {
		t.Errorf("stream\n got %q\nwant %q", got, want)
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "log entry 8 where 7 was expected") {
		t.Errorf("ServeSync = %v, want the gap", err)
	}
}

// TestPingAndTruncated checks the PINGs of an idle link and that a
// truncated log ends it.
func TestPingAndTruncated(t *testing.T) {
	e := command.New(command.Config{})
	lg := &memLog{}
	s, err := New(Config{Engine: e, Log: lg, Source: fixedSource{0}, PingPeriod: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	br, _, done := serve(t, s, command.SyncRequest{})
	skipRDB(t, br)
	p := make([]byte, 3*len(ping))
	if _, err := io.ReadFull(br, p); err != nil || string(p) != strings.Repeat(string(ping), 3) {
		t.Fatalf("idle link sent %q, %v; want PINGs", p, err)
	}
	_ = done

	lg2 := &memLog{end: fmt.Errorf("read: %w", stream.ErrTruncated)}
	s2, _ := New(Config{Engine: e, Log: lg2, Source: fixedSource{0}})
	_, _, done2 := serve(t, s2, command.SyncRequest{})
	if err := <-done2; !errors.Is(err, stream.ErrTruncated) {
		t.Errorf("ServeSync on a truncated log = %v", err)
	}
}

// failOnceLog is a memLog whose first Read fails with a transient error
// (what a NATS timeout gives) after delivering the entries up to failAfter;
// later Reads deliver normally. froms records where each Read started.
type failOnceLog struct {
	memLog
	failAfter uint64
	mu        sync.Mutex
	froms     []uint64
}

func (l *failOnceLog) Read(ctx context.Context, from uint64, fn func(stream.Entry) error) error {
	l.mu.Lock()
	l.froms = append(l.froms, from)
	first := len(l.froms) == 1
	l.mu.Unlock()
	if !first {
		return l.memLog.Read(ctx, from, fn)
	}
	for _, en := range l.entries {
		if en.Offset < from {
			continue
		}
		if en.Offset > l.failAfter {
			break
		}
		if err := fn(en); err != nil {
			return err
		}
	}
	return errors.New("read at 4: nats: timeout")
}

// TestLinkSurvivesAFailedRead: a log read that fails on the way is resumed
// at the next offset; the Redis replica gets every entry once, in order,
// and keeps its link.
func TestLinkSurvivesAFailedRead(t *testing.T) {
	e := command.New(command.Config{})
	var entries []stream.Entry
	var want strings.Builder
	for i := 1; i <= 6; i++ {
		cmd := fmt.Sprintf("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n%d\r\n", i)
		entries = append(entries, stream.Entry{Offset: uint64(i), Data: []byte(cmd)})
		if i > 1 {
			want.WriteString(cmd)
		}
	}
	lg := &failOnceLog{memLog: memLog{entries: entries}, failAfter: 3}
	s, err := New(Config{Engine: e, Log: lg, Source: fixedSource{1}, PingPeriod: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	br, _, done := serve(t, s, command.SyncRequest{})
	skipRDB(t, br)
	got := make([]byte, want.Len())
	if _, err := io.ReadFull(br, got); err != nil || string(got) != want.String() {
		t.Fatalf("stream %q, %v; want %q", got, err, want.String())
	}
	select {
	case err := <-done:
		t.Fatalf("the link ended: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	lg.mu.Lock()
	defer lg.mu.Unlock()
	if !slices.Equal(lg.froms, []uint64{2, 4}) {
		t.Fatalf("reads started at %v, want [2 4]", lg.froms)
	}
}

// TestSyncStats: every synchronization the Server cannot continue counts
// as a full one (INFO sync_full); one asked as partial, with a replication
// ID, counts as a failed partial one too (sync_partial_err), as in Redis. (INFO itself:
// e2e TestRedisReplicaOf.)
func TestSyncStats(t *testing.T) {
	e := command.New(command.Config{})
	lg := &memLog{end: fmt.Errorf("read: %w", stream.ErrTruncated)}
	s, err := New(Config{Engine: e, Log: lg, Source: fixedSource{0}})
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []command.SyncRequest{
		{},
		{PSYNC: true, ReplID: "?", Offset: -1},
		{PSYNC: true, ReplID: strings.Repeat("a", 40), Offset: 100},
	} {
		_, _, done := serve(t, s, req)
		<-done
	}
	if full, partialOK, partialErr := s.SyncStats(); full != 3 || partialOK != 0 || partialErr != 1 {
		t.Fatalf("SyncStats = %d, %d, %d; want 3, 0, 1", full, partialOK, partialErr)
	}
}

// TestPartialResync: a replica that reconnects with the replication ID and
// offset of a link that ended continues from there (+CONTINUE), inside an
// entry of several commands too, and again after the continued link ends;
// an offset the stream never stopped at gets a full resynchronization. The
// first reconnection comes before the broken link has ended.
func TestPartialResync(t *testing.T) {
	e := command.New(command.Config{})
	cmd := func(args ...string) string { return string(resp.AppendCommand(nil, toBytes(args)...)) }
	setAB := cmd("SET", "a", "b")
	entries := []string{
		cmd("SET", "k", "v"), // in the RDB
		cmd("SELECT", "3") + cmd("SET", "k", "v") + cmd("INCR", "n"), // leaves 3 selected
		setAB + cmd("SET", "c", "d"),
		cmd("SET", "e", "f"),
		cmd("INCR", "x") + cmd("INCR", "y"),
	}
	lg := &memLog{}
	for i, en := range entries {
		lg.entries = append(lg.entries, stream.Entry{Offset: uint64(i + 1), Data: []byte(en)})
	}
	full := entries[1] + string(selectZero) + entries[2] + entries[3] + entries[4]
	s, err := New(Config{Engine: e, Log: lg, Source: fixedSource{1}, PingPeriod: time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	br, cc, done := serve(t, s, command.SyncRequest{PSYNC: true, ReplID: "?", Offset: -1, CapaPSYNC2: true})
	line, _ := br.ReadString('\n')
	var replid string
	if _, err := fmt.Sscanf(line, "+FULLRESYNC %s 1\r\n", &replid); err != nil {
		t.Fatalf("first line %q", line)
	}
	skipRDB(t, br)
	got := make([]byte, len(full))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != full {
		t.Fatalf("stream %q, %v; want %q", got, err, full)
	}
	// The replica reconnects before the node noticed the link broke: the
	// PSYNC waits for the old link to end.
	first, firstConn := done, cc
	go func() {
		time.Sleep(100 * time.Millisecond)
		firstConn.Close()
	}()

	// continueAt asks to continue after the replica processed pos bytes of
	// the stream, and returns the first line and the connection.
	continueAt := func(pos int) (string, *bufio.Reader, net.Conn, <-chan error) {
		t.Helper()
		br, cc, done := serve(t, s, command.SyncRequest{PSYNC: true, ReplID: replid, Offset: int64(1 + pos + 1), CapaPSYNC2: true})
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("PSYNC at %d: %v", pos, err)
		}
		return line, br, cc, done
	}
	// Inside entry 3, after its first command (and the SELECT 0 before it).
	pos := len(entries[1]) + len(selectZero) + len(setAB)
	line, br, cc, done = continueAt(pos)
	if want := "+CONTINUE " + replid + "\r\n"; line != want {
		t.Fatalf("PSYNC inside entry 3: %q, want %q", line, want)
	}
	<-first
	got = make([]byte, len(full)-pos)
	if _, err := io.ReadFull(br, got); err != nil || string(got) != full[pos:] {
		t.Fatalf("continued stream %q, %v; want %q", got, err, full[pos:])
	}
	cc.Close()
	<-done

	// The continued link left its own backlog: the end of the stream.
	line, _, cc, done = continueAt(len(full))
	if want := "+CONTINUE " + replid + "\r\n"; line != want {
		t.Fatalf("PSYNC at the end: %q, want %q", line, want)
	}
	cc.Close()
	<-done

	// Inside a command: not a place the replica can have stopped at.
	line, _, cc, done = continueAt(pos + 3)
	if strings.HasPrefix(line, "+CONTINUE") || !strings.HasPrefix(line, "+FULLRESYNC ") || strings.Contains(line, replid) {
		t.Fatalf("PSYNC inside a command: %q, want a full resynchronization with a new ID", line)
	}
	cc.Close()
	<-done
	if full, partialOK, partialErr := s.SyncStats(); full != 2 || partialOK != 2 || partialErr != 1 {
		t.Fatalf("SyncStats = %d, %d, %d; want 2, 2, 1", full, partialOK, partialErr)
	}
}

func toBytes(args []string) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = []byte(a)
	}
	return out
}
