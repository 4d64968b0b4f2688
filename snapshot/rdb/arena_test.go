package rdb

import (
	"bytes"
	"testing"
)

func TestArenaCopiesAreCapped(t *testing.T) {
	var a arena
	a.start(16)
	src := []byte("abc")
	x := a.bytes(src)
	y := a.bytes([]byte("def"))
	src[0] = 'Z' // a copy, not the caller's bytes
	if cap(x) != len(x) {
		t.Fatalf("copy has capacity %d beyond its length %d", cap(x), len(x))
	}
	_ = append(x, '!') // must not write over y
	if string(x) != "abc" || string(y) != "def" {
		t.Fatalf("copies changed: %q %q", x, y)
	}
	// Past the block's end a new block follows; earlier copies stay.
	big := a.bytes(bytes.Repeat([]byte("x"), 100))
	s := a.string([]byte("ghi"))
	if len(big) != 100 || s != "ghi" || string(x) != "abc" || string(y) != "def" {
		t.Fatalf("after a new block: %q %q %d %q", x, y, len(big), s)
	}
	if a.string(nil) != "" || len(a.bytes(nil)) != 0 {
		t.Fatal("empty element")
	}
	a.done()
	if a.buf != nil {
		t.Fatal("done kept the block")
	}
}
