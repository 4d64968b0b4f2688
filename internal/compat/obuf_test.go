package compat

import (
	"bufio"
	"errors"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// client-output-buffer-limit: CONFIG SET and GET against redis-server,
// reply for reply, and the limits enforced on both servers alike.

func TestObufConfig(t *testing.T) {
	_, ferryAddr := redistest.Ferry(t, command.Config{})
	redisAddr := redistest.Redis(t)
	cmds := [][]string{
		{"CONFIG", "GET", "client-output-buffer-limit"},
		{"CONFIG", "SET", "client-output-buffer-limit", "wrong number"},
		{"CONFIG", "SET", "client-output-buffer-limit", "invalid_class 10mb 10mb 60"},
		{"CONFIG", "SET", "client-output-buffer-limit", "master 10mb 10mb 60"},
		{"CONFIG", "SET", "client-output-buffer-limit", "normal 10mbs 10mb 60"},
		{"CONFIG", "SET", "client-output-buffer-limit", "replica 10mb 10mbs 60"},
		{"CONFIG", "SET", "client-output-buffer-limit", "pubsub 10mb 10mb 60s"},
		{"CONFIG", "SET", "client-output-buffer-limit", "pubsub 10mb 10mb -1"},
		{"CONFIG", "SET", "client-output-buffer-limit", "pubsub -1 10mb 1"},
		{"CONFIG", "SET", "client-output-buffer-limit", "pubsub 10mb 10mb 2147483648"},
		{"CONFIG", "SET", "client-output-buffer-limit", "normal  0 0 0"},
		{"CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0 "},
		{"CONFIG", "SET", "client-output-buffer-limit", "normal\t0 0 0"},
		{"CONFIG", "SET", "client-output-buffer-limit", "normal 1 2 3 pubsub 1 2"},
		{"CONFIG", "SET", "client-output-buffer-limit", "normal 1 2 3 bogus 1 2 3"},
		{"CONFIG", "GET", "client-output-buffer-limit"},
		{"CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 2mb 60 replica 3mb 4mb 70 pubsub 5mb 6mb 80"},
		{"CONFIG", "GET", "client-output-buffer-limit"},
		{"CONFIG", "SET", "client-output-buffer-limit", "NORMAL 1k 2KB 4294967297 Slave 3g 4GB +5 PubSub 7B 8 \t9"},
		{"CONFIG", "GET", "client-output-buffer-limit"},
		{"CONFIG", "SET", "client-output-buffer-limit", "NORMAL 1k 2KB 4294967297 Slave 3g 4GB +5 PubSub 7B 8 9"},
		{"CONFIG", "GET", "client-output-buffer-limit"},
		{"CONFIG", "SET", "client-output-buffer-limit", "replica 3m 4M 1 pubsub 1 1 \\9"},
		{"CONFIG", "SET", "client-output-buffer-limit", "replica 3m 4M 1"},
		{"CONFIG", "GET", "client-output-buffer-limit"},
		{"CONFIG", "SET", "client-output-buffer-limit", "normal\x00zz 1mb\x00x 2\x00 3\x00s pubsub 1 2 \x00"},
		{"CONFIG", "GET", "client-output-buffer-limit"},
		{"CONFIG", "SET", "client-output-buffer-limit", "master\x00 1 2 3"},
		{"CONFIG", "SET", "client-output-buffer-limit", "\x00normal 1 2 3"},
		{"CONFIG", "SET", "client-output-buffer-limit", "pubsub  8 9"},
		{"CONFIG", "SET", "client-output-buffer-limit", "pubsub 0 99999999999999999999999 0"},
		{"CONFIG", "GET", "client-output-buffer-limit"},
		{"CONFIG", "SET", "client-output-buffer-limit", ""},
		{"CONFIG", "SET", "client-output-buffer-limit", "pubsub  0 0"},
		{"CONFIG", "GET", "client-output-buffer-limit"},
		{"CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0", "client-output-buffer-limit", "pubsub 1 1 1"},
		{"CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0", "hz", "x"},
		{"CONFIG", "SET", "client-output-buffer-limit", "normal 5 5 5", "maxmemory-policy", "noeviction"},
		{"CONFIG", "GET", "client-output-buffer-*"},
		{"CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60"},
		{"CONFIG", "GET", "client-output-buffer-limit"},
	}
	for _, proto := range []string{"2", "3"} {
		f, r := redistest.Dial(t, ferryAddr), redistest.Dial(t, redisAddr)
		f.Do("HELLO", proto)
		r.Do("HELLO", proto)
		for _, c := range cmds {
			got, want := f.Do(c...), r.Do(c...)
			if got != want {
				t.Errorf("resp%s %q:\nferry %q\nredis %q", proto, c, got, want)
			}
		}
	}
}

// obufServers returns the two servers' addresses and a control connection
// to each.
func obufServers(t *testing.T) (addrs []string, ctl []*redistest.Conn) {
	_, ferryAddr := redistest.Ferry(t, command.Config{})
	redisAddr := redistest.Redis(t)
	addrs = []string{ferryAddr, redisAddr}
	for _, a := range addrs {
		ctl = append(ctl, redistest.Dial(t, a))
	}
	return addrs, ctl
}

var serverNames = []string{"ferry", "redis"}

var omemRe = regexp.MustCompile(` omem=([0-9]+) `)

// clientOmem returns the omem of the client named name in CLIENT LIST, or
// -1 when there is none.
func clientOmem(t *testing.T, ctl *redistest.Conn, name string) int {
	t.Helper()
	raw := ctl.Do("CLIENT", "LIST")
	for _, line := range strings.Split(raw, "\n") {
		if !strings.Contains(line, " name="+name+" ") {
			continue
		}
		m := omemRe.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("no omem in %q", line)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return -1
}

// slowClient connects with a small receive buffer, names itself and, when
// channel is set, subscribes to it; it reads nothing more until asked.
func slowClient(t *testing.T, addr, name, channel string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.(*net.TCPConn).SetReadBuffer(4096)
	br := bufio.NewReader(nc)
	nc.Write(redistest.Encode("CLIENT", "SETNAME", name))
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if r, err := redistest.ReadReply(br); err != nil || string(r) != "+OK\r\n" {
		t.Fatalf("SETNAME: %q %v", r, err)
	}
	if channel != "" {
		nc.Write(redistest.Encode("SUBSCRIBE", channel))
		if r, err := redistest.ReadReply(br); err != nil || !strings.Contains(string(r), channel) {
			t.Fatalf("SUBSCRIBE: %q %v", r, err)
		}
	}
	if br.Buffered() > 0 {
		t.Fatal("unexpected bytes after the confirmations")
	}
	return nc
}

// readAll reads what nc gets until it closes or is quiet for quiet.
func readAll(nc net.Conn, quiet time.Duration) (data []byte, closed bool) {
	buf := make([]byte, 64<<10)
	for {
		nc.SetReadDeadline(time.Now().Add(quiet))
		n, err := nc.Read(buf)
		data = append(data, buf[:n]...)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return data, false
			}
			return data, true
		}
	}
}

// A normal client over its hard limit is closed before any of the replies
// gathered in one read go out: one large reply, and a pipeline whose
// replies together pass the limit. One under it gets its replies.
func TestObufNormalHardLimit(t *testing.T) {
	addrs, ctl := obufServers(t)
	item := strings.Repeat("x", 1000)
	for i, c := range ctl {
		if r := c.Do("CONFIG", "SET", "client-output-buffer-limit", "normal 100000 0 0"); r != "+OK\r\n" {
			t.Fatalf("%s: %q", serverNames[i], r)
		}
		for j := 0; j < 150; j++ {
			c.Do("RPUSH", "big", item)
		}
		c.Do("SET", "bigkey", strings.Repeat("y", 10000))
	}
	pipeline := ""
	for i := 0; i < 15; i++ {
		pipeline += "set " + strconv.Itoa(i) + " " + strconv.Itoa(i) + "\r\nget " + strconv.Itoa(i) + "\r\ndel " + strconv.Itoa(i) + "\r\nget bigkey\r\n"
	}
	for i, addr := range addrs {
		name := serverNames[i]
		// One reply over the limit.
		nc := slowClient(t, addr, "biglist", "")
		nc.Write(redistest.Encode("LRANGE", "big", "0", "-1"))
		data, closed := readAll(nc, 2*time.Second)
		if len(data) != 0 || !closed {
			t.Errorf("%s: LRANGE over the limit: got %d bytes, closed %v", name, len(data), closed)
		}
		if n := clientOmem(t, ctl[i], "biglist"); n != -1 {
			t.Errorf("%s: the client is still listed", name)
		}
		// A pipeline whose replies pass the limit together.
		nc = slowClient(t, addr, "pipeline", "")
		nc.Write([]byte(pipeline))
		data, closed = readAll(nc, 2*time.Second)
		if len(data) != 0 || !closed {
			t.Errorf("%s: pipeline over the limit: got %d bytes, closed %v", name, len(data), closed)
		}
		if r := ctl[i].Do("PING"); r != "+PONG\r\n" {
			t.Errorf("%s: %q", name, r)
		}
		// Under the limit: every reply, and the connection stays.
		nc = slowClient(t, addr, "small", "")
		nc.Write(redistest.Encode("LRANGE", "big", "0", "49"))
		data, closed = readAll(nc, 500*time.Millisecond)
		if want := 50*(len(item)+len("$1000\r\n\r\n")) + len("*50\r\n"); len(data) != want || closed {
			t.Errorf("%s: LRANGE under the limit: got %d bytes (want %d), closed %v", name, len(data), want, closed)
		}
		// A transaction runs whole even when its reply passes the limit.
		c := redistest.Dial(t, addr)
		c.Do("MULTI")
		c.Do("SET", "k2", "v2")
		c.Do("LRANGE", "big", "0", "-1")
		c.Do("SET", "k3", "v3")
		c.WriteRaw(redistest.Encode("EXEC"))
		if r, err := c.ReadTimeout(2 * time.Second); err == nil {
			t.Errorf("%s: EXEC over the limit answered %d bytes", name, len(r))
		}
		if r := ctl[i].Do("MGET", "k2", "k3"); r != "*2\r\n$2\r\nv2\r\n$2\r\nv3\r\n" {
			t.Errorf("%s: the transaction did not run whole: %q", name, r)
		}
	}
}

// A normal client that sends requests one at a time but stops reading is
// closed once the replies waiting for it pass the hard limit; what it got
// before is whole replies in order, then the close.
func TestObufNormalStopsReading(t *testing.T) {
	addrs, ctl := obufServers(t)
	value := strings.Repeat("v", 100000)
	reply := "$100000\r\n" + value + "\r\n"
	for i, addr := range addrs {
		name := serverNames[i]
		ctl[i].Do("SET", "bigkey", value)
		ctl[i].Do("CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 0 0")
		nc := slowClient(t, addr, "nonreader", "")
		sent := 0
		for ; ; sent++ {
			if sent == 2000 {
				t.Fatalf("%s: the client that does not read was never closed", name)
			}
			if sent%10 == 0 && clientOmem(t, ctl[i], "nonreader") < 0 {
				break
			}
			nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := nc.Write(redistest.Encode("GET", "bigkey")); err != nil {
				break // closed meanwhile
			}
			time.Sleep(time.Millisecond)
		}
		if clientOmem(t, ctl[i], "nonreader") >= 0 {
			t.Fatalf("%s: the client is still listed", name)
		}
		nc.(*net.TCPConn).SetReadBuffer(1 << 20)
		var data []byte
		closed := false
		for deadline := time.Now().Add(20 * time.Second); !closed && time.Now().Before(deadline); {
			var more []byte
			more, closed = readAll(nc, time.Second)
			data = append(data, more...)
		}
		t.Logf("%s: closed after %d requests, %d bytes received", name, sent, len(data))
		if !closed {
			t.Errorf("%s: the connection did not end", name)
		}
		if len(data) >= sent*len(reply) || !strings.HasPrefix(strings.Repeat(reply, sent), string(data)) {
			t.Errorf("%s: got %d bytes for %d replies of %d, not a strict prefix of them", name, len(data), sent, len(reply))
		}
	}
}

// A subscriber that does not read is closed once its output passes the
// Pub/Sub hard limit, and CLIENT LIST's omem shows the output growing to
// it (as Redis's unit/obuf-limits checks).
func TestObufPubsubHardLimit(t *testing.T) {
	addrs, ctl := obufServers(t)
	msg := strings.Repeat("m", 1000)
	for i, addr := range addrs {
		name := serverNames[i]
		ctl[i].Do("CONFIG", "SET", "client-output-buffer-limit", "pubsub 100000 0 0")
		slowClient(t, addr, "hardsub", "ch")
		last := 0
		for n := 0; ; n++ {
			if n == 100000 {
				t.Fatalf("%s: the subscriber was never closed (omem %d)", name, last)
			}
			ctl[i].Do("PUBLISH", "ch", msg)
			omem := clientOmem(t, ctl[i], "hardsub")
			if omem < 0 {
				break
			}
			last = omem
		}
		// Redis's output grows by 16 KB blocks: its suite wants 70000 or more.
		if last < 70000 || last >= 100000 {
			t.Errorf("%s: last omem before the close %d, want in [70000, 100000)", name, last)
		}
	}
}

// A subscriber whose output stays at or above the soft limit longer than
// the soft seconds is closed, even with nothing published meanwhile; one
// whose output stays under it is not, and gets every message.
func TestObufPubsubSoftLimit(t *testing.T) {
	addrs, ctl := obufServers(t)
	msg := strings.Repeat("m", 1000)
	wire := "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1000\r\n" + msg + "\r\n"
	for i, addr := range addrs {
		name := serverNames[i]
		ctl[i].Do("CONFIG", "SET", "client-output-buffer-limit", "pubsub 0 100000 1")

		// Over: publish until the output passes the soft limit, then stop.
		slowClient(t, addr, "oversub", "ch")
		for n := 0; ; n++ {
			if n == 100000 {
				t.Fatalf("%s: the output never passed the soft limit", name)
			}
			ctl[i].Do("PUBLISH", "ch", msg)
			if clientOmem(t, ctl[i], "oversub") > 110000 {
				break
			}
		}
		if clientOmem(t, ctl[i], "oversub") < 0 {
			t.Fatalf("%s: closed before the soft seconds", name)
		}
		start := time.Now()
		for clientOmem(t, ctl[i], "oversub") >= 0 {
			if time.Since(start) > 5*time.Second {
				t.Fatalf("%s: still connected 5 s after passing the soft limit", name)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if time.Since(start) < time.Second {
			t.Errorf("%s: closed after %v, before the soft seconds", name, time.Since(start))
		}

		// Under: output waits, under the soft limit, for longer than the
		// soft seconds.
		nc := slowClient(t, addr, "undersub", "ch")
		sent := 0
		for n := 0; ; n++ {
			if n == 100000 {
				t.Fatalf("%s: no output ever waited", name)
			}
			ctl[i].Do("PUBLISH", "ch", msg)
			sent++
			if clientOmem(t, ctl[i], "undersub") > 30000 {
				break
			}
		}
		omem := clientOmem(t, ctl[i], "undersub")
		if omem >= 90000 {
			t.Fatalf("%s: omem %d, too close to the soft limit", name, omem)
		}
		time.Sleep(2500 * time.Millisecond)
		if n := clientOmem(t, ctl[i], "undersub"); n < 0 {
			t.Fatalf("%s: a subscriber under the soft limit was closed", name)
		}
		// A receiver whose window stayed shut gets the rest slowly.
		nc.(*net.TCPConn).SetReadBuffer(1 << 20)
		want := sent * len(wire)
		var data []byte
		closed := false
		for deadline := time.Now().Add(20 * time.Second); len(data) < want && !closed && time.Now().Before(deadline); {
			var more []byte
			more, closed = readAll(nc, time.Second)
			data = append(data, more...)
		}
		if more, c := readAll(nc, 200*time.Millisecond); len(more) > 0 || c {
			data, closed = append(data, more...), c
		}
		if len(data) != want || closed || string(data) != strings.Repeat(wire, sent) {
			t.Errorf("%s: the subscriber under the limit got %d bytes (want %d), closed %v", name, len(data), want, closed)
		}
		nc.Close()
	}
}
