package rdb

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/ferrydb/ferry/internal/keyspace"
)

// mixedDataset is the shape of the benchmark dataset: 70% strings
// of 100 bytes, 10% hashes, 10% lists, 5% sets, 5% sorted sets, 10
// elements each.
func mixedDataset(n int) *keyspace.Keyspace {
	rng := rand.New(rand.NewPCG(5, 6))
	ks := newKeyspace()
	lim := ks.Limits
	db := ks.DB(0)
	val := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a' + byte(rng.IntN(26))
		}
		return b
	}
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("key:%08d", i)
		switch p := i % 20; {
		case p < 14:
			db.SetString(key, val(100), false)
		case p < 16:
			h := keyspace.NewHash()
			for j := 0; j < 10; j++ {
				h.Set(fmt.Sprintf("field%d", j), val(10), lim)
			}
			db.SetCollection(key, h, false)
		case p < 18:
			l := keyspace.NewList()
			for j := 0; j < 10; j++ {
				l.PushBack(val(10))
			}
			db.SetCollection(key, l, false)
		case p < 19:
			s := keyspace.NewSet()
			for j := 0; j < 10; j++ {
				s.Add(val(10), lim)
			}
			db.SetCollection(key, s, false)
		default:
			z := keyspace.NewZSet()
			for j := 0; j < 10; j++ {
				z.Add(string(val(10)), rng.Float64()*100, 0, lim)
			}
			db.SetCollection(key, z, false)
		}
	}
	return ks
}

func BenchmarkEncode(b *testing.B) {
	ks := mixedDataset(100000)
	size := len(encodeBytes(b, ks, Meta{}))
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if err := Encode(ks, io.Discard, Meta{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	data := encodeBytes(b, mixedDataset(100000), Meta{})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(bytes.NewReader(data), newKeyspace()); err != nil {
			b.Fatal(err)
		}
	}
}
