package command

import (
	"math"
	"strconv"
	"time"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/num"
)

// String commands (t_string.c). Relative expiry times are propagated as
// absolute ones (SET ... PXAT, PEXPIREAT), INCRBYFLOAT as SET ... KEEPTTL.

func registerString(t *Table) {
	w, r := Write|DenyOOM, ReadOnly
	k1 := func(c *Command) *Command { c.FirstKey, c.LastKey, c.Step = 1, 1, 1; c.Group = "string"; return c }
	t.Add(
		k1(&Command{Name: "get", Arity: 2, Flags: r | Fast, Since: "1.0.0", Summary: "Returns the string value of a key.", ACL: []string{"read", "string", "fast"}, Handler: getCmd}),
		k1(&Command{Name: "set", Arity: -3, Flags: w, Since: "1.0.0", Summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", ACL: []string{"write", "string", "slow"}, Handler: setCmd}),
		k1(&Command{Name: "setnx", Arity: 3, Flags: w | Fast, Since: "1.0.0", Summary: "Set the string value of a key only when the key doesn't exist.", ACL: []string{"write", "string", "fast"}, Handler: setnxCmd}),
		k1(&Command{Name: "setex", Arity: 4, Flags: w, Since: "2.0.0", Summary: "Sets the string value and expiration time of a key.", ACL: []string{"write", "string", "slow"}, Handler: setexCmd}),
		k1(&Command{Name: "psetex", Arity: 4, Flags: w, Since: "2.6.0", Summary: "Sets both string value and expiration time in milliseconds of a key.", ACL: []string{"write", "string", "slow"}, Handler: psetexCmd}),
		k1(&Command{Name: "getset", Arity: 3, Flags: w | Fast, Since: "1.0.0", Summary: "Returns the previous string value of a key after setting it to a new value.", ACL: []string{"write", "string", "fast"}, Handler: getsetCmd}),
		k1(&Command{Name: "getdel", Arity: 2, Flags: Write | Fast, Since: "6.2.0", Summary: "Returns the string value of a key after deleting the key.", ACL: []string{"write", "string", "fast"}, Handler: getdelCmd}),
		k1(&Command{Name: "getex", Arity: -2, Flags: Write | Fast, Since: "6.2.0", Summary: "Returns the string value of a key after setting its expiration time.", ACL: []string{"write", "string", "fast"}, Handler: getexCmd}),
		&Command{Name: "mget", Arity: -2, Flags: r | Fast, FirstKey: 1, LastKey: -1, Step: 1, Group: "string", Since: "1.0.0", Summary: "Atomically returns the string values of one or more keys.", ACL: []string{"read", "string", "fast"}, Handler: mgetCmd},
		&Command{Name: "mset", Arity: -3, Flags: w, FirstKey: 1, LastKey: -1, Step: 2, Group: "string", Since: "1.0.1", Summary: "Atomically creates or modifies the string values of one or more keys.", ACL: []string{"write", "string", "slow"}, Handler: msetCmd},
		&Command{Name: "msetnx", Arity: -3, Flags: w, FirstKey: 1, LastKey: -1, Step: 2, Group: "string", Since: "1.0.1", Summary: "Atomically modifies the string values of one or more keys only when all keys don't exist.", ACL: []string{"write", "string", "slow"}, Handler: msetnxCmd},
		k1(&Command{Name: "incr", Arity: 2, Flags: w | Fast, Since: "1.0.0", Summary: "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", ACL: []string{"write", "string", "fast"}, Handler: incrCmd}),
		k1(&Command{Name: "decr", Arity: 2, Flags: w | Fast, Since: "1.0.0", Summary: "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", ACL: []string{"write", "string", "fast"}, Handler: decrCmd}),
		k1(&Command{Name: "incrby", Arity: 3, Flags: w | Fast, Since: "1.0.0", Summary: "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", ACL: []string{"write", "string", "fast"}, Handler: incrbyCmd}),
		k1(&Command{Name: "decrby", Arity: 3, Flags: w | Fast, Since: "1.0.0", Summary: "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", ACL: []string{"write", "string", "fast"}, Handler: decrbyCmd}),
		k1(&Command{Name: "incrbyfloat", Arity: 3, Flags: w | Fast, Since: "2.6.0", Summary: "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", ACL: []string{"write", "string", "fast"}, Handler: incrbyfloatCmd}),
		k1(&Command{Name: "append", Arity: 3, Flags: w | Fast, Since: "2.0.0", Summary: "Appends a string to the value of a key. Creates the key if it doesn't exist.", ACL: []string{"write", "string", "fast"}, Handler: appendCmd}),
		k1(&Command{Name: "strlen", Arity: 2, Flags: r | Fast, Since: "2.2.0", Summary: "Returns the length of a string value.", ACL: []string{"read", "string", "fast"}, Handler: strlenCmd}),
		k1(&Command{Name: "getrange", Arity: 4, Flags: r, Since: "2.4.0", Summary: "Returns a substring of the string stored at a key.", ACL: []string{"read", "string", "slow"}, Handler: getrangeCmd}),
		k1(&Command{Name: "setrange", Arity: 4, Flags: w, Since: "2.2.0", Summary: "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", ACL: []string{"write", "string", "slow"}, Handler: setrangeCmd}),
	)
}

// getString returns key's string value: nil, true when it is missing; nil,
// false after replying WRONGTYPE.
func (c *Ctx) getString(key string) ([]byte, bool) {
	o, ok := c.LookupKind(key, keyspace.KindString)
	if o == nil {
		return nil, ok
	}
	return o.Str(), true
}

func getCmd(c *Ctx) {
	v, ok := c.getString(c.Arg(1))
	if !ok {
		return
	}
	if v == nil {
		c.W.Null()
		return
	}
	c.W.Bulk(v)
}

// Option flags of SET and GETEX (parseExtendedStringArgumentsOrReply).
const (
	optNX = 1 << iota
	optXX
	optGet
	optKeepTTL
	optPersist
	optEX
	optPX
	optEXAT
	optPXAT
	optExpireAny = optEX | optPX | optEXAT | optPXAT
)

// parseExpireOpts parses SET/GETEX options from args[from:]. It returns the
// flags and the index of the expiry argument (0 if none).
func (c *Ctx) parseExpireOpts(from int, isSet bool) (flags, expIdx int, ok bool) {
	args := c.Args
	for j := from; j < len(args); j++ {
		a := view(args[j])
		hasNext := j+1 < len(args)
		switch {
		case isSet && eqFold(a, "nx") && flags&optXX == 0:
			flags |= optNX
		case isSet && eqFold(a, "xx") && flags&optNX == 0:
			flags |= optXX
		case isSet && eqFold(a, "get"):
			flags |= optGet
		case isSet && eqFold(a, "keepttl") && flags&(optPersist|optExpireAny) == 0:
			flags |= optKeepTTL
		case !isSet && eqFold(a, "persist") && flags&(optKeepTTL|optExpireAny) == 0:
			flags |= optPersist
		case eqFold(a, "ex") && flags&(optKeepTTL|optPersist|optEXAT|optPX|optPXAT) == 0 && hasNext:
			flags |= optEX
			j++
			expIdx = j
		case eqFold(a, "px") && flags&(optKeepTTL|optPersist|optEX|optEXAT|optPXAT) == 0 && hasNext:
			flags |= optPX
			j++
			expIdx = j
		case eqFold(a, "exat") && flags&(optKeepTTL|optPersist|optEX|optPX|optPXAT) == 0 && hasNext:
			flags |= optEXAT
			j++
			expIdx = j
		case eqFold(a, "pxat") && flags&(optKeepTTL|optPersist|optEX|optEXAT|optPX) == 0 && hasNext:
			flags |= optPXAT
			j++
			expIdx = j
		default:
			c.Error(ErrSyntax)
			return 0, 0, false
		}
	}
	return flags, expIdx, true
}

// eqFold reports whether a equals word (in lower case) but for case, as
// Redis's strcasecmp sees a: up to its first NUL byte, so "NX\x00y" is NX.
func eqFold(a, word string) bool {
	a = cString(a)
	if len(a) != len(word) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ch := a[i]
		if ch >= 'A' && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if ch != word[i] {
			return false
		}
	}
	return true
}

// expireAt converts the expiry argument at i to an absolute unix-ms time
// (getExpireMillisecondsOrReply). unit is time.Second or time.Millisecond;
// abs says whether the argument is already absolute.
func (c *Ctx) expireAt(i int, unit time.Duration, abs bool) (int64, bool) {
	v, ok := num.ParseInt(c.Args[i])
	if !ok {
		c.Error(ErrNotInt)
		return 0, false
	}
	bad := "ERR invalid expire time in '" + c.Cmd.Name + "' command"
	if v <= 0 || (unit == time.Second && v > math.MaxInt64/1000) {
		c.Error(bad)
		return 0, false
	}
	if unit == time.Second {
		v *= 1000
	}
	if !abs {
		if v > math.MaxInt64-c.Now() {
			c.Error(bad)
			return 0, false
		}
		v += c.Now()
	}
	return v, true
}

func setCmd(c *Ctx) {
	flags, expIdx, ok := c.parseExpireOpts(3, true)
	if !ok {
		return
	}
	var at int64
	if expIdx > 0 {
		unit := time.Millisecond
		if flags&(optEX|optEXAT) != 0 {
			unit = time.Second
		}
		if at, ok = c.expireAt(expIdx, unit, flags&(optEXAT|optPXAT) != 0); !ok {
			return
		}
	}
	key := c.Arg(1)
	if flags&optGet != 0 {
		v, ok := c.getString(key)
		if !ok {
			return
		}
		if v == nil {
			c.W.Null()
		} else {
			c.W.Bulk(v)
		}
	}
	found := c.DB.Get(key) != nil
	if (flags&optNX != 0 && found) || (flags&optXX != 0 && !found) {
		if flags&optGet == 0 {
			c.W.Null()
		}
		return
	}
	c.setKey(key, c.Args[2], flags&optKeepTTL != 0, at)
	if flags&optGet == 0 {
		c.W.OK()
	}
}

// setKey stores a string value with an optional absolute expiry and
// propagates it as SET key value [PXAT at | KEEPTTL].
func (c *Ctx) setKey(key string, val []byte, keepTTL bool, at int64) {
	// a key whose time has passed expires first, as Redis's setKey looks
	// it up for writing: expired, then new, then set
	c.DB.ExpireIfNeeded(key)
	c.DB.SetString(key, val, keepTTL)
	c.Touch(key)
	c.notify(notifyString, "set", key)
	switch {
	case at != 0:
		c.DB.SetExpire(key, at)
		c.notify(notifyGeneric, "expire", key)
		c.PropagateArgs(Bytes("SET"), c.Args[1], val, Bytes("PXAT"), FormatInt(at))
	case keepTTL:
		c.PropagateArgs(Bytes("SET"), c.Args[1], val, Bytes("KEEPTTL"))
	default:
		c.PropagateArgs(Bytes("SET"), c.Args[1], val)
	}
}

func setnxCmd(c *Ctx) {
	key := c.Arg(1)
	if c.DB.Get(key) != nil {
		c.W.Int(0)
		return
	}
	c.setKey(key, c.Args[2], false, 0)
	c.W.Int(1)
}

func setexCmd(c *Ctx)  { setexGeneric(c, time.Second) }
func psetexCmd(c *Ctx) { setexGeneric(c, time.Millisecond) }

func setexGeneric(c *Ctx, unit time.Duration) {
	at, ok := c.expireAt(2, unit, false)
	if !ok {
		return
	}
	c.setKey(c.Arg(1), c.Args[3], false, at)
	c.W.OK()
}

func getsetCmd(c *Ctx) {
	key := c.Arg(1)
	v, ok := c.getString(key)
	if !ok {
		return
	}
	if v == nil {
		c.W.Null()
	} else {
		c.W.Bulk(v)
	}
	c.setKey(key, c.Args[2], false, 0)
}

func getdelCmd(c *Ctx) {
	key := c.Arg(1)
	v, ok := c.getString(key)
	if !ok {
		return
	}
	if v == nil {
		c.W.Null()
		return
	}
	c.W.Bulk(v)
	c.DB.Delete(key)
	c.notify(notifyGeneric, "del", key)
	c.PropagateArgs(Bytes("DEL"), c.Args[1])
}

func getexCmd(c *Ctx) {
	flags, expIdx, ok := c.parseExpireOpts(2, false)
	if !ok {
		return
	}
	// As Redis: the options' syntax first, then the key and its type, and
	// only then the expire time's value.
	key := c.Arg(1)
	o, ok := c.LookupKind(key, keyspace.KindString)
	if !ok {
		return
	}
	if o == nil {
		c.W.Null()
		return
	}
	var at int64
	if expIdx > 0 {
		unit := time.Millisecond
		if flags&(optEX|optEXAT) != 0 {
			unit = time.Second
		}
		if at, ok = c.expireAt(expIdx, unit, flags&(optEXAT|optPXAT) != 0); !ok {
			return
		}
	}
	c.W.Bulk(o.Str())
	switch {
	case at != 0 && at <= c.Now():
		c.DB.Delete(key)
		c.notify(notifyGeneric, "del", key)
		c.PropagateArgs(Bytes("DEL"), c.Args[1])
	case at != 0:
		c.DB.SetExpire(key, at)
		c.Touch(key)
		c.notify(notifyGeneric, "expire", key)
		c.PropagateArgs(Bytes("PEXPIREAT"), c.Args[1], FormatInt(at))
	case flags&optPersist != 0 && o.Expire() != 0:
		c.DB.SetExpire(key, 0)
		c.Touch(key)
		c.notify(notifyGeneric, "persist", key)
		c.PropagateArgs(Bytes("PERSIST"), c.Args[1])
	}
}

func mgetCmd(c *Ctx) {
	c.W.Array(len(c.Args) - 1)
	for i := 1; i < len(c.Args); i++ {
		o := c.Lookup(c.Arg(i))
		if o == nil || o.Kind() != keyspace.KindString {
			c.W.Null()
			continue
		}
		c.W.Bulk(o.Str())
	}
}

func msetCmd(c *Ctx) {
	if len(c.Args)%2 == 0 {
		c.Error("ERR wrong number of arguments for '" + c.Cmd.Name + "' command")
		return
	}
	for i := 1; i < len(c.Args); i += 2 {
		c.DB.ExpireIfNeeded(c.Arg(i)) // as setKey does
		c.DB.SetString(c.Arg(i), c.Args[i+1], false)
		c.Touch(c.Arg(i))
		c.notify(notifyString, "set", c.Arg(i))
	}
	c.Propagate()
	c.W.OK()
}

func msetnxCmd(c *Ctx) {
	if len(c.Args)%2 == 0 {
		c.Error("ERR wrong number of arguments for '" + c.Cmd.Name + "' command")
		return
	}
	for i := 1; i < len(c.Args); i += 2 {
		if c.DB.Get(c.Arg(i)) != nil {
			c.W.Int(0)
			return
		}
	}
	for i := 1; i < len(c.Args); i += 2 {
		c.DB.SetString(c.Arg(i), c.Args[i+1], false)
		c.Touch(c.Arg(i))
		c.notify(notifyString, "set", c.Arg(i))
	}
	c.Propagate()
	c.W.Int(1)
}

func incrCmd(c *Ctx) { incrDecr(c, 1) }
func decrCmd(c *Ctx) { incrDecr(c, -1) }

func incrbyCmd(c *Ctx) {
	n, ok := c.Int(2)
	if ok {
		incrDecr(c, n)
	}
}

func decrbyCmd(c *Ctx) {
	n, ok := c.Int(2)
	if !ok {
		return
	}
	if n == math.MinInt64 {
		c.Error("ERR decrement would overflow")
		return
	}
	incrDecr(c, -n)
}

func incrDecr(c *Ctx, by int64) {
	key := c.Arg(1)
	o, ok := c.LookupWrite(key, keyspace.KindString)
	if !ok {
		return
	}
	var v int64
	if o != nil {
		if v, ok = num.ParseInt(o.Str()); !ok {
			c.Error(ErrNotInt)
			return
		}
	}
	if (by < 0 && v < 0 && by < math.MinInt64-v) || (by > 0 && v > 0 && by > math.MaxInt64-v) {
		c.Error(ErrOverflow)
		return
	}
	v += by
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], v, 10)
	if o != nil {
		o.SetStr(s)
	} else {
		c.DB.SetString(key, s, false)
	}
	c.Touch(key)
	c.notify(notifyString, "incrby", key)
	c.Propagate()
	c.W.Int(v)
}

func incrbyfloatCmd(c *Ctx) {
	key := c.Arg(1)
	o, ok := c.LookupWrite(key, keyspace.KindString)
	if !ok {
		return
	}
	cur := []byte("0")
	if o != nil {
		cur = o.Str()
	}
	v, ok1 := num.ParseLongDouble(cur)
	if !ok1 {
		c.Error(ErrNotFloat)
		return
	}
	incr, ok2 := num.ParseLongDouble(c.Args[2])
	if !ok2 {
		c.Error(ErrNotFloat)
		return
	}
	sum, ok := v.Add(incr)
	if !ok {
		c.Error("ERR increment would produce NaN or Infinity")
		return
	}
	s := sum.Format()
	if o != nil {
		o.SetStr(s)
	} else {
		c.DB.SetString(key, s, false)
	}
	c.Touch(key)
	c.notify(notifyString, "incrbyfloat", key)
	c.PropagateArgs(Bytes("SET"), c.Args[1], s, Bytes("KEEPTTL"))
	c.W.Bulk(s)
}

// checkStringLength replies ErrStringTooLong when a string of size bytes
// growing by add would pass proto-max-bulk-len.
func (c *Ctx) checkStringLength(size, add int64) bool {
	total := size + add
	// A sum that overflows (SETRANGE at an offset near 2^63) is refused
	// even from the master, as Redis refuses it: it could not be stored.
	if total < size || total < add || total > c.e.cfg.MaxBulkLen && !c.Client.Master {
		c.Error(ErrStringTooLong)
		return false
	}
	return true
}

func appendCmd(c *Ctx) {
	key := c.Arg(1)
	o, ok := c.LookupWrite(key, keyspace.KindString)
	if !ok {
		return
	}
	var n int
	if o == nil {
		c.DB.SetString(key, c.Args[2], false)
		n = len(c.Args[2])
	} else {
		if !c.checkStringLength(int64(len(o.Str())), int64(len(c.Args[2]))) {
			return
		}
		o.SetStrOwned(append(o.Str(), c.Args[2]...))
		n = len(o.Str())
	}
	c.Touch(key)
	c.notify(notifyString, "append", key)
	c.Propagate()
	c.W.Int(int64(n))
}

func strlenCmd(c *Ctx) {
	v, ok := c.getString(c.Arg(1))
	if ok {
		c.W.Int(int64(len(v)))
	}
}

func getrangeCmd(c *Ctx) {
	start, ok := c.Int(2)
	if !ok {
		return
	}
	end, ok := c.Int(3)
	if !ok {
		return
	}
	v, ok := c.getString(c.Arg(1))
	if !ok {
		return
	}
	n := int64(len(v))
	if start < 0 && end < 0 && start > end {
		c.W.Bulk(nil)
		return
	}
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	if start < 0 {
		start = 0
	}
	if end < 0 {
		end = 0
	}
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		c.W.Bulk(nil)
		return
	}
	c.W.Bulk(v[start : end+1])
}

func setrangeCmd(c *Ctx) {
	offset, ok := c.Int(2)
	if !ok {
		return
	}
	if offset < 0 {
		c.Error(ErrOffsetRange)
		return
	}
	key := c.Arg(1)
	val := c.Args[3]
	o, ok := c.LookupWrite(key, keyspace.KindString)
	if !ok {
		return
	}
	if o == nil {
		if len(val) == 0 {
			c.W.Int(0)
			return
		}
		if !c.checkStringLength(offset, int64(len(val))) {
			return
		}
		o = c.DB.SetString(key, nil, false)
	} else {
		if len(val) == 0 {
			c.W.Int(int64(len(o.Str())))
			return
		}
		if !c.checkStringLength(offset, int64(len(val))) {
			return
		}
	}
	s := o.Str()
	if need := int(offset) + len(val); need > len(s) {
		s = append(s, make([]byte, need-len(s))...)
	}
	copy(s[offset:], val)
	o.SetStrOwned(s)
	c.Touch(key)
	c.notify(notifyString, "setrange", key)
	c.Propagate()
	c.W.Int(int64(len(s)))
}
