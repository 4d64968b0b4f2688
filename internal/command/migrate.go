package command

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/resp"
)

// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE]
// [AUTH password] [AUTH2 username password] [KEYS key...], as Redis 7.0's
// migrateCommand (cluster.c): the keys are DUMPed here, sent to the target
// as one pipeline (AUTH when given, SELECT when the cached connection has
// another database selected, then RESTORE key ttl payload [REPLACE] for
// each key) and, unless COPY, deleted here once the target acknowledged
// them. The replies, the IOERR texts, the one retry on a fresh connection
// and the connection cache (one idle connection per host:port for 10 s, at
// most 64) are Redis's. ferry is never in cluster mode, so it sends
// RESTORE, not RESTORE-ASKING.
//
// Locking. Redis holds its whole server while MIGRATE waits for the
// target; ferry must not stall every client for a network timeout. So the
// command runs in two critical sections. The first (the handler) checks
// the arguments, looks the keys up (expired keys go out as DELs, as for
// any lookup), DUMPs their values and their TTLs, and blocks the client as
// a blocking command does (nothing else of its pipeline runs meanwhile).
// The network I/O then runs in a goroutine without the engine lock. The
// second critical section deletes each acknowledged key only if it still
// holds the value that was sent (its DUMP payload and expiry time are the
// same). A key written meanwhile is kept, and the reply (a ferry error)
// says so: deleting it would lose that write, and no order of the two
// commands leaves the old value at the target and nothing here, so the
// outcome is reported as a copy. A key gone meanwhile (deleted, expired)
// has nothing left to delete. The deletions are one unit, DEL key..., as
// Redis propagates MIGRATE; COPY propagates nothing.
//
// In MULTI/EXEC and in scripts, which must run atomically, the I/O runs
// under the lock, as in Redis. A client that disconnects while it waits
// gets the deletions anyway (Redis would have finished the command); a
// client unblocked by CLIENT UNBLOCK gets an error and no deletions.
// While it waits, the client shows as blocked (CLIENT LIST flag b, INFO
// blocked_clients). The goroutine ends within the command's timeouts (one
// per connect, 64 KB write and reply line, as Redis's), whatever happens
// to the client or the server.

func init() {
	registrations = append(registrations, registerMigrate)
	keySpecTable["migrate"] = "RW access delete @3; RW access delete incomplete kw:KEYS,-2..-1"
	tipTable["migrate"] = "nondeterministic_output"
	// The arguments: a key or "" (a oneof), and a oneof of AUTH and the
	// AUTH2 block, which the argSyntax notation cannot say.
	m := metaFor(&Command{Name: "migrate"})
	arg := func(name, typ, token string, optional bool, sub ...*cmdArg) *cmdArg {
		return &cmdArg{name: name, typ: typ, token: token, keySpec: -1, optional: optional, sub: sub}
	}
	key := arg("key", "key", "", false)
	key.keySpec = 0
	keys := arg("key", "key", "KEYS", true)
	keys.keySpec, keys.multiple = 1, true
	m.args = []*cmdArg{
		arg("host", "string", "", false),
		arg("port", "integer", "", false),
		// Redis's empty_string token is the empty string (redis-cli's
		// help shows it as "").
		arg("key_or_empty_string", "oneof", "", false, key, arg("empty_string", "pure-token", "", false)),
		arg("destination-db", "integer", "", false),
		arg("timeout", "integer", "", false),
		arg("copy", "pure-token", "COPY", true),
		arg("replace", "pure-token", "REPLACE", true),
		arg("authentication", "oneof", "", true,
			arg("password", "string", "AUTH", true),
			arg("username_password", "block", "AUTH2", true, arg("username", "string", "", false), arg("password", "string", "", false))),
		keys,
	}
	m.getkeys = func(args [][]byte) []keyRef {
		// Redis's getKeysFromCommandWithSpecs: the key specs, unless the
		// incomplete one applies; then migrateGetKeys.
		var out []keyRef
		for i := range m.specs {
			refs, ok := m.specs[i].find(args)
			if !ok {
				return migrateKeys(args)
			}
			out = append(out, refs...)
		}
		return out
	}
}

func registerMigrate(t *Table) {
	t.Add(&Command{Name: "migrate", Arity: -6, Flags: Write, Group: "generic", Since: "2.6.0",
		FirstKey: 3, LastKey: 3, Step: 1,
		Summary: "Moves keys to another server: DUMP here, RESTORE there, DEL here.",
		ACL:     []string{"keyspace", "dangerous"}, Handler: migrateCmd})
}

// migrateKeys finds MIGRATE's keys as Redis's migrateGetKeys does: the key
// argument, or the keys after KEYS (none when the key argument is not
// empty), skipping the options' values.
func migrateKeys(args [][]byte) []keyRef {
	flags := []string{"RW", "access", "delete"}
	first, n := 3, 1
	for i := 6; i < len(args); i++ {
		a := view(args[i])
		if strings.EqualFold(a, "keys") {
			if len(args[3]) > 0 {
				n = 0
			} else {
				first, n = i+1, len(args)-i-1
			}
			break
		}
		switch {
		case strings.EqualFold(a, "auth"):
			i++
		case strings.EqualFold(a, "auth2"):
			i += 2
		}
	}
	out := make([]keyRef, n)
	for i := range out {
		out[i] = keyRef{pos: first + i, flags: flags}
	}
	return out
}

// Replies and errors of MIGRATE.
const (
	errMigrateKeys     = "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string"
	errMigrateConnect  = "IOERR error or timeout connecting to the client"
	errMigrateWriting  = "IOERR error or timeout writing to target instance"
	errMigrateReading  = "IOERR error or timeout reading to target instance"
	errMigrateTarget   = "ERR Target instance replied with error: "
	errMigrateUnblock  = "IOERR ferry: MIGRATE was unblocked before the target replied; nothing was deleted here, the target may hold copies"
	migrateDefaultWait = time.Second
)

// migrateJob is one MIGRATE: what to send, and to where.
type migrateJob struct {
	host, port string // as given: the connection cache's name is host:port
	db         int64  // destination database
	timeout    time.Duration
	copy       bool
	replace    bool
	auth       bool // send AUTH pass, or AUTH user pass when auth2
	auth2      bool
	user, pass []byte
	srcDB      int
	keys       []migrateKey
}

// migrateKey is one key to move, as it was DUMPed.
type migrateKey struct {
	name    []byte
	payload []byte
	expire  int64 // absolute unix ms; 0: none
	ttl     int64 // relative ms sent to RESTORE; 0: none
}

// migrateResult is what the target made of a job.
type migrateResult struct {
	acked []int  // indexes of the keys the target restored
	err   string // the error reply; "" for OK
}

// migrateCmd parses, looks the keys up and DUMPs them (in Redis's order
// of checks), then runs the transfer.
func migrateCmd(c *Ctx) {
	job := &migrateJob{host: string(c.Args[1]), port: string(c.Args[2]), srcDB: c.DB.Index()}
	first, n := 3, 1
	var redact []int
	for j := 6; j < len(c.Args); j++ {
		more := len(c.Args) - 1 - j
		switch {
		case c.Is(j, "copy"):
			job.copy = true
		case c.Is(j, "replace"):
			job.replace = true
		case c.Is(j, "auth"):
			if more < 1 {
				c.Error(ErrSyntax)
				return
			}
			job.auth, job.auth2, job.pass = true, false, bytes.Clone(c.Args[j+1])
			redact = append(redact, j+1)
			j++
		case c.Is(j, "auth2"):
			if more < 2 {
				c.Error(ErrSyntax)
				return
			}
			job.auth, job.auth2 = true, true
			job.user, job.pass = bytes.Clone(c.Args[j+1]), bytes.Clone(c.Args[j+2])
			redact = append(redact, j+1, j+2)
			j += 2
		case c.Is(j, "keys"):
			if len(c.Args[3]) != 0 {
				c.Error(errMigrateKeys)
				return
			}
			first, n = j+1, len(c.Args)-j-1
			j = len(c.Args)
		default:
			c.Error(ErrSyntax)
			return
		}
	}
	timeout, ok := c.Int(5)
	if !ok {
		return
	}
	if job.db, ok = c.Int(4); !ok {
		return
	}
	job.timeout = migrateDefaultWait
	if timeout > 0 {
		job.timeout = time.Duration(min(timeout, int64(1<<62/time.Millisecond))) * time.Millisecond
	}
	var objs []*keyspace.Object
	var names [][]byte
	for _, k := range c.Args[first : first+n] {
		if o := c.Lookup(view(k)); o != nil {
			objs, names = append(objs, o), append(names, k)
		}
	}
	if len(objs) == 0 {
		c.W.Status("NOKEY")
		return
	}
	codec := c.e.cfg.Values
	if codec == nil {
		c.Error(errNoValueCodec)
		return
	}
	for i, o := range objs {
		p, err := codec.Dump(nil, o)
		if err != nil {
			c.Error("ERR " + err.Error())
			return
		}
		k := migrateKey{name: bytes.Clone(names[i]), payload: p, expire: o.Expire()}
		if k.expire != 0 {
			// Relative, as Redis sends it; at least 1 ms.
			k.ttl = max(k.expire-c.Now(), 1)
		}
		job.keys = append(job.keys, k)
	}
	for _, j := range redact {
		// MONITOR and the slow log show "(redacted)", as Redis's
		// redactClientCommandArgument makes them.
		c.Args[j] = []byte("(redacted)")
	}
	if c.e.inExec(c.Client) {
		// MULTI/EXEC and scripts are atomic: the I/O runs under the lock.
		c.e.migrateApply(c, job, job.run(c.e))
		return
	}
	c.Block(nil, 0, func(*Ctx) bool { return false }, func(c *Ctx) { c.Error(errMigrateUnblock) })
	e, cl, bs := c.e, c.Client, c.Client.block
	go func() {
		res := job.run(e)
		// A pause that started meanwhile (CLIENT PAUSE) keeps the dataset
		// still: the deletions wait for it to end, as a write would.
		for {
			e.Lock()
			if job.copy || !e.pauseExpired() {
				break
			}
			e.Unlock()
			time.Sleep(migratePausePoll)
		}
		defer e.Unlock()
		e.migrateDone(cl, bs, job, res)
	}()
}

// migratePausePoll is how often a MIGRATE whose transfer ended during a
// client pause checks whether it may delete its keys.
const migratePausePoll = 10 * time.Millisecond

// migrateDone ends a MIGRATE whose I/O ran without the lock: the
// deletions as their own unit, and the reply to the client if it still
// waits. The caller holds the lock.
func (e *Engine) migrateDone(cl *Client, bs *blockState, job *migrateJob, res migrateResult) {
	waiting := cl.block == bs
	gone := e.clients[cl.ID] != cl
	e.ks.Tick()
	e.ticked = true
	e.eff.reset()
	w := e.replyWriter(cl) // CLIENT REPLY OFF/SKIP drop it
	if !waiting {
		w = &resp.Writer{Proto: cl.W.Proto}
	}
	before := len(cl.W.Buf)
	c := Ctx{e: e, Client: cl, Args: bs.args, W: w, DB: e.ks.DB(job.srcDB), Cmd: bs.cmd}
	if waiting || gone {
		e.migrateApply(&c, job, res)
	}
	e.commitUnit(cl)
	if waiting {
		e.unblocked(cl, bs.cmd, bs.args, before, false)
		e.unblock(cl)
	}
}

// migrateApply deletes the keys the target acknowledged (unless COPY) and
// still holding what was sent, and writes the reply.
func (e *Engine) migrateApply(c *Ctx, job *migrateJob, res migrateResult) {
	if !job.copy && len(res.acked) > 0 {
		switch {
		case e.loading:
			c.Error(ErrLoading)
			return
		case e.writeErr != "":
			c.Error(e.writeErr)
			return
		case e.cfg.Role != "master":
			c.Error(ErrReadOnly)
			return
		}
	}
	var deleted [][]byte
	changed := 0
	var firstChanged []byte
	if !job.copy {
		for _, i := range res.acked {
			k := &job.keys[i]
			name := view(k.name)
			o := c.DB.Get(name)
			if o == nil {
				continue
			}
			p, err := e.cfg.Values.Dump(nil, o)
			if err != nil || o.Expire() != k.expire || !bytes.Equal(p, k.payload) {
				if changed == 0 {
					firstChanged = k.name
				}
				changed++
				continue
			}
			c.DB.Delete(name)
			c.notify(notifyGeneric, "del", name)
			deleted = append(deleted, k.name)
		}
	}
	if len(deleted) > 0 {
		c.PropagateArgs(append([][]byte{[]byte("DEL")}, deleted...)...)
	}
	switch {
	case res.err != "":
		c.Error(res.err)
	case changed > 0:
		c.Error("ERR ferry: " + strconv.Itoa(changed) + " key(s) written here while MIGRATE waited for the target (first: '" +
			string(firstChanged) + "') were restored there but kept here, with their new values")
	default:
		c.W.OK()
	}
}

// run sends the job to the target and reads the replies, as Redis's
// migrateCommand does from its "try_again" label: one retry on a fresh
// connection after a socket error that is not a timeout, while no RESTORE
// reply came. It runs without the engine lock.
func (j *migrateJob) run(e *Engine) migrateResult {
	name := j.host + ":" + j.port
	mayRetry := true
	for {
		cs, why := migrateGet(e, name, j.host, j.port, j.timeout)
		var (
			res     migrateResult
			err     error
			writing bool
		)
		switch why {
		case migrateConnected:
			res, writing, err = j.exchange(cs)
			if err == nil {
				migratePut(e, cs)
				return res
			}
			cs.nc.Close() // Redis's migrateCloseSocket
			if res.err != "" {
				// Replies came: no retry, and the keys acknowledged so
				// far count.
				return res
			}
		case migrateNoConnect:
			return migrateResult{err: errMigrateConnect}
		case migrateRefused:
			// Redis's non-blocking connect "succeeds"; its first write
			// fails.
			err, writing = syscall.ECONNREFUSED, true
		case migrateConnTimeout:
			err, writing = os.ErrDeadlineExceeded, true
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) && mayRetry {
			mayRetry = false
			continue
		}
		if writing {
			return migrateResult{err: errMigrateWriting}
		}
		return migrateResult{err: errMigrateReading}
	}
}

// exchange writes the pipeline on cs and reads the replies. On a socket
// error it returns the error and whether it happened while writing; the
// result is then empty when the error came before the first RESTORE reply
// (the caller may retry), and otherwise holds the keys acknowledged so far
// and the error reply.
func (j *migrateJob) exchange(cs *migrateSocket) (res migrateResult, writing bool, err error) {
	var buf []byte
	if j.auth {
		if j.auth2 {
			buf = resp.AppendCommand(buf, []byte("AUTH"), j.user, j.pass)
		} else {
			buf = resp.AppendCommand(buf, []byte("AUTH"), j.pass)
		}
	}
	sel := cs.lastDB != j.db
	if sel {
		buf = resp.AppendCommand(buf, []byte("SELECT"), strconv.AppendInt(nil, j.db, 10))
	}
	for _, k := range j.keys {
		args := [][]byte{[]byte("RESTORE"), k.name, strconv.AppendInt(nil, k.ttl, 10), k.payload}
		if j.replace {
			args = append(args, []byte("REPLACE"))
		}
		buf = resp.AppendCommand(buf, args...)
	}
	for len(buf) > 0 {
		n := min(len(buf), 64<<10)
		cs.nc.SetWriteDeadline(time.Now().Add(j.timeout))
		if _, err := cs.nc.Write(buf[:n]); err != nil {
			return migrateResult{}, true, err
		}
		buf = buf[n:]
	}
	var authLine, selLine string
	if j.auth {
		if authLine, err = cs.readLine(j.timeout); err != nil {
			return migrateResult{}, false, err
		}
	}
	if sel {
		if selLine, err = cs.readLine(j.timeout); err != nil {
			return migrateResult{}, false, err
		}
	}
	for i := range j.keys {
		line, err := cs.readLine(j.timeout)
		if err != nil {
			if i == 0 {
				return migrateResult{}, false, err
			}
			if res.err == "" {
				res.err = errMigrateReading
			}
			return res, false, err
		}
		bad := line
		switch {
		case j.auth && authLine[0] == '-':
			bad = authLine
		case sel && selLine[0] == '-':
			bad = selLine
		}
		if bad[0] != '-' {
			res.acked = append(res.acked, i)
			continue
		}
		if res.err == "" {
			cs.lastDB = -1
			res.err = errMigrateTarget + bad[1:]
		}
	}
	if res.err == "" {
		cs.lastDB = j.db
	}
	return res, false, nil
}

// migrateSocket is a connection to a MIGRATE target.
type migrateSocket struct {
	name   string
	nc     net.Conn
	br     *bufio.Reader
	lastDB int64 // the database selected on the target; -1: unknown
	idle   *time.Timer
}

// readLine reads one reply line as Redis's syncReadLine does into its
// 1024-byte buffers: at most 1023 bytes (the rest stays for the next
// read), without the "\r\n", each read waiting up to timeout. An empty
// line counts as an error, as it does for Redis.
func (s *migrateSocket) readLine(timeout time.Duration) (string, error) {
	var line []byte
	for len(line) < 1023 {
		if s.br.Buffered() == 0 {
			s.nc.SetReadDeadline(time.Now().Add(timeout))
		}
		b, err := s.br.ReadByte()
		if err != nil {
			return "", err
		}
		if b == '\n' {
			line = bytes.TrimSuffix(line, []byte("\r"))
			break
		}
		line = append(line, b)
	}
	if len(line) == 0 {
		return "", errMigrateEmptyLine
	}
	return string(line), nil
}

var errMigrateEmptyLine = errors.New("empty reply line")

// migrateCache holds one engine's idle connections to MIGRATE targets by
// host:port, as Redis's migrate_cached_sockets: at most 64, each closed
// after 10 s without use. A connection in use is out of the cache, so
// concurrent MIGRATEs to one target each have their own. Every cache is
// guarded by migrateMu; a cache left empty is forgotten, so that an engine
// is not kept alive by it.
type migrateCache struct {
	e     *Engine
	socks map[string]*migrateSocket
}

// Limits of the connection cache (Redis's MIGRATE_SOCKET_CACHE_ITEMS and
// MIGRATE_SOCKET_CACHE_TTL).
const (
	migrateCacheItems = 64
	migrateCacheTTL   = 10 * time.Second
)

var (
	migrateMu     sync.Mutex
	migrateCaches = map[*Engine]*migrateCache{}
)

// migrateCacheFor returns e's connection cache. The caller holds migrateMu.
func migrateCacheFor(e *Engine) *migrateCache {
	c := migrateCaches[e]
	if c == nil {
		c = &migrateCache{e: e, socks: map[string]*migrateSocket{}}
		migrateCaches[e] = c
	}
	return c
}

// How getting a connection went.
const (
	migrateConnected   = iota
	migrateNoConnect   // no connection could be attempted (Redis's connect fails)
	migrateRefused     // refused or reset
	migrateConnTimeout // not connected within the timeout
)

// migrateGet returns e's cached connection to name, taking it out of the
// cache, or a new one, and how that went.
func migrateGet(e *Engine, name, host, port string, timeout time.Duration) (*migrateSocket, int) {
	migrateMu.Lock()
	m := migrateCacheFor(e)
	if cs := m.socks[name]; cs != nil {
		delete(m.socks, name)
		cs.idle.Stop()
		migrateMu.Unlock()
		return cs, migrateConnected
	}
	migrateMu.Unlock()
	// Redis connects to atoi(port), and getaddrinfo takes the number's
	// low 16 bits; a negative one, or an empty host, resolves to nothing.
	p := int32(cAtoi(port))
	if host == "" || p < 0 {
		return nil, migrateNoConnect
	}
	nc, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(int(p&0xffff))), timeout)
	if err != nil {
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			return nil, migrateConnTimeout
		case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EHOSTUNREACH):
			return nil, migrateRefused
		}
		return nil, migrateNoConnect
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	return &migrateSocket{name: name, nc: nc, br: bufio.NewReader(nc), lastDB: -1}, migrateConnected
}

// migratePut returns a connection to e's cache after a MIGRATE that left
// it usable, dropping another one when the cache is full.
func migratePut(e *Engine, cs *migrateSocket) {
	migrateMu.Lock()
	defer migrateMu.Unlock()
	m := migrateCacheFor(e)
	if old := m.socks[cs.name]; old != nil {
		// Another MIGRATE to the same target returned its own first.
		old.idle.Stop()
		old.nc.Close()
		delete(m.socks, cs.name)
	}
	if len(m.socks) >= migrateCacheItems {
		for name, old := range m.socks {
			// Redis drops a random one; Go's map order is random enough.
			old.idle.Stop()
			old.nc.Close()
			delete(m.socks, name)
			break
		}
	}
	m.socks[cs.name] = cs
	cs.idle = time.AfterFunc(migrateCacheTTL, func() { migrateExpire(e, cs) })
}

// migrateExpire closes cs if it is still idle in e's cache.
func migrateExpire(e *Engine, cs *migrateSocket) {
	migrateMu.Lock()
	defer migrateMu.Unlock()
	m := migrateCaches[e]
	if m == nil || m.socks[cs.name] != cs {
		return
	}
	delete(m.socks, cs.name)
	cs.nc.Close()
	if len(m.socks) == 0 {
		delete(migrateCaches, e)
	}
}
