package command

import (
	"runtime/debug"

	"github.com/ferrydb/ferry/internal/keyspace"
)

func registerMemory(t *Table) {
	srv := func(c *Command) *Command { c.Group = "server"; return c }
	t.Add(
		srv(&Command{Name: "memory", Arity: -2, Since: "4.0.0", Summary: "A container for memory diagnostics commands", ACL: []string{"slow"}}),
		srv(&Command{Name: "memory|help", Arity: 2, Flags: Loading | Stale, Since: "4.0.0", Summary: "Show helpful text about the different subcommands", ACL: []string{"slow"}, Handler: memoryHelpCmd}),
		srv(&Command{Name: "memory|usage", Arity: -3, Flags: ReadOnly, Since: "4.0.0", Summary: "Estimate the memory usage of a key", ACL: []string{"read", "slow"},
			FirstKey: 2, LastKey: 2, Step: 1, Handler: memoryUsageCmd}),
		srv(&Command{Name: "memory|purge", Arity: 2, Since: "4.0.0", Summary: "Ask the allocator to release memory", ACL: []string{"slow"}, Handler: memoryPurgeCmd}),
	)
}

func memoryHelpCmd(c *Ctx) {
	helpReply(c, "MEMORY",
		"USAGE <key> [SAMPLES <count>]",
		"    Estimate the bytes key and its value take in ferry, from up to <count>",
		"    elements of a collection (default 5; 0: all of them).",
		"PURGE",
		"    Collect garbage and return the freed memory to the operating system.")
}

// memoryUsageCmd estimates a key's memory, as Redis's MEMORY USAGE does
// from a sample of a collection's elements (the figures are ferry's: Go's
// headers and tables, not Redis's allocations). Options are checked before
// the key, as in Redis.
func memoryUsageCmd(c *Ctx) {
	samples := int64(5)
	for i := 3; i < len(c.Args); i++ {
		if !c.Is(i, "samples") || i+1 >= len(c.Args) {
			c.Error(ErrSyntax)
			return
		}
		n, ok := c.Int(i + 1)
		if !ok {
			return
		}
		if n < 0 {
			c.Error(ErrSyntax)
			return
		}
		if n == 0 {
			n = 1 << 62
		}
		samples = n
		i++
	}
	o := c.DB.Peek(c.Arg(2))
	if o == nil {
		c.W.Null()
		return
	}
	c.W.Int(int64(len(c.Arg(2))) + keyOverhead + valueSize(o, samples))
}

// Rough per-item costs in ferry's memory (Go): a key's table entry and
// object, and an element of each kind of collection beyond its bytes.
const (
	keyOverhead   = 64
	listElement   = 24
	setElement    = 32
	hashElement   = 48
	zsetElement   = 64
	collectionHdr = 64
)

// valueSize estimates o's value: a string's bytes, or a collection's
// average element (over up to samples of them) times its length.
func valueSize(o *keyspace.Object, samples int64) int64 {
	if o.Kind() == keyspace.KindString {
		return int64(len(o.Str()))
	}
	var seen, bytes int64
	var n, per int64
	take := func(size int) bool {
		seen++
		bytes += int64(size)
		return seen < samples
	}
	switch coll := o.Collection().(type) {
	case *keyspace.List:
		n, per = int64(coll.Len()), listElement
		coll.Each(func(s string) bool { return take(len(s)) })
	case *keyspace.Set:
		n, per = int64(coll.Len()), setElement
		coll.Range(func(m []byte) bool { return take(len(m)) })
	case *keyspace.Hash:
		n, per = int64(coll.Len()), hashElement
		coll.Range(func(f string, v []byte) bool { return take(len(f) + len(v)) })
	case *keyspace.ZSet:
		n, per = int64(coll.Len()), zsetElement
		coll.Range(func(m string, _ float64) bool { return take(len(m)) })
	case *keyspace.Stream:
		// A stream's nodes are its bytes (Redis's listpacks); groups aside.
		var b int64
		coll.EachNode(func(_ keyspace.StreamID, lp []byte) bool { b += int64(len(lp)) + 32; return true })
		return collectionHdr + b
	}
	if seen == 0 {
		return collectionHdr
	}
	return collectionHdr + n*(per+bytes/seen)
}

// memoryPurgeCmd starts a collection that hands the freed memory back to
// the operating system at once (Go otherwise returns it over minutes). It
// runs outside the engine lock, which a full collection of a large heap
// would hold for a noticeable time: the reply does not wait for it.
func memoryPurgeCmd(c *Ctx) {
	go debug.FreeOSMemory()
	c.W.OK()
}
