package rdb

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/num"
)

// redisVersion is the version the redis-ver AUX field claims: the format is
// redis-server 7.0's.
const redisVersion = "7.0.15"

// Encode writes ks to w as one RDB file with meta's AUX fields: every
// non-empty database with its keys, their expiry times (logically expired
// keys not yet deleted included, as Redis writes them) and values, then the
// checksum. It streams: nothing but a buffer of w's writes is held.
//
// Encode reads ks for the whole call and does not modify it. The caller
// must keep anything else from modifying ks meanwhile (hold the engine's
// lock, or pass a keyspace nobody else touches); a snapshot that must not
// stall writers uses an Encoder and feeds it keys itself. w is not closed.
func Encode(ks *keyspace.Keyspace, w io.Writer, meta Meta) error {
	e, err := NewEncoder(w, meta)
	if err != nil {
		return err
	}
	for i := 0; i < keyspace.NumDBs; i++ {
		db := ks.DB(i)
		if db.Len() == 0 {
			continue
		}
		if err := e.SelectDB(i, db.Len(), db.Expires()); err != nil {
			return err
		}
		db.Range(func(key string, o *keyspace.Object) bool {
			return e.WriteObject(key, o) == nil
		})
		if e.err != nil {
			return e.err
		}
	}
	return e.Close()
}

// An Encoder writes one RDB file piece by piece: NewEncoder writes the
// header and AUX fields, SelectDB starts a database, WriteObject (or
// WriteString, WriteCollection) writes a key, Close writes the end and the
// checksum. The first error sticks: every later call returns it.
//
// An Encoder is not safe for concurrent use; it retains nothing it is
// given past the call that gives it.
type Encoder struct {
	w      io.Writer // the destination
	crc    *crcWriter
	bw     *bufio.Writer
	db     int // the selected database, -1 before the first
	err    error
	closed bool
	tmp    []byte
	small  [16]byte // for the fixed-size pieces, which would escape on the stack
}

// crcWriter checksums what passes through it to w.
type crcWriter struct {
	w   io.Writer
	crc uint64
	n   int64
}

func (c *crcWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc = crcUpdate(c.crc, p[:n])
	c.n += int64(n)
	return n, err
}

// encoderBuffer is the size of the encoder's write buffer.
const encoderBuffer = 64 << 10

// NewEncoder starts an RDB file on w: the "REDIS0010" header, Redis's AUX
// fields (redis-ver, redis-bits, ctime, used-mem, aof-base) and ferry's
// (ferry-offset, ferry-generation, ferry-dataset, and ferry-log when
// meta.Log is set), then meta.Aux's other
// fields in key order, then meta.Functions' libraries.
func NewEncoder(w io.Writer, meta Meta) (*Encoder, error) {
	c := &crcWriter{w: w}
	e := &Encoder{w: w, crc: c, bw: bufio.NewWriterSize(c, encoderBuffer), db: -1}
	e.writeRaw([]byte(fmt.Sprintf("REDIS%04d", Version)))
	created := meta.Created
	if created.IsZero() {
		created = time.Now()
	}
	own := []struct{ k, v string }{
		{"redis-ver", redisVersion},
		{"redis-bits", "64"},
		{"ctime", strconv.FormatInt(created.Unix(), 10)},
		{"used-mem", strconv.FormatInt(meta.UsedMem, 10)},
		{"aof-base", "0"},
		{AuxOffset, strconv.FormatUint(meta.Offset, 10)},
		{AuxGeneration, meta.Generation},
		{AuxDataset, meta.Dataset},
	}
	if meta.Log != "" {
		own = append(own, struct{ k, v string }{AuxLog, meta.Log})
	}
	written := make(map[string]bool, len(own))
	for _, f := range own {
		e.writeAux(f.k, f.v)
		written[f.k] = true
	}
	extra := make([]string, 0, len(meta.Aux))
	for k := range meta.Aux {
		if !written[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		e.writeAux(k, meta.Aux[k])
	}
	e.writeFunctions(meta.Functions)
	return e, e.err
}

func (e *Encoder) writeAux(k, v string) {
	e.writeByte(opAux)
	e.writeString([]byte(k))
	e.writeString([]byte(v))
}

// SelectDB starts database db (0 <= db < keyspace.NumDBs): the keys
// written next belong to it. keys and expires are how many keys, and keys
// with an expiry, will follow (a sizing hint for the reader; 0 if unknown).
func (e *Encoder) SelectDB(db, keys, expires int) error {
	if e.selectDB(db) != nil {
		return e.err
	}
	e.writeByte(opResizeDB)
	e.writeLen(uint64(max(keys, 0)))
	e.writeLen(uint64(max(expires, 0)))
	return e.err
}

// selectDB writes a SELECTDB of db.
func (e *Encoder) selectDB(db int) error {
	if e.err != nil {
		return e.err
	}
	if db < 0 || db >= keyspace.NumDBs {
		return e.fail(fmt.Errorf("rdb: select database %d: out of range", db))
	}
	e.db = db
	e.writeByte(opSelectDB)
	e.writeLen(uint64(db))
	return e.err
}

// Use selects database db for the keys written next, writing a SELECTDB
// (without a size hint) only when another database is selected: a
// snapshot of a changing keyspace visits databases in any order, and RDB
// readers, Redis's included, accept a database selected more than once.
func (e *Encoder) Use(db int) error {
	if e.err != nil || db == e.db {
		return e.err
	}
	return e.selectDB(db)
}

// BeginCut starts a point-in-time cut of ks (keyspace.Keyspace.BeginCut)
// whose keys are written to e as the cut emits them: each database's first
// key gets a SELECTDB with its size at the cut (a RESIZEDB hint), later
// returns to it a plain SELECTDB. A write error sticks: Close returns it.
// The caller holds ks still while BeginCut runs, and steps the cut.
func (e *Encoder) BeginCut(ks *keyspace.Keyspace) *keyspace.Cut {
	var sizes [keyspace.NumDBs][2]int // keys and expires at the cut
	for i := range sizes {
		sizes[i] = [2]int{ks.DB(i).Len(), ks.DB(i).Expires()}
	}
	var started [keyspace.NumDBs]bool
	return ks.BeginCut(func(db int, key string, o *keyspace.Object) {
		var err error
		if !started[db] {
			started[db] = true
			err = e.SelectDB(db, sizes[db][0], sizes[db][1])
		} else {
			err = e.Use(db)
		}
		if err == nil {
			e.WriteObject(key, o)
		}
	})
}

// WriteObject writes key with o's value and expiry in the selected
// database.
func (e *Encoder) WriteObject(key string, o *keyspace.Object) error {
	if c := o.Collection(); c != nil {
		return e.WriteCollection(key, c, o.Expire())
	}
	return e.WriteString(key, o.Str(), o.Expire())
}

// WriteString writes a string key; expire is its expiry time in unix
// milliseconds, 0 for none.
func (e *Encoder) WriteString(key string, val []byte, expire int64) error {
	if !e.startKey(key, typeString, expire) {
		return e.err
	}
	e.writeString(val)
	return e.err
}

// WriteCollection writes a list, set, sorted set or hash key; expire is its
// expiry time in unix milliseconds, 0 for none. c must not be empty.
func (e *Encoder) WriteCollection(key string, c keyspace.Collection, expire int64) error {
	if e.err != nil {
		return e.err
	}
	if s, ok := c.(*keyspace.Stream); ok {
		return e.writeStreamKey(key, s, expire) // stream.go; may be empty
	}
	if c.Len() == 0 {
		// Redis skips empty collections when it loads them: refuse to
		// write a key that would silently vanish.
		return e.fail(fmt.Errorf("rdb: key %q: empty %s", truncateKey(key), c.Kind()))
	}
	switch v := c.(type) {
	case *keyspace.List:
		if !e.startKey(key, typeList, expire) {
			return e.err
		}
		e.writeLen(uint64(v.Len()))
		v.Each(func(s string) bool {
			e.writeString(unsafeBytes(s))
			return e.err == nil
		})
	case *keyspace.Set:
		if !e.startKey(key, typeSet, expire) {
			return e.err
		}
		e.writeLen(uint64(v.Len()))
		if ints := v.Ints(); ints != nil {
			for _, n := range ints {
				e.writeInt(n)
			}
			break
		}
		v.Range(func(m []byte) bool {
			e.writeString(m)
			return e.err == nil
		})
	case *keyspace.ZSet:
		if v.HasListpackNegZero() {
			// Only a listpack carries a score of -0 in a small set: Redis
			// (and the decoder) turn a small typeZSet2 set's -0 into 0.
			if !e.startKey(key, typeZSetListpack, expire) {
				return e.err
			}
			e.writeString(v.AppendListpack(nil))
			break
		}
		if !e.startKey(key, typeZSet2, expire) {
			return e.err
		}
		e.writeLen(uint64(v.Len()))
		v.Range(func(m string, score float64) bool {
			e.writeString(unsafeBytes(m))
			b := e.small[:8]
			binary.LittleEndian.PutUint64(b, math.Float64bits(score))
			e.writeRaw(b)
			return e.err == nil
		})
	case *keyspace.Hash:
		if !e.startKey(key, typeHash, expire) {
			return e.err
		}
		e.writeLen(uint64(v.Len()))
		v.Range(func(f string, val []byte) bool {
			e.writeString(unsafeBytes(f))
			e.writeString(val)
			return e.err == nil
		})
	default:
		return e.fail(fmt.Errorf("rdb: key %q: cannot encode a %T", truncateKey(key), c))
	}
	return e.err
}

// startKey writes the expiry, the type and the key, reporting whether to go
// on.
func (e *Encoder) startKey(key string, typ byte, expire int64) bool {
	if e.err != nil {
		return false
	}
	if e.closed {
		e.fail(errors.New("rdb: write after Close"))
		return false
	}
	if e.db < 0 {
		e.fail(errors.New("rdb: key written before SelectDB"))
		return false
	}
	if expire != 0 {
		b := e.small[:9]
		b[0] = opExpireTimeMS
		binary.LittleEndian.PutUint64(b[1:], uint64(expire))
		e.writeRaw(b)
	}
	e.writeByte(typ)
	e.writeString(unsafeBytes(key))
	return e.err == nil
}

// Close writes the end of the file and its checksum, and flushes. It does
// not close the underlying writer.
func (e *Encoder) Close() error {
	if e.err != nil {
		return e.err
	}
	if e.closed {
		return nil
	}
	e.closed = true
	e.writeByte(opEOF)
	if e.err != nil {
		return e.err
	}
	if err := e.bw.Flush(); err != nil {
		return e.fail(err)
	}
	sum := binary.LittleEndian.AppendUint64(nil, e.crc.crc)
	if _, err := e.w.Write(sum); err != nil {
		return e.fail(err)
	}
	return nil
}

// Written returns the number of bytes written to the underlying writer so
// far (the last buffered ones and the checksum come with Close).
func (e *Encoder) Written() int64 { return e.crc.n }

func (e *Encoder) fail(err error) error {
	if e.err == nil {
		e.err = err
	}
	return e.err
}

func (e *Encoder) writeRaw(b []byte) {
	if e.err != nil {
		return
	}
	if _, err := e.bw.Write(b); err != nil {
		e.fail(err)
	}
}

func (e *Encoder) writeByte(b byte) {
	if e.err != nil {
		return
	}
	if err := e.bw.WriteByte(b); err != nil {
		e.fail(err)
	}
}

// writeLen writes an RDB length: 6, 14, 32 or 64 bits.
func (e *Encoder) writeLen(n uint64) {
	b := e.small[:]
	switch {
	case n < 1<<6:
		e.writeByte(byte(n))
		return
	case n < 1<<14:
		b[0] = 0x40 | byte(n>>8)
		b[1] = byte(n)
		e.writeRaw(b[:2])
	case n <= math.MaxUint32:
		b[0] = 0x80
		binary.BigEndian.PutUint32(b[1:], uint32(n))
		e.writeRaw(b[:5])
	default:
		b[0] = 0x81
		binary.BigEndian.PutUint64(b[1:], n)
		e.writeRaw(b[:9])
	}
}

// writeString writes a string, integer-encoded when Redis would
// (rdbTryIntegerEncoding: at most 11 bytes, in canonical decimal form, and
// fitting 32 bits), otherwise length-prefixed.
func (e *Encoder) writeString(s []byte) {
	if len(s) <= 11 && len(s) > 0 {
		if n, ok := num.ParseInt(s); ok && n >= math.MinInt32 && n <= math.MaxInt32 {
			e.writeIntEnc(n)
			return
		}
	}
	e.writeLen(uint64(len(s)))
	e.writeRaw(s)
}

// writeInt writes an integer as a string (an intset member).
func (e *Encoder) writeInt(n int64) {
	if n >= math.MinInt32 && n <= math.MaxInt32 {
		e.writeIntEnc(n)
		return
	}
	e.tmp = strconv.AppendInt(e.tmp[:0], n, 10)
	e.writeLen(uint64(len(e.tmp)))
	e.writeRaw(e.tmp)
}

// writeIntEnc writes a 32-bit integer in the shortest integer encoding.
func (e *Encoder) writeIntEnc(n int64) {
	b := e.small[:]
	switch {
	case n >= math.MinInt8 && n <= math.MaxInt8:
		b[0] = 0xc0
		b[1] = byte(n)
		e.writeRaw(b[:2])
	case n >= math.MinInt16 && n <= math.MaxInt16:
		b[0] = 0xc1
		binary.LittleEndian.PutUint16(b[1:], uint16(n))
		e.writeRaw(b[:3])
	default:
		b[0] = 0xc2
		binary.LittleEndian.PutUint32(b[1:], uint32(n))
		e.writeRaw(b[:5])
	}
}
