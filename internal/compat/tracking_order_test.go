package compat

import (
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// TestTrackingBlocked: invalidations around a blocked command that another
// client's write serves. While it is served, the blocked client is the one
// running (Redis's current_client): what its own command changes reaches it
// after its reply, NOLOOP leaves those changes out, and BCAST's NOLOOP
// counts them as its own; the client whose write served it is told, after
// its own reply, about the keys the served command changed.
func TestTrackingBlocked(t *testing.T) {
	scenarioTest(t, 3, map[string]string{
		// Redis's "Unblocked BLMOVE gets notification after response".
		"resp3-blmove": `
			1: RPUSH list2 a
			0: CLIENT TRACKING ON
			0: LRANGE list2 0 -1
			0 noreply: BLMOVE list1 list2 LEFT LEFT 0
			sleep 50
			1: RPUSH list1 foo
			0 read:
			0 read:
			0 quiet:
			0: LRANGE list2 0 -1`,
		"resp3-brpoplpush": `
			1: RPUSH dst a
			0: CLIENT TRACKING ON
			0: LRANGE dst 0 -1
			0 noreply: BRPOPLPUSH src dst 0
			sleep 50
			1: RPUSH src x y
			0 read:
			0 read:
			0 quiet:`,
		"resp3-blmove-same-list": `
			0: CLIENT TRACKING ON
			0: LRANGE l 0 -1
			0 noreply: BLMOVE l l LEFT RIGHT 0
			sleep 50
			1: RPUSH l a b
			0 read:
			0 read:
			0 quiet:`,
		"resp3-blmove-noloop": `
			1: RPUSH list2 a
			0: CLIENT TRACKING ON NOLOOP
			0: LRANGE list2 0 -1
			0: LRANGE list1 0 -1
			0 noreply: BLMOVE list1 list2 LEFT LEFT 0
			sleep 50
			1: RPUSH list1 foo
			0 read:
			0 read:
			0 quiet:`,
		"resp3-blpop": `
			0: CLIENT TRACKING ON
			0: LRANGE l 0 -1
			0 noreply: BLPOP l 0
			sleep 50
			1: RPUSH l x
			0 read:
			0 read:
			0 quiet:`,
		"resp3-blmpop": `
			0: CLIENT TRACKING ON
			0: LRANGE l 0 -1
			0 noreply: BLMPOP 0 2 k l LEFT COUNT 2
			sleep 50
			1: RPUSH l x y z
			0 read:
			0 read:
			0 quiet:`,
		"resp3-bzpopmin": `
			0: CLIENT TRACKING ON
			0: ZRANGE z 0 -1
			0 noreply: BZPOPMIN z 0
			sleep 50
			1: ZADD z 1 a 2 b
			0 read:
			0 read:
			0 quiet:
			0: ZRANGE z 0 -1
			0: ZPOPMIN z
			0 read:
			0: ZRANGE z 0 -1
			0 noreply: BZMPOP 0 1 z MAX
			sleep 50
			1: ZADD z 3 c 4 d
			0 read:
			0 read:
			0 quiet:`,
		// The writer reads, in its transaction, the key that wakes the
		// blocked client: a list's pop is no change Redis signals, a
		// sorted set's is, and so is BLMOVE's push onto the list it pops.
		"resp3-pusher-rereads": `
			1: CLIENT TRACKING ON
			0 noreply: BLPOP l 0
			sleep 50
			1: MULTI
			1: RPUSH l x y
			1: LRANGE l 0 -1
			1: EXEC
			0 read:
			1 quiet:
			2: RPUSH l z
			1 read:
			1 quiet:
			0 noreply: BZPOPMIN z 0
			sleep 50
			1: MULTI
			1: ZADD z 1 a 2 b
			1: ZRANGE z 0 -1
			1: EXEC
			1 read:
			1 quiet:
			0 read:
			0 noreply: BLMOVE m m LEFT RIGHT 0
			sleep 50
			1: MULTI
			1: RPUSH m a b
			1: LRANGE m 0 -1
			1: EXEC
			1 read:
			1 quiet:
			0 read:
			0 noreply: BLMOVE m2 other LEFT RIGHT 0
			sleep 50
			1: MULTI
			1: RPUSH m2 a b
			1: LRANGE m2 0 -1
			1: EXEC
			1 quiet:
			0 read:`,
		"resp3-xreadgroup": `
			0: XGROUP CREATE s g $ MKSTREAM
			0: CLIENT TRACKING ON
			0: XRANGE s - +
			0 noreply: XREADGROUP GROUP g c BLOCK 0 STREAMS s >
			sleep 50
			1: XADD s 1-1 f v
			0 read:
			0 read:
			0 quiet:
			0: XRANGE s - +
			0: XPENDING s g
			0 noreply: XREAD BLOCK 0 STREAMS s $
			sleep 50
			1: XADD s 2-1 f v
			0 read:
			0 read:
			0 quiet:`,
		// The writer tracks the key the served command changes: it is
		// told after its own reply, NOLOOP or not (the change is not its
		// own).
		"resp3-pusher-tracks-destination": `
			1: CLIENT TRACKING ON NOLOOP
			1: LRANGE list2 0 -1
			0 noreply: BLMOVE list1 list2 LEFT LEFT 0
			sleep 50
			1: RPUSH list1 foo
			1 read:
			1 quiet:
			0 read:
			1: LRANGE list2 0 -1
			2: CLIENT TRACKING ON
			2: LRANGE list2 0 -1
			0 noreply: BLMOVE list1 list2 LEFT LEFT 0
			sleep 50
			1: MULTI
			1: RPUSH list1 bar
			1: LLEN list2
			1: EXEC
			1 read:
			1 quiet:
			2 read:
			2 quiet:
			0 read:`,
		// A chain: serving the first client fills the list the second
		// waits on; each gets its own invalidation after its reply.
		"resp3-chain": `
			0: CLIENT TRACKING ON
			0: LRANGE b 0 -1
			2: CLIENT TRACKING ON
			2: LRANGE c 0 -1
			2: LRANGE b 0 -1
			0 noreply: BLMOVE a b LEFT LEFT 0
			2 noreply: BLMOVE b c LEFT LEFT 0
			sleep 50
			1: RPUSH a x
			0 read:
			0 read:
			0 quiet:
			2 read:
			2 read:
			2 read:
			2 quiet:`,
		// BCAST with NOLOOP: the keys the served command changed last are
		// its own.
		"resp3-bcast-noloop": `
			0: CLIENT TRACKING ON BCAST NOLOOP
			1: CLIENT TRACKING ON BCAST NOLOOP
			0 noreply: BLMOVE list1 list2 LEFT LEFT 0
			sleep 50
			1: RPUSH list1 foo
			1 read:
			1 quiet:
			0 read:
			0 quiet:
			0 noreply: BLPOP l 0
			sleep 50
			1: RPUSH l x
			0 read:
			0 read:
			0 quiet:
			1 quiet:`,
	})
}

// TestTrackingEvictionNoloop: keys leaving the tracking table for
// tracking-table-max-keys are not changes of the client that lowered the
// limit, so NOLOOP does not hide them (Redis's "Tracking gets notification
// on tracking table key eviction"). Redis evicts from a random walk of the
// table, so the key named in the message is one of the two.
func TestTrackingEvictionNoloop(t *testing.T) {
	p := newWirePair(t, command.Config{})
	type side struct {
		red, r   *redistest.Conn
		targetID string
	}
	var sides []*side
	for _, addr := range []string{p.ferry, p.redis} {
		s := &side{red: redistest.Dial(t, addr), r: redistest.Dial(t, addr)}
		s.r.Do("FLUSHALL")
		s.targetID = strings.TrimSpace(strings.TrimPrefix(s.red.Do("CLIENT", "ID"), ":"))
		sides = append(sides, s)
	}
	steps := []struct {
		name string
		run  func(s *side) string
	}{
		{"subscribe", func(s *side) string { return s.red.Do("SUBSCRIBE", "__redis__:invalidate") }},
		{"redirect", func(s *side) string {
			return s.r.Do("CLIENT", "TRACKING", "ON", "REDIRECT", s.targetID, "NOLOOP")
		}},
		{"mset", func(s *side) string { return s.r.Do("MSET", "key1", "1", "key2", "2") }},
		{"mget", func(s *side) string { return s.r.Do("MGET", "key1", "key2") }},
		{"limit", func(s *side) string { return s.r.Do("CONFIG", "SET", "tracking-table-max-keys", "1") }},
		{"eviction message", func(s *side) string { return evictionFrom(s.red) }},
		{"only one", func(s *side) string { return nothingFrom(s.red) }},
		{"own write still hidden", func(s *side) string { return s.r.Do("MSET", "key1", "3", "key2", "4") }},
		{"nothing for it", func(s *side) string { return nothingFrom(s.red) }},
		// RESP3 without redirection: the tracking client itself gets the
		// push, after the reply to its CONFIG SET.
		{"resp3", func(s *side) string {
			return s.r.Do("CONFIG", "SET", "tracking-table-max-keys", "0") + s.r.Do("HELLO", "3")[:1]
		}},
		{"tracking on", func(s *side) string {
			s.r.Do("CLIENT", "TRACKING", "OFF")
			return s.r.Do("CLIENT", "TRACKING", "ON", "NOLOOP")
		}},
		{"mget again", func(s *side) string { return s.r.Do("MGET", "key1", "key2") }},
		{"limit again", func(s *side) string { return s.r.Do("CONFIG", "SET", "tracking-table-max-keys", "1") }},
		{"eviction push", func(s *side) string { return evictionFrom(s.r) }},
		{"reset limit", func(s *side) string {
			return s.r.Do("CONFIG", "SET", "tracking-table-max-keys", "1000000")
		}},
	}
	for _, st := range steps {
		got, want := st.run(sides[0]), st.run(sides[1])
		if got != want {
			t.Fatalf("%s:\n ferry: %q\n redis: %q", st.name, got, want)
		}
	}
}

// nothingFrom reads what c receives within 300 ms: "nothing", or the
// message, for the step to compare.
// evictionFrom reads the invalidation message an eviction sends c, with
// the one key evicted, key1 or key2, written KEY.
func evictionFrom(c *redistest.Conn) string {
	msg, err := c.ReadTimeout(time.Second)
	if err != nil {
		return err.Error()
	}
	for _, k := range []string{"key1", "key2"} {
		msg = strings.Replace(msg, "*1\r\n"+bulkString(k), "*1\r\nKEY", 1)
	}
	return msg
}

func nothingFrom(c *redistest.Conn) string {
	msg, err := c.ReadTimeout(300 * time.Millisecond)
	if err == nil {
		return msg
	}
	return "nothing"
}
