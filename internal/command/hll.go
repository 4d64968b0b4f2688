package command

import (
	"strings"

	"github.com/ferrydb/ferry/internal/hll"
	"github.com/ferrydb/ferry/internal/keyspace"
)

// HyperLogLog commands (hyperloglog.c) over strings that are byte for byte
// Redis's HyperLogLogs (package hll), with hll-sparse-max-bytes at its
// default. Effects: PFADD propagates itself when it created the key or
// raised a register (a SET of the string when it stopped midway at a
// corrupt one), PFMERGE always, PFDEBUG's conversions as PFDEBUG TODENSE.
// PFCOUNT caches the cardinality it computes in the string and propagates
// itself when it did; on a replica it does not cache, so that only the
// master's effects change the dataset.

func init() {
	registrations = append(registrations, registerHLL)
	// COMMAND's metadata (command_cmd.go).
	for name, spec := range map[string]string{
		"pfadd": "RW insert @1", "pfcount": "RW access @1..-1",
		"pfmerge": "RW access insert @1; RO access @2..-1", "pfdebug": "RW access @2",
	} {
		keySpecTable[name] = spec
	}
	for name, args := range map[string]string{
		"pfadd": "key [element...]", "pfcount": "key...", "pfmerge": "destkey:k sourcekey:k...",
		"pfdebug": "subcommand key", "pfselftest": "",
	} {
		argSyntax[name] = args
	}
}

// Error replies of the HyperLogLog commands.
const (
	errNotHLL     = "WRONGTYPE Key is not a valid HyperLogLog string value."
	errCorruptHLL = "INVALIDOBJ Corrupted HLL object detected"
)

func registerHLL(t *Table) {
	pf := func(c *Command) *Command { c.Group = "hyperloglog"; c.Since = "2.8.9"; return c }
	t.Add(
		pf(&Command{Name: "pfadd", Arity: -2, Flags: Write | DenyOOM | Fast, FirstKey: 1, LastKey: 1, Step: 1,
			Summary: "Adds elements to a HyperLogLog, creating the key when it is missing.", ACL: []string{"write", "hyperloglog", "fast"}, Handler: pfaddCmd}),
		pf(&Command{Name: "pfcount", Arity: -2, Flags: ReadOnly | MayReplicate, FirstKey: 1, LastKey: -1, Step: 1,
			Summary: "Estimates how many distinct elements were added to a HyperLogLog, or to the union of several.", ACL: []string{"read", "hyperloglog", "slow"}, Handler: pfcountCmd}),
		pf(&Command{Name: "pfmerge", Arity: -2, Flags: Write | DenyOOM, FirstKey: 1, LastKey: -1, Step: 1,
			Summary: "Stores the union of HyperLogLogs in the destination key.", ACL: []string{"write", "hyperloglog", "slow"}, Handler: pfmergeCmd}),
		pf(&Command{Name: "pfdebug", Arity: 3, Flags: Write | DenyOOM | Admin, FirstKey: 2, LastKey: 2, Step: 1,
			Summary: "Shows or converts the internal representation of a HyperLogLog.", ACL: []string{"write", "hyperloglog", "admin", "slow", "dangerous"}, Handler: pfdebugCmd}),
		pf(&Command{Name: "pfselftest", Arity: 1, Flags: Admin,
			Summary: "Checks the HyperLogLog implementation.", ACL: []string{"hyperloglog", "admin", "slow", "dangerous"}, Handler: pfselftestCmd}),
	)
}

// lookupHLL returns key's HyperLogLog, for reading (counting a keyspace hit
// or miss) or for writing: nil, true when the key is missing; nil, false
// after replying an error.
func (c *Ctx) lookupHLL(key string, write bool) (*keyspace.Object, bool) {
	var (
		o  *keyspace.Object
		ok bool
	)
	if write {
		o, ok = c.LookupWrite(key, keyspace.KindString)
	} else {
		o, ok = c.LookupKind(key, keyspace.KindString)
	}
	if o != nil && !hll.Valid(o.Str()) {
		c.Error(errNotHLL)
		return nil, false
	}
	return o, ok
}

// editHLL returns o's HyperLogLog to edit, or a new one when o is nil.
func editHLL(o *keyspace.Object) *hll.HLL {
	if o == nil {
		return hll.New()
	}
	return hll.Edit(o.Str())
}

// storeHLL stores h under key, in o when the key exists.
func (c *Ctx) storeHLL(key string, o *keyspace.Object, h *hll.HLL) {
	if o == nil {
		o = c.DB.SetString(key, nil, false)
	}
	o.SetStrOwned(h.Bytes())
	c.Touch(key)
}

func pfaddCmd(c *Ctx) {
	key := c.Arg(1)
	o, ok := c.lookupHLL(key, true)
	if !ok {
		return
	}
	h, changed := editHLL(o), o == nil
	for _, ele := range c.Args[2:] {
		ch, err := h.Add(ele, hll.DefaultSparseMaxBytes)
		if err != nil {
			// Like Redis, the registers set before the corruption showed
			// stay set. Redis neither propagates nor signals that change;
			// ferry sends the string, so that replicas keep the same
			// bytes, and signals WATCH.
			if changed {
				c.storeHLL(key, o, h)
				c.PropagateArgs(Bytes("SET"), c.Args[1], h.Bytes(), Bytes("KEEPTTL"))
			}
			c.Error(errCorruptHLL)
			return
		}
		changed = changed || ch
	}
	if !changed {
		c.W.Int(0)
		return
	}
	h.Invalidate()
	c.storeHLL(key, o, h)
	c.notify(notifyString, "pfadd", key)
	c.Propagate()
	c.W.Int(1)
}

func pfcountCmd(c *Ctx) {
	if len(c.Args) > 2 {
		var u hll.Union
		for i := 1; i < len(c.Args); i++ {
			o, ok := c.lookupHLL(c.Arg(i), false)
			if !ok {
				return
			}
			if o != nil && u.Merge(o.Str()) != nil {
				c.Error(errCorruptHLL)
				return
			}
		}
		c.W.Int(int64(u.Count()))
		return
	}
	key := c.Arg(1)
	o, ok := c.lookupHLL(key, false)
	if !ok {
		return
	}
	if o == nil {
		c.W.Int(0)
		return
	}
	s := o.Str()
	n, current := hll.Cached(s)
	if !current {
		var err error
		if n, err = hll.Count(s); err != nil {
			c.Error(errCorruptHLL)
			return
		}
		if c.Client.Master || (c.e.cfg.Role == "master" && c.e.writeErr == "") {
			hll.SetCached(s, n)
			o.SetStrOwned(s)
			c.Touch(key)
			c.Propagate()
		}
	}
	// A cardinality of 2^63 or more (only from crafted registers) shows
	// negative, as in Redis.
	c.W.Int(int64(n))
}

func pfmergeCmd(c *Ctx) {
	var u hll.Union
	dense := false
	for i := 1; i < len(c.Args); i++ {
		o, ok := c.lookupHLL(c.Arg(i), false)
		if !ok {
			return
		}
		if o == nil {
			continue
		}
		dense = dense || hll.IsDense(o.Str())
		if u.Merge(o.Str()) != nil {
			c.Error(errCorruptHLL)
			return
		}
	}
	key := c.Arg(1)
	o := c.DB.Get(key)
	h := editHLL(o)
	if dense && h.ToDense() != nil {
		c.Error(errCorruptHLL) // not reached: the merge checked the destination
		return
	}
	h.Raise(&u, hll.DefaultSparseMaxBytes)
	h.Invalidate()
	c.storeHLL(key, o, h)
	// As Redis: a merge is a mass add.
	c.notify(notifyString, "pfadd", key)
	c.Propagate()
	c.W.OK()
}

func pfdebugCmd(c *Ctx) {
	// Redis compares the subcommand as a C string: up to a NUL byte.
	sub, _, _ := strings.Cut(c.Arg(1), "\x00")
	key := c.Arg(2)
	o, ok := c.lookupHLL(key, true)
	if !ok {
		return
	}
	if o == nil {
		c.Error("ERR The specified key does not exist")
		return
	}
	s := o.Str()
	switch {
	case strings.EqualFold(sub, "getreg"):
		if !hll.IsDense(s) {
			if !pfdebugToDense(c, o) {
				return
			}
			s = o.Str()
		}
		regs := hll.Registers(s)
		c.W.Array(len(regs))
		for _, r := range regs {
			c.W.Int(int64(r))
		}
	case strings.EqualFold(sub, "decode"):
		if hll.IsDense(s) {
			c.Error("ERR HLL encoding is not sparse")
			return
		}
		c.W.BulkString(hll.Decode(s))
	case strings.EqualFold(sub, "encoding"):
		if hll.IsDense(s) {
			c.W.Status("dense")
		} else {
			c.W.Status("sparse")
		}
	case strings.EqualFold(sub, "todense"):
		if hll.IsDense(s) {
			c.W.Int(0)
		} else if pfdebugToDense(c, o) {
			c.W.Int(1)
		}
	default:
		c.Error("ERR Unknown PFDEBUG subcommand '" + sub + "'")
	}
}

// pfdebugToDense converts o's sparse HyperLogLog to dense, replying an
// error when it is corrupt. Unlike Redis, it signals WATCH: the value
// changes.
func pfdebugToDense(c *Ctx, o *keyspace.Object) bool {
	h := hll.Edit(o.Str())
	if h.ToDense() != nil {
		c.Error(errCorruptHLL)
		return false
	}
	c.storeHLL(c.Arg(2), o, h)
	c.PropagateArgs(Bytes("PFDEBUG"), Bytes("TODENSE"), c.Args[2])
	return true
}

func pfselftestCmd(c *Ctx) {
	if err := hll.SelfTest(); err != nil {
		c.Error(err.Error())
		return
	}
	c.W.OK()
}
