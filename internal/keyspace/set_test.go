package keyspace_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/redistest"
)

func setMembers(s *keyspace.Set) []string {
	var out []string
	s.Range(func(m []byte) bool {
		out = append(out, string(m))
		return true
	})
	return out
}

func TestSetIntsetSorted(t *testing.T) {
	lim := keyspace.DefaultLimits
	s := keyspace.NewSet()
	for _, m := range []string{"5", "-3", "100", "0", "5", "-9223372036854775808", "9223372036854775807"} {
		s.Add([]byte(m), lim)
	}
	want := "-9223372036854775808 -3 0 5 100 9223372036854775807"
	if got := strings.Join(setMembers(s), " "); got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	if s.Encoding() != "intset" || s.Len() != 6 {
		t.Fatalf("encoding %s len %d", s.Encoding(), s.Len())
	}
	for _, m := range []string{"05", "+5", " 5", "5.0", "9223372036854775808", "-0"} {
		if s.Has([]byte(m)) {
			t.Errorf("Has(%q) on an intset", m)
		}
		if s.Remove([]byte(m)) {
			t.Errorf("Remove(%q) on an intset", m)
		}
	}
	if !s.Has([]byte("-3")) || !s.Remove([]byte("-3")) || s.Has([]byte("-3")) {
		t.Fatal("Remove(-3) failed")
	}
}

func TestSetConversion(t *testing.T) {
	lim := keyspace.Limits{SetMaxIntsetEntries: 3}
	s := keyspace.NewSet()
	for i := 1; i <= 3; i++ {
		s.Add([]byte(strconv.Itoa(i)), lim)
	}
	if s.Encoding() != "intset" {
		t.Fatalf("3 ints: %s", s.Encoding())
	}
	s.Add([]byte("4"), lim)
	if s.Encoding() != "hashtable" || s.Len() != 4 {
		t.Fatalf("4 ints: %s %d", s.Encoding(), s.Len())
	}
	for i := 1; i <= 4; i++ {
		if !s.Has([]byte(strconv.Itoa(i))) {
			t.Fatalf("member %d lost in conversion", i)
		}
	}

	str := keyspace.NewSet()
	str.Add([]byte("1"), lim)
	if str.Add([]byte("1"), lim) {
		t.Fatal("duplicate added")
	}
	str.Add([]byte("a"), lim)
	if str.Encoding() != "hashtable" || !str.Has([]byte("1")) || !str.Has([]byte("a")) {
		t.Fatal("non-integer member did not convert properly")
	}
	str.Remove([]byte("a"))
	if str.Encoding() != "hashtable" {
		t.Fatal("hashtable went back to intset")
	}
}

func TestSetPopAndClone(t *testing.T) {
	lim := keyspace.DefaultLimits
	for _, members := range [][]string{{"1", "2", "3"}, {"a", "b", "c"}} {
		s := keyspace.NewSet()
		for _, m := range members {
			s.Add([]byte(m), lim)
		}
		c := s.Clone().(*keyspace.Set)
		seen := map[string]bool{}
		for s.Len() > 0 {
			m := string(s.Pop())
			if seen[m] || !c.Has([]byte(m)) {
				t.Fatalf("popped %q twice or not a member", m)
			}
			seen[m] = true
		}
		if len(seen) != 3 || c.Len() != 3 || c.Encoding() != s.Encoding() {
			t.Fatalf("pop/clone: %v, clone len %d", seen, c.Len())
		}
	}
}

func TestSetScan(t *testing.T) {
	lim := keyspace.DefaultLimits
	s := keyspace.NewSet()
	for i := 0; i < 1000; i++ {
		s.Add([]byte("m"+strconv.Itoa(i)), lim)
	}
	seen := map[string]bool{}
	var cur uint64
	for {
		cur = s.Scan(cur, func(m []byte) { seen[string(m)] = true })
		if cur == 0 {
			break
		}
	}
	if len(seen) != 1000 {
		t.Fatalf("scan saw %d of 1000 members", len(seen))
	}
}

// TestSetDigestMatchesRedis checks Digest against DEBUG DIGEST-VALUE of a
// real redis-server, for intsets and hashtables.
func TestSetDigestMatchesRedis(t *testing.T) {
	c := redistest.Dial(t, redistest.Redis(t))
	cases := map[string][]string{
		"ints":  {"1", "-20", "300"},
		"mixed": {"1", "a", "bb"},
		"big":   nil,
	}
	for i := 0; i < 600; i++ {
		cases["big"] = append(cases["big"], strconv.Itoa(i))
	}
	for name, members := range cases {
		ks := keyspace.New(nil)
		s := keyspace.NewSet()
		for _, m := range members {
			s.Add([]byte(m), ks.Limits)
		}
		c.Do(append([]string{"SADD", name}, members...)...)
		ks.DB(0).SetCollection(name, s, false)
		want := c.Do("DEBUG", "DIGEST-VALUE", name)
		d := keyspace.ValueDigest(ks.DB(0).Get(name))
		if got := fmt.Sprintf("*1\r\n+%s\r\n", d.Hex()); got != want {
			t.Errorf("%s (%s): got %q want %q", name, s.Encoding(), got, want)
		}
	}
}
