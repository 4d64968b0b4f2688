package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/redistest"
)

// TestProgressOutput: progress goes only to a terminal; a pipe or a file
// gets none.
func TestProgressOutput(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if out := progressOutput(w); out != nil {
		t.Error("progress on a pipe")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if out := progressOutput(f); out != nil {
		t.Error("progress on a regular file")
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		// Only where the test runs with a controlling terminal.
		defer tty.Close()
		if out := progressOutput(tty); out == nil {
			t.Error("no progress on a terminal")
		}
	}
}

// TestProgressLine: redraws one line with \r, counting bytes and items, and
// ends it with a newline; a nil output counts and prints nothing.
func TestProgressLine(t *testing.T) {
	var out redistest.Buffer
	p := startProgress(&out, "loading x", "keys")
	if _, err := io.Copy(io.Discard, p.Reader(strings.NewReader(strings.Repeat("a", 3000)))); err != nil {
		t.Fatal(err)
	}
	p.Add(7)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "\r") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p.Done()
	p.Done()
	s := out.String()
	if !strings.HasPrefix(s, "\rloading x: ") || !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") != 1 {
		t.Fatalf("progress wrote %q", s)
	}
	last := s[strings.LastIndex(s, "\r"):]
	if !strings.Contains(last, "2.9 KiB, 7 keys, ") || !strings.Contains(last, "/s") {
		t.Fatalf("last progress line %q", last)
	}

	silent := startProgress(nil, "x", "keys")
	var w bytes.Buffer
	if _, err := silent.Writer(&w).Write([]byte("abc")); err != nil || w.String() != "abc" || silent.bytes.Load() != 3 {
		t.Fatalf("counting writer: %q, %d", w.String(), silent.bytes.Load())
	}
	silent.Done()
}

// TestProgressSilentWhenNotTerminal: the ferry binary, its stderr a pipe,
// prints nothing there while exporting and importing.
func TestProgressSilentWhenNotTerminal(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "ferry")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	url, st := fileStore(t)
	ks := ferryKeyspace(t, datasetCommands(time.Now().Add(time.Hour).UnixMilli()))
	writeSnapshot(t, st, ks, "ds", 3, "gen", time.Time{})
	path := filepath.Join(t.TempDir(), "dump.rdb")
	for _, args := range [][]string{
		{"snapshot", "export", "--store", url, "--dataset", "ds", "--out", path},
		{"snapshot", "inspect", "--store", url, "--dataset", "ds", "--keys"},
		{"snapshot", "import", "--store", url, "--dataset", "copy", "--nats", natsURL(t), path},
	} {
		cmd := exec.Command(bin, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("ferry %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		if stderr.Len() != 0 {
			t.Errorf("ferry %s wrote to stderr: %q", strings.Join(args, " "), stderr.String())
		}
		if stdout.Len() == 0 {
			t.Errorf("ferry %s printed no report", strings.Join(args, " "))
		}
	}
}
