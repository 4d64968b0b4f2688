package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/master"
	"github.com/ferrydb/ferry/snapshot/s3"
)

// lambdaRIE is cmd/ferry-lambda running under the real Lambda runtime
// interface emulator. One invocation at a time: the emulator crashes on
// concurrent ones.
type lambdaRIE struct {
	url string
	cmd *exec.Cmd
	out *redistest.Buffer
}

// rieBinary finds aws-lambda-rie (scripts/deps.sh builds it): a missing
// one fails the test under CI and skips it, saying why, elsewhere.
func rieBinary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "aws-lambda-rie")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("aws-lambda-rie is not installed (scripts/deps.sh builds it)")
	}
	t.Skip("skipping: aws-lambda-rie is not installed; run scripts/deps.sh")
	return ""
}

// buildLambda builds cmd/ferry-lambda as Lambda's "bootstrap".
func buildLambda(t testing.TB) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, "../cmd/ferry-lambda")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build cmd/ferry-lambda: %v\n%s", err, b)
	}
	return out
}

func startRIE(t testing.TB, rie, bootstrap string, env []string) *lambdaRIE {
	t.Helper()
	port, apiPort := redistest.FreePort(t), redistest.FreePort(t)
	l := &lambdaRIE{url: "http://127.0.0.1:" + strconv.Itoa(port) + "/2015-03-31/functions/function/invocations", out: &redistest.Buffer{}}
	l.cmd = exec.Command(rie,
		"--runtime-interface-emulator-address", "127.0.0.1:"+strconv.Itoa(port),
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(apiPort),
		bootstrap)
	l.cmd.Env = append(os.Environ(), env...)
	l.cmd.Stdout, l.cmd.Stderr = l.out, l.out
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.cmd.Process.Kill()
		l.cmd.Wait()
		if t.Failed() {
			t.Logf("emulator and function output:\n%s", l.out.String())
		}
	})
	return l
}

// lambdaResponse is the Function URL response the handler returns.
type lambdaResponse struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

// invoke sends a Function URL event for an HTTP request.
func (l *lambdaRIE) invoke(t testing.TB, method, path, token, body string) lambdaResponse {
	t.Helper()
	ev := map[string]any{
		"version": "2.0", "rawPath": path, "rawQueryString": "",
		"headers":        map[string]string{"authorization": "Bearer " + token, "content-type": "application/json"},
		"requestContext": map[string]any{"http": map[string]string{"method": method, "path": path, "sourceIp": "127.0.0.1"}},
		"body":           body, "isBase64Encoded": false,
	}
	payload, _ := json.Marshal(ev)
	var resp *http.Response
	var err error
	for range 100 { // the emulator takes a moment to listen
		resp, err = http.Post(l.url, "application/json", bytes.NewReader(payload))
		if err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("invoke %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out lambdaResponse
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("invoke %s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return out
}

// TestLambdaReplica runs the Lambda replica in the emulator against a
// master on the embedded NATS server and snapshots in a real S3 server.
func TestLambdaReplica(t *testing.T) {
	rie := rieBinary(t)
	bootstrap := buildLambda(t)
	endpoint, access, secret, bucket := redistest.Versitygw(t)
	st, err := s3.New(context.Background(), s3.Config{Bucket: bucket, Prefix: "lambda", Endpoint: endpoint, PathStyle: true, AccessKeyID: access, SecretAccessKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	ns := startNATS(t)
	m := startMaster(t, ns.URL(), "lam", func(c *master.Config) { c.Store, c.NewDataset = st, true })
	var cmds [][]string
	for i := range 500 {
		cmds = append(cmds, []string{"SET", "k" + strconv.Itoa(i), "v" + strconv.Itoa(i)})
	}
	c, err := dial(m.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if _, err := c.pipeline(cmds); err != nil {
		t.Fatal(err)
	}
	snap, err := m.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mustQuery(t, m.addr, "SET", "after", "snapshot")

	const token = "s3cret"
	l := startRIE(t, rie, bootstrap, []string{
		"FERRY_NATS=" + ns.URL(), "FERRY_DATASET=lam", "FERRY_STORE=s3://" + bucket + "/lambda",
		"FERRY_S3_ENDPOINT=" + endpoint, "AWS_ACCESS_KEY_ID=" + access, "AWS_SECRET_ACCESS_KEY=" + secret,
		"AWS_REGION=us-east-1", "FERRY_HTTP_TOKEN=" + token, "FERRY_MAX_STALENESS=500ms",
	})

	// Cold start: the snapshot, then the log after it.
	if r := l.invoke(t, "GET", "/get/k42", token, ""); r.StatusCode != 200 || r.Body != `{"result":"v42"}` {
		t.Fatalf("GET /get/k42 = %d %s", r.StatusCode, r.Body)
	}
	if r := l.invoke(t, "GET", "/get/after", token, ""); r.StatusCode != 200 || r.Body != `{"result":"snapshot"}` {
		t.Fatalf("GET /get/after = %d %s", r.StatusCode, r.Body)
	}
	if !strings.Contains(l.out.String(), `"snapshot_offset":`+strconv.FormatUint(snap.Offset, 10)) {
		t.Errorf("the function did not load snapshot %s:\n%s", snap, l.out.String())
	}
	// A warm invocation catches up before it answers.
	mustQuery(t, m.addr, "SET", "k42", "changed")
	if r := l.invoke(t, "POST", "/", token, `["GET","k42"]`); r.StatusCode != 200 || r.Body != `{"result":"changed"}` {
		t.Fatalf(`POST ["GET","k42"] after a write = %d %s`, r.StatusCode, r.Body)
	}
	if r := l.invoke(t, "POST", "/pipeline", token, `[["DBSIZE"],["EXISTS","k1","nope"]]`); r.StatusCode != 200 || r.Body != `[{"result":501},{"result":1}]` {
		t.Fatalf("pipeline = %d %s", r.StatusCode, r.Body)
	}
	if r := l.invoke(t, "POST", "/", token, `["SET","x","y"]`); !strings.Contains(r.Body, "READONLY") {
		t.Fatalf("a write to the Lambda replica = %d %s", r.StatusCode, r.Body)
	}
	if r := l.invoke(t, "GET", "/get/k1", "wrong", ""); r.StatusCode != 401 {
		t.Fatalf("wrong token = %d %s", r.StatusCode, r.Body)
	}
	// NATS gone: within the staleness bound it answers, past it 503.
	if r := l.invoke(t, "GET", "/get/k1", token, ""); r.StatusCode != 200 {
		t.Fatalf("warm, before NATS goes: %d %s", r.StatusCode, r.Body)
	}
	ns.Shutdown()
	if r := l.invoke(t, "GET", "/get/k1", token, ""); r.StatusCode != 200 || r.Body != `{"result":"v1"}` {
		t.Fatalf("NATS just gone, within --max-staleness of the last catch-up: %d %s", r.StatusCode, r.Body)
	}
	time.Sleep(600 * time.Millisecond)
	r := l.invoke(t, "GET", "/get/k1", token, "")
	if r.StatusCode != 503 || !strings.Contains(r.Body, "cannot catch up") {
		t.Fatalf("with NATS down past --max-staleness: %d %s", r.StatusCode, r.Body)
	}
}
