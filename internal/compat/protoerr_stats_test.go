package compat

import (
	"bytes"
	"net"
	"regexp"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// protoGarbage are requests each server answers with a protocol error and
// closes the connection after.
var protoGarbage = []string{
	"*1\r\n$x\r\n",             // invalid bulk length
	"*a\r\n",                   // invalid multibulk length
	"SET \"a b\r\n",            // unbalanced quotes
	"*2\r\n$3\r\nGET\r\nx\r\n", // expected '$', got 'x'
}

// sendGarbage sends one request that does not parse on a new connection
// and returns the reply, once the server closed the connection.
func sendGarbage(t *testing.T, addr, req string) string {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	out.ReadFrom(nc)
	return out.String()
}

// errorCounts returns INFO errorstats and total_error_replies.
func errorCounts(c *redistest.Conn) string {
	return c.Do("INFO", "errorstats") + regexp.MustCompile(`total_error_replies:\d+`).FindString(c.Do("INFO", "stats"))
}

// TestProtocolErrorStats: a request that does not parse is counted as
// redis-server counts it, in total_error_replies and in errorstats
// (errorstat_ERR), both normally and while a script is busy (ferry
// counted only the total, and nothing while busy).
func TestProtocolErrorStats(t *testing.T) {
	p := newWirePair(t, command.Config{})
	for _, addr := range []string{p.redis, p.ferry} {
		c := redistest.Dial(t, addr)
		c.Do("CONFIG", "SET", "busy-reply-threshold", "100")
		c.Close()
	}
	run := func(addr string) (replies []string, counts string) {
		c := redistest.Dial(t, addr)
		defer c.Close()
		c.Do("CONFIG", "RESETSTAT")
		for _, g := range protoGarbage {
			replies = append(replies, sendGarbage(t, addr, g))
		}
		// A script busy for 600 ms; garbage at 300 ms.
		c.WriteRaw(redistest.Encode("EVAL", "local s = redis.call('TIME') while true do local n = redis.call('TIME') "+
			"if (n[1] - s[1]) * 1000000 + (n[2] - s[2]) > 600000 then break end end return 1", "0"))
		time.Sleep(300 * time.Millisecond)
		replies = append(replies, sendGarbage(t, addr, protoGarbage[0]))
		if got := c.Read(); got != ":1\r\n" {
			t.Errorf("%s: EVAL = %q", addr, got)
		}
		return replies, errorCounts(c)
	}
	wantReplies, wantCounts := run(p.redis)
	gotReplies, gotCounts := run(p.ferry)
	for i := range wantReplies {
		if gotReplies[i] != wantReplies[i] {
			t.Errorf("reply %d: ferry %q, redis %q", i, gotReplies[i], wantReplies[i])
		}
	}
	if gotCounts != wantCounts {
		t.Errorf("error counts:\n ferry: %q\n redis: %q", gotCounts, wantCounts)
	}
}
