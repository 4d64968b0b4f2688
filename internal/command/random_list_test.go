package command_test

import (
	"strconv"
	"strings"
	"testing"
)

// TestRandomListAgainstRedis runs random list commands (pushes, pops with
// counts, indexes, ranges, LREM, LINSERT, LPOS with RANK COUNT MAXLEN,
// LMOVE, RPOPLPUSH, non-blocking LMPOP) on ferry and redis-server with odd
// numbers, bad options, binary values and keys of other types, and
// compares every reply and DEBUG DIGEST; see random_diff_test.go.
func TestRandomListAgainstRedis(t *testing.T) {
	runDiff(t, 1500, listStep)
}

func listStep(d *diff) {
	key := func() string { return d.pick("l0", "l1", "l2", "l0", "l1", "str") }
	el := func() string {
		switch d.r.IntN(8) {
		case 0:
			return d.pick(oddNumbers...)
		case 1:
			return d.pick("", "\x00\xff", strings.Repeat("long", 20), "é")
		}
		return d.pick("a", "b", "c", "d", "1", "2", "-1")
	}
	els := func() []string {
		e := []string{el()}
		for i := d.r.IntN(4); i > 0; i-- {
			e = append(e, el())
		}
		return e
	}
	side := func() string { return d.kw(d.pick("LEFT", "RIGHT", "left", "Right", "UP", "")) }
	k := key()
	var c []string
	switch d.r.IntN(34) {
	case 0, 1, 2:
		c = append([]string{d.pick("LPUSH", "RPUSH"), k}, els()...)
	case 3:
		c = append([]string{d.pick("LPUSHX", "RPUSHX"), k}, els()...)
	case 4, 5:
		c = []string{d.pick("LPOP", "RPOP"), k}
		if d.r.IntN(2) == 0 {
			c = append(c, d.number(-1, 6))
		}
	case 6:
		c = []string{"LLEN", k}
	case 7:
		c = []string{"LINDEX", k, d.number(-8, 8)}
	case 8:
		c = []string{"LSET", k, d.number(-8, 8), el()}
	case 9, 10:
		c = []string{"LRANGE", k, d.number(-10, 10), d.number(-10, 10)}
	case 11:
		c = []string{"LTRIM", k, d.number(-10, 10), d.number(-10, 10)}
	case 12:
		c = []string{"LREM", k, d.number(-3, 3), el()}
	case 13:
		c = []string{"LINSERT", k, d.kw(d.pick("BEFORE", "AFTER", "after", "MIDDLE")), el(), el()}
	case 14, 15:
		c = []string{"LPOS", k, el()}
		for i := d.r.IntN(4); i > 0; i-- {
			switch opt := d.pick("RANK", "COUNT", "MAXLEN", "rank", "FOO"); opt {
			case "FOO":
				c = append(c, opt)
			default:
				if d.r.IntN(12) > 0 {
					c = append(c, d.kw(opt), d.number(-3, 60))
				} else {
					c = append(c, opt)
				}
			}
		}
	case 16, 17:
		c = []string{"LMOVE", k, key(), side(), side()}
	case 18:
		c = []string{"RPOPLPUSH", k, key()}
	case 19, 20:
		n := d.r.IntN(3) + 1
		c = []string{"LMPOP", strconv.Itoa(n)}
		switch d.r.IntN(10) {
		case 0:
			c[1] = d.pick(oddNumbers...)
		case 1:
			c[1] = strconv.Itoa(n + 1 - 2*d.r.IntN(2)) // one key too many or too few
		}
		for i := 0; i < n; i++ {
			c = append(c, key())
		}
		c = append(c, side())
		if d.r.IntN(2) == 0 {
			c = append(c, d.kw(d.pick("COUNT", "count", "FOO")), d.number(-1, 5))
		}
		if d.r.IntN(10) == 0 {
			c = append(c, "COUNT", "2")
		}
	case 21:
		c = []string{"SET", "str", el()}
	case 22:
		c = []string{"DEL", k}
	case 23:
		c = []string{"TYPE", k}
	case 24:
		c = []string{"OBJECT", "ENCODING", k}
	case 25:
		cmd := d.pick("LPUSH", "RPUSH", "LPUSHX", "RPUSHX", "LPOP", "RPOP", "LLEN", "LINDEX", "LSET", "LRANGE",
			"LTRIM", "LREM", "LINSERT", "LPOS", "LMOVE", "RPOPLPUSH", "LMPOP")
		c = []string{cmd}
		for i := d.r.IntN(5); i > 0; i-- {
			c = append(c, key())
		}
	case 26:
		c = []string{"LRANGE", k, d.pick("0", "-1", "9223372036854775807", "-9223372036854775808", "-9223372036854775809"),
			d.pick("0", "-1", "9223372036854775807", "-9223372036854775808", "9223372036854775808")}
	case 27:
		c = []string{"LINDEX", k, d.pick("9223372036854775807", "-9223372036854775808", "0x1", "1e1")}
	case 28:
		c = []string{d.pick("LPOP", "RPOP"), k, d.pick("0", "-0", "9223372036854775807", "-9223372036854775808", "2147483648", "4294967297")}
	case 29:
		c = []string{"LPOS", k, el(), "RANK", d.pick("-9223372036854775808", "9223372036854775807", "0", "-1"), "MAXLEN", d.pick("0", "1", "-1")}
	case 30:
		// a long list, for LPOS's RANK and MAXLEN, LREM's counts, LTRIM
		c = []string{d.pick("LPUSH", "RPUSH"), k}
		for i := d.r.IntN(200); i >= 0; i-- {
			c = append(c, d.pick("a", "b", "c", "1", strings.Repeat("z", 70)))
		}
	default:
		c = []string{"EXISTS", k}
	}
	d.do(c...)
}
