package httpapi

import (
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
)

// TestPipelineReplyBound: a pipeline stops running commands once its
// replies pass the bound (the RESP server writes them out as it goes; HTTP
// holds them all), so a small request cannot make the node buffer
// gigabytes: 200 GETs of a 1 MiB value asked for 200 MiB.
func TestPipelineReplyBound(t *testing.T) {
	const bound = 4 << 20
	f := newFixture(t, command.Config{}, nil)
	f.expect("POST", "/set/big", strings.Repeat("x", 1<<20), 200, `{"result":"OK"}`)
	f.expect("POST", "/set/small", "s", 200, `{"result":"OK"}`)
	h := f.srv.Config.Handler.(*Handler)
	h.maxReply = bound

	var cmds []string
	for range 200 {
		cmds = append(cmds, `["GET","big"]`)
	}
	cmds = append(cmds, `["SET","after","1"]`)
	res := f.do("POST", "/pipeline", "["+strings.Join(cmds, ",")+"]")
	if res.status != 200 {
		t.Fatalf("status %d", res.status)
	}
	if len(res.body) > 2*bound {
		t.Fatalf("a %d-byte answer: the replies were not bounded", len(res.body))
	}
	notRun := `{"error":"ERR the command was not run: the replies of this request passed 4194304 bytes; send the rest in another request"}`
	if !strings.HasSuffix(res.body, ","+notRun+"]") || !strings.HasPrefix(res.body, `[{"result":"xxx`) {
		t.Fatalf("answer %.200s ... %.300s", res.body, res.body[max(0, len(res.body)-300):])
	}
	// What was not run did not run.
	f.expect("GET", "/exists/after", "", 200, `{"result":0}`)
	// One reply larger than the bound is answered whole, as over RESP.
	h.maxReply = 1000
	f.expect("POST", "/pipeline", `[["GET","small"],["STRLEN","big"]]`, 200, `[{"result":"s"},{"result":1048576}]`)
	res = f.do("POST", "/", `["GET","big"]`)
	if res.status != 200 || len(res.body) != len(`{"result":""}`)+1<<20 {
		t.Fatalf("GET big with a small bound: %d, %d bytes", res.status, len(res.body))
	}
	// A transaction runs whole whatever its replies.
	res = f.do("POST", "/multi-exec", `[["GET","big"],["GET","big"],["SET","tx","1"]]`)
	if res.status != 200 || !strings.HasSuffix(res.body, `{"result":"OK"}]`) {
		t.Fatalf("multi-exec: %d %.100s", res.status, res.body)
	}
}
