package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/ferrydb/ferry/internal/keyspace"
)

// FuzzLoad feeds Load arbitrary bytes. The corpus in
// testdata/fuzz/FuzzLoad holds small files of ferry's encoder, of
// redis-server 7.0 and in older encodings, each also with a zero checksum
// (not checked). Load must
// never panic; it fails with an *Error and an empty keyspace, or loads a
// keyspace that encodes and loads again to the same digest.
func FuzzLoad(f *testing.F) {
	f.Add(encodeBytes(f, smallDataset(), Meta{Created: testNow}))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkLoad(t, b)
		// Most mutations fail the checksum: load them once more with the
		// checksum they would have, to reach the round trip.
		if len(b) >= 17 {
			c := bytes.Clone(b)
			binary.LittleEndian.PutUint64(c[len(c)-8:], crcUpdate(0, c[:len(c)-8]))
			checkLoad(t, c)
		}
	})
}

// checkLoad checks what Load makes of b.
func checkLoad(t *testing.T, b []byte) {
	ks := newKeyspace()
	meta, err := Load(bytes.NewReader(b), ks)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %T %v is not an *Error", err, err)
		}
		if e.Offset < 0 || e.Offset > int64(len(b)) {
			t.Fatalf("offset %d outside the input of %d bytes: %v", e.Offset, len(b), err)
		}
		for i := 0; i < keyspace.NumDBs; i++ {
			if ks.DB(i).Len() != 0 {
				t.Fatalf("db %d holds %d keys after %v", i, ks.DB(i).Len(), err)
			}
		}
		return
	}
	var buf bytes.Buffer
	if err := Encode(ks, &buf, meta); err != nil {
		t.Fatalf("encode what was loaded: %v", err)
	}
	again := newKeyspace()
	meta2, err := Load(&buf, again)
	if err != nil {
		t.Fatalf("load what was encoded: %v", err)
	}
	if ks.Digest() != again.Digest() {
		t.Fatalf("digest changed by a round trip:\n%s", diffKeyspaces(ks, again))
	}
	if meta2.Offset != meta.Offset || meta2.Generation != meta.Generation || meta2.Dataset != meta.Dataset {
		t.Fatalf("meta %+v, after a round trip %+v", meta, meta2)
	}
}

// TestCorpusLoads: the seed corpus holds valid files.
func TestCorpusLoads(t *testing.T) {
	for name, b := range readCorpus(t) {
		if _, _, err := loadBytes(b); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
