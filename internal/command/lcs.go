package command

import (
	"math"

	"github.com/ferrydb/ferry/internal/keyspace"
)

// LCS (t_string.c's lcsCommand): the longest common subsequence of two
// strings, its length, or the matching ranges, by Redis's dynamic
// programming table and walk, so that among several longest subsequences
// the same one is found. SUBSTR is GETRANGE's older name.

func init() {
	registrations = append(registrations, registerLCS)
}

func registerLCS(t *Table) {
	t.Add(
		&Command{Name: "lcs", Arity: -3, Flags: ReadOnly, FirstKey: 1, LastKey: 2, Step: 1, Group: "string", Since: "7.0.0",
			Summary: "Finds the longest common substring.", ACL: []string{"read", "string", "slow"}, Handler: lcsCmd},
		&Command{Name: "substr", Arity: 4, Flags: ReadOnly, FirstKey: 1, LastKey: 1, Step: 1, Group: "string", Since: "1.0.0",
			Summary: "Returns a substring from a string value.", ACL: []string{"read", "string", "slow"}, Handler: getrangeCmd},
	)
}

// lcsRange is one match of LCS IDX: a range in each string.
type lcsRange struct {
	aStart, aEnd, bStart, bEnd uint32
}

func lcsCmd(c *Ctx) {
	oa, ob := c.Lookup(c.Arg(1)), c.Lookup(c.Arg(2))
	if oa != nil && oa.Kind() != keyspace.KindString || ob != nil && ob.Kind() != keyspace.KindString {
		c.Error("ERR The specified keys must contain string values")
		return
	}
	var a, b []byte
	if oa != nil {
		a = oa.Str()
	}
	if ob != nil {
		b = ob.Str()
	}
	var getLen, getIdx, withLen bool
	var minLen int64
	for j := 3; j < len(c.Args); j++ {
		switch {
		case c.Is(j, "idx"):
			getIdx = true
		case c.Is(j, "len"):
			getLen = true
		case c.Is(j, "withmatchlen"):
			withLen = true
		case c.Is(j, "minmatchlen") && j < len(c.Args)-1:
			n, ok := c.Int(j + 1)
			if !ok {
				return
			}
			minLen = max(n, 0)
			j++
		default:
			c.Error(ErrSyntax)
			return
		}
	}
	if getLen && getIdx {
		c.Error("ERR If you want both the length and indexes, please just use IDX.")
		return
	}
	if len(a) >= math.MaxUint32-1 || len(b) >= math.MaxUint32-1 {
		c.Error("ERR String too long for LCS")
		return
	}
	alen, blen := len(a), len(b)
	cells := uint64(alen+1) * uint64(blen+1)
	if cells > math.MaxUint64/4 {
		c.Error("ERR Insufficient memory, failed allocating transient memory for LCS")
		return
	}
	if cells*4 > uint64(c.e.cfg.MaxBulkLen) {
		c.Error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
		return
	}
	// t[j+(blen+1)*i] is the LCS length of a[:i] and b[:j].
	w := blen + 1
	t := make([]uint32, cells)
	for i := 1; i <= alen; i++ {
		row, prev := t[i*w:(i+1)*w], t[(i-1)*w:i*w]
		for j := 1; j <= blen; j++ {
			if a[i-1] == b[j-1] {
				row[j] = prev[j-1] + 1
			} else {
				row[j] = max(prev[j], row[j-1])
			}
		}
	}
	total := t[alen*w+blen]
	if getLen {
		c.W.Int(int64(total))
		return
	}

	// Walk back from the end, building the subsequence backwards and the
	// ranges of contiguous matches, last first.
	res := make([]byte, total)
	idx := total
	var ranges []lcsRange
	unset := uint32(alen) // arange_start's "no range" value
	cur := lcsRange{aStart: unset}
	i, j := alen, blen
	for i > 0 && j > 0 {
		emit := false
		if a[i-1] == b[j-1] {
			res[idx-1] = a[i-1]
			switch {
			case cur.aStart == unset:
				cur = lcsRange{uint32(i - 1), uint32(i - 1), uint32(j - 1), uint32(j - 1)}
			case cur.aStart == uint32(i) && cur.bStart == uint32(j):
				cur.aStart--
				cur.bStart--
			default:
				emit = true
			}
			if cur.aStart == 0 || cur.bStart == 0 {
				emit = true
			}
			idx--
			i--
			j--
		} else {
			if t[(i-1)*w+j] > t[i*w+j-1] {
				i--
			} else {
				j--
			}
			if cur.aStart != unset {
				emit = true
			}
		}
		if emit {
			if n := cur.aEnd - cur.aStart + 1; minLen == 0 || int64(n) >= minLen {
				ranges = append(ranges, cur)
			}
			cur.aStart = unset
		}
	}
	if !getIdx {
		c.W.Bulk(res)
		return
	}
	c.W.Map(2)
	c.W.BulkString("matches")
	c.W.Array(len(ranges))
	for _, r := range ranges {
		if withLen {
			c.W.Array(3)
		} else {
			c.W.Array(2)
		}
		c.W.Array(2)
		c.W.Int(int64(r.aStart))
		c.W.Int(int64(r.aEnd))
		c.W.Array(2)
		c.W.Int(int64(r.bStart))
		c.W.Int(int64(r.bEnd))
		if withLen {
			c.W.Int(int64(r.aEnd - r.aStart + 1))
		}
	}
	c.W.BulkString("len")
	c.W.Int(int64(total))
}
