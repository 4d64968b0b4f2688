package command_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
)

// newNode returns an engine in role ("master" or "slave") and a client of it.
func newNode(role string) (*command.Engine, *command.Client) {
	e := command.New(command.Config{Role: role})
	e.Lock()
	cl := e.NewClient("c", "")
	e.Unlock()
	return e, cl
}

// wantReply runs args and checks the reply, or its prefix when want ends
// with "*".
func wantReply(t *testing.T, e *command.Engine, cl *command.Client, want string, args ...string) {
	t.Helper()
	got := exec(e, cl, args...)
	if p, ok := strings.CutSuffix(want, "*"); ok && strings.HasPrefix(got, p) || got == want {
		return
	}
	t.Errorf("%q: %q, want %q", args, got, want)
}

// TestReplicaofRoles: a node's role is fixed when it starts. REPLICAOF NO
// ONE on a master is +OK (a master already); a master asked to follow,
// and a replica asked to be promoted or to follow another master, get an
// error that says how ferry does it; a replica asked to follow the master
// it follows is told so, as Redis does.
func TestReplicaofRoles(t *testing.T) {
	m, mc := newNode("master")
	wantReply(t, m, mc, "+OK\r\n", "REPLICAOF", "NO", "ONE")
	wantReply(t, m, mc, "+OK\r\n", "SLAVEOF", "no", "one")
	wantReply(t, m, mc, "-ERR ferry: a master does not become a replica at run time: start `ferry replica` on the dataset to follow it\r\n",
		"REPLICAOF", "127.0.0.1", "6379")
	wantReply(t, m, mc, "-ERR Invalid master port\r\n", "REPLICAOF", "127.0.0.1", "65536")
	wantReply(t, m, mc, "*3\r\n$6\r\nmaster\r\n*", "ROLE")

	r, rc := newNode("slave")
	wantReply(t, r, rc, "-ERR ferry: a replica is not promoted at run time: start `ferry master` on its dataset, which takes the log over and fences the old master\r\n",
		"REPLICAOF", "NO", "ONE")
	wantReply(t, r, rc, "-ERR ferry: a replica follows the dataset it was started with*", "SLAVEOF", "10.0.0.1", "6379")
	wantReply(t, r, rc, "-ERR Invalid master port\r\n", "REPLICAOF", "10.0.0.1", "x")
	r.SetReplication(func() command.Replication {
		return command.Replication{MasterHost: "primary.example", MasterPort: 6379, LinkUp: true}
	})
	wantReply(t, r, rc, "+OK Already connected to specified master\r\n", "REPLICAOF", "PRIMARY.example", "6379")
	wantReply(t, r, rc, "-ERR ferry: a replica follows the dataset it was started with*", "REPLICAOF", "primary.example", "6380")
	wantReply(t, r, rc, "*5\r\n$5\r\nslave\r\n*", "ROLE")
}

// TestFailoverRoles: FAILOVER checks its arguments and Redis's conditions
// (a replica; no replicas; FORCE without TO and TIMEOUT) with Redis's
// replies, and refuses to start one: a master moves by starting another.
func TestFailoverRoles(t *testing.T) {
	r, rc := newNode("slave")
	wantReply(t, r, rc, "-ERR FAILOVER is not valid when server is a replica.\r\n", "FAILOVER")
	wantReply(t, r, rc, "-ERR syntax error\r\n", "FAILOVER", "bogus")
	wantReply(t, r, rc, "-ERR No failover in progress.\r\n", "FAILOVER", "ABORT")

	m, mc := newNode("master")
	wantReply(t, m, mc, "-ERR FAILOVER requires connected replicas.\r\n", "FAILOVER")
	m.SetFollowers(func() (uint64, []command.Follower) {
		return 10, []command.Follower{{ID: "r1", Addr: "127.0.0.1:7202", Offset: 10}}
	}, nil)
	refused := "-ERR ferry: FAILOVER is not supported: start `ferry master` on this dataset where the new master should run; it takes the log over and fences this one\r\n"
	wantReply(t, m, mc, refused, "FAILOVER")
	wantReply(t, m, mc, refused, "FAILOVER", "TO", "127.0.0.1", "7202", "TIMEOUT", "100")
	wantReply(t, m, mc, refused, "FAILOVER", "TO", "127.0.0.1", "7202", "TIMEOUT", "100", "FORCE")
	wantReply(t, m, mc, "-ERR FAILOVER with force option requires both a timeout and target HOST and IP.\r\n", "FAILOVER", "FORCE")
	wantReply(t, m, mc, "-ERR FAILOVER with force option requires both a timeout and target HOST and IP.\r\n", "FAILOVER", "FORCE", "TIMEOUT", "5")
	wantReply(t, m, mc, "-ERR FAILOVER timeout must be greater than 0\r\n", "FAILOVER", "TIMEOUT", "0")
	wantReply(t, m, mc, "-ERR value is not an integer or out of range\r\n", "FAILOVER", "TO", "h", "p")
	wantReply(t, m, mc, "-ERR No failover in progress.\r\n", "FAILOVER", "ABORT")
	// Nothing was paused or changed: writes go on.
	wantReply(t, m, mc, "+OK\r\n", "SET", "k", "v")
}

// fakeSnapshots records BGSAVE-style starts.
type fakeSnapshots struct {
	running  bool
	starts   []bool // the schedule argument of each Start
	startErr error
}

func (f *fakeSnapshots) Persistence() command.Persistence {
	return command.Persistence{InProgress: f.running}
}

func (f *fakeSnapshots) Start(schedule bool) (bool, error) {
	f.starts = append(f.starts, schedule)
	if f.startErr != nil {
		return false, f.startErr
	}
	if f.running {
		if !schedule {
			return false, command.ErrSnapshotRunning
		}
		return true, nil
	}
	f.running = true
	return false, nil
}

// TestBgrewriteaofStartsSnapshot: ferry's append-only file is its log, and
// a snapshot is what compacts it, so BGREWRITEAOF starts one (scheduling
// it behind one running, as Redis schedules a rewrite behind a BGSAVE),
// with Redis's replies; a node without a snapshot store says so.
func TestBgrewriteaofStartsSnapshot(t *testing.T) {
	e, cl := newNode("master")
	wantReply(t, e, cl, "-"+command.ErrNoSnapshots+"\r\n", "BGREWRITEAOF")
	snaps := &fakeSnapshots{}
	e.SetSnapshots(snaps)
	wantReply(t, e, cl, "+Background append only file rewriting started\r\n", "BGREWRITEAOF")
	wantReply(t, e, cl, "+Background append only file rewriting scheduled\r\n", "BGREWRITEAOF")
	wantReply(t, e, cl, "-ERR Background save already in progress\r\n", "BGSAVE")
	wantReply(t, e, cl, "-ERR wrong number of arguments for 'bgrewriteaof' command\r\n", "BGREWRITEAOF", "SCHEDULE")
	if len(snaps.starts) != 3 || !snaps.starts[0] || !snaps.starts[1] || snaps.starts[2] {
		t.Errorf("snapshot starts (schedule flags) %v", snaps.starts)
	}
	snaps.running, snaps.startErr = false, errors.New("ERR snapshot store unreachable")
	wantReply(t, e, cl, "-ERR snapshot store unreachable\r\n", "BGREWRITEAOF")
}
