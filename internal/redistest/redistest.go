// Package redistest starts real servers for tests: Debian's redis-server,
// and ferry's own engine on a loopback port. A test that needs a missing
// binary fails when CI is set and is skipped, saying why, otherwise.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/server"
)

// Need skips (or, under CI, fails) the test when binary is not on PATH.
func Need(tb testing.TB, binary string) string {
	tb.Helper()
	p, err := exec.LookPath(binary)
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s not found on PATH; .ci/run installs it (apt-get install redis-server redis-tools)", binary)
		}
		tb.Skipf("skipping: %s not found on PATH (apt-get install redis-server redis-tools)", binary)
	}
	return p
}

// FreePort returns a free loopback TCP port.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Redis starts a redis-server on a free loopback port with persistence off
// and DEBUG enabled, stopped when the test ends. It returns its address.
func Redis(tb testing.TB, extra ...string) string {
	tb.Helper()
	bin := Need(tb, "redis-server")
	port := FreePort(tb)
	args := append([]string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", tb.TempDir(), "--enable-debug-command", "yes", "--daemonize", "no",
	}, extra...)
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start redis-server: %v", err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	WaitPing(tb, addr)
	return addr
}

// WaitPing waits until a RESP server at addr answers PING.
func WaitPing(tb testing.TB, addr string) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(time.Second))
			fmt.Fprint(c, "PING\r\n")
			line, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			// A server with requirepass answers NOAUTH: it is up too.
			if err == nil && (line == "+PONG\r\n" || strings.HasPrefix(line, "-NOAUTH ")) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("server at %s did not answer PING", addr)
}

// Ferry starts a ferry engine and RESP server on a free loopback port,
// closed when the test ends. It returns the engine and the address.
func Ferry(tb testing.TB, cfg command.Config) (*command.Engine, string) {
	tb.Helper()
	e, srv := FerryServer(tb, cfg, nil)
	return e, srv.Addr().String()
}

// FerryServer is Ferry returning the server, with setup (if not nil)
// called before it serves. FERRY_TEST_EVENT_LOOP=false serves every
// connection on a goroutine of its own (server.SetEventLoop) unless setup
// says otherwise.
func FerryServer(tb testing.TB, cfg command.Config, setup func(*server.Server, *command.Engine)) (*command.Engine, *server.Server) {
	tb.Helper()
	e := command.New(cfg)
	srv := server.New(e, nil)
	if os.Getenv("FERRY_TEST_EVENT_LOOP") == "false" {
		// make race runs the connection-heavy packages again this way.
		srv.SetEventLoop(false)
	}
	if setup != nil {
		setup(srv, e)
	}
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		tb.Fatal(err)
	}
	// Set before Serve: connections read it from then on.
	e.Shutdown = func() { go srv.Close() }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		srv.Serve(ctx)
		close(done)
	}()
	tb.Cleanup(func() {
		cancel()
		srv.Close()
		<-done
	})
	return e, srv
}
