package compat

import (
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/redistest"
)

// TestObufRandomCounts: HRANDFIELD, SRANDMEMBER and ZRANDMEMBER with a
// count of -999,999,999 (repeats allowed: a reply of about 14 GB) under a
// normal hard limit close the client on both servers, at once, and the
// server goes on (Redis's obuf-limits test): ferry built the whole reply
// before the limit was checked, and was killed for memory.
func TestObufRandomCounts(t *testing.T) {
	addrs, ctl := obufServers(t)
	for i, c := range ctl {
		if r := c.Do("CONFIG", "SET", "client-output-buffer-limit", "normal 100000 0 0"); r != "+OK\r\n" {
			t.Fatalf("%s: %q", serverNames[i], r)
		}
		c.Do("HSET", "h", "f1", "v1", "f2", "v2")
		c.Do("SADD", "s", "a", "b")
		c.Do("ZADD", "z", "1", "a", "2", "b")
	}
	for _, cmd := range [][]string{
		{"HRANDFIELD", "h", "-999999999", "WITHVALUES"},
		{"SRANDMEMBER", "s", "-999999999"},
		{"ZRANDMEMBER", "z", "-999999999", "WITHSCORES"},
	} {
		for i, addr := range addrs {
			name := serverNames[i]
			nc := slowClient(t, addr, "rand", "")
			start := time.Now()
			nc.Write(redistest.Encode(cmd...))
			data, closed := readAll(nc, 10*time.Second)
			if len(data) != 0 || !closed {
				t.Errorf("%s: %s: got %d bytes, closed %v", name, cmd[0], len(data), closed)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("%s: %s: closed after %s", name, cmd[0], d)
			}
			if r := ctl[i].Do("PING"); r != "+PONG\r\n" {
				t.Fatalf("%s: after %s: %q", name, cmd[0], r)
			}
		}
	}
}
