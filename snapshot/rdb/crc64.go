package rdb

import "hash/crc64"

// Redis checksums an RDB file with CRC-64/Jones (src/crc64.c): the
// reflected polynomial 0x95ac9329ac4bc9b5, initial value 0 and no final
// inversion. hash/crc64 computes reflected CRCs with any polynomial (and
// slicing-by-8 for long inputs) but inverts before and after each update;
// inverting around the call cancels that.
var jonesTable = crc64.MakeTable(0x95ac9329ac4bc9b5)

// crcUpdate returns Redis's crc64(crc, p).
func crcUpdate(crc uint64, p []byte) uint64 {
	return ^crc64.Update(^crc, jonesTable, p)
}
