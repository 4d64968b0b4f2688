package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/command"
)

const testToken = "s3cret-token"

// testNode is a Node over a real engine whose log numbers every unit as
// one entry: the offset is the count of units the log holds.
type testNode struct {
	e *command.Engine

	mu     sync.Mutex
	cond   *sync.Cond
	units  uint64
	off    uint64
	acks   []uint64 // need of every Ack call
	ackErr error
}

func (n *testNode) Append(command.Unit) {
	n.mu.Lock()
	n.units++
	n.mu.Unlock()
}

func (n *testNode) Engine() *command.Engine { return n.e }

func (n *testNode) Ack(ctx context.Context, need uint64) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.acks = append(n.acks, need)
	if n.ackErr != nil {
		return n.ackErr
	}
	if need > n.off {
		n.off = need // the log stored every unit up to need
		n.cond.Broadcast()
	}
	return nil
}

func (n *testNode) Offset() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.off
}

func (n *testNode) setOffset(off uint64) {
	n.mu.Lock()
	n.off = off
	n.cond.Broadcast()
	n.mu.Unlock()
}

func (n *testNode) WaitOffset(ctx context.Context, off uint64) error {
	stop := context.AfterFunc(ctx, func() {
		n.mu.Lock()
		n.cond.Broadcast()
		n.mu.Unlock()
	})
	defer stop()
	n.mu.Lock()
	defer n.mu.Unlock()
	for n.off < off {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n.cond.Wait()
	}
	return nil
}

func newTestNode(cfg command.Config) *testNode {
	n := &testNode{e: command.New(cfg)}
	n.cond = sync.NewCond(&n.mu)
	if cfg.Role != "slave" {
		n.e.SetLog(n)
	}
	return n
}

type fixture struct {
	t    *testing.T
	node *testNode
	srv  *httptest.Server
}

func newFixture(t *testing.T, ecfg command.Config, mod func(*Config)) *fixture {
	t.Helper()
	node := newTestNode(ecfg)
	cfg := Config{Token: testToken}
	if mod != nil {
		mod(&cfg)
	}
	h, err := New(node, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{t: t, node: node, srv: srv}
}

type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request with the bearer token (and extra headers, as name,
// value pairs).
func (f *fixture) do(method, path, body string, headers ...string) response {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, string(b)}
}

// expect checks a response's status and exact body.
func (f *fixture) expect(method, path, body string, status int, want string, headers ...string) response {
	f.t.Helper()
	res := f.do(method, path, body, headers...)
	if res.status != status || res.body != want {
		f.t.Fatalf("%s %s %s:\n got %d %s\nwant %d %s", method, path, body, res.status, res.body, status, want)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		f.t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	return res
}

func TestSingleCommand(t *testing.T) {
	f := newFixture(t, command.Config{}, nil)
	f.expect("POST", "/", `["SET","k","v"]`, 200, `{"result":"OK"}`)
	f.expect("POST", "/", `["GET","k"]`, 200, `{"result":"v"}`)
	f.expect("POST", "/", `["get","missing"]`, 200, `{"result":null}`)
	f.expect("POST", "/", `["INCR","n"]`, 200, `{"result":1}`)
	f.expect("POST", "/", `["INCRBY","n",41]`, 200, `{"result":42}`)
	f.expect("POST", "/", `["INCRBYFLOAT","f",-1.5]`, 200, `{"result":"-1.5"}`)
	f.expect("POST", "/", `["RPUSH","l","a","b","c"]`, 200, `{"result":3}`)
	f.expect("POST", "/", `["LRANGE","l",0,-1]`, 200, `{"result":["a","b","c"]}`)
	f.expect("POST", "/", `["HSET","h","f1","x","f2","y"]`, 200, `{"result":2}`)
	f.expect("POST", "/", `["HGETALL","h"]`, 200, `{"result":["f1","x","f2","y"]}`)
	f.expect("POST", "/", `["HMGET","h","f1","nope"]`, 200, `{"result":["x",null]}`)
	f.expect("POST", "/", `["PING"]`, 200, `{"result":"PONG"}`)
	f.expect("POST", "/", `["SET","q","say \"hi\"\n\u00e9\u2028"]`, 200, `{"result":"OK"}`)
	f.expect("POST", "/", `["GET","q"]`, 200, `{"result":"say \"hi\"\né\u2028"}`)
	f.expect("POST", "/", `["ZADD","z","1.5","m"]`, 200, `{"result":1}`)
	f.expect("POST", "/", `["ZRANGE","z",0,-1,"WITHSCORES"]`, 200, `{"result":["m","1.5"]}`)
	// Errors are the Redis error text, with 400.
	f.expect("POST", "/", `["HGET","k","f"]`, 400, `{"error":"WRONGTYPE Operation against a key holding the wrong kind of value"}`)
	f.expect("POST", "/", `["NOSUCH","a"]`, 400, `{"error":"ERR unknown command 'NOSUCH', with args beginning with: 'a' "}`)
	f.expect("POST", "/", `["GET"]`, 400, `{"error":"ERR wrong number of arguments for 'get' command"}`)
	// SELECT lasts for the request only.
	f.expect("POST", "/pipeline", `[["SELECT",1],["SET","k","db1"],["GET","k"]]`, 200, `[{"result":"OK"},{"result":"OK"},{"result":"db1"}]`)
	f.expect("POST", "/", `["GET","k"]`, 200, `{"result":"v"}`)
	// HEAD runs the command and sends no body.
	res := f.do("HEAD", "/get/k", "")
	if res.status != 200 || res.body != "" {
		t.Fatalf("HEAD: %d %q", res.status, res.body)
	}
}

func TestPathStyle(t *testing.T) {
	f := newFixture(t, command.Config{}, nil)
	f.expect("GET", "/set/foo/bar", "", 200, `{"result":"OK"}`)
	f.expect("GET", "/get/foo", "", 200, `{"result":"bar"}`)
	f.expect("GET", "/GET/foo/", "", 200, `{"result":"bar"}`)
	// Segments are URL-decoded; an escaped slash stays in its argument.
	f.expect("GET", "/set/a%2Fb/x%20y%3F", "", 200, `{"result":"OK"}`)
	f.expect("POST", "/", `["GET","a/b"]`, 200, `{"result":"x y?"}`)
	f.expect("GET", "/mget/foo/a%2Fb/none", "", 200, `{"result":["bar","x y?",null]}`)
	// A body is the last argument, then the query parameters.
	f.expect("POST", "/set/doc", `{"name":"ferry","n":[1,2]}`, 200, `{"result":"OK"}`)
	f.expect("GET", "/get/doc", "", 200, `{"result":"{\"name\":\"ferry\",\"n\":[1,2]}"}`)
	f.expect("POST", "/set/ttl?EX=100", "value", 200, `{"result":"OK"}`)
	f.expect("GET", "/get/ttl", "", 200, `{"result":"value"}`)
	f.expect("GET", "/ttl/ttl", "", 200, `{"result":100}`)
	f.expect("PUT", "/set/nx?NX", "second", 200, `{"result":"OK"}`)
	f.expect("PUT", "/set/nx?NX", "third", 200, `{"result":null}`)
	f.expect("GET", "/get/nx", "", 200, `{"result":"second"}`)
	// Query parameters on a GET, token excluded.
	f.expect("GET", "/set/q/1?EX=50&_token="+testToken, "", 200, `{"result":"OK"}`, "Authorization", "")
	f.expect("GET", "/ttl/q", "", 200, `{"result":50}`)
	f.expect("GET", "/nosuch/x", "", 400, `{"error":"ERR unknown command 'nosuch', with args beginning with: 'x' "}`)
}

func TestPipeline(t *testing.T) {
	f := newFixture(t, command.Config{}, nil)
	f.expect("POST", "/pipeline", `[["SET","a","1"],["INCR","a"],["HGET","a","f"],["GET","a"],["NOSUCH"]]`, 200,
		`[{"result":"OK"},{"result":2},{"error":"WRONGTYPE Operation against a key holding the wrong kind of value"},{"result":"2"},`+
			`{"error":"ERR unknown command 'NOSUCH', with args beginning with: "}]`)
	// A long pipeline (replies past maxBatchOutput) runs whole, in order.
	var cmds []string
	want := []string{}
	val := strings.Repeat("x", 1000)
	for i := range 200 {
		cmds = append(cmds, `["SET","p`+strconv.Itoa(i)+`","`+val+`"]`, `["STRLEN","p`+strconv.Itoa(i)+`"]`, `["GET","p`+strconv.Itoa(i)+`"]`)
		want = append(want, `{"result":"OK"}`, `{"result":1000}`, `{"result":"`+val+`"}`)
	}
	f.expect("POST", "/pipeline", "["+strings.Join(cmds, ",")+"]", 200, "["+strings.Join(want, ",")+"]")
}

func TestMultiExec(t *testing.T) {
	f := newFixture(t, command.Config{}, nil)
	f.expect("POST", "/multi-exec", `[["SET","a","1"],["INCR","a"],["GET","a"]]`, 200, `[{"result":"OK"},{"result":2},{"result":"2"}]`)
	// An error while executing is that command's; the others apply.
	f.expect("POST", "/multi-exec", `[["SET","s","x"],["INCR","s"],["SET","t","y"]]`, 200,
		`[{"result":"OK"},{"error":"ERR value is not an integer or out of range"},{"result":"OK"}]`)
	f.expect("GET", "/get/t", "", 200, `{"result":"y"}`)
	// An error while queueing aborts the whole transaction.
	f.expect("POST", "/multi-exec", `[["SET","a","9"],["SET","a"],["INCR","a"]]`, 400,
		`{"error":"EXECABORT Transaction discarded because of previous errors: ERR wrong number of arguments for 'set' command"}`)
	f.expect("POST", "/multi-exec", `[["SET","a","9"],["NOSUCH"]]`, 400,
		`{"error":"EXECABORT Transaction discarded because of previous errors: ERR unknown command 'NOSUCH', with args beginning with: "}`)
	f.expect("GET", "/get/a", "", 200, `{"result":"2"}`)
	// Commands refused over HTTP are refused before anything runs.
	f.expect("POST", "/multi-exec", `[["SET","a","10"],["WATCH","a"]]`, 400,
		`{"error":"ERR 'watch' is not available over HTTP: send the commands of a transaction to POST /multi-exec (command 2)"}`)
	f.expect("GET", "/get/a", "", 200, `{"result":"2"}`)
	// Inside a transaction a blocking pop does not block, as in Redis.
	f.expect("POST", "/multi-exec", `[["BLPOP","nolist",0],["RPUSH","l","x"],["BLPOP","l",0]]`, 200,
		`[{"result":null},{"result":1},{"result":["l","x"]}]`)
}

func TestBase64(t *testing.T) {
	f := newFixture(t, command.Config{}, nil)
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	b64 := []string{"Upstash-Encoding", "base64"}
	f.expect("POST", "/", `["SET","k","h\u00e9llo"]`, 200, `{"result":"OK"}`, b64...)
	f.expect("POST", "/", `["GET","k"]`, 200, `{"result":"`+enc("héllo")+`"}`, b64...)
	f.expect("POST", "/", `["SET","ok","OK"]`, 200, `{"result":"OK"}`, b64...)
	// A bulk string OK is encoded; only the status OK is not.
	f.expect("POST", "/", `["GET","ok"]`, 200, `{"result":"`+enc("OK")+`"}`, b64...)
	f.expect("POST", "/", `["PING"]`, 200, `{"result":"`+enc("PONG")+`"}`, b64...)
	f.expect("POST", "/", `["GET","none"]`, 200, `{"result":null}`, b64...)
	f.expect("POST", "/", `["APPEND","k","!"]`, 200, `{"result":7}`, b64...)
	f.expect("POST", "/pipeline", `[["MGET","k","none"],["HGET","k","f"]]`, 200,
		`[{"result":["`+enc("héllo!")+`",null]},{"error":"WRONGTYPE Operation against a key holding the wrong kind of value"}]`, b64...)
	f.expect("POST", "/multi-exec", `[["SET","x","1"],["GET","x"]]`, 200, `[{"result":"OK"},{"result":"`+enc("1")+`"}]`, b64...)
	// Errors are never encoded.
	f.expect("POST", "/", `["NOSUCH"]`, 400, `{"error":"ERR unknown command 'NOSUCH', with args beginning with: "}`, b64...)
}

func TestBadInput(t *testing.T) {
	f := newFixture(t, command.Config{}, func(c *Config) { c.MaxBodyBytes = 1000 })
	unauthorized := `{"error":"Unauthorized"}`
	f.expect("POST", "/", `["PING"]`, 401, unauthorized, "Authorization", "")
	f.expect("POST", "/", `["PING"]`, 401, unauthorized, "Authorization", "Bearer wrong")
	f.expect("POST", "/", `["PING"]`, 401, unauthorized, "Authorization", "Basic "+testToken)
	f.expect("POST", "/", `["PING"]`, 401, unauthorized, "Authorization", "Bearer")
	f.expect("GET", "/ping?_token=wrong", "", 401, unauthorized, "Authorization", "")
	f.expect("GET", "/ping?_token="+testToken, "", 200, `{"result":"PONG"}`, "Authorization", "")
	f.expect("POST", "/", `["PING"]`, 200, `{"result":"PONG"}`, "Authorization", "bearer "+testToken)
	if res := f.do("POST", "/", `["PING"]`, "Authorization", ""); res.header.Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate")
	}

	bad := func(path, body, wantPrefix string) {
		t.Helper()
		res := f.do("POST", path, body)
		var got struct{ Error string }
		if res.status != 400 || json.Unmarshal([]byte(res.body), &got) != nil || !strings.HasPrefix(got.Error, wantPrefix) {
			t.Fatalf("POST %s %s: %d %s, want 400 with error %q...", path, body, res.status, res.body, wantPrefix)
		}
		if res.header.Get(SyncTokenHeader) != "" {
			t.Fatalf("POST %s %s: a sync token on a request that ran nothing", path, body)
		}
	}
	bad("/", `["SET","k"`, "ERR malformed JSON")
	bad("/", `{"cmd":"GET"}`, "ERR malformed JSON")
	bad("/", ``, "ERR malformed JSON")
	bad("/", `[]`, "ERR empty command")
	bad("/", `[""]`, "ERR empty command name")
	bad("/", `["SET","k",{"a":1}]`, "ERR command arguments must be strings or numbers")
	bad("/", `["SET","k",null]`, "ERR command arguments must be strings or numbers")
	bad("/pipeline", `[]`, "ERR empty array of commands")
	bad("/pipeline", `["GET","k"]`, "ERR malformed JSON")
	bad("/pipeline", `[["GET","k"],[]]`, "ERR empty command (command 2)")
	bad("/multi-exec", `[[1`, "ERR malformed JSON")
	bad("/", `["BLPOP","l",0]`, "ERR 'blpop' is not available over HTTP: it blocks")
	bad("/", `["SUBSCRIBE","ch"]`, "ERR 'subscribe' is not available over HTTP")
	bad("/", `["MONITOR"]`, "ERR 'monitor' is not available over HTTP")
	bad("/", `["MULTI"]`, "ERR 'multi' is not available over HTTP: send the commands of a transaction to POST /multi-exec")
	bad("/", `["WAIT",0,0]`, "ERR 'wait' is not available over HTTP")
	bad("/", `["HELLO","3"]`, "ERR 'hello' is not available over HTTP")
	bad("/", `["CLIENT","REPLY","OFF"]`, "ERR 'client' is not available over HTTP")
	bad("/pipeline", `[["SET","a","1"],["BRPOP","a",1]]`, "ERR 'brpop' is not available over HTTP: it blocks: use its non-blocking form (LPOP, RPOP, LMOVE, ZPOPMIN...) (command 2)")
	f.expect("GET", "/get/a", "", 200, `{"result":null}`) // nothing of the refused pipeline ran
	f.expect("GET", "/", "", 400, `{"error":"ERR no command: POST a JSON array such as [\"GET\",\"key\"], or GET /get/key"}`)
	f.expect("GET", "/pipeline", "", 405, `{"error":"ERR /pipeline takes a POST of a JSON array of commands"}`)
	f.expect("DELETE", "/del/k", "", 405, `{"error":"ERR method DELETE not allowed: use GET, HEAD, POST or PUT"}`)

	big := `["SET","k","` + strings.Repeat("x", 1000) + `"]`
	f.expect("POST", "/", big, 413, `{"error":"ERR request body larger than 1000 bytes"}`)
	f.expect("POST", "/set/k", strings.Repeat("x", 1001), 413, `{"error":"ERR request body larger than 1000 bytes"}`)
	f.expect("POST", "/set/k", strings.Repeat("x", 1000), 200, `{"result":"OK"}`)
}

func TestConfig(t *testing.T) {
	if _, err := New(newTestNode(command.Config{}), Config{}); err == nil {
		t.Fatal("New without a token succeeded")
	}
}

func TestReplica(t *testing.T) {
	f := newFixture(t, command.Config{Role: "slave"}, nil)
	e := f.node.e
	f.expect("POST", "/", `["GET","k"]`, 200, `{"result":null}`)
	f.expect("POST", "/", `["SET","k","v"]`, 400, `{"error":"READONLY You can't write against a read only replica."}`)
	f.expect("POST", "/pipeline", `[["GET","k"],["DEL","k"]]`, 200, `[{"result":null},{"error":"READONLY You can't write against a read only replica."}]`)
	f.expect("POST", "/multi-exec", `[["GET","k"],["DEL","k"]]`, 400,
		`{"error":"EXECABORT Transaction discarded because of previous errors: READONLY You can't write against a read only replica."}`)

	e.Lock()
	e.SetLoading(true)
	e.Unlock()
	f.expect("POST", "/", `["GET","k"]`, 503, `{"error":"LOADING Redis is loading the dataset in memory"}`)
	f.expect("POST", "/pipeline", `[["PING"],["GET","k"]]`, 503, `{"error":"LOADING Redis is loading the dataset in memory"}`)
	e.Lock()
	e.SetLoading(false)
	e.SetMasterDown(true)
	e.Unlock()
	f.expect("GET", "/get/k", "", 503, `{"error":"MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."}`)
	e.Lock()
	e.SetMasterDown(false)
	e.Unlock()
	f.expect("GET", "/get/k", "", 200, `{"result":null}`)
}

func TestSyncToken(t *testing.T) {
	f := newFixture(t, command.Config{}, func(c *Config) { c.SyncTimeout = 100 * time.Millisecond })
	res := f.expect("POST", "/", `["SET","k","v"]`, 200, `{"result":"OK"}`)
	if got := res.header.Get(SyncTokenHeader); got != "1" {
		t.Fatalf("sync token after the first write: %q, want 1", got)
	}
	res = f.expect("POST", "/pipeline", `[["SET","a","1"],["GET","a"],["INCR","a"]]`, 200, `[{"result":"OK"},{"result":"1"},{"result":2}]`)
	if got := res.header.Get(SyncTokenHeader); got != "3" {
		t.Fatalf("sync token after three writes: %q, want 3", got)
	}
	// Reads carry the offset too.
	res = f.expect("GET", "/get/a", "", 200, `{"result":"2"}`)
	if got := res.header.Get(SyncTokenHeader); got != "3" {
		t.Fatalf("sync token of a read: %q, want 3", got)
	}
	// A token the node has reached is served at once; an empty one (what
	// @upstash/redis sends first) is no token.
	f.expect("GET", "/get/a", "", 200, `{"result":"2"}`, SyncTokenHeader, "3")
	f.expect("GET", "/get/a", "", 200, `{"result":"2"}`, SyncTokenHeader, " ")
	// One it does not reach in time: 503, and nothing ran.
	start := time.Now()
	f.expect("POST", "/", `["SET","late","1"]`, 503,
		`{"error":"ERR sync token not reached: this node has applied offset 3, the request needs 9 (waited 100ms)"}`, SyncTokenHeader, "9")
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("gave up after %v", d)
	}
	f.expect("GET", "/exists/late", "", 200, `{"result":0}`)
	// One it reaches while waiting.
	f2 := newFixture(t, command.Config{}, func(c *Config) { c.SyncTimeout = 10 * time.Second })
	go func() {
		time.Sleep(30 * time.Millisecond)
		f2.node.setOffset(7)
	}()
	res = f2.expect("GET", "/ping", "", 200, `{"result":"PONG"}`, SyncTokenHeader, "7")
	if got := res.header.Get(SyncTokenHeader); got != "7" {
		t.Fatalf("sync token: %q, want 7", got)
	}
	f.expect("GET", "/get/a", "", 400, `{"error":"ERR invalid upstash-sync-token \"abc\": want the decimal log offset a ferry reply carried"}`, SyncTokenHeader, "abc")
}

func TestAck(t *testing.T) {
	f := newFixture(t, command.Config{}, nil)
	f.expect("POST", "/", `["SET","k","v"]`, 200, `{"result":"OK"}`)
	f.expect("POST", "/", `["GET","k"]`, 200, `{"result":"v"}`)
	f.expect("POST", "/multi-exec", `[["SET","k","w"],["SET","j","x"]]`, 200, `[{"result":"OK"},{"result":"OK"}]`)
	f.node.mu.Lock()
	acks := append([]uint64(nil), f.node.acks...)
	f.node.ackErr = errors.New("log unreachable")
	f.node.mu.Unlock()
	// Every request waits for the units it saw: a read waits for the
	// write before it, a transaction is one unit.
	if want := []uint64{1, 1, 2}; len(acks) != 3 || acks[0] != want[0] || acks[1] != want[1] || acks[2] != want[2] {
		t.Fatalf("Ack needs %v, want %v", acks, want)
	}
	res := f.do("POST", "/", `["SET","k","lost"]`)
	if res.status != 503 || !strings.Contains(res.body, "did not confirm") || strings.Contains(res.body, "result") {
		t.Fatalf("write whose ack failed: %d %s", res.status, res.body)
	}
	if res.header.Get(SyncTokenHeader) != "" {
		t.Fatal("sync token on a write the log did not confirm")
	}
}

// TestConcurrent runs clients in parallel (for -race): every INCR is
// counted once.
func TestConcurrent(t *testing.T) {
	f := newFixture(t, command.Config{}, nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				res := f.do("POST", "/pipeline", `[["INCR","n"],["GET","n"]]`)
				if res.status != 200 {
					t.Errorf("%d %s", res.status, res.body)
					return
				}
			}
		})
	}
	wg.Wait()
	f.expect("GET", "/get/n", "", 200, `{"result":"400"}`)
	res := f.do("POST", "/", `["INFO","clients"]`)
	if !strings.Contains(res.body, `connected_clients:1\r\n`) {
		t.Fatalf("HTTP clients left registered: %s", res.body)
	}
}
