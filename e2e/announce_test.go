package e2e

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/master"
	"github.com/ferrydb/ferry/replica"
)

// TestReplicaNamesItsMaster: a replica learns where its master serves from
// the master's announcements beside the log, as a Redis replica knows the
// master it connected to: INFO replication's master_host and master_port,
// ROLE, and REPLICAOF naming that master answer as on a Redis replica. The
// master's INFO names the replica by its announced address.
// master_last_io_seconds_ago counts from the last announcement while the
// master is idle, and grows once the master is gone.
func TestReplicaNamesItsMaster(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "announce", nil)
	if got := mustQuery(t, m.addr, "SET", "k", "v"); got != "+OK\r\n" {
		t.Fatalf("SET = %q", got)
	}
	r := startReplica(t, ns.URL(), "announce", true)
	waitCaughtUp(t, m, r, 10*time.Second)
	host, port, _ := net.SplitHostPort(m.addr)
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		h, p := infoField(t, r.addr, "replication", "master_host"), infoField(t, r.addr, "replication", "master_port")
		if h != host || p != port {
			return fmt.Errorf("replica's master_host:%s master_port:%s, want %s %s", h, p, host, port)
		}
		return nil
	})
	off := strconv.FormatUint(m.Offset(), 10)
	if got, want := mustQuery(t, r.addr, "ROLE"), "*5\r\n"+bulk("slave")+bulk(host)+":"+port+"\r\n"+bulk("connected")+":"+off+"\r\n"; got != want {
		t.Errorf("replica's ROLE = %q, want %q", got, want)
	}
	if got := mustQuery(t, r.addr, "REPLICAOF", host, port); got != "+OK Already connected to specified master\r\n" {
		t.Errorf("REPLICAOF its own master = %q", got)
	}
	rhost, rport, _ := net.SplitHostPort(r.addr)
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		want := "ip=" + rhost + ",port=" + rport + ",state=online,offset=" + off + ","
		if got := infoField(t, m.addr, "replication", "slave0"); len(got) < len(want) || got[:len(want)] != want {
			return fmt.Errorf("master's slave0:%s, want it to start %s", got, want)
		}
		return nil
	})

	// Idle: nothing written for 3.5 s, and the master was heard within
	// the last second or two (without announcements: 3).
	time.Sleep(3500 * time.Millisecond)
	if io := infoField(t, r.addr, "replication", "master_last_io_seconds_ago"); io != "0" && io != "1" && io != "2" {
		t.Errorf("idle master: master_last_io_seconds_ago:%s, want at most 2", io)
	}
	m.stop(t)
	time.Sleep(3500 * time.Millisecond)
	if io, _ := strconv.Atoi(infoField(t, r.addr, "replication", "master_last_io_seconds_ago")); io < 3 {
		t.Errorf("master gone for 3.5 s: master_last_io_seconds_ago:%d, want at least 3", io)
	}
	if h := infoField(t, r.addr, "replication", "master_host"); h != host {
		t.Errorf("master gone: master_host:%s, want the last one heard, %s", h, host)
	}
}

// TestAnnounceAddr: --announce-addr replaces the listen address in what a
// master tells its replicas and a replica tells its master.
func TestAnnounceAddr(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "announce", func(c *master.Config) { c.AnnounceAddr = "db.example:7000" })
	r := startReplicaWith(t, ns.URL(), "announce", true, func(c *replica.Config) { c.AnnounceAddr = "[2001:db8::7]:7001" })
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if got := mustQuery(t, r.addr, "ROLE"); got != "*5\r\n"+bulk("slave")+bulk("db.example")+":7000\r\n"+bulk("connected")+":0\r\n" {
			return fmt.Errorf("replica's ROLE = %q", got)
		}
		if got := infoField(t, m.addr, "replication", "slave0"); got != "ip=2001:db8::7,port=7001,state=online,offset=0,lag=0" {
			return fmt.Errorf("master's slave0:%s", got)
		}
		return nil
	})
}

// TestFencedMasterStopsAnnouncing: of two masters started on one dataset,
// the fenced one falls silent, so replicas name the one that took the log.
func TestFencedMasterStopsAnnouncing(t *testing.T) {
	for _, tc := range fenceCases {
		t.Run(tc.name, func(t *testing.T) {
			ns := startNATS(t)
			win, lose, _ := fence(t, ns, tc)
			checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
				if got, err := query(lose.addr, "SET", "x", "1"); err != nil || !strings.HasPrefix(got, "-READONLY") || !strings.Contains(got, "fenced") {
					return fmt.Errorf("loser not fenced yet: SET = %q, %v", got, err)
				}
				return nil
			})
			r := startReplica(t, ns.URL(), "fence", true)
			_, port, _ := net.SplitHostPort(win.addr)
			checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
				if p := infoField(t, r.addr, "replication", "master_port"); p != port {
					return fmt.Errorf("master_port:%s, want the winner's %s", p, port)
				}
				return nil
			})
			// Both masters announced every second until the fence; for 2.5
			// s now only the winner is heard.
			for end := time.Now().Add(2500 * time.Millisecond); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
				if p := infoField(t, r.addr, "replication", "master_port"); p != port {
					t.Fatalf("master_port:%s: the fenced master still announces itself (winner %s)", p, port)
				}
			}
		})
	}
}

// TestReplacedMasterIgnored: a master replaced by another that has not
// written since (so is not fenced yet) still announces itself, and
// replicas that applied its successor's entries ignore it.
func TestReplacedMasterIgnored(t *testing.T) {
	ns := startNATS(t)
	a := startMaster(t, ns.URL(), "replaced", nil)
	if got := mustQuery(t, a.addr, "SET", "k", "a"); got != "+OK\r\n" {
		t.Fatalf("SET on a = %q", got)
	}
	// Half a second apart, so that each is the last one heard half the
	// time if replicas listen to both.
	time.Sleep(500 * time.Millisecond)
	b := startMaster(t, ns.URL(), "replaced", nil)
	if got := mustQuery(t, b.addr, "SET", "k", "b"); got != "+OK\r\n" {
		t.Fatalf("SET on b = %q", got)
	}
	r := startReplica(t, ns.URL(), "replaced", true)
	waitCaughtUp(t, b, r, 10*time.Second)
	_, port, _ := net.SplitHostPort(b.addr)
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if p := infoField(t, r.addr, "replication", "master_port"); p != port {
			return fmt.Errorf("master_port:%s, want b's %s", p, port)
		}
		return nil
	})
	for end := time.Now().Add(2500 * time.Millisecond); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if p := infoField(t, r.addr, "replication", "master_port"); p != port {
			t.Fatalf("master_port:%s: the replaced master is taken for the master (b is %s)", p, port)
		}
	}
}
