package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/redistest"
)

// The HTTP API end to end: the ferry binary runs a master and a replica
// (cmd/ferry's adapters, flags and all) on an embedded NATS server, and
// clients speak the Upstash REST API to them with net/http, curl and the
// real @upstash/redis npm client.

const httpToken = "e2e-http-token"

var (
	ferryBinOnce sync.Once
	ferryBin     string
	ferryBinErr  error
)

// buildFerry builds the ferry binary once per test run.
func buildFerry(tb testing.TB) string {
	tb.Helper()
	ferryBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ferry-e2e-bin")
		if err != nil {
			ferryBinErr = err
			return
		}
		ferryBin = filepath.Join(dir, "ferry")
		out, err := exec.Command("go", "build", "-o", ferryBin, "../cmd/ferry").CombinedOutput()
		if err != nil {
			ferryBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if ferryBinErr != nil {
		tb.Fatal(ferryBinErr)
	}
	return ferryBin
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// httpNode is a ferry process serving the HTTP API.
type httpNode struct {
	url string // http://addr
	cmd *exec.Cmd
	out *redistest.Buffer
}

// startFerry runs `ferry <role> args...` with an HTTP API and waits until
// it answers PING over HTTP. The free ports it picks are only free when
// picked: if another process took one before ferry bound it (ferry exits
// with "address already in use"), it starts again on new ones.
func startFerry(tb testing.TB, role string, args ...string) *httpNode {
	tb.Helper()
	for attempt := 1; ; attempt++ {
		n, exited := launchFerry(tb, role, args)
		err := waitFor(20*time.Second, 50*time.Millisecond, func() error {
			select {
			case <-exited:
				return errExited
			default:
			}
			res, err := n.do("GET", "/ping", "", "")
			if err != nil {
				return err
			}
			if res.status != 200 {
				return fmt.Errorf("%d %s", res.status, res.body)
			}
			return nil
		})
		switch {
		case err == nil:
			return n
		case errors.Is(err, errExited) && strings.Contains(n.output(), "address already in use") && attempt < 3:
			tb.Logf("ferry %s: a port was taken before it bound it; again on other ports", role)
			continue
		}
		tb.Fatalf("ferry %s never answered over HTTP: %v\n%s", role, err, n.output())
	}
}

// errExited is startFerry's wait ending because the process exited.
var errExited = errors.New("the process exited")

// launchFerry starts one ferry process on fresh ports, stopped when the
// test ends; exited is closed when the process exits.
func launchFerry(tb testing.TB, role string, args []string) (*httpNode, <-chan struct{}) {
	tb.Helper()
	bin := buildFerry(tb)
	httpAddr := freeAddr(tb)
	args = append([]string{role, "--addr", freeAddr(tb), "--http-addr", httpAddr, "--log-level", "debug"}, args...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "FERRY_HTTP_TOKEN="+httpToken)
	out := &redistest.Buffer{}
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	n := &httpNode{url: "http://" + httpAddr, cmd: cmd, out: out}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if tb.Failed() {
			tb.Logf("ferry %s output:\n%s", role, n.output())
		}
	})
	return n, exited
}

func (n *httpNode) output() string { return n.out.String() }

type httpRes struct {
	status int
	token  string
	body   string
}

// do sends a request with the bearer token and, when not empty, a sync token.
func (n *httpNode) do(method, path, body, syncToken string) (httpRes, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, n.url+path, rd)
	if err != nil {
		return httpRes{}, err
	}
	req.Header.Set("Authorization", "Bearer "+httpToken)
	if syncToken != "" {
		req.Header.Set("Upstash-Sync-Token", syncToken)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return httpRes{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return httpRes{res.StatusCode, res.Header.Get("Upstash-Sync-Token"), string(b)}, err
}

func (n *httpNode) mustDo(tb testing.TB, method, path, body, syncToken string, status int, want string) httpRes {
	tb.Helper()
	res, err := n.do(method, path, body, syncToken)
	if err != nil {
		tb.Fatal(err)
	}
	if res.status != status || res.body != want {
		tb.Fatalf("%s %s %s (sync token %q):\n got %d %s\nwant %d %s", method, path, body, syncToken, res.status, res.body, status, want)
	}
	return res
}

// startHTTPPair runs a master and a replica of one dataset with their
// HTTP APIs on an embedded NATS server.
func startHTTPPair(t *testing.T, ack string) (m, r *httpNode) {
	t.Helper()
	ns := startNATS(t)
	m = startFerry(t, "master", "--nats", ns.URL(), "--dataset", "http", "--ack", ack, "--new-dataset")
	r = startFerry(t, "replica", "--nats", ns.URL(), "--dataset", "http", "--http-sync-timeout", "2s")
	return m, r
}

// TestHTTPReadYourWrites writes on the master and reads each write back at
// once from the replica with the master's sync token: the replica waits
// for the write's offset, so the read is never stale. Under both ack
// modes (the async master names the entry it sent).
func TestHTTPReadYourWrites(t *testing.T) {
	for _, ack := range []string{"durable", "async"} {
		t.Run(ack, func(t *testing.T) {
			m, r := startHTTPPair(t, ack)
			var prev uint64
			for i := 1; i <= 200; i++ {
				res := m.mustDo(t, "POST", "/", `["INCR","counter"]`, "", 200, `{"result":`+strconv.Itoa(i)+`}`)
				tok, err := strconv.ParseUint(res.token, 10, 64)
				if err != nil || tok <= prev {
					t.Fatalf("write %d: sync token %q after %d", i, res.token, prev)
				}
				prev = tok
				rr := r.mustDo(t, "GET", "/get/counter", "", res.token, 200, `{"result":"`+strconv.Itoa(i)+`"}`)
				if rt, _ := strconv.ParseUint(rr.token, 10, 64); rt < tok {
					t.Fatalf("replica's sync token %s below the one it was given, %d", rr.token, tok)
				}
			}
			// A pipeline and a transaction, read back through the replica.
			res := m.mustDo(t, "POST", "/pipeline", `[["SET","a","1"],["INCR","a"],["RPUSH","l","x","y"]]`, "", 200,
				`[{"result":"OK"},{"result":2},{"result":2}]`)
			res = m.mustDo(t, "POST", "/multi-exec", `[["INCR","a"],["LPOP","l"]]`, res.token, 200, `[{"result":3},{"result":"x"}]`)
			r.mustDo(t, "POST", "/pipeline", `[["GET","a"],["LRANGE","l",0,-1]]`, res.token, 200, `[{"result":"3"},{"result":["y"]}]`)

			// Writes to the replica are refused; so are tokens it never reaches.
			r.mustDo(t, "POST", "/", `["SET","a","9"]`, "", 400, `{"error":"READONLY You can't write against a read only replica."}`)
			far := strconv.FormatUint(prev+1000, 10)
			rr, err := r.do("GET", "/get/a", "", far)
			if err != nil || rr.status != 503 || !strings.Contains(rr.body, "sync token not reached") || !strings.Contains(rr.body, "needs "+far) {
				t.Fatalf("unreachable sync token: %v %d %s", err, rr.status, rr.body)
			}
			r.mustDo(t, "GET", "/get/a", "", res.token, 200, `{"result":"3"}`)
		})
	}
}

// TestHTTPCurl drives both nodes with curl.
func TestHTTPCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("curl is not installed")
		}
		t.Skip("curl is not installed")
	}
	m, r := startHTTPPair(t, "durable")
	run := func(args ...string) (headers map[string]string, status int, body string) {
		t.Helper()
		args = append([]string{"-sS", "-i"}, args...)
		out, err := exec.Command(curl, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v\n%s", args, err, out)
		}
		head, body, _ := strings.Cut(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n\n")
		lines := strings.Split(head, "\n")
		if f := strings.Fields(lines[0]); len(f) >= 2 {
			status, _ = strconv.Atoi(f[1])
		}
		headers = map[string]string{}
		for _, l := range lines[1:] {
			k, v, _ := strings.Cut(l, ":")
			headers[strings.ToLower(k)] = strings.TrimSpace(v)
		}
		return headers, status, body
	}
	auth := "Authorization: Bearer " + httpToken
	check := func(gotStatus int, gotBody string, status int, body string) {
		t.Helper()
		if gotStatus != status || gotBody != body {
			t.Fatalf("got %d %s, want %d %s", gotStatus, gotBody, status, body)
		}
	}
	_, st, body := run("-H", auth, m.url+"/set/greeting/hello%20world")
	check(st, body, 200, `{"result":"OK"}`)
	h, st, body := run("-H", auth, "-d", `["APPEND","greeting","!"]`, m.url+"/")
	check(st, body, 200, `{"result":12}`)
	tok := h["upstash-sync-token"]
	if tok == "" {
		t.Fatal("no upstash-sync-token header")
	}
	_, st, body = run("-H", auth, "-H", "Upstash-Sync-Token: "+tok, r.url+"/get/greeting")
	check(st, body, 200, `{"result":"hello world!"}`)
	_, st, body = run("-H", auth, "-H", "Upstash-Encoding: base64", "-H", "Upstash-Sync-Token: "+tok, r.url+"/get/greeting")
	check(st, body, 200, `{"result":"aGVsbG8gd29ybGQh"}`)
	// A POST body is the value; the query parameters follow it.
	h, st, body = run("-H", auth, "--data-binary", `{"json":true}`, m.url+"/set/doc?EX=60")
	check(st, body, 200, `{"result":"OK"}`)
	_, st, body = run("-H", "Upstash-Sync-Token: "+h["upstash-sync-token"], r.url+"/get/doc?_token="+httpToken)
	check(st, body, 200, `{"result":"{\"json\":true}"}`)
	_, st, body = run("-H", auth, "-d", `[["TTL","doc"],["GET","nope"]]`, m.url+"/pipeline")
	check(st, body, 200, `[{"result":60},{"result":null}]`)
	// Bad input.
	_, st, body = run(m.url + "/get/doc")
	check(st, body, 401, `{"error":"Unauthorized"}`)
	_, st, body = run("-H", auth, "-d", `["GET",`, m.url+"/")
	if st != 400 || !strings.HasPrefix(body, `{"error":"ERR malformed JSON`) {
		t.Fatalf("malformed JSON: %d %s", st, body)
	}
	_, st, body = run("-H", auth, "-d", `["FLY","away"]`, r.url+"/")
	check(st, body, 400, `{"error":"ERR unknown command 'FLY', with args beginning with: 'away' "}`)
	_, st, body = run("-H", auth, "-d", `["DEL","doc"]`, r.url+"/")
	check(st, body, 400, `{"error":"READONLY You can't write against a read only replica."}`)
}

// TestHTTPMasterRequirePass checks that the bearer token stands for AUTH
// on a master with --requirepass, and that each write's sync token is its
// own offset (one write, one entry, when writes come one at a time).
func TestHTTPMasterRequirePass(t *testing.T) {
	ns := startNATS(t)
	m := startFerry(t, "master", "--nats", ns.URL(), "--dataset", "pass", "--new-dataset", "--requirepass", "rpass")
	for i := 1; i <= 20; i++ {
		res := m.mustDo(t, "POST", "/", `["RPUSH","l","x"]`, "", 200, `{"result":`+strconv.Itoa(i)+`}`)
		if res.token != strconv.Itoa(i) {
			t.Fatalf("write %d: sync token %q", i, res.token)
		}
	}
}

// TestUpstashClient runs httpapi/testdata/upstash.mjs, which drives the
// master and the replica through the real @upstash/redis client. It needs
// node and npm, and the npm registry: in CI (CI set) their absence fails
// the test; elsewhere it skips.
func TestUpstashClient(t *testing.T) {
	node, nerr := exec.LookPath("node")
	npm, perr := exec.LookPath("npm")
	if err := errors.Join(nerr, perr); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node and npm are needed for the @upstash/redis test: %v", err)
		}
		t.Skipf("node and npm are needed for the @upstash/redis test: %v", err)
	}
	dir := t.TempDir()
	script, err := os.ReadFile("../httpapi/testdata/upstash.mjs")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "upstash.mjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"name":"ferry-upstash-test","private":true,"type":"module"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--loglevel=error", "@upstash/redis@"+upstashVersion)
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm install @upstash/redis@%s: %v\n%s", upstashVersion, err, out)
	}
	m, r := startHTTPPair(t, "durable")
	run := exec.CommandContext(ctx, node, "upstash.mjs")
	run.Dir = dir
	run.Env = append(os.Environ(), "MASTER_URL="+m.url, "REPLICA_URL="+r.url, "TOKEN="+httpToken)
	out, err := run.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("node upstash.mjs: %v\n%s", err, out)
	}
	// The script's writes are on the master as it left them.
	m.mustDo(t, "POST", "/", `["GET","js:ryw"]`, "", 200, `{"result":"50"}`)
	m.mustDo(t, "GET", "/hgetall/js:h", "", "", 200, `{"result":["f1","v1","f2","2"]}`)
	m.mustDo(t, "GET", "/get/js:obj", "", "", 200, `{"result":"{\"a\":1,\"b\":[1,2],\"s\":\"x\"}"}`)
}

// upstashVersion is the @upstash/redis release the test installs.
const upstashVersion = "1.39.0"
