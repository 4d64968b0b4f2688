// Package rdb writes and reads ferry's keyspace as Redis RDB files: the
// format of redis-server 7.0's dump.rdb (RDB version 10), which a stock
// redis-server loads and redis-check-rdb accepts.
//
// Encode (or an Encoder, one key at a time) streams a keyspace out with
// ferry's offset, generation and dataset in AUX fields; Load streams one
// in, from a ferry snapshot or from a dump written by a real Redis in any
// of its encodings (listpack, ziplist, intset, zipmap, quicklist,
// LZF-compressed and integer-encoded strings). Neither ever holds more than
// one value's encoding in memory beyond the keyspace itself.
//
// The encoder writes the plain, uncompressed value types (RDB_TYPE_STRING,
// LIST, SET, ZSET_2 and HASH), which redis-server 7.0 loads into its compact
// encodings by its own thresholds, exactly as ferry's loader does:
// snapshots are compressed on top (zstd), which does better than LZF and
// listpacks would.
package rdb

import (
	"errors"
	"fmt"
	"time"
)

// Version is the RDB version the encoder writes (redis-server 7.0's).
const Version = 10

// maxVersion is the newest RDB version the decoder reads: 11 (Redis 7.2)
// only adds the listpack set, which it reads too.
const maxVersion = 11

// Opcodes: the byte read where a value type may stand.
const (
	opFunction2    = 245 // a function library (7.0)
	opFunction     = 246 // a function library (7.0 release candidates)
	opModuleAux    = 247
	opIdle         = 248 // LRU idle time of the next key
	opFreq         = 249 // LFU frequency of the next key
	opAux          = 250
	opResizeDB     = 251
	opExpireTimeMS = 252
	opExpireTime   = 253
	opSelectDB     = 254
	opEOF          = 255
)

// Value types.
const (
	typeString           = 0
	typeList             = 1
	typeSet              = 2
	typeZSet             = 3 // scores as strings
	typeHash             = 4
	typeZSet2            = 5 // scores as binary doubles
	typeModulePreGA      = 6
	typeModule2          = 7
	typeHashZipmap       = 9
	typeListZiplist      = 10
	typeSetIntset        = 11
	typeZSetZiplist      = 12
	typeHashZiplist      = 13
	typeListQuicklist    = 14
	typeStreamListpacks  = 15
	typeHashListpack     = 16
	typeZSetListpack     = 17
	typeListQuicklist2   = 18
	typeStreamListpacks2 = 19
	typeSetListpack      = 20 // RDB 11
	typeStreamListpacks3 = 21 // RDB 11
)

// typeNames names the value types for error messages.
var typeNames = map[byte]string{
	typeString:           "string",
	typeList:             "list",
	typeSet:              "set",
	typeZSet:             "zset",
	typeHash:             "hash",
	typeZSet2:            "zset",
	typeModulePreGA:      "module",
	typeModule2:          "module",
	typeHashZipmap:       "hash zipmap",
	typeListZiplist:      "list ziplist",
	typeSetIntset:        "set intset",
	typeZSetZiplist:      "zset ziplist",
	typeHashZiplist:      "hash ziplist",
	typeListQuicklist:    "list quicklist",
	typeStreamListpacks:  "stream",
	typeHashListpack:     "hash listpack",
	typeZSetListpack:     "zset listpack",
	typeListQuicklist2:   "list quicklist",
	typeStreamListpacks2: "stream",
	typeSetListpack:      "set listpack",
	typeStreamListpacks3: "stream",
	22:                   "hash with field expiry",
	23:                   "hash listpack with field expiry",
	24:                   "hash with field expiry",
	25:                   "hash listpack with field expiry",
}

// The AUX fields ferry writes besides Redis's own.
const (
	AuxOffset     = "ferry-offset"
	AuxGeneration = "ferry-generation"
	AuxDataset    = "ferry-dataset"
	AuxLog        = "ferry-log"
)

// Meta is what an RDB file says about itself: its AUX fields.
type Meta struct {
	// Offset is the log offset the snapshot contains (ferry-offset): the
	// effects of every entry up to and including it. 0 when absent (a dump
	// written by Redis).
	Offset uint64
	// Generation is ferry's generation id (ferry-generation).
	Generation string
	// Dataset is the dataset's name (ferry-dataset).
	Dataset string
	// Log identifies the log Offset belongs to (ferry-log): a dataset's
	// log deleted and created again counts offsets from 1 again, and its
	// identity differs. Empty when unknown (a dump written by Redis, a
	// snapshot written before ferry recorded it); the encoder then omits
	// the field.
	Log string
	// Created is when the snapshot was taken (ctime, whole seconds). The
	// encoder writes the current time when it is zero.
	Created time.Time
	// UsedMem is the writer's memory use in bytes (used-mem), informative.
	UsedMem int64
	// Version is the RDB version read; the encoder ignores it and always
	// writes Version.
	Version int
	// Aux holds, after a load, every AUX field as read (the ones above
	// included). For the encoder it holds extra fields to write after
	// ferry's; fields the encoder writes itself are not taken from it.
	Aux map[string]string
	// Functions is the code of each function library (function.go): the
	// encoder writes them after the AUX fields, a load returns them in
	// file order.
	Functions []string
}

// Sentinel errors, wrapped by *Error (test with errors.Is).
var (
	// ErrCorrupt: the input is not well-formed RDB.
	ErrCorrupt = errors.New("corrupt RDB")
	// ErrUnsupported: well-formed RDB holding something ferry does not
	// store (modules) or a version it does not read.
	ErrUnsupported = errors.New("unsupported RDB content")
	// ErrChecksum: the CRC64 at the end does not match the content.
	ErrChecksum = errors.New("RDB checksum mismatch")
)

// Error is a failure to decode an RDB stream, located by byte offset in the
// (decompressed) stream and by key when it happened inside one.
type Error struct {
	// Offset is where in the stream the bad item starts, or where the
	// input ended for a truncated stream.
	Offset int64
	// Key is the key being read, "" outside a key; DB is its database.
	Key string
	DB  int
	// Err is ErrCorrupt, ErrUnsupported, ErrChecksum, io.ErrUnexpectedEOF
	// or the reader's own error.
	Err error
	// Msg says what was wrong.
	Msg string
}

func (e *Error) Error() string {
	where := fmt.Sprintf("rdb: byte %d", e.Offset)
	if e.Key != "" {
		where += fmt.Sprintf(": key %q (db %d)", truncateKey(e.Key), e.DB)
	}
	if e.Msg == "" {
		return where + ": " + e.Err.Error()
	}
	return where + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// truncateKey keeps error messages readable when keys are huge.
func truncateKey(k string) string {
	if len(k) > 200 {
		return k[:200] + "..."
	}
	return k
}
