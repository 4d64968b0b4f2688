package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/ferrydb/ferry/internal/keyspace"
)

// smallDataset is a keyspace of every type, small enough to corrupt at
// every byte.
func smallDataset() *keyspace.Keyspace {
	ks := newKeyspace()
	lim := ks.Limits
	db := ks.DB(0)
	db.SetString("s", []byte("hello"), false)
	db.SetString("n", []byte("-300"), false)
	db.SetExpire("n", testNow.Add(1e12).UnixMilli())
	l := keyspace.NewList()
	l.PushBack([]byte("a"))
	l.PushBack([]byte("1"))
	db.SetCollection("l", l, false)
	h := keyspace.NewHash()
	h.Set("f", []byte("v"), lim)
	db.SetCollection("h", h, false)
	s := keyspace.NewSet()
	s.Add([]byte("7"), lim)
	s.Add([]byte("x"), lim)
	db.SetCollection("set", s, false)
	z := keyspace.NewZSet()
	z.Add("m", 2.5, 0, lim)
	ks.DB(4).SetCollection("z", z, false)
	st := keyspace.NewStream()
	st.Append(keyspace.StreamID{Ms: 1, Seq: 1}, [][]byte{[]byte("f"), []byte("v")}, 4096, 100)
	st.Append(keyspace.StreamID{Ms: 2}, [][]byte{[]byte("f"), []byte("7")}, 4096, 100)
	st.Delete(keyspace.StreamID{Ms: 1, Seq: 1})
	g := st.CreateGroup("g", keyspace.StreamID{Ms: 2}, 2)
	g.AddPending(keyspace.StreamID{Ms: 2}, g.CreateConsumer("c", 1700000000000), 1700000000001, 1)
	db.SetCollection("x", st, false)
	return ks
}

// checkFailed checks that a failed load reports an *Error and left the
// keyspace empty.
func checkFailed(t *testing.T, what string, ks *keyspace.Keyspace, err error) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: loaded without error", what)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: error %T %v is not an *Error", what, err, err)
	}
	for i := 0; i < keyspace.NumDBs; i++ {
		if ks.DB(i).Len() != 0 {
			t.Fatalf("%s: db %d holds %d keys after %v", what, i, ks.DB(i).Len(), err)
		}
	}
	return e
}

func TestTruncated(t *testing.T) {
	b := encodeBytes(t, smallDataset(), Meta{Created: testNow, Offset: 3})
	for n := 0; n < len(b); n++ {
		ks, _, err := loadBytes(b[:n])
		e := checkFailed(t, "truncated", ks, err)
		if n < 9 {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("truncated at %d: %v", n, err)
			}
			continue
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) || e.Offset > int64(n) || !strings.Contains(err.Error(), "truncated") {
			t.Fatalf("truncated at %d: %v (offset %d)", n, err, e.Offset)
		}
	}
	if _, _, err := loadBytes(b); err != nil {
		t.Fatal(err)
	}
}

func TestFlippedBytes(t *testing.T) {
	b := encodeBytes(t, smallDataset(), Meta{Created: testNow, Offset: 3})
	kinds := map[error]int{}
	for i := range b {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			c := bytes.Clone(b)
			c[i] ^= mask
			ks, _, err := loadBytes(c)
			e := checkFailed(t, "flipped", ks, err)
			if errors.Is(err, ErrChecksum) && !strings.Contains(err.Error(), "checksum mismatch") {
				t.Fatalf("byte %d: %v", i, err)
			}
			kinds[e.Err]++
		}
	}
	t.Logf("errors: %v", kinds)
	if kinds[ErrChecksum] == 0 || kinds[ErrCorrupt] == 0 {
		t.Fatalf("errors: %v", kinds)
	}
	// A trailing checksum of zero means none: flipping content is then
	// not noticed, as in Redis.
	c := bytes.Clone(b)
	copy(c[len(c)-8:], make([]byte, 8))
	if _, _, err := loadBytes(c); err != nil {
		t.Fatalf("zero checksum: %v", err)
	}
}

// rdbWith returns a version 10 file holding body after SELECTDB 0, with
// its checksum.
func rdbWith(body ...[]byte) []byte {
	r := newRaw(10)
	r.WriteByte(opSelectDB)
	r.len(0)
	for _, b := range body {
		r.Write(b)
	}
	return r.end()
}

func TestBadInput(t *testing.T) {
	str := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	lp := func(entries ...any) []byte {
		b := buildListpack(entries...)
		return cat([]byte{0x40 | byte(len(b)>>8), byte(len(b))}, b)
	}
	blob := func(b []byte) []byte { return cat([]byte{0x40 | byte(len(b)>>8), byte(len(b))}, b) }
	badBacklen := buildListpack("abc")
	badBacklen[len(badBacklen)-2] = 9
	zl := buildZiplist("a", "b")
	zl[4] = 11 // tail offset
	for _, tc := range []struct {
		name string
		in   []byte
		kind error
		want string
	}{
		{"empty", nil, ErrCorrupt, "not an RDB file"},
		{"not rdb", []byte("*1\r\n$4\r\nPING\r\n"), ErrCorrupt, "not an RDB file"},
		{"version 12", []byte("REDIS0012\xff"), ErrUnsupported, "unsupported RDB version 12"},
		{"version text", []byte("REDIS00x1\xff"), ErrCorrupt, "invalid RDB version"},
		{"unknown type", rdbWith([]byte{8}, str("k"), str("v")), ErrCorrupt, "unknown RDB type or opcode 8"},
		{"unknown opcode", rdbWith([]byte{200}), ErrCorrupt, "unknown RDB type or opcode 200"},
		{"stream node key", rdbWith([]byte{typeStreamListpacks}, str("events"), []byte{1}, str("short")), ErrCorrupt, `key "events" (db 0): stream node key of 5 bytes, not a stream ID`},
		{"module", rdbWith([]byte{typeModule2}, str("m")), ErrUnsupported, "unsupported RDB type 7 (module)"},
		{"module aux", rdbWith([]byte{opModuleAux}), ErrUnsupported, "module auxiliary data"},
		{"function", rdbWith([]byte{opFunction2, 0xc5}), ErrCorrupt, "invalid string encoding 5"},
		{"database 16", rdbWith([]byte{opSelectDB, 16}), ErrUnsupported, "database 16 out of range"},
		{"duplicate key", rdbWith([]byte{0}, str("k"), str("v"), []byte{0}, str("k"), str("w")), ErrCorrupt, `key "k" (db 0): duplicate key`},
		{"bad length", rdbWith([]byte{typeList}, str("k"), []byte{0x82}), ErrCorrupt, "invalid length encoding 0x82"},
		{"bad string encoding", rdbWith([]byte{0}, str("k"), []byte{0xc5}), ErrCorrupt, "invalid string encoding 5"},
		{"huge LZF", rdbWith([]byte{0}, str("k"), []byte{0xc3, 1, 0x80, 0x10, 0, 0, 0, 0}), ErrCorrupt, "invalid LZF string"},
		{"bad LZF", rdbWith([]byte{0}, str("k"), []byte{0xc3, 2, 3, 0x20, 0x05}), ErrCorrupt, "reference before the start"},
		{"duplicate member", rdbWith([]byte{typeSet}, str("s"), []byte{2}, str("a"), str("a")), ErrCorrupt, `duplicate set member "a"`},
		{"duplicate field", rdbWith([]byte{typeHash}, str("h"), []byte{2}, str("f"), str("1"), str("f"), str("2")), ErrCorrupt, `duplicate hash field "f"`},
		{"duplicate zset member", rdbWith([]byte{typeZSetListpack}, str("z"), lp("m", int64(1), "m", int64(2))), ErrCorrupt, `duplicate sorted set member "m"`},
		{"nan score", rdbWith([]byte{typeZSet}, str("z"), []byte{1}, str("m"), []byte{253}), ErrCorrupt, "NaN score"},
		{"bad score", rdbWith([]byte{typeZSetListpack}, str("z"), lp("m", "x")), ErrCorrupt, `score "x" is not a number`},
		{"odd hash listpack", rdbWith([]byte{typeHashListpack}, str("h"), lp("f", "v", "g")), ErrCorrupt, "odd number of entries"},
		{"listpack size", rdbWith([]byte{typeHashListpack}, str("h"), blob(buildListpack("f", "v")[:10])), ErrCorrupt, "invalid hash listpack"},
		{"listpack backlen", rdbWith([]byte{typeListQuicklist2}, str("l"), []byte{1, 2}, blob(badBacklen)), ErrCorrupt, "back-length"},
		{"listpack count", rdbWith([]byte{typeListQuicklist2}, str("l"), []byte{1, 2}, blob(func() []byte { b := buildListpack("a"); b[4] = 2; return b }())), ErrCorrupt, "header says 2 entries"},
		{"quicklist container", rdbWith([]byte{typeListQuicklist2}, str("l"), []byte{1, 3}, str("x")), ErrCorrupt, "invalid quicklist node container 3"},
		{"ziplist tail", rdbWith([]byte{typeListZiplist}, str("l"), blob(zl)), ErrCorrupt, "last entry"},
		{"intset order", rdbWith([]byte{typeSetIntset}, str("s"), blob(buildIntset(2, 5, 1))), ErrCorrupt, "ascending"},
		{"intset size", rdbWith([]byte{typeSetIntset}, str("s"), blob(buildIntset(3, 5))), ErrCorrupt, "integer size 3"},
		{"zipmap", rdbWith([]byte{typeHashZipmap}, str("h"), blob(buildZipmap("a", "b")[:5])), ErrCorrupt, "invalid hash zipmap"},
		{"expiry zero", rdbWith([]byte{opExpireTimeMS, 0, 0, 0, 0, 0, 0, 0, 0}, []byte{0}, str("k"), str("v")), ErrCorrupt, "expiry time 0"},
		{"bad offset", cat([]byte("REDIS0010"), []byte{opAux}, str(AuxOffset), str("x1"), []byte{opEOF}, make([]byte, 8)), ErrCorrupt, "is not an offset"},
		{"checksum", func() []byte { b := rdbWith([]byte{0}, str("k"), str("v")); b[len(b)-1] ^= 1; return b }(), ErrChecksum, "checksum mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ks, _, err := loadBytes(tc.in)
			checkFailed(t, tc.name, ks, err)
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want %v containing %q", err, tc.kind, tc.want)
			}
		})
	}
}

// TestLengthByteEncoded: where a length is read, a byte that would start
// a specially encoded string (0xc0-0xff) is the length in its low 6 bits,
// as Redis's rdbLoadLen reads it.
func TestLengthByteEncoded(t *testing.T) {
	str := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	ks, _, err := loadBytes(rdbWith([]byte{typeSet}, str("s"), []byte{0xc2}, str("a"), str("b"),
		[]byte{typeList}, str("empty"), []byte{0xc0}))
	if err != nil {
		t.Fatal(err)
	}
	o := ks.DB(0).Get("s")
	if o == nil || o.Collection().Len() != 2 || ks.DB(0).Len() != 1 {
		t.Fatalf("keys %d, s %v", ks.DB(0).Len(), o)
	}
}

// TestErrorAfterKeys: a file that goes wrong after some keys loaded leaves
// nothing loaded.
func TestErrorAfterKeys(t *testing.T) {
	var buf bytes.Buffer
	e, _ := NewEncoder(&buf, Meta{})
	e.SelectDB(0, 2, 0)
	for i := 0; i < 100; i++ {
		e.WriteString(strings.Repeat("k", i+1), []byte("v"), 0)
	}
	buf.Write([]byte{typeStreamListpacks, 1, 'x'})
	ks, _, err := loadBytes(buf.Bytes())
	checkFailed(t, "stream after keys", ks, err)
}

// TestErrorReader: the source's own error comes back, located.
func TestErrorReader(t *testing.T) {
	b := encodeBytes(t, smallDataset(), Meta{})
	boom := errors.New("connection reset")
	r := io.MultiReader(bytes.NewReader(b[:40]), errReader{boom})
	ks := newKeyspace()
	_, err := Load(r, ks)
	e := checkFailed(t, "reader error", ks, err)
	if !errors.Is(err, boom) || e.Offset != 40 {
		t.Fatalf("%v (offset %d)", err, e.Offset)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestChecksumBytes(t *testing.T) {
	b := encodeBytes(t, smallDataset(), Meta{})
	if got, want := binary.LittleEndian.Uint64(b[len(b)-8:]), crcUpdate(0, b[:len(b)-8]); got != want {
		t.Fatalf("checksum %016x, want %016x", got, want)
	}
}
