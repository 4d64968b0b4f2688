package e2e

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/redistest"
)

// TestMasterKilledKeepsAckedWrites kills a `ferry master` process with
// SIGKILL, three times, while eight clients write with --ack durable, each
// time at a random moment, and starts it again on the same log and
// snapshots. After the last start every write a client saw acknowledged is
// there, nothing was applied twice, and a replica that followed the log
// through the crashes holds what the master holds.
//
// Two setups: a separate NATS server with snapshots in a directory taken
// every 3,000 writes (so the kills fall before, during and after
// snapshots, and restarts load one), and NATS inside the master process
// (--nats embedded, as `ferry dev` runs it), where the kill takes the log's
// server down with the master.
func TestMasterKilledKeepsAckedWrites(t *testing.T) {
	t.Run("separate NATS, snapshots", func(t *testing.T) {
		ns := startNATS(t)
		args := []string{"--nats", ns.URL(), "--dataset", "crash",
			"--store", "file://" + t.TempDir(), "--snapshot-after-writes", "3000"}
		var r *replicaNode
		addr := killAndRestart(t, args, `msg="snapshot written"`, `msg="snapshot loaded"`, func() { r = startReplica(t, ns.URL(), "crash", true) })
		checkFor(t, 30*time.Second, 20*time.Millisecond, func() error {
			md, err := digest(addr)
			if err != nil {
				return err
			}
			rd, err := digest(r.addr)
			if err != nil {
				return err
			}
			if md != rd {
				return fmt.Errorf("DEBUG DIGEST: master %q, replica %q", md, rd)
			}
			return nil
		})
	})
	t.Run("embedded NATS", func(t *testing.T) {
		killAndRestart(t, []string{"--nats", "embedded", "--nats-port", "0", "--data-dir", t.TempDir(), "--dataset", "crash"}, "", `msg="keyspace rebuilt"`, nil)
	})
}

// killAndRestart runs `ferry master args...` under eight ackWriters, kills
// it with SIGKILL three times and starts it again each time, then checks
// every acknowledged write on the last one, which it leaves running (until
// the test ends); it returns that master's address. Before each kill the
// master must have logged written, if not empty; some restart must log
// restarted (how it recovered); started, if not nil, runs once the first
// master serves.
func killAndRestart(t *testing.T, args []string, written, restarted string, started func()) string {
	t.Helper()
	addr := freeAddr(t)
	args = append([]string{"master", "--addr", addr, "--log-level", "debug"}, args...)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	proc := startMasterProcess(t, addr, append(args, "--new-dataset"))
	if started != nil {
		started()
	}
	ws := startWriters(addr, 8)
	recovered := 0
	for kill := 1; kill <= 3; kill++ {
		ws.waitMore(t, 2000, 60*time.Second)
		if written != "" {
			checkFor(t, 60*time.Second, 10*time.Millisecond, func() error {
				if !strings.Contains(proc.out.String(), written) {
					return fmt.Errorf("the master has not logged %s yet", written)
				}
				return nil
			})
		}
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		before := ws.total.Load()
		proc.kill(t)
		t.Logf("kill %d: SIGKILL after %d acknowledged writes", kill, before)
		// --new-dataset is left out: a master that found nothing to
		// recover here would start empty, which this test must catch.
		proc = startMasterProcess(t, addr, args)
		if strings.Contains(proc.out.String(), restarted) {
			recovered++
		}
	}
	if recovered == 0 {
		t.Errorf("no restart logged %s", restarted)
	}
	ws.waitMore(t, 2000, 60*time.Second)
	ws.stop(t)
	ws.checkAcked(t, "master after three kills", addr)
	if info := mustQuery(t, addr, "INFO", "replication"); !strings.Contains(info, "role:master") {
		t.Errorf("INFO replication after the restarts:\n%s", info)
	}
	return addr
}

// masterProcess is a ferry master running as its own process.
type masterProcess struct {
	cmd    *exec.Cmd
	out    *redistest.Buffer
	exited chan struct{}
}

// startMasterProcess starts `ferry args...` and waits until it answers
// PING on addr (a master that is still rebuilding answers LOADING; that is
// not yet up). The process is killed when the test ends.
func startMasterProcess(t *testing.T, addr string, args []string) *masterProcess {
	t.Helper()
	cmd := exec.Command(buildFerry(t), args...)
	p := &masterProcess{cmd: cmd, out: &redistest.Buffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.kill(t)
		if t.Failed() {
			t.Logf("ferry master output (last 8 KB):\n%s", lastBytes(p.out.String(), 8<<10))
		}
	})
	checkFor(t, 60*time.Second, 20*time.Millisecond, func() error {
		select {
		case <-p.exited:
			t.Fatalf("ferry exited before it served:\n%s", p.out.String())
		default:
		}
		r, err := query(addr, "PING")
		if err != nil {
			return err
		}
		if r != "+PONG\r\n" {
			return fmt.Errorf("PING: %q", r)
		}
		return nil
	})
	return p
}

// kill sends SIGKILL and waits for the process to end.
func (p *masterProcess) kill(t *testing.T) {
	t.Helper()
	p.cmd.Process.Kill()
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("ferry did not exit within 10 s of SIGKILL")
	}
}

// lastBytes returns the last n bytes of s.
func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
