package command

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/ferrydb/ferry/internal/glob"
	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/num"
)

// Hash commands (t_hash.c). HINCRBYFLOAT is propagated as HSET with the
// resolved value; everything else that changes a hash as received.

func registerHash(t *Table) {
	w, r := Write|DenyOOM, ReadOnly
	k1 := func(c *Command) *Command { c.FirstKey, c.LastKey, c.Step = 1, 1, 1; c.Group = "hash"; return c }
	t.Add(
		k1(&Command{Name: "hset", Arity: -4, Flags: w | Fast, Since: "2.0.0", Summary: "Set the string value of a hash field", ACL: []string{"write", "hash", "fast"}, Handler: hsetCmd}),
		k1(&Command{Name: "hsetnx", Arity: 4, Flags: w | Fast, Since: "2.0.0", Summary: "Set the value of a hash field, only if the field does not exist", ACL: []string{"write", "hash", "fast"}, Handler: hsetnxCmd}),
		k1(&Command{Name: "hmset", Arity: -4, Flags: w | Fast, Since: "2.0.0", Summary: "Set multiple hash fields to multiple values", ACL: []string{"write", "hash", "fast"}, Handler: hsetCmd}),
		k1(&Command{Name: "hget", Arity: 3, Flags: r | Fast, Since: "2.0.0", Summary: "Get the value of a hash field", ACL: []string{"read", "hash", "fast"}, Handler: hgetCmd}),
		k1(&Command{Name: "hmget", Arity: -3, Flags: r | Fast, Since: "2.0.0", Summary: "Get the values of all the given hash fields", ACL: []string{"read", "hash", "fast"}, Handler: hmgetCmd}),
		k1(&Command{Name: "hgetall", Arity: 2, Flags: r, Since: "2.0.0", Summary: "Get all the fields and values in a hash", ACL: []string{"read", "hash", "slow"}, Handler: hgetallCmd}),
		k1(&Command{Name: "hkeys", Arity: 2, Flags: r, Since: "2.0.0", Summary: "Get all the fields in a hash", ACL: []string{"read", "hash", "slow"}, Handler: hkeysCmd}),
		k1(&Command{Name: "hvals", Arity: 2, Flags: r, Since: "2.0.0", Summary: "Get all the values in a hash", ACL: []string{"read", "hash", "slow"}, Handler: hvalsCmd}),
		k1(&Command{Name: "hdel", Arity: -3, Flags: Write | Fast, Since: "2.0.0", Summary: "Delete one or more hash fields", ACL: []string{"write", "hash", "fast"}, Handler: hdelCmd}),
		k1(&Command{Name: "hexists", Arity: 3, Flags: r | Fast, Since: "2.0.0", Summary: "Determine if a hash field exists", ACL: []string{"read", "hash", "fast"}, Handler: hexistsCmd}),
		k1(&Command{Name: "hlen", Arity: 2, Flags: r | Fast, Since: "2.0.0", Summary: "Get the number of fields in a hash", ACL: []string{"read", "hash", "fast"}, Handler: hlenCmd}),
		k1(&Command{Name: "hstrlen", Arity: 3, Flags: r | Fast, Since: "3.2.0", Summary: "Get the length of the value of a hash field", ACL: []string{"read", "hash", "fast"}, Handler: hstrlenCmd}),
		k1(&Command{Name: "hincrby", Arity: 4, Flags: w | Fast, Since: "2.0.0", Summary: "Increment the integer value of a hash field by the given number", ACL: []string{"write", "hash", "fast"}, Handler: hincrbyCmd}),
		k1(&Command{Name: "hincrbyfloat", Arity: 4, Flags: w | Fast, Since: "2.6.0", Summary: "Increment the float value of a hash field by the given amount", ACL: []string{"write", "hash", "fast"}, Handler: hincrbyfloatCmd}),
		k1(&Command{Name: "hrandfield", Arity: -2, Flags: r, Since: "6.2.0", Summary: "Get one or multiple random fields from a hash", ACL: []string{"read", "hash", "slow"}, Handler: hrandfieldCmd}),
		k1(&Command{Name: "hscan", Arity: -3, Flags: r, Since: "2.8.0", Summary: "Incrementally iterate hash fields and associated values", ACL: []string{"read", "hash", "slow"}, Handler: hscanCmd}),
	)
}

// getHash returns key's hash for reading: nil, true when the key is
// missing; nil, false after replying WRONGTYPE.
func (c *Ctx) getHash(key string) (*keyspace.Hash, bool) {
	return lookupAs[*keyspace.Hash](c, key, keyspace.KindHash, false)
}

// writeHash returns key's hash for writing, creating an empty one (stored
// by storeNewHash once it has a field) when the key is missing.
func (c *Ctx) writeHash(key string) (h *keyspace.Hash, created, ok bool) {
	o, ok := c.LookupWrite(key, keyspace.KindHash)
	if !ok {
		return nil, false, false
	}
	if o == nil {
		return keyspace.NewHash(), true, true
	}
	return o.Collection().(*keyspace.Hash), false, true
}

func (c *Ctx) limits() keyspace.Limits { return c.DB.Keyspace().Limits }

func hsetCmd(c *Ctx) {
	if len(c.Args)%2 == 1 {
		c.Error("ERR wrong number of arguments for '" + c.Cmd.Name + "' command")
		return
	}
	key := c.Arg(1)
	h, created, ok := c.writeHash(key)
	if !ok {
		return
	}
	lim := c.limits()
	h.Fit(c.Args[2:], lim)
	n := 0
	for i := 2; i < len(c.Args); i += 2 {
		if h.Set(c.Arg(i), c.Args[i+1], lim) {
			n++
		}
	}
	if created {
		c.DB.SetCollection(key, h, false)
	}
	c.Touch(key)
	c.notify(notifyHash, "hset", key)
	c.Propagate()
	if c.Cmd.Name == "hmset" {
		c.W.OK()
		return
	}
	c.W.Int(int64(n))
}

func hsetnxCmd(c *Ctx) {
	key := c.Arg(1)
	h, created, ok := c.writeHash(key)
	if !ok {
		return
	}
	if h.Has(c.Arg(2)) {
		c.W.Int(0)
		return
	}
	lim := c.limits()
	h.Fit(c.Args[2:4], lim)
	h.Set(c.Arg(2), c.Args[3], lim)
	if created {
		c.DB.SetCollection(key, h, false)
	}
	c.Touch(key)
	c.notify(notifyHash, "hset", key)
	c.Propagate()
	c.W.Int(1)
}

func hgetCmd(c *Ctx) {
	h, ok := c.getHash(c.Arg(1))
	if !ok {
		return
	}
	if h == nil {
		c.W.Null()
		return
	}
	if v, ok := h.Get(c.Arg(2)); ok {
		c.W.Bulk(v)
		return
	}
	c.W.Null()
}

func hmgetCmd(c *Ctx) {
	h, ok := c.getHash(c.Arg(1))
	if !ok {
		return
	}
	c.W.Array(len(c.Args) - 2)
	for i := 2; i < len(c.Args); i++ {
		if h != nil {
			if v, ok := h.Get(c.Arg(i)); ok {
				c.W.Bulk(v)
				continue
			}
		}
		c.W.Null()
	}
}

func hgetallCmd(c *Ctx) { hgetallGeneric(c, true, true) }
func hkeysCmd(c *Ctx)   { hgetallGeneric(c, true, false) }
func hvalsCmd(c *Ctx)   { hgetallGeneric(c, false, true) }

func hgetallGeneric(c *Ctx, fields, values bool) {
	h, ok := c.getHash(c.Arg(1))
	if !ok {
		return
	}
	n := 0
	if h != nil {
		n = h.Len()
	}
	if fields && values {
		c.W.Map(n)
	} else {
		c.W.Array(n)
	}
	if h == nil {
		return
	}
	h.Range(func(f string, v []byte) bool {
		if fields {
			c.W.BulkString(f)
		}
		if values {
			c.W.Bulk(v)
		}
		return true
	})
}

func hdelCmd(c *Ctx) {
	key := c.Arg(1)
	o, ok := c.LookupWrite(key, keyspace.KindHash)
	if !ok {
		return
	}
	if o == nil {
		c.W.Int(0)
		return
	}
	h := o.Collection().(*keyspace.Hash)
	n, deleted := 0, false
	for i := 2; i < len(c.Args); i++ {
		if h.Delete(c.Arg(i)) {
			n++
			if h.Len() == 0 {
				c.DB.Delete(key)
				deleted = true
				break
			}
		}
	}
	if n > 0 {
		c.Touch(key)
		c.notify(notifyHash, "hdel", key)
		if deleted {
			c.notify(notifyGeneric, "del", key)
		}
		c.Propagate()
	}
	c.W.Int(int64(n))
}

func hexistsCmd(c *Ctx) {
	h, ok := c.getHash(c.Arg(1))
	if !ok {
		return
	}
	if h != nil && h.Has(c.Arg(2)) {
		c.W.Int(1)
		return
	}
	c.W.Int(0)
}

func hlenCmd(c *Ctx) {
	h, ok := c.getHash(c.Arg(1))
	if !ok {
		return
	}
	if h == nil {
		c.W.Int(0)
		return
	}
	c.W.Int(int64(h.Len()))
}

func hstrlenCmd(c *Ctx) {
	h, ok := c.getHash(c.Arg(1))
	if !ok {
		return
	}
	if h == nil {
		c.W.Int(0)
		return
	}
	v, _ := h.Get(c.Arg(2))
	c.W.Int(int64(len(v)))
}

func hincrbyCmd(c *Ctx) {
	incr, ok := c.Int(3)
	if !ok {
		return
	}
	key := c.Arg(1)
	h, created, ok := c.writeHash(key)
	if !ok {
		return
	}
	var v int64
	if cur, found := h.Get(c.Arg(2)); found {
		if v, ok = num.ParseInt(cur); !ok {
			c.Error("ERR hash value is not an integer")
			return
		}
	}
	if (incr < 0 && v < 0 && incr < math.MinInt64-v) || (incr > 0 && v > 0 && incr > math.MaxInt64-v) {
		c.Error(ErrOverflow)
		return
	}
	v += incr
	var tmp [20]byte
	h.Set(c.Arg(2), strconv.AppendInt(tmp[:0], v, 10), c.limits())
	if created {
		c.DB.SetCollection(key, h, false)
	}
	c.Touch(key)
	c.notify(notifyHash, "hincrby", key)
	c.Propagate()
	c.W.Int(v)
}

func hincrbyfloatCmd(c *Ctx) {
	incr, ok := num.ParseLongDouble(c.Args[3])
	if !ok {
		c.Error(ErrNotFloat)
		return
	}
	if f := string(incr.Format()); f == "inf" || f == "-inf" {
		c.Error("ERR value is NaN or Infinity")
		return
	}
	key := c.Arg(1)
	h, created, ok := c.writeHash(key)
	if !ok {
		return
	}
	cur := []byte("0")
	if v, found := h.Get(c.Arg(2)); found {
		cur = v
	}
	v, ok := num.ParseLongDouble(cur)
	if !ok {
		c.Error("ERR hash value is not a float")
		return
	}
	sum, ok := v.Add(incr)
	if !ok {
		c.Error("ERR increment would produce NaN or Infinity")
		return
	}
	s := sum.Format()
	h.Set(c.Arg(2), s, c.limits())
	if created {
		c.DB.SetCollection(key, h, false)
	}
	c.Touch(key)
	c.notify(notifyHash, "hincrbyfloat", key)
	c.PropagateArgs(Bytes("HSET"), c.Args[1], c.Args[2], s)
	c.W.Bulk(s)
}

// rangeLong parses argument i as Redis's getRangeLongFromObjectOrReply
// does: an integer in [lo, hi]. With a message, msg is the reply for both a
// non-integer and an integer out of range; without, each has its own.
func (c *Ctx) rangeLong(i int, lo, hi int64, msg string) (int64, bool) {
	n, ok := num.ParseInt(c.Args[i])
	switch {
	case ok && n >= lo && n <= hi:
		return n, true
	case msg != "":
		c.Error(msg)
	case !ok:
		c.Error(ErrNotInt)
	default:
		c.Error("ERR value is out of range, value must between " + strconv.FormatInt(lo, 10) + " and " + strconv.FormatInt(hi, 10))
	}
	return 0, false
}

func hrandfieldCmd(c *Ctx) {
	if len(c.Args) >= 3 {
		n, ok := c.rangeLong(2, -math.MaxInt64, math.MaxInt64, "")
		if !ok {
			return
		}
		withValues := false
		if len(c.Args) > 4 || (len(c.Args) == 4 && !c.Is(3, "withvalues")) {
			c.Error(ErrSyntax)
			return
		}
		if len(c.Args) == 4 {
			withValues = true
			if n < -math.MaxInt64/2 || n > math.MaxInt64/2 {
				c.Error("ERR value is out of range")
				return
			}
		}
		hrandfieldWithCount(c, n, withValues)
		return
	}
	h, ok := c.getHash(c.Arg(1))
	if !ok {
		return
	}
	if h == nil {
		c.W.Null()
		return
	}
	f, _ := h.Random()
	c.W.BulkString(f)
}

func hrandfieldWithCount(c *Ctx, n int64, withValues bool) {
	h, ok := c.getHash(c.Arg(1))
	if !ok {
		return
	}
	if h == nil || n == 0 {
		c.W.Array(0)
		return
	}
	pair := func(f string, v []byte) {
		if withValues && c.W.Proto > 2 {
			c.W.Array(2)
		}
		c.W.BulkString(f)
		if withValues {
			c.W.Bulk(v)
		}
	}
	header := func(count int) {
		if withValues && c.W.Proto == 2 {
			c.W.Array(2 * count)
		} else {
			c.W.Array(count)
		}
	}
	size := h.Len()
	// Repeats allowed (negative count), or a single pick.
	if n < 0 || n == 1 {
		count := n
		if count < 0 {
			count = -count
		}
		header(int(count))
		for ; count > 0 && !c.repliesCut(count); count-- {
			pair(h.Random())
		}
		return
	}
	// Distinct fields: the whole hash when it has no more than asked for.
	if n >= int64(size) {
		header(size)
		h.Range(func(f string, v []byte) bool {
			pair(f, v)
			return true
		})
		return
	}
	header(int(n))
	if int(n)*3 > size {
		// Close to the whole hash: shuffle all pairs, keep the first n.
		all := make([]fieldValue, 0, size)
		h.Range(func(f string, v []byte) bool {
			all = append(all, fieldValue{f, v})
			return true
		})
		rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		for _, p := range all[:n] {
			pair(p.f, p.v)
		}
		return
	}
	// Few of many: random picks until n distinct ones.
	seen := make(map[string]struct{}, n)
	for len(seen) < int(n) {
		f, v := h.Random()
		if _, dup := seen[f]; dup {
			continue
		}
		seen[f] = struct{}{}
		pair(f, v)
	}
}

type fieldValue struct {
	f string
	v []byte
}

func hscanCmd(c *Ctx) {
	cursor, ok := c.scanCursor(2)
	if !ok {
		return
	}
	h, ok := c.getHash(c.Arg(1))
	if !ok {
		return
	}
	if h == nil {
		emptyScan(c)
		return
	}
	opts, ok := c.parseElemScan(3)
	if !ok {
		return
	}
	var out [][]byte
	count := opts.count * 2 // fields and values
	emit := func(f string, v []byte) {
		if opts.matches(f) {
			out = append(out, []byte(f), v)
		}
	}
	if h.IsListpack() {
		cursor = h.Scan(0, emit)
	} else {
		cursor = scanLoop(cursor, count, func(cur uint64, n *int) uint64 {
			return h.Scan(cur, func(f string, v []byte) {
				*n += 2
				emit(f, v)
			})
		})
	}
	writeScan(c, cursor, out)
}

// elemScanOpts are the options of HSCAN, SSCAN and ZSCAN.
type elemScanOpts struct {
	count int64
	match string // "" when every element matches (or for MATCH "")
	// usePattern is Redis's use_pattern: a MATCH other than "*" was
	// given. MATCH "" matches only the empty element.
	usePattern bool
}

// matches reports whether s passes the MATCH option.
func (o *elemScanOpts) matches(s string) bool {
	return !o.usePattern || glob.Match(o.match, s)
}

// scanCursor parses a SCAN-family cursor as Redis does (strtoul: an
// optional sign, digits, no overflow, no leading space), replying
// "ERR invalid cursor" otherwise.
func (c *Ctx) scanCursor(i int) (uint64, bool) {
	cur, ok := parseCursor(c.Args[i])
	if !ok {
		c.Error("ERR invalid cursor")
	}
	return cur, ok
}

func parseCursor(b []byte) (uint64, bool) {
	if len(b) > 0 && (b[0] == ' ' || b[0] >= '\t' && b[0] <= '\r') {
		return 0, false
	}
	s := string(b)
	neg := false
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		// strtoul consumes nothing: the cursor is 0 only when nothing
		// followed either (an empty argument).
		return 0, len(b) == 0
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false
	}
	for _, ch := range []byte(s) {
		if ch < '0' || ch > '9' {
			return 0, false
		}
	}
	if neg {
		v = -v
	}
	return v, true
}

// parseElemScan parses the MATCH and COUNT options of a key's SCAN command
// from argument i on.
func (c *Ctx) parseElemScan(i int) (elemScanOpts, bool) {
	opts := elemScanOpts{count: 10}
	for ; i < len(c.Args); i += 2 {
		more := len(c.Args) - i
		switch {
		case c.Is(i, "count") && more >= 2:
			n, ok := c.Int(i + 1)
			if !ok {
				return opts, false
			}
			if n < 1 {
				c.Error(ErrSyntax)
				return opts, false
			}
			opts.count = n
		case c.Is(i, "match") && more >= 2:
			opts.match = string(c.Args[i+1])
			opts.usePattern = opts.match != "*"
			if !opts.usePattern {
				opts.match = ""
			}
		default:
			c.Error(ErrSyntax)
			return opts, false
		}
	}
	return opts, true
}

// scanLoop runs cursor steps as Redis's scanGenericCommand does: until the
// scan completes, count elements were gathered or 10*count steps were
// taken. step returns the next cursor and adds what it visited to *n.
// Like Redis's C longs, count and 10*count wrap around when huge (HSCAN
// doubles COUNT first), and count is compared unsigned, so a huge COUNT
// scans everything.
func scanLoop(cursor uint64, count int64, step func(cur uint64, n *int) uint64) uint64 {
	maxIter := count * 10
	n := 0
	for {
		cursor = step(cursor, &n)
		if cursor == 0 || maxIter == 0 || uint64(n) >= uint64(count) {
			return cursor
		}
		maxIter--
	}
}

// emptyScan replies a finished scan with no elements.
func emptyScan(c *Ctx) { writeScan(c, 0, nil) }

func writeScan(c *Ctx, cursor uint64, out [][]byte) {
	c.W.Array(2)
	c.W.BulkString(strconv.FormatInt(int64(cursor), 10))
	c.W.Array(len(out))
	for _, b := range out {
		c.W.Bulk(b)
	}
}
