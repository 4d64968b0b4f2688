package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
)

// FuzzParse feeds arbitrary bodies, paths and queries to the request
// parsers: they never panic, refuse with a 400 error or return commands
// that are never empty, and a JSON command they accept keeps its strings
// byte for byte.
func FuzzParse(f *testing.F) {
	for _, seed := range []struct{ path, body, query string }{
		{"/", `["SET","k","v"]`, ""},
		{"/pipeline", `[["INCR","n"],["GET","k"],["HSET","h","f",1]]`, ""},
		{"/set/k/v", "", "EX=10&_token=x"},
		{"/set/k%2Fslash/", "body", "NX"},
		{"/", `[1,true,null,{"a":1},[2]]`, ""},
		{"/%zz", "", "%zz=%"},
		{"/", "\x00\xff", ""},
		{"/pipeline", `[[]]`, ""},
	} {
		f.Add(seed.path, seed.body, seed.query)
	}
	f.Fuzz(func(t *testing.T, path, body, query string) {
		check := func(what string, cmds [][][]byte, err error) {
			if err != nil {
				var ae *apiError
				if !errors.As(err, &ae) || ae.status != http.StatusBadRequest || !strings.HasPrefix(ae.msg, "ERR ") {
					t.Fatalf("%s: error %v is not a 400 ERR", what, err)
				}
				return
			}
			for _, c := range cmds {
				if len(c) == 0 || len(c[0]) == 0 {
					t.Fatalf("%s: accepted an empty command: %q", what, cmds)
				}
			}
		}
		cmd, err := parseCommand([]byte(body))
		check("parseCommand", [][][]byte{cmd}, err)
		if err == nil {
			var strs []any
			if json.Unmarshal([]byte(body), &strs) == nil {
				for i, v := range strs {
					if s, ok := v.(string); ok && s != string(cmd[i]) {
						t.Fatalf("argument %d: %q became %q", i, s, cmd[i])
					}
				}
			}
		}
		cmds, err := parseCommands([]byte(body))
		check("parseCommands", cmds, err)
		cmd, err = parsePath("/"+strings.TrimPrefix(path, "/"), []byte(body), query)
		check("parsePath", [][][]byte{cmd}, err)
	})
}

// FuzzRequest sends arbitrary paths and bodies through the handler on a
// fresh engine: it never panics, answers with one of the API's statuses,
// and every body is JSON in the Upstash shape.
func FuzzRequest(f *testing.F) {
	for _, seed := range []struct{ path, body string }{
		{"/", `["SET","k","v"]`},
		{"/pipeline", `[["INCR","n"],["GET","k"],["HSET","h","f",1]]`},
		{"/multi-exec", `[["SET","a","1"],["INCR","a"],["LPUSH","a","x"]]`},
		{"/get/k", ""},
		{"/set/k?EX=10", "body"},
		{"/", `["SET"]`},
		{"/", `{"a":1}`},
		{"/", `["BLPOP","l","0"]`},
		{"/%zz", ""},
	} {
		f.Add(seed.path, seed.body)
	}
	allowed := map[int]bool{200: true, 400: true, 405: true, 413: true, 503: true}
	f.Fuzz(func(t *testing.T, path, body string) {
		h, err := New(newTestNode(command.Config{}), Config{Token: testToken, MaxBodyBytes: 1 << 12})
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest(http.MethodPost, "http://ferry/"+strings.TrimPrefix(path, "/"), strings.NewReader(body))
		if err != nil {
			return // not a URL net/http would hand to a handler
		}
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if !allowed[rec.Code] {
			t.Fatalf("POST %q %q: status %d %s", path, body, rec.Code, rec.Body)
		}
		var v any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("POST %q %q: status %d, body not JSON: %q", path, body, rec.Code, rec.Body)
		}
		switch v := v.(type) {
		case map[string]any:
			_, r := v["result"]
			_, e := v["error"]
			if r == e {
				t.Fatalf("POST %q %q: body %s has not exactly one of result and error", path, body, rec.Body)
			}
		case []any:
			if rec.Code != 200 {
				t.Fatalf("POST %q %q: an array body with status %d", path, body, rec.Code)
			}
		default:
			t.Fatalf("POST %q %q: body %s", path, body, rec.Body)
		}
	})
}
