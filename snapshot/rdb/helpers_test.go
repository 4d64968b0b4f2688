package rdb

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/keyspace"
)

// testNow is the clock of the test keyspaces.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newKeyspace() *keyspace.Keyspace {
	return keyspace.New(func() time.Time { return testNow })
}

// datasetOptions shape buildDataset's keyspace.
type datasetOptions struct {
	// pastExpiries adds keys whose expiry time has passed (a redis-server
	// master drops them when it loads a file, so the interop test leaves
	// them out).
	pastExpiries bool
	// scale multiplies the sizes of the large collections.
	scale int
	// future is the expiry time (unix ms) of keys with a TTL: an hour after
	// testNow when 0.
	future int64
}

// buildDataset fills a keyspace with every type in both of its encodings,
// integer-like and binary strings, expiries and several databases.
func buildDataset(tb testing.TB, opt datasetOptions) *keyspace.Keyspace {
	tb.Helper()
	if opt.scale == 0 {
		opt.scale = 1
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ks := newKeyspace()
	lim := ks.Limits
	future := opt.future
	if future == 0 {
		future = testNow.Add(time.Hour).UnixMilli()
	}

	db := ks.DB(0)
	strs := []string{
		"", "0", "1", "-1", "127", "-128", "128", "-129", "32767", "-32768", "32768",
		"2147483647", "-2147483648", "2147483648", "-2147483649", "12345678901",
		"9223372036854775807", "-9223372036854775808", "9223372036854775808",
		"-0", "007", "+1", " 1", "1.5", "1e3", "hello", "\x00\xff binary \r\n",
		strings.Repeat("a", 1000), strings.Repeat("xyz", 30000),
	}
	for i, s := range strs {
		db.SetString(fmt.Sprintf("str:%d", i), []byte(s), false)
	}
	random := make([]byte, 5000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	db.SetString("str:random", random, false)
	db.SetString("", []byte("empty key"), false)
	db.SetString("12345", []byte("integer key"), false)
	db.SetString("-7", []byte("negative integer key"), false)
	db.SetString("str:ttl", []byte("expires"), false)
	db.SetExpire("str:ttl", future)

	// Lists: short, long, with integers and long elements.
	l := keyspace.NewList()
	for _, s := range strs[:20] {
		l.PushBack([]byte(s))
	}
	db.SetCollection("list:small", l, false)
	l = keyspace.NewList()
	for i := 0; i < 5000*opt.scale; i++ {
		if i%3 == 0 {
			l.PushBack([]byte(strconv.Itoa(i - 2500)))
		} else {
			l.PushBack([]byte(fmt.Sprintf("element-%d-%s", i, strings.Repeat("p", i%50))))
		}
	}
	l.PushBack(bytes.Repeat([]byte("L"), 20000))
	db.SetCollection("list:big", l, false)
	db.SetExpire("list:big", future+1)

	// Hashes: listpack (insertion order matters), hashtable by size and by
	// value length.
	h := keyspace.NewHash()
	for i := 0; i < 20; i++ {
		h.Set(fmt.Sprintf("f%d", 19-i), []byte(strs[i]), lim)
	}
	h.Set("42", []byte("-42"), lim)
	db.SetCollection("hash:small", h, false)
	h = keyspace.NewHash()
	for i := 0; i < 2000*opt.scale; i++ {
		h.Set(fmt.Sprintf("field:%d", i), []byte(strconv.Itoa(i*i)), lim)
	}
	db.SetCollection("hash:big", h, false)
	h = keyspace.NewHash()
	h.Set("long", bytes.Repeat([]byte("v"), 100), lim)
	h.Set("short", []byte("s"), lim)
	db.SetCollection("hash:longvalue", h, false)

	// Sets: intsets of each width, big intset (hashtable), strings.
	for name, vals := range map[string][]int64{
		"set:int16": {1, -5, 300, 32767, -32768},
		"set:int32": {1, 70000, -2147483648, 2147483647},
		"set:int64": {1, math.MaxInt64, math.MinInt64, 1 << 40},
	} {
		s := keyspace.NewSet()
		for _, v := range vals {
			s.Add([]byte(strconv.FormatInt(v, 10)), lim)
		}
		db.SetCollection(name, s, false)
	}
	s := keyspace.NewSet()
	for i := 0; i < 1000*opt.scale; i++ {
		s.Add([]byte(strconv.Itoa(i*3-500)), lim)
	}
	db.SetCollection("set:bigints", s, false)
	s = keyspace.NewSet()
	for i := 0; i < 100; i++ {
		s.Add([]byte(fmt.Sprintf("member-%d", i)), lim)
	}
	s.Add([]byte("12"), lim)
	db.SetCollection("set:strings", s, false)

	// Sorted sets: listpack and skiplist, special scores.
	z := keyspace.NewZSet()
	for i, sc := range []float64{1, 1.5, -2.25, math.Inf(1), math.Inf(-1), 0, 1e300, 3.14159, 1 << 60} {
		z.Add(fmt.Sprintf("m%d", i), sc, 0, lim)
	}
	z.Add("12", 12, 0, lim)
	db.SetCollection("zset:small", z, false)
	z = keyspace.NewZSet()
	for i := 0; i < 1000*opt.scale; i++ {
		z.Add(fmt.Sprintf("member:%d", i), rng.NormFloat64()*1000, 0, lim)
	}
	z.Add("negzero", math.Copysign(0, -1), 0, lim)
	z.Add("inf", math.Inf(1), 0, lim)
	db.SetCollection("zset:big", z, false)
	z = keyspace.NewZSet()
	z.Add(strings.Repeat("m", 100), 1, 0, lim)
	db.SetCollection("zset:longmember", z, false)

	// Streams: many nodes, tombstones, groups; an empty one (stream_test.go).
	addStreams(db, 1, 600*opt.scale)

	// Other databases, the last one included.
	for _, i := range []int{1, 7, 15} {
		d := ks.DB(i)
		for k := 0; k < 50; k++ {
			d.SetString(fmt.Sprintf("db%d:key%d", i, k), []byte(fmt.Sprintf("value %d", k)), false)
			if k%5 == 0 {
				d.SetExpire(fmt.Sprintf("db%d:key%d", i, k), future+int64(k))
			}
		}
		l := keyspace.NewList()
		l.PushBack([]byte("x"))
		d.SetCollection("list", l, false)
	}
	if opt.pastExpiries {
		ks.DB(1).SetExpire("db1:key1", testNow.Add(-time.Hour).UnixMilli())
		ks.DB(0).SetExpire("hash:small", testNow.Add(-time.Minute).UnixMilli())
	}
	return ks
}

// encodeBytes encodes ks into memory.
func encodeBytes(tb testing.TB, ks *keyspace.Keyspace, meta Meta) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := Encode(ks, &buf, meta); err != nil {
		tb.Fatalf("Encode: %v", err)
	}
	return buf.Bytes()
}

// loadBytes loads b into a fresh keyspace.
func loadBytes(b []byte) (*keyspace.Keyspace, Meta, error) {
	ks := newKeyspace()
	meta, err := Load(bytes.NewReader(b), ks)
	return ks, meta, err
}

// diffKeyspaces describes how a and b differ, key by key ("" if they hold
// the same keys with the same value digests).
func diffKeyspaces(a, b *keyspace.Keyspace) string {
	var out []string
	for i := 0; i < keyspace.NumDBs; i++ {
		da, db := a.DB(i), b.DB(i)
		da.Range(func(key string, o *keyspace.Object) bool {
			if !db.Stored(key) {
				out = append(out, fmt.Sprintf("db %d: %q missing", i, key))
			} else {
				var p *keyspace.Object
				db.Range(func(k string, q *keyspace.Object) bool {
					if k == key {
						p = q
						return false
					}
					return true
				})
				if keyspace.ValueDigest(o) != keyspace.ValueDigest(p) || o.Expire() != p.Expire() {
					out = append(out, fmt.Sprintf("db %d: %q differs (%s/%s, expire %d/%d)", i, key, o.Encoding(), p.Encoding(), o.Expire(), p.Expire()))
				}
			}
			return len(out) < 20
		})
		db.Range(func(key string, _ *keyspace.Object) bool {
			if !da.Stored(key) {
				out = append(out, fmt.Sprintf("db %d: %q extra", i, key))
			}
			return len(out) < 20
		})
	}
	return strings.Join(out, "\n")
}

// readCorpus returns the files of FuzzLoad's seed corpus.
func readCorpus(t *testing.T) map[string][]byte {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", "FuzzLoad")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		_, lit, ok := strings.Cut(string(raw), "\n")
		lit = strings.TrimSpace(lit)
		if !ok || !strings.HasPrefix(lit, "[]byte(") || !strings.HasSuffix(lit, ")") {
			t.Fatalf("%s: not a corpus file", e.Name())
		}
		s, err := strconv.Unquote(lit[len("[]byte(") : len(lit)-1])
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		out[e.Name()] = []byte(s)
	}
	if len(out) == 0 {
		t.Fatal("empty corpus")
	}
	return out
}
