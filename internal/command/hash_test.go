package command_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// hrandPairs splits an HRANDFIELD WITHVALUES reply into fields and values:
// a flat array in RESP2, an array of pairs in RESP3.
func hrandPairs(t *testing.T, r hsNode, proto int) (fields, values []string) {
	t.Helper()
	if r.kind != '*' {
		t.Fatalf("reply kind %c", r.kind)
	}
	if proto == 2 {
		if len(r.elems)%2 != 0 {
			t.Fatalf("odd RESP2 reply of %d elements", len(r.elems))
		}
		for i := 0; i < len(r.elems); i += 2 {
			fields = append(fields, r.elems[i].str)
			values = append(values, r.elems[i+1].str)
		}
		return fields, values
	}
	for _, p := range r.elems {
		if p.kind != '*' || len(p.elems) != 2 {
			t.Fatalf("RESP3 pair %+v", p)
		}
		fields = append(fields, p.elems[0].str)
		values = append(values, p.elems[1].str)
	}
	return fields, values
}

func TestHrandfieldCounts(t *testing.T) {
	for _, size := range []int{10, 1000} {
		for _, proto := range []int{2, 3} {
			h := newHSEngine(proto)
			args := []string{"HSET", "h"}
			universe := map[string]bool{}
			for i := 0; i < size; i++ {
				f := "f" + strconv.Itoa(i)
				args = append(args, f, "v"+strconv.Itoa(i))
				universe[f] = true
			}
			h.do(args...)
			for _, n := range []int{1, 2, 3, 4, 9, size / 3, size/3 + 1, size - 1, size, size + 1, 3000} {
				what := fmt.Sprintf("RESP%d HRANDFIELD %d of %d", proto, n, size)
				r := hsParse(t, h.do("HRANDFIELD", "h", strconv.Itoa(n)))
				checkDistinctMembers(t, what, r.strs(), min(n, size), universe)

				fields, values := hrandPairs(t, hsParse(t, h.do("HRANDFIELD", "h", strconv.Itoa(n), "WITHVALUES")), proto)
				checkDistinctMembers(t, what+" WITHVALUES", fields, min(n, size), universe)
				for i, f := range fields {
					if values[i] != "v"+f[1:] {
						t.Fatalf("%s WITHVALUES: %s=%s", what, f, values[i])
					}
				}

				fields, values = hrandPairs(t, hsParse(t, h.do("HRANDFIELD", "h", strconv.Itoa(-n), "WITHVALUES")), proto)
				if len(fields) != n {
					t.Fatalf("%s negative: %d fields", what, len(fields))
				}
				for i, f := range fields {
					if !universe[f] || values[i] != "v"+f[1:] {
						t.Fatalf("%s negative: %s=%s", what, f, values[i])
					}
				}
				r = hsParse(t, h.do("HRANDFIELD", "h", strconv.Itoa(-n)))
				if len(r.elems) != n {
					t.Fatalf("%s negative without values: %d", what, len(r.elems))
				}
			}
			if size == 10 {
				r := hsParse(t, h.do("HRANDFIELD", "h", "-300"))
				seen := map[string]bool{}
				for _, f := range r.strs() {
					seen[f] = true
				}
				if len(seen) < 2 || len(seen) > 10 {
					t.Fatalf("negative count: %d distinct", len(seen))
				}
			}
			if r := hsParse(t, h.do("HRANDFIELD", "h")); r.kind != '$' || !universe[r.str] {
				t.Fatalf("HRANDFIELD: %+v", r)
			}
			if got := h.effects(); len(got) != 1 {
				t.Fatalf("HRANDFIELD propagated: %q", got)
			}
		}
	}
}

// TestHashPropagation checks the effects of the hash writes.
func TestHashPropagation(t *testing.T) {
	h := newHSEngine(2)
	steps := []struct {
		cmd  []string
		want []string
	}{
		{[]string{"HSET", "h", "f", "1"}, []string{"HSET h f 1"}},
		{[]string{"HSET", "h", "f", "1"}, []string{"HSET h f 1"}},
		{[]string{"HMSET", "h", "g", "2"}, []string{"HMSET h g 2"}},
		{[]string{"HSETNX", "h", "f", "x"}, nil},
		{[]string{"HSETNX", "h", "n", "x"}, []string{"HSETNX h n x"}},
		{[]string{"HINCRBY", "h", "f", "5"}, []string{"HINCRBY h f 5"}},
		{[]string{"HINCRBY", "h", "n", "5"}, nil},
		{[]string{"HINCRBYFLOAT", "h", "f", "0.5"}, []string{"HSET h f 6.5"}},
		{[]string{"HINCRBYFLOAT", "h", "z", "1e2"}, []string{"HSET h z 100"}},
		{[]string{"HINCRBYFLOAT", "h", "f", "abc"}, nil},
		{[]string{"HDEL", "h", "nosuch"}, nil},
		{[]string{"HDEL", "h", "f", "nosuch"}, []string{"HDEL h f nosuch"}},
		{[]string{"HDEL", "nokey", "f"}, nil},
		{[]string{"HGET", "h", "g"}, nil},
		{[]string{"HRANDFIELD", "h", "-3", "WITHVALUES"}, nil},
		{[]string{"HSCAN", "h", "0"}, nil},
	}
	for _, s := range steps {
		h.do(s.cmd...)
		if got := h.effects(); strings.Join(got, "|") != strings.Join(s.want, "|") {
			t.Errorf("%q propagated %q, want %q", s.cmd, got, s.want)
		}
	}
}

// TestHashScanHashtable iterates a hashtable hash with HSCAN until the
// cursor comes back to 0: every field seen, with its value, MATCH honoured.
func TestHashScanHashtable(t *testing.T) {
	h := newHSEngine(3)
	args := []string{"HSET", "h"}
	for i := 0; i < 2000; i++ {
		args = append(args, "f"+strconv.Itoa(i), strconv.Itoa(i))
	}
	h.do(args...)
	for _, count := range []string{"1", "7", "1000"} {
		for _, match := range []string{"", "f1?"} {
			seen := map[string]bool{}
			cursor := "0"
			for calls := 0; ; calls++ {
				a := []string{"HSCAN", "h", cursor, "COUNT", count}
				if match != "" {
					a = append(a, "MATCH", match)
				}
				r := hsParse(t, h.do(a...))
				cursor = r.elems[0].str
				kv := r.elems[1].strs()
				if len(kv)%2 != 0 {
					t.Fatalf("odd HSCAN element count %d", len(kv))
				}
				for i := 0; i < len(kv); i += 2 {
					if "f"+kv[i+1] != kv[i] {
						t.Fatalf("pair %s=%s", kv[i], kv[i+1])
					}
					if match != "" && (len(kv[i]) != 3 || kv[i][1] != '1') {
						t.Fatalf("MATCH %s returned %s", match, kv[i])
					}
					seen[kv[i]] = true
				}
				if cursor == "0" {
					break
				}
				if calls > 100000 {
					t.Fatal("HSCAN does not terminate")
				}
			}
			want := 2000
			if match != "" {
				want = 10
			}
			if len(seen) != want {
				t.Fatalf("COUNT %s MATCH %q: saw %d fields, want %d", count, match, len(seen), want)
			}
		}
	}
}

// TestHashScanHugeCount checks huge COUNTs, whose arithmetic wraps around as
// Redis's C longs do.
func TestHashScanHugeCount(t *testing.T) {
	h := newHSEngine(2)
	args := []string{"HSET", "h"}
	for i := 0; i < 1000; i++ {
		args = append(args, "f"+strconv.Itoa(i), "v")
	}
	h.do(args...)
	h.do(append([]string{"SADD", "s"}, hsSeq("m", 1000)...)...)
	const huge = "9223372036854775807"
	r := hsParse(t, h.do("HSCAN", "h", "0", "COUNT", huge))
	if r.elems[0].str != "0" || len(r.elems[1].elems) != 2000 {
		t.Fatalf("HSCAN COUNT %s: cursor %s, %d elements", huge, r.elems[0].str, len(r.elems[1].elems))
	}
	r = hsParse(t, h.do("SSCAN", "s", "0", "COUNT", huge))
	if r.elems[0].str != "0" || len(r.elems[1].elems) != 1000 {
		t.Fatalf("SSCAN COUNT %s: cursor %s, %d elements", huge, r.elems[0].str, len(r.elems[1].elems))
	}
	// 2^62 doubled is 2^63, and ten times that wraps to 0 iterations left:
	// Redis stops after a single bucket (a non-zero cursor).
	r = hsParse(t, h.do("HSCAN", "h", "0", "COUNT", "4611686018427387904"))
	if r.elems[0].str == "0" || len(r.elems[1].elems) > 20 {
		t.Fatalf("HSCAN COUNT 2^62: cursor %s, %d elements", r.elems[0].str, len(r.elems[1].elems))
	}
}

// TestHashRandomAgainstRedis compares the shape of HRANDFIELD replies with a
// real redis-server.
func TestHashRandomAgainstRedis(t *testing.T) {
	redis := redistest.Dial(t, redistest.Redis(t))
	_, addr := redistest.Ferry(t, command.Config{})
	ferry := redistest.Dial(t, addr)
	for _, c := range []*redistest.Conn{redis, ferry} {
		for _, key := range []string{"small", "big"} {
			n := 20
			if key == "big" {
				n = 600
			}
			args := []string{"HSET", key}
			for i := 0; i < n; i++ {
				args = append(args, "f"+strconv.Itoa(i), strconv.Itoa(i))
			}
			c.Do(args...)
		}
	}
	for _, proto := range []string{"2", "3"} {
		redis.Do("HELLO", proto)
		ferry.Do("HELLO", proto)
		for _, key := range []string{"small", "big"} {
			for _, n := range []string{"1", "5", "19", "599", "-3", "-50"} {
				for _, wv := range [][]string{nil, {"WITHVALUES"}} {
					a := append([]string{"HRANDFIELD", key, n}, wv...)
					w := hsParse(t, redis.Do(a...))
					g := hsParse(t, ferry.Do(a...))
					if w.kind != g.kind || len(w.elems) != len(g.elems) {
						t.Errorf("RESP%s %q: ferry %c%d redis %c%d", proto, a, g.kind, len(g.elems), w.kind, len(w.elems))
					}
					if len(w.elems) > 0 && len(g.elems) > 0 && w.elems[0].kind != g.elems[0].kind {
						t.Errorf("RESP%s %q: element kinds ferry %c redis %c", proto, a, g.elems[0].kind, w.elems[0].kind)
					}
				}
			}
		}
	}
}
