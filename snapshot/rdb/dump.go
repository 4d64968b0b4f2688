package rdb

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/ferrydb/ferry/internal/command"
	"github.com/ferrydb/ferry/internal/keyspace"
)

// Values is the engine's codec for DUMP and RESTORE (command.Config.Values):
// one value in RDB form followed by a footer, the RDB version (2 bytes,
// little endian) and a CRC-64/Jones of everything before it (8 bytes,
// little endian), as Redis's createDumpPayload writes it.
//
// Dump writes what the snapshot encoder writes: the plain types for
// strings, lists, sets, sorted sets and hashes (no listpacks, intsets or
// LZF, but for a listpack sorted set holding a score of -0, which only a
// listpack carries), so its payloads are longer than redis-server's for small
// collections and compressible strings, and not byte for byte the same;
// redis-server 7.0's RESTORE accepts them and builds its compact encodings
// by its own thresholds. Streams are written as Redis writes them. Restore
// reads every encoding redis-server 7.0 dumps, with the snapshot loader's
// decoder.
type Values struct{}

var (
	_ command.ValueCodec      = Values{}
	_ command.SanitizingCodec = Values{}
)

// dumpFooter is the RDB version and the checksum after the value.
const dumpFooter = 10

// dumpVersion is the newest RDB version a payload may have: RESTORE in
// redis-server 7.0 refuses payloads of later versions.
const dumpVersion = Version

// Dump appends o's value as a DUMP payload to dst. The value is what the
// snapshot encoder writes for a key, so that DUMP serializes every type
// snapshots do: the record of a key with an empty name and no expiry, less
// the name (the zero byte after the type). It fails only for a value the
// encoder cannot write.
func (Values) Dump(dst []byte, o *keyspace.Object) ([]byte, error) {
	var rec bytes.Buffer
	cw := &crcWriter{w: &rec}
	e := &Encoder{w: &rec, crc: cw, bw: bufio.NewWriterSize(cw, 4096), db: 0}
	if c := o.Collection(); c != nil {
		if e.WriteCollection("", c, 0) != nil {
			return dst, fmt.Errorf("ferry cannot serialize this %s value", c.Kind())
		}
	} else {
		e.WriteString("", o.Str(), 0)
	}
	if e.err == nil {
		e.err = e.bw.Flush()
	}
	if e.err != nil {
		return dst, e.err
	}
	b := rec.Bytes()
	if len(b) < 2 || b[1] != 0 {
		return dst, fmt.Errorf("rdb: dump: unexpected record % x", b[:min(len(b), 2)])
	}
	start := len(dst)
	dst = append(dst, b[0])
	dst = append(dst, b[2:]...)
	dst = binary.LittleEndian.AppendUint16(dst, dumpVersion)
	return binary.LittleEndian.AppendUint64(dst, crcUpdate(0, dst[start:])), nil
}

// Restore decodes a DUMP payload as redis-server 7.0's RESTORE does: the
// footer first (command.ErrDumpPayload), then the value with the snapshot
// loader's decoder. As in Redis, the value is read from the whole payload:
// bytes after it are ignored, and a value cut short reads on into the
// footer (Redis restores "\x00\x05hel" followed by the footer as the
// string "hel\n\x00").
//
// Restore validates everything it reads, as redis-server does with
// sanitize-dump-payload yes: a payload with duplicate hash fields, set or
// sorted set members is refused, where 7.0's default (no) restores some of
// them into corrupt values. It reads what Redis reads leniently the same
// way (a length byte of 0xc0-0xff as its low 6 bits, an LZF string of
// length 0 whatever its data, a listpack back-length that decodes right
// though not canonical), and refuses a few values that redis-server
// restores even when sanitizing though they break its own invariants: a
// sorted set listpack score that is not a number, a stream whose length,
// node counts, entry order or last ID disagree with its entries, or whose
// metadata holds a length byte that is not one.
func (v Values) Restore(payload []byte, lim keyspace.Limits) ([]byte, keyspace.Collection, error) {
	str, coll, _, err := v.RestoreCounted(payload, lim)
	return str, coll, err
}

// RestoreCounted is Restore (command.SanitizingCodec), also returning how
// many deep integrity checks Redis's RESTORE would count in INFO's
// dump_payload_sanitizations with sanitize-dump-payload yes: one for each
// list listpack node, intset, sorted set or hash listpack and stream
// node it reached (ziplists and zipmaps, which Redis always checks, do
// not count). Restore checks them all whatever that setting says.
func (Values) RestoreCounted(payload []byte, lim keyspace.Limits) ([]byte, keyspace.Collection, int, error) {
	if len(payload) < dumpFooter {
		return nil, nil, 0, command.ErrDumpPayload
	}
	n := len(payload) - dumpFooter
	footer := payload[n:]
	version := binary.LittleEndian.Uint16(footer)
	if version > dumpVersion {
		return nil, nil, 0, fmt.Errorf("%w: RDB version %d", command.ErrDumpPayload, version)
	}
	if sum := binary.LittleEndian.Uint64(footer[2:]); sum != crcUpdate(0, payload[:n+2]) {
		return nil, nil, 0, fmt.Errorf("%w: checksum mismatch", command.ErrDumpPayload)
	}
	d := &decoder{
		// The decoder reads from a copy: its reader moves unread bytes to
		// the front of its buffer when a value claims more than is left.
		r:  &reader{src: eofReader{}, buf: bytes.Clone(payload), end: len(payload)},
		ks: &keyspace.Keyspace{Limits: lim}, // only its Limits are read
	}
	d.meta.Version = int(version)
	str, coll, err := d.restoreValue()
	return str, coll, d.sanitized, err
}

// restoreValue decodes the value at the start of d's input: its type
// byte, then the value as in an RDB file of d.meta.Version.
func (d *decoder) restoreValue() ([]byte, keyspace.Collection, error) {
	t, err := d.r.readByte()
	if err != nil {
		return nil, nil, d.readErr(err)
	}
	switch {
	case t == typeString:
		s, err := d.readString(nil)
		if err != nil {
			return nil, nil, err
		}
		return s, nil, nil
	case t == 8 || t > typeStreamListpacks2 || isUnsupported(t):
		// Not a value type of RDB 10 (typeSetListpack and later came with
		// RDB 11), or a module value: redis-server without the module
		// refuses it too.
		return nil, nil, d.corrupt(0, "RDB value type %d cannot be restored", t)
	}
	c, err := d.loadCollection(t)
	if err != nil {
		return nil, nil, err
	}
	if c == nil || c.Len() == 0 && c.Kind() != keyspace.KindStream {
		// Redis refuses an empty collection ("Bad data format"), not an
		// empty stream.
		return nil, nil, d.corrupt(0, "empty %s", typeNames[t])
	}
	return nil, c, nil
}

// eofReader is the source of a reader whose buffer holds all its input.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
