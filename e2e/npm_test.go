package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
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
