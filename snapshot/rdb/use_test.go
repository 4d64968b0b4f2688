package rdb

import (
	"bytes"
	"testing"
)

// TestUseInterleavesDatabases: a snapshot of a changing keyspace visits
// databases in any order; the file selects each one again when needed and
// loads into the same keyspace.
func TestUseInterleavesDatabases(t *testing.T) {
	want := newKeyspace()
	var buf bytes.Buffer
	e, err := NewEncoder(&buf, Meta{Offset: 7, Dataset: "d"})
	if err != nil {
		t.Fatal(err)
	}
	for i, db := range []int{0, 3, 3, 0, 15, 3, 0} {
		key := string(rune('a' + i))
		want.DB(db).SetString(key, []byte{byte(i)}, false)
		if i == 0 {
			err = e.SelectDB(db, 3, 0)
		} else {
			err = e.Use(db)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := e.WriteObject(key, want.DB(db).Peek(key)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Use(16); err == nil {
		t.Fatal("Use(16) accepted")
	}
	if err := e.Close(); err == nil {
		t.Fatal("Close after a failed Use succeeded: the first error must stick")
	}

	// The same without the bad Use.
	buf.Reset()
	e, _ = NewEncoder(&buf, Meta{Offset: 7, Dataset: "d"})
	for i, db := range []int{0, 3, 3, 0, 15, 3, 0} {
		key := string(rune('a' + i))
		e.Use(db)
		e.WriteObject(key, want.DB(db).Peek(key))
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	got, meta, err := loadBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if d := diffKeyspaces(want, got); d != "" || meta.Offset != 7 {
		t.Fatalf("offset %d; %s", meta.Offset, d)
	}
}
