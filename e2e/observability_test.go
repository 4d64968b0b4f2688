package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferrydb/ferry/master"
)

// gauge returns the value of the metric name in reg (a gauge or counter
// without variable labels), or an error if it is missing.
func gauge(reg *prometheus.Registry, name string) (float64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) == 0 {
			continue
		}
		m := mf.GetMetric()[0]
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), nil
		case m.Counter != nil:
			return m.GetCounter().GetValue(), nil
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

// TestObservability checks WAIT, INFO replication, ROLE and the
// Prometheus metrics of a master with one replica.
func TestObservability(t *testing.T) {
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "obs", nil)
	r := startReplica(t, ns.URL(), "obs", true)
	for i := 0; i < 10; i++ {
		mustQuery(t, m.addr, "SET", fmt.Sprint("k", i), "v")
	}
	if got := mustQuery(t, m.addr, "WAIT", "1", "5000"); got != ":1\r\n" {
		t.Fatalf("WAIT 1 5000 = %q, want :1", got)
	}
	if got := mustQuery(t, m.addr, "WAIT", "2", "100"); got != ":1\r\n" {
		t.Fatalf("WAIT 2 100 = %q, want :1 after the timeout", got)
	}
	info := mustQuery(t, m.addr, "INFO", "replication")
	for _, want := range []string{"role:master", "connected_slaves:1", "slave0:ip=127.0.0.1,", ",state=online,offset=10,", "master_repl_offset:10"} {
		if !strings.Contains(info, want) {
			t.Errorf("master INFO replication lacks %q:\n%s", want, info)
		}
	}
	rinfo := mustQuery(t, r.addr, "INFO", "replication")
	for _, want := range []string{"role:slave", "master_link_status:up", "slave_repl_offset:10"} {
		if !strings.Contains(rinfo, want) {
			t.Errorf("replica INFO replication lacks %q:\n%s", want, rinfo)
		}
	}
	if got := mustQuery(t, m.addr, "ROLE"); !strings.HasPrefix(got, "*3\r\n$6\r\nmaster\r\n:10\r\n*1\r\n*3\r\n") {
		t.Errorf("ROLE = %q", got)
	}
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		for name, want := range map[string]float64{"ferry_log_offset": 10, "ferry_log_entries_total": 10, "ferry_replicas": 1} {
			if v, err := gauge(m.Metrics(), name); err != nil || v != want {
				return fmt.Errorf("master %s = %v, %v; want %v", name, v, err, want)
			}
		}
		for name, want := range map[string]float64{"ferry_replica_offset": 10, "ferry_replica_lag_entries": 0, "ferry_replica_up": 1} {
			if v, err := gauge(r.Metrics(), name); err != nil || v != want {
				return fmt.Errorf("replica %s = %v, %v; want %v", name, v, err, want)
			}
		}
		return nil
	})
}

// TestWaitCoversTheClientsWrites: WAIT counts only replicas that applied
// the writes before it, also when they are not stored yet (a SET and a
// WAIT pipelined in one request) or, with async acks, not even sent: a
// replica WAIT counted serves the write at once.
func TestWaitCoversTheClientsWrites(t *testing.T) {
	ns := startNATS(t)
	for _, ack := range []master.AckMode{master.AckDurable, master.AckAsync} {
		t.Run(string(ack), func(t *testing.T) {
			ds := "wait-" + string(ack)
			m := startMaster(t, ns.URL(), ds, func(c *master.Config) { c.Ack = ack })
			r := startReplica(t, ns.URL(), ds, true)
			c, err := dial(m.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.close()
			mustQuery(t, m.addr, "SET", "warm", "up")
			if got := mustQuery(t, m.addr, "WAIT", "1", "5000"); got != ":1\r\n" {
				t.Fatalf("WAIT 1 5000 = %q, want :1", got)
			}
			for i := range 50 {
				v := strconv.Itoa(i)
				replies, err := c.pipeline([][]string{{"SET", "k", v}, {"WAIT", "1", "5000"}})
				if err != nil {
					t.Fatal(err)
				}
				if replies[1] != ":1\r\n" {
					t.Fatalf("round %d: WAIT 1 5000 = %q, want :1", i, replies[1])
				}
				if got := mustQuery(t, r.addr, "GET", "k"); got != bulk(v) {
					t.Fatalf("round %d: GET k on the replica WAIT counted = %q, want %q", i, got, v)
				}
			}
		})
	}
}
