package hll

import (
	"encoding/binary"
	"math/bits"
)

// seed is the seed Redis hashes elements with.
const seed = 0xadc83b19

// murmur64A is Austin Appleby's MurmurHash64A, reading blocks little
// endian as Redis does on every architecture.
func murmur64A(key []byte, seed uint64) uint64 {
	const (
		m = 0xc6a4a7935bd1e995
		r = 47
	)
	h := seed ^ uint64(len(key))*m
	for ; len(key) >= 8; key = key[8:] {
		k := binary.LittleEndian.Uint64(key)
		k *= m
		k ^= k >> r
		k *= m
		h ^= k
		h *= m
	}
	if len(key) > 0 {
		for i, b := range key {
			h ^= uint64(b) << (8 * i)
		}
		h *= m
	}
	h ^= h >> r
	h *= m
	h ^= h >> r
	return h
}

// patLen returns the register ele hashes to and the value it offers it:
// one more than the number of zero bits above the register index, at most
// 64-precision+1.
func patLen(ele []byte) (int, uint8) {
	h := murmur64A(ele, seed)
	i := int(h & (NumRegisters - 1))
	h = h>>precision | 1<<(64-precision)
	return i, uint8(bits.TrailingZeros64(h)) + 1
}
