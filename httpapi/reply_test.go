package httpapi

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

func TestReplyJSON(t *testing.T) {
	for _, tc := range []struct {
		resp, json, b64 string
	}{
		{"+OK\r\n", `"OK"`, `"OK"`},
		{"+PONG\r\n", `"PONG"`, `"UE9ORw=="`},
		{":-12\r\n", `-12`, `-12`},
		{"$4\r\na\r\nb\r\n", `"a\r\nb"`, `"YQ0KYg=="`},
		{"$0\r\n\r\n", `""`, `""`},
		{"$-1\r\n", `null`, `null`},
		{"*-1\r\n", `null`, `null`},
		{"*0\r\n", `[]`, `[]`},
		{"*3\r\n$1\r\na\r\n*2\r\n:1\r\n$-1\r\n-ERR x\r\n", `["a",[1,null],"ERR x"]`, `["YQ==",[1,null],"RVJSIHg="]`},
		// RESP3 types, should a reply use them.
		{"_\r\n", `null`, `null`},
		{"#t\r\n", `1`, `1`},
		{"#f\r\n", `0`, `0`},
		{",1.5\r\n", `"1.5"`, `"MS41"`},
		{"%1\r\n$1\r\nk\r\n:2\r\n", `["k",2]`, `["aw==",2]`},
		{"~1\r\n$1\r\nm\r\n", `["m"]`, `["bQ=="]`},
		{"=8\r\ntxt:abcd\r\n", `"abcd"`, `"YWJjZA=="`},
		{"(123\r\n", `"123"`, `"MTIz"`},
	} {
		r, rest, err := parseReply([]byte(tc.resp))
		if err != nil || len(rest) != 0 {
			t.Fatalf("%q: %v, rest %q", tc.resp, err, rest)
		}
		if got := string(r.appendJSON(nil, false)); got != tc.json {
			t.Errorf("%q: %s, want %s", tc.resp, got, tc.json)
		}
		if got := string(r.appendJSON(nil, true)); got != tc.b64 {
			t.Errorf("%q base64: %s, want %s", tc.resp, got, tc.b64)
		}
	}
	for _, bad := range []string{"", "$5\r\nab\r\n", "*2\r\n:1\r\n", ":x\r\n", "?\r\n", "+OK"} {
		if _, _, err := parseReply([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestAppendString checks the JSON string encoder against encoding/json on
// random bytes, valid UTF-8 or not: same decoded value.
func TestAppendString(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab\"\\\n\r\t\x00\x01\x1f\x7f\x80\xff<>&")
	alphabet = append(alphabet, "é€\u2028\u2029😀"...)
	for range 5000 {
		s := make([]byte, rng.IntN(20))
		for i := range s {
			s[i] = alphabet[rng.IntN(len(alphabet))]
		}
		got := appendString(nil, s)
		var a, b string
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("%q -> %s: not JSON: %v", s, got, err)
		}
		want, _ := json.Marshal(string(s))
		json.Unmarshal(want, &b)
		if a != b {
			t.Fatalf("%q: decodes to %q, encoding/json's to %q", s, a, b)
		}
		if bytes.Contains(got, []byte("\u2028")) {
			t.Fatalf("%q: raw U+2028 in %s", s, got)
		}
	}
}
