package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/redistest"
)

// TestMaxClients runs a ferry master allowed 256 open files: it takes 128
// clients (keeping 128 descriptors for everything else), refuses the ones
// past that with redis-server's error, and goes on serving; with Redis's
// default limit the process ran out of descriptors and exited.
func TestMaxClients(t *testing.T) {
	bin := buildFerry(t)
	addr := freeAddr(t)
	cmd := exec.Command("bash", "-c", `ulimit -n 256 && exec "$0" master --addr "$1" --log-level error`, bin, addr)
	out := &redistest.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("ferry output:\n%s", out.String())
		}
	})
	checkFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		_, err := query(addr, "PING")
		return err
	})
	if info := mustQuery(t, addr, "INFO", "clients"); !strings.Contains(info, "maxclients:128\r\n") {
		t.Fatalf("INFO clients with 256 open files allowed:\n%s", info)
	}

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	served, refused := 0, 0
	for range 300 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial after %d served, %d refused: %v", served, refused, err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("PING\r\n")); err != nil && !strings.Contains(err.Error(), "reset") {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		switch line {
		case "+PONG\r\n":
			served++
		case "-ERR max number of clients reached\r\n":
			refused++
		default:
			t.Fatalf("connection %d: %q", served+refused+1, line)
		}
	}
	if served != 128 || refused != 172 {
		t.Fatalf("%d connections served, %d refused; want 128 and 172", served, refused)
	}
	select {
	case err := <-exited:
		t.Fatalf("ferry exited: %v", err)
	default:
	}
	conns[0].Write([]byte("INFO stats\r\n"))
	if info := readBulk(t, conns[0]); !strings.Contains(info, "rejected_connections:172\r\n") {
		t.Fatalf("INFO stats after 172 refusals:\n%s", info)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if got, err := query(addr, "PING"); err != nil || got != "+PONG\r\n" {
			return fmt.Errorf("PING after the clients left = %q, %v", got, err)
		}
		return nil
	})
}

// readBulk reads one bulk string reply from c.
func readBulk(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	reply, err := redistest.ReadReply(br)
	if err != nil {
		t.Fatal(err)
	}
	return string(reply)
}
