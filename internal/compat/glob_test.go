package compat

import (
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/redistest"
	"github.com/ferrydb/ferry/internal/resp"
)

// TestGlobLikeRedis: KEYS with random patterns ('*', '?', classes with
// '^' and ranges, escapes, unterminated classes) over random keys returns
// the same keys from ferry as from redis-server, and Redis's regression
// patterns for nested stars ("a*a*...*b" against a long run of a's), which
// take exponential time without Redis's skip of longer matches, answer at
// once on both.
func TestGlobLikeRedis(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	const alphabet = "abAB?*[]^-\\x"
	word := func(n int) string {
		b := make([]byte, rng.IntN(n+1))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	_, faddr := redistest.Ferry(t, command.Config{})
	f, r := redistest.Dial(t, faddr), redistest.Dial(t, redistest.Redis(t))
	keys := map[string]bool{}
	for range 300 {
		keys[word(6)] = true
	}
	keys[strings.Repeat("a", 60)] = true
	for _, c := range []*redistest.Conn{f, r} {
		var req []byte
		for k := range keys {
			req = resp.AppendCommand(req, []byte("SET"), []byte(k), []byte("1"))
		}
		c.WriteRaw(req)
		for range keys {
			if got := c.Read(); got != "+OK\r\n" {
				t.Fatalf("SET: %q", got)
			}
		}
	}
	patterns := []string{
		strings.Repeat("a*", 30) + "b",
		strings.Repeat("*a", 40) + "*b*",
		strings.Repeat("a*", 30) + "a",
	}
	for range 400 {
		patterns = append(patterns, word(7))
	}
	sorted := func(reply string) string {
		lines := strings.Split(reply, "\r\n")
		sort.Strings(lines)
		return strings.Join(lines, "\n")
	}
	for _, p := range patterns {
		got, want := f.Do("KEYS", p), r.Do("KEYS", p)
		if sorted(got) != sorted(want) {
			t.Fatalf("KEYS %q:\n ferry %q\n redis %q", p, got, want)
		}
	}
}
