package e2e

import (
	"context"
	"strings"
	"testing"
	"time"
)

// nodeRedisVersion is the node-redis (npm package redis) release
// TestNodeRedis installs: the newest 5.x.
const nodeRedisVersion = "5.12.4"

// TestNodeRedis runs e2e/testdata/noderedis.mjs: node-redis v5 against a
// ferry master and its replica, in RESP2 and RESP3, through typed replies
// of every data type, transactions (a WATCH conflict on a pooled client),
// scan iterators, scripts (EVALSHA falling back to EVAL), functions,
// pub/sub (sharded too, and on the replica), blocking commands,
// client-side caching on master and replica, error replies and the
// replica's READONLY refusal. Then master and replica must hold the same
// data. It needs node, npm and the npm registry: in CI (CI set) their
// absence fails the test; elsewhere it skips.
func TestNodeRedis(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	node, dir := npmProject(t, ctx, "noderedis.mjs", "redis@"+nodeRedisVersion)

	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "noderedis", nil)
	r := startReplica(t, ns.URL(), "noderedis", true)
	runNode(t, ctx, node, dir, "noderedis.mjs", "MASTER_PORT="+portOf(t, m.addr), "REPLICA_PORT="+portOf(t, r.addr))

	// Everything the script wrote reached the replica: same data
	// (waitCaughtUp compares the digests).
	waitCaughtUp(t, m, r, 10*time.Second)
	// The script works in databases 2 (RESP2) and 3 (RESP3).
	if ks := mustQuery(t, r.addr, "INFO", "keyspace"); !strings.Contains(ks, "\r\ndb2:keys=") || !strings.Contains(ks, "\r\ndb3:keys=") {
		t.Fatalf("the replica lacks the script's databases after the node-redis run: %q", ks)
	}
}
