package command_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// listScene drives several connections to one server through a blocking
// scenario and records every reply, so that ferry's transcript can be
// compared with redis-server's byte for byte.
type listScene struct {
	t     *testing.T
	addr  string
	proto int
	conns map[string]*redistest.Conn
	out   []string
}

func (s *listScene) conn(name string) *redistest.Conn {
	s.t.Helper()
	c, ok := s.conns[name]
	if !ok {
		c = redistest.Dial(s.t, s.addr)
		if s.proto == 3 {
			c.Do("HELLO", "3")
		}
		s.conns[name] = c
	}
	return c
}

func (s *listScene) record(name, what, reply string) {
	s.out = append(s.out, name+" "+what+" -> "+reply)
}

// do sends a command and records its reply.
func (s *listScene) do(name string, args ...string) {
	s.t.Helper()
	s.record(name, strings.Join(args, " "), s.conn(name).Do(args...))
}

// block sends a command that blocks, and waits until the server counts
// blocked clients (so that the order in which clients block is the order of
// the calls).
func (s *listScene) block(name string, blocked int, args ...string) {
	s.t.Helper()
	s.conn(name).WriteRaw(redistest.Encode(args...))
	s.waitBlocked(blocked)
}

// read records the reply a blocked connection received.
func (s *listScene) read(name string) {
	s.t.Helper()
	s.record(name, "reads", s.conn(name).Read())
}

// silent records that no reply arrives within d.
func (s *listScene) silent(name string, d time.Duration) {
	s.t.Helper()
	r, err := s.conn(name).ReadTimeout(d)
	if err == nil {
		s.record(name, "silent", "unexpected reply "+r)
		return
	}
	s.record(name, "silent", "nothing")
}

func (s *listScene) close(name string) {
	s.conn(name).Close()
	delete(s.conns, name)
}

// waitBlocked polls INFO clients until blocked_clients is n.
func (s *listScene) waitBlocked(n int) {
	s.t.Helper()
	s.conn("ctl").WaitInfo("clients", "blocked_clients", strconv.Itoa(n))
}

// listScenarios are run against ferry and redis-server, in RESP2 and RESP3.
var listScenarios = []struct {
	name string
	run  func(s *listScene)
}{
	{"push wakes blpop", func(s *listScene) {
		s.block("A", 1, "BLPOP", "q", "0")
		s.do("B", "LPUSH", "q", "x")
		s.read("A")
		s.do("B", "EXISTS", "q")
	}},
	{"fifo", func(s *listScene) {
		s.block("A", 1, "BLPOP", "q", "0")
		s.block("B", 2, "BRPOP", "q", "0")
		s.block("C", 3, "BLPOP", "q", "0")
		s.do("D", "RPUSH", "q", "1", "2")
		s.read("A")
		s.read("B")
		s.silent("C", 150*time.Millisecond)
		s.do("D", "EXISTS", "q")
		s.do("D", "RPUSH", "q", "3", "4")
		s.read("C")
		s.do("D", "LRANGE", "q", "0", "-1")
	}},
	{"several keys", func(s *listScene) {
		s.block("A", 1, "BLPOP", "a", "b", "0")
		s.block("B", 2, "BRPOP", "b", "a", "0")
		s.do("C", "MULTI")
		s.do("C", "RPUSH", "b", "b1", "b2")
		s.do("C", "RPUSH", "a", "a1")
		s.do("C", "EXEC")
		s.read("A") // served from b, the key that became ready first
		s.read("B")
		s.do("C", "LRANGE", "a", "0", "-1")
		s.do("C", "EXISTS", "b")
	}},
	{"timeouts", func(s *listScene) {
		s.do("A", "BLPOP", "q", "0.05")
		s.do("A", "BRPOP", "q", "r", "0.05")
		s.do("A", "BLMPOP", "0.05", "2", "q", "r", "LEFT", "COUNT", "2")
		s.do("A", "BLMOVE", "q", "r", "LEFT", "RIGHT", "0.05")
		s.do("A", "BRPOPLPUSH", "q", "r", "0.05")
		s.block("A", 1, "BLPOP", "q", "5")
		s.do("B", "RPUSH", "q", "in time")
		s.read("A")
		s.do("B", "EXISTS", "q", "r")
	}},
	{"blmove chain", func(s *listScene) {
		s.block("A", 1, "BLMOVE", "a", "b", "LEFT", "RIGHT", "0")
		s.block("B", 2, "BLMOVE", "b", "c", "RIGHT", "LEFT", "0")
		s.block("C", 3, "BRPOPLPUSH", "c", "d", "0")
		s.block("D", 4, "BLPOP", "d", "0")
		s.do("E", "RPUSH", "a", "x", "y")
		s.read("A")
		s.read("B")
		s.read("C")
		s.read("D")
		s.do("E", "LRANGE", "a", "0", "-1")
		s.do("E", "EXISTS", "b", "c", "d")
	}},
	{"blmove same list", func(s *listScene) {
		s.block("A", 1, "BLMOVE", "a", "a", "RIGHT", "LEFT", "0")
		s.do("B", "RPUSH", "a", "1", "2")
		s.read("A")
		s.do("B", "LRANGE", "a", "0", "-1")
	}},
	{"blmove to wrong type", func(s *listScene) {
		s.block("A", 1, "BLMOVE", "a", "dst", "LEFT", "LEFT", "0")
		s.block("B", 2, "BLPOP", "a", "0")
		s.do("C", "SET", "dst", "string")
		s.do("C", "RPUSH", "a", "x")
		s.read("A")
		s.read("B")
		s.do("C", "EXISTS", "a")
	}},
	{"blmpop served later", func(s *listScene) {
		s.block("A", 1, "BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "2")
		s.block("B", 2, "BLMPOP", "0", "1", "b", "LEFT")
		s.do("C", "RPUSH", "b", "1", "2", "3", "4")
		s.read("A")
		s.read("B")
		s.do("C", "LRANGE", "b", "0", "-1")
	}},
	{"key of another type", func(s *listScene) {
		s.block("A", 1, "BLPOP", "a", "0")
		s.do("B", "SET", "a", "string")
		s.silent("A", 100*time.Millisecond)
		s.do("B", "DEL", "a")
		s.do("B", "MULTI")
		s.do("B", "RPUSH", "a", "gone")
		s.do("B", "LPOP", "a")
		s.do("B", "EXEC")
		s.silent("A", 100*time.Millisecond)
		s.do("B", "RPUSH", "a", "y")
		s.read("A")
	}},
	{"disconnected client loses nothing", func(s *listScene) {
		s.block("A", 1, "BLPOP", "q", "0")
		s.block("B", 2, "BLPOP", "q", "0")
		s.close("A")
		s.waitBlocked(1)
		s.do("C", "RPUSH", "q", "x", "y")
		s.read("B")
		s.do("C", "LRANGE", "q", "0", "-1")
	}},
	{"disconnect after pipelining", func(s *listScene) {
		// The client sends more after its blocking command, then goes:
		// the server must still notice, and keep the element.
		s.block("A", 1, "BLPOP", "q", "0")
		s.conn("A").WriteRaw([]byte("PING\r\n"))
		time.Sleep(50 * time.Millisecond)
		s.close("A")
		s.waitBlocked(0)
		s.do("C", "RPUSH", "q", "x")
		s.do("C", "LRANGE", "q", "0", "-1")
	}},
	{"pipelined after a blocking command", func(s *listScene) {
		a := s.conn("A")
		a.WriteRaw([]byte("BLPOP q 0\r\nPING\r\nLLEN q\r\n"))
		s.waitBlocked(1)
		s.do("B", "RPUSH", "q", "x", "y")
		s.read("A")
		s.read("A")
		s.read("A")
	}},
	{"multi", func(s *listScene) {
		s.do("A", "MULTI")
		s.do("A", "BLPOP", "q", "0")
		s.do("A", "BLMOVE", "q", "r", "LEFT", "LEFT", "0")
		s.do("A", "BRPOPLPUSH", "q", "r", "0")
		s.do("A", "BLMPOP", "0", "1", "q", "LEFT")
		s.do("A", "RPUSH", "q", "a", "b", "c")
		s.do("A", "BRPOP", "q", "0")
		s.do("A", "BLMOVE", "q", "r", "LEFT", "LEFT", "0")
		s.do("A", "EXEC")
		s.do("A", "LRANGE", "q", "0", "-1")
		s.do("A", "LRANGE", "r", "0", "-1")
	}},
	{"databases", func(s *listScene) {
		s.do("A", "SELECT", "1")
		s.block("A", 1, "BLPOP", "q", "0")
		s.do("B", "RPUSH", "q", "db0")
		s.silent("A", 100*time.Millisecond)
		s.do("B", "SELECT", "1")
		s.do("B", "RPUSH", "q", "db1")
		s.read("A")
		s.do("B", "SELECT", "0")
		s.do("B", "LRANGE", "q", "0", "-1")
	}},
	{"client unblock", func(s *listScene) {
		id := strings.TrimSpace(strings.TrimPrefix(s.conn("A").Do("CLIENT", "ID"), ":"))
		s.block("A", 1, "BLMOVE", "q", "r", "LEFT", "LEFT", "0")
		s.record("B", "CLIENT UNBLOCK <A>", s.conn("B").Do("CLIENT", "UNBLOCK", id))
		s.read("A")
		s.block("A", 1, "BLMPOP", "0", "1", "q", "LEFT")
		s.record("B", "CLIENT UNBLOCK <A> ERROR", s.conn("B").Do("CLIENT", "UNBLOCK", id, "ERROR"))
		s.read("A")
		s.do("B", "RPUSH", "q", "x")
		s.do("B", "LRANGE", "q", "0", "-1")
	}},
	{"multi wakes blocked", func(s *listScene) {
		s.block("A", 1, "BLPOP", "q", "0")
		s.do("B", "MULTI")
		s.do("B", "RPUSH", "q", "1", "2")
		s.do("B", "LPOP", "q")
		s.do("B", "EXEC")
		s.read("A")
		s.do("B", "EXISTS", "q")
	}},
}

func TestListBlockingAgainstRedis(t *testing.T) {
	redisAddr := redistest.Redis(t)
	_, ferryAddr := redistest.Ferry(t, command.Config{})
	for _, sc := range listScenarios {
		for _, proto := range []int{2, 3} {
			t.Run(fmt.Sprintf("%s/resp%d", sc.name, proto), func(t *testing.T) {
				var outs [2][]string
				for i, addr := range []string{ferryAddr, redisAddr} {
					s := &listScene{t: t, addr: addr, proto: proto, conns: map[string]*redistest.Conn{}}
					s.conn("ctl").Do("FLUSHALL")
					sc.run(s)
					for _, c := range s.conns {
						c.Close()
					}
					s.conns = map[string]*redistest.Conn{}
					s.waitBlocked(0)
					outs[i] = s.out
				}
				ferry, redis := outs[0], outs[1]
				for i := 0; i < max(len(ferry), len(redis)); i++ {
					var f, r string
					if i < len(ferry) {
						f = ferry[i]
					}
					if i < len(redis) {
						r = redis[i]
					}
					if f != r {
						t.Errorf("step %d:\n ferry: %q\n redis: %q", i, f, r)
					}
				}
			})
		}
	}
}

// replStream reads what redis-server propagates to a replica.
type replStream struct {
	br *bufio.Reader
	nc net.Conn
}

// syncRedis connects to addr as a replica (SYNC) and skips the RDB.
func syncRedis(t *testing.T, addr string) *replStream {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	nc.Write([]byte("SYNC\r\n"))
	br := bufio.NewReader(nc)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("SYNC: %v", err)
		}
		if line == "\n" {
			continue // keepalive while the RDB is produced
		}
		if !strings.HasPrefix(line, "$") {
			t.Fatalf("SYNC: unexpected %q", line)
		}
		n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
		if err != nil {
			t.Fatalf("SYNC: %q", line)
		}
		if _, err := io.CopyN(io.Discard, br, int64(n)); err != nil {
			t.Fatal(err)
		}
		return &replStream{br: br, nc: nc}
	}
}

// until returns the propagated commands up to (not including) the first
// that starts with marker, leaving out SELECT and PING.
func (r *replStream) until(t *testing.T, marker string) []string {
	t.Helper()
	r.nc.SetDeadline(time.Now().Add(10 * time.Second))
	var out []string
	for {
		cmd, err := readCommand(r.br)
		if err != nil {
			t.Fatalf("replication stream: %v", err)
		}
		if strings.HasPrefix(strings.Join(cmd, " "), marker) {
			return out
		}
		if keepEffect(cmd) {
			out = append(out, strings.Join(cmd, " "))
		}
	}
}

func keepEffect(cmd []string) bool {
	return len(cmd) > 0 && !strings.EqualFold(cmd[0], "SELECT") && !strings.EqualFold(cmd[0], "PING")
}

// readCommand reads one RESP array of bulk strings.
func readCommand(br *bufio.Reader) ([]string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, fmt.Errorf("not a command: %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		return nil, err
	}
	cmd := make([]string, n)
	for i := range cmd {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(line[1:]))
		if err != nil {
			return nil, err
		}
		b := make([]byte, size+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, err
		}
		cmd[i] = string(b[:size])
	}
	return cmd, nil
}

// listEffects collects the commands of the units a ferry engine emits.
type listEffects struct {
	mu   sync.Mutex
	cmds []string
}

func (l *listEffects) Append(u command.Unit) {
	br := bufio.NewReader(bytes.NewReader(u.Data))
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		cmd, err := readCommand(br)
		if err != nil {
			return
		}
		if keepEffect(cmd) {
			l.cmds = append(l.cmds, strings.Join(cmd, " "))
		}
	}
}

// until returns the commands before marker and forgets them.
func (l *listEffects) until(t *testing.T, marker string) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l.mu.Lock()
		for i, c := range l.cmds {
			if strings.HasPrefix(c, marker) {
				out := append([]string(nil), l.cmds[:i]...)
				l.cmds = l.cmds[i+1:]
				l.mu.Unlock()
				return out
			}
		}
		l.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("marker %s never propagated", marker)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestListPropagationAgainstRedis runs list commands, blocking ones
// included, on ferry and on redis-server, and compares what ferry hands to
// its log with what redis-server sends its replicas.
func TestListPropagationAgainstRedis(t *testing.T) {
	redisAddr := redistest.Redis(t, "--repl-diskless-sync", "no", "--repl-ping-replica-period", "3600")
	e, ferryAddr := redistest.Ferry(t, command.Config{})
	effects := &listEffects{}
	e.Lock()
	e.SetLog(effects)
	e.Unlock()
	stream := syncRedis(t, redisAddr)

	scenarios := []struct {
		name string
		run  func(s *listScene)
	}{
		{"pushes and pops", func(s *listScene) {
			s.do("A", "RPUSH", "l", "a", "b", "c", "d", "e", "f")
			s.do("A", "LPUSH", "l", "z")
			s.do("A", "LPUSHX", "none", "x")
			s.do("A", "RPUSHX", "l", "x")
			s.do("A", "LPOP", "l")
			s.do("A", "RPOP", "l", "2")
			s.do("A", "LPOP", "l", "0")
			s.do("A", "LPOP", "none")
			s.do("A", "RPOP", "none", "3")
			s.do("A", "LPOP", "l", "100")
			s.do("A", "RPUSH", "l", "a", "b", "a", "c")
			s.do("A", "LREM", "l", "0", "nothing")
			s.do("A", "LREM", "l", "-1", "a")
			s.do("A", "LTRIM", "l", "0", "-1")
			s.do("A", "LTRIM", "l", "1", "-1")
			s.do("A", "LSET", "l", "0", "B")
			s.do("A", "LSET", "l", "9", "B")
			s.do("A", "LINSERT", "l", "BEFORE", "nopivot", "x")
			s.do("A", "LINSERT", "l", "after", "B", "x")
			s.do("A", "LTRIM", "l", "5", "10")
		}},
		{"moves", func(s *listScene) {
			s.do("A", "RPUSH", "a", "1", "2", "3", "4", "5")
			s.do("A", "LMOVE", "a", "b", "Left", "riGHT")
			s.do("A", "RPOPLPUSH", "a", "b")
			s.do("A", "LMOVE", "none", "b", "LEFT", "RIGHT")
			s.do("A", "BLMOVE", "a", "b", "right", "LEFT", "0")
			s.do("A", "BRPOPLPUSH", "a", "b", "0")
			s.do("A", "SET", "str", "v")
			s.do("A", "LMOVE", "a", "str", "LEFT", "LEFT")
			s.do("A", "LMPOP", "3", "none", "a", "b", "LEFT", "COUNT", "10")
			s.do("A", "LMPOP", "1", "b", "RIGHT", "COUNT", "2")
			s.do("A", "LMPOP", "1", "b", "RIGHT")
			s.do("A", "LMPOP", "1", "none", "RIGHT")
		}},
		{"blocking served at once", func(s *listScene) {
			s.do("A", "RPUSH", "a", "1", "2", "3", "4", "5", "6")
			s.do("A", "BLPOP", "none", "a", "0")
			s.do("A", "BRPOP", "a", "1")
			s.do("A", "BLMPOP", "0", "2", "none", "a", "RIGHT", "COUNT", "2")
			s.do("A", "BLMPOP", "0", "1", "a", "left", "COUNT", "20")
			s.do("A", "BLPOP", "none", "0.01")
			s.do("A", "BLMOVE", "none", "a", "LEFT", "LEFT", "0.01")
		}},
		{"blocking served later", func(s *listScene) {
			s.block("A", 1, "BLPOP", "x", "y", "0")
			s.block("B", 2, "BRPOP", "y", "0")
			s.block("C", 3, "BLMPOP", "0", "2", "x", "y", "RIGHT", "COUNT", "5")
			s.block("D", 4, "BLMOVE", "m", "n", "RIGHT", "LEFT", "0")
			s.block("E", 5, "BRPOPLPUSH", "n", "o", "0")
			s.block("F", 6, "BLMPOP", "0", "1", "o", "LEFT")
			s.do("G", "RPUSH", "y", "1", "2", "3", "4")
			s.read("A")
			s.read("B")
			s.read("C")
			s.do("G", "RPUSH", "m", "a", "b")
			s.read("D")
			s.read("E")
			s.read("F")
		}},
		{"transactions", func(s *listScene) {
			s.block("A", 1, "BLPOP", "q", "0")
			s.do("B", "MULTI")
			s.do("B", "RPUSH", "q", "1", "2")
			s.do("B", "BLPOP", "q", "0")
			s.do("B", "BLMOVE", "q", "r", "LEFT", "RIGHT", "0")
			s.do("B", "BLPOP", "q", "0")
			s.do("B", "RPUSH", "q", "3")
			s.do("B", "EXEC")
			s.read("A")
			s.do("B", "MULTI")
			s.do("B", "LPOP", "r")
			s.do("B", "LPUSHX", "r", "x")
			s.do("B", "EXEC")
		}},
	}
	for i, sc := range scenarios {
		marker := "SET end-of-scenario"
		var outs [2][]string
		for j, addr := range []string{ferryAddr, redisAddr} {
			s := &listScene{t: t, addr: addr, proto: 2, conns: map[string]*redistest.Conn{}}
			sc.run(s)
			s.do("ctl", "SET", "end-of-scenario", strconv.Itoa(i))
			for _, c := range s.conns {
				c.Close()
			}
			if j == 0 {
				outs[j] = effects.until(t, marker)
			} else {
				outs[j] = stream.until(t, marker)
			}
		}
		ferry, redis := outs[0], outs[1]
		if strings.Join(ferry, "\n") != strings.Join(redis, "\n") {
			t.Errorf("%s: propagated\n ferry: %q\n redis: %q", sc.name, ferry, redis)
		}
		if len(redis) == 0 {
			t.Errorf("%s: redis propagated nothing", sc.name)
		}
	}
}

// TestListEffectsReplicate drives a master engine with random list
// commands, blocking ones included, and checks that a replica applying
// its units holds the same data after every step.
func TestListEffectsReplicate(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			master := command.New(command.Config{Clock: clock.Now})
			log := &unitLog{}
			master.SetLog(log)
			master.Lock()
			var clients []*command.Client
			for i := 0; i < 4; i++ {
				clients = append(clients, master.NewClient("c"+strconv.Itoa(i), ""))
			}
			master.Unlock()
			replica, rc := replicaOf(clock.Now)
			r := rand.New(rand.NewPCG(seed, seed*31))
			key := func() string { return "k" + strconv.Itoa(r.IntN(4)) }
			elem := func() string { return "e" + strconv.Itoa(r.IntN(5)) }
			end := func() string { return []string{"LEFT", "RIGHT", "left", "Right"}[r.IntN(4)] }
			n := func(lo, hi int) string { return strconv.Itoa(lo + r.IntN(hi-lo+1)) }
			gen := func() []string {
				switch r.IntN(22) {
				case 0, 1:
					return []string{"RPUSH", key(), elem(), elem()}
				case 2, 3:
					return []string{"LPUSH", key(), elem()}
				case 4:
					return []string{"LPUSHX", key(), elem()}
				case 5:
					return []string{"LPOP", key()}
				case 6:
					return []string{"RPOP", key(), n(0, 3)}
				case 7:
					return []string{"LSET", key(), n(-3, 3), elem()}
				case 8:
					return []string{"LINSERT", key(), []string{"BEFORE", "AFTER"}[r.IntN(2)], elem(), elem()}
				case 9:
					return []string{"LREM", key(), n(-2, 2), elem()}
				case 10:
					return []string{"LTRIM", key(), n(-4, 2), n(-3, 4)}
				case 11:
					return []string{"LMOVE", key(), key(), end(), end()}
				case 12:
					return []string{"RPOPLPUSH", key(), key()}
				case 13:
					return []string{"LMPOP", "2", key(), key(), end(), "COUNT", n(1, 3)}
				case 14:
					return []string{"BLPOP", key(), key(), "0"}
				case 15:
					return []string{"BRPOP", key(), "0"}
				case 16:
					return []string{"BLMOVE", key(), key(), end(), end(), "0"}
				case 17:
					return []string{"BRPOPLPUSH", key(), key(), "0"}
				case 18:
					return []string{"BLMPOP", "0", "2", key(), key(), end(), "COUNT", n(1, 3)}
				case 19:
					return []string{"DEL", key()}
				case 20:
					return []string{"SET", key(), "s"}
				default:
					return []string{"LRANGE", key(), "0", "-1"}
				}
			}
			served := replicate(t, r, replication{master, clients, log, replica, rc}, gen, 3000, 8, 12, nil)
			if served == 0 {
				t.Fatal("no blocked client was ever served: the generator does not exercise blocking")
			}
		})
	}
}
