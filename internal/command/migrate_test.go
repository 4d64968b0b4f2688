package command_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/keyspace"
)

// MIGRATE against a scripted target: what goes on the wire (AUTH, SELECT
// only when the cached connection needs it, RESTORE with the TTL and
// REPLACE), the replies, the retry on a dead cached connection, timeouts,
// and the effects a replica applies. The engine lock is not held while
// MIGRATE waits for the target. snapshot/rdb/migrate_test.go moves keys
// of every type to and from a real redis-server.

// stringCodec is a ValueCodec for strings only: the payload is "v:" and
// the value.
type stringCodec struct{}

func (stringCodec) Dump(dst []byte, o *keyspace.Object) ([]byte, error) {
	if o.Kind() != keyspace.KindString {
		return nil, errors.New("stringCodec: strings only")
	}
	return append(append(dst, "v:"...), o.Str()...), nil
}

func (stringCodec) Restore(p []byte, _ keyspace.Limits) ([]byte, keyspace.Collection, error) {
	if !strings.HasPrefix(string(p), "v:") {
		return nil, nil, command.ErrDumpPayload
	}
	return []byte(string(p[2:])), nil, nil
}

// target is a scripted RESP server: it records the commands it receives
// and answers each with reply's line. While gate is set, it waits for a
// value on it before reading each batch's replies out.
type target struct {
	ln    net.Listener
	mu    sync.Mutex
	cmds  []string // "AUTH u p", "SELECT 3", ...
	conns int
	reply func(cmd []string) string
	gate  chan struct{}
	// closeAfter closes each connection after it answered that many
	// commands (0: never).
	closeAfter int
}

func newTarget(t *testing.T) *target {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tg := &target{ln: ln, reply: func([]string) string { return "+OK" }}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			tg.mu.Lock()
			tg.conns++
			tg.mu.Unlock()
			go tg.serve(nc)
		}
	}()
	return tg
}

func (tg *target) hostPort() (string, string) {
	a := tg.ln.Addr().(*net.TCPAddr)
	return a.IP.String(), strconv.Itoa(a.Port)
}

func (tg *target) serve(nc net.Conn) {
	defer nc.Close()
	br := bufio.NewReader(nc)
	served := 0
	for {
		cmd, err := readTargetCommand(br)
		if err != nil {
			return
		}
		tg.mu.Lock()
		tg.cmds = append(tg.cmds, strings.Join(cmd, " "))
		reply, gate, closeAfter := tg.reply, tg.gate, tg.closeAfter
		tg.mu.Unlock()
		if gate != nil {
			<-gate
		}
		if line := reply(cmd); line != "" {
			io.WriteString(nc, line+"\r\n")
		}
		served++
		if closeAfter > 0 && served >= closeAfter {
			return
		}
	}
}

// take returns the commands received since the last call.
func (tg *target) take() []string {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	out := tg.cmds
	tg.cmds = nil
	return out
}

func (tg *target) set(f func(*target)) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	f(tg)
}

func readTargetCommand(br *bufio.Reader) ([]string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil || line[0] != '*' {
		return nil, errors.New("bad request")
	}
	out := make([]string, n)
	for i := range out {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
		b := make([]byte, size+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, err
		}
		out[i] = string(b[:size])
	}
	return out, nil
}

// migrated is a master engine with the string codec whose units a replica
// applies.
type migrated struct {
	t       *testing.T
	clock   *fakeClock
	master  *command.Engine
	cl, cl2 *command.Client
	log     *unitLog
	applied int
	replica *command.Engine
	rc      *command.Client
}

func newMigrated(t *testing.T) *migrated {
	m := &migrated{t: t, clock: &fakeClock{now: time.UnixMilli(1_700_000_000_000)}, log: &unitLog{}}
	m.master = command.New(command.Config{Clock: m.clock.Now, Values: stringCodec{}})
	m.master.SetLog(m.log)
	m.master.Lock()
	m.cl = m.master.NewClient("c1", "")
	m.cl2 = m.master.NewClient("c2", "")
	m.master.Unlock()
	m.replica, m.rc = replicaOf(m.clock.Now)
	return m
}

// start runs a command for cl and returns its wait (nil: it did not
// block) and the reply when it did not block.
func (m *migrated) start(cl *command.Client, args ...string) (*command.Blocked, string) {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	// As the server does: whether it blocked is read under the lock the
	// command ran with (the MIGRATE may end right after it is released).
	m.master.Lock()
	defer m.master.Unlock()
	cl.W.Reset()
	m.master.Exec(cl, b)
	return cl.Blocked(), string(cl.W.Buf)
}

// finish waits for a blocked command and returns its reply.
func (m *migrated) finish(cl *command.Client, b *command.Blocked) string {
	m.t.Helper()
	if b == nil {
		m.t.Fatal("the command did not block")
	}
	select {
	case <-b.Done:
	case <-time.After(10 * time.Second):
		m.t.Fatal("MIGRATE did not finish")
	}
	m.master.Lock()
	defer m.master.Unlock()
	out := string(cl.W.Buf)
	cl.W.Reset()
	return out
}

// do runs a command to its end (waiting for MIGRATE), checks that the
// replica, fed the units logged, has the master's digest, and returns the
// reply and the units.
func (m *migrated) do(args ...string) (string, []string) {
	m.t.Helper()
	b, reply := m.start(m.cl, args...)
	if b != nil {
		reply = m.finish(m.cl, b)
	}
	return reply, m.sync()
}

// sync applies the units logged so far to the replica and compares digests.
func (m *migrated) sync() []string {
	m.t.Helper()
	m.master.Lock()
	fresh := m.log.units[m.applied:]
	m.applied = len(m.log.units)
	m.master.Unlock()
	var units []string
	for _, u := range fresh {
		apply(m.t, m.replica, m.rc, u)
		units = append(units, string(u))
	}
	if a, b := exec(m.master, m.cl2, "DEBUG", "DIGEST"), exec(m.replica, m.rc, "DEBUG", "DIGEST"); a != b {
		m.t.Fatalf("master digest %q, replica %q (units %q)", a, b, units)
	}
	return units
}

func enc(args ...string) string {
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	return b.String()
}

func sameList(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

func TestMigrateProtocol(t *testing.T) {
	tg := newTarget(t)
	host, port := tg.hostPort()
	m := newMigrated(t)
	m.do("SET", "a", "1")
	m.do("SET", "b", "2", "PX", "5000")
	m.do("SET", "c", "3")

	reply, units := m.do("MIGRATE", host, port, "", "3", "1000", "REPLACE", "AUTH2", "u", "p", "KEYS", "a", "missing", "b")
	if reply != "+OK\r\n" {
		t.Fatalf("MIGRATE: %q", reply)
	}
	sameList(t, "target", tg.take(), []string{"AUTH u p", "SELECT 3", "RESTORE a 0 v:1 REPLACE", "RESTORE b 5000 v:2 REPLACE"})
	sameList(t, "units", units, []string{enc("DEL", "a", "b")})
	if r := exec(m.master, m.cl, "EXISTS", "a", "b"); r != ":0\r\n" {
		t.Errorf("EXISTS a b after MIGRATE: %q", r)
	}

	// Same database on the cached connection: no SELECT.
	if reply, _ := m.do("MIGRATE", host, port, "c", "3", "1000", "AUTH", "pw"); reply != "+OK\r\n" {
		t.Fatalf("MIGRATE c: %q", reply)
	}
	sameList(t, "target", tg.take(), []string{"AUTH pw", "RESTORE c 0 v:3"})

	// An error from the target: the key stays, and the next MIGRATE
	// selects again. Keys acknowledged in the same MIGRATE go.
	m.do("SET", "d", "4")
	m.do("SET", "e", "5")
	tg.set(func(tg *target) {
		tg.reply = func(cmd []string) string {
			if cmd[0] == "RESTORE" && cmd[1] == "d" {
				return "-BUSYKEY Target key name already exists."
			}
			return "+OK"
		}
	})
	reply, units = m.do("MIGRATE", host, port, "", "3", "1000", "KEYS", "d", "e")
	if reply != "-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n" {
		t.Errorf("MIGRATE BUSYKEY: %q", reply)
	}
	sameList(t, "units", units, []string{enc("DEL", "e")})
	sameList(t, "target", tg.take(), []string{"RESTORE d 0 v:4", "RESTORE e 0 v:5"})
	if reply, _ := m.do("MIGRATE", host, port, "", "3", "1000", "COPY", "KEYS", "d"); !strings.HasPrefix(reply, "-ERR Target instance replied with error: BUSYKEY") {
		t.Errorf("MIGRATE BUSYKEY again: %q", reply)
	}
	sameList(t, "target", tg.take(), []string{"SELECT 3", "RESTORE d 0 v:4"})

	// COPY: nothing deleted, nothing logged. Another database: SELECT.
	tg.set(func(tg *target) { tg.reply = func([]string) string { return "+OK" } })
	reply, units = m.do("MIGRATE", host, port, "d", "4", "1000", "COPY")
	if reply != "+OK\r\n" || len(units) != 0 {
		t.Errorf("MIGRATE COPY: %q, units %q", reply, units)
	}
	sameList(t, "target", tg.take(), []string{"SELECT 4", "RESTORE d 0 v:4"})
	if r := exec(m.master, m.cl, "GET", "d"); r != "$1\r\n4\r\n" {
		t.Errorf("GET d after COPY: %q", r)
	}
	tg.mu.Lock()
	conns := tg.conns
	tg.mu.Unlock()
	if conns != 1 {
		t.Errorf("%d connections to the target, want 1 (cached)", conns)
	}

	// Nothing to move: NOKEY, nothing sent.
	if reply, _ := m.do("MIGRATE", host, port, "", "4", "1000", "KEYS", "x", "y"); reply != "+NOKEY\r\n" {
		t.Errorf("MIGRATE of missing keys: %q", reply)
	}
	// A value the codec cannot dump: its error, nothing sent.
	m.do("RPUSH", "list", "x")
	if reply, _ := m.do("MIGRATE", host, port, "list", "4", "1000"); reply != "-ERR stringCodec: strings only\r\n" {
		t.Errorf("MIGRATE of a list: %q", reply)
	}
	if got := tg.take(); len(got) != 0 {
		t.Errorf("target got %q", got)
	}
}

// A cached connection the target closed is replaced once, transparently.
func TestMigrateRetriesDeadConnection(t *testing.T) {
	tg := newTarget(t)
	tg.closeAfter = 2 // SELECT and one RESTORE
	host, port := tg.hostPort()
	m := newMigrated(t)
	for _, k := range []string{"a", "b"} {
		m.do("SET", k, "1")
		if reply, _ := m.do("MIGRATE", host, port, k, "0", "1000"); reply != "+OK\r\n" {
			t.Fatalf("MIGRATE %s: %q", k, reply)
		}
		time.Sleep(20 * time.Millisecond) // the target closes
	}
	sameList(t, "target", tg.take(), []string{"SELECT 0", "RESTORE a 0 v:1", "SELECT 0", "RESTORE b 0 v:1"})
	if tg.conns != 2 {
		t.Errorf("%d connections, want 2", tg.conns)
	}
}

// While MIGRATE waits for a target that does not answer, other clients
// run; the MIGRATE times out with Redis's error and keeps the key.
func TestMigrateTimeoutDoesNotHoldTheLock(t *testing.T) {
	tg := newTarget(t)
	gate := make(chan struct{})
	defer close(gate)
	tg.gate = gate
	host, port := tg.hostPort()
	m := newMigrated(t)
	m.do("SET", "k", "v")
	start := time.Now()
	b, _ := m.start(m.cl, "MIGRATE", host, port, "k", "0", "300")
	if r := exec(m.master, m.cl2, "SET", "other", "1"); r != "+OK\r\n" {
		t.Errorf("SET from another client during MIGRATE: %q", r)
	}
	if d := time.Since(start); d > 200*time.Millisecond {
		t.Errorf("another client waited %v for MIGRATE", d)
	}
	if r := m.finish(m.cl, b); r != "-IOERR error or timeout reading to target instance\r\n" {
		t.Errorf("MIGRATE to a silent target: %q", r)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("MIGRATE gave up after %v, its timeout is 300 ms", d)
	}
	if r := exec(m.master, m.cl, "GET", "k"); r != "$1\r\nv\r\n" {
		t.Errorf("GET k: %q", r)
	}
	m.sync()
}

// A key written while MIGRATE waits is not deleted (the write would be
// lost); the others are, and the reply says what happened.
func TestMigrateKeyWrittenMeanwhile(t *testing.T) {
	tg := newTarget(t)
	gate := make(chan struct{}, 10)
	tg.gate = gate
	host, port := tg.hostPort()
	m := newMigrated(t)
	for _, k := range []string{"a", "b", "c", "d"} {
		m.do("SET", k, "1")
	}
	m.do("SET", "e", "1", "PX", "100000")
	b, _ := m.start(m.cl, "MIGRATE", host, port, "", "0", "5000", "KEYS", "a", "b", "c", "d", "e")
	exec(m.master, m.cl2, "APPEND", "b", "x")
	exec(m.master, m.cl2, "DEL", "c")
	exec(m.master, m.cl2, "SET", "d", "1") // the same value again: it may go
	exec(m.master, m.cl2, "PEXPIRE", "e", "200000")
	for range 6 {
		gate <- struct{}{}
	}
	want := "-ERR ferry: 2 key(s) written here while MIGRATE waited for the target (first: 'b') were restored there but kept here, with their new values\r\n"
	if r := m.finish(m.cl, b); r != want {
		t.Errorf("MIGRATE: %q", r)
	}
	units := m.sync()
	if last := units[len(units)-1]; last != enc("DEL", "a", "d") {
		t.Errorf("MIGRATE's unit: %q", last)
	}
	if r := exec(m.master, m.cl, "GET", "b"); r != "$2\r\n1x\r\n" {
		t.Errorf("GET b: %q", r)
	}
	if r := exec(m.master, m.cl, "EXISTS", "a", "b", "c", "d", "e"); r != ":2\r\n" {
		t.Errorf("EXISTS: %q", r)
	}
}

// In MULTI (and scripts) MIGRATE runs in place; its DEL is part of EXEC's
// unit.
func TestMigrateInMulti(t *testing.T) {
	tg := newTarget(t)
	host, port := tg.hostPort()
	m := newMigrated(t)
	m.do("SET", "a", "1")
	m.do("MULTI")
	m.do("MIGRATE", host, port, "a", "0", "1000")
	m.do("SET", "z", "2")
	reply, units := m.do("EXEC")
	if reply != "*2\r\n+OK\r\n+OK\r\n" {
		t.Errorf("EXEC: %q", reply)
	}
	sameList(t, "units", units, []string{enc("MULTI") + enc("DEL", "a") + enc("SET", "z", "2") + enc("EXEC")})
	reply, _ = m.do("EVAL", "return redis.call('MIGRATE', ARGV[1], ARGV[2], 'z', '0', '1000')", "0", host, port)
	if reply != "+OK\r\n" {
		t.Errorf("EVAL MIGRATE: %q", reply)
	}
	sameList(t, "target", tg.take(), []string{"SELECT 0", "RESTORE a 0 v:1", "RESTORE z 0 v:2"})
	if r := exec(m.master, m.cl, "DBSIZE"); r != ":0\r\n" {
		t.Errorf("DBSIZE: %q", r)
	}
}

// A client that goes away while it waits: the MIGRATE completes (as in
// Redis, which would have finished it). One unblocked by CLIENT UNBLOCK
// gets an error, and nothing is deleted.
func TestMigrateClientGoneOrUnblocked(t *testing.T) {
	tg := newTarget(t)
	gate := make(chan struct{}, 10)
	tg.gate = gate
	host, port := tg.hostPort()
	m := newMigrated(t)
	m.do("SET", "a", "1")
	m.do("SET", "b", "1")

	b, _ := m.start(m.cl, "MIGRATE", host, port, "a", "0", "5000")
	m.master.Lock()
	m.master.CloseClient(m.cl)
	m.master.Unlock()
	<-b.Done
	gate <- struct{}{}
	gate <- struct{}{}
	deadline := time.Now().Add(5 * time.Second)
	for exec(m.master, m.cl2, "EXISTS", "a") != ":0\r\n" {
		if time.Now().After(deadline) {
			t.Fatal("a was not deleted after its client went away")
		}
		time.Sleep(5 * time.Millisecond)
	}
	m.sync()

	m.master.Lock()
	cl := m.master.NewClient("c3", "")
	m.master.Unlock()
	b, _ = m.start(cl, "MIGRATE", host, port, "b", "0", "5000")
	if r := exec(m.master, m.cl2, "CLIENT", "UNBLOCK", strconv.FormatInt(cl.ID, 10)); r != ":1\r\n" {
		t.Errorf("CLIENT UNBLOCK: %q", r)
	}
	if r := m.finish(cl, b); !strings.HasPrefix(r, "-IOERR ferry: MIGRATE was unblocked") {
		t.Errorf("unblocked MIGRATE: %q", r)
	}
	gate <- struct{}{}
	time.Sleep(50 * time.Millisecond)
	if r := exec(m.master, m.cl2, "EXISTS", "b"); r != ":1\r\n" {
		t.Errorf("EXISTS b after an unblocked MIGRATE: %q", r)
	}
	if units := m.sync(); len(units) != 0 {
		t.Errorf("units after an unblocked MIGRATE: %q", units)
	}
}

// Connection failures, with Redis's texts: a refused connection fails as
// Redis's first write does; no address at all fails the connect.
func TestMigrateConnectErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	m := newMigrated(t)
	m.do("SET", "k", "v")
	for _, c := range []struct{ host, port, want string }{
		{"127.0.0.1", closed, "-IOERR error or timeout writing to target instance\r\n"},
		{"127.0.0.1", closed + "junk", "-IOERR error or timeout writing to target instance\r\n"},
		{"", closed, "-IOERR error or timeout connecting to the client\r\n"},
		{"127.0.0.1", "-1", "-IOERR error or timeout connecting to the client\r\n"},
		{"255.255.255.255", "1", "-IOERR error or timeout connecting to the client\r\n"},
	} {
		if r, units := m.do("MIGRATE", c.host, c.port, "k", "0", "500"); r != c.want || len(units) != 0 {
			t.Errorf("MIGRATE to %q %q: %q (units %q), want %q", c.host, c.port, r, units, c.want)
		}
	}
}

// A replica refuses MIGRATE, COPY or not, as a Redis replica does.
func TestMigrateOnReplica(t *testing.T) {
	e := command.New(command.Config{Role: "slave", Values: stringCodec{}})
	e.Lock()
	cl := e.NewClient("c", "")
	e.Unlock()
	for _, args := range [][]string{{"MIGRATE", "127.0.0.1", "1", "k", "0", "10", "COPY"}, {"MIGRATE", "127.0.0.1", "1", "k", "0", "10"}} {
		if r := exec(e, cl, args...); r != "-READONLY You can't write against a read only replica.\r\n" {
			t.Errorf("%q on a replica: %q", args, r)
		}
	}
}

// The passwords are redacted in the slow log, as in Redis.
func TestMigrateRedactsPasswords(t *testing.T) {
	tg := newTarget(t)
	host, port := tg.hostPort()
	m := newMigrated(t)
	m.do("CONFIG", "SET", "slowlog-log-slower-than", "0")
	m.do("SET", "k", "v")
	m.do("MIGRATE", host, port, "k", "0", "1000", "AUTH", "secret1", "AUTH2", "user", "secret2", "COPY")
	r := exec(m.master, m.cl, "SLOWLOG", "GET", "20")
	if !strings.Contains(r, "MIGRATE") || strings.Contains(r, "secret") || strings.Count(r, "(redacted)") != 3 {
		t.Errorf("SLOWLOG GET: %q", r)
	}
}

// A MIGRATE whose transfer ends during CLIENT PAUSE deletes nothing until
// the pause ends: the dataset stays still, no unit is logged.
func TestMigrateWaitsForPause(t *testing.T) {
	tg := newTarget(t)
	gate := make(chan struct{}, 10)
	tg.gate = gate
	host, port := tg.hostPort()
	m := newMigrated(t)
	m.do("SET", "k", "v")
	b, _ := m.start(m.cl, "MIGRATE", host, port, "k", "0", "5000")
	if r := exec(m.master, m.cl2, "CLIENT", "PAUSE", "100000", "WRITE"); r != "+OK\r\n" {
		t.Fatalf("CLIENT PAUSE: %q", r)
	}
	for range 2 { // SELECT and RESTORE
		gate <- struct{}{}
	}
	select {
	case <-b.Done:
		t.Fatal("MIGRATE ended during the pause")
	case <-time.After(200 * time.Millisecond):
	}
	if units := m.sync(); len(units) != 0 {
		t.Fatalf("units logged during the pause: %q", units)
	}
	if r := exec(m.master, m.cl2, "EXISTS", "k"); r != ":1\r\n" {
		t.Errorf("EXISTS k during the pause: %q", r)
	}
	if r := exec(m.master, m.cl2, "CLIENT", "UNPAUSE"); r != "+OK\r\n" {
		t.Fatalf("CLIENT UNPAUSE: %q", r)
	}
	if r := m.finish(m.cl, b); r != "+OK\r\n" {
		t.Errorf("MIGRATE: %q", r)
	}
	sameList(t, "units after the pause", m.sync(), []string{enc("DEL", "k")})
}

// CLIENT REPLY OFF drops MIGRATE's reply, not its work.
func TestMigrateReplyOff(t *testing.T) {
	tg := newTarget(t)
	host, port := tg.hostPort()
	m := newMigrated(t)
	m.do("SET", "k", "v")
	if r, _ := m.do("CLIENT", "REPLY", "OFF"); r != "" {
		t.Fatalf("CLIENT REPLY OFF: %q", r)
	}
	if r, units := m.do("MIGRATE", host, port, "k", "0", "5000"); r != "" || len(units) != 1 || units[0] != enc("DEL", "k") {
		t.Errorf("MIGRATE with replies off: reply %q, units %q", r, units)
	}
	if r, _ := m.do("CLIENT", "REPLY", "ON"); r != "+OK\r\n" {
		t.Errorf("CLIENT REPLY ON: %q", r)
	}
}
