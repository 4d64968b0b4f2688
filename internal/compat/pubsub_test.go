package compat

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// Pub/Sub differential tests, three connections per server: 0 and 1
// subscribe, 2 publishes. Where Redis walks a hash table (UNSUBSCRIBE or
// SUNSUBSCRIBE without arguments, PUBSUB CHANNELS, one client's matches of
// several patterns) the replies are compared as unordered sets, with the
// subscription counts still compared in order.
func TestPubSub(t *testing.T) {
	scenarioTest(t, 3, map[string]string{
		"subscribe": `
			0 noreply: SUBSCRIBE a b
			0 read:
			0 read:
			2: PUBLISH a hello
			0 read:
			2: PUBLISH b ""
			0 read:
			2: PUBLISH c nobody
			2: PUBSUB NUMSUB a b c
			2 sort: PUBSUB CHANNELS
			2: PUBSUB CHANNELS a
			2 sort: PUBSUB CHANNELS [ab]
			0 quiet:
			0: SUBSCRIBE a
			0: UNSUBSCRIBE a
			0: UNSUBSCRIBE a
			0: UNSUBSCRIBE nope
			0: UNSUBSCRIBE
			0: UNSUBSCRIBE
			0: PUNSUBSCRIBE
			0: PING
			2: PUBLISH b after
			2: PUBSUB NUMSUB b
			2: PUBSUB CHANNELS
			0 quiet:`,
		"same-channel-twice": `
			0 noreply: SUBSCRIBE a a
			0 read:
			0 read:
			2: PUBLISH a once
			0 read:
			0 quiet:
			0 noreply: UNSUBSCRIBE a a
			0 read:
			0 read:`,
		"resp2-context": `
			0: SUBSCRIBE ch
			0: PING
			0: PING hi
			0: ping ""
			0: GET k
			0: SET k v
			0: MULTI
			0: EXEC
			0: DISCARD
			0: PUBLISH ch x
			0: PUBSUB NUMSUB ch
			0: HELLO 3
			0: CLIENT ID
			0: NOSUCH
			0: PING a b
			0: SUBSCRIBE
			0: PSUBSCRIBE p*
			0: SSUBSCRIBE s
			0: UNSUBSCRIBE ch
			0: PING
			0: SUNSUBSCRIBE
			0: PUNSUBSCRIBE
			0: PING
			0: GET k`,
		"resp3-no-context": `
			0: SUBSCRIBE ch
			0: PING
			0: PING hi
			0: GET k
			0: SET k v
			0: PUBSUB NUMSUB ch
			0: PUBLISH ch to-myself
			0 read:
			2: PUBLISH ch m1
			0: GET k
			0 read:
			0: MULTI
			0: PUBLISH ch in-multi
			0: EXEC
			0 read:
			0 type: HELLO 2
			0: GET k
			0: PING
			0: RESET
			2: PUBLISH ch gone`,
		"resp3-blocked-subscriber": `
			0: SUBSCRIBE ch
			0 noreply: BLPOP l 0
			sleep 50
			2: PUBLISH ch while-blocked
			0 read:
			2: RPUSH l x
			0 read:
			2: PUBLISH ch after
			0 read:
			0 quiet:`,
		"patterns": `
			0 noreply: PSUBSCRIBE n* x?y
			0 read:
			0 read:
			1: SUBSCRIBE news
			1: PSUBSCRIBE n*
			2: PUBLISH news m1
			0 read:
			1 read:
			1 read:
			2: PUBLISH xzy m2
			0 read:
			2: PUBLISH xy m3
			2: PUBSUB NUMPAT
			2: PUBSUB NUMSUB news n*
			0: PUNSUBSCRIBE nomatch
			0 noreply: PUNSUBSCRIBE
			0 read:
			0 read:
			0: PUNSUBSCRIBE
			2: PUBSUB NUMPAT
			1 noreply: PSUBSCRIBE a b c d e
			1 read:
			1 read:
			1 read:
			1 read:
			1 read:
			1: PUNSUBSCRIBE c
			1 noreply: PUNSUBSCRIBE
			1 read:
			1 read:
			1 read:
			1 read:
			1 read:
			0 quiet:
			1 quiet:`,
		"pattern-glob": `
			0 noreply: PSUBSCRIBE h[ae]llo h\?llo *
			0 read:
			0 read:
			0 read:
			2: PUBLISH hallo 1
			0 unordered 2:
			2: PUBLISH h?llo 2
			0 unordered 2:
			2: PUBLISH hxllo 3
			0 read:
			2: PUBLISH "" 4
			0 quiet:`,
		"several-patterns-one-client": `
			0 noreply: PSUBSCRIBE a* *b ab
			0 read:
			0 read:
			0 read:
			0: SUBSCRIBE ab
			2: PUBLISH ab m
			0 read:
			0 unordered 3:
			0 quiet:`,
		"unsubscribe-all": `
			0 noreply: SUBSCRIBE c1 c2 c3 c4 c5 c6
			0 unordered 6:
			0: PSUBSCRIBE p
			0 noreply: UNSUBSCRIBE
			0 unordered 6:
			0: PUNSUBSCRIBE
			0: UNSUBSCRIBE
			2: PUBSUB CHANNELS`,
		"order": `
			0: SUBSCRIBE o
			1: PSUBSCRIBE o*
			2: PUBLISH o 1
			2: PUBLISH o 2
			2: PUBLISH o 3
			2: PUBLISH other 4
			2: PUBLISH o 5
			0 read:
			0 read:
			0 read:
			0 read:
			1 read:
			1 read:
			1 read:
			1 read:
			1 read:
			0 quiet:
			1 quiet:`,
		"disconnect": `
			0: SUBSCRIBE gone
			1: PSUBSCRIBE g*
			0 close:
			1 close:
			sleep 100
			2: PUBLISH gone x
			2: PUBSUB NUMSUB gone
			2: PUBSUB NUMPAT
			2: PUBSUB CHANNELS`,
		"multi": `
			0: MULTI
			0: SUBSCRIBE m
			0: EXEC
			0: PING
			2: PUBLISH m x
			0 read:
			0: UNSUBSCRIBE
			0: MULTI
			0: SUBSCRIBE m1 m2
			0: PSUBSCRIBE p1
			0: SSUBSCRIBE s1
			0: EXEC
			0 read:
			0: PING
			0: RESET
			2: PUBSUB NUMSUB m1 m2
			2: PUBSUB NUMPAT`,
		"sharded": `
			0 noreply: SSUBSCRIBE s1 s2
			0 read:
			0 read:
			1: SUBSCRIBE s1
			1: SSUBSCRIBE s1
			2: SPUBLISH s1 hello
			0 read:
			1 read:
			2: PUBLISH s1 plain
			1 read:
			2: SPUBLISH s3 none
			2: PUBSUB SHARDNUMSUB s1 s2 s3
			2: PUBSUB NUMSUB s1
			2 sort: PUBSUB SHARDCHANNELS
			2: PUBSUB SHARDCHANNELS s2
			2: PUBSUB SHARDCHANNELS x*
			0: SUNSUBSCRIBE s1
			0: SUNSUBSCRIBE
			0: SUNSUBSCRIBE
			1: UNSUBSCRIBE
			1: SUNSUBSCRIBE s1
			1: PING
			0: PSUBSCRIBE s*
			2: SPUBLISH s1 x
			2: PUBLISH s1 y
			0 read:
			0 quiet:
			1 quiet:`,
		"pubsub-command": `
			2: PUBSUB
			2: PUBSUB FOO
			2: PUBSUB CHANNELS a b
			2: PUBSUB SHARDCHANNELS a b
			2: PUBSUB NUMPAT x
			2: PUBSUB NUMSUB
			2: PUBSUB SHARDNUMSUB
			2: PUBSUB HELP
			2: pubsub help
			2: PUBSUB HELP x
			2: PUBSUB channels
			2: SUBSCRIBE
			2: PSUBSCRIBE
			2: SSUBSCRIBE
			2: PUBLISH a
			2: PUBLISH a b c
			2: SPUBLISH a
			2: UNSUBSCRIBE
			2: PUNSUBSCRIBE
			2: SUNSUBSCRIBE
			2: PING`,
		"binary-channels": `
			0: SUBSCRIBE "\x00\xff\r\n"
			2: PUBLISH "\x00\xff\r\n" "\r\n"
			0 read:
			2: PUBSUB NUMSUB "\x00\xff\r\n"
			0: UNSUBSCRIBE "\x00\xff\r\n"`,
	})
}

// TestPubSubSlowSubscriber publishes while a subscriber reads nothing, then
// reads everything: every message arrives, in order, on both servers.
func TestPubSubSlowSubscriber(t *testing.T) {
	p := newWirePair(t, command.Config{})
	for _, addr := range []string{p.ferry, p.redis} {
		sub, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		sub.Write(cmd("SUBSCRIBE", "slow"))
		pub := redistest.Dial(t, addr)
		time.Sleep(50 * time.Millisecond)
		payload := strings.Repeat("p", 1000)
		var want bytes.Buffer
		want.WriteString("*3\r\n$9\r\nsubscribe\r\n$4\r\nslow\r\n:1\r\n")
		var batch bytes.Buffer
		for i := 0; i < 5000; i++ {
			batch.Write(cmd("PUBLISH", "slow", payload))
			want.Write(cat(b("*3\r\n$7\r\nmessage\r\n$4\r\nslow\r\n$1000\r\n"), b(payload), b("\r\n")))
		}
		pub.WriteRaw(batch.Bytes())
		for i := 0; i < 5000; i++ {
			if r := pub.Read(); r != ":1\r\n" {
				t.Fatalf("%s: PUBLISH %d: %q", addr, i, r)
			}
		}
		got := make([]byte, want.Len())
		sub.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := ioReadFull(sub, got); err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("%s: subscriber received different bytes", addr)
		}
	}
}

func ioReadFull(c net.Conn, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestPubSubWire checks subscribe traffic at the byte level, pipelined.
func TestPubSubWire(t *testing.T) {
	p := newWirePair(t, command.Config{})
	cases := []wireCase{
		// Subtests run in parallel: each uses channels of its own.
		one("pipeline-subscribe", "SUBSCRIBE a1\r\nPING\r\nGET x\r\nUNSUBSCRIBE\r\nGET x\r\n"),
		one("subscribe-quit", "SUBSCRIBE a2\r\nQUIT\r\nPING\r\n"),
		one("subscribe-error", "SUBSCRIBE a3\r\n*x\r\n"),
		one("subscribe-post", "SUBSCRIBE a4\r\nPOST /\r\n"),
		{"resp3-pipeline", [][]byte{b("HELLO 3\r\n"), b("SUBSCRIBE a5\r\nPUBLISH a5 x\r\nGET a5\r\nPING\r\nUNSUBSCRIBE a5\r\nRESET\r\nPING\r\n")}},
		{"resp3-subscribe-first", [][]byte{b("HELLO 3\r\nSUBSCRIBE a6\r\nPUBLISH a6 x\r\nPUBLISH a6 y\r\nQUIT\r\n")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p.sameHello(t, c.chunks...)
		})
	}
}
