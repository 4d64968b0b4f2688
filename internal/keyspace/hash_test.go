package keyspace_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/redistest"
)

func hashPairs(h *keyspace.Hash) []string {
	var out []string
	h.Range(func(f string, v []byte) bool {
		out = append(out, f+"="+string(v))
		return true
	})
	return out
}

func TestHashListpackOrder(t *testing.T) {
	lim := keyspace.DefaultLimits
	h := keyspace.NewHash()
	for _, f := range []string{"c", "a", "b"} {
		if !h.Set(f, []byte("v"+f), lim) {
			t.Fatalf("Set(%s) reported an update", f)
		}
	}
	if h.Set("a", []byte("new"), lim) {
		t.Fatal("Set of an existing field reported a creation")
	}
	if !h.Delete("c") || h.Delete("c") {
		t.Fatal("Delete results wrong")
	}
	h.Set("c", []byte("vc"), lim)
	if got, want := strings.Join(hashPairs(h), " "), "a=new b=vb c=vc"; got != want {
		t.Fatalf("order: got %q want %q", got, want)
	}
	if h.Encoding() != "listpack" || h.Len() != 3 {
		t.Fatalf("encoding %s len %d", h.Encoding(), h.Len())
	}
	if v, ok := h.Get("b"); !ok || string(v) != "vb" {
		t.Fatalf("Get(b) = %q, %v", v, ok)
	}
	if _, ok := h.Get("zz"); ok {
		t.Fatal("Get of a missing field succeeded")
	}
}

func TestHashConversion(t *testing.T) {
	lim := keyspace.Limits{HashMaxListpackEntries: 4, HashMaxListpackValue: 8}
	h := keyspace.NewHash()
	for i := 0; i < 4; i++ {
		h.Set(strconv.Itoa(i), []byte("x"), lim)
	}
	if h.Encoding() != "listpack" {
		t.Fatalf("4 entries: %s", h.Encoding())
	}
	h.Set("4", []byte("x"), lim)
	if h.Encoding() != "hashtable" {
		t.Fatalf("5 entries: %s", h.Encoding())
	}
	for i := 0; i < 5; i++ {
		h.Delete(strconv.Itoa(i))
	}
	h.Set("a", []byte("b"), lim)
	if h.Encoding() != "hashtable" {
		t.Fatal("a hashtable went back to listpack")
	}

	long := keyspace.NewHash()
	long.Set("f", []byte("12345678"), lim)
	if long.Encoding() != "listpack" {
		t.Fatal("value at the limit converted")
	}
	long.Set("f", []byte("123456789"), lim)
	if long.Encoding() != "hashtable" {
		t.Fatal("value past the limit did not convert")
	}
	if v, _ := long.Get("f"); string(v) != "123456789" {
		t.Fatalf("value lost in conversion: %q", v)
	}

	fit := keyspace.NewHash()
	fit.Fit([][]byte{[]byte("f"), []byte("123456789")}, lim)
	if fit.Encoding() != "hashtable" {
		t.Fatal("Fit did not convert")
	}
}

func TestHashCopiesBytes(t *testing.T) {
	lim := keyspace.DefaultLimits
	h := keyspace.NewHash()
	field := []byte("field")
	val := []byte("value")
	h.Set(string(field), val, lim)
	val[0] = 'X'
	if v, _ := h.Get("field"); string(v) != "value" {
		t.Fatalf("hash aliases the caller's value: %q", v)
	}
	c := h.Clone().(*keyspace.Hash)
	h.Set("field", []byte("changed"), lim)
	if v, _ := c.Get("field"); string(v) != "value" {
		t.Fatalf("clone shares data: %q", v)
	}
	big := keyspace.NewHash()
	for i := 0; i < 600; i++ {
		big.Set(strconv.Itoa(i), []byte("v"), lim)
	}
	bc := big.Clone().(*keyspace.Hash)
	if bc.Encoding() != "hashtable" || bc.Len() != 600 {
		t.Fatalf("clone of a hashtable: %s %d", bc.Encoding(), bc.Len())
	}
}

func TestHashScan(t *testing.T) {
	lim := keyspace.DefaultLimits
	h := keyspace.NewHash()
	for i := 0; i < 1000; i++ {
		h.Set("f"+strconv.Itoa(i), []byte(strconv.Itoa(i)), lim)
	}
	seen := map[string]bool{}
	var cur uint64
	for {
		cur = h.Scan(cur, func(f string, v []byte) {
			if "f"+string(v) != f {
				t.Fatalf("pair %s=%s", f, v)
			}
			seen[f] = true
		})
		if cur == 0 {
			break
		}
	}
	if len(seen) != 1000 {
		t.Fatalf("scan saw %d of 1000 fields", len(seen))
	}
}

// TestHashDigestMatchesRedis checks Digest against DEBUG DIGEST-VALUE of a
// real redis-server, for both encodings.
func TestHashDigestMatchesRedis(t *testing.T) {
	c := redistest.Dial(t, redistest.Redis(t))
	for _, n := range []int{1, 5, 600} {
		key := fmt.Sprintf("h%d", n)
		ks := keyspace.New(nil)
		h := keyspace.NewHash()
		args := []string{"HSET", key}
		for i := 0; i < n; i++ {
			f, v := "field"+strconv.Itoa(i), strconv.Itoa(i*7)
			h.Set(f, []byte(v), ks.Limits)
			args = append(args, f, v)
		}
		c.Do(args...)
		ks.DB(0).SetCollection(key, h, false)
		want := c.Do("DEBUG", "DIGEST-VALUE", key)
		d := keyspace.ValueDigest(ks.DB(0).Get(key))
		got := "*1\r\n+" + d.Hex() + "\r\n"
		if got != want {
			t.Errorf("%d fields (%s): got %q want %q", n, h.Encoding(), got, want)
		}
	}
}

// TestHashUpdateConvertsPastLoweredLimit: a listpack hash longer than a
// lowered HashMaxListpackEntries converts on its next Set, even one that
// updates a field, as Redis's hashTypeSet checks the length after both.
func TestHashUpdateConvertsPastLoweredLimit(t *testing.T) {
	lim := keyspace.DefaultLimits
	h := keyspace.NewHash()
	for _, f := range []string{"a", "b", "c"} {
		h.Set(f, []byte("1"), lim)
	}
	lim.HashMaxListpackEntries = 1
	if h.Encoding() != "listpack" {
		t.Fatalf("encoding %s before any write", h.Encoding())
	}
	if h.Set("a", []byte("2"), lim) {
		t.Fatal("Set of an existing field reported a creation")
	}
	if h.Encoding() != "hashtable" || h.Len() != 3 {
		t.Fatalf("after an update past the limit: %s, %d fields", h.Encoding(), h.Len())
	}
	if v, _ := h.Get("a"); string(v) != "2" {
		t.Fatalf("a = %q", v)
	}
}

// TestTouchFields: reading ahead the fields of a large hash and the members
// of a large set (requests in a row on one key) changes nothing, and
// takes anything else (absent keys, strings, small hashes, requests with
// no field) without harm.
func TestTouchFields(t *testing.T) {
	lim := keyspace.DefaultLimits
	ks := keyspace.New(nil)
	db := ks.DB(0)
	h, s := keyspace.NewHash(), keyspace.NewSet()
	const n = 20000
	for i := range n {
		h.Set("f"+strconv.Itoa(i), []byte("v"+strconv.Itoa(i)), lim)
		s.Add([]byte("m"+strconv.Itoa(i)), lim)
	}
	db.SetCollection("big", h, false)
	db.SetCollection("members", s, false)
	small := keyspace.NewHash()
	small.Set("a", []byte("1"), lim)
	db.SetCollection("small", small, false)
	db.SetString("str", []byte("x"), false)
	var keys, fields [][]byte
	add := func(k, f string) {
		keys = append(keys, []byte(k))
		if f == "" {
			fields = append(fields, nil)
		} else {
			fields = append(fields, []byte(f))
		}
	}
	for i := range 6 {
		add("big", "f"+strconv.Itoa(i*997))
	}
	add("big", "absent")
	add("big", "")
	for i := range 4 {
		add("members", "m"+strconv.Itoa(i*31))
	}
	add("small", "a")
	add("small", "a")
	add("str", "x")
	add("str", "y")
	add("nokey", "f")
	add("nokey", "f")
	db.TouchFields(keys, fields)
	db.TouchFields(keys, fields[:3]) // fewer fields than keys
	if h.Len() != n || s.Len() != n || db.Len() != 4 {
		t.Fatalf("after TouchFields: hash %d, set %d, keys %d", h.Len(), s.Len(), db.Len())
	}
	for _, i := range []int{0, 997, 4985, n - 1} {
		f := "f" + strconv.Itoa(i)
		if v, ok := h.Get(f); !ok || string(v) != "v"+strconv.Itoa(i) {
			t.Fatalf("HGET %s after TouchFields: %q, %v", f, v, ok)
		}
		if !s.Has([]byte("m" + strconv.Itoa(i))) {
			t.Fatalf("member m%d gone after TouchFields", i)
		}
	}
}
