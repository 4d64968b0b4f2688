package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The bullmq and ioredis releases TestBullMQ installs.
const (
	bullmqVersion  = "6.7.6"
	ioredisVersion = "5.9.3"
)

// TestBullMQ runs e2e/testdata/bullmq.mjs: a real BullMQ queue, worker,
// queue events and a flow against a ferry master, through its Lua scripts
// (cmsgpack, cjson), streams and blocking commands; then the replica,
// which applied the scripts' effects from the log, must hold the same data.
// It needs node, npm and the npm registry: in CI (CI set) their absence
// fails the test; elsewhere it skips.
func TestBullMQ(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	node, dir := npmProject(t, ctx, "bullmq.mjs", "bullmq@"+bullmqVersion, "ioredis@"+ioredisVersion)

	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "bullmq", nil)
	r := startReplica(t, ns.URL(), "bullmq", true)
	_, port, err := net.SplitHostPort(m.addr)
	if err != nil {
		t.Fatal(err)
	}
	run := exec.CommandContext(ctx, node, "bullmq.mjs")
	run.Dir = dir
	run.Env = append(os.Environ(), "MASTER_PORT="+port)
	out, err := run.CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "ok") {
		t.Fatalf("node bullmq.mjs: %v\n%s", err, out)
	}

	// Every script's effects reached the replica: same data.
	waitCaughtUp(t, m, r, 10*time.Second)
	md, err := digest(m.addr)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := digest(r.addr)
	if err != nil {
		t.Fatal(err)
	}
	if md != rd {
		t.Fatalf("DEBUG DIGEST: master %s, replica %s", md, rd)
	}
	if n := mustQuery(t, r.addr, "DBSIZE"); n == ":0\r\n" {
		t.Fatalf("the replica holds no keys after the BullMQ run")
	}
}
