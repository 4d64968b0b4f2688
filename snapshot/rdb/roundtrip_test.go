package rdb

import (
	"bytes"
	"errors"
	"io"
	"math"
	"testing"
	"time"

	"github.com/ferrydb/ferry/internal/keyspace"
)

func TestRoundTrip(t *testing.T) {
	ks := buildDataset(t, datasetOptions{pastExpiries: true})
	meta := Meta{
		Offset:     123456789,
		Generation: "gen-01HXYZ",
		Dataset:    "orders",
		Log:        "2026-12-07T08:00:00.123456789Z",
		Created:    testNow,
		UsedMem:    1 << 20,
		Aux:        map[string]string{"ferry-note": "hello", "ctime": "ignored"},
	}
	b := encodeBytes(t, ks, meta)
	if !bytes.HasPrefix(b, []byte("REDIS0010")) {
		t.Fatalf("header %q", b[:9])
	}
	got, m, err := loadBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffKeyspaces(ks, got); d != "" {
		t.Fatalf("keyspaces differ:\n%s", d)
	}
	if ks.Digest() != got.Digest() {
		a, b := ks.Digest(), got.Digest()
		t.Fatalf("digest %s, loaded %s", a.Hex(), b.Hex())
	}
	if m.Offset != meta.Offset || m.Generation != meta.Generation || m.Dataset != meta.Dataset || m.Log != meta.Log ||
		!m.Created.Equal(testNow) || m.UsedMem != meta.UsedMem || m.Version != 10 {
		t.Fatalf("meta %+v", m)
	}
	if m.Aux["ferry-note"] != "hello" || m.Aux["redis-ver"] != "7.0.15" || m.Aux["redis-bits"] != "64" ||
		m.Aux["ctime"] != "1772366400" {
		t.Fatalf("aux %v", m.Aux)
	}
	for i := 0; i < keyspace.NumDBs; i++ {
		if a, b := ks.DB(i).Expires(), got.DB(i).Expires(); a != b {
			t.Fatalf("db %d: %d expires, loaded %d", i, a, b)
		}
	}

	// Encodings come back as Redis gives them, and ordered encodings keep
	// their order.
	got.Mode = keyspace.ExpireIgnore
	for key, enc := range map[string]string{
		"list:big": "quicklist", "hash:small": "listpack", "hash:big": "hashtable",
		"hash:longvalue": "hashtable", "set:int64": "intset", "set:bigints": "hashtable",
		"set:strings": "hashtable", "zset:small": "listpack", "zset:big": "skiplist",
		"zset:longmember": "skiplist",
	} {
		if o := got.DB(0).Peek(key); o == nil || o.Encoding() != enc {
			t.Errorf("%s: encoding %v, want %s", key, o, enc)
		}
	}
	var fields []string
	got.DB(0).Peek("hash:small").Collection().(*keyspace.Hash).Range(func(f string, _ []byte) bool {
		fields = append(fields, f)
		return true
	})
	if fields[0] != "f19" || fields[len(fields)-1] != "42" {
		t.Errorf("listpack hash order lost: %v", fields)
	}

	// Encoding the loaded keyspace gives the same bytes but for the
	// iteration order of hashtables, so at least the same length.
	if b2 := encodeBytes(t, got, meta); len(b2) != len(b) {
		t.Errorf("re-encoded: %d bytes, first time %d", len(b2), len(b))
	}
}

func TestRoundTripEmpty(t *testing.T) {
	ks := newKeyspace()
	b := encodeBytes(t, ks, Meta{Offset: 7, Created: testNow})
	got, m, err := loadBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Offset != 7 || got.Digest() != (keyspace.Digest{}) {
		t.Fatalf("meta %+v, %d keys", m, got.DB(0).Len())
	}
	mm, err := ReadMeta(bytes.NewReader(b))
	if err != nil || mm.Offset != 7 || mm.Version != 10 {
		t.Fatalf("ReadMeta: %+v, %v", mm, err)
	}
}

func TestReadMeta(t *testing.T) {
	ks := buildDataset(t, datasetOptions{})
	b := encodeBytes(t, ks, Meta{Offset: 99, Generation: "g", Dataset: "d", Created: testNow})
	// ReadMeta stops at the first key: it reads only the start.
	r := &countingReader{r: bytes.NewReader(b)}
	m, err := ReadMeta(r)
	if err != nil {
		t.Fatal(err)
	}
	if m.Offset != 99 || m.Generation != "g" || m.Dataset != "d" || m.Aux["redis-ver"] != "7.0.15" {
		t.Fatalf("%+v", m)
	}
	if _, ok := m.Aux[AuxLog]; ok || m.Log != "" {
		t.Fatalf("a Meta without Log wrote %s %q", AuxLog, m.Aux[AuxLog])
	}
	if r.n > readerBuffer {
		t.Fatalf("ReadMeta read %d bytes", r.n)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// oneByteReader returns one byte per Read, to exercise the buffer refills.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestLoadSmallReads(t *testing.T) {
	ks := buildDataset(t, datasetOptions{})
	b := encodeBytes(t, ks, Meta{Created: testNow})
	got := newKeyspace()
	if _, err := Load(oneByteReader{bytes.NewReader(b)}, got); err != nil {
		t.Fatal(err)
	}
	if ks.Digest() != got.Digest() {
		t.Fatal("digest differs")
	}
}

func TestLoadNonEmpty(t *testing.T) {
	b := encodeBytes(t, newKeyspace(), Meta{})
	ks := newKeyspace()
	ks.DB(3).SetString("k", []byte("v"), false)
	if _, err := Load(bytes.NewReader(b), ks); err == nil {
		t.Fatal("Load into a non-empty keyspace succeeded")
	}
	if !ks.DB(3).Exists("k") {
		t.Fatal("Load removed the keyspace's key")
	}
}

// failWriter fails after n bytes.
type failWriter struct{ n int }

var errWrite = errors.New("disk full")

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n := f.n
		f.n = 0
		return n, errWrite
	}
	f.n -= len(p)
	return len(p), nil
}

func TestEncodeWriteError(t *testing.T) {
	ks := buildDataset(t, datasetOptions{})
	size := len(encodeBytes(t, ks, Meta{Created: testNow}))
	for _, n := range []int{0, 10, 70000, size - 5} {
		if err := Encode(ks, &failWriter{n: n}, Meta{Created: testNow}); !errors.Is(err, errWrite) {
			t.Errorf("fail after %d: %v", n, err)
		}
	}
}

func TestEncoderAPI(t *testing.T) {
	var buf bytes.Buffer
	e, err := NewEncoder(&buf, Meta{Offset: 5, Created: time.Unix(1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.WriteString("k", []byte("v"), 0); err == nil {
		t.Fatal("key before SelectDB accepted")
	}

	buf.Reset()
	e, _ = NewEncoder(&buf, Meta{Offset: 5})
	if err := e.SelectDB(16, 0, 0); err == nil {
		t.Fatal("database 16 accepted")
	}
	buf.Reset()
	e, _ = NewEncoder(&buf, Meta{Offset: 5})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.SelectDB(2, 3, 1))
	must(e.WriteString("a", []byte("1"), 0))
	must(e.WriteString("b", []byte("2"), testNow.UnixMilli()))
	z := keyspace.NewZSet()
	z.Add("m", math.Pi, 0, keyspace.DefaultLimits)
	must(e.WriteCollection("z", z, 0))
	if err := e.WriteCollection("empty", keyspace.NewList(), 0); err == nil {
		t.Fatal("empty list accepted")
	}
	if err := e.Close(); err == nil {
		t.Fatal("Close after an error succeeded")
	}

	buf.Reset()
	e, _ = NewEncoder(&buf, Meta{Offset: 5})
	must(e.SelectDB(2, 3, 1))
	must(e.WriteString("a", []byte("1"), 0))
	must(e.WriteString("b", []byte("2"), testNow.UnixMilli()))
	must(e.WriteCollection("z", z, 0))
	must(e.Close())
	must(e.Close())
	if err := e.WriteString("c", nil, 0); err == nil {
		t.Fatal("write after Close accepted")
	}
	ks, m, err := loadBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if m.Offset != 5 || ks.DB(2).Len() != 3 || ks.DB(2).Expires() != 1 {
		t.Fatalf("meta %+v, %d keys", m, ks.DB(2).Len())
	}
	if sc, _ := ks.DB(2).Peek("z").Collection().(*keyspace.ZSet).Score("m"); sc != math.Pi {
		t.Fatalf("score %v", sc)
	}
}
