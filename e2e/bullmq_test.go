package e2e

import (
	"context"
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
	runNode(t, ctx, node, dir, "bullmq.mjs", "MASTER_PORT="+portOf(t, m.addr))

	// Every script's effects reached the replica: same data
	// (waitCaughtUp compares the digests).
	waitCaughtUp(t, m, r, 10*time.Second)
	if n := mustQuery(t, r.addr, "DBSIZE"); n == ":0\r\n" {
		t.Fatalf("the replica holds no keys after the BullMQ run")
	}
}
