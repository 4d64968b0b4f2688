package rdb

import (
	"sort"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
)

// TestRestoreZsetListpackLikeRedis restores sorted sets that redis-server
// dumped as listpacks into ferry and into redis-server, and requires the
// same replies from both afterwards: the encoding (a member longer than
// zset-max-listpack-value stays in the listpack, as Redis converts a
// compact payload only for its number of members), ZSCAN's score texts
// (integers past 2^52, -0 written as 0, d2string's decimals), the order
// of equal scores, ZRANDMEMBER of the whole set (the listpack's order),
// lex ranges over differing scores (a listpack is walked in order) and
// what later ZADDs do to the encoding.
func TestRestoreZsetListpackLikeRedis(t *testing.T) {
	redistest.Need(t, "redis-server")
	r := redistest.Dial(t, redistest.Redis(t))
	_, f := ferryConn(t, command.Config{})
	long, longer := strings.Repeat("L", 80), strings.Repeat("M", 300)
	cases := []struct {
		name  string
		setup [][]string
		after [][]string
	}{
		{"scores", [][]string{{"ZADD", "src", "1e17", "a", "0.1", "b", "1.5", "c", "9007199254740992", "d", "5e15", "e",
			"4503599627370496", "g", "4503599627370495", "h", "-4503599627370495", "i", "-4503599627370496", "j", "1e300", "k", "-2.5e-7", "l"}}, nil},
		{"negative zero", [][]string{{"ZADD", "src", "0", "a"}, {"ZINCRBY", "src", "-0", "b"}, {"ZADD", "src", "-0", "c"}}, nil},
		{"equal scores", [][]string{{"ZADD", "src", "1", "b", "1", "a", "1", "c", "2", "A", "1", "", "1", "\x00", "2", "\xff"}}, nil},
		{"long member", [][]string{
			{"CONFIG", "SET", "zset-max-listpack-value", "1000"},
			{"ZADD", "src", "1", long, "1", "a", "2", "b", "3", longer, "0", "c"},
			{"CONFIG", "SET", "zset-max-listpack-value", "64"},
		}, [][]string{
			{"ZRANGEBYLEX", "dst", "[b", "+"}, {"ZLEXCOUNT", "dst", "-", "(M"}, {"ZREMRANGEBYLEX", "dst", "(a", "[c"},
			{"OBJECT", "ENCODING", "dst"}, {"ZSCAN", "dst", "0"},
			{"ZADD", "dst", "5", "short"}, {"OBJECT", "ENCODING", "dst"},
			{"ZADD", "dst", "6", strings.Repeat("N", 65)}, {"OBJECT", "ENCODING", "dst"}, {"ZSCAN", "dst", "0", "COUNT", "100"},
		}},
		{"too many members", [][]string{
			{"ZADD", "src", "1", "a", "2", "b", "3", "c", "4", "d"},
			{"CONFIG", "SET", "zset-max-listpack-entries", "3"},
		}, [][]string{{"ZRANGE", "dst", "0", "-1", "WITHSCORES"}}},
	}
	for _, tc := range cases {
		for _, c := range [][]string{{"DEL", "src", "dst"}, {"CONFIG", "SET", "zset-max-listpack-entries", "128"}} {
			r.Do(c...)
			f.Do(c...)
		}
		for _, c := range tc.setup {
			if w := r.Do(c...); w[0] == '-' {
				t.Fatalf("%s: redis-server: %q: %q", tc.name, c, w)
			}
			if c[0] == "CONFIG" {
				f.Do(c...)
			}
		}
		if enc := r.Do("OBJECT", "ENCODING", "src"); enc != "$8\r\nlistpack\r\n" {
			t.Fatalf("%s: redis-server's source is %q", tc.name, enc)
		}
		dump := r.Do("DUMP", "src")
		payload := dump[strings.Index(dump, "\r\n")+2 : len(dump)-2]
		cmds := append([][]string{
			{"RESTORE", "dst", "0", payload}, {"OBJECT", "ENCODING", "dst"}, {"ZSCAN", "dst", "0"},
			{"ZRANGE", "dst", "0", "-1", "WITHSCORES"}, {"DEBUG", "DIGEST-VALUE", "dst"}, {"ZRANDMEMBER", "dst", "100", "WITHSCORES"},
		}, tc.after...)
		cmds = append(cmds, []string{"ZADD", "dst", "5", "short"}, []string{"OBJECT", "ENCODING", "dst"},
			[]string{"ZSCAN", "dst", "0"}, []string{"DEBUG", "DIGEST-VALUE", "dst"})
		for _, c := range cmds {
			w, g := r.Do(c...), f.Do(c...)
			if c[0] == "ZSCAN" && r.Do("OBJECT", "ENCODING", "dst") == "$8\r\nskiplist\r\n" {
				// a skiplist set's order comes from its hash table
				w, g = zscanPairs(w), zscanPairs(g)
			}
			if w != g {
				t.Errorf("%s: %q:\n ferry %q\n redis %q", tc.name, c, g, w)
			}
		}
	}
	r.Do("CONFIG", "SET", "zset-max-listpack-entries", "128")
}

// zscanPairs returns a one-call ZSCAN reply (cursor 0, members without
// CR LF) with its member and score pairs sorted.
func zscanPairs(raw string) string {
	lines := strings.Split(strings.TrimSuffix(raw, "\r\n"), "\r\n")
	if len(lines) < 4 {
		return raw
	}
	var pairs []string
	for i := 4; i+3 < len(lines); i += 4 {
		pairs = append(pairs, strings.Join(lines[i:i+4], "\r\n"))
	}
	sort.Strings(pairs)
	return strings.Join(lines[:4], "\r\n") + "\r\n" + strings.Join(pairs, "\r\n")
}

// TestRestoreZsetScoreTexts restores listpacks and ziplists whose scores
// are texts Redis itself would not write (as another writer or an older
// Redis may have), into ferry and redis-server: ZSCAN replies each text as
// stored until the member's score changes, as Redis does, and every other
// reply and digest matches too.
func TestRestoreZsetScoreTexts(t *testing.T) {
	redistest.Need(t, "redis-server")
	r := redistest.Dial(t, redistest.Redis(t))
	_, f := ferryConn(t, command.Config{})
	// in order (ferry sorts a payload's entries, Redis keeps their order:
	// README.md)
	entries := []any{"l", "-4611686018427387904", "e", "-0.0", "m", "5e-324", "j", "0.10000000000000001", "a", "1.50",
		"h", "2.5", "f", "3.0", "c", "+5", "i", int64(7), "d", "1E3", "b", "1e+17", "k", "100000000000000000",
		"g", int64(9223372036854775807)}
	payloads := map[string]string{}
	{
		var w rawRDB
		w.WriteByte(typeZSetListpack)
		w.str(buildListpack(entries...))
		payloads["listpack"] = payloadOf(w.Bytes(), 10)
	}
	{
		var w rawRDB
		w.WriteByte(typeZSetZiplist)
		w.str(buildZiplist(entries...))
		payloads["ziplist"] = payloadOf(w.Bytes(), 9)
	}
	for name, p := range payloads {
		for _, c := range [][]string{
			{"DEL", "z", "c"}, {"RESTORE", "z", "0", p}, {"OBJECT", "ENCODING", "z"}, {"ZSCAN", "z", "0"},
			{"ZRANGE", "z", "0", "-1", "WITHSCORES"}, {"DEBUG", "DIGEST-VALUE", "z"},
			{"ZINCRBY", "z", "0", "a"}, {"ZADD", "z", "XX", "1e17", "b"}, {"ZADD", "z", "GT", "1", "d"}, {"ZSCAN", "z", "0"},
			{"ZINCRBY", "z", "1", "a"}, {"ZADD", "z", "6", "c"}, {"ZREM", "z", "d"}, {"ZADD", "z", "1000", "d"},
			{"ZPOPMIN", "z"}, {"ZSCAN", "z", "0", "MATCH", "[a-h]"},
			{"COPY", "z", "c"}, {"ZSCAN", "c", "0"},
			{"ZREMRANGEBYSCORE", "z", "2", "3"}, {"ZSCAN", "z", "0"}, {"DEBUG", "DIGEST-VALUE", "z"},
			{"CONFIG", "SET", "zset-max-listpack-entries", "3"}, {"ZADD", "z", "2", "new"}, {"OBJECT", "ENCODING", "z"},
			{"ZRANGE", "z", "0", "-1", "WITHSCORES"}, {"CONFIG", "SET", "zset-max-listpack-entries", "128"},
		} {
			w, g := r.Do(c...), f.Do(c...)
			if c[0] == "ZSCAN" && r.Do("OBJECT", "ENCODING", c[1]) == "$8\r\nskiplist\r\n" {
				w, g = zscanPairs(w), zscanPairs(g)
			}
			if w != g {
				t.Errorf("%s: %q:\n ferry %q\n redis %q", name, c, g, w)
			}
		}
	}
}
