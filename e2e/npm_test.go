package e2e

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// npmProject prepares a Node.js project for a test that runs a real npm
// client: it copies testdata/<script> into a new directory with a
// package.json and installs pkgs there (name@version) from the npm
// registry. It returns node's path and the directory. Without node or npm
// the test fails when CI is set and is skipped, saying why, otherwise.
func npmProject(t *testing.T, ctx context.Context, script string, pkgs ...string) (node, dir string) {
	t.Helper()
	node, nerr := exec.LookPath("node")
	npm, perr := exec.LookPath("npm")
	if err := errors.Join(nerr, perr); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node and npm are needed to run %s: %v", script, err)
		}
		t.Skipf("node and npm are needed to run %s: %v", script, err)
	}
	dir = t.TempDir()
	code, err := os.ReadFile(filepath.Join("testdata", script))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, script), code, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"ferry-e2e-node","private":true,"type":"module"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	install := exec.CommandContext(ctx, npm, append([]string{"install", "--no-audit", "--no-fund", "--loglevel=error"}, pkgs...)...)
	install.Dir = dir
	start := time.Now()
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm install %v: %v\n%s", pkgs, err, out)
	}
	t.Logf("npm install %v: %s", pkgs, time.Since(start).Round(time.Millisecond))
	return node, dir
}

// runNode runs script in dir with node, the environment plus env
// ("NAME=value"), and fails the test unless it succeeds and its output
// ends in "ok".
func runNode(t *testing.T, ctx context.Context, node, dir, script string, env ...string) {
	t.Helper()
	run := exec.CommandContext(ctx, node, script)
	run.Dir = dir
	run.Env = append(os.Environ(), env...)
	start := time.Now()
	out, err := run.CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "ok") {
		t.Fatalf("node %s: %v\n%s", script, err, out)
	}
	t.Logf("node %s: %s", script, time.Since(start).Round(time.Millisecond))
}

// portOf returns the port of the host:port address addr.
func portOf(tb testing.TB, addr string) string {
	tb.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}
