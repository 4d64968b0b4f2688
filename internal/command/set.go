package command

import (
	"math"
	"math/rand/v2"
	"sort"
	"strconv"

	"github.com/ferrydb/ferry/internal/keyspace"
)

// Set commands (t_set.c). SPOP is propagated as the SREMs of the members it
// popped (wrapped in MULTI/EXEC when there are several, as Redis 7.0 does),
// or as DEL when it takes the whole set; SRANDMEMBER propagates nothing; the
// *STORE commands and SMOVE are propagated as received.

func registerSet(t *Table) {
	w, r := Write|DenyOOM, ReadOnly
	k1 := func(c *Command) *Command { c.FirstKey, c.LastKey, c.Step = 1, 1, 1; c.Group = "set"; return c }
	kn := func(c *Command) *Command { c.FirstKey, c.LastKey, c.Step = 1, -1, 1; c.Group = "set"; return c }
	t.Add(
		k1(&Command{Name: "sadd", Arity: -3, Flags: w | Fast, Since: "1.0.0", Summary: "Add one or more members to a set", ACL: []string{"write", "set", "fast"}, Handler: saddCmd}),
		k1(&Command{Name: "srem", Arity: -3, Flags: Write | Fast, Since: "1.0.0", Summary: "Remove one or more members from a set", ACL: []string{"write", "set", "fast"}, Handler: sremCmd}),
		k1(&Command{Name: "smembers", Arity: 2, Flags: r, Since: "1.0.0", Summary: "Get all the members in a set", ACL: []string{"read", "set", "slow"}, Handler: smembersCmd}),
		k1(&Command{Name: "sismember", Arity: 3, Flags: r | Fast, Since: "1.0.0", Summary: "Determine if a given value is a member of a set", ACL: []string{"read", "set", "fast"}, Handler: sismemberCmd}),
		k1(&Command{Name: "smismember", Arity: -3, Flags: r | Fast, Since: "6.2.0", Summary: "Returns the membership associated with the given elements for a set", ACL: []string{"read", "set", "fast"}, Handler: smismemberCmd}),
		k1(&Command{Name: "scard", Arity: 2, Flags: r | Fast, Since: "1.0.0", Summary: "Get the number of members in a set", ACL: []string{"read", "set", "fast"}, Handler: scardCmd}),
		k1(&Command{Name: "spop", Arity: -2, Flags: Write | Fast, Since: "1.0.0", Summary: "Remove and return one or multiple random members from a set", ACL: []string{"write", "set", "fast"}, Handler: spopCmd}),
		k1(&Command{Name: "srandmember", Arity: -2, Flags: r, Since: "1.0.0", Summary: "Get one or multiple random members from a set", ACL: []string{"read", "set", "slow"}, Handler: srandmemberCmd}),
		&Command{Name: "smove", Arity: 4, Flags: Write | Fast, FirstKey: 1, LastKey: 2, Step: 1, Group: "set", Since: "1.0.0", Summary: "Move a member from one set to another", ACL: []string{"write", "set", "fast"}, Handler: smoveCmd},
		kn(&Command{Name: "sinter", Arity: -2, Flags: r, Since: "1.0.0", Summary: "Intersect multiple sets", ACL: []string{"read", "set", "slow"}, Handler: sinterCmd}),
		&Command{Name: "sintercard", Arity: -3, Flags: r, Group: "set", Since: "7.0.0", Summary: "Intersect multiple sets and return the cardinality of the result", ACL: []string{"read", "set", "slow"}, Handler: sintercardCmd},
		kn(&Command{Name: "sinterstore", Arity: -3, Flags: w, Since: "1.0.0", Summary: "Intersect multiple sets and store the resulting set in a key", ACL: []string{"write", "set", "slow"}, Handler: sinterstoreCmd}),
		kn(&Command{Name: "sunion", Arity: -2, Flags: r, Since: "1.0.0", Summary: "Add multiple sets", ACL: []string{"read", "set", "slow"}, Handler: sunionCmd}),
		kn(&Command{Name: "sunionstore", Arity: -3, Flags: w, Since: "1.0.0", Summary: "Add multiple sets and store the resulting set in a key", ACL: []string{"write", "set", "slow"}, Handler: sunionstoreCmd}),
		kn(&Command{Name: "sdiff", Arity: -2, Flags: r, Since: "1.0.0", Summary: "Subtract multiple sets", ACL: []string{"read", "set", "slow"}, Handler: sdiffCmd}),
		kn(&Command{Name: "sdiffstore", Arity: -3, Flags: w, Since: "1.0.0", Summary: "Subtract multiple sets and store the resulting set in a key", ACL: []string{"write", "set", "slow"}, Handler: sdiffstoreCmd}),
		k1(&Command{Name: "sscan", Arity: -3, Flags: r, Since: "2.8.0", Summary: "Incrementally iterate Set elements", ACL: []string{"read", "set", "slow"}, Handler: sscanCmd}),
	)
}

// getSet returns key's set for reading: nil, true when the key is missing;
// nil, false after replying WRONGTYPE.
func (c *Ctx) getSet(key string) (*keyspace.Set, bool) {
	return lookupAs[*keyspace.Set](c, key, keyspace.KindSet, false)
}

// writeSet is getSet for a write (no hit or miss counted).
func (c *Ctx) writeSet(key string) (*keyspace.Set, bool) {
	return lookupAs[*keyspace.Set](c, key, keyspace.KindSet, true)
}

func saddCmd(c *Ctx) {
	key := c.Arg(1)
	s, ok := c.writeSet(key)
	if !ok {
		return
	}
	created := s == nil
	if created {
		s = keyspace.NewSet()
	}
	lim := c.limits()
	n := 0
	for i := 2; i < len(c.Args); i++ {
		if s.Add(c.Args[i], lim) {
			n++
		}
	}
	if created {
		c.DB.SetCollection(key, s, false)
	}
	if n > 0 {
		c.Touch(key)
		c.notify(notifySet, "sadd", key)
		c.Propagate()
	}
	c.W.Int(int64(n))
}

func sremCmd(c *Ctx) {
	key := c.Arg(1)
	s, ok := c.writeSet(key)
	if !ok {
		return
	}
	if s == nil {
		c.W.Int(0)
		return
	}
	n, deleted := 0, false
	for i := 2; i < len(c.Args); i++ {
		if s.Remove(c.Args[i]) {
			n++
			if s.Len() == 0 {
				c.DB.Delete(key)
				deleted = true
				break
			}
		}
	}
	if n > 0 {
		c.Touch(key)
		c.notify(notifySet, "srem", key)
		if deleted {
			c.notify(notifyGeneric, "del", key)
		}
		c.Propagate()
	}
	c.W.Int(int64(n))
}

func smoveCmd(c *Ctx) {
	src, dst := c.Arg(1), c.Arg(2)
	so := c.DB.Get(src)
	do := c.DB.Get(dst)
	if so == nil {
		c.W.Int(0)
		return
	}
	if so.Kind() != keyspace.KindSet || (do != nil && do.Kind() != keyspace.KindSet) {
		c.Error(ErrWrongType)
		return
	}
	s := so.Collection().(*keyspace.Set)
	m := c.Args[3]
	if src == dst {
		if s.Has(m) {
			c.W.Int(1)
		} else {
			c.W.Int(0)
		}
		return
	}
	if !s.Remove(m) {
		c.W.Int(0)
		return
	}
	c.notify(notifySet, "srem", src)
	if s.Len() == 0 {
		c.DB.Delete(src)
		c.notify(notifyGeneric, "del", src)
	}
	var d *keyspace.Set
	if do == nil {
		d = keyspace.NewSet()
		c.DB.SetCollection(dst, d, false)
	} else {
		d = do.Collection().(*keyspace.Set)
	}
	c.Touch(src)
	if d.Add(m, c.limits()) {
		c.Touch(dst)
		c.notify(notifySet, "sadd", dst)
	}
	c.Propagate()
	c.W.Int(1)
}

func sismemberCmd(c *Ctx) {
	s, ok := c.getSet(c.Arg(1))
	if !ok {
		return
	}
	if s != nil && s.Has(c.Args[2]) {
		c.W.Int(1)
		return
	}
	c.W.Int(0)
}

func smismemberCmd(c *Ctx) {
	s, ok := c.getSet(c.Arg(1))
	if !ok {
		return
	}
	c.W.Array(len(c.Args) - 2)
	for i := 2; i < len(c.Args); i++ {
		if s != nil && s.Has(c.Args[i]) {
			c.W.Int(1)
		} else {
			c.W.Int(0)
		}
	}
}

func scardCmd(c *Ctx) {
	s, ok := c.getSet(c.Arg(1))
	if !ok {
		return
	}
	if s == nil {
		c.W.Int(0)
		return
	}
	c.W.Int(int64(s.Len()))
}

// spopMoveFactor is Redis's SPOP_MOVE_STRATEGY_MUL: when what remains is at
// most 1/5 of what is popped, the remaining members move to a new set.
const spopMoveFactor = 5

func spopCmd(c *Ctx) {
	if len(c.Args) == 3 {
		spopWithCount(c)
		return
	}
	if len(c.Args) > 3 {
		c.Error(ErrSyntax)
		return
	}
	key := c.Arg(1)
	s, ok := c.writeSet(key)
	if !ok {
		return
	}
	if s == nil {
		c.W.Null()
		return
	}
	m := s.Pop()
	c.notify(notifySet, "spop", key)
	c.PropagateArgs(Bytes("SREM"), c.Args[1], m)
	c.W.Bulk(m)
	if s.Len() == 0 {
		c.DB.Delete(key)
		c.notify(notifyGeneric, "del", key)
	}
	c.Touch(key)
}

func spopWithCount(c *Ctx) {
	n, ok := c.rangeLong(2, 0, math.MaxInt64, "ERR value is out of range, must be positive")
	if !ok {
		return
	}
	key := c.Arg(1)
	s, ok := c.writeSet(key)
	if !ok {
		return
	}
	if s == nil || n == 0 {
		c.W.Set(0)
		return
	}
	size := s.Len()
	if n >= int64(size) {
		c.notify(notifySet, "spop", key)
		// The whole set, replied as SUNION of the one key would (a read
		// lookup, counted as a hit), then DEL.
		c.Lookup(key)
		all := keyspace.NewSet()
		lim := c.limits()
		s.Range(func(m []byte) bool {
			all.Add(m, lim)
			return true
		})
		writeSetReply(c, all)
		c.DB.Delete(key)
		c.notify(notifyGeneric, "del", key)
		c.Touch(key)
		c.PropagateArgs(Bytes("DEL"), c.Args[1])
		return
	}
	// Its effect names every member popped: refused, before anything is
	// popped, when that is more than a log entry holds (Engine.SetMaxWriteBytes).
	// (The unit may already hold effects: a transaction's or a script's.)
	if est := spopEffectBytes(s, len(c.Args[1]), n); c.e.maxWrite > 0 && est+int64(len(c.e.eff.buf)) > int64(c.e.maxWrite) {
		c.Error(c.e.tooLargeForEntry("this SPOP's effect would be about "+strconv.FormatInt(est, 10)+
			" bytes (an SREM of every member popped)") + ": pop fewer at a time")
		return
	}
	c.notify(notifySet, "spop", key)
	// Several SREMs go out as one transaction, as Redis 7.0 wraps what a
	// command propagates beyond itself.
	c.e.eff.multi = true
	c.W.Set(int(n))
	remaining := size - int(n)
	if remaining*spopMoveFactor > int(n) {
		for ; n > 0; n-- {
			m := s.Pop()
			c.W.Bulk(m)
			c.PropagateArgs(Bytes("SREM"), c.Args[1], m)
		}
	} else {
		// Move the members that stay to a new set; reply with the rest.
		kept := keyspace.NewSet()
		lim := c.limits()
		for ; remaining > 0; remaining-- {
			kept.Add(s.Pop(), lim)
		}
		s.Range(func(m []byte) bool {
			c.W.Bulk(m)
			c.PropagateArgs(Bytes("SREM"), c.Args[1], m)
			return true
		})
		*s = *kept
	}
	c.Touch(key)
}

// spopEffectBytes estimates the effect of popping n members of s, stored
// at a key of keyLen bytes: an SREM per member, members sized from a sample.
func spopEffectBytes(s *keyspace.Set, keyLen int, n int64) int64 {
	var seen, total int64
	s.Range(func(m []byte) bool {
		seen++
		total += int64(len(m))
		return seen < 16
	})
	avg := int64(0)
	if seen > 0 {
		avg = total / seen
	}
	return n * (int64(keyLen) + avg + 26)
}

// srandSubFactor is Redis's SRANDMEMBER_SUB_STRATEGY_MUL.
const srandSubFactor = 3

func srandmemberCmd(c *Ctx) {
	if len(c.Args) == 3 {
		srandmemberWithCount(c)
		return
	}
	if len(c.Args) > 3 {
		c.Error(ErrSyntax)
		return
	}
	s, ok := c.getSet(c.Arg(1))
	if !ok {
		return
	}
	if s == nil {
		c.W.Null()
		return
	}
	c.W.Bulk(s.Random())
}

func srandmemberWithCount(c *Ctx) {
	n, ok := c.rangeLong(2, -math.MaxInt64, math.MaxInt64, "")
	if !ok {
		return
	}
	s, ok := c.getSet(c.Arg(1))
	if !ok {
		return
	}
	if s == nil || n == 0 {
		c.W.Array(0)
		return
	}
	size := s.Len()
	if n < 0 || n == 1 {
		count := n
		if count < 0 {
			count = -count
		}
		c.W.Array(int(count))
		for ; count > 0 && !c.repliesCut(count); count-- {
			c.W.Bulk(s.Random())
		}
		return
	}
	if n >= int64(size) {
		c.W.Array(size)
		s.Range(func(m []byte) bool {
			c.W.Bulk(m)
			return true
		})
		return
	}
	c.W.Array(int(n))
	if int(n)*srandSubFactor > size {
		all := make([][]byte, 0, size)
		s.Range(func(m []byte) bool {
			all = append(all, append([]byte(nil), m...))
			return true
		})
		rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		for _, m := range all[:n] {
			c.W.Bulk(m)
		}
		return
	}
	seen := make(map[string]struct{}, n)
	for len(seen) < int(n) {
		m := s.Random()
		if _, dup := seen[string(m)]; dup {
			continue
		}
		seen[string(m)] = struct{}{}
		c.W.Bulk(m)
	}
}

// writeSetReply replies with every member of s as a set.
func writeSetReply(c *Ctx, s *keyspace.Set) {
	c.W.Set(s.Len())
	s.Range(func(m []byte) bool {
		c.W.Bulk(m)
		return true
	})
}

// lookupSets looks every key up for reading: missing keys are nil. It
// reports false after replying WRONGTYPE.
func (c *Ctx) lookupSets(keys [][]byte) ([]*keyspace.Set, bool) {
	sets := make([]*keyspace.Set, len(keys))
	for i, k := range keys {
		s, ok := c.getSet(view(k))
		if !ok {
			return nil, false
		}
		sets[i] = s
	}
	return sets, true
}

// storeSetResult stores a *STORE result in dst, or deletes dst when the
// result is empty, and replies with its cardinality. Like Redis 7.0 the
// command is propagated as received whenever dst changed.
func storeSetResult(c *Ctx, dst string, res *keyspace.Set) {
	if res.Len() > 0 {
		c.DB.SetCollection(dst, res, false)
		c.Touch(dst)
		c.notify(notifySet, c.Cmd.Name, dst) // sinterstore, sunionstore, sdiffstore
		c.Propagate()
		c.W.Int(int64(res.Len()))
		return
	}
	if c.DB.Delete(dst) {
		c.Touch(dst)
		c.notify(notifyGeneric, "del", dst)
		c.Propagate()
	}
	c.W.Int(0)
}

func smembersCmd(c *Ctx)    { sinterGeneric(c, c.Args[1:], "", false, false, 0) }
func sinterCmd(c *Ctx)      { sinterGeneric(c, c.Args[1:], "", false, false, 0) }
func sinterstoreCmd(c *Ctx) { sinterGeneric(c, c.Args[2:], c.Arg(1), true, false, 0) }

func sintercardCmd(c *Ctx) {
	numkeys, ok := c.rangeLong(1, 1, math.MaxInt64, "ERR numkeys should be greater than 0")
	if !ok {
		return
	}
	if numkeys > int64(len(c.Args)-2) {
		c.Error("ERR Number of keys can't be greater than number of args")
		return
	}
	var limit int64
	for j := 2 + int(numkeys); j < len(c.Args); j++ {
		if c.Is(j, "limit") && j+1 < len(c.Args) {
			j++
			if limit, ok = c.rangeLong(j, 0, math.MaxInt64, "ERR LIMIT can't be negative"); !ok {
				return
			}
			continue
		}
		c.Error(ErrSyntax)
		return
	}
	sinterGeneric(c, c.Args[2:2+numkeys], "", false, true, limit)
}

// sinterGeneric serves SINTER, SMEMBERS, SINTERSTORE (store) and SINTERCARD
// (cardOnly, stopping at limit when it is not 0).
func sinterGeneric(c *Ctx, keys [][]byte, dst string, store, cardOnly bool, limit int64) {
	sets, ok := c.lookupSets(keys)
	if !ok {
		return
	}
	for _, s := range sets {
		if s == nil {
			switch {
			case store:
				storeSetResult(c, dst, keyspace.NewSet())
			case cardOnly:
				c.W.Int(0)
			default:
				c.W.Set(0)
			}
			return
		}
	}
	// Smallest first (a stable sort, as glibc's qsort is in practice).
	sort.SliceStable(sets, func(i, j int) bool { return sets[i].Len() < sets[j].Len() })
	inAll := func(m []byte) bool {
		for _, o := range sets[1:] {
			if o != sets[0] && !o.Has(m) {
				return false
			}
		}
		return true
	}
	switch {
	case cardOnly:
		var n int64
		sets[0].Range(func(m []byte) bool {
			if inAll(m) {
				n++
				if limit > 0 && n >= limit {
					return false
				}
			}
			return true
		})
		c.W.Int(n)
	case store:
		res := keyspace.NewSet()
		lim := c.limits()
		sets[0].Range(func(m []byte) bool {
			if inAll(m) {
				res.Add(m, lim)
			}
			return true
		})
		storeSetResult(c, dst, res)
	default:
		d := c.W.Defer()
		n := 0
		sets[0].Range(func(m []byte) bool {
			if inAll(m) {
				c.W.Bulk(m)
				n++
			}
			return true
		})
		c.W.SetSet(d, n)
	}
}

func sunionCmd(c *Ctx)      { sunionDiffGeneric(c, c.Args[1:], "", false, false) }
func sunionstoreCmd(c *Ctx) { sunionDiffGeneric(c, c.Args[2:], c.Arg(1), true, false) }
func sdiffCmd(c *Ctx)       { sunionDiffGeneric(c, c.Args[1:], "", false, true) }
func sdiffstoreCmd(c *Ctx)  { sunionDiffGeneric(c, c.Args[2:], c.Arg(1), true, true) }

// sunionDiffGeneric serves SUNION, SDIFF and their STORE forms. The result
// is built as Redis builds it (an intset until a member or the size says
// otherwise, and SDIFF's choice of algorithm), so that its encoding and the
// order of the reply match.
func sunionDiffGeneric(c *Ctx, keys [][]byte, dst string, store, diff bool) {
	sets, ok := c.lookupSets(keys)
	if !ok {
		return
	}
	sameSet := false
	if sets[0] != nil {
		for _, s := range sets[1:] {
			if s == sets[0] {
				sameSet = true
			}
		}
	}
	res := keyspace.NewSet()
	lim := c.limits()
	addAll := func(s *keyspace.Set) {
		s.Range(func(m []byte) bool {
			res.Add(m, lim)
			return true
		})
	}
	switch {
	case !diff:
		for _, s := range sets {
			if s != nil {
				addAll(s)
			}
		}
	case sets[0] == nil || sameSet:
		// empty
	default:
		// Redis's work estimate picks the algorithm.
		var one, two int
		for _, s := range sets {
			if s != nil {
				one += sets[0].Len()
				two += s.Len()
			}
		}
		if one/2 <= two {
			sets[0].Range(func(m []byte) bool {
				for _, o := range sets[1:] {
					if o != nil && o.Has(m) {
						return true
					}
				}
				res.Add(m, lim)
				return true
			})
			break
		}
		addAll(sets[0])
		for _, o := range sets[1:] {
			if res.Len() == 0 {
				break
			}
			if o == nil {
				continue
			}
			o.Range(func(m []byte) bool {
				res.Remove(m)
				return true
			})
		}
	}
	if store {
		storeSetResult(c, dst, res)
		return
	}
	writeSetReply(c, res)
}

func sscanCmd(c *Ctx) {
	cursor, ok := c.scanCursor(2)
	if !ok {
		return
	}
	s, ok := c.getSet(c.Arg(1))
	if !ok {
		return
	}
	if s == nil {
		emptyScan(c)
		return
	}
	opts, ok := c.parseElemScan(3)
	if !ok {
		return
	}
	var out [][]byte
	emit := func(m []byte) {
		if opts.matches(view(m)) {
			out = append(out, append([]byte(nil), m...))
		}
	}
	if s.IsIntset() {
		cursor = s.Scan(0, emit)
	} else {
		cursor = scanLoop(cursor, opts.count, func(cur uint64, n *int) uint64 {
			return s.Scan(cur, func(m []byte) {
				*n++
				emit(m)
			})
		})
	}
	writeScan(c, cursor, out)
}
