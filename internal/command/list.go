package command

import (
	"math"
	"math/big"
	"time"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/num"
	"github.com/ferrydb/ferry/internal/resp"
)

// List commands (t_list.c) and their blocking forms (blocked.c). Pushes,
// pops with a count, LMOVE and RPOPLPUSH propagate as received; LMPOP
// propagates as the LPOP/RPOP key count that happened; a blocking pop
// propagates as the non-blocking command it became (BLPOP -> LPOP key,
// BLMPOP -> LPOP key count, BLMOVE -> LMOVE, BRPOPLPUSH -> RPOPLPUSH).

func registerList(t *Table) {
	w, r := Write|DenyOOM, ReadOnly
	k1 := func(c *Command) *Command { c.FirstKey, c.LastKey, c.Step = 1, 1, 1; c.Group = "list"; return c }
	k2 := func(c *Command) *Command { c.FirstKey, c.LastKey, c.Step = 1, 2, 1; c.Group = "list"; return c }
	bk := func(c *Command) *Command { c.FirstKey, c.LastKey, c.Step = 1, -2, 1; c.Group = "list"; return c }
	mk := func(c *Command) *Command { c.Group = "list"; return c }
	wf, ws := []string{"write", "list", "fast"}, []string{"write", "list", "slow"}
	rf, rs := []string{"read", "list", "fast"}, []string{"read", "list", "slow"}
	wb := []string{"write", "list", "slow", "blocking"}
	t.Add(
		k1(&Command{Name: "lpush", Arity: -3, Flags: w | Fast, Since: "1.0.0", Summary: "Prepend one or multiple elements to a list", ACL: wf, Handler: lpushCmd}),
		k1(&Command{Name: "rpush", Arity: -3, Flags: w | Fast, Since: "1.0.0", Summary: "Append one or multiple elements to a list", ACL: wf, Handler: rpushCmd}),
		k1(&Command{Name: "lpushx", Arity: -3, Flags: w | Fast, Since: "2.2.0", Summary: "Prepend an element to a list, only if the list exists", ACL: wf, Handler: lpushxCmd}),
		k1(&Command{Name: "rpushx", Arity: -3, Flags: w | Fast, Since: "2.2.0", Summary: "Append an element to a list, only if the list exists", ACL: wf, Handler: rpushxCmd}),
		k1(&Command{Name: "lpop", Arity: -2, Flags: Write | Fast, Since: "1.0.0", Summary: "Remove and get the first elements in a list", ACL: wf, Handler: lpopCmd}),
		k1(&Command{Name: "rpop", Arity: -2, Flags: Write | Fast, Since: "1.0.0", Summary: "Remove and get the last elements in a list", ACL: wf, Handler: rpopCmd}),
		k1(&Command{Name: "llen", Arity: 2, Flags: r | Fast, Since: "1.0.0", Summary: "Get the length of a list", ACL: rf, Handler: llenCmd}),
		k1(&Command{Name: "lrange", Arity: 4, Flags: r, Since: "1.0.0", Summary: "Get a range of elements from a list", ACL: rs, Handler: lrangeCmd}),
		k1(&Command{Name: "lindex", Arity: 3, Flags: r, Since: "1.0.0", Summary: "Get an element from a list by its index", ACL: rs, Handler: lindexCmd}),
		k1(&Command{Name: "lset", Arity: 4, Flags: w, Since: "1.0.0", Summary: "Set the value of an element in a list by its index", ACL: ws, Handler: lsetCmd}),
		k1(&Command{Name: "linsert", Arity: 5, Flags: w, Since: "2.2.0", Summary: "Insert an element before or after another element in a list", ACL: ws, Handler: linsertCmd}),
		k1(&Command{Name: "lrem", Arity: 4, Flags: Write, Since: "1.0.0", Summary: "Remove elements from a list", ACL: ws, Handler: lremCmd}),
		k1(&Command{Name: "ltrim", Arity: 4, Flags: Write, Since: "1.0.0", Summary: "Trim a list to the specified range", ACL: ws, Handler: ltrimCmd}),
		k1(&Command{Name: "lpos", Arity: -3, Flags: r, Since: "6.0.6", Summary: "Return the index of matching elements on a list", ACL: rs, Handler: lposCmd}),
		k2(&Command{Name: "lmove", Arity: 5, Flags: w, Since: "6.2.0", Summary: "Pop an element from a list, push it to another list and return it", ACL: ws, Handler: lmoveCmd}),
		k2(&Command{Name: "rpoplpush", Arity: 3, Flags: w, Since: "1.2.0", Summary: "Remove the last element in a list, prepend it to another list and return it", ACL: ws, Handler: rpoplpushCmd}),
		mk(&Command{Name: "lmpop", Arity: -4, Flags: Write, Since: "7.0.0", Summary: "Pop elements from a list", ACL: ws, Handler: lmpopCmd}),
		bk(&Command{Name: "blpop", Arity: -3, Flags: Write | NoScript | Blocking, Since: "2.0.0", Summary: "Remove and get the first element in a list, or block until one is available", ACL: wb, Handler: blpopCmd}),
		bk(&Command{Name: "brpop", Arity: -3, Flags: Write | NoScript | Blocking, Since: "2.0.0", Summary: "Remove and get the last element in a list, or block until one is available", ACL: wb, Handler: brpopCmd}),
		k2(&Command{Name: "blmove", Arity: 6, Flags: w | NoScript | Blocking, Since: "6.2.0", Summary: "Pop an element from a list, push it to another list and return it; or block until one is available", ACL: wb, Handler: blmoveCmd}),
		k2(&Command{Name: "brpoplpush", Arity: 4, Flags: w | NoScript | Blocking, Since: "2.2.0", Summary: "Pop an element from a list, push it to another list and return it; or block until one is available", ACL: wb, Handler: brpoplpushCmd}),
		mk(&Command{Name: "blmpop", Arity: -5, Flags: Write | Blocking, Since: "7.0.0", Summary: "Pop elements from a list, or block until one is available", ACL: wb, Handler: blmpopCmd}),
	)
}

// Error texts of the list commands.
const (
	errMustBePositive = "ERR value is out of range, must be positive"
	errRankZero       = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
	errCountNegative  = "ERR COUNT can't be negative"
	errMaxlenNegative = "ERR MAXLEN can't be negative"
	errNumkeys        = "ERR numkeys should be greater than 0"
	errCountPositive  = "ERR count should be greater than 0"
)

// asList returns o's list value.
func asList(o *keyspace.Object) *keyspace.List { return o.Collection().(*keyspace.List) }

// readList looks key up for reading: nil, true when it is missing; nil,
// false after replying WRONGTYPE.
func (c *Ctx) readList(key string) (*keyspace.List, bool) {
	return lookupAs[*keyspace.List](c, key, keyspace.KindList, false)
}

// writeList is readList for a write (no hit or miss counted).
func (c *Ctx) writeList(key string) (*keyspace.List, bool) {
	return lookupAs[*keyspace.List](c, key, keyspace.KindList, true)
}

// listRemoved raises event for elements removed from the list l at key,
// then deletes key (raising del) once the list is empty, and signals the
// change.
func (c *Ctx) listRemoved(key string, l *keyspace.List, event string) {
	c.notify(notifyList, event, key)
	if l.Len() == 0 {
		c.DB.Delete(key)
		c.notify(notifyGeneric, "del", key)
	}
	c.Touch(key)
}

// pushEvent and popEvent name the list events of an end.
func pushEvent(front bool) string {
	if front {
		return "lpush"
	}
	return "rpush"
}

func popEvent(front bool) string {
	if front {
		return "lpop"
	}
	return "rpop"
}

// rangeArg parses argument i as an integer in [lo, hi], replying msg when
// it is not one (getRangeLongFromObjectOrReply with a message).
func (c *Ctx) rangeArg(i int, lo, hi int64, msg string) (int64, bool) {
	n, ok := num.ParseInt(c.Args[i])
	if !ok || n < lo || n > hi {
		c.Error(msg)
		return 0, false
	}
	return n, true
}

// listEnd parses LEFT or RIGHT: true for LEFT (the head).
func (c *Ctx) listEnd(i int) (front, ok bool) {
	switch {
	case c.Is(i, "left"):
		return true, true
	case c.Is(i, "right"):
		return false, true
	}
	c.Error(ErrSyntax)
	return false, false
}

func endWord(front bool) []byte {
	if front {
		return Bytes("left")
	}
	return Bytes("right")
}

func popWord(front bool) []byte {
	if front {
		return Bytes("LPOP")
	}
	return Bytes("RPOP")
}

func popEnd(l *keyspace.List, front bool) string {
	if front {
		return l.PopFront()
	}
	return l.PopBack()
}

func pushEnd(l *keyspace.List, front bool, s string) {
	if front {
		l.PushFrontString(s)
	} else {
		l.PushBackString(s)
	}
}

func lpushCmd(c *Ctx)  { pushGeneric(c, true, false) }
func rpushCmd(c *Ctx)  { pushGeneric(c, false, false) }
func lpushxCmd(c *Ctx) { pushGeneric(c, true, true) }
func rpushxCmd(c *Ctx) { pushGeneric(c, false, true) }

func pushGeneric(c *Ctx, front, onlyExisting bool) {
	key := c.Arg(1)
	l, ok := c.writeList(key)
	if !ok {
		return
	}
	created := l == nil
	if created {
		if onlyExisting {
			c.W.Int(0)
			return
		}
		l = keyspace.NewList()
	}
	for _, v := range c.Args[2:] {
		if front {
			l.PushFront(v)
		} else {
			l.PushBack(v)
		}
	}
	if created {
		c.DB.SetCollection(key, l, false)
	}
	c.Touch(key)
	c.notify(notifyList, pushEvent(front), key)
	c.Propagate()
	c.W.Int(int64(l.Len()))
}

func lpopCmd(c *Ctx) { popGeneric(c, true) }
func rpopCmd(c *Ctx) { popGeneric(c, false) }

func popGeneric(c *Ctx, front bool) {
	if len(c.Args) > 3 {
		c.Error("ERR wrong number of arguments for '" + c.Cmd.Name + "' command")
		return
	}
	hasCount := len(c.Args) == 3
	var count int64
	if hasCount {
		var ok bool
		if count, ok = c.rangeArg(2, 0, math.MaxInt64, errMustBePositive); !ok {
			return
		}
	}
	key := c.Arg(1)
	l, ok := c.writeList(key)
	if !ok {
		return
	}
	if l == nil {
		if hasCount {
			c.W.NullArray()
		} else {
			c.W.Null()
		}
		return
	}
	if hasCount && count == 0 {
		c.W.Array(0)
		return
	}
	if !hasCount {
		c.W.BulkString(popEnd(l, front))
	} else {
		popRangeReply(c, l, front, count)
	}
	c.listRemoved(key, l, popEvent(front))
	c.Propagate()
}

// popRangeReply pops up to count elements from one end and replies with
// them as an array, in the order they were popped.
func popRangeReply(c *Ctx, l *keyspace.List, front bool, count int64) {
	n := l.Len()
	if count < int64(n) {
		n = int(count)
	}
	c.W.Array(n)
	for i := 0; i < n; i++ {
		c.W.BulkString(popEnd(l, front))
	}
}

func llenCmd(c *Ctx) {
	l, ok := c.readList(c.Arg(1))
	if !ok {
		return
	}
	if l == nil {
		c.W.Int(0)
		return
	}
	c.W.Int(int64(l.Len()))
}

// listIndex converts a Redis index (negative from the tail) into a
// position, reporting false when it is out of range.
func listIndex(l *keyspace.List, idx int64) (int, bool) {
	n := int64(l.Len())
	if idx < 0 {
		idx += n
	}
	if idx < 0 || idx >= n {
		return 0, false
	}
	return int(idx), true
}

func lindexCmd(c *Ctx) {
	l, ok := c.readList(c.Arg(1))
	if !ok {
		return
	}
	if l == nil {
		c.W.Null()
		return
	}
	idx, ok := c.Int(2)
	if !ok {
		return
	}
	i, ok := listIndex(l, idx)
	if !ok {
		c.W.Null()
		return
	}
	c.W.BulkString(l.At(i))
}

func lsetCmd(c *Ctx) {
	key := c.Arg(1)
	l, ok := c.writeList(key)
	if !ok {
		return
	}
	if l == nil {
		c.Error(ErrNoSuchKey)
		return
	}
	idx, ok := c.Int(2)
	if !ok {
		return
	}
	i, ok := listIndex(l, idx)
	if !ok {
		c.Error(ErrIndexRange)
		return
	}
	l.Set(i, c.Args[3])
	c.Touch(key)
	c.notify(notifyList, "lset", key)
	c.Propagate()
	c.W.OK()
}

func lrangeCmd(c *Ctx) {
	start, ok := c.Int(2)
	if !ok {
		return
	}
	end, ok := c.Int(3)
	if !ok {
		return
	}
	l, ok := c.readList(c.Arg(1))
	if !ok {
		return
	}
	if l == nil {
		c.W.Array(0)
		return
	}
	from, to, ok := clampIndexes(start, end, l.Len())
	if !ok {
		c.W.Array(0)
		return
	}
	c.W.Array(to - from + 1)
	for i := from; i <= to; i++ {
		c.W.BulkString(l.At(i))
	}
}

func ltrimCmd(c *Ctx) {
	start, ok := c.Int(2)
	if !ok {
		return
	}
	end, ok := c.Int(3)
	if !ok {
		return
	}
	key := c.Arg(1)
	l, ok := c.writeList(key)
	if !ok {
		return
	}
	if l == nil {
		c.W.OK()
		return
	}
	n := l.Len()
	left, right := n, 0
	if from, to, ok := clampIndexes(start, end, n); ok {
		left, right = from, n-to-1
	}
	l.DropFront(left)
	l.DropBack(right)
	c.listRemoved(key, l, "ltrim")
	if left+right > 0 {
		c.Propagate()
	}
	c.W.OK()
}

func lposCmd(c *Ctx) {
	rank, count, maxlen := int64(1), int64(-1), int64(0) // count -1: no COUNT
	for j := 3; j < len(c.Args); j++ {
		more := j+1 < len(c.Args)
		switch {
		case c.Is(j, "rank") && more:
			j++
			n, ok := c.Int(j)
			if !ok {
				return
			}
			if n == 0 {
				c.Error(errRankZero)
				return
			}
			rank = n
		case c.Is(j, "count") && more:
			j++
			n, ok := c.rangeArg(j, 0, math.MaxInt64, errCountNegative)
			if !ok {
				return
			}
			count = n
		case c.Is(j, "maxlen") && more:
			j++
			n, ok := c.rangeArg(j, 0, math.MaxInt64, errMaxlenNegative)
			if !ok {
				return
			}
			maxlen = n
		default:
			c.Error(ErrSyntax)
			return
		}
	}
	fromTail := rank < 0
	if fromTail {
		rank = -rank // -MinInt64 wraps to itself, as in Redis
	}
	l, ok := c.readList(c.Arg(1))
	if !ok {
		return
	}
	if l == nil {
		if count != -1 {
			c.W.Array(0)
		} else {
			c.W.Null()
		}
		return
	}
	ele := c.Arg(2)
	var d resp.Deferred
	if count != -1 {
		d = c.W.Defer()
	}
	n := int64(l.Len())
	var matches, found, replied int64
	found = -1
	for index := int64(0); index < n && (maxlen == 0 || index < maxlen); index++ {
		pos := index
		if fromTail {
			pos = n - index - 1
		}
		if l.At(int(pos)) != ele {
			continue
		}
		matches++
		if matches < rank {
			continue
		}
		if count == -1 {
			found = pos
			break
		}
		replied++
		c.W.Int(pos)
		if count != 0 && matches-rank+1 >= count {
			break
		}
	}
	if count != -1 {
		c.W.SetArray(d, int(replied))
		return
	}
	if found < 0 {
		c.W.Null()
		return
	}
	c.W.Int(found)
}

func lremCmd(c *Ctx) {
	count, ok := c.Int(2)
	if !ok {
		return
	}
	key := c.Arg(1)
	l, ok := c.writeList(key)
	if !ok {
		return
	}
	if l == nil {
		c.W.Int(0)
		return
	}
	removed := l.RemoveMatches(c.Arg(3), count)
	if removed > 0 {
		c.listRemoved(key, l, "lrem")
		c.Propagate()
	}
	c.W.Int(int64(removed))
}

func linsertCmd(c *Ctx) {
	var after bool
	switch {
	case c.Is(2, "after"):
		after = true
	case c.Is(2, "before"):
	default:
		c.Error(ErrSyntax)
		return
	}
	key := c.Arg(1)
	l, ok := c.writeList(key)
	if !ok {
		return
	}
	if l == nil {
		c.W.Int(0)
		return
	}
	pivot := c.Arg(3)
	for i := 0; i < l.Len(); i++ {
		if l.At(i) != pivot {
			continue
		}
		if after {
			i++
		}
		l.Insert(i, c.Args[4])
		c.Touch(key)
		c.notify(notifyList, "linsert", key)
		c.Propagate()
		c.W.Int(int64(l.Len()))
		return
	}
	c.W.Int(-1)
}

func lmoveCmd(c *Ctx) {
	from, ok := c.listEnd(3)
	if !ok {
		return
	}
	to, ok := c.listEnd(4)
	if !ok {
		return
	}
	if lmoveGeneric(c, from, to) {
		c.Propagate()
	}
}

func rpoplpushCmd(c *Ctx) {
	if lmoveGeneric(c, false, true) {
		c.Propagate()
	}
}

// lmoveGeneric moves an element from the list at Args[1] to the one at
// Args[2], replying with it (or null, or WRONGTYPE). It reports whether it
// moved one; the caller propagates.
func lmoveGeneric(c *Ctx, from, to bool) bool {
	src := c.Arg(1)
	l, ok := c.writeList(src)
	if !ok {
		return false
	}
	if l == nil {
		c.W.Null()
		return false
	}
	return moveElement(c, src, l, from, to)
}

// moveElement pops from l (the list at src) and pushes onto the list at
// Args[2], replying with the element, or WRONGTYPE when the destination
// holds something else (nothing moves then).
func moveElement(c *Ctx, src string, l *keyspace.List, from, to bool) bool {
	dst := c.Arg(2)
	dl, ok := c.writeList(dst)
	if !ok {
		return false
	}
	v := popEnd(l, from)
	if dl == nil {
		dl = keyspace.NewList()
		pushEnd(dl, to, v)
		c.DB.SetCollection(dst, dl, false)
	} else {
		pushEnd(dl, to, v)
	}
	c.Touch(dst)
	c.notify(notifyList, pushEvent(to), dst)
	c.W.BulkString(v)
	c.listRemoved(src, l, popEvent(from))
	return true
}

// lmpopArgs parses the numkeys, keys, LEFT|RIGHT and COUNT of LMPOP (at 1)
// and BLMPOP (at 2).
func (c *Ctx) lmpopArgs(numkeysIdx int) (keys [][]byte, front bool, count int64, ok bool) {
	return c.mpopArgs(numkeysIdx, c.listEnd)
}

// mpopArgs parses the arguments LMPOP and ZMPOP share (and their blocking
// forms): numkeys at numkeysIdx, the keys, the end to pop from (parsed by
// where, which replies when it is not one) and an optional COUNT (1 when
// absent).
func (c *Ctx) mpopArgs(numkeysIdx int, where func(i int) (bool, bool)) (keys [][]byte, end bool, count int64, ok bool) {
	numkeys, ok := c.rangeArg(numkeysIdx, 1, math.MaxInt64, errNumkeys)
	if !ok {
		return nil, false, 0, false
	}
	if numkeys >= int64(len(c.Args)) {
		c.Error(ErrSyntax)
		return nil, false, 0, false
	}
	whereIdx := numkeysIdx + int(numkeys) + 1
	if whereIdx >= len(c.Args) {
		c.Error(ErrSyntax)
		return nil, false, 0, false
	}
	if end, ok = where(whereIdx); !ok {
		return nil, false, 0, false
	}
	count = -1
	for j := whereIdx + 1; j < len(c.Args); j++ {
		if count == -1 && c.Is(j, "count") && j+1 < len(c.Args) {
			j++
			if count, ok = c.rangeArg(j, 1, math.MaxInt64, errCountPositive); !ok {
				return nil, false, 0, false
			}
			continue
		}
		c.Error(ErrSyntax)
		return nil, false, 0, false
	}
	if count == -1 {
		count = 1
	}
	return c.Args[numkeysIdx+1 : whereIdx], end, count, true
}

func lmpopCmd(c *Ctx) {
	keys, front, count, ok := c.lmpopArgs(1)
	if !ok {
		return
	}
	served, ok := popFirstNonEmpty(c, keys, front, count)
	if ok && !served {
		c.W.NullArray()
	}
}

// popFirstNonEmpty pops from the first of keys that holds a list, as
// LMPOP and the immediate path of the blocking pops do; count -1 is a
// single-element pop (BLPOP's reply). It reports whether it served the
// command, and false in ok after replying WRONGTYPE.
func popFirstNonEmpty(c *Ctx, keys [][]byte, front bool, count int64) (served, ok bool) {
	for _, k := range keys {
		key := view(k)
		l, ok := c.writeList(key)
		if !ok {
			return false, false
		}
		if l == nil {
			continue
		}
		popFromKey(c, k, l, front, count)
		return true, true
	}
	return false, true
}

// popFromKey pops from the list l at key for a multi-key pop, replying
// [key, element] (count -1) or [key, [elements...]], and propagates the
// pop as LPOP/RPOP key [n].
func popFromKey(c *Ctx, key []byte, l *keyspace.List, front bool, count int64) {
	c.W.Array(2)
	c.W.Bulk(key)
	if count < 0 {
		c.PropagateArgs(popWord(front), key)
		c.W.BulkString(popEnd(l, front))
	} else {
		n := int64(l.Len())
		if count < n {
			n = count
		}
		c.PropagateArgs(popWord(front), key, FormatInt(n))
		popRangeReply(c, l, front, count)
	}
	c.listRemoved(view(key), l, popEvent(front))
}

// parseTimeout parses a blocking command's timeout in seconds as Redis 7.0
// does (getTimeoutFromObjectOrReply): a long double, multiplied by 1000 and
// rounded up to milliseconds; 0 waits forever.
func (c *Ctx) parseTimeout(i int) (time.Duration, bool) {
	ms, ok := timeoutMillis(c.Args[i])
	if !ok {
		c.Error(ErrTimeoutNotFloat)
		return 0, false
	}
	if ms < 0 {
		c.Error(ErrTimeoutNegative)
		return 0, false
	}
	if ms > math.MaxInt64-c.Now() {
		// Redis's absolute deadline overflows and it never times out.
		return 0, true
	}
	return time.Duration(ms) * time.Millisecond, true
}

// timeoutMillis converts a timeout argument to milliseconds the way
// (long long)ceill(strtold(s)*1000.0) does on x86-64: out-of-range results
// (infinities included) become math.MinInt64.
func timeoutMillis(b []byte) (int64, bool) {
	if _, ok := num.ParseLongDouble(b); !ok {
		return 0, false
	}
	s := string(b)
	f, ok := parseX87(s)
	if !ok {
		return math.MinInt64, true
	}
	f.Mul(f, big.NewFloat(1000))
	n, acc := f.Int(nil) // truncated toward zero
	if acc == big.Below && f.Sign() > 0 {
		n.Add(n, big.NewInt(1))
	}
	if !n.IsInt64() {
		return math.MinInt64, true
	}
	return n.Int64(), true
}

// parseX87 parses an argument that num.ParseLongDouble accepted into a
// 64-bit-mantissa float; ok is false for infinities.
func parseX87(s string) (*big.Float, bool) {
	low := s
	if len(low) > 0 && (low[0] == '+' || low[0] == '-') {
		low = low[1:]
	}
	if len(low) >= 3 && (low[0] == 'i' || low[0] == 'I') {
		return nil, false
	}
	hex := len(low) > 1 && low[0] == '0' && (low[1] == 'x' || low[1] == 'X')
	if hex {
		hasP := false
		for i := 0; i < len(s); i++ {
			if s[i] == 'p' || s[i] == 'P' {
				hasP = true
			}
		}
		if !hasP {
			s += "p0"
		}
	}
	f, _, err := big.ParseFloat(s, 0, 64, big.ToNearestEven)
	if err != nil {
		return nil, false
	}
	return f.SetMode(big.ToNearestEven), true
}

func blpopCmd(c *Ctx) { blockingPop(c, true) }
func brpopCmd(c *Ctx) { blockingPop(c, false) }

func blockingPop(c *Ctx, front bool) {
	timeout, ok := c.parseTimeout(len(c.Args) - 1)
	if !ok {
		return
	}
	blockOrPop(c, c.Args[1:len(c.Args)-1], front, -1, timeout)
}

func blmpopCmd(c *Ctx) {
	keys, front, count, ok := c.lmpopArgs(2)
	if !ok {
		return
	}
	timeout, ok := c.parseTimeout(1)
	if !ok {
		return
	}
	blockOrPop(c, keys, front, count, timeout)
}

// blockOrPop pops from the first non-empty list of keys, or blocks the
// client on all of them.
func blockOrPop(c *Ctx, keys [][]byte, front bool, count int64, timeout time.Duration) {
	served, ok := popFirstNonEmpty(c, keys, front, count)
	if !ok || served {
		return
	}
	c.blockPop(keys, keyspace.KindList, timeout, func(c *Ctx, key []byte, o *keyspace.Object) {
		popFromKey(c, key, asList(o), front, count)
	})
}

func blmoveCmd(c *Ctx) {
	from, ok := c.listEnd(3)
	if !ok {
		return
	}
	to, ok := c.listEnd(4)
	if !ok {
		return
	}
	timeout, ok := c.parseTimeout(5)
	if !ok {
		return
	}
	blmoveGeneric(c, from, to, timeout, func(c *Ctx) {
		c.PropagateArgs(Bytes("LMOVE"), c.Args[1], c.Args[2], c.Args[3], c.Args[4])
	})
}

func brpoplpushCmd(c *Ctx) {
	timeout, ok := c.parseTimeout(3)
	if !ok {
		return
	}
	blmoveGeneric(c, false, true, timeout, func(c *Ctx) {
		c.PropagateArgs(Bytes("RPOPLPUSH"), c.Args[1], c.Args[2])
	})
}

// blmoveGeneric is BLMOVE and BRPOPLPUSH: an LMOVE when the source holds a
// list (propagated by propagate), a wait otherwise. Served later, the move
// propagates as LMOVE src dst left|right left|right, or RPOPLPUSH src dst.
func blmoveGeneric(c *Ctx, from, to bool, timeout time.Duration, propagate func(c *Ctx)) {
	src := c.Arg(1)
	l, ok := c.writeList(src)
	if !ok {
		return
	}
	if l != nil {
		if moveElement(c, src, l, from, to) {
			propagate(c)
		}
		return
	}
	if c.e.inExec(c.Client) {
		// A transaction cannot block: the reply is a null bulk string
		// here, unlike the null array of a timed-out wait.
		c.W.Null()
		return
	}
	rpoplpush := c.Cmd.Name == "brpoplpush"
	c.Block([]string{src}, timeout, func(c *Ctx) bool {
		key := c.ReadyKey()
		o := c.DB.Get(key)
		if o == nil || o.Kind() != keyspace.KindList {
			return false
		}
		if moveElement(c, key, asList(o), from, to) {
			if rpoplpush {
				c.PropagateArgs(Bytes("RPOPLPUSH"), []byte(key), c.Args[2])
			} else {
				c.PropagateArgs(Bytes("LMOVE"), []byte(key), c.Args[2], endWord(from), endWord(to))
			}
		}
		return true
	}, func(c *Ctx) { c.W.NullArray() })
}
