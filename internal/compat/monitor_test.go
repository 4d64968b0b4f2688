package compat

import (
	"bufio"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// monitorLine is a MONITOR line: time, database, client address, arguments.
var monitorLine = regexp.MustCompile(`^\+(\d{10}\.\d{6}) \[(\d+) ([0-9.]+:\d+)\] (.*)\r\n$`)

// monitorSession sends cmds on one connection while another monitors, and
// returns what the monitor got, with the time and the client's address
// (which differ between two servers) checked and replaced by T and ADDR.
func monitorSession(t *testing.T, addr string, cmds []string) (lines, replies []string) {
	t.Helper()
	mon, mr := openMonitor(t, addr, 5*time.Second)
	defer mon.Close()
	// A monitor cannot touch the keyspace; its own refused command shows
	// nowhere.
	mon.Write([]byte("GET k\r\n"))
	if line, err := mr.ReadString('\n'); err != nil || line != "-ERR Replica can't interact with the keyspace\r\n" {
		t.Fatalf("GET on a monitor = %q, %v", line, err)
	}
	c := redistest.Dial(t, addr)
	defer c.Close()
	local := c.Net().LocalAddr().String()
	for _, cmd := range cmds {
		c.WriteRaw([]byte(cmd + "\r\n"))
		replies = append(replies, c.Read())
	}
	// A last command marks the end.
	c.WriteRaw([]byte("ECHO end\r\n"))
	c.Read()
	var got []string
	for {
		m := nextMonitorLine(t, mr, got)
		line := m[0]
		if m[3] != local {
			t.Fatalf("monitor line %q: client address %s, want %s", line, m[3], local)
		}
		if sec, err := strconv.ParseFloat(m[1], 64); err != nil || math.Abs(sec-float64(time.Now().UnixMicro())/1e6) > 5 {
			t.Fatalf("monitor line %q: time %s is not now", line, m[1])
		}
		got = append(got, "["+m[2]+" ADDR] "+m[4])
		if m[4] == `"ECHO" "end"` {
			return got, replies
		}
	}
}

// openMonitor connects to addr and turns the connection into a monitor,
// whose reads fail after timeout.
func openMonitor(t *testing.T, addr string, timeout time.Duration) (net.Conn, *bufio.Reader) {
	t.Helper()
	mon, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Close() })
	mr := bufio.NewReader(mon)
	mon.Write([]byte("MONITOR\r\n"))
	mon.SetReadDeadline(time.Now().Add(timeout))
	if line, err := mr.ReadString('\n'); err != nil || line != "+OK\r\n" {
		t.Fatalf("MONITOR = %q, %v", line, err)
	}
	return mon, mr
}

// nextMonitorLine reads a monitor's next line and returns monitorLine's
// submatches; got (the lines so far) is for the failure message.
func nextMonitorLine(t *testing.T, mr *bufio.Reader, got []string) []string {
	t.Helper()
	line, err := mr.ReadString('\n')
	if err != nil {
		t.Fatalf("monitor after %q: %v", got, err)
	}
	m := monitorLine.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("monitor line %q", line)
	}
	return m
}

// TestMonitor: what a MONITOR client sees of another client's commands,
// against redis-server: which commands show (not rejected ones, not
// administrative ones, a transaction's commands at EXEC before EXEC), the
// database after SELECT, quoting, and redacted credentials.
func TestMonitor(t *testing.T) {
	redisAddr := redistest.Redis(t)
	_, ferryAddr := redistest.Ferry(t, command.Config{})
	cmds := []string{
		"SET k v",
		"*3\r\n$3\r\nSET\r\n$4\r\nk\x01\n\\\r\n$5\r\n12345",
		`SET "q\"" "a b"`,
		"SELECT 3",
		"GET k",
		"NOSUCH x",
		"GET",
		"MULTI",
		"INCR c",
		"SET d e",
		"EXEC",
		"AUTH x",
		"HELLO 2 AUTH default secret",
		"HELLO 2 AUTH default secret SETNAME nm",
		"MULTI",
		"MONITOR",
		"EXEC",
		"CONFIG GET maxclients",
		"PING",
		"BLPOP nolist 0.01",
		"SELECT 0",
		"DEL k",
	}
	want, wantReplies := monitorSession(t, redisAddr, cmds)
	got, gotReplies := monitorSession(t, ferryAddr, cmds)
	for i := range cmds {
		if strings.HasPrefix(cmds[i], "HELLO") {
			continue // the client ids differ
		}
		if gotReplies[i] != wantReplies[i] {
			t.Errorf("%q: ferry %q, redis %q", cmds[i], gotReplies[i], wantReplies[i])
		}
	}
	t.Logf("redis's monitor:\n%s", strings.Join(want, "\n"))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("ferry's monitor:\n%s\nredis's:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
