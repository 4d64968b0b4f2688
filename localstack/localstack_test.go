package localstack_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/redistest"
	"go.yaml.in/yaml/v3"
)

// flagsOf returns the flag names `ferry <sub> -h` lists.
func flagsOf(t *testing.T, bin, sub string) []string {
	t.Helper()
	out, _ := exec.Command(bin, sub, "-h").CombinedOutput()
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllStringSubmatch(string(out), -1) {
		names = append(names, m[1])
	}
	if len(names) < 5 {
		t.Fatalf("ferry %s -h lists %d flags:\n%s", sub, len(names), out)
	}
	return names
}

// checkFerryEnv fails the test for every FERRY_ variable in env that is no
// flag of ferry's subcommand sub (a misspelled setting is silently
// ignored by ferry). The HTTP API's settings are only logged while the
// binary has no --http-addr.
func checkFerryEnv(t *testing.T, where string, bin, sub string, env []string) {
	t.Helper()
	flags := flagsOf(t, bin, sub)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		name, ok := strings.CutPrefix(k, "FERRY_")
		if !ok {
			continue
		}
		flag := strings.ReplaceAll(strings.ToLower(name), "_", "-")
		if slices.Contains(flags, flag) {
			continue
		}
		if strings.HasPrefix(flag, "http-") && !slices.Contains(flags, "http-addr") {
			t.Logf("%s: %s: ferry %s has no HTTP API yet (--%s)", where, k, sub, flag)
			continue
		}
		t.Errorf("%s: %s is no flag of ferry %s", where, k, sub)
	}
}

// TestCompose checks docker-compose.yml: the services, NATS with
// JetStream, the bucket created before ferry starts, ferry built from the
// Dockerfile, and every FERRY_ setting a real flag of its subcommand.
func TestCompose(t *testing.T) {
	b, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
			Ports       []string          `yaml:"ports"`
			Build       struct {
				Context    string `yaml:"context"`
				Dockerfile string `yaml:"dockerfile"`
			} `yaml:"build"`
			DependsOn map[string]struct {
				Condition string `yaml:"condition"`
			} `yaml:"depends_on"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"minio", "createbucket", "nats", "master", "replica1", "replica2"} {
		if _, ok := doc.Services[name]; !ok {
			t.Errorf("no service %s", name)
		}
	}
	if s := doc.Services["nats"]; !strings.Contains(s.Image, "nats:2") || !slices.Contains(s.Command, "-js") {
		t.Errorf("nats: image %q command %q: want nats:2 with -js", s.Image, s.Command)
	}
	if s := doc.Services["minio"]; !strings.Contains(s.Image, "minio/minio") {
		t.Errorf("minio: image %q", s.Image)
	}
	if s := doc.Services["createbucket"]; !strings.Contains(s.Image, "minio/mc") || !strings.Contains(strings.Join(s.Command, " "), "mc mb --ignore-existing local/ferry") {
		t.Errorf("createbucket: image %q command %q", s.Image, s.Command)
	}
	bin := dockerBuild(t)
	hostPorts := map[string]string{}
	for name, role := range map[string]string{"master": "master", "replica1": "replica", "replica2": "replica"} {
		s := doc.Services[name]
		if len(s.Command) == 0 || s.Command[0] != role {
			t.Errorf("%s: command %q, want ferry %s", name, s.Command, role)
		}
		if s.Build.Context != ".." || s.Build.Dockerfile != "Dockerfile" {
			t.Errorf("%s: build %+v, want the repository's Dockerfile", name, s.Build)
		}
		if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if c := s.DependsOn["createbucket"].Condition; c != "service_completed_successfully" {
			t.Errorf("%s: depends on createbucket with %q", name, c)
		}
		if _, ok := s.DependsOn["nats"]; !ok {
			t.Errorf("%s: does not depend on nats", name)
		}
		var env []string
		for k, v := range s.Environment {
			env = append(env, k+"="+v)
		}
		checkFerryEnv(t, name, bin, role, env)
		for k, want := range map[string]string{"FERRY_NATS": "nats://nats:4222", "FERRY_STORE": "s3://ferry/ferry",
			"FERRY_S3_ENDPOINT": "http://minio:9000", "FERRY_ADDR": "0.0.0.0:6379", "FERRY_METRICS_ADDR": "0.0.0.0:9090"} {
			if got := s.Environment[k]; got != want {
				t.Errorf("%s: %s=%q, want %q", name, k, got, want)
			}
		}
		for _, p := range s.Ports {
			host, _, _ := strings.Cut(p, ":")
			if other, dup := hostPorts[host]; dup {
				t.Errorf("host port %s published by %s and %s", host, other, name)
			}
			hostPorts[host] = name
		}
	}
	if got := doc.Services["master"].Environment["AWS_SECRET_ACCESS_KEY"]; !strings.Contains(string(b), "MINIO_ROOT_PASSWORD: "+got) {
		t.Errorf("ferry's S3 secret %q is not MinIO's root password", got)
	}
}

// stack drives localstack/run.sh with its own state directory and ports.
type stack struct {
	t     *testing.T
	env   []string
	dir   string
	ports map[string]int
}

// freePorts returns n distinct free loopback ports.
func freePorts(t *testing.T, n int) []int {
	seen := map[int]bool{}
	var out []int
	for len(out) < n {
		p := redistest.FreePort(t)
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func newStack(t *testing.T, ferryBin string) *stack {
	names := []string{"S3_PORT", "NATS_PORT", "MASTER_PORT", "REPLICA1_PORT", "REPLICA2_PORT",
		"MASTER_METRICS_PORT", "REPLICA1_METRICS_PORT", "REPLICA2_METRICS_PORT",
		"MASTER_HTTP_PORT", "REPLICA1_HTTP_PORT", "REPLICA2_HTTP_PORT"}
	s := &stack{t: t, dir: t.TempDir(), ports: map[string]int{}}
	s.env = append(os.Environ(), "LOCALSTACK_DIR="+s.dir, "FERRY_BIN="+ferryBin, "SNAPSHOT_AFTER_WRITES=0", "READY_TIMEOUT=60")
	for i, p := range freePorts(t, len(names)) {
		s.ports[names[i]] = p
		s.env = append(s.env, fmt.Sprintf("%s=%d", names[i], p))
	}
	return s
}

// run runs run.sh with args and returns its combined output and exit code.
func (s *stack) run(timeout time.Duration, args ...string) (string, int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{"run.sh"}, args...)...)
	cmd.Env = s.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		s.t.Fatalf("run.sh %s: timed out after %s\n%s", strings.Join(args, " "), timeout, out.String())
	}
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			s.t.Fatalf("run.sh %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return out.String(), code
}

// must runs run.sh and fails the test unless it exits 0.
func (s *stack) must(timeout time.Duration, args ...string) string {
	s.t.Helper()
	out, code := s.run(timeout, args...)
	if code != 0 {
		s.t.Fatalf("run.sh %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func (s *stack) addr(name string) string {
	return fmt.Sprintf("127.0.0.1:%d", s.ports[name])
}

// pid returns the pid in service name's pid file.
func (s *stack) pid(name string) int {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, "run", name+".pid"))
	if err != nil {
		s.t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		s.t.Fatal(err)
	}
	return pid
}

// metric returns the value of the metric line that starts with prefix on
// the node whose metrics port setting is portName.
func (s *stack) metric(portName, prefix string) (string, error) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", s.ports[portName]))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, prefix) {
			f := strings.Fields(line)
			return f[len(f)-1], nil
		}
	}
	return "", fmt.Errorf("no metric %s", prefix)
}

// dumpLogs prints every service's log tail.
func (s *stack) dumpLogs() {
	logs, _ := filepath.Glob(filepath.Join(s.dir, "logs", "*.log"))
	for _, f := range logs {
		b, _ := os.ReadFile(f)
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		s.t.Logf("--- %s\n%s", filepath.Base(f), b)
	}
}

// checkFor calls f every interval until it returns nil, and fails the test
// with f's last error if total elapses first.
func checkFor(t *testing.T, total, interval time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", total, err)
		}
		time.Sleep(interval)
	}
}

// TestRunScript runs the stack without Docker end to end: run.sh up starts
// versitygw, nats-server, a master and two replicas; writes on the master
// are read on both replicas; a replica killed and started again by run.sh
// up bootstraps from the snapshot in versitygw and catches up from the
// log; run.sh down stops everything.
func TestRunScript(t *testing.T) {
	if testing.Short() && os.Getenv("CI") == "" {
		t.Skip("skipping the local stack in -short mode")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("run.sh needs curl: %v", err)
	}
	s := newStack(t, dockerBuild(t))
	t.Cleanup(func() {
		if t.Failed() {
			s.dumpLogs()
		}
		if out, code := s.run(2*time.Minute, "down"); code != 0 {
			t.Errorf("run.sh down: exit %d\n%s", code, out)
		}
	})
	// Building nats-server (and versitygw) the first time takes a while.
	s.must(8*time.Minute, "up")
	out, code := s.run(time.Minute, "status")
	if code != 0 || strings.Count(out, " running (pid ") != 5 || strings.Count(out, " ready ") != 3 {
		t.Fatalf("status after up: exit %d\n%s", code, out)
	}

	m := redistest.Dial(t, s.addr("MASTER_PORT"))
	write := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if got := m.Do("SET", fmt.Sprint("key:", i), fmt.Sprint("value:", i)); got != "+OK\r\n" {
				t.Fatalf("SET key:%d = %q", i, got)
			}
		}
	}
	// readAll checks every key below n on the replica at addr.
	readAll := func(addr string, n int) {
		t.Helper()
		c := redistest.Dial(t, addr)
		defer c.Close()
		checkFor(t, 20*time.Second, 20*time.Millisecond, func() error {
			for i := 0; i < n; i++ {
				want := fmt.Sprintf("$%d\r\nvalue:%d\r\n", len(fmt.Sprint("value:", i)), i)
				if got := c.Do("GET", fmt.Sprint("key:", i)); got != want {
					return fmt.Errorf("%s: GET key:%d = %q, want %q", addr, i, got, want)
				}
			}
			return nil
		})
	}
	write(0, 100)
	if got := m.Do("WAIT", "2", "10000"); got != ":2\r\n" {
		t.Fatalf("WAIT 2 10000 = %q, want both replicas", got)
	}
	readAll(s.addr("REPLICA1_PORT"), 100)
	readAll(s.addr("REPLICA2_PORT"), 100)

	// A snapshot into versitygw, then more writes that only the log has.
	if got := m.Do("BGSAVE"); got != "+Background saving started\r\n" {
		t.Fatalf("BGSAVE = %q", got)
	}
	checkFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		info := m.Do("INFO", "persistence")
		if !strings.Contains(info, "rdb_bgsave_in_progress:0\r\n") || !strings.Contains(info, "rdb_changes_since_last_save:0\r\n") ||
			!strings.Contains(info, "rdb_last_bgsave_status:ok\r\n") {
			return fmt.Errorf("snapshot not written:\n%s", info)
		}
		return nil
	})
	write(100, 150)

	// Kill replica1 hard; replica2 goes on.
	r1, r2 := s.pid("replica1"), s.pid("replica2")
	if err := syscall.Kill(r1, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		out, code := s.run(time.Minute, "status")
		if code != 3 || !regexp.MustCompile(`(?m)^replica1 +stopped`).MatchString(out) {
			return fmt.Errorf("status after killing replica1: exit %d\n%s", code, out)
		}
		return nil
	})
	// up starts only what is down.
	s.must(2*time.Minute, "up")
	if s.pid("replica1") == r1 || s.pid("replica2") != r2 {
		t.Fatalf("up after the kill: replica1 pid %d (was %d), replica2 pid %d (was %d)", s.pid("replica1"), r1, s.pid("replica2"), r2)
	}
	readAll(s.addr("REPLICA1_PORT"), 150)
	readAll(s.addr("REPLICA2_PORT"), 150)
	// replica1 came back from the snapshot (offset 100) and applied only
	// the 50 later entries from the log.
	if v, err := s.metric("REPLICA1_METRICS_PORT", "ferry_replica_snapshot_loads_total"); err != nil || v != "1" {
		t.Errorf("replica1 ferry_replica_snapshot_loads_total = %q, %v; want 1", v, err)
	}
	if v, err := s.metric("REPLICA1_METRICS_PORT", "ferry_replica_applied_total"); err != nil || v != "50" {
		t.Errorf("replica1 ferry_replica_applied_total = %q, %v; want 50 (the entries after the snapshot)", v, err)
	}
	if v, err := s.metric("REPLICA1_METRICS_PORT", "ferry_replica_offset"); err != nil || v != "150" {
		t.Errorf("replica1 ferry_replica_offset = %q, %v; want 150", v, err)
	}

	pids := []int{s.pid("s3"), s.pid("nats"), s.pid("master"), s.pid("replica1"), s.pid("replica2")}
	s.must(2*time.Minute, "down")
	out, code = s.run(time.Minute, "status")
	if code != 3 || strings.Count(out, " stopped ") != 5 {
		t.Fatalf("status after down: exit %d\n%s", code, out)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("pid %d still running after down", pid)
		}
	}
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z" && f[2] != "X"
}
