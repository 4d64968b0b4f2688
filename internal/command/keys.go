package command

import (
	"math"

	"github.com/ferrydb/ferry/internal/keyspace"
)

// Generic key commands (db.c, expire.c, object.c): DEL UNLINK EXISTS TYPE
// RENAME RENAMENX MOVE COPY, the EXPIRE and TTL families, PERSIST, KEYS,
// SCAN, RANDOMKEY, TOUCH, OBJECT, and the database commands DBSIZE FLUSHDB
// FLUSHALL SWAPDB.
//
// Propagation follows Redis 7.0. DEL and UNLINK go out as received when they
// deleted at least one key (Redis propagates the whole command, missing keys
// included, whenever it changed the dataset); expired keys met on the way go
// out as their own DEL first. EXPIRE, PEXPIRE and EXPIREAT go out as
// PEXPIREAT key <unix-ms> with their NX/XX/GT/LT options kept, and a time
// already past as DEL key. PERSIST goes out only when it removed a TTL.
// RENAME, RENAMENX, MOVE, COPY and SWAPDB go out as received when they
// changed something; FLUSHDB and FLUSHALL always do, even on an empty
// dataset. Reads (EXISTS, TYPE, TTL, TOUCH, SCAN...) propagate nothing but
// the DELs of expired keys they deleted.

func registerKeys(t *Table) {
	gen := func(c *Command) *Command { c.Group = "generic"; return c }
	k1 := func(c *Command) *Command { c.FirstKey, c.LastKey, c.Step = 1, 1, 1; return gen(c) }
	k2 := func(c *Command) *Command { c.FirstKey, c.LastKey, c.Step = 1, 2, 1; return gen(c) }
	kn := func(c *Command) *Command { c.FirstKey, c.LastKey, c.Step = 1, -1, 1; return gen(c) }
	srv := func(c *Command) *Command { c.Group = "server"; return c }
	wk := []string{"keyspace", "write", "fast"}
	rk := []string{"keyspace", "read", "fast"}
	t.Add(
		kn(&Command{Name: "del", Arity: -2, Flags: Write, Since: "1.0.0", Summary: "Delete a key", ACL: []string{"keyspace", "write", "slow"}, Handler: delCmd}),
		kn(&Command{Name: "unlink", Arity: -2, Flags: Write | Fast, Since: "4.0.0", Summary: "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", ACL: wk, Handler: delCmd}),
		kn(&Command{Name: "exists", Arity: -2, Flags: ReadOnly | Fast, Since: "1.0.0", Summary: "Determine if a key exists", ACL: rk, Handler: existsCmd}),
		k1(&Command{Name: "type", Arity: 2, Flags: ReadOnly | Fast, Since: "1.0.0", Summary: "Determine the type stored at key", ACL: rk, Handler: typeCmd}),
		k1(&Command{Name: "expire", Arity: -3, Flags: Write | Fast, Since: "1.0.0", Summary: "Set a key's time to live in seconds", ACL: wk, Handler: expireCmd}),
		k1(&Command{Name: "pexpire", Arity: -3, Flags: Write | Fast, Since: "2.6.0", Summary: "Set a key's time to live in milliseconds", ACL: wk, Handler: pexpireCmd}),
		k1(&Command{Name: "expireat", Arity: -3, Flags: Write | Fast, Since: "1.2.0", Summary: "Set the expiration for a key as a UNIX timestamp", ACL: wk, Handler: expireatCmd}),
		k1(&Command{Name: "pexpireat", Arity: -3, Flags: Write | Fast, Since: "2.6.0", Summary: "Set the expiration for a key as a UNIX timestamp specified in milliseconds", ACL: wk, Handler: pexpireatCmd}),
		k1(&Command{Name: "ttl", Arity: 2, Flags: ReadOnly | Fast, Since: "1.0.0", Summary: "Get the time to live for a key in seconds", ACL: rk, Handler: ttlCmd}),
		k1(&Command{Name: "pttl", Arity: 2, Flags: ReadOnly | Fast, Since: "2.6.0", Summary: "Get the time to live for a key in milliseconds", ACL: rk, Handler: pttlCmd}),
		k1(&Command{Name: "expiretime", Arity: 2, Flags: ReadOnly | Fast, Since: "7.0.0", Summary: "Get the expiration Unix timestamp for a key", ACL: rk, Handler: expiretimeCmd}),
		k1(&Command{Name: "pexpiretime", Arity: 2, Flags: ReadOnly | Fast, Since: "7.0.0", Summary: "Get the expiration Unix timestamp for a key in milliseconds", ACL: rk, Handler: pexpiretimeCmd}),
		k1(&Command{Name: "persist", Arity: 2, Flags: Write | Fast, Since: "2.2.0", Summary: "Remove the expiration from a key", ACL: wk, Handler: persistCmd}),
		srv(&Command{Name: "flushdb", Arity: -1, Flags: Write, Since: "1.0.0", Summary: "Remove all keys from the current database", ACL: []string{"keyspace", "write", "slow", "dangerous"}, Handler: flushdbCmd}),
		srv(&Command{Name: "flushall", Arity: -1, Flags: Write, Since: "1.0.0", Summary: "Remove all keys from all databases", ACL: []string{"keyspace", "write", "slow", "dangerous"}, Handler: flushallCmd}),
	)
	_ = k2
}

// peekKey looks key up for a read that must not update the access time
// (Redis's LOOKUP_NOTOUCH), counting a keyspace hit or miss.
func peekKey(c *Ctx, db *keyspace.DB, key string) *keyspace.Object {
	o := db.Peek(key)
	if o == nil {
		c.e.stats.KeyspaceMisses++
	} else {
		c.e.stats.KeyspaceHits++
	}
	return o
}

// delCmd is DEL and UNLINK (ferry frees memory the same way for both).
func delCmd(c *Ctx) {
	n := 0
	for i := 1; i < len(c.Args); i++ {
		key := c.Arg(i)
		if c.DB.Exists(key) && c.DB.Delete(key) {
			n++
		}
	}
	if n > 0 {
		c.Propagate()
	}
	c.W.Int(int64(n))
}

func existsCmd(c *Ctx) {
	n := 0
	for i := 1; i < len(c.Args); i++ {
		if peekKey(c, c.DB, c.Arg(i)) != nil {
			n++
		}
	}
	c.W.Int(int64(n))
}

func typeCmd(c *Ctx) {
	o := peekKey(c, c.DB, c.Arg(1))
	if o == nil {
		c.W.Status("none")
		return
	}
	c.W.Status(o.Kind().String())
}

// Options of the EXPIRE family.
const (
	expireNX = 1 << iota
	expireXX
	expireGT
	expireLT
)

// parseExpireFlags parses EXPIRE's NX/XX/GT/LT options from Args[3:]
// (parseExtendedExpireArgumentsOrReply). Repeating an option is allowed.
func parseExpireFlags(c *Ctx) (int, bool) {
	flags := 0
	for j := 3; j < len(c.Args); j++ {
		switch a := c.Arg(j); {
		case eqFold(a, "nx"):
			flags |= expireNX
		case eqFold(a, "xx"):
			flags |= expireXX
		case eqFold(a, "gt"):
			flags |= expireGT
		case eqFold(a, "lt"):
			flags |= expireLT
		default:
			c.Error("ERR Unsupported option " + a)
			return 0, false
		}
	}
	if flags&expireNX != 0 && flags&(expireXX|expireGT|expireLT) != 0 {
		c.Error("ERR NX and XX, GT or LT options at the same time are not compatible")
		return 0, false
	}
	if flags&expireGT != 0 && flags&expireLT != 0 {
		c.Error("ERR GT and LT options at the same time are not compatible")
		return 0, false
	}
	return flags, true
}

func expireCmd(c *Ctx)    { expireGeneric(c, c.Now(), 1000) }
func pexpireCmd(c *Ctx)   { expireGeneric(c, c.Now(), 1) }
func expireatCmd(c *Ctx)  { expireGeneric(c, 0, 1000) }
func pexpireatCmd(c *Ctx) { expireGeneric(c, 0, 1) }

// expireGeneric is expireGenericCommand: the time argument, in units of
// unit milliseconds, is added to base (now for relative commands, 0 for
// absolute ones). Negative times are allowed; only overflow is an error.
func expireGeneric(c *Ctx, base, unit int64) {
	flags, ok := parseExpireFlags(c)
	if !ok {
		return
	}
	when, ok := c.Int(2)
	if !ok {
		return
	}
	bad := "ERR invalid expire time in '" + c.Cmd.Name + "' command"
	if unit != 1 {
		if when > math.MaxInt64/unit || when < math.MinInt64/unit {
			c.Error(bad)
			return
		}
		when *= unit
	}
	if when > math.MaxInt64-base {
		c.Error(bad)
		return
	}
	when += base

	key := c.Arg(1)
	o := c.DB.Get(key)
	if o == nil {
		c.W.Int(0)
		return
	}
	if flags != 0 {
		cur := o.Expire() // 0: none, an infinite TTL for GT and LT
		switch {
		case flags&expireNX != 0 && cur != 0,
			flags&expireXX != 0 && cur == 0,
			flags&expireGT != 0 && (cur == 0 || when <= cur),
			flags&expireLT != 0 && cur != 0 && when >= cur:
			c.W.Int(0)
			return
		}
	}
	if when <= c.Now() && c.DB.Keyspace().Mode == keyspace.ExpireDelete {
		// Already past on a master: delete now and say so (checkAlreadyExpired).
		c.DB.Delete(key)
		c.PropagateArgs(Bytes("DEL"), c.Args[1])
		c.W.Int(1)
		return
	}
	if when == 0 {
		// 0 means "no expiry" to the keyspace; -1 is just as past.
		when = -1
	}
	c.DB.SetExpire(key, when)
	c.Touch(key)
	if c.Cmd.Name == "pexpireat" {
		c.Propagate()
	} else {
		args := make([][]byte, 0, len(c.Args))
		args = append(args, Bytes("PEXPIREAT"), c.Args[1], FormatInt(when))
		c.PropagateArgs(append(args, c.Args[3:]...)...)
	}
	c.W.Int(1)
}

func ttlCmd(c *Ctx)         { ttlGeneric(c, false, false) }
func pttlCmd(c *Ctx)        { ttlGeneric(c, true, false) }
func expiretimeCmd(c *Ctx)  { ttlGeneric(c, false, true) }
func pexpiretimeCmd(c *Ctx) { ttlGeneric(c, true, true) }

// ttlGeneric is TTL, PTTL, EXPIRETIME and PEXPIRETIME: -2 for a missing
// key, -1 for no expiry; seconds are rounded to the nearest.
func ttlGeneric(c *Ctx, ms, abs bool) {
	o := peekKey(c, c.DB, c.Arg(1))
	if o == nil {
		c.W.Int(-2)
		return
	}
	if o.Expire() == 0 {
		c.W.Int(-1)
		return
	}
	ttl := o.Expire()
	if !abs {
		ttl -= c.Now()
	}
	if ttl < 0 {
		ttl = 0
	}
	if !ms {
		// Unsigned, as Redis's (ttl+500)/1000 comes out for a time near
		// the largest int64.
		ttl = int64((uint64(ttl) + 500) / 1000)
	}
	c.W.Int(ttl)
}

func persistCmd(c *Ctx) {
	key := c.Arg(1)
	o := c.DB.Get(key)
	if o == nil || o.Expire() == 0 {
		c.W.Int(0)
		return
	}
	c.DB.SetExpire(key, 0)
	c.Touch(key)
	c.Propagate()
	c.W.Int(1)
}

// flushArgs checks FLUSHDB/FLUSHALL's optional ASYNC or SYNC argument
// (ferry always flushes synchronously).
func flushArgs(c *Ctx) bool {
	if len(c.Args) > 2 || (len(c.Args) == 2 && !c.Is(1, "sync") && !c.Is(1, "async")) {
		c.Error(ErrSyntax)
		return false
	}
	return true
}

func flushdbCmd(c *Ctx) {
	if !flushArgs(c) {
		return
	}
	c.DB.Flush()
	c.Propagate()
	c.W.OK()
}

func flushallCmd(c *Ctx) {
	if !flushArgs(c) {
		return
	}
	c.DB.Keyspace().Flush()
	c.Propagate()
	c.W.OK()
}
