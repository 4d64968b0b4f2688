package command_test

import (
	"strconv"
	"testing"
)

// TestRandomBitmapAgainstRedis runs random bitmap commands (SETBIT, GETBIT,
// BITCOUNT and BITPOS with BYTE and BIT ranges, BITOP, BITFIELD and
// BITFIELD_RO with every type, overflow mode and # offsets) on ferry and
// redis-server with odd numbers, bad types and options and keys of other
// types, and compares every reply and DEBUG DIGEST; see
// random_diff_test.go. Offsets that would grow a string past a few KB are
// only read (a 512 MB string would make every DEBUG DIGEST slow), except
// those past the limit, which fail.
func TestRandomBitmapAgainstRedis(t *testing.T) {
	runDiff(t, 1500, bitmapStep)
}

func bitmapStep(d *diff) {
	key := func() string { return d.pick("b0", "b1", "b2", "b0", "lst") }
	bitOff := func() string {
		switch d.r.IntN(8) {
		case 0:
			return d.pick(oddNumbers...)
		case 1:
			return d.pick("4294967296", "-1", "9223372036854775807", "9223372036854775808", "4294967295x",
				"8388607", "8388608", "8388609") // about protoMaxBulkLen (1 MB)
		}
		return d.n(0, 300)
	}
	readOff := func() string {
		if d.r.IntN(6) == 0 {
			return d.pick("4294967295", "4294967294", "536870911", "2147483648")
		}
		return bitOff()
	}
	idx := func() string {
		if d.r.IntN(6) == 0 {
			return d.pick("9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809", "0x1", " 1", "")
		}
		return d.number(-40, 40)
	}
	unit := func(c []string) []string {
		switch d.r.IntN(4) {
		case 0:
			return c
		case 1:
			return append(c, d.pick("BYTE", "BIT", "bit", "FOO", ""))
		}
		return append(c, d.kw(d.pick("BYTE", "BIT")))
	}
	typ := func() string {
		if d.r.IntN(8) == 0 {
			return d.pick("u64", "i65", "i0", "u0", "x8", "i", "u-1", "I8", "U8", "i 8", "u+8", "", "u8\x00x", "i16\x00", "u\x008")
		}
		sign := d.pick("i", "u")
		if sign == "i" {
			return "i" + strconv.Itoa(1+d.r.IntN(64))
		}
		return "u" + strconv.Itoa(1+d.r.IntN(63))
	}
	fieldOff := func(read bool) string {
		switch d.r.IntN(10) {
		case 0, 1:
			return "#" + d.n(0, 6)
		case 2:
			return d.pick("#-1", "#", "#x", "-1", "4294967296", "#4294967296", "9223372036854775807", "#9223372036854775807", "#+1", "# 1")
		case 3:
			if read {
				return d.pick("4294967231", "4294967295", "#67108863", "#67108864", "#4294967295", "8388607", "#1048575", "#1048576")
			}
			if d.r.IntN(3) == 0 {
				// about protoMaxBulkLen (1 MB): the offset is checked, not its end
				return d.pick("8388600", "8388601", "8388607", "8388608", "#1048575", "#1048576", "#131071", "#131072")
			}
		}
		return d.n(0, 200)
	}
	fieldVal := func() string {
		if d.r.IntN(3) == 0 {
			return d.pick(oddNumbers...)
		}
		return d.pick(d.n(-300, 300), "127", "128", "-128", "-129", "255", "256", "32767", "-32768", "65535",
			"9223372036854775807", "-9223372036854775808", "4611686018427387904", "-4611686018427387905")
	}
	k := key()
	var c []string
	switch d.r.IntN(26) {
	case 0, 1, 2:
		c = []string{"SETBIT", k, bitOff(), d.pick("0", "1", "1", "2", "-1", "01", "", "1 ")}
	case 3, 4:
		c = []string{"GETBIT", k, readOff()}
	case 5, 6:
		c = []string{"BITCOUNT", k}
		if d.r.IntN(5) > 0 {
			c = unit(append(c, idx(), idx()))
		} else if d.r.IntN(2) == 0 {
			c = append(c, idx())
		}
	case 7, 8:
		c = []string{"BITPOS", k, d.pick("0", "1", "1", "0", "2", "-1", "")}
		switch d.r.IntN(4) {
		case 1:
			c = append(c, idx())
		case 2:
			c = append(c, idx(), idx())
		case 3:
			c = unit(append(c, idx(), idx()))
		}
	case 9, 10:
		op := d.kw(d.pick("AND", "OR", "XOR", "NOT", "and", "not", "NAND", ""))
		c = []string{"BITOP", op, key(), key()}
		for i := d.r.IntN(3); i > 0; i-- {
			c = append(c, key())
		}
	case 11, 12, 13, 14:
		cmd := d.pick("BITFIELD", "BITFIELD", "BITFIELD_RO")
		c = []string{cmd, k}
		for i := d.r.IntN(5); i > 0; i-- {
			switch d.r.IntN(8) {
			case 0, 1:
				c = append(c, d.kw("GET"), typ(), fieldOff(true))
			case 2, 3:
				c = append(c, d.kw("SET"), typ(), fieldOff(false), fieldVal())
			case 4, 5:
				c = append(c, d.kw("INCRBY"), typ(), fieldOff(false), fieldVal())
			case 6:
				c = append(c, d.kw("OVERFLOW"), d.kw(d.pick("WRAP", "SAT", "FAIL", "FOO")))
			default:
				// a truncated or unknown subcommand
				c = append(c, d.pick("GET", "SET", "INCRBY", "OVERFLOW", "FOO", "GET i8"))
			}
		}
		if cmd == "BITFIELD_RO" && d.r.IntN(2) == 0 {
			c = []string{cmd, k, "GET", typ(), fieldOff(true)}
		}
	case 15:
		c = []string{"SET", k, d.pick("", "foobar", "\xff\xf0\x00", "\x00\x00\x00\xff", "\xff\xff\xff\xff\xff\xff\xff\xff\xff", "1234", "a")}
	case 16:
		c = []string{"RPUSH", "lst", "x"}
	case 17:
		c = []string{"GET", k}
	case 18:
		c = []string{"DEL", k}
	case 19:
		cmd := d.pick("SETBIT", "GETBIT", "BITCOUNT", "BITPOS", "BITOP", "BITFIELD", "BITFIELD_RO")
		c = []string{cmd}
		for i := d.r.IntN(4); i > 0; i-- {
			c = append(c, key())
		}
	case 20:
		c = []string{"STRLEN", k}
	case 21:
		// runs of set and clear bytes, for BITPOS and BITCOUNT
		c = []string{"SET", k, d.text(d.pick("\x00\xff", "\x00", "\xff", "\x00\x01\x80\xff\x7f\xfe"), 40)}
	default:
		c = []string{"BITCOUNT", k, d.n(-5, 5), d.n(-5, 5), d.pick("BIT", "BYTE")}
	}
	d.do(c...)
}
