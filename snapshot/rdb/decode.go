package rdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
	"time"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/num"
)

// Load reads one RDB file from r into ks, which must be empty (a fresh
// keyspace.New with the clock and Limits the caller wants), and returns
// the file's AUX fields and function libraries (Meta.Functions). It reads
// every RDB version up to 11 and every encoding of strings, lists, sets,
// sorted sets, hashes and streams; module values are refused
// (ErrUnsupported).
//
// Values take the encodings Redis would give them when loading, by
// ks.Limits. Every key is loaded with its expiry time, including keys
// whose time has passed (as a Redis replica loads them): ks's ExpireMode
// decides what happens to them.
//
// On any error, which is an *Error naming the byte offset (and the key),
// ks is emptied again: it never holds part of a file. The checksum at the
// end is verified (ErrChecksum) unless it is zero, which means none was
// written (redis-server's rdbchecksum no). Load stops there: whatever
// follows in r is ignored, as Redis ignores it, though Load may have
// buffered some of it.
//
// Load holds one value's encoding at a time besides the keyspace; big
// string values are handed to the keyspace, not copied.
func Load(r io.Reader, ks *keyspace.Keyspace) (Meta, error) {
	for i := 0; i < keyspace.NumDBs; i++ {
		if ks.DB(i).Len() != 0 {
			return Meta{}, errors.New("rdb: load into a keyspace that is not empty")
		}
	}
	d := newDecoder(r, ks)
	if runtime.GOMAXPROCS(0) > 1 {
		d.app = newApplier(ks)
	}
	err := d.run(false)
	if d.app != nil {
		// Of two errors, the one earlier in the file, as a sequential load
		// would have met it first.
		if aerr := d.app.finish(); aerr != nil && (err == nil || aerr.(*Error).Offset < errOffset(err)) {
			err = aerr
		}
	}
	if err != nil {
		ks.Flush()
		return Meta{}, err
	}
	return d.meta, nil
}

// errOffset is where err happened in the file, as far as it says.
func errOffset(err error) int64 {
	var e *Error
	if errors.As(err, &e) {
		return e.Offset
	}
	return math.MaxInt64
}

// ReadMeta reads the header, the AUX fields and the function libraries at
// the start of an RDB file (where Redis and ferry write them), without
// loading any key.
func ReadMeta(r io.Reader) (Meta, error) {
	d := newDecoder(r, nil)
	if err := d.run(true); err != nil {
		return Meta{}, err
	}
	return d.meta, nil
}

// maxReserve bounds the table size a RESIZEDB hint may reserve.
const maxReserve = 1 << 20

type decoder struct {
	r    *reader
	ks   *keyspace.Keyspace
	app  *applier // stores keys from another goroutine; nil: loadKey does
	meta Meta
	db   int

	// reserve holds each database's RESIZEDB hint until its first key.
	reserve [keyspace.NumDBs]int

	// The key being loaded, and where its record started.
	key    []byte
	inKey  bool
	keyOff int64

	// Scratch buffers: a, b for elements, blob for compact encodings and
	// lzf for compressed bytes.
	a, b, blob, lzf []byte
	num, num2       [24]byte
	// arena makes the copies of a collection's elements the keyspace
	// keeps; a small collection's share an allocation.
	arena arena

	// sanitized counts the compact encodings whose deep integrity check
	// Redis counts in INFO's dump_payload_sanitizations (a list's
	// listpack nodes, an intset, a sorted set's or hash's listpack, a
	// stream's nodes), each as it is about to be checked.
	sanitized int
}

func newDecoder(r io.Reader, ks *keyspace.Keyspace) *decoder {
	return &decoder{r: newReader(r), ks: ks}
}

// errAt returns an *Error at off of the given kind.
func (d *decoder) errAt(off int64, kind error, format string, args ...any) error {
	e := &Error{Offset: off, Err: kind, Msg: fmt.Sprintf(format, args...), DB: d.db}
	if d.inKey {
		e.Key = string(d.key)
	}
	return e
}

// readErr wraps an error from the reader: an early end, or the source's.
func (d *decoder) readErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return d.errAt(d.r.offset(), err, "truncated: the input ends inside the RDB file")
	}
	if _, ok := err.(*Error); ok {
		return err
	}
	return d.errAt(d.r.offset(), err, "read: %v", err)
}

func (d *decoder) corrupt(off int64, format string, args ...any) error {
	return d.errAt(off, ErrCorrupt, format, args...)
}

func (d *decoder) run(metaOnly bool) error {
	hdr, err := d.r.next(9)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return d.errAt(d.r.offset(), ErrCorrupt, "not an RDB file: shorter than its header")
		}
		return d.readErr(err)
	}
	if string(hdr[:5]) != "REDIS" {
		return d.corrupt(0, "not an RDB file: it starts with %q, not \"REDIS\"", hdr[:5])
	}
	version := 0
	for _, c := range hdr[5:9] {
		if c < '0' || c > '9' {
			return d.corrupt(5, "invalid RDB version %q", hdr[5:9])
		}
		version = version*10 + int(c-'0')
	}
	if version < 1 || version > maxVersion {
		return d.errAt(5, ErrUnsupported, "unsupported RDB version %d (ferry reads 1 to %d)", version, maxVersion)
	}
	d.meta.Version = version
	d.meta.Aux = map[string]string{}

	var expire int64 // the next key's expiry, 0 for none
	for {
		off := d.r.offset()
		t, err := d.r.readByte()
		if err != nil {
			return d.readErr(err)
		}
		if metaOnly && t != opAux && t != opFunction && t != opFunction2 {
			return nil
		}
		switch t {
		case opAux:
			if err := d.readAux(off); err != nil {
				return err
			}
		case opExpireTime:
			b, err := d.r.next(4)
			if err != nil {
				return d.readErr(err)
			}
			if expire, err = d.expiry(off, int64(int32(binary.LittleEndian.Uint32(b)))*1000); err != nil {
				return err
			}
		case opExpireTimeMS:
			b, err := d.r.next(8)
			if err != nil {
				return d.readErr(err)
			}
			if expire, err = d.expiry(off, int64(binary.LittleEndian.Uint64(b))); err != nil {
				return err
			}
		case opFreq:
			if _, err := d.r.readByte(); err != nil {
				return d.readErr(err)
			}
		case opIdle:
			if _, err := d.readLen(); err != nil {
				return err
			}
		case opSelectDB:
			db, err := d.readLen()
			if err != nil {
				return err
			}
			if db >= keyspace.NumDBs {
				return d.errAt(off, ErrUnsupported, "database %d out of range (ferry has %d)", db, keyspace.NumDBs)
			}
			d.db = int(db)
		case opResizeDB:
			keys, err := d.readLen()
			if err != nil {
				return err
			}
			if _, err := d.readLen(); err != nil {
				return err
			}
			// A hint: sizing the table up front spares the load its
			// rehashing. Bounded, so a lying file cannot allocate much, and
			// taken when the database's first key arrives, so that a hint
			// with no key behind it allocates nothing.
			d.reserve[d.db] = int(min(keys, maxReserve))
		case opModuleAux:
			return d.errAt(off, ErrUnsupported, "unsupported module auxiliary data (RDB opcode %d)", t)
		case opFunction, opFunction2:
			if err := d.loadFunction(t); err != nil {
				return err
			}
		case opEOF:
			return d.checkSum()
		default:
			if err := d.loadKey(off, t, expire); err != nil {
				return err
			}
			expire = 0
		}
	}
}

// expiry checks an expiry time read at off.
func (d *decoder) expiry(off, ms int64) (int64, error) {
	if ms <= 0 {
		// ferry's keyspace cannot hold it, and Redis never writes it (a
		// key whose expiry is that old is deleted when it is set).
		return 0, d.corrupt(off, "expiry time %d out of range", ms)
	}
	return ms, nil
}

// checkSum reads the CRC64 after the EOF opcode and compares it with the
// content's.
func (d *decoder) checkSum() error {
	if d.meta.Version < 5 {
		return nil // no checksum before RDB 5
	}
	sum := d.r.checksum()
	off := d.r.offset()
	b, err := d.r.next(8)
	if err != nil {
		return d.readErr(err)
	}
	want := binary.LittleEndian.Uint64(b)
	if want != 0 && want != sum {
		return d.errAt(off, ErrChecksum, "checksum mismatch: the file says %016x, its content sums to %016x", want, sum)
	}
	return nil
}

func (d *decoder) readAux(off int64) error {
	k, err := d.readString(d.a[:0])
	if err != nil {
		return err
	}
	d.a = k
	v, err := d.readString(d.b[:0])
	if err != nil {
		return err
	}
	d.b = v
	key, val := string(k), string(v)
	d.meta.Aux[key] = val
	switch key {
	case AuxOffset:
		n, err := strconv.ParseUint(val, 10, 64)
		if err != nil {
			return d.corrupt(off, "AUX field %s is not an offset: %q", key, val)
		}
		d.meta.Offset = n
	case AuxGeneration:
		d.meta.Generation = val
	case AuxDataset:
		d.meta.Dataset = val
	case AuxLog:
		d.meta.Log = val
	case "ctime":
		if n, err := strconv.ParseInt(val, 10, 64); err == nil {
			d.meta.Created = time.Unix(n, 0)
		}
	case "used-mem":
		if n, err := strconv.ParseInt(val, 10, 64); err == nil {
			d.meta.UsedMem = n
		}
	}
	return nil
}

// readLen reads an RDB length. A byte that would start a specially
// encoded string (0xc0-0xff) is the length in its low 6 bits, as Redis's
// rdbLoadLen reads it (redis-server restores a set whose count is 0xc2 as
// one of 2 members).
func (d *decoder) readLen() (uint64, error) {
	n, _, err := d.readLenEnc()
	return n, err
}

// readLenEnc reads a length, or the kind of a specially encoded string
// when enc is set.
func (d *decoder) readLenEnc() (n uint64, enc bool, err error) {
	off := d.r.offset()
	b, err := d.r.readByte()
	if err != nil {
		return 0, false, d.readErr(err)
	}
	switch b >> 6 {
	case 0:
		return uint64(b & 0x3f), false, nil
	case 1:
		c, err := d.r.readByte()
		if err != nil {
			return 0, false, d.readErr(err)
		}
		return uint64(b&0x3f)<<8 | uint64(c), false, nil
	case 2:
		switch b {
		case 0x80:
			p, err := d.r.next(4)
			if err != nil {
				return 0, false, d.readErr(err)
			}
			return uint64(binary.BigEndian.Uint32(p)), false, nil
		case 0x81:
			p, err := d.r.next(8)
			if err != nil {
				return 0, false, d.readErr(err)
			}
			return binary.BigEndian.Uint64(p), false, nil
		}
		return 0, false, d.corrupt(off, "invalid length encoding 0x%02x", b)
	}
	return uint64(b & 0x3f), true, nil
}

// readString reads a string into dst[:0] (which it may reallocate) and
// returns it.
func (d *decoder) readString(dst []byte) ([]byte, error) {
	off := d.r.offset()
	n, enc, err := d.readLenEnc()
	if err != nil {
		return dst, err
	}
	dst = dst[:0]
	if !enc {
		dst, err = d.r.readInto(dst, n)
		if err != nil {
			return dst, d.readErr(err)
		}
		return dst, nil
	}
	switch n {
	case 0, 1, 2: // 8, 16, 32-bit integers
		p, err := d.r.next(1 << n)
		if err != nil {
			return dst, d.readErr(err)
		}
		return strconv.AppendInt(dst, leInt(p), 10), nil
	case 3: // LZF
		clen, err := d.readLen()
		if err != nil {
			return dst, err
		}
		ulen, err := d.readLen()
		if err != nil {
			return dst, err
		}
		if ulen == 0 {
			// lzf_decompress reports an error by returning 0, the length
			// Redis then wants: it takes any compressed bytes, even none,
			// as the empty string.
			if d.lzf, err = d.r.readInto(d.lzf[:0], clen); err != nil {
				return dst, d.readErr(err)
			}
			return dst, nil
		}
		if clen == 0 || (ulen+lzfMaxRatio-1)/lzfMaxRatio > clen || ulen > math.MaxInt32*4 {
			return dst, d.corrupt(off, "invalid LZF string: %d bytes compressed to %d", ulen, clen)
		}
		start := d.r.offset()
		d.lzf, err = d.r.readInto(d.lzf[:0], clen)
		if err != nil {
			return dst, d.readErr(err)
		}
		dst, err = lzfDecompress(dst, d.lzf, int(ulen))
		if err != nil {
			var ce *compactError
			if errors.As(err, &ce) {
				return dst, d.corrupt(start, "invalid LZF string: %s (byte %d of the compressed data)", ce.msg, ce.pos)
			}
			return dst, d.corrupt(start, "invalid LZF string: %v", err)
		}
		return dst, nil
	}
	return dst, d.corrupt(off, "invalid string encoding %d", n)
}

// isUnsupported names the value types ferry knows and does not store.
func isUnsupported(t byte) bool {
	switch t {
	case typeModulePreGA, typeModule2, 22, 23, 24, 25:
		return true
	}
	return false
}

// loadKey loads the key whose record starts at off with value type t.
func (d *decoder) loadKey(off int64, t byte, expire int64) error {
	known := false
	switch t {
	case typeString, typeList, typeSet, typeZSet, typeHash, typeZSet2,
		typeHashZipmap, typeListZiplist, typeSetIntset, typeZSetZiplist, typeHashZiplist,
		typeListQuicklist, typeHashListpack, typeZSetListpack, typeListQuicklist2, typeSetListpack,
		typeStreamListpacks, typeStreamListpacks2, typeStreamListpacks3:
		known = true
	}
	if !known && !isUnsupported(t) {
		return d.corrupt(off, "unknown RDB type or opcode %d", t)
	}
	if t == typeSetListpack && d.meta.Version < 11 {
		return d.corrupt(off, "RDB type %d (set listpack) in an RDB version %d file", t, d.meta.Version)
	}
	var err error
	d.keyOff = off
	if d.key, err = d.readString(d.key[:0]); err != nil {
		return err
	}
	d.inKey = true
	defer func() { d.inKey = false }()
	if !known {
		return d.errAt(off, ErrUnsupported, "unsupported RDB type %d (%s)", t, typeNames[t])
	}
	if n := d.reserve[d.db]; n > 0 && d.ks != nil {
		d.reserve[d.db] = 0
		if d.app != nil {
			if err := d.app.add(record{db: d.db, reserve: n}); err != nil {
				return err
			}
		} else {
			d.ks.DB(d.db).Reserve(n)
		}
	}
	if d.app != nil {
		return d.queueKey(off, t, expire)
	}
	key := unsafeString(d.key)
	db := d.ks.DB(d.db)
	// A key stored twice is found by the count not growing, which saves a
	// lookup per key.
	keys := db.Len()
	if t == typeString {
		if d.a, err = d.readString(d.a[:0]); err != nil {
			return err
		}
		if len(d.a) >= bigValue {
			// Hand a big value over rather than copy it.
			db.SetString(key, nil, false).SetStrOwned(d.a)
			d.a = nil
		} else {
			db.SetString(key, d.a, false)
		}
	} else {
		c, err := d.loadCollection(t)
		if err != nil {
			return err
		}
		if c == nil || c.Len() == 0 && c.Kind() != keyspace.KindStream {
			// Redis skips empty collections (older versions could write
			// them); so does ferry, which never stores one. A stream may
			// be empty.
			return nil
		}
		db.SetCollection(key, c, false)
	}
	if db.Len() == keys {
		return d.corrupt(off, "duplicate key")
	}
	if expire != 0 {
		db.SetExpire(key, expire)
	}
	d.trimScratch()
	return nil
}

// bigValue is the size from which a string value is handed to the keyspace
// instead of copied, and from which scratch buffers are not kept.
const bigValue = 1 << 20

// trimScratch drops scratch buffers a big value grew, so that one big key
// does not pin its size for the rest of the load.
func (d *decoder) trimScratch() {
	for _, b := range []*[]byte{&d.a, &d.b, &d.blob, &d.lzf} {
		if cap(*b) > bigValue {
			*b = nil
		}
	}
}

func (d *decoder) loadCollection(t byte) (keyspace.Collection, error) {
	switch t {
	case typeList, typeListZiplist, typeListQuicklist, typeListQuicklist2:
		return d.loadList(t)
	case typeSet, typeSetIntset, typeSetListpack:
		return d.loadSet(t)
	case typeZSet, typeZSet2, typeZSetZiplist, typeZSetListpack:
		return d.loadZSet(t)
	case typeHash, typeHashZipmap, typeHashZiplist, typeHashListpack:
		return d.loadHash(t)
	case typeStreamListpacks, typeStreamListpacks2, typeStreamListpacks3:
		return d.loadStream(t) // stream.go
	}
	return nil, d.corrupt(d.keyOff, "unknown RDB type %d", t)
}

// readBlob reads a compact encoding, returning where it started.
func (d *decoder) readBlob() (int64, error) {
	off := d.r.offset()
	var err error
	d.blob, err = d.readString(d.blob[:0])
	return off, err
}

// blobErr locates an error from a compact encoding read at off.
func (d *decoder) blobErr(off int64, what string, err error) error {
	var ce *compactError
	if errors.As(err, &ce) {
		return d.corrupt(off, "invalid %s: %s", what, err)
	}
	return err // already an *Error
}

func (d *decoder) loadList(t byte) (keyspace.Collection, error) {
	l := keyspace.NewList()
	defer d.arena.done()
	push := func(e elem) error {
		l.PushBackString(d.arena.string(e.bytes(d.num[:])))
		return nil
	}
	switch t {
	case typeList:
		n, err := d.readLen()
		if err != nil {
			return nil, err
		}
		if n <= smallCollection {
			l.Reserve(int(n))
			d.arena.start(int(n) * arenaGuess)
		}
		for ; n > 0; n-- {
			if d.a, err = d.readString(d.a[:0]); err != nil {
				return nil, err
			}
			l.PushBackString(d.arena.string(d.a))
		}
	case typeListZiplist:
		off, err := d.readBlob()
		if err != nil {
			return nil, err
		}
		l.Reserve(compactLen(d.blob, true))
		d.arena.start(len(d.blob))
		if err := ziplistEach(d.blob, push); err != nil {
			return nil, d.blobErr(off, "list ziplist", err)
		}
	case typeListQuicklist, typeListQuicklist2:
		n, err := d.readLen()
		if err != nil {
			return nil, err
		}
		// A list of one node (most lists) takes its elements from one
		// block; a longer list copies each, so that popping most of a
		// node does not keep the whole node's block.
		single := n == 1
		for ; n > 0; n-- {
			const plain, packed = 1, 2
			container := uint64(packed)
			coff := d.r.offset()
			if t == typeListQuicklist2 {
				if container, err = d.readLen(); err != nil {
					return nil, err
				}
				if container != plain && container != packed {
					return nil, d.corrupt(coff, "invalid quicklist node container %d", container)
				}
			}
			off, err := d.readBlob()
			if err != nil {
				return nil, err
			}
			if len(d.blob) == 0 {
				return nil, d.corrupt(off, "empty quicklist node")
			}
			if single && container == packed {
				l.Reserve(compactLen(d.blob, t == typeListQuicklist))
				d.arena.start(len(d.blob))
			}
			switch {
			case container == plain:
				l.PushBack(d.blob)
			case t == typeListQuicklist:
				if err := ziplistEach(d.blob, push); err != nil {
					return nil, d.blobErr(off, "quicklist ziplist node", err)
				}
			default:
				d.sanitized++
				if err := listpackEach(d.blob, push); err != nil {
					return nil, d.blobErr(off, "quicklist listpack node", err)
				}
			}
		}
	}
	return l, nil
}

func (d *decoder) loadSet(t byte) (keyspace.Collection, error) {
	s := keyspace.NewSet()
	lim := d.ks.Limits
	var elemOff int64
	add := func(m []byte) error {
		if !s.Add(m, lim) {
			return d.corrupt(elemOff, "duplicate set member %q", truncateKey(string(m)))
		}
		return nil
	}
	switch t {
	case typeSet:
		n, err := d.readLen()
		if err != nil {
			return nil, err
		}
		for ; n > 0; n-- {
			elemOff = d.r.offset()
			if d.a, err = d.readString(d.a[:0]); err != nil {
				return nil, err
			}
			if err := add(d.a); err != nil {
				return nil, err
			}
		}
	case typeSetIntset:
		off, err := d.readBlob()
		if err != nil {
			return nil, err
		}
		elemOff = off
		d.sanitized++
		err = intsetEach(d.blob, func(n int64) error {
			return add(strconv.AppendInt(d.num[:0], n, 10))
		})
		if err != nil {
			return nil, d.blobErr(off, "intset", err)
		}
	case typeSetListpack:
		off, err := d.readBlob()
		if err != nil {
			return nil, err
		}
		elemOff = off
		if err := listpackEach(d.blob, func(e elem) error { return add(e.bytes(d.num[:])) }); err != nil {
			return nil, d.blobErr(off, "set listpack", err)
		}
	}
	return s, nil
}

func (d *decoder) loadZSet(t byte) (keyspace.Collection, error) {
	z := keyspace.NewZSet()
	lim := d.ks.Limits
	var elemOff int64
	defer d.arena.done()
	// exact keeps a score of -0 in a listpack (a compact score written
	// as text, which Redis reads back with strtod).
	add := func(member []byte, score float64, exact bool) error {
		if math.IsNaN(score) {
			return d.corrupt(elemOff, "sorted set member %q with a NaN score", truncateKey(string(member)))
		}
		addOwned := z.AddOwned
		if exact {
			addOwned = z.AddOwnedExact
		}
		if !addOwned(d.arena.string(member), score, lim) {
			return d.corrupt(elemOff, "duplicate sorted set member %q", truncateKey(string(member)))
		}
		return nil
	}
	switch t {
	case typeZSet, typeZSet2:
		n, err := d.readLen()
		if err != nil {
			return nil, err
		}
		if n > uint64(lim.ZSetMaxListpackEntries) {
			// Redis loads these sets into a skiplist, then converts the
			// small ones to a listpack; a skiplist keeps a score of -0,
			// which a listpack writes as 0.
			z = keyspace.NewZSetSkiplist()
		} else if n <= smallCollection {
			z.Reserve(int(n))
			d.arena.start(int(n) * arenaGuess)
		}
		// Members given -0 while the set was still a listpack.
		var negZero []string
		for ; n > 0; n-- {
			elemOff = d.r.offset()
			if d.a, err = d.readString(d.a[:0]); err != nil {
				return nil, err
			}
			var score float64
			if t == typeZSet2 {
				b, err := d.r.next(8)
				if err != nil {
					return nil, d.readErr(err)
				}
				score = math.Float64frombits(binary.LittleEndian.Uint64(b))
			} else if score, err = d.readStringScore(); err != nil {
				return nil, err
			}
			if score == 0 && math.Signbit(score) && z.IsListpack() {
				negZero = append(negZero, string(d.a))
			}
			if err := add(d.a, score, false); err != nil {
				return nil, err
			}
		}
		if len(negZero) > 0 && !z.IsListpack() {
			// A long member made it a skiplist after they were written
			// as 0; in Redis's skiplist they are -0.
			for _, m := range negZero {
				z.Remove(m)
				z.AddOwned(m, math.Copysign(0, -1), lim)
			}
		}
	case typeZSetZiplist, typeZSetListpack:
		off, err := d.readBlob()
		if err != nil {
			return nil, err
		}
		elemOff = off
		what, each := "sorted set listpack", listpackEach
		if t == typeZSetZiplist {
			what, each = "sorted set ziplist", ziplistEach
		} else {
			d.sanitized++
		}
		z.Reserve(compactLen(d.blob, t == typeZSetZiplist) / 2)
		d.arena.start(len(d.blob))
		// Redis converts a compact set to a skiplist only for its number
		// of members: a long member stays in the listpack.
		lim.ZSetMaxListpackValue = math.MaxInt
		err = d.eachPair(off, what, each, func(member, e elem) error {
			score := float64(e.n)
			if !e.isInt {
				var ok bool
				if score, ok = num.ParseFloat(e.s); !ok {
					return d.corrupt(off, "invalid %s: score %q is not a number", what, truncateKey(string(e.s)))
				}
			}
			m := member.bytes(d.num[:])
			if err := add(m, score, !e.isInt); err != nil {
				return err
			}
			// ZSCAN replies the text as it came
			var text [24]byte
			z.SetScoreText(m, score, e.bytes(text[:]))
			return nil
		})
		if err != nil {
			return nil, d.blobErr(off, what, err)
		}
	}
	return z, nil
}

// eachPair walks d.blob, a ziplist or listpack (each) of off that holds
// pairs (hash field and value, sorted set member and score), calling fn
// per pair; an odd number of entries is corrupt.
func (d *decoder) eachPair(off int64, what string, each func([]byte, func(elem) error) error, fn func(a, b elem) error) error {
	var first elem
	i := 0
	err := each(d.blob, func(e elem) error {
		i++
		if i%2 == 1 {
			first = e
			return nil
		}
		return fn(first, e)
	})
	if err == nil && i%2 == 1 {
		err = d.corrupt(off, "invalid %s: odd number of entries %d", what, i)
	}
	return err
}

// readStringScore reads a score of the old sorted set type: a length byte
// then "%.17g" text, or 253, 254, 255 for NaN, +inf, -inf.
func (d *decoder) readStringScore() (float64, error) {
	off := d.r.offset()
	l, err := d.r.readByte()
	if err != nil {
		return 0, d.readErr(err)
	}
	switch l {
	case 253:
		return math.NaN(), nil
	case 254:
		return math.Inf(1), nil
	case 255:
		return math.Inf(-1), nil
	}
	b, err := d.r.next(int(l))
	if err != nil {
		return 0, d.readErr(err)
	}
	f, ok := num.ParseFloat(b)
	if !ok {
		return 0, d.corrupt(off, "invalid score %q", b)
	}
	return f, nil
}

func (d *decoder) loadHash(t byte) (keyspace.Collection, error) {
	h := keyspace.NewHash()
	lim := d.ks.Limits
	var elemOff int64
	defer d.arena.done()
	set := func(field, value []byte) error {
		if !h.SetOwned(d.arena.string(field), d.arena.bytes(value), lim) {
			return d.corrupt(elemOff, "duplicate hash field %q", truncateKey(string(field)))
		}
		return nil
	}
	switch t {
	case typeHash:
		n, err := d.readLen()
		if err != nil {
			return nil, err
		}
		if n <= smallCollection {
			h.Reserve(int(n))
			d.arena.start(2 * int(n) * arenaGuess)
		}
		for ; n > 0; n-- {
			elemOff = d.r.offset()
			if d.a, err = d.readString(d.a[:0]); err != nil {
				return nil, err
			}
			if d.b, err = d.readString(d.b[:0]); err != nil {
				return nil, err
			}
			if err := set(d.a, d.b); err != nil {
				return nil, err
			}
		}
	case typeHashZipmap:
		off, err := d.readBlob()
		if err != nil {
			return nil, err
		}
		elemOff = off
		if err := zipmapEach(d.blob, set); err != nil {
			return nil, d.blobErr(off, "hash zipmap", err)
		}
	case typeHashZiplist, typeHashListpack:
		off, err := d.readBlob()
		if err != nil {
			return nil, err
		}
		elemOff = off
		what, each := "hash listpack", listpackEach
		if t == typeHashZiplist {
			what, each = "hash ziplist", ziplistEach
		} else {
			d.sanitized++
		}
		h.Reserve(compactLen(d.blob, t == typeHashZiplist) / 2)
		d.arena.start(len(d.blob))
		err = d.eachPair(off, what, each, func(field, e elem) error {
			return set(field.bytes(d.num[:]), e.bytes(d.num2[:]))
		})
		if err != nil {
			return nil, d.blobErr(off, what, err)
		}
	}
	return h, nil
}
