package keyspace

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
)

// Streams, laid out as Redis 7.0's t_stream.c lays them out: entries are
// appended to nodes, each node a listpack holding byte for byte what Redis
// holds (a master entry with the live and deleted counts and the first
// entry's fields, then each entry's flags, ID deltas from the node's master
// ID, fields unless they are the master's, values and element count). A
// node fills up at stream-node-max-bytes (4096) or stream-node-max-entries
// (100, live and deleted counted), XDEL and exact trims only flag entries
// deleted, a node goes when its last live entry does, and approximate trims
// remove whole nodes only. Keeping Redis's bytes makes everything that
// depends on the layout match (approximate trims, XINFO STREAM FULL), and
// the RDB writer emits the nodes as they are.
//
// The nodes sit in a slice sorted by master ID (Redis's radix tree, whose
// keys are the master IDs in big-endian): appends and trims at the ends are
// cheap, a node removed from the middle (XDEL) moves the slice's tail.

// Stream node limits: Redis 7.0's stream-node-max-bytes and
// stream-node-max-entries defaults.
const (
	StreamNodeMaxBytes   = 4096
	StreamNodeMaxEntries = 100
)

// Stream entry flags.
const (
	streamFlagDeleted    = 1
	streamFlagSameFields = 2
)

// StreamID is a stream entry ID: milliseconds and sequence.
type StreamID struct{ Ms, Seq uint64 }

// MaxStreamID is the largest ID ("+").
var MaxStreamID = StreamID{^uint64(0), ^uint64(0)}

// Cmp compares id with o: -1, 0 or 1.
func (id StreamID) Cmp(o StreamID) int {
	switch {
	case id.Ms < o.Ms:
		return -1
	case id.Ms > o.Ms:
		return 1
	case id.Seq < o.Seq:
		return -1
	case id.Seq > o.Seq:
		return 1
	}
	return 0
}

// Less reports whether id sorts before o.
func (id StreamID) Less(o StreamID) bool { return id.Cmp(o) < 0 }

// IsZero reports whether id is 0-0.
func (id StreamID) IsZero() bool { return id.Ms == 0 && id.Seq == 0 }

// Incr returns the next ID; ok is false (and the ID 0-0) past the largest.
func (id StreamID) Incr() (StreamID, bool) {
	if id.Seq == ^uint64(0) {
		if id.Ms == ^uint64(0) {
			return StreamID{}, false
		}
		return StreamID{id.Ms + 1, 0}, true
	}
	return StreamID{id.Ms, id.Seq + 1}, true
}

// Decr returns the previous ID; ok is false (and the ID the largest)
// before 0-0.
func (id StreamID) Decr() (StreamID, bool) {
	if id.Seq == 0 {
		if id.Ms == 0 {
			return MaxStreamID, false
		}
		return StreamID{id.Ms - 1, ^uint64(0)}, true
	}
	return StreamID{id.Ms, id.Seq - 1}, true
}

// String returns "ms-seq".
func (id StreamID) String() string { return string(id.Append(nil)) }

// Append appends "ms-seq" to b.
func (id StreamID) Append(b []byte) []byte {
	b = strconv.AppendUint(b, id.Ms, 10)
	b = append(b, '-')
	return strconv.AppendUint(b, id.Seq, 10)
}

// Key returns the ID as 16 big-endian bytes (Redis's radix tree key and
// RDB form).
func (id StreamID) Key() [16]byte {
	var k [16]byte
	binary.BigEndian.PutUint64(k[:], id.Ms)
	binary.BigEndian.PutUint64(k[8:], id.Seq)
	return k
}

// StreamIDFromKey decodes a 16-byte big-endian ID.
func StreamIDFromKey(k []byte) StreamID {
	return StreamID{binary.BigEndian.Uint64(k), binary.BigEndian.Uint64(k[8:])}
}

// streamNode is one listpack of entries.
type streamNode struct {
	master StreamID
	lp     []byte
}

// Stream is a stream value with its consumer groups.
type Stream struct {
	nodes        []*streamNode
	length       uint64
	lastID       StreamID
	firstID      StreamID
	maxDeletedID StreamID
	entriesAdded uint64
	groups       []*StreamGroup // sorted by name
}

// NewStream returns an empty stream.
func NewStream() *Stream { return &Stream{} }

// Kind returns KindStream.
func (s *Stream) Kind() Kind { return KindStream }

// Len returns the number of live entries (XLEN). Unlike other collections a
// stream may be empty and still stored.
func (s *Stream) Len() int { return int(s.length) }

// Length is Len as Redis keeps it.
func (s *Stream) Length() uint64 { return s.length }

// Encoding returns "stream".
func (s *Stream) Encoding() string { return "stream" }

// LastID returns the last generated ID.
func (s *Stream) LastID() StreamID { return s.lastID }

// FirstID returns the first live entry's ID (0-0 when empty).
func (s *Stream) FirstID() StreamID { return s.firstID }

// MaxDeletedID returns the largest ID ever deleted (XDEL, trims, XSETID).
func (s *Stream) MaxDeletedID() StreamID { return s.maxDeletedID }

// EntriesAdded returns how many entries were ever added.
func (s *Stream) EntriesAdded() uint64 { return s.entriesAdded }

// SetLastID sets the last generated ID (XSETID: the caller checks it).
func (s *Stream) SetLastID(id StreamID) { s.lastID = id }

// SetEntriesAdded sets the entries-added counter (XSETID ENTRIESADDED).
func (s *Stream) SetEntriesAdded(n uint64) { s.entriesAdded = n }

// SetMaxDeletedID sets the largest deleted ID (XSETID MAXDELETEDID).
func (s *Stream) SetMaxDeletedID(id StreamID) { s.maxDeletedID = id }

// Digest mixes every live entry, as Redis's DEBUG DIGEST: "ms.seq", then
// each field and value. Consumer groups do not enter it.
func (s *Stream) Digest(d *Digest) {
	var buf []byte
	s.Range(StreamID{}, MaxStreamID, false, func(id StreamID, fv [][]byte) bool {
		buf = strconv.AppendUint(buf[:0], id.Ms, 10)
		buf = append(buf, '.')
		buf = strconv.AppendUint(buf, id.Seq, 10)
		d.Mix(buf)
		for _, b := range fv {
			d.Mix(b)
		}
		return true
	})
}

// Clone returns a deep copy, consumer groups included.
func (s *Stream) Clone() Collection {
	n := *s
	n.nodes = make([]*streamNode, len(s.nodes))
	for i, nd := range s.nodes {
		n.nodes[i] = &streamNode{master: nd.master, lp: append([]byte(nil), nd.lp...)}
	}
	n.groups = make([]*StreamGroup, len(s.groups))
	for i, g := range s.groups {
		n.groups[i] = g.clone()
	}
	return &n
}

// ---- listpack primitives (Redis's listpack.c format) ----

const lpHeader = 6

func lpNew() []byte {
	lp := make([]byte, lpHeader+1, 128)
	binary.LittleEndian.PutUint32(lp, lpHeader+1)
	lp[lpHeader] = 0xff
	return lp
}

// lpBacklenSize is the size of the back-length of an element of l bytes.
func lpBacklenSize(l int) int {
	switch {
	case l <= 127:
		return 1
	case l < 16383:
		return 2
	case l < 2097151:
		return 3
	case l < 268435455:
		return 4
	}
	return 5
}

func lpAppendBacklen(b []byte, l int) []byte {
	switch lpBacklenSize(l) {
	case 1:
		return append(b, byte(l))
	case 2:
		return append(b, byte(l>>7), byte(l&127)|128)
	case 3:
		return append(b, byte(l>>14), byte((l>>7)&127)|128, byte(l&127)|128)
	case 4:
		return append(b, byte(l>>21), byte((l>>14)&127)|128, byte((l>>7)&127)|128, byte(l&127)|128)
	}
	return append(b, byte(l>>28), byte((l>>21)&127)|128, byte((l>>14)&127)|128, byte((l>>7)&127)|128, byte(l&127)|128)
}

// lpEncodeInt appends v's encoding and back-length to b.
func lpEncodeInt(b []byte, v int64) []byte {
	start := len(b)
	switch {
	case v >= 0 && v <= 127:
		b = append(b, byte(v))
	case v >= -4096 && v <= 4095:
		u := uint64(v) & (1<<13 - 1)
		b = append(b, byte(u>>8)|0xc0, byte(u))
	case v >= -32768 && v <= 32767:
		b = append(b, 0xf1, byte(v), byte(v>>8))
	case v >= -8388608 && v <= 8388607:
		b = append(b, 0xf2, byte(v), byte(v>>8), byte(v>>16))
	case v >= -2147483648 && v <= 2147483647:
		b = append(b, 0xf3, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
	default:
		b = append(b, 0xf4)
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	return lpAppendBacklen(b, len(b)-start)
}

// lpStringInt reports whether s is an integer listpack stores as one
// (lpStringToInt64: canonical decimal of an int64).
func lpStringInt(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) >= 21 {
		return 0, false
	}
	if len(s) == 1 && s[0] == '0' {
		return 0, true
	}
	p := s
	neg := false
	if p[0] == '-' {
		neg = true
		p = p[1:]
		if len(p) == 0 {
			return 0, false
		}
	}
	if p[0] < '1' || p[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range p {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > ^uint64(0)/10 {
			return 0, false
		}
		v *= 10
		if v > ^uint64(0)-uint64(c-'0') {
			return 0, false
		}
		v += uint64(c - '0')
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return int64(-v), true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}

// lpEncodeString appends s's encoding (an integer when it is one) and
// back-length to b.
func lpEncodeString(b []byte, s []byte) []byte {
	if v, ok := lpStringInt(s); ok {
		return lpEncodeInt(b, v)
	}
	start := len(b)
	switch l := len(s); {
	case l < 64:
		b = append(b, 0x80|byte(l))
	case l < 4096:
		b = append(b, 0xe0|byte(l>>8), byte(l))
	default:
		b = append(b, 0xf0)
		b = binary.LittleEndian.AppendUint32(b, uint32(l))
	}
	b = append(b, s...)
	return lpAppendBacklen(b, len(b)-start)
}

// lpSetHeader updates the total size and adds delta to the element count
// (which saturates at 65535, "unknown", as Redis's does).
func lpSetHeader(lp []byte, delta int) {
	binary.LittleEndian.PutUint32(lp, uint32(len(lp)))
	n := int(binary.LittleEndian.Uint16(lp[4:]))
	if n == 0xffff {
		return
	}
	n += delta
	if n >= 0xffff {
		n = 0xffff
	}
	binary.LittleEndian.PutUint16(lp[4:], uint16(n))
}

// lpAppend appends the encoded elements enc (each with its back-length)
// holding n elements.
func lpAppend(lp []byte, enc []byte, n int) []byte {
	lp = append(lp[:len(lp)-1], enc...)
	lp = append(lp, 0xff)
	lpSetHeader(lp, n)
	return lp
}

// lpElem is one listpack element.
type lpElem struct {
	s     []byte // a string's bytes, aliasing the listpack
	n     int64
	isInt bool
}

// bytes returns the element as a string; an integer in decimal, in a new
// slice.
func (e lpElem) bytes() []byte {
	if e.isInt {
		return strconv.AppendInt(nil, e.n, 10)
	}
	return e.s
}

// int returns the element as an integer (a string holding one is
// converted, as lpGetIntegerIfValid does).
func (e lpElem) int() (int64, bool) {
	if e.isInt {
		return e.n, true
	}
	n, err := strconv.ParseInt(string(e.s), 10, 64)
	return n, err == nil && len(e.s) > 0 && e.s[0] != '+'
}

func leInt(b []byte) int64 {
	var u uint64
	for i := len(b) - 1; i >= 0; i-- {
		u = u<<8 | uint64(b[i])
	}
	shift := 64 - 8*uint(len(b))
	return int64(u<<shift) >> shift
}

// lpRead parses the element at p and returns it with the position of the
// next one; ok is false when it is malformed or runs past the end (or p is
// the end marker). The back-length is checked.
func lpRead(lp []byte, p int) (e lpElem, next int, ok bool) {
	end := len(lp) - 1 // the end marker
	if p < lpHeader || p >= end {
		return e, 0, false
	}
	b := lp[p]
	need := func(k uint64) bool { return uint64(p)+k <= uint64(end) }
	var size int
	switch {
	case b&0x80 == 0:
		e, size = lpElem{n: int64(b), isInt: true}, 1
	case b&0xc0 == 0x80:
		l := int(b & 0x3f)
		if !need(uint64(1 + l)) {
			return e, 0, false
		}
		e.s, size = lp[p+1:p+1+l], 1+l
	case b&0xe0 == 0xc0:
		if !need(2) {
			return e, 0, false
		}
		v := int64(b&0x1f)<<8 | int64(lp[p+1])
		if v >= 1<<12 {
			v -= 1 << 13
		}
		e, size = lpElem{n: v, isInt: true}, 2
	case b&0xf0 == 0xe0:
		if !need(2) {
			return e, 0, false
		}
		l := int(b&0x0f)<<8 | int(lp[p+1])
		if !need(uint64(2 + l)) {
			return e, 0, false
		}
		e.s, size = lp[p+2:p+2+l], 2+l
	case b == 0xf0:
		if !need(5) {
			return e, 0, false
		}
		l := uint64(binary.LittleEndian.Uint32(lp[p+1:]))
		if !need(5 + l) {
			return e, 0, false
		}
		e.s, size = lp[p+5:p+5+int(l)], 5+int(l)
	case b >= 0xf1 && b <= 0xf4:
		w := [...]int{2, 3, 4, 8}[b-0xf1]
		if !need(uint64(1 + w)) {
			return e, 0, false
		}
		e, size = lpElem{n: leInt(lp[p+1 : p+1+w]), isInt: true}, 1+w
	default:
		return e, 0, false
	}
	bl := lpBacklenSize(size)
	if !need(uint64(size + bl)) {
		return e, 0, false
	}
	var want [5]byte
	if string(lpAppendBacklen(want[:0], size)) != string(lp[p+size:p+size+bl]) {
		return e, 0, false
	}
	return e, p + size + bl, true
}

// lpReplaceInt replaces the element at p, whose successor is at next, with
// the integer v, returning the listpack and the position after the new
// element.
func lpReplaceInt(lp []byte, p, next int, v int64) ([]byte, int) {
	var tmp [16]byte
	enc := lpEncodeInt(tmp[:0], v)
	if len(enc) == next-p {
		copy(lp[p:], enc)
		return lp, next
	}
	out := make([]byte, 0, len(lp)+len(enc)-(next-p))
	out = append(out, lp[:p]...)
	out = append(out, enc...)
	out = append(out, lp[next:]...)
	lpSetHeader(out, 0)
	return out, p + len(enc)
}

// ---- stream nodes ----

// nodeHeader is a node's master entry.
type nodeHeader struct {
	count, deleted int64
	fields         []lpElem
	first          int // position of the first entry
	countPos       int // position of the count, then of deleted
	deletedPos     int
}

var errNode = errors.New("malformed stream node")

func (n *streamNode) header() (h nodeHeader, err error) {
	lp := n.lp
	p := lpHeader
	readInt := func() (int64, int, error) {
		e, next, ok := lpRead(lp, p)
		if !ok {
			return 0, 0, errNode
		}
		v, ok := e.int()
		if !ok {
			return 0, 0, errNode
		}
		at := p
		p = next
		return v, at, nil
	}
	if h.count, h.countPos, err = readInt(); err != nil {
		return h, err
	}
	if h.deleted, h.deletedPos, err = readInt(); err != nil {
		return h, err
	}
	nf, _, err := readInt()
	if err != nil || nf < 0 || nf > int64(len(lp)) || h.count < 0 || h.deleted < 0 {
		return h, errNode
	}
	h.fields = make([]lpElem, nf)
	for i := range h.fields {
		e, next, ok := lpRead(lp, p)
		if !ok {
			return h, errNode
		}
		h.fields[i] = e
		p = next
	}
	if z, _, err := readInt(); err != nil || z != 0 {
		return h, errNode
	}
	h.first = p
	return h, nil
}

// nodeEntry is one entry of a node.
type nodeEntry struct {
	id       StreamID
	flags    int64
	flagsPos int
	flagsEnd int
	fv       [][]byte // field, value, ...
	end      int      // position after its lp-count
}

// entryAt parses the entry at p (fields as views or new slices).
func (n *streamNode) entryAt(h *nodeHeader, p int) (en nodeEntry, err error) {
	lp := n.lp
	readInt := func() (int64, error) {
		e, next, ok := lpRead(lp, p)
		if !ok {
			return 0, errNode
		}
		v, ok := e.int()
		if !ok {
			return 0, errNode
		}
		p = next
		return v, nil
	}
	en.flagsPos = p
	if en.flags, err = readInt(); err != nil {
		return en, err
	}
	en.flagsEnd = p
	ms, err := readInt()
	if err != nil {
		return en, err
	}
	seq, err := readInt()
	if err != nil {
		return en, err
	}
	en.id = StreamID{n.master.Ms + uint64(ms), n.master.Seq + uint64(seq)}
	same := en.flags&streamFlagSameFields != 0
	nf := int64(len(h.fields))
	if !same {
		if nf, err = readInt(); err != nil {
			return en, err
		}
		if nf < 0 || nf > int64(len(lp)) {
			return en, errNode
		}
	}
	en.fv = make([][]byte, 0, 2*nf)
	for i := int64(0); i < nf; i++ {
		if same {
			en.fv = append(en.fv, h.fields[i].bytes())
		} else {
			e, next, ok := lpRead(lp, p)
			if !ok {
				return en, errNode
			}
			en.fv = append(en.fv, e.bytes())
			p = next
		}
		e, next, ok := lpRead(lp, p)
		if !ok {
			return en, errNode
		}
		en.fv = append(en.fv, e.bytes())
		p = next
	}
	cnt, err := readInt()
	if err != nil {
		return en, err
	}
	want := nf + 3
	if !same {
		want += nf + 1
	}
	if cnt != want {
		return en, errNode
	}
	en.end = p
	return en, nil
}

// each visits the node's entries, tombstones included, in order; it stops
// at the first malformed one or when fn returns false.
func (n *streamNode) each(fn func(h *nodeHeader, en *nodeEntry) bool) error {
	h, err := n.header()
	if err != nil {
		return err
	}
	for p := h.first; p < len(n.lp)-1; {
		en, err := n.entryAt(&h, p)
		if err != nil {
			return err
		}
		if !fn(&h, &en) {
			return nil
		}
		p = en.end
	}
	return nil
}

// entries returns the node's entries, tombstones included.
func (n *streamNode) entries() []nodeEntry {
	var out []nodeEntry
	n.each(func(_ *nodeHeader, en *nodeEntry) bool {
		out = append(out, *en)
		return true
	})
	return out
}

// lastID returns the node's last entry's ID, tombstone or not.
func (n *streamNode) lastID() (StreamID, bool) {
	var id StreamID
	found := false
	n.each(func(_ *nodeHeader, en *nodeEntry) bool {
		id, found = en.id, true
		return true
	})
	return id, found
}

// setCounts rewrites the master entry's live and deleted counts.
func (n *streamNode) setCounts(count, deleted int64) {
	h, err := n.header()
	if err != nil {
		return
	}
	_, cnext, _ := lpRead(n.lp, h.countPos)
	var next int
	n.lp, next = lpReplaceInt(n.lp, h.countPos, cnext, count)
	_, dnext, _ := lpRead(n.lp, next)
	n.lp, _ = lpReplaceInt(n.lp, next, dnext, deleted)
}

// ---- stream operations ----

// fieldsSize is the sum of the lengths of fields and values (Redis's
// totelelen).
func fieldsSize(fv [][]byte) int {
	n := 0
	for _, b := range fv {
		n += len(b)
	}
	return n
}

// Append adds an entry with id (which the caller checked is greater than
// LastID) and fv (field, value, ...), as streamAppendItem does with node
// limits maxBytes and maxEntries (0: no limit).
func (s *Stream) Append(id StreamID, fv [][]byte, maxBytes, maxEntries int) {
	if maxBytes <= 0 || maxBytes > 1<<30 {
		maxBytes = 1 << 30
	}
	total := fieldsSize(fv)
	var tail *streamNode
	if len(s.nodes) > 0 {
		tail = s.nodes[len(s.nodes)-1]
		full := len(tail.lp)+total >= maxBytes
		if !full && maxEntries > 0 {
			h, err := tail.header()
			full = err != nil || h.count+h.deleted >= int64(maxEntries)
		}
		if full {
			tail.lp = append([]byte(nil), tail.lp...) // shrink to fit
			tail = nil
		}
	}
	nf := len(fv) / 2
	flags := int64(0)
	var enc []byte
	if tail == nil {
		tail = &streamNode{master: id, lp: lpNew()}
		s.nodes = append(s.nodes, tail)
		enc = lpEncodeInt(enc, 1)
		enc = lpEncodeInt(enc, 0)
		enc = lpEncodeInt(enc, int64(nf))
		for i := 0; i < nf; i++ {
			enc = lpEncodeString(enc, fv[2*i])
		}
		enc = lpEncodeInt(enc, 0)
		tail.lp = lpAppend(tail.lp, enc, 4+nf)
		enc = enc[:0]
		flags = streamFlagSameFields
	} else {
		h, _ := tail.header()
		tail.setCounts(h.count+1, h.deleted)
		if len(h.fields) == nf {
			same := true
			for i, f := range h.fields {
				if string(f.bytes()) != string(fv[2*i]) {
					same = false
					break
				}
			}
			if same {
				flags = streamFlagSameFields
			}
		}
	}
	same := flags&streamFlagSameFields != 0
	enc = lpEncodeInt(enc, flags)
	enc = lpEncodeInt(enc, int64(id.Ms-tail.master.Ms))
	enc = lpEncodeInt(enc, int64(id.Seq-tail.master.Seq))
	n := 3
	if !same {
		enc = lpEncodeInt(enc, int64(nf))
		n++
	}
	for i := 0; i < nf; i++ {
		if !same {
			enc = lpEncodeString(enc, fv[2*i])
			n++
		}
		enc = lpEncodeString(enc, fv[2*i+1])
		n++
	}
	cnt := int64(nf + 3)
	if !same {
		cnt += int64(nf + 1)
	}
	enc = lpEncodeInt(enc, cnt)
	tail.lp = lpAppend(tail.lp, enc, n+1)
	s.length++
	s.entriesAdded++
	s.lastID = id
	if s.length == 1 {
		s.firstID = id
	}
}

// seek returns the index of the node to start a forward iteration from
// start: the last node whose master ID is <= start, or 0.
func (s *Stream) seek(start StreamID) int {
	i := sort.Search(len(s.nodes), func(i int) bool { return start.Less(s.nodes[i].master) })
	if i > 0 {
		i--
	}
	return i
}

// Range calls fn for each live entry with start <= ID <= end, in order (in
// reverse with rev), until fn returns false. fv holds field, value, ...;
// fn must not retain it or modify the stream.
func (s *Stream) Range(start, end StreamID, rev bool, fn func(id StreamID, fv [][]byte) bool) {
	if end.Less(start) {
		return
	}
	if !rev {
		for i := s.seek(start); i < len(s.nodes); i++ {
			if end.Less(s.nodes[i].master) {
				return
			}
			stop := false
			s.nodes[i].each(func(_ *nodeHeader, en *nodeEntry) bool {
				if en.flags&streamFlagDeleted != 0 || en.id.Less(start) {
					return true
				}
				if end.Less(en.id) || !fn(en.id, en.fv) {
					stop = true
					return false
				}
				return true
			})
			if stop {
				return
			}
		}
		return
	}
	for i := s.seek(end); i >= 0 && i < len(s.nodes); i-- {
		ents := s.nodes[i].entries()
		for j := len(ents) - 1; j >= 0; j-- {
			en := &ents[j]
			if en.flags&streamFlagDeleted != 0 || end.Less(en.id) {
				continue
			}
			if en.id.Less(start) || !fn(en.id, en.fv) {
				return
			}
		}
	}
}

// Get returns the live entry id's fields and values, or nil.
func (s *Stream) Get(id StreamID) [][]byte {
	var out [][]byte
	s.Range(id, id, false, func(_ StreamID, fv [][]byte) bool {
		out = make([][]byte, len(fv))
		for i, b := range fv {
			out[i] = append([]byte{}, b...)
		}
		return false
	})
	return out
}

// Exists reports whether id is a live entry.
func (s *Stream) Exists(id StreamID) bool {
	found := false
	s.Range(id, id, false, func(StreamID, [][]byte) bool { found = true; return false })
	return found
}

// edgeID returns the first (or last) entry's ID, tombstones skipped or
// not, as streamGetEdgeID: when there is none, MaxStreamID for the first
// and 0-0 for the last.
func (s *Stream) edgeID(first, skipTombstones bool) StreamID {
	if first {
		for _, n := range s.nodes {
			var id StreamID
			found := false
			n.each(func(_ *nodeHeader, en *nodeEntry) bool {
				if skipTombstones && en.flags&streamFlagDeleted != 0 {
					return true
				}
				id, found = en.id, true
				return false
			})
			if found {
				return id
			}
		}
		return MaxStreamID
	}
	for i := len(s.nodes) - 1; i >= 0; i-- {
		ents := s.nodes[i].entries()
		for j := len(ents) - 1; j >= 0; j-- {
			if skipTombstones && ents[j].flags&streamFlagDeleted != 0 {
				continue
			}
			return ents[j].id
		}
	}
	return StreamID{}
}

// FirstEntryID returns the first entry's ID, tombstones included, or
// MaxStreamID when there is none (what an approximate MINID trim
// propagates).
func (s *Stream) FirstEntryID() StreamID { return s.edgeID(true, false) }

// LastLiveID returns the last live entry's ID (0-0 when empty).
func (s *Stream) LastLiveID() StreamID { return s.edgeID(false, true) }

// Delete marks the live entry id deleted (XDEL), removing its node when it
// was the node's last live entry, and reports whether it existed. It keeps
// first-id and max-deleted-entry-id as XDEL does.
func (s *Stream) Delete(id StreamID) bool {
	i := s.seek(id)
	if i >= len(s.nodes) {
		return false
	}
	n := s.nodes[i]
	var hit *nodeEntry
	var h nodeHeader
	n.each(func(hh *nodeHeader, en *nodeEntry) bool {
		// Tombstones are skipped, not compared: after XSETID lowered the
		// last ID below a deleted entry, later entries follow it in the
		// node with smaller IDs (Redis's iterator skips them too).
		if en.flags&streamFlagDeleted != 0 {
			return true
		}
		if en.id == id {
			e := *en
			hit, h = &e, *hh
			return false
		}
		return !id.Less(en.id)
	})
	if hit == nil {
		return false
	}
	if h.count == 1 {
		s.nodes = append(s.nodes[:i], s.nodes[i+1:]...)
	} else {
		n.lp, _ = lpReplaceInt(n.lp, hit.flagsPos, hit.flagsEnd, hit.flags|streamFlagDeleted)
		n.setCounts(h.count-1, h.deleted+1)
	}
	s.length--
	if s.maxDeletedID.Less(id) {
		s.maxDeletedID = id
	}
	if s.length == 0 {
		s.firstID = StreamID{}
	} else if id == s.firstID {
		s.firstID = s.edgeID(true, true)
	}
	return true
}

// Trim strategies.
const (
	TrimMaxLen = 1
	TrimMinID  = 2
)

// Trim removes entries from the head as streamTrim does: by TrimMaxLen
// (keep maxLen entries) or TrimMinID (drop IDs below minID); approx removes
// whole nodes only; limit (0: none) caps the entries removed. It returns
// how many it removed.
func (s *Stream) Trim(strategy int, maxLen uint64, minID StreamID, approx bool, limit int64) int64 {
	var deleted int64
	for len(s.nodes) > 0 {
		if strategy == TrimMaxLen && s.length <= maxLen {
			break
		}
		n := s.nodes[0]
		h, err := n.header()
		if err != nil {
			break
		}
		entries := h.count
		if limit > 0 && deleted+entries > limit {
			break
		}
		var remove bool
		if strategy == TrimMaxLen {
			remove = s.length-uint64(entries) >= maxLen
		} else {
			last, ok := n.lastID()
			remove = ok && last.Less(minID)
		}
		if remove {
			s.nodes = s.nodes[1:]
			s.length -= uint64(entries)
			deleted += entries
			continue
		}
		if approx {
			break
		}
		var fromNode int64
		for p := h.first; p < len(n.lp)-1; {
			en, err := n.entryAt(&h, p)
			if err != nil {
				break
			}
			if strategy == TrimMaxLen && s.length <= maxLen || strategy == TrimMinID && !en.id.Less(minID) {
				break
			}
			p = en.end
			if en.flags&streamFlagDeleted == 0 {
				var next int
				n.lp, next = lpReplaceInt(n.lp, en.flagsPos, en.flagsEnd, en.flags|streamFlagDeleted)
				p += next - en.flagsEnd
				fromNode++
				s.length--
			}
		}
		deleted += fromNode
		n.setCounts(entries-fromNode, h.deleted+fromNode)
		break
	}
	if s.length == 0 {
		s.firstID = StreamID{}
	} else if deleted > 0 {
		s.firstID = s.edgeID(true, true)
	}
	return deleted
}

// RangeHasTombstones reports whether the IDs from start on may hold
// a deleted entry, as streamRangeHasTombstones with no end.
func (s *Stream) RangeHasTombstones(start StreamID) bool {
	if s.length == 0 || s.maxDeletedID.IsZero() {
		return false
	}
	if s.maxDeletedID.Less(s.firstID) {
		return false
	}
	return !s.maxDeletedID.Less(start)
}

// EntriesReadInvalid is a group's entries-read when it is unknown.
const EntriesReadInvalid = -1

// EstimateDistance returns id's logical read counter, or
// EntriesReadInvalid, as streamEstimateDistanceFromFirstEverEntry.
func (s *Stream) EstimateDistance(id StreamID) int64 {
	if s.entriesAdded == 0 {
		return 0
	}
	if s.length == 0 && id.Cmp(s.lastID) < 1 {
		return int64(s.entriesAdded)
	}
	switch id.Cmp(s.lastID) {
	case 0:
		return int64(s.entriesAdded)
	case 1:
		return EntriesReadInvalid
	}
	if s.maxDeletedID.IsZero() || s.maxDeletedID.Less(s.firstID) {
		switch id.Cmp(s.firstID) {
		case -1:
			return int64(s.entriesAdded - s.length)
		case 0:
			return int64(s.entriesAdded - s.length + 1)
		}
	}
	return EntriesReadInvalid
}

// Lag returns a group's lag, ok false when it cannot be known (XINFO
// GROUPS' null), as streamReplyWithCGLag.
func (s *Stream) Lag(g *StreamGroup) (int64, bool) {
	if s.entriesAdded == 0 {
		return 0, true
	}
	if g.EntriesRead != EntriesReadInvalid && !s.RangeHasTombstones(g.LastID) {
		return int64(s.entriesAdded) - g.EntriesRead, true
	}
	if r := s.EstimateDistance(g.LastID); r != EntriesReadInvalid {
		return int64(s.entriesAdded) - r, true
	}
	return 0, false
}

// ---- layout, for XINFO STREAM FULL and RDB ----

// NodeCount returns the number of nodes (radix-tree-keys).
func (s *Stream) NodeCount() int { return len(s.nodes) }

// RadixTreeNodes returns how many nodes Redis's radix tree of the node keys
// has when it is in its compressed form (one node for the root, one per
// branching point, one per child of a branching point and one per key).
func (s *Stream) RadixTreeNodes() int {
	keys := make([][16]byte, len(s.nodes))
	for i, n := range s.nodes {
		keys[i] = n.master.Key()
	}
	return RaxNodes(keys)
}

// RaxNodes counts the nodes of a compressed radix tree of sorted,
// distinct, equally long keys (see RadixTreeNodes).
func RaxNodes(keys [][16]byte) int {
	seen := map[string]struct{}{"": {}}
	add := func(p []byte) { seen[string(p)] = struct{}{} }
	for i := range keys {
		add(keys[i][:])
		if i == 0 {
			continue
		}
		a, b := keys[i-1][:], keys[i][:]
		l := 0
		for l < len(a) && a[l] == b[l] {
			l++
		}
		if l == len(a) {
			continue
		}
		add(a[:l])
		add(a[:l+1])
		add(b[:l+1])
	}
	return len(seen)
}

// EachNode calls fn with each node's master ID and listpack, in order; fn
// must not modify or retain lp.
func (s *Stream) EachNode(fn func(master StreamID, lp []byte) bool) {
	for _, n := range s.nodes {
		if !fn(n.master, n.lp) {
			return
		}
	}
}

// EntryInfo is an entry as XINFO STREAM FULL and the node checks see it.
type EntryInfo struct {
	ID      StreamID
	Deleted bool
	Fields  [][]byte
}

// StreamMeta is what the RDB keeps of a stream besides its nodes.
type StreamMeta struct {
	Length       uint64
	LastID       StreamID
	FirstID      StreamID
	MaxDeletedID StreamID
	EntriesAdded uint64
}

// Meta returns the stream's metadata.
func (s *Stream) Meta() StreamMeta {
	return StreamMeta{s.length, s.lastID, s.firstID, s.maxDeletedID, s.entriesAdded}
}

// AddNode appends a node read from an RDB file: master is its key, lp its
// listpack, handed over. The node is checked as Redis's deep integrity
// check does, and its IDs must follow the previous node's. It returns the
// node's live entry count.
func (s *Stream) AddNode(master StreamID, lp []byte) (int64, error) {
	if len(lp) < lpHeader+1 || uint64(binary.LittleEndian.Uint32(lp)) != uint64(len(lp)) || lp[len(lp)-1] != 0xff {
		return 0, errors.New("stream listpack integrity check failed")
	}
	n := &streamNode{master: master, lp: lp}
	if len(s.nodes) > 0 && !s.nodes[len(s.nodes)-1].master.Less(master) {
		return 0, errors.New("stream node keys out of order")
	}
	prev, hasPrev := StreamID{}, false
	if len(s.nodes) > 0 {
		prev, hasPrev = s.nodes[len(s.nodes)-1].lastID()
	}
	h, err := n.header()
	if err != nil {
		return 0, errors.New("stream listpack integrity check failed")
	}
	var live, dead int64
	var bad error // what is wrong with an entry
	err = n.each(func(_ *nodeHeader, en *nodeEntry) bool {
		switch {
		case en.flags < 0 || en.flags > 3:
			bad = fmt.Errorf("stream entry %s has flags %d", en.id, en.flags)
		case en.id.Less(master):
			bad = fmt.Errorf("stream entry %s is below its node's master ID %s", en.id, master)
		case hasPrev && !prev.Less(en.id):
			bad = fmt.Errorf("stream entry %s does not follow entry %s", en.id, prev)
		}
		if bad != nil {
			return false
		}
		if en.flags&streamFlagDeleted != 0 {
			dead++
		} else {
			live++
		}
		prev, hasPrev = en.id, true
		return true
	})
	if err != nil {
		return 0, errors.New("stream listpack integrity check failed")
	}
	if bad != nil {
		return 0, bad
	}
	if live+dead == 0 {
		return 0, errors.New("empty listpack inside stream")
	}
	if live != h.count || dead != h.deleted {
		return 0, fmt.Errorf("stream node counts %d live and %d deleted entries, it holds %d and %d", h.count, h.deleted, live, dead)
	}
	s.nodes = append(s.nodes, n)
	return live, nil
}

// SetMeta sets the metadata of a stream whose nodes were added with
// AddNode, checking it against them.
func (s *Stream) SetMeta(m StreamMeta) error {
	var live uint64
	for _, n := range s.nodes {
		h, _ := n.header()
		live += uint64(h.count)
	}
	if live != m.Length {
		return fmt.Errorf("stream length %d, its nodes hold %d entries", m.Length, live)
	}
	if len(s.nodes) > 0 {
		if last, ok := s.nodes[len(s.nodes)-1].lastID(); ok && m.LastID.Less(last) {
			return fmt.Errorf("stream last ID %s is below its last entry's %s", m.LastID, last)
		}
	}
	s.length, s.lastID, s.firstID, s.maxDeletedID, s.entriesAdded = m.Length, m.LastID, m.FirstID, m.MaxDeletedID, m.EntriesAdded
	return nil
}

// FirstLiveID returns the first live entry's ID, or MaxStreamID when
// there is none (streamGetEdgeID), for loaders of RDB types that do not
// store the first ID.
func (s *Stream) FirstLiveID() StreamID { return s.edgeID(true, true) }

// NodeEntries returns node i's entries, tombstones included, with its
// master ID (XINFO STREAM FULL does not need them; tests do).
func (s *Stream) NodeEntries(i int) (StreamID, []EntryInfo) {
	n := s.nodes[i]
	var out []EntryInfo
	for _, en := range n.entries() {
		out = append(out, EntryInfo{ID: en.id, Deleted: en.flags&streamFlagDeleted != 0, Fields: en.fv})
	}
	return n.master, out
}
