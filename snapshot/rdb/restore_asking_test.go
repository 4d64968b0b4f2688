package rdb

import (
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// TestRestoreAskingLikeRedis: outside a cluster RESTORE-ASKING is RESTORE
// (Redis's asking flag only matters to cluster redirections): the same
// replies as redis-server's, good payloads and bad, in RESP2 and RESP3.
func TestRestoreAskingLikeRedis(t *testing.T) {
	redistest.Need(t, "redis-server")
	rc := redistest.Dial(t, redistest.Redis(t))
	_, fc := ferryConn(t, command.Config{})
	good := payloadOf([]byte("\x00\x05hello"), 10)
	cmds := [][]string{
		{"RESTORE-ASKING"}, {"RESTORE-ASKING", "k", "0"},
		{"RESTORE-ASKING", "busy", "0", good}, {"RESTORE-ASKING", "k", "0", good, "bogus"},
		{"RESTORE-ASKING", "k", "-1", good}, {"RESTORE-ASKING", "k", "x", good},
		{"RESTORE-ASKING", "k", "0", "short"}, {"RESTORE-ASKING", "k", "0", payloadOf([]byte("\x00\x05hello"), 11)},
		{"RESTORE-ASKING", "k", "0", good, "FREQ", "256"},
		{"RESTORE-ASKING", "k", "0", good}, {"GET", "k"}, {"PTTL", "k"},
		{"RESTORE-ASKING", "k", "0", good},
		{"RESTORE-ASKING", "k", "0", payloadOf([]byte("\x00\xc0\x05"), 10), "REPLACE"}, {"GET", "k"},
		{"RESTORE-ASKING", "t", "100000", good}, {"TTL", "t"},
		{"RESTORE-ASKING", "busy", "1", good, "ABSTTL", "REPLACE"}, {"EXISTS", "busy"},
		{"COMMAND", "INFO", "restore-asking"},
		{"COMMAND", "GETKEYSANDFLAGS", "RESTORE-ASKING", "k", "0", good},
	}
	for _, proto := range []string{"2", "3"} {
		for _, c := range []*redistest.Conn{rc, fc} {
			c.Do("FLUSHALL")
			c.Do("HELLO", proto)
			c.Do("SET", "busy", "v")
		}
		for _, cmd := range cmds {
			if a, b := rc.Do(cmd...), fc.Do(cmd...); a != b {
				t.Errorf("RESP%s %q:\nredis-server %q\nferry        %q", proto, cmd, a, b)
			}
		}
	}
}

// TestRestoreAskingReplicates: RESTORE-ASKING's effects bring a replica to
// the master's digest, a relative TTL rewritten to an absolute one as
// RESTORE's is.
func TestRestoreAskingReplicates(t *testing.T) {
	r := newReplicated(t)
	good := payloadOf([]byte("\x00\x05hello"), 10)
	if reply, _ := r.do("RESTORE-ASKING", "a", "0", good); reply != "+OK\r\n" {
		t.Fatalf("RESTORE-ASKING: %q", reply)
	}
	reply, units := r.do("RESTORE-ASKING", "b", "5000", good)
	if reply != "+OK\r\n" || len(units) != 1 || !strings.Contains(units[0], "ABSTTL") {
		t.Fatalf("RESTORE-ASKING with a TTL: %q, units %q", reply, units)
	}
	if reply, _ := r.do("RESTORE-ASKING", "a", "0", good); !strings.HasPrefix(reply, "-BUSYKEY") {
		t.Fatalf("RESTORE-ASKING on an existing key: %q", reply)
	}
	// A replica refuses it as a write.
	if got := run(r.replica, r.rc, "RESTORE-ASKING", "c", "0", good); !strings.HasPrefix(got, "-READONLY") {
		t.Fatalf("RESTORE-ASKING on a replica: %q", got)
	}
}
