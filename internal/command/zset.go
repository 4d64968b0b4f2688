package command

import (
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"github.com/ferrydb/ferry/internal/glob"
	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/num"
	"github.com/ferrydb/ferry/internal/resp"
)

// Sorted set commands (t_zset.c). Writes propagate as received, except the
// pops that Redis 7.0 rewrites: ZMPOP, BZPOPMIN/BZPOPMAX and BZMPOP go out
// as ZPOPMIN/ZPOPMAX key [count]; a *STORE whose result is empty deletes
// its destination and propagates that DEL.

func registerZSet(t *Table) {
	w, r := Write|DenyOOM, ReadOnly
	k1 := func(c *Command) *Command { c.FirstKey, c.LastKey, c.Step = 1, 1, 1; c.Group = "sorted_set"; return c }
	k2 := func(c *Command) *Command { c.FirstKey, c.LastKey, c.Step = 1, 2, 1; c.Group = "sorted_set"; return c }
	bk := func(c *Command) *Command { c.FirstKey, c.LastKey, c.Step = 1, -2, 1; c.Group = "sorted_set"; return c }
	mk := func(c *Command) *Command { c.Group = "sorted_set"; return c }
	wf, ws := []string{"write", "sortedset", "fast"}, []string{"write", "sortedset", "slow"}
	rf, rs := []string{"read", "sortedset", "fast"}, []string{"read", "sortedset", "slow"}
	t.Add(
		k1(&Command{Name: "zadd", Arity: -4, Flags: w | Fast, Since: "1.2.0", Summary: "Add one or more members to a sorted set, or update its score if it already exists", ACL: wf, Handler: zaddCmd}),
		k1(&Command{Name: "zincrby", Arity: 4, Flags: w | Fast, Since: "1.2.0", Summary: "Increment the score of a member in a sorted set", ACL: wf, Handler: zincrbyCmd}),
		k1(&Command{Name: "zrem", Arity: -3, Flags: Write | Fast, Since: "1.2.0", Summary: "Remove one or more members from a sorted set", ACL: wf, Handler: zremCmd}),
		k1(&Command{Name: "zremrangebyscore", Arity: 4, Flags: Write, Since: "1.2.0", Summary: "Remove all members in a sorted set within the given scores", ACL: ws, Handler: zremrangebyscoreCmd}),
		k1(&Command{Name: "zremrangebyrank", Arity: 4, Flags: Write, Since: "2.0.0", Summary: "Remove all members in a sorted set within the given indexes", ACL: ws, Handler: zremrangebyrankCmd}),
		k1(&Command{Name: "zremrangebylex", Arity: 4, Flags: Write, Since: "2.8.9", Summary: "Remove all members in a sorted set between the given lexicographical range", ACL: ws, Handler: zremrangebylexCmd}),
		k1(&Command{Name: "zunionstore", Arity: -4, Flags: w, Since: "2.0.0", Summary: "Add multiple sorted sets and store the resulting sorted set in a new key", ACL: ws, Handler: zunionstoreCmd}),
		k1(&Command{Name: "zinterstore", Arity: -4, Flags: w, Since: "2.0.0", Summary: "Intersect multiple sorted sets and store the resulting sorted set in a new key", ACL: ws, Handler: zinterstoreCmd}),
		k1(&Command{Name: "zdiffstore", Arity: -4, Flags: w, Since: "6.2.0", Summary: "Subtract multiple sorted sets and store the resulting sorted set in a new key", ACL: ws, Handler: zdiffstoreCmd}),
		mk(&Command{Name: "zunion", Arity: -3, Flags: r, Since: "6.2.0", Summary: "Add multiple sorted sets", ACL: rs, Handler: zunionCmd}),
		mk(&Command{Name: "zinter", Arity: -3, Flags: r, Since: "6.2.0", Summary: "Intersect multiple sorted sets", ACL: rs, Handler: zinterCmd}),
		mk(&Command{Name: "zintercard", Arity: -3, Flags: r, Since: "7.0.0", Summary: "Intersect multiple sorted sets and return the cardinality of the result", ACL: rs, Handler: zintercardCmd}),
		mk(&Command{Name: "zdiff", Arity: -3, Flags: r, Since: "6.2.0", Summary: "Subtract multiple sorted sets", ACL: rs, Handler: zdiffCmd}),
		k1(&Command{Name: "zrange", Arity: -4, Flags: r, Since: "1.2.0", Summary: "Return a range of members in a sorted set", ACL: rs, Handler: zrangeCmd}),
		k2(&Command{Name: "zrangestore", Arity: -5, Flags: w, Since: "6.2.0", Summary: "Store a range of members from sorted set into another key", ACL: ws, Handler: zrangestoreCmd}),
		k1(&Command{Name: "zrangebyscore", Arity: -4, Flags: r, Since: "1.0.5", Summary: "Return a range of members in a sorted set, by score", ACL: rs, Handler: zrangebyscoreCmd}),
		k1(&Command{Name: "zrevrangebyscore", Arity: -4, Flags: r, Since: "2.2.0", Summary: "Return a range of members in a sorted set, by score, with scores ordered from high to low", ACL: rs, Handler: zrevrangebyscoreCmd}),
		k1(&Command{Name: "zrangebylex", Arity: -4, Flags: r, Since: "2.8.9", Summary: "Return a range of members in a sorted set, by lexicographical range", ACL: rs, Handler: zrangebylexCmd}),
		k1(&Command{Name: "zrevrangebylex", Arity: -4, Flags: r, Since: "2.8.9", Summary: "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.", ACL: rs, Handler: zrevrangebylexCmd}),
		k1(&Command{Name: "zcount", Arity: 4, Flags: r | Fast, Since: "2.0.0", Summary: "Count the members in a sorted set with scores within the given values", ACL: rf, Handler: zcountCmd}),
		k1(&Command{Name: "zlexcount", Arity: 4, Flags: r | Fast, Since: "2.8.9", Summary: "Count the number of members in a sorted set between a given lexicographical range", ACL: rf, Handler: zlexcountCmd}),
		k1(&Command{Name: "zrevrange", Arity: -4, Flags: r, Since: "1.2.0", Summary: "Return a range of members in a sorted set, by index, with scores ordered from high to low", ACL: rs, Handler: zrevrangeCmd}),
		k1(&Command{Name: "zcard", Arity: 2, Flags: r | Fast, Since: "1.2.0", Summary: "Get the number of members in a sorted set", ACL: rf, Handler: zcardCmd}),
		k1(&Command{Name: "zscore", Arity: 3, Flags: r | Fast, Since: "1.2.0", Summary: "Get the score associated with the given member in a sorted set", ACL: rf, Handler: zscoreCmd}),
		k1(&Command{Name: "zmscore", Arity: -3, Flags: r | Fast, Since: "6.2.0", Summary: "Get the score associated with the given members in a sorted set", ACL: rf, Handler: zmscoreCmd}),
		k1(&Command{Name: "zrank", Arity: 3, Flags: r | Fast, Since: "2.0.0", Summary: "Determine the index of a member in a sorted set", ACL: rf, Handler: zrankCmd}),
		k1(&Command{Name: "zrevrank", Arity: 3, Flags: r | Fast, Since: "2.0.0", Summary: "Determine the index of a member in a sorted set, with scores ordered from high to low", ACL: rf, Handler: zrevrankCmd}),
		k1(&Command{Name: "zscan", Arity: -3, Flags: r, Since: "2.8.0", Summary: "Incrementally iterate sorted sets elements and associated scores", ACL: rs, Handler: zscanCmd}),
		k1(&Command{Name: "zpopmin", Arity: -2, Flags: Write | Fast, Since: "5.0.0", Summary: "Remove and return members with the lowest scores in a sorted set", ACL: wf, Handler: zpopminCmd}),
		k1(&Command{Name: "zpopmax", Arity: -2, Flags: Write | Fast, Since: "5.0.0", Summary: "Remove and return members with the highest scores in a sorted set", ACL: wf, Handler: zpopmaxCmd}),
		mk(&Command{Name: "zmpop", Arity: -4, Flags: Write, Since: "7.0.0", Summary: "Remove and return members with scores in a sorted set", ACL: ws, Handler: zmpopCmd}),
		bk(&Command{Name: "bzpopmin", Arity: -3, Flags: Write | NoScript | Fast | Blocking, Since: "5.0.0", Summary: "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available", ACL: []string{"write", "sortedset", "fast", "blocking"}, Handler: bzpopminCmd}),
		bk(&Command{Name: "bzpopmax", Arity: -3, Flags: Write | NoScript | Fast | Blocking, Since: "5.0.0", Summary: "Remove and return the member with the highest score from one or more sorted sets, or block until one is available", ACL: []string{"write", "sortedset", "fast", "blocking"}, Handler: bzpopmaxCmd}),
		mk(&Command{Name: "bzmpop", Arity: -5, Flags: Write | Blocking, Since: "7.0.0", Summary: "Remove and return members with scores in a sorted set or block until one is available", ACL: []string{"write", "sortedset", "slow", "blocking"}, Handler: bzmpopCmd}),
		k1(&Command{Name: "zrandmember", Arity: -2, Flags: r, Since: "6.2.0", Summary: "Get one or multiple random elements from a sorted set", ACL: rs, Handler: zrandmemberCmd}),
	)
}

// Error texts of the sorted set commands.
const (
	errZNaN           = "ERR resulting score is not a number (NaN)"
	errZXXNX          = "ERR XX and NX options at the same time are not compatible"
	errZGTLTNX        = "ERR GT, LT, and/or NX options at the same time are not compatible"
	errZIncrPair      = "ERR INCR option supports a single increment-element pair"
	errZLimitRank     = "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
	errZWithscoresLex = "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
	errZWeight        = "ERR weight value is not a float"
	errZLimitNegative = "ERR LIMIT can't be negative"
	errZOutOfRange    = "ERR value is out of range"
)

func asZSet(o *keyspace.Object) *keyspace.ZSet { return o.Collection().(*keyspace.ZSet) }

// readZSet returns key's sorted set for reading: nil, true when the key is
// missing; nil, false after replying WRONGTYPE.
func (c *Ctx) readZSet(key string) (*keyspace.ZSet, bool) {
	return lookupAs[*keyspace.ZSet](c, key, keyspace.KindZSet, false)
}

// writeZSet is readZSet for a write (no hit or miss counted).
func (c *Ctx) writeZSet(key string) (*keyspace.ZSet, bool) {
	return lookupAs[*keyspace.ZSet](c, key, keyspace.KindZSet, true)
}

// zsetChanged signals a modified sorted set and raises event, deleting its
// key (raising del) when it is now empty.
func (c *Ctx) zsetChanged(key string, z *keyspace.ZSet, event string) {
	c.Touch(key)
	c.notify(notifyZSet, event, key)
	if z.Len() == 0 {
		c.DB.Delete(key)
		c.notify(notifyGeneric, "del", key)
	}
}

// zsetScoreArg parses a ZADD/ZINCRBY score (string2d rules).
func (c *Ctx) zsetScoreArg(i int) (float64, bool) {
	f, ok := num.ParseFloat(c.Args[i])
	if !ok {
		c.Error(ErrNotFloat)
	}
	return f, ok
}

// zStrtod parses the longest prefix of b that C's strtod accepts and
// returns its value and length; n is 0 when there is none.
func zStrtod(b []byte) (f float64, n int) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] >= '\t' && b[i] <= '\r') {
		i++
	}
	start := i
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		i++
	}
	lower := func(j int) byte {
		if j < len(b) && b[j] >= 'A' && b[j] <= 'Z' {
			return b[j] + 'a' - 'A'
		}
		if j < len(b) {
			return b[j]
		}
		return 0
	}
	word := func(j int, w string) bool {
		for k := 0; k < len(w); k++ {
			if lower(j+k) != w[k] {
				return false
			}
		}
		return true
	}
	neg := start < len(b) && b[start] == '-'
	switch {
	case word(i, "infinity"):
		return math.Inf(zSign(neg)), i + 8
	case word(i, "inf"):
		return math.Inf(zSign(neg)), i + 3
	case word(i, "nan"):
		return math.NaN(), i + 3
	}
	isDigit := func(c byte, hex bool) bool {
		return c >= '0' && c <= '9' || hex && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')
	}
	hex := i+2 < len(b) && b[i] == '0' && (b[i+1] == 'x' || b[i+1] == 'X') &&
		(isDigit(b[i+2], true) || b[i+2] == '.' && i+3 < len(b) && isDigit(b[i+3], true))
	j := i
	if hex {
		j += 2
	}
	digits := 0
	for j < len(b) && isDigit(b[j], hex) {
		j++
		digits++
	}
	if j < len(b) && b[j] == '.' {
		j++
		for j < len(b) && isDigit(b[j], hex) {
			j++
			digits++
		}
	}
	if digits == 0 {
		return 0, 0
	}
	mant := j
	exp := byte('e')
	if hex {
		exp = 'p'
	}
	if lower(j) == exp {
		k := j + 1
		if k < len(b) && (b[k] == '+' || b[k] == '-') {
			k++
		}
		if k < len(b) && b[k] >= '0' && b[k] <= '9' {
			for k < len(b) && b[k] >= '0' && b[k] <= '9' {
				k++
			}
			j = k
		}
	}
	s := string(b[start:j])
	if hex && j == mant {
		s += "p0"
	}
	f, _ = strconv.ParseFloat(s, 64) // out of range: ±Inf or 0, as strtod
	return f, j
}

func zSign(neg bool) int {
	if neg {
		return -1
	}
	return 1
}

// zParseScoreBound parses one end of a score range as zslParseRange does:
// strtod on the whole argument (after "(" for an exclusive bound), which
// must be consumed up to the end or a NUL byte, and must not be NaN.
func zParseScoreBound(b []byte) (f float64, ex, ok bool) {
	if len(b) > 0 && b[0] == '(' {
		b, ex = b[1:], true
	}
	f, n := zStrtod(b)
	if n < len(b) && b[n] != 0 || math.IsNaN(f) {
		return 0, false, false
	}
	return f, ex, true
}

// zsetScoreRange parses arguments i and j as a score range, replying
// "min or max is not a float" when they are not one.
func (c *Ctx) zsetScoreRange(i, j int) (keyspace.ScoreRange, bool) {
	var r keyspace.ScoreRange
	var ok1, ok2 bool
	r.Min, r.MinEx, ok1 = zParseScoreBound(c.Args[i])
	r.Max, r.MaxEx, ok2 = zParseScoreBound(c.Args[j])
	if !ok1 || !ok2 {
		c.Error(ErrMinMaxNotFloat)
		return r, false
	}
	return r, true
}

// zParseLexBound parses "-", "+", "[value" or "(value".
func zParseLexBound(b []byte) (keyspace.LexBound, bool) {
	if len(b) == 0 {
		return keyspace.LexBound{}, false
	}
	switch b[0] {
	case '+', '-':
		if len(b) > 1 && b[1] != 0 {
			return keyspace.LexBound{}, false
		}
		inf := 1
		if b[0] == '-' {
			inf = -1
		}
		return keyspace.LexBound{Inf: inf, Ex: true}, true
	case '(':
		return keyspace.LexBound{Value: string(b[1:]), Ex: true}, true
	case '[':
		return keyspace.LexBound{Value: string(b[1:])}, true
	}
	return keyspace.LexBound{}, false
}

// zsetLexRange parses arguments i and j as a lexicographic range.
func (c *Ctx) zsetLexRange(i, j int) (keyspace.LexRange, bool) {
	min, ok1 := zParseLexBound(c.Args[i])
	max, ok2 := zParseLexBound(c.Args[j])
	if !ok1 || !ok2 {
		c.Error(ErrMinMaxNotString)
		return keyspace.LexRange{}, false
	}
	return keyspace.LexRange{Min: min, Max: max}, true
}

// zRankRange sanitizes ZRANGE-style start and end indexes for a set of n
// elements; ok is false when the range is empty.
func zRankRange(start, end int64, n int) (int, int, bool) {
	ln := int64(n)
	if start < 0 {
		start += ln
	}
	if end < 0 {
		end += ln
	}
	if start < 0 {
		start = 0
	}
	if start > end || start >= ln {
		return 0, 0, false
	}
	if end >= ln {
		end = ln - 1
	}
	return int(start), int(end), true
}

// ZADD and ZINCRBY (zaddGenericCommand).

func zaddCmd(c *Ctx)    { zaddGeneric(c, 0) }
func zincrbyCmd(c *Ctx) { zaddGeneric(c, keyspace.ZAddIncr) }

func zaddGeneric(c *Ctx, flags keyspace.ZAddFlags) {
	ch := false
	idx := 2
opts:
	for ; idx < len(c.Args); idx++ {
		switch {
		case c.Is(idx, "nx"):
			flags |= keyspace.ZAddNX
		case c.Is(idx, "xx"):
			flags |= keyspace.ZAddXX
		case c.Is(idx, "ch"):
			ch = true
		case c.Is(idx, "incr"):
			flags |= keyspace.ZAddIncr
		case c.Is(idx, "gt"):
			flags |= keyspace.ZAddGT
		case c.Is(idx, "lt"):
			flags |= keyspace.ZAddLT
		default:
			break opts
		}
	}
	elements := len(c.Args) - idx
	if elements%2 != 0 || elements == 0 {
		c.Error(ErrSyntax)
		return
	}
	elements /= 2
	nx, xx := flags&keyspace.ZAddNX != 0, flags&keyspace.ZAddXX != 0
	gt, lt := flags&keyspace.ZAddGT != 0, flags&keyspace.ZAddLT != 0
	incr := flags&keyspace.ZAddIncr != 0
	switch {
	case nx && xx:
		c.Error(errZXXNX)
		return
	case (gt && nx) || (lt && nx) || (gt && lt):
		c.Error(errZGTLTNX)
		return
	case incr && elements > 1:
		c.Error(errZIncrPair)
		return
	}
	scores := make([]float64, elements)
	for j := range scores {
		var ok bool
		if scores[j], ok = c.zsetScoreArg(idx + 2*j); !ok {
			return
		}
	}
	key := c.Arg(1)
	z, ok := c.writeZSet(key)
	if !ok {
		return
	}
	var added, updated, processed int
	var score float64
	created := z == nil && !xx
	if created {
		z = keyspace.NewZSet()
	}
	if z != nil {
		lim := c.limits()
		for j, s := range scores {
			res, newScore := z.Add(c.Arg(idx+2*j+1), s, flags, lim)
			switch res {
			case keyspace.ZAddNaN:
				c.Error(errZNaN)
				return
			case keyspace.ZAddAdded:
				added++
			case keyspace.ZAddUpdated:
				updated++
			}
			if res != keyspace.ZAddNop {
				processed++
			}
			score = newScore
		}
	}
	if created && z.Len() > 0 {
		c.DB.SetCollection(key, z, false)
	}
	if added+updated > 0 {
		c.Touch(key)
		if incr {
			c.notify(notifyZSet, "zincr", key)
		} else {
			c.notify(notifyZSet, "zadd", key)
		}
		c.Propagate()
	}
	switch {
	case incr && processed > 0:
		c.W.Double(score)
	case incr:
		c.W.Null()
	case ch:
		c.W.Int(int64(added + updated))
	default:
		c.W.Int(int64(added))
	}
}

func zremCmd(c *Ctx) {
	key := c.Arg(1)
	z, ok := c.writeZSet(key)
	if !ok {
		return
	}
	if z == nil {
		c.W.Int(0)
		return
	}
	deleted := 0
	for j := 2; j < len(c.Args); j++ {
		if z.Remove(c.Arg(j)) {
			deleted++
		}
		if z.Len() == 0 {
			break
		}
	}
	if deleted > 0 {
		c.zsetChanged(key, z, "zrem")
		c.Propagate()
	}
	c.W.Int(int64(deleted))
}

// ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX.

func zremrangebyrankCmd(c *Ctx) {
	start, ok := c.Int(2)
	if !ok {
		return
	}
	end, ok := c.Int(3)
	if !ok {
		return
	}
	zremrangeGeneric(c, func(z *keyspace.ZSet) (int, [][]byte) {
		s, e, ok := zRankRange(start, end, z.Len())
		if !ok {
			return 0, nil
		}
		return z.DeleteRank(s, e), nil
	})
}

func zremrangebyscoreCmd(c *Ctx) {
	r, ok := c.zsetScoreRange(2, 3)
	if ok {
		zremrangeGeneric(c, func(z *keyspace.ZSet) (int, [][]byte) { return z.DeleteScore(r), nil })
	}
}

// zremrangebylexCmd propagates as received, except on a skiplist whose
// scores differ: there the range's result depends on the skiplist's
// random levels, so the members removed go out as ZREM.
func zremrangebylexCmd(c *Ctx) {
	r, ok := c.zsetLexRange(2, 3)
	if !ok {
		return
	}
	zremrangeGeneric(c, func(z *keyspace.ZSet) (int, [][]byte) {
		if z.LexOrdered() {
			return z.DeleteLex(r, nil), nil
		}
		zrem := [][]byte{Bytes("ZREM"), c.Args[1]}
		n := z.DeleteLex(r, func(m string) { zrem = append(zrem, []byte(m)) })
		return n, zrem
	})
}

// zremrangeGeneric runs a range deletion on key's set. del returns the
// number of members removed and, when it is not the command as received,
// the effect to propagate.
func zremrangeGeneric(c *Ctx, del func(z *keyspace.ZSet) (int, [][]byte)) {
	key := c.Arg(1)
	z, ok := c.writeZSet(key)
	if !ok {
		return
	}
	if z == nil {
		c.W.Int(0)
		return
	}
	n, effect := del(z)
	if n > 0 {
		c.zsetChanged(key, z, c.Cmd.Name) // zremrangebyrank, zremrangebyscore, zremrangebylex
		if effect != nil {
			c.PropagateArgs(effect...)
		} else {
			c.Propagate()
		}
	}
	c.W.Int(int64(n))
}

// Reading commands.

func zcardCmd(c *Ctx) {
	z, ok := c.readZSet(c.Arg(1))
	if !ok {
		return
	}
	if z == nil {
		c.W.Int(0)
		return
	}
	c.W.Int(int64(z.Len()))
}

func zscoreCmd(c *Ctx) {
	z, ok := c.readZSet(c.Arg(1))
	if !ok {
		return
	}
	if z == nil {
		c.W.Null()
		return
	}
	if s, ok := z.Score(c.Arg(2)); ok {
		c.W.Double(s)
	} else {
		c.W.Null()
	}
}

func zmscoreCmd(c *Ctx) {
	z, ok := c.readZSet(c.Arg(1))
	if !ok {
		return
	}
	c.W.Array(len(c.Args) - 2)
	for j := 2; j < len(c.Args); j++ {
		if z == nil {
			c.W.Null()
			continue
		}
		if s, ok := z.Score(c.Arg(j)); ok {
			c.W.Double(s)
		} else {
			c.W.Null()
		}
	}
}

func zrankCmd(c *Ctx)    { zrankGeneric(c, false) }
func zrevrankCmd(c *Ctx) { zrankGeneric(c, true) }

func zrankGeneric(c *Ctx, rev bool) {
	z, ok := c.readZSet(c.Arg(1))
	if !ok {
		return
	}
	if z == nil {
		c.W.Null()
		return
	}
	r, ok := z.Rank(c.Arg(2))
	if !ok {
		c.W.Null()
		return
	}
	if rev {
		r = z.Len() - 1 - r
	}
	c.W.Int(int64(r))
}

func zcountCmd(c *Ctx) {
	r, ok := c.zsetScoreRange(2, 3)
	if !ok {
		return
	}
	z, ok := c.readZSet(c.Arg(1))
	if !ok {
		return
	}
	if z == nil {
		c.W.Int(0)
		return
	}
	c.W.Int(int64(z.CountScore(r)))
}

func zlexcountCmd(c *Ctx) {
	r, ok := c.zsetLexRange(2, 3)
	if !ok {
		return
	}
	z, ok := c.readZSet(c.Arg(1))
	if !ok {
		return
	}
	if z == nil {
		c.W.Int(0)
		return
	}
	c.W.Int(int64(z.CountLex(r)))
}

// The ZRANGE family (zrangeGenericCommand).

type zrangeType int

const (
	zrangeAuto zrangeType = iota
	zrangeRank
	zrangeScore
	zrangeLex
)

type zrangeDir int

const (
	zdirAuto zrangeDir = iota
	zdirForward
	zdirReverse
)

// zrangeSink receives a range's elements: a client reply or a new set.
type zrangeSink struct {
	c          *Ctx
	withScores bool
	store      *keyspace.ZSet // ZRANGESTORE's result
	lim        keyspace.Limits
	deferred   resp.Deferred
	known      bool
	n          int
}

// begin starts the reply; length < 0 when it is not known yet.
func (s *zrangeSink) begin(length int) {
	if s.store != nil {
		return
	}
	if length > 0 {
		s.known = true
		if s.withScores && s.c.W.Proto == 2 {
			length *= 2
		}
		s.c.W.Array(length)
		return
	}
	s.deferred = s.c.W.Defer()
}

func (s *zrangeSink) emit(member string, score float64) {
	s.n++
	if s.store != nil {
		s.store.Add(member, score, 0, s.lim)
		return
	}
	w := s.c.W
	if s.withScores && w.Proto == 3 {
		w.Array(2)
	}
	w.BulkString(member)
	if s.withScores {
		w.Double(score)
	}
}

func (s *zrangeSink) finish() {
	if s.store != nil || s.known {
		return
	}
	n := s.n
	if s.withScores && s.c.W.Proto == 2 {
		n *= 2
	}
	s.c.W.SetArray(s.deferred, n)
}

func zrangeCmd(c *Ctx)        { zrangeGeneric(c, 1, false, zrangeAuto, zdirAuto) }
func zrangestoreCmd(c *Ctx)   { zrangeGeneric(c, 2, true, zrangeAuto, zdirAuto) }
func zrevrangeCmd(c *Ctx)     { zrangeGeneric(c, 1, false, zrangeRank, zdirReverse) }
func zrangebyscoreCmd(c *Ctx) { zrangeGeneric(c, 1, false, zrangeScore, zdirForward) }
func zrevrangebyscoreCmd(c *Ctx) {
	zrangeGeneric(c, 1, false, zrangeScore, zdirReverse)
}
func zrangebylexCmd(c *Ctx)    { zrangeGeneric(c, 1, false, zrangeLex, zdirForward) }
func zrevrangebylexCmd(c *Ctx) { zrangeGeneric(c, 1, false, zrangeLex, zdirReverse) }

func zrangeGeneric(c *Ctx, keyIdx int, store bool, rt zrangeType, dir zrangeDir) {
	minIdx, maxIdx := keyIdx+1, keyIdx+2
	withScores := false
	var offset, limit int64 = 0, -1
	for j := keyIdx + 3; j < len(c.Args); j++ {
		left := len(c.Args) - j - 1
		switch {
		case !store && c.Is(j, "withscores"):
			withScores = true
		case c.Is(j, "limit") && left >= 2:
			var ok bool
			if offset, ok = c.Int(j + 1); !ok {
				return
			}
			if limit, ok = c.Int(j + 2); !ok {
				return
			}
			j += 2
		case dir == zdirAuto && c.Is(j, "rev"):
			dir = zdirReverse
		case rt == zrangeAuto && c.Is(j, "bylex"):
			rt = zrangeLex
		case rt == zrangeAuto && c.Is(j, "byscore"):
			rt = zrangeScore
		default:
			c.Error(ErrSyntax)
			return
		}
	}
	if dir == zdirAuto {
		dir = zdirForward
	}
	if rt == zrangeAuto {
		rt = zrangeRank
	}
	if limit != -1 && rt == zrangeRank {
		c.Error(errZLimitRank)
		return
	}
	if withScores && rt == zrangeLex {
		c.Error(errZWithscoresLex)
		return
	}
	rev := dir == zdirReverse
	if rev && rt != zrangeRank {
		minIdx, maxIdx = maxIdx, minIdx
	}
	var start, end int64
	var sr keyspace.ScoreRange
	var lr keyspace.LexRange
	var ok bool
	switch rt {
	case zrangeRank:
		if start, ok = c.Int(minIdx); !ok {
			return
		}
		if end, ok = c.Int(maxIdx); !ok {
			return
		}
	case zrangeScore:
		if sr, ok = c.zsetScoreRange(minIdx, maxIdx); !ok {
			return
		}
	case zrangeLex:
		if lr, ok = c.zsetLexRange(minIdx, maxIdx); !ok {
			return
		}
	}
	sink := &zrangeSink{c: c, withScores: withScores}
	if store {
		sink.store, sink.lim = keyspace.NewZSet(), c.limits()
	}
	z, ok := c.readZSet(c.Arg(keyIdx))
	if !ok {
		return
	}
	rewrite := false
	switch {
	case z == nil && !store:
		c.W.Array(0)
		return
	case z == nil:
	case rt == zrangeRank:
		zrangeByRank(sink, z, start, end, rev)
	case rt == zrangeScore:
		zrangeByBounds(sink, z, offset, limit, rev, z.FirstInScore(sr), z.LastInScore(sr),
			func(_ string, s float64) bool { return sr.LteMax(s) },
			func(_ string, s float64) bool { return sr.GteMin(s) })
	default:
		zrangeByBounds(sink, z, offset, limit, rev, z.FirstInLex(lr), z.LastInLex(lr),
			func(m string, _ float64) bool { return lr.LteMax(m) },
			func(m string, _ float64) bool { return lr.GteMin(m) })
		rewrite = !z.LexOrdered()
	}
	if store {
		zsetStoreResult(c, c.Args[1], sink.store, rewrite)
	}
}

func zrangeByRank(sink *zrangeSink, z *keyspace.ZSet, start, end int64, rev bool) {
	s, e, ok := zRankRange(start, end, z.Len())
	if !ok {
		sink.begin(0)
		sink.finish()
		return
	}
	n := e - s + 1
	if sink.store != nil && n > sink.lim.ZSetMaxListpackEntries {
		// Redis creates the destination as a skiplist when it knows more
		// members are coming than a listpack holds (-0 then stays -0).
		sink.store = keyspace.NewZSetSkiplist()
	}
	sink.begin(n)
	from := s
	if rev {
		from = z.Len() - 1 - s
	}
	z.Walk(from, rev, func(m string, score float64) bool {
		sink.emit(m, score)
		n--
		return n > 0
	})
	sink.finish()
}

// zrangeByBounds emits a score or lex range: from the first element in
// range (the last when rev), offset elements on, up to limit elements
// (all when negative) while they stay within the far bound.
func zrangeByBounds(sink *zrangeSink, z *keyspace.ZSet, offset, limit int64, rev bool, first, last int,
	lteMax, gteMin func(m string, s float64) bool) {
	sink.begin(-1)
	defer sink.finish()
	if offset < 0 || offset >= int64(z.Len()) || limit == 0 {
		return
	}
	from, in := first, lteMax
	if rev {
		from, in = last, gteMin
	}
	if from < 0 {
		return
	}
	if rev {
		from -= int(offset)
	} else {
		from += int(offset)
	}
	z.Walk(from, rev, func(m string, s float64) bool {
		if !in(m, s) {
			return false
		}
		sink.emit(m, s)
		limit--
		return limit != 0
	})
}

// zsetStoreResult stores a *STORE result at dst and replies its size; an
// empty result deletes dst (propagated as DEL when it existed). With
// rewrite, a result that a replica could not compute the same way goes out
// as DEL dst and ZADD dst with its elements.
func zsetStoreResult(c *Ctx, dst []byte, z *keyspace.ZSet, rewrite bool) {
	key := view(dst)
	if z.Len() > 0 {
		c.DB.SetCollection(key, z, false)
		c.Touch(key)
		c.notify(notifyZSet, c.Cmd.Name, key) // zrangestore, zunionstore, zinterstore, zdiffstore
		if rewrite {
			args := [][]byte{Bytes("ZADD"), dst}
			z.Range(func(m string, s float64) bool {
				args = append(args, resp.AppendDouble(nil, s), []byte(m))
				return true
			})
			c.PropagateArgs(Bytes("DEL"), dst)
			c.PropagateArgs(args...)
		} else {
			c.Propagate()
		}
		c.W.Int(int64(z.Len()))
		return
	}
	c.W.Int(0)
	if c.DB.Delete(key) {
		c.Touch(key)
		c.notify(notifyGeneric, "del", key)
		c.PropagateArgs(Bytes("DEL"), dst)
	}
}

// ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD
// (zunionInterDiffGenericCommand). Inputs may be sets: their members
// score 1.

type zsetOp int

const (
	zopUnion zsetOp = iota
	zopInter
	zopDiff
)

const (
	zaggSum = iota
	zaggMin
	zaggMax
)

// zsrc is one input of a set operation.
type zsrc struct {
	coll   keyspace.Collection // nil when the key is missing
	weight float64
}

func (s *zsrc) length() int {
	if s.coll == nil {
		return 0
	}
	return s.coll.Len()
}

// each calls fn for every element in Redis's order (zuiNext): sorted sets
// from the highest element down, sets in their own order.
func (s *zsrc) each(fn func(member string, score float64)) {
	switch v := s.coll.(type) {
	case *keyspace.ZSet:
		v.Walk(v.Len()-1, true, func(m string, sc float64) bool { fn(m, sc); return true })
	case *keyspace.Set:
		v.Range(func(m []byte) bool { fn(string(m), 1); return true })
	}
}

func (s *zsrc) find(member string) (float64, bool) {
	switch v := s.coll.(type) {
	case *keyspace.ZSet:
		return v.Score(member)
	case *keyspace.Set:
		return 1, v.Has([]byte(member))
	}
	return 0, false
}

func zaggregate(target *float64, val float64, agg int) {
	switch agg {
	case zaggSum:
		*target += val
		if math.IsNaN(*target) {
			*target = 0
		}
	case zaggMin:
		if val < *target {
			*target = val
		}
	case zaggMax:
		if val > *target {
			*target = val
		}
	}
}

// zdiffSelf reports whether the first input is repeated: the difference
// is then empty.
func zdiffSelf(src []zsrc) bool {
	for i := 1; i < len(src); i++ {
		if src[i].coll == src[0].coll {
			return true
		}
	}
	return false
}

type zentry struct {
	member string
	score  float64
}

func zunionstoreCmd(c *Ctx) { zsetOpGeneric(c, 2, zopUnion, false) }
func zinterstoreCmd(c *Ctx) { zsetOpGeneric(c, 2, zopInter, false) }
func zdiffstoreCmd(c *Ctx)  { zsetOpGeneric(c, 2, zopDiff, false) }
func zunionCmd(c *Ctx)      { zsetOpGeneric(c, 1, zopUnion, false) }
func zinterCmd(c *Ctx)      { zsetOpGeneric(c, 1, zopInter, false) }
func zdiffCmd(c *Ctx)       { zsetOpGeneric(c, 1, zopDiff, false) }
func zintercardCmd(c *Ctx)  { zsetOpGeneric(c, 1, zopInter, true) }

func zsetOpGeneric(c *Ctx, numkeysIdx int, op zsetOp, cardOnly bool) {
	store := numkeysIdx == 2
	setnum, ok := c.Int(numkeysIdx)
	if !ok {
		return
	}
	if setnum < 1 {
		c.Error("ERR at least 1 input key is needed for '" + c.Cmd.Name + "' command")
		return
	}
	if setnum > int64(len(c.Args)-(numkeysIdx+1)) {
		c.Error(ErrSyntax)
		return
	}
	src := make([]zsrc, setnum)
	j := numkeysIdx + 1
	for i := range src {
		o := c.Lookup(c.Arg(j))
		j++
		src[i].weight = 1
		if o == nil {
			continue
		}
		if o.Kind() != keyspace.KindZSet && o.Kind() != keyspace.KindSet {
			c.Error(ErrWrongType)
			return
		}
		src[i].coll = o.Collection()
	}
	agg := zaggSum
	withScores := false
	var limit int64
	for j < len(c.Args) {
		remaining := len(c.Args) - j
		switch {
		case op != zopDiff && !cardOnly && remaining >= len(src)+1 && c.Is(j, "weights"):
			j++
			for i := range src {
				w, ok := num.ParseFloat(c.Args[j])
				if !ok {
					c.Error(errZWeight)
					return
				}
				src[i].weight = w
				j++
			}
		case op != zopDiff && !cardOnly && remaining >= 2 && c.Is(j, "aggregate"):
			j++
			switch {
			case c.Is(j, "sum"):
				agg = zaggSum
			case c.Is(j, "min"):
				agg = zaggMin
			case c.Is(j, "max"):
				agg = zaggMax
			default:
				c.Error(ErrSyntax)
				return
			}
			j++
		case !store && !cardOnly && c.Is(j, "withscores"):
			j++
			withScores = true
		case cardOnly && remaining >= 2 && c.Is(j, "limit"):
			j++
			if limit, ok = c.rangeArg(j, 0, math.MaxInt64, errZLimitNegative); !ok {
				return
			}
			j++
		default:
			c.Error(ErrSyntax)
			return
		}
	}
	if op != zopDiff {
		sort.SliceStable(src, func(a, b int) bool { return src[a].length() < src[b].length() })
	}
	var out []zentry
	cardinality := int64(0)
	switch op {
	case zopInter:
		if src[0].length() == 0 {
			break
		}
		done := false
		src[0].each(func(m string, s float64) {
			if done {
				return
			}
			score := src[0].weight * s
			if math.IsNaN(score) {
				score = 0
			}
			for i := 1; i < len(src); i++ {
				var v float64
				if src[i].coll == src[0].coll {
					v = s * src[i].weight
				} else if found, ok := src[i].find(m); ok {
					v = found * src[i].weight
				} else {
					return
				}
				zaggregate(&score, v, agg)
			}
			if cardOnly {
				cardinality++
				if limit > 0 && cardinality >= limit {
					done = true
				}
				return
			}
			out = append(out, zentry{m, score})
		})
	case zopUnion:
		acc := make(map[string]int)
		for i := range src {
			if src[i].length() == 0 {
				continue
			}
			src[i].each(func(m string, s float64) {
				score := src[i].weight * s
				if math.IsNaN(score) {
					score = 0
				}
				if k, ok := acc[m]; ok {
					zaggregate(&out[k].score, score, agg)
					return
				}
				acc[m] = len(out)
				out = append(out, zentry{m, score})
			})
		}
	case zopDiff:
		if src[0].length() == 0 || zdiffSelf(src) {
			break
		}
		src[0].each(func(m string, s float64) {
			for i := 1; i < len(src); i++ {
				if _, ok := src[i].find(m); ok {
					return
				}
			}
			out = append(out, zentry{m, s})
		})
	}
	if cardOnly {
		c.W.Int(cardinality)
		return
	}
	sort.Slice(out, func(a, b int) bool {
		x, y := out[a], out[b]
		return x.score < y.score || (x.score == y.score && x.member < y.member)
	})
	if store {
		// Built as a skiplist, then compacted if small, as Redis does.
		z := keyspace.NewZSetSkiplist()
		lim := c.limits()
		for _, e := range out {
			z.Add(e.member, e.score, 0, lim)
		}
		z.Compact(lim)
		zsetStoreResult(c, c.Args[1], z, false)
		return
	}
	if withScores && c.W.Proto == 2 {
		c.W.Array(2 * len(out))
	} else {
		c.W.Array(len(out))
	}
	for _, e := range out {
		if withScores && c.W.Proto == 3 {
			c.W.Array(2)
		}
		c.W.BulkString(e.member)
		if withScores {
			c.W.Double(e.score)
		}
	}
}

// ZSCAN.

func zscanCmd(c *Ctx) {
	cursor, ok := c.scanCursor(2)
	if !ok {
		return
	}
	z, ok := c.readZSet(c.Arg(1))
	if !ok {
		return
	}
	if z == nil {
		emptyScan(c)
		return
	}
	opts, ok := c.parseElemScan(3)
	if !ok {
		return
	}
	var out [][]byte
	listpack := z.IsListpack()
	emit := func(m string, s float64) {
		if opts.usePattern && !glob.Match(opts.match, m) {
			return
		}
		var sb []byte
		if listpack {
			// as the listpack holds it (-0 only as the text "-0", and a
			// loaded payload's own texts)
			sb = z.ListpackScoreText(nil, m, s)
		} else {
			sb = resp.AppendDouble(nil, s)
		}
		out = append(out, []byte(m), sb)
	}
	if listpack {
		cursor = z.Scan(0, emit)
	} else {
		cursor = scanLoop(cursor, opts.count*2, func(cur uint64, n *int) uint64 {
			return z.Scan(cur, func(m string, s float64) {
				*n += 2
				emit(m, s)
			})
		})
	}
	writeScan(c, cursor, out)
}

// Pops: ZPOPMIN, ZPOPMAX, ZMPOP and the blocking BZPOPMIN, BZPOPMAX, BZMPOP
// (genericZpopCommand).

// zpopShape says how a pop replies.
type zpopShape struct {
	emitKey bool // [key, ...]: BZPOP*, ZMPOP, BZMPOP
	nested  bool // [member, score] pairs as arrays
}

// zpopFrom pops up to count elements (-1: a single pop) from the set z at
// key and writes the reply. It returns the number popped.
func zpopFrom(c *Ctx, key []byte, z *keyspace.ZSet, max bool, count int64, sh zpopShape) int64 {
	if count == 0 {
		c.W.Array(0)
		return 0
	}
	if count == -1 {
		count = 1
	}
	n := int64(z.Len())
	if count < n {
		n = count
	}
	switch {
	case !sh.nested && !sh.emitKey:
		c.W.Array(int(n) * 2)
	case sh.nested && !sh.emitKey:
		c.W.Array(int(n))
	case !sh.nested && sh.emitKey:
		c.W.Array(int(n)*2 + 1)
		c.W.Bulk(key)
	default:
		c.W.Array(2)
		c.W.Bulk(key)
		c.W.Array(int(n))
	}
	for i := int64(0); i < n; i++ {
		m, s := z.Pop(max)
		if sh.nested {
			c.W.Array(2)
		}
		c.W.BulkString(m)
		c.W.Double(s)
	}
	event := "zpopmin"
	if max {
		event = "zpopmax"
	}
	c.zsetChanged(view(key), z, event)
	return n
}

// zpopFirst pops from the first of keys holding a sorted set. served is
// false when none does (nothing replied); ok is false after WRONGTYPE.
func zpopFirst(c *Ctx, keys [][]byte, max bool, count int64, sh zpopShape) (key []byte, n int64, served, ok bool) {
	for _, k := range keys {
		z, ok := c.writeZSet(view(k))
		if !ok {
			return nil, 0, false, false
		}
		if z == nil {
			continue
		}
		return k, zpopFrom(c, k, z, max, count, sh), true, true
	}
	return nil, 0, false, true
}

func zpopWord(max bool) []byte {
	if max {
		return Bytes("ZPOPMAX")
	}
	return Bytes("ZPOPMIN")
}

func zpopminCmd(c *Ctx) { zpopMinMax(c, false) }
func zpopmaxCmd(c *Ctx) { zpopMinMax(c, true) }

func zpopMinMax(c *Ctx, max bool) {
	if len(c.Args) > 3 {
		c.Error(ErrSyntax)
		return
	}
	count := int64(-1)
	if len(c.Args) == 3 {
		var ok bool
		if count, ok = c.rangeArg(2, 0, math.MaxInt64, errMustBePositive); !ok {
			return
		}
	}
	sh := zpopShape{nested: c.W.Proto == 3 && count != -1}
	_, n, served, ok := zpopFirst(c, c.Args[1:2], max, count, sh)
	if !ok {
		return
	}
	if !served {
		c.W.Array(0)
		return
	}
	if n > 0 {
		c.Propagate()
	}
}

// zmpopArgs parses numkeys, keys, MIN|MAX and COUNT of ZMPOP (at 1) and
// BZMPOP (at 2).
func (c *Ctx) zmpopArgs(numkeysIdx int) (keys [][]byte, max bool, count int64, ok bool) {
	return c.mpopArgs(numkeysIdx, func(i int) (bool, bool) {
		switch {
		case c.Is(i, "min"):
			return false, true
		case c.Is(i, "max"):
			return true, true
		}
		c.Error(ErrSyntax)
		return false, false
	})
}

func zmpopCmd(c *Ctx) {
	keys, max, count, ok := c.zmpopArgs(1)
	if !ok {
		return
	}
	sh := zpopShape{emitKey: true, nested: true}
	key, n, served, ok := zpopFirst(c, keys, max, count, sh)
	if !ok {
		return
	}
	if !served {
		c.W.NullArray()
		return
	}
	c.PropagateArgs(zpopWord(max), key, FormatInt(n))
}

func bzpopminCmd(c *Ctx) { bzpopGeneric(c, false) }
func bzpopmaxCmd(c *Ctx) { bzpopGeneric(c, true) }

func bzpopGeneric(c *Ctx, max bool) {
	timeout, ok := c.parseTimeout(len(c.Args) - 1)
	if !ok {
		return
	}
	zblockOrPop(c, c.Args[1:len(c.Args)-1], max, -1, zpopShape{emitKey: true}, timeout)
}

func bzmpopCmd(c *Ctx) {
	keys, max, count, ok := c.zmpopArgs(2)
	if !ok {
		return
	}
	timeout, ok := c.parseTimeout(1)
	if !ok {
		return
	}
	zblockOrPop(c, keys, max, count, zpopShape{emitKey: true, nested: true}, timeout)
}

// zpropagatePop records a blocking pop's effect: ZPOPMIN/ZPOPMAX key, with
// the number popped when the command took a count.
func zpropagatePop(c *Ctx, key []byte, max bool, count, n int64) {
	if count == -1 {
		c.PropagateArgs(zpopWord(max), key)
		return
	}
	c.PropagateArgs(zpopWord(max), key, FormatInt(n))
}

// zblockOrPop pops from the first of keys holding a sorted set, or blocks
// the client on all of them.
func zblockOrPop(c *Ctx, keys [][]byte, max bool, count int64, sh zpopShape, timeout time.Duration) {
	key, n, served, ok := zpopFirst(c, keys, max, count, sh)
	if !ok {
		return
	}
	if served {
		zpropagatePop(c, key, max, count, n)
		return
	}
	c.blockPop(keys, keyspace.KindZSet, timeout, func(c *Ctx, key []byte, o *keyspace.Object) {
		n := zpopFrom(c, key, asZSet(o), max, count, sh)
		zpropagatePop(c, key, max, count, n)
	})
}

// ZRANDMEMBER.

// zrandSubStrategyMul is Redis's ZRANDMEMBER_SUB_STRATEGY_MUL: when the set
// holds fewer than this many times the count, distinct members are picked
// by elimination.
const zrandSubStrategyMul = 3

func zrandmemberCmd(c *Ctx) {
	if len(c.Args) >= 3 {
		l, ok := num.ParseInt(c.Args[2])
		if !ok {
			c.Error(ErrNotInt)
			return
		}
		if l == math.MinInt64 {
			c.Error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
			return
		}
		withScores := false
		if len(c.Args) > 4 || (len(c.Args) == 4 && !c.Is(3, "withscores")) {
			c.Error(ErrSyntax)
			return
		}
		if len(c.Args) == 4 {
			withScores = true
			if l < -math.MaxInt64/2 || l > math.MaxInt64/2 {
				c.Error(errZOutOfRange)
				return
			}
		}
		zrandmemberWithCount(c, l, withScores)
		return
	}
	z, ok := c.readZSet(c.Arg(1))
	if !ok {
		return
	}
	if z == nil {
		c.W.Null()
		return
	}
	m, _ := z.Random()
	c.W.BulkString(m)
}

func zrandmemberWithCount(c *Ctx, l int64, withScores bool) {
	z, ok := c.readZSet(c.Arg(1))
	if !ok {
		return
	}
	if z == nil || l == 0 {
		c.W.Array(0)
		return
	}
	w := c.W
	emit := func(m string, s float64) {
		if withScores && w.Proto == 3 {
			w.Array(2)
		}
		w.BulkString(m)
		if withScores {
			w.Double(s)
		}
	}
	header := func(n int64) {
		if withScores && w.Proto == 2 {
			n *= 2
		}
		w.Array(int(n))
	}
	size := int64(z.Len())
	if l < 0 || l == 1 {
		// Repeats allowed: independent picks.
		count := l
		if count < 0 {
			count = -count
		}
		header(count)
		for ; count > 0 && !c.repliesCut(count); count-- {
			emit(z.Random())
		}
		return
	}
	count := l
	if count >= size {
		// The whole set, from the highest element down (zuiNext's order).
		header(size)
		z.Walk(int(size)-1, true, func(m string, s float64) bool { emit(m, s); return true })
		return
	}
	header(count)
	if count*zrandSubStrategyMul > size {
		// Few left out: drop random ranks until count remain, reply in a
		// random order as Redis's dict iteration does.
		ranks := rand.Perm(int(size))[:count]
		for _, r := range ranks {
			emit(z.At(r))
		}
		return
	}
	if z.IsListpack() {
		// Distinct random ranks, replied in the set's order as a listpack
		// sample is.
		picked := make(map[int]bool, count)
		for int64(len(picked)) < count {
			picked[rand.IntN(int(size))] = true
		}
		ranks := make([]int, 0, count)
		for r := range picked {
			ranks = append(ranks, r)
		}
		sort.Ints(ranks)
		for _, r := range ranks {
			emit(z.At(r))
		}
		return
	}
	seen := make(map[string]bool, count)
	for int64(len(seen)) < count {
		m, s := z.Random()
		if seen[m] {
			continue
		}
		seen[m] = true
		emit(m, s)
	}
}
