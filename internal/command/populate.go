package command

import (
	"math"
	"strconv"
	"strings"

	"github.com/ferrydb/ferry/internal/num"
)

// DEBUG POPULATE count [prefix] [size] (debug.c): creates the keys
// prefix:0 to prefix:count-1 ("key" without a prefix) that do not exist,
// each a string value:N, padded with zero bytes or cut to size bytes when
// a size is given. As in Redis, a key name is cut to 127 bytes and the
// prefix ends at a NUL byte.
//
// Redis does not replicate DEBUG POPULATE; ferry does, since every write
// of a master must reach the log: each key created is a SET of its first
// bytes (the whole value unless padded), then, when padded, a SETRANGE of
// a zero byte at its last offset, which pads it on the replica without the
// padding crossing the log. Outside a transaction the effects are cut into
// units of about populateUnitBytes, each one atomic on replicas, so that
// no unit outgrows a log entry however many keys
// are created: DEBUG POPULATE 1000000 makes some 600 units. Inside a
// transaction the whole EXEC is one unit, so a POPULATE whose effects could
// outgrow an entry (SetMaxWriteBytes) is refused before it changes
// anything. Only a master populates: a replica's dataset is the log's.

// populateUnitBytes is where a DEBUG POPULATE ends a unit and starts
// another: far below any log entry, and small enough that a replica
// applies one quickly.
const populateUnitBytes = 64 << 10

// errNotPositive is Redis's reply to an argument that must be a
// non-negative integer (getPositiveLongFromObjectOrReply).
const errNotPositive = "ERR value is out of range, must be positive"

func debugPopulate(c *Ctx) {
	count, ok := num.ParseInt(c.Args[2])
	if !ok || count < 0 {
		c.Error(errNotPositive)
		return
	}
	var size int64
	if len(c.Args) == 5 {
		if size, ok = num.ParseInt(c.Args[4]); !ok || size < 0 {
			c.Error(errNotPositive)
			return
		}
	}
	prefix := "key"
	if len(c.Args) >= 4 {
		prefix, _, _ = strings.Cut(c.Arg(3), "\x00")
	}
	switch {
	case c.e.cfg.Role != "master":
		c.Error(ErrReadOnly)
		return
	case c.e.writeErr != "":
		c.Error(c.e.writeErr)
		return
	case c.e.loading:
		c.Error(ErrLoading)
		return
	case size > c.e.cfg.MaxBulkLen:
		// Redis would try to allocate it; ferry refuses what a string
		// could not hold anywhere else.
		c.Error(ErrStringTooLong)
		return
	}
	split := !c.e.inExec(c.Client)
	if !split && c.e.maxWrite > 0 {
		if msg := populateFits(c.e, prefix, count, size); msg != "" {
			c.Error(msg)
			return
		}
	}
	if count > 0 {
		c.DB.Reserve(int(min(count, 1<<20)))
	}
	setCmd, setrangeCmd, zero := []byte("SET"), []byte("SETRANGE"), []byte{0}
	var kb, vb []byte
	for j := int64(0); j < count; j++ {
		kb = append(append(append(kb[:0], prefix...), ':'), strconv.AppendInt(nil, j, 10)...)
		if len(kb) > 127 {
			kb = kb[:127]
		}
		key := string(kb)
		if c.DB.Get(key) != nil {
			continue
		}
		vb = strconv.AppendInt(append(vb[:0], "value:"...), j, 10)
		head := vb
		if size > 0 && size < int64(len(vb)) {
			head = vb[:size]
		}
		o := c.DB.SetString(key, nil, false)
		if size > int64(len(vb)) {
			v := make([]byte, size)
			copy(v, vb)
			o.SetStrOwned(v)
		} else {
			o.SetStr(head)
		}
		c.Touch(key)
		c.PropagateArgs(setCmd, kb, head)
		if size > int64(len(vb)) {
			c.PropagateArgs(setrangeCmd, kb, strconv.AppendInt(nil, size-1, 10), zero)
		}
		if split && len(c.e.eff.buf) >= populateUnitBytes {
			c.e.commitUnit(c.Client)
		}
	}
	c.W.OK()
}

// populateFits returns the error for a DEBUG POPULATE in a transaction
// whose effects could make the unit larger than a log entry, or "". The
// count is bounded from above: every key its SET, SETRANGE when padded,
// and the DEL of an expired key it replaces.
func populateFits(e *Engine, prefix string, count, size int64) string {
	klen := int64(min(len(prefix)+21, 127))
	per := 2*klen + 2*64 + 26
	if size > 26 {
		per += klen + 64
	}
	room := int64(e.maxWrite - len(e.eff.buf) - 64)
	if count == 0 || (room > 0 && count <= room/per) {
		return ""
	}
	total := "more than 9223372036854775807"
	if count <= math.MaxInt64/per {
		total = strconv.FormatInt(count*per, 10)
	}
	return e.tooLargeForEntry("DEBUG POPULATE " + strconv.FormatInt(count, 10) + " in a transaction may write " + total +
		" bytes of effects (outside MULTI they are split into several entries)")
}
