package compat

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// Blocking stream reads with several connections: XREAD and XREADGROUP
// wait on streams and are woken by XADD (in the order they blocked, each
// from the key that became ready), served up to COUNT, left waiting when
// what arrives is not past their ID, and sent NOGROUP when their group is
// destroyed. IDs are explicit so that replies compare byte for byte.
func TestStreamBlocking(t *testing.T) {
	scenarioTest(t, 3, map[string]string{
		"xread-wakes": `
			0: XADD s 1-0 a 1
			1 noreply: XREAD BLOCK 0 STREAMS s $
			sleep 50
			2 noreply: XREAD BLOCK 0 COUNT 1 STREAMS s 0-5
			sleep 50
			0: XADD s 2-0 b 2
			1 read:
			2 read:
			0: XADD s 3-0 c 3
			1 quiet:`,
		"xread-several-keys": `
			1 noreply: XREAD BLOCK 0 STREAMS a b c $ $ $
			sleep 50
			0: SET other x
			0: LPUSH b x
			1 quiet:
			0: XADD c 5-0 f v
			1 read:`,
		"xread-not-past-id": `
			0: XADD s 10-0 a 1
			0: XDEL s 10-0
			1 noreply: XREAD BLOCK 0 STREAMS s 20-0
			sleep 50
			0: XADD s 15-0 a 1
			1 quiet:
			0: XADD s 25-0 a 2
			1 read:`,
		"xread-timeout": `
			0: XADD s 1-0 a 1
			1: XREAD BLOCK 50 STREAMS s $
			1: XREAD BLOCK 50 STREAMS nokey $`,
		"xread-in-multi": `
			1: MULTI
			1: XREAD BLOCK 0 STREAMS s $
			1: EXEC`,
		"xread-default-count": `
			0: XADD s 1-0 a 1
			1 noreply: XREAD BLOCK 0 STREAMS s 0-1
			sleep 50
			0: XADD s 2-0 a 2
			1 read:`,
		"xreadgroup-wakes": `
			0: XGROUP CREATE s g $ MKSTREAM
			1 noreply: XREADGROUP GROUP g alice BLOCK 0 STREAMS s >
			sleep 50
			2 noreply: XREADGROUP GROUP g bob BLOCK 0 COUNT 1 STREAMS s >
			sleep 50
			0: XADD s 1-0 a 1
			1 read:
			2 quiet:
			0: XADD s 2-0 b 2
			2 read:
			0: XPENDING s g
			0: XINFO GROUPS s`,
		"xreadgroup-noack": `
			0: XGROUP CREATE s g $ MKSTREAM
			1 noreply: XREADGROUP GROUP g alice NOACK BLOCK 0 STREAMS s >
			sleep 50
			0: XADD s 1-0 a 1
			1 read:
			0: XPENDING s g
			0: XINFO GROUPS s`,
		"xreadgroup-group-destroyed": `
			0: XGROUP CREATE s g $ MKSTREAM
			1 noreply: XREADGROUP GROUP g alice BLOCK 0 STREAMS s >
			sleep 50
			0: XGROUP DESTROY s g
			1 read:
			0: XADD s 1-0 a 1
			1 quiet:`,
		"xreadgroup-key-deleted": `
			0: XGROUP CREATE s g $ MKSTREAM
			1 noreply: XREADGROUP GROUP g alice BLOCK 0 STREAMS s >
			2 noreply: XREAD BLOCK 0 STREAMS s $
			sleep 50
			0: DEL s
			1 read:
			2 quiet:
			0: XGROUP CREATE s g $ MKSTREAM
			1 noreply: XREADGROUP GROUP g alice BLOCK 0 STREAMS s >
			sleep 50
			0: SET s v
			1 read:
			0: DEL s
			0: XADD s 1-0 a 1
			2 read:
			0: XGROUP CREATE s g $
			1 noreply: XREADGROUP GROUP g alice BLOCK 0 STREAMS s >
			sleep 50
			0: MULTI
			0: DEL s
			0: XADD s 2-0 a 1
			0: EXEC
			1 read:`,
		"xreadgroup-flushed": `
			0: XGROUP CREATE s g $ MKSTREAM
			1 noreply: XREADGROUP GROUP g alice BLOCK 0 STREAMS s >
			2 noreply: XREAD BLOCK 0 STREAMS s $
			sleep 50
			0: FLUSHALL
			1 read:
			2 quiet:
			0: XGROUP CREATE s g $ MKSTREAM
			1 noreply: XREADGROUP GROUP g alice BLOCK 0 STREAMS s >
			sleep 50
			0: SELECT 1
			0: FLUSHDB
			1 quiet:
			0: SELECT 0
			0: FLUSHDB
			1 read:
			0: XADD s 1-0 a 1
			2 read:`,
		"xreadgroup-swapped": `
			0: SELECT 9
			0: XGROUP CREATE s g $ MKSTREAM
			1: SELECT 9
			1 noreply: XREADGROUP GROUP g alice BLOCK 0 STREAMS s >
			sleep 50
			0: SWAPDB 4 9
			1 read:
			0: SELECT 4
			0: FLUSHDB
			0: LPUSH s e1
			0: SELECT 9
			0: XGROUP CREATE s g $ MKSTREAM
			1 noreply: XREADGROUP GROUP g alice BLOCK 0 STREAMS s >
			sleep 50
			0: SWAPDB 4 9
			1 read:
			0: XGROUP CREATE s2 g $ MKSTREAM
			1 noreply: XREADGROUP GROUP g alice BLOCK 0 STREAMS s2 >
			sleep 50
			0: SWAPDB 0 1
			1 quiet:
			0: SWAPDB 2 3
			1 quiet:`,
		"xreadgroup-timeout": `
			0: XGROUP CREATE s g $ MKSTREAM
			1: XREADGROUP GROUP g alice BLOCK 50 STREAMS s >
			0 type: XINFO CONSUMERS s g`,
	})
}

// TestStreamTimes: the times in stream replies (idle, delivery, seen) are
// the server's clock: ferry's and redis-server's agree within the time the
// test takes.
func TestStreamTimes(t *testing.T) {
	p := newWirePair(t, command.Config{})
	for _, addr := range []string{p.ferry, p.redis} {
		c := redistest.Dial(t, addr)
		c.Do("FLUSHALL")
		start := time.Now().UnixMilli()
		for _, cmd := range [][]string{
			{"XADD", "s", "1-0", "a", "1"},
			{"XADD", "s", "2-0", "a", "2"},
			{"XGROUP", "CREATE", "s", "g", "0"},
			{"XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">"},
		} {
			if r := c.Do(cmd...); strings.HasPrefix(r, "-") {
				t.Fatalf("%s: %q: %s", addr, cmd, r)
			}
		}
		time.Sleep(60 * time.Millisecond)
		end := time.Now().UnixMilli()
		ints := func(r string) []int64 {
			var out []int64
			for _, line := range strings.Split(r, "\r\n") {
				if n, err := strconv.ParseInt(strings.TrimPrefix(line, ":"), 10, 64); err == nil && strings.HasPrefix(line, ":") {
					out = append(out, n)
				}
			}
			return out
		}
		// XPENDING: idle, count per entry.
		pend := ints(c.Do("XPENDING", "s", "g", "-", "+", "10"))
		if len(pend) != 4 || pend[1] != 1 || pend[3] != 1 || pend[0] < 60 || pend[0] > end-start+50 {
			t.Fatalf("%s: XPENDING idle and counts %v (elapsed %d ms)", addr, pend, end-start)
		}
		// XINFO CONSUMERS: pending 2, idle since the read.
		cons := ints(c.Do("XINFO", "CONSUMERS", "s", "g"))
		if len(cons) != 2 || cons[0] != 2 || cons[1] < 60 || cons[1] > end-start+50 {
			t.Fatalf("%s: XINFO CONSUMERS %v", addr, cons)
		}
		// XINFO STREAM FULL: delivery and seen times are unix ms.
		for _, n := range ints(c.Do("XINFO", "STREAM", "s", "FULL")) {
			if n > 1e12 && (n < start-5 || n > end+5) {
				t.Fatalf("%s: time %d outside [%d, %d]", addr, n, start, end)
			}
		}
		// XCLAIM IDLE sets the delivery time in the past.
		c.Do("XCLAIM", "s", "g", "bob", "0", "1-0", "IDLE", "100000", "JUSTID")
		pend = ints(c.Do("XPENDING", "s", "g", "-", "+", "1"))
		if len(pend) != 2 || pend[0] < 100000 || pend[0] > 100000+end-start+1000 {
			t.Fatalf("%s: XPENDING after XCLAIM IDLE: %v", addr, pend)
		}
	}
}
