package rdb

import "testing"

func TestCRC64Jones(t *testing.T) {
	// The check value of Redis's src/crc64.c test.
	if got := crcUpdate(0, []byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("crc64(123456789) = %016x, want e9c6d914c4b8d9ca", got)
	}
	// Incremental updates, long inputs (the slicing-by-8 path) and short
	// ones agree.
	long := make([]byte, 10000)
	for i := range long {
		long[i] = byte(i * 7)
	}
	whole := crcUpdate(0, long)
	part := uint64(0)
	for i := 0; i < len(long); i += 333 {
		part = crcUpdate(part, long[i:min(i+333, len(long))])
	}
	bytewise := uint64(0)
	for i := range long {
		bytewise = crcUpdate(bytewise, long[i:i+1])
	}
	if whole != part || whole != bytewise {
		t.Fatalf("crc64 differs by chunking: %016x %016x %016x", whole, part, bytewise)
	}
}
