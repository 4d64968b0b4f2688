package rdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ferrydb/ferry/internal/command"
)

// Function libraries in RDB: each library is an RDB_OPCODE_FUNCTION2
// record (opcode 245, then the library's code, its "#!lua name=..." line
// included, as an RDB string), after the AUX fields and before the
// databases, where redis-server 7.0 writes them. Snapshots carry them in
// Meta.Functions. Release candidates of 7.0 wrote RDB_OPCODE_FUNCTION
// (246: name, engine, an optional description and the code without its
// first line), which is read and turned into the current form, as Redis
// does.
//
// FUNCTION DUMP's payload is the same records, then the RDB version and a
// CRC64, as DUMP's: Values serves it to the engine (command.FunctionCodec).

var _ command.FunctionCodec = Values{}

// DumpFunctions returns FUNCTION DUMP's payload for the libraries' code:
// their records, with each code LZF-compressed when that makes it shorter
// (as redis-server's rdbcompression does, byte for byte), then the RDB
// version and the checksum.
func (Values) DumpFunctions(codes []string) []byte {
	var out []byte
	for _, code := range codes {
		out = append(out, opFunction2)
		out = appendRDBString(out, []byte(code))
	}
	out = binary.LittleEndian.AppendUint16(out, dumpVersion)
	return binary.LittleEndian.AppendUint64(out, crcUpdate(0, out))
}

// RestoreFunctions reads a FUNCTION DUMP payload as redis-server 7.0's
// FUNCTION RESTORE does: the footer first, then function records up to the
// last 10 bytes (a record may read on into them, as in Redis).
func (Values) RestoreFunctions(payload []byte) ([]string, error) {
	if len(payload) < dumpFooter {
		return nil, command.ErrDumpPayload
	}
	n := len(payload) - dumpFooter
	footer := payload[n:]
	version := binary.LittleEndian.Uint16(footer)
	if version > dumpVersion {
		return nil, fmt.Errorf("%w: RDB version %d", command.ErrDumpPayload, version)
	}
	if sum := binary.LittleEndian.Uint64(footer[2:]); sum != crcUpdate(0, payload[:n+2]) {
		return nil, fmt.Errorf("%w: checksum mismatch", command.ErrDumpPayload)
	}
	d := &decoder{r: &reader{src: eofReader{}, buf: bytes.Clone(payload), end: len(payload)}}
	d.meta.Version = int(version)
	var codes []string
	for d.r.offset() < int64(n) {
		t, err := d.r.readByte()
		if err != nil {
			return codes, errors.New("can not read data type")
		}
		if t != opFunction && t != opFunction2 {
			return codes, errors.New("given type is not a function")
		}
		code, msg, err := d.readFunction(t)
		if err != nil {
			return codes, errors.New(msg)
		}
		codes = append(codes, code)
	}
	return codes, nil
}

// readFunction reads the record of a library after its opcode t and
// returns its code, or what was wrong in Redis's words and the decoder's
// error.
func (d *decoder) readFunction(t byte) (string, string, error) {
	if t == opFunction2 {
		code, err := d.readString(nil)
		if err != nil {
			return "", "Failed loading library payload", err
		}
		return string(code), "", nil
	}
	name, err := d.readString(nil)
	if err != nil {
		return "", "Failed loading library name", err
	}
	engine, err := d.readString(nil)
	if err != nil {
		return "", "Failed loading engine name", err
	}
	hasDesc, err := d.readLen()
	if err != nil {
		return "", "Failed loading library description indicator", err
	}
	if hasDesc != 0 {
		if _, err := d.readString(nil); err != nil {
			return "", "Failed loading library description", err
		}
	}
	body, err := d.readString(nil)
	if err != nil {
		return "", "Failed loading library blob", err
	}
	return "#!" + string(engine) + " name=" + string(name) + "\n" + string(body), "", nil
}

// loadFunction reads a library record of an RDB file into d.meta.
func (d *decoder) loadFunction(t byte) error {
	code, _, err := d.readFunction(t)
	if err != nil {
		return err
	}
	d.meta.Functions = append(d.meta.Functions, code)
	return nil
}

// writeFunctions writes a record for each library.
func (e *Encoder) writeFunctions(codes []string) {
	for _, code := range codes {
		e.writeByte(opFunction2)
		e.writeString([]byte(code))
	}
}

// appendRDBString appends s as redis-server writes a string with
// rdbcompression on: strings of 21 bytes and more LZF-compressed when
// that saves at least 5 bytes, others as they are (library code, the only
// use, never takes the integer encodings: it starts with "#!").
func appendRDBString(dst, s []byte) []byte {
	if len(s) > 20 {
		if c := lzfPack(s, len(s)-4); c != nil {
			dst = append(dst, 0xC0|3)
			dst = appendLen(dst, uint64(len(c)))
			dst = appendLen(dst, uint64(len(s)))
			return append(dst, c...)
		}
	}
	dst = appendLen(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendLen appends an RDB length.
func appendLen(dst []byte, n uint64) []byte {
	switch {
	case n < 1<<6:
		return append(dst, byte(n))
	case n < 1<<14:
		return append(dst, byte(n>>8)|0x40, byte(n))
	case n <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(dst, 0x80), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0x81), n)
}

// LZF as redis-server's lzf_c.c compresses (HLOG 16, VERY_FAST), so that
// FUNCTION DUMP's payload is Redis's byte for byte. The format: a literal
// run is a byte 000LLLLL and L+1 bytes; a back reference of L+2 bytes
// (L 1 to 6) at offset o+1 is LLLooooo oooooooo, of L+9 bytes
// 111ooooo LLLLLLLL oooooooo.
const (
	lzfHashLog = 16
	lzfMaxLit  = 1 << 5
	lzfMaxOff  = 1 << 13
	lzfMaxRef  = 1<<8 + 1<<3
)

// lzfMatch returns where the match of in[ip:] at ref, whose first 3
// bytes are equal, ends, as lzf_c.c finds it: 16 bytes are compared
// without a bound when maxlen is above 16, then up to maxlen.
func lzfMatch(in []byte, ref, ip, maxlen int) int {
	n := 2
	if maxlen > 16 {
		for i := 0; i < 16; i++ {
			n++
			if in[ref+n] != in[ip+n] {
				return n
			}
		}
	}
	for {
		n++
		if !(n < maxlen && in[ref+n] == in[ip+n]) {
			return n
		}
	}
}

// lzfIndex is the hash table slot of the 3 bytes in h.
func lzfIndex(h uint32) uint32 {
	return ((h >> (3*8 - lzfHashLog)) - h*5) & (1<<lzfHashLog - 1)
}

// lzfPack returns in compressed into at most max bytes, or nil when it
// does not fit (lzf_compress returning 0).
func lzfPack(in []byte, max int) []byte {
	if len(in) == 0 || max <= 0 {
		return nil
	}
	// Table entries are positions + 1 (0: empty), as the C code's pointers
	// into in (its table is not cleared, but what it holds from before
	// never passes the checks for this input).
	htab := make([]int32, 1<<lzfHashLog)
	out := make([]byte, max+4) // room for the writes the C code makes past its checks
	ip, op, lit := 0, 1, 0     // op 1: room for the first run's length byte
	end := len(in)
	first := func(p int) uint32 { return uint32(in[p])<<8 | uint32(in[p+1]) }
	next := func(h uint32, p int) uint32 { return h<<8 | uint32(in[p+2]) }
	var hval uint32
	if end >= 3 {
		hval = first(ip)
	}
	for ip < end-2 {
		hval = next(hval, ip)
		slot := lzfIndex(hval)
		ref := int(htab[slot]) - 1
		htab[slot] = int32(ip + 1)
		if ref >= 0 && ref < ip && ip-ref-1 < lzfMaxOff && ref > 0 &&
			in[ref+2] == in[ip+2] && in[ref] == in[ip] && in[ref+1] == in[ip+1] {
			off := ip - ref - 1
			n := 2
			maxlen := min(end-ip-n, lzfMaxRef)
			nolit := 0
			if lit == 0 {
				nolit = 1
			}
			if op+3+1 >= max && op-nolit+3+1 >= max {
				return nil
			}
			out[op-lit-1] = byte(lit - 1)
			op -= nolit
			n = lzfMatch(in, ref, ip, maxlen)
			n -= 2
			ip++
			if n < 7 {
				out[op] = byte(off>>8 + n<<5)
				op++
			} else {
				out[op] = byte(off>>8 + 7<<5)
				out[op+1] = byte(n - 7)
				op += 2
			}
			out[op] = byte(off)
			op++
			lit = 0
			op++
			ip += n + 1
			if ip >= end-2 {
				break
			}
			ip -= 2
			hval = first(ip)
			hval = next(hval, ip)
			htab[lzfIndex(hval)] = int32(ip + 1)
			ip++
			hval = next(hval, ip)
			htab[lzfIndex(hval)] = int32(ip + 1)
			ip++
			continue
		}
		if op >= max {
			return nil
		}
		lit++
		out[op] = in[ip]
		op++
		ip++
		if lit == lzfMaxLit {
			out[op-lit-1] = byte(lit - 1)
			lit = 0
			op++
		}
	}
	if op+3 > max {
		return nil
	}
	for ip < end {
		lit++
		out[op] = in[ip]
		op++
		ip++
		if lit == lzfMaxLit {
			out[op-lit-1] = byte(lit - 1)
			lit = 0
			op++
		}
	}
	out[op-lit-1] = byte(lit - 1)
	if lit == 0 {
		op--
	}
	return out[:op]
}
