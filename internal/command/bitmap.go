package command

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"slices"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/num"
)

// Bitmap commands (bitops.c). A bitmap is a string whose bit 0 is the most
// significant bit of its first byte; reads see the bytes past its end as
// zeros. SETBIT, BITOP and BITFIELD propagate as received, and only when
// they changed the keyspace.

func init() {
	registrations = append(registrations, registerBitmap)
	// Their key specs and arguments, for COMMAND (command_cmd.go's tables).
	for name, spec := range map[string]string{
		"setbit": "RW access update @1", "getbit": "RO access @1", "bitcount": "RO access @1",
		"bitpos": "RO access @1", "bitop": "OW update @2; RO access @3..-1",
		"bitfield": "RW access update variable_flags @1", "bitfield_ro": "RO access @1",
	} {
		keySpecTable[name] = spec
	}
	specNotes["bitfield"] = "This command allows both access and modification of the key"
	for name, args := range map[string]string{
		"setbit": "key offset:i value:i", "getbit": "key offset:i",
		"bitcount": "key [start:i end:i [BYTE|BIT]]", "bitpos": "key bit:i [start:i [end:i [BYTE|BIT]]]",
		"bitop":       "operation destkey:k key...",
		"bitfield":    "key [GET encoding offset:i | [OVERFLOW (WRAP|SAT|FAIL)] (SET encoding offset:i value:i | INCRBY encoding offset:i increment:i)]...",
		"bitfield_ro": "key [GET encoding offset:i]...",
	} {
		argSyntax[name] = args
	}
}

func registerBitmap(t *Table) {
	w, r := Write|DenyOOM, ReadOnly
	k1 := func(c *Command) *Command { c.FirstKey, c.LastKey, c.Step = 1, 1, 1; c.Group = "bitmap"; return c }
	t.Add(
		k1(&Command{Name: "setbit", Arity: 4, Flags: w, Since: "2.2.0", Summary: "Sets or clears one bit of a string and replies with its previous value.", ACL: []string{"write", "bitmap", "slow"}, Handler: setbitCmd}),
		k1(&Command{Name: "getbit", Arity: 3, Flags: r | Fast, Since: "2.2.0", Summary: "Returns one bit of a string.", ACL: []string{"read", "bitmap", "fast"}, Handler: getbitCmd}),
		k1(&Command{Name: "bitcount", Arity: -2, Flags: r, Since: "2.6.0", Summary: "Counts the bits set in a string, or in a range of its bytes or bits.", ACL: []string{"read", "bitmap", "slow"}, Handler: bitcountCmd}),
		k1(&Command{Name: "bitpos", Arity: -3, Flags: r, Since: "2.8.7", Summary: "Finds the first bit set or clear in a string, or in a range of its bytes or bits.", ACL: []string{"read", "bitmap", "slow"}, Handler: bitposCmd}),
		&Command{Name: "bitop", Arity: -4, Flags: w, FirstKey: 2, LastKey: -1, Step: 1, Group: "bitmap", Since: "2.6.0", Summary: "Stores the AND, OR, XOR of strings, or the NOT of one, in a key.", ACL: []string{"write", "bitmap", "slow"}, Handler: bitopCmd},
		k1(&Command{Name: "bitfield", Arity: -2, Flags: w, Since: "3.2.0", Summary: "Reads, writes and increments integers of any width at any bit offset of a string.", ACL: []string{"write", "bitmap", "slow"}, Handler: bitfieldCmd}),
		k1(&Command{Name: "bitfield_ro", Arity: -2, Flags: r | Fast, Since: "6.0.0", Summary: "Reads integers of any width at any bit offset of a string.", ACL: []string{"read", "bitmap", "fast"}, Handler: bitfieldRoCmd}),
	)
}

// Error replies of the bitmap commands.
const (
	errBitOffset    = "ERR bit offset is not an integer or out of range"
	errBitValue     = "ERR bit is not an integer or out of range"
	errBitArg       = "ERR The bit argument must be 1 or 0."
	errBitopNot     = "ERR BITOP NOT must be called with a single source key."
	errBitfieldType = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
	errOverflowType = "ERR Invalid OVERFLOW type specified"
	errBitfieldRO   = "ERR BITFIELD_RO only supports the GET subcommand"
)

// cstr returns b up to its first NUL byte: Redis matches these commands'
// keywords with strcasecmp, which stops there ("BIT\x00x" is BIT).
func cstr(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// bitOffset parses argument i as a bit offset. When width is not 0, "#N"
// means N*width (wrapping on overflow as Redis does). Offsets whose byte is
// at or past proto-max-bulk-len are refused, except from the master.
func (c *Ctx) bitOffset(i int, width uint) (uint64, bool) {
	a := c.Args[i]
	hash := width > 0 && len(a) > 0 && a[0] == '#'
	if hash {
		a = a[1:]
	}
	n, ok := num.ParseInt(a)
	if hash {
		n *= int64(width)
	}
	if !ok || n < 0 || (!c.Client.Master && n>>3 >= c.e.cfg.MaxBulkLen) {
		c.Error(errBitOffset)
		return 0, false
	}
	return uint64(n), true
}

// bitUnit parses argument i, BIT or BYTE, reporting whether it is BIT.
func (c *Ctx) bitUnit(i int) (isBit, ok bool) {
	switch u := view(cstr(c.Args[i])); {
	case eqFold(u, "bit"):
		return true, true
	case eqFold(u, "byte"):
		return false, true
	}
	c.Error(ErrSyntax)
	return false, false
}

// bitRange converts BITCOUNT and BITPOS start and end indexes (negative
// from the end) into an inclusive range of bits of a string of n bytes. The
// indexes count bits when isBit, else bytes. It reports false when the
// range is empty.
func bitRange(start, end int64, n int, isBit bool) (lo, hi int64, ok bool) {
	total := int64(n)
	if isBit {
		total *= 8
	}
	if start < 0 {
		start = max(total+start, 0)
	}
	if end < 0 {
		end = max(total+end, 0)
	}
	end = min(end, total-1)
	if start > end {
		return 0, 0, false
	}
	if isBit {
		return start, end, true
	}
	return start * 8, end*8 + 7, true
}

// bitString returns key's string for a write that reaches bit maxBit,
// creating it or padding it with zero bytes as needed, and whether it did
// either. It replies WRONGTYPE and returns nil when key holds another type.
func (c *Ctx) bitString(key string, maxBit uint64) (o *keyspace.Object, grew bool) {
	o, ok := c.LookupWrite(key, keyspace.KindString)
	if !ok {
		return nil, false
	}
	need := int(maxBit>>3) + 1
	if o == nil {
		o = c.DB.SetString(key, nil, false)
		o.SetStrOwned(make([]byte, need))
		return o, true
	}
	s := o.Str()
	if n := len(s); n < need {
		s = slices.Grow(s, need-n)[:need]
		clear(s[n:])
		o.SetStrOwned(s)
		return o, true
	}
	return o, false
}

// bitAt returns bit off of s, 0 past its end.
func bitAt(s []byte, off uint64) uint64 {
	if off>>3 >= uint64(len(s)) {
		return 0
	}
	return uint64(s[off>>3]>>(7-off&7)) & 1
}

func setbitCmd(c *Ctx) {
	off, ok := c.bitOffset(2, 0)
	if !ok {
		return
	}
	on, ok := num.ParseInt(c.Args[3])
	if !ok || on&^1 != 0 {
		c.Error(errBitValue)
		return
	}
	key := c.Arg(1)
	o, grew := c.bitString(key, off)
	if o == nil {
		return
	}
	s := o.Str()
	old := bitAt(s, off)
	if grew || int64(old) != on {
		mask := byte(0x80) >> (off & 7)
		if on == 1 {
			s[off>>3] |= mask
		} else {
			s[off>>3] &^= mask
		}
		c.Touch(key)
		c.notify(notifyString, "setbit", key)
		c.Propagate()
	}
	c.W.Int(int64(old))
}

func getbitCmd(c *Ctx) {
	off, ok := c.bitOffset(2, 0)
	if !ok {
		return
	}
	s, ok := c.getString(c.Arg(1))
	if ok {
		c.W.Int(int64(bitAt(s, off)))
	}
}

func bitcountCmd(c *Ctx) {
	// As Redis 7.0: the key first, then the arguments.
	s, ok := c.getString(c.Arg(1))
	if !ok {
		return
	}
	if s == nil {
		c.W.Int(0)
		return
	}
	lo, hi, nonEmpty := int64(0), int64(len(s))*8-1, len(s) > 0
	switch len(c.Args) {
	case 2:
	case 4, 5:
		start, ok := c.Int(2)
		if !ok {
			return
		}
		end, ok := c.Int(3)
		if !ok {
			return
		}
		if start < 0 && end < 0 && start > end {
			c.W.Int(0)
			return
		}
		isBit := false
		if len(c.Args) == 5 {
			if isBit, ok = c.bitUnit(4); !ok {
				return
			}
		}
		lo, hi, nonEmpty = bitRange(start, end, len(s), isBit)
	default:
		c.Error(ErrSyntax)
		return
	}
	if !nonEmpty {
		c.W.Int(0)
		return
	}
	c.W.Int(countBits(s, lo, hi))
}

// countBits counts the bits set in the inclusive bit range [lo, hi] of s.
func countBits(s []byte, lo, hi int64) int64 {
	first, last := lo>>3, hi>>3
	n := popcount(s[first : last+1])
	n -= bits.OnesCount8(s[first] >> (8 - lo&7)) // before lo
	n -= bits.OnesCount8(s[last] << (hi&7 + 1))  // after hi
	return int64(n)
}

func popcount(b []byte) int {
	n := 0
	for ; len(b) >= 8; b = b[8:] {
		n += bits.OnesCount64(binary.LittleEndian.Uint64(b))
	}
	for _, x := range b {
		n += bits.OnesCount8(x)
	}
	return n
}

func bitposCmd(c *Ctx) {
	bit, ok := c.Int(2)
	if !ok {
		return
	}
	if bit != 0 && bit != 1 {
		c.Error(errBitArg)
		return
	}
	s, ok := c.getString(c.Arg(1))
	if !ok {
		return
	}
	if s == nil {
		// A missing key is an endless run of zeros.
		c.W.Int(-bit)
		return
	}
	lo, hi, nonEmpty := int64(0), int64(len(s))*8-1, len(s) > 0
	endGiven := false
	switch n := len(c.Args); {
	case n == 3:
	case n <= 6:
		start, ok := c.Int(3)
		if !ok {
			return
		}
		isBit := false
		if n == 6 {
			if isBit, ok = c.bitUnit(5); !ok {
				return
			}
		}
		end := int64(len(s)) - 1
		if n >= 5 {
			if end, ok = c.Int(4); !ok {
				return
			}
			endGiven = true
		}
		lo, hi, nonEmpty = bitRange(start, end, len(s), isBit)
	default:
		c.Error(ErrSyntax)
		return
	}
	if !nonEmpty {
		c.W.Int(-1)
		return
	}
	pos := findBit(s, lo, hi, byte(bit))
	if pos < 0 && bit == 0 && !endGiven {
		// Without an end, the string goes on with zeros.
		pos = hi + 1
	}
	c.W.Int(pos)
}

// findBit returns the position of the first bit equal to bit in the
// inclusive bit range [lo, hi] of s, or -1.
func findBit(s []byte, lo, hi int64, bit byte) int64 {
	skip := uint64(0) // a word with no bit of interest
	if bit == 0 {
		skip = math.MaxUint64
	}
	for i := lo; i <= hi; {
		if i&7 == 0 {
			if i+63 <= hi && binary.LittleEndian.Uint64(s[i>>3:]) == skip {
				i += 64
				continue
			}
			if i+7 <= hi && s[i>>3] == byte(skip) {
				i += 8
				continue
			}
		}
		if byte(bitAt(s, uint64(i))) == bit {
			return i
		}
		i++
	}
	return -1
}

// BITOP operations.
const (
	bitopAnd = iota
	bitopOr
	bitopXor
	bitopNot
)

func bitopCmd(c *Ctx) {
	var op int
	switch name := view(cstr(c.Args[1])); {
	case eqFold(name, "and"):
		op = bitopAnd
	case eqFold(name, "or"):
		op = bitopOr
	case eqFold(name, "xor"):
		op = bitopXor
	case eqFold(name, "not"):
		op = bitopNot
	default:
		c.Error(ErrSyntax)
		return
	}
	if op == bitopNot && len(c.Args) != 4 {
		c.Error(errBitopNot)
		return
	}
	srcs := make([][]byte, 0, len(c.Args)-3)
	maxLen := 0
	for i := 3; i < len(c.Args); i++ {
		s, ok := c.getString(c.Arg(i)) // a missing key is an empty string
		if !ok {
			return
		}
		srcs = append(srcs, s)
		maxLen = max(maxLen, len(s))
	}
	dst := c.Arg(2)
	if maxLen == 0 {
		if c.DB.Delete(dst) {
			c.notify(notifyGeneric, "del", dst)
			c.Propagate()
		}
		c.W.Int(0)
		return
	}
	res := make([]byte, maxLen)
	copy(res, srcs[0])
	switch op {
	case bitopNot:
		for i, b := range res {
			res[i] = ^b
		}
	case bitopAnd:
		for _, s := range srcs[1:] {
			combine(res, s, func(a, b uint64) uint64 { return a & b })
			clear(res[len(s):]) // past its end, s is zeros
		}
	case bitopOr:
		for _, s := range srcs[1:] {
			combine(res, s, func(a, b uint64) uint64 { return a | b })
		}
	case bitopXor:
		for _, s := range srcs[1:] {
			combine(res, s, func(a, b uint64) uint64 { return a ^ b })
		}
	}
	c.DB.SetString(dst, nil, false).SetStrOwned(res)
	c.Touch(dst)
	c.notify(notifyString, "set", dst)
	c.Propagate()
	c.W.Int(int64(maxLen))
}

// combine sets dst[i] to f(dst[i], src[i]) for every byte of src, a word
// at a time; dst is at least as long as src.
func combine(dst, src []byte, f func(a, b uint64) uint64) {
	le := binary.LittleEndian
	i := 0
	for ; i+8 <= len(src); i += 8 {
		le.PutUint64(dst[i:], f(le.Uint64(dst[i:]), le.Uint64(src[i:])))
	}
	for ; i < len(src); i++ {
		dst[i] = byte(f(uint64(dst[i]), uint64(src[i])))
	}
}

// BITFIELD operations.
const (
	bfGet = iota
	bfSet
	bfIncrby
)

// BITFIELD overflow policies.
const (
	overflowWrap = iota
	overflowSat
	overflowFail
)

// bfOp is one BITFIELD operation.
type bfOp struct {
	kind     int
	overflow int
	signed   bool
	width    uint
	offset   uint64
	arg      int64 // SET's value or INCRBY's increment
}

func bitfieldCmd(c *Ctx)   { bitfieldGeneric(c, false) }
func bitfieldRoCmd(c *Ctx) { bitfieldGeneric(c, true) }

// bitfieldGeneric serves BITFIELD and BITFIELD_RO (readOnly). It parses
// every operation first, then runs them in order; a write that changed the
// keyspace is propagated as received.
func bitfieldGeneric(c *Ctx, readOnly bool) {
	ops, ok := c.parseBitfield()
	if !ok {
		return
	}
	write, maxBit := false, uint64(0)
	for _, op := range ops {
		if op.kind != bfGet {
			write = true
			maxBit = max(maxBit, op.offset+uint64(op.width)-1)
		}
	}
	key := c.Arg(1)
	if !write {
		s, ok := c.getString(key)
		if !ok {
			return
		}
		c.W.Array(len(ops))
		for _, op := range ops {
			c.W.Int(op.get(s))
		}
		return
	}
	if readOnly {
		c.Error(errBitfieldRO)
		return
	}
	o, grew := c.bitString(key, maxBit)
	if o == nil {
		return
	}
	s := o.Str()
	changed := false
	c.W.Array(len(ops))
	for _, op := range ops {
		if op.kind == bfGet {
			c.W.Int(op.get(s))
			continue
		}
		old := op.get(s)
		v, incr := op.arg, int64(0)
		if op.kind == bfIncrby {
			v, incr = old, op.arg
		}
		var (
			val int64
			dir int
		)
		if op.signed {
			val, dir = addSigned(v, incr, op.width, op.overflow)
		} else {
			val, dir = addUnsigned(uint64(v), incr, op.width, op.overflow)
		}
		if dir != 0 && op.overflow == overflowFail {
			c.W.Null()
			continue
		}
		setBits(s, op.offset, op.width, uint64(val))
		changed = changed || grew || val != old
		if op.kind == bfSet {
			c.W.Int(old)
		} else {
			c.W.Int(val)
		}
	}
	if changed {
		c.Touch(key)
		c.notify(notifyString, "setbit", key)
	}
	// Redis does not propagate a BITFIELD whose only writes failed
	// (OVERFLOW FAIL) even when it created or padded the string, and its
	// replicas miss the change; ferry propagates it.
	if changed || grew {
		c.Propagate()
	}
}

// parseBitfield parses BITFIELD's operations, replying on the first error.
func (c *Ctx) parseBitfield() ([]bfOp, bool) {
	var ops []bfOp
	overflow := overflowWrap
	for j := 2; j < len(c.Args); j++ {
		left := len(c.Args) - j - 1
		op := bfOp{overflow: overflow}
		switch name := view(cstr(c.Args[j])); {
		case eqFold(name, "get") && left >= 2:
			op.kind = bfGet
		case eqFold(name, "set") && left >= 3:
			op.kind = bfSet
		case eqFold(name, "incrby") && left >= 3:
			op.kind = bfIncrby
		case eqFold(name, "overflow") && left >= 1:
			j++
			switch t := view(cstr(c.Args[j])); {
			case eqFold(t, "wrap"):
				overflow = overflowWrap
			case eqFold(t, "sat"):
				overflow = overflowSat
			case eqFold(t, "fail"):
				overflow = overflowFail
			default:
				c.Error(errOverflowType)
				return nil, false
			}
			continue
		default:
			c.Error(ErrSyntax)
			return nil, false
		}
		var ok bool
		if op.signed, op.width, ok = c.bitfieldType(j + 1); !ok {
			return nil, false
		}
		if op.offset, ok = c.bitOffset(j+2, op.width); !ok {
			return nil, false
		}
		j += 2
		if op.kind != bfGet {
			j++
			if op.arg, ok = c.Int(j); !ok {
				return nil, false
			}
		}
		ops = append(ops, op)
	}
	return ops, true
}

// bitfieldType parses argument i as a BITFIELD type: i1 to i64, u1 to u63.
func (c *Ctx) bitfieldType(i int) (signed bool, width uint, ok bool) {
	t := cstr(c.Args[i])
	if len(t) > 0 && (t[0] == 'i' || t[0] == 'u') {
		signed = t[0] == 'i'
		n, ok := num.ParseInt(t[1:])
		if ok && n >= 1 && (n <= 63 || signed && n == 64) {
			return signed, uint(n), true
		}
	}
	c.Error(errBitfieldType)
	return false, 0, false
}

// get reads op's integer from s (zeros past its end).
func (op *bfOp) get(s []byte) int64 {
	var v uint64
	for i := uint64(0); i < uint64(op.width); i++ {
		v = v<<1 | bitAt(s, op.offset+i)
	}
	if op.signed {
		shift := 64 - op.width
		return int64(v<<shift) >> shift
	}
	return int64(v)
}

// setBits writes the low width bits of v at bit offset off of s, which is
// long enough.
func setBits(s []byte, off uint64, width uint, v uint64) {
	for i := uint(0); i < width; i++ {
		b := off + uint64(i)
		mask := byte(0x80) >> (b & 7)
		if v>>(width-1-i)&1 == 1 {
			s[b>>3] |= mask
		} else {
			s[b>>3] &^= mask
		}
	}
}

// addSigned returns v+incr as a width-bit signed integer under the
// overflow policy, and dir: 0 when the sum fits, 1 when it is above the
// type's maximum, -1 when below its minimum (the result is then meaningless
// under overflowFail).
func addSigned(v, incr int64, width uint, overflow int) (int64, int) {
	hi := int64(math.MaxInt64)
	if width < 64 {
		hi = 1<<(width-1) - 1
	}
	lo := -hi - 1
	dir := 0
	switch {
	// Redis computes hi-v wrapping around, so that setting a value below
	// hi-MaxInt64 counts as an overflow upwards: SAT stores the maximum.
	case v > hi || width < 64 && v < hi-math.MaxInt64:
		dir = 1
	case v < lo:
		dir = -1
	case incr > 0 && (width < 64 || v >= 0) && incr > hi-v:
		dir = 1
	case incr < 0 && (width < 64 || v < 0) && incr < lo-v:
		dir = -1
	}
	switch {
	case dir == 0:
		return v + incr, 0
	case overflow == overflowSat && dir > 0:
		return hi, dir
	case overflow == overflowSat:
		return lo, dir
	}
	// Wrap: keep the low width bits, sign-extended.
	shift := 64 - width
	return (v + incr) << shift >> shift, dir
}

// addUnsigned is addSigned for a width-bit unsigned integer (width < 64):
// v is SET's value seen as unsigned (a negative one is above the maximum)
// or the current value.
func addUnsigned(v uint64, incr int64, width uint, overflow int) (int64, int) {
	hi := uint64(1)<<width - 1
	dir := 0
	switch {
	case v > hi || incr > 0 && uint64(incr) > hi-v:
		dir = 1
	case incr < 0 && incr < -int64(v):
		dir = -1
	}
	switch {
	case dir == 0:
		return int64(v) + incr, 0
	case overflow == overflowSat && dir > 0:
		return int64(hi), dir
	case overflow == overflowSat:
		return 0, dir
	}
	return int64((v + uint64(incr)) & hi), dir
}
