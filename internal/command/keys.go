package command

import (
	"bytes"
	"math"
	"strconv"
	"strings"

	"github.com/ferrydb/ferry/internal/glob"
	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/num"
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
	ro := []string{"keyspace", "read", "slow"}
	obj := func(c *Command) *Command { c.FirstKey, c.LastKey, c.Step = 2, 2, 1; return gen(c) }
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
		k2(&Command{Name: "rename", Arity: 3, Flags: Write, Since: "1.0.0", Summary: "Rename a key", ACL: []string{"keyspace", "write", "slow"}, Handler: renameCmd}),
		k2(&Command{Name: "renamenx", Arity: 3, Flags: Write | Fast, Since: "1.0.0", Summary: "Rename a key, only if the new key does not exist", ACL: wk, Handler: renamenxCmd}),
		k1(&Command{Name: "move", Arity: 3, Flags: Write | Fast, Since: "1.0.0", Summary: "Move a key to another database", ACL: wk, Handler: moveCmd}),
		k2(&Command{Name: "copy", Arity: -3, Flags: Write | DenyOOM, Since: "6.2.0", Summary: "Copy a key", ACL: []string{"keyspace", "write", "slow"}, Handler: copyCmd}),
		gen(&Command{Name: "keys", Arity: 2, Flags: ReadOnly, Since: "1.0.0", Summary: "Find all keys matching the given pattern", ACL: []string{"keyspace", "read", "slow", "dangerous"}, Handler: keysCmd}),
		gen(&Command{Name: "scan", Arity: -2, Flags: ReadOnly, Since: "2.8.0", Summary: "Incrementally iterate the keys space", ACL: []string{"keyspace", "read", "slow"}, Handler: scanCmd}),
		gen(&Command{Name: "randomkey", Arity: 1, Flags: ReadOnly, Since: "1.0.0", Summary: "Return a random key from the keyspace", ACL: []string{"keyspace", "read", "slow"}, Handler: randomkeyCmd}),
		kn(&Command{Name: "touch", Arity: -2, Flags: ReadOnly | Fast, Since: "3.2.1", Summary: "Alters the last access time of a key(s). Returns the number of existing keys specified.", ACL: rk, Handler: touchCmd}),
		gen(&Command{Name: "object", Arity: -2, Since: "2.2.3", Summary: "A container for object introspection commands", ACL: []string{"slow"}}),
		gen(&Command{Name: "object|help", Arity: 2, Flags: Loading | Stale, Since: "6.2.0", Summary: "Show helpful text about the different subcommands", ACL: []string{"keyspace", "slow"}, Handler: objectHelpCmd}),
		obj(&Command{Name: "object|encoding", Arity: 3, Flags: ReadOnly, Since: "2.2.3", Summary: "Inspect the internal encoding of a Redis object", ACL: ro, Handler: objectEncodingCmd}),
		obj(&Command{Name: "object|freq", Arity: 3, Flags: ReadOnly, Since: "4.0.0", Summary: "Get the logarithmic access frequency counter of a Redis object", ACL: ro, Handler: objectFreqCmd}),
		obj(&Command{Name: "object|idletime", Arity: 3, Flags: ReadOnly, Since: "2.2.3", Summary: "Get the time since a Redis object was last accessed", ACL: ro, Handler: objectIdletimeCmd}),
		obj(&Command{Name: "object|refcount", Arity: 3, Flags: ReadOnly, Since: "2.2.3", Summary: "Get the number of references to the value of the key", ACL: ro, Handler: objectRefcountCmd}),
		srv(&Command{Name: "dbsize", Arity: 1, Flags: ReadOnly | Fast, Since: "1.0.0", Summary: "Return the number of keys in the selected database", ACL: rk, Handler: dbsizeCmd}),
		srv(&Command{Name: "swapdb", Arity: 3, Flags: Write | Fast, Since: "4.0.0", Summary: "Swaps two Redis databases", ACL: []string{"keyspace", "write", "fast", "dangerous"}, Handler: swapdbCmd}),
		srv(&Command{Name: "flushdb", Arity: -1, Flags: Write, Since: "1.0.0", Summary: "Remove all keys from the current database", ACL: []string{"keyspace", "write", "slow", "dangerous"}, Handler: flushdbCmd}),
		srv(&Command{Name: "flushall", Arity: -1, Flags: Write, Since: "1.0.0", Summary: "Remove all keys from all databases", ACL: []string{"keyspace", "write", "slow", "dangerous"}, Handler: flushallCmd}),
	)
}

// peekKey looks key up for a read that must not update the access time
// (Redis's LOOKUP_NOTOUCH), counting a keyspace hit or miss and raising
// keymiss.
func peekKey(c *Ctx, db *keyspace.DB, key string) *keyspace.Object {
	o := db.Peek(key)
	if o == nil {
		c.e.stats.KeyspaceMisses++
		c.notifyIn(db.Index(), notifyKeyMiss, "keymiss", key)
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
			c.notify(notifyGeneric, "del", key)
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
			c.Error("ERR Unsupported option " + cString(a)) // %s in Redis: up to a NUL
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
		c.notify(notifyGeneric, "del", key)
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
	c.notify(notifyGeneric, "expire", key)
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
	c.notify(notifyGeneric, "persist", key)
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
	flush(c.e, c.DB.Index())
	c.Propagate()
	c.W.OK()
}

func flushallCmd(c *Ctx) {
	if !flushArgs(c) {
		return
	}
	flush(c.e, -1)
	c.Propagate()
	c.W.OK()
}

// flush empties database db (every database when db is -1). A watched key
// that is stored breaks its transactions, except one that was already
// expired when WATCHed: deleting it changes nothing a client could see
// (Redis's touchAllWatchedKeysInDb with nothing to replace the database).
func flush(e *Engine, db int) {
	var final map[*Client]bool
	for dk, clients := range e.watching {
		if (db >= 0 && dk.db != db) || !e.ks.DB(dk.db).Stored(dk.key) {
			continue
		}
		if final == nil {
			final = make(map[*Client]bool)
		}
		for _, cl := range clients {
			dirty, seen := final[cl]
			if !seen {
				dirty = cl.dirtyCAS
			}
			if i := watchedExpiredIndex(cl, dk); i >= 0 {
				cl.watchedExpired = append(cl.watchedExpired[:i], cl.watchedExpired[i+1:]...)
			} else {
				dirty = true
			}
			final[cl] = dirty
		}
	}
	// Tracking clients get one null for the whole flush, not a key each.
	e.trackingFlush()
	e.trk.flushing = true
	if db >= 0 {
		e.ks.DB(db).Flush()
	} else {
		e.ks.Flush()
	}
	e.trk.flushing = false
	for cl, dirty := range final {
		cl.dirtyCAS = dirty
	}
}

const (
	errSameObject = "ERR source and destination objects are the same"
	errIntRange   = "ERR value is out of range, value must between -2147483648 and 2147483647"
	errNoLFU      = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."
)

// intArg parses argument i as a C int (getIntFromObjectOrReply); msg, when
// set, replaces both of its errors.
func intArg(c *Ctx, i int, msg string) (int, bool) {
	n, ok := num.ParseInt(c.Args[i])
	switch {
	case !ok && msg == "":
		c.Error(ErrNotInt)
	case ok && (n < math.MinInt32 || n > math.MaxInt32) && msg == "":
		c.Error(errIntRange)
	case !ok || n < math.MinInt32 || n > math.MaxInt32:
		c.Error(msg)
	default:
		return int(n), true
	}
	return 0, false
}

// dbArg parses argument i as a database number for MOVE and COPY.
func dbArg(c *Ctx, i int) (*keyspace.DB, bool) {
	id, ok := intArg(c, i, "")
	if !ok {
		return nil, false
	}
	if id < 0 || id >= keyspace.NumDBs {
		c.Error(ErrDBRange)
		return nil, false
	}
	return c.DB.Keyspace().DB(id), true
}

func renameCmd(c *Ctx)   { renameGeneric(c, false) }
func renamenxCmd(c *Ctx) { renameGeneric(c, true) }

func renameGeneric(c *Ctx, nx bool) {
	src, dst := c.Arg(1), c.Arg(2)
	if c.DB.Get(src) == nil {
		c.Error(ErrNoSuchKey)
		return
	}
	if src == dst {
		// Nothing to do, but the key had to exist.
		if nx {
			c.W.Int(0)
		} else {
			c.W.OK()
		}
		return
	}
	if c.DB.Get(dst) != nil && nx {
		c.W.Int(0)
		return
	}
	c.DB.Rename(src, dst)
	c.Touch(src)
	c.Touch(dst)
	c.notify(notifyGeneric, "rename_from", src)
	c.notify(notifyGeneric, "rename_to", dst)
	c.Propagate()
	if nx {
		c.W.Int(1)
	} else {
		c.W.OK()
	}
}

func moveCmd(c *Ctx) {
	dst, ok := dbArg(c, 2)
	if !ok {
		return
	}
	if dst == c.DB {
		c.Error(errSameObject)
		return
	}
	key := c.Arg(1)
	if c.DB.Get(key) == nil || dst.Get(key) != nil {
		c.W.Int(0)
		return
	}
	c.DB.MoveTo(key, dst)
	c.Touch(key)
	c.TouchIn(dst.Index(), key)
	c.notify(notifyGeneric, "move_from", key)
	c.notifyIn(dst.Index(), notifyGeneric, "move_to", key)
	c.Propagate()
	c.W.Int(1)
}

// copyCmd is COPY source destination [DB n] [REPLACE]. A collection is
// deep-copied with Clone; the expiry goes along.
func copyCmd(c *Ctx) {
	dst, replace := c.DB, false
	for j := 3; j < len(c.Args); j++ {
		switch {
		case c.Is(j, "replace"):
			replace = true
		case c.Is(j, "db") && j+1 < len(c.Args):
			db, ok := dbArg(c, j+1)
			if !ok {
				return
			}
			dst = db
			j++
		default:
			c.Error(ErrSyntax)
			return
		}
	}
	key, newkey := c.Arg(1), c.Arg(2)
	if dst == c.DB && key == newkey {
		c.Error(errSameObject)
		return
	}
	o := c.Lookup(key)
	if o == nil {
		c.W.Int(0)
		return
	}
	if dst.Get(newkey) != nil && !replace {
		c.W.Int(0)
		return
	}
	exp, coll, str := o.Expire(), o.Collection(), o.Str()
	if coll != nil {
		coll = coll.Clone()
	}
	// Like Redis, a replaced destination is deleted and added again (so
	// it raises new).
	dst.Delete(newkey)
	if coll != nil {
		dst.SetCollection(newkey, coll, false)
	} else {
		dst.SetString(newkey, str, false)
	}
	if exp != 0 {
		dst.SetExpire(newkey, exp)
	}
	c.TouchIn(dst.Index(), newkey)
	c.notifyIn(dst.Index(), notifyGeneric, "copy_to", newkey)
	c.Propagate()
	c.W.Int(1)
}

func swapdbCmd(c *Ctx) {
	id1, ok := intArg(c, 1, "ERR invalid first DB index")
	if !ok {
		return
	}
	id2, ok := intArg(c, 2, "ERR invalid second DB index")
	if !ok {
		return
	}
	if id1 < 0 || id1 >= keyspace.NumDBs || id2 < 0 || id2 >= keyspace.NumDBs {
		c.Error(ErrDBRange)
		return
	}
	if id1 != id2 {
		swapWatched(c.e, id1, id2)
		c.DB.Keyspace().Swap(id1, id2)
		swapReady(c.e, id1, id2)
	}
	c.Propagate()
	c.W.OK()
}

// swapWatched marks the transactions that SWAPDB a b (about to run)
// breaks, as Redis's touchAllWatchedKeysInDb does for both databases: a
// watched key stored in either database is touched, unless all the client
// can see is a key expired before and after (an expired key counts as
// absent).
func swapWatched(e *Engine, a, b int) {
	ks := e.ks
	for dk, clients := range e.watching {
		if dk.db != a && dk.db != b {
			continue
		}
		other := a
		if dk.db == a {
			other = b
		}
		emptied, repl := ks.DB(dk.db), ks.DB(other)
		inEmptied, inRepl := emptied.Stored(dk.key), repl.Stored(dk.key)
		if !inEmptied && !inRepl {
			continue
		}
		for _, cl := range clients {
			switch i := watchedExpiredIndex(cl, dk); {
			case i >= 0 && !inRepl:
				// The expired key goes away: no change, and it is no longer
				// an expired key.
				cl.watchedExpired = append(cl.watchedExpired[:i], cl.watchedExpired[i+1:]...)
				continue
			case i >= 0 && repl.IsExpiredKey(dk.key):
				continue
			case i < 0 && !inEmptied && repl.IsExpiredKey(dk.key):
				// Nothing replaced by an expired key: still nothing.
				cl.watchedExpired = append(cl.watchedExpired, dk)
				continue
			}
			cl.dirtyCAS = true
		}
	}
}

func watchedExpiredIndex(cl *Client, dk dbKey) int {
	for i, x := range cl.watchedExpired {
		if x == dk {
			return i
		}
	}
	return -1
}

// swapReady retries the clients blocked on a key of database a or b.
func swapReady(e *Engine, a, b int) {
	for dk := range e.blocked {
		// Keys that are gone count too: a blocked XREADGROUP whose
		// stream the swap took away ends (Redis's
		// scanDatabaseForDeletedStreams); other waits go on waiting. A
		// key stored but expired is not retried: the retry's lookup
		// would delete it and log a DEL outside any command.
		db := e.ks.DB(dk.db)
		if (dk.db == a || dk.db == b) && (!db.Stored(dk.key) || !db.IsExpiredKey(dk.key)) {
			e.signalReady(dk.db, dk.key)
		}
	}
}

func keysCmd(c *Ctx) {
	pat := c.Arg(1)
	all := pat == "*"
	var out []string
	c.DB.Range(func(key string, o *keyspace.Object) bool {
		if (all || glob.Match(pat, key)) && !c.DB.IsExpired(o) {
			out = append(out, key)
		}
		return true
	})
	c.W.Array(len(out))
	for _, k := range out {
		c.W.BulkString(k)
	}
}

// parseScanCursor reads a SCAN cursor the way Redis's strtoul call does:
// an optional sign (a negative cursor wraps around), decimal digits, and
// nothing else; the empty string is cursor 0. Like a C string, the
// argument ends at a NUL byte.
func parseScanCursor(b []byte) (uint64, bool) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) == 0 {
		return 0, true
	}
	neg := false
	if b[0] == '+' || b[0] == '-' {
		neg = b[0] == '-'
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	var v uint64
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		d := uint64(ch - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if neg {
		v = -v
	}
	return v, true
}

// scanCmd is SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
// (scanGenericCommand): it walks buckets until COUNT keys were gathered
// (or 10*COUNT buckets were visited), then filters them by pattern, type
// and expiry. Expired keys are deleted on a master, as lookups do.
func scanCmd(c *Ctx) {
	cursor, ok := parseScanCursor(c.Args[1])
	if !ok {
		c.Error("ERR invalid cursor")
		return
	}
	count := int64(10)
	var pat, typ string
	usePat, useType := false, false
	for i := 2; i < len(c.Args); i += 2 {
		more := i+1 < len(c.Args)
		switch {
		case c.Is(i, "count") && more:
			n, ok := c.Int(i + 1)
			if !ok {
				return
			}
			if n < 1 {
				c.Error(ErrSyntax)
				return
			}
			count = n
		case c.Is(i, "match") && more:
			pat = c.Arg(i + 1)
			usePat = pat != "*"
		case c.Is(i, "type") && more:
			typ = c.Arg(i + 1)
			useType = true
		default:
			c.Error(ErrSyntax)
			return
		}
	}

	var keys []string
	collect := func(key string, _ *keyspace.Object) { keys = append(keys, key) }
	for maxIter := count * 10; ; maxIter-- {
		cursor = c.DB.Scan(cursor, collect)
		if cursor == 0 || maxIter == 0 || int64(len(keys)) >= count {
			break
		}
	}

	out := keys[:0]
	for _, k := range keys {
		if usePat && !glob.Match(pat, k) {
			continue
		}
		if useType {
			o := peekKey(c, c.DB, k)
			name := "none"
			if o != nil {
				name = o.Kind().String()
			}
			if !strings.EqualFold(cString(typ), name) { // strcasecmp
				continue
			}
			if o == nil && !c.DB.Stored(k) {
				// The lookup has just deleted it as expired: Redis's
				// expiry check then finds no key and keeps it (TYPE none).
				out = append(out, k)
				continue
			}
		}
		if c.DB.ExpireIfNeeded(k) {
			continue
		}
		out = append(out, k)
	}

	c.W.Array(2)
	c.W.BulkString(strconv.FormatUint(cursor, 10))
	c.W.Array(len(out))
	for _, k := range out {
		c.W.BulkString(k)
	}
}

func randomkeyCmd(c *Ctx) {
	key, ok := c.DB.RandomKey()
	if !ok {
		c.W.Null()
		return
	}
	c.W.BulkString(key)
}

func touchCmd(c *Ctx) {
	n := 0
	for i := 1; i < len(c.Args); i++ {
		if c.Lookup(c.Arg(i)) != nil {
			n++
		}
	}
	c.W.Int(int64(n))
}

func dbsizeCmd(c *Ctx) { c.W.Int(int64(c.DB.Len())) }

var objectHelp = []string{
	"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"ENCODING <key>",
	"    Return the kind of internal representation used in order to store the value",
	"    associated with a <key>.",
	"FREQ <key>",
	"    Return the access frequency index of the <key>. The returned integer is",
	"    proportional to the logarithm of the recent access frequency of the key.",
	"IDLETIME <key>",
	"    Return the idle time of the <key>, that is the approximated number of",
	"    seconds elapsed since the last access to the key.",
	"REFCOUNT <key>",
	"    Return the number of references of the value associated with the specified",
	"    <key>.",
	"HELP",
	"    Prints this help.",
}

func objectHelpCmd(c *Ctx) {
	c.W.Array(len(objectHelp))
	for _, l := range objectHelp {
		c.W.Status(l)
	}
}

// objectLookup finds OBJECT's key without touching it, replying null when
// it is missing.
func objectLookup(c *Ctx) *keyspace.Object {
	// Counted, but raising no keymiss (LOOKUP_NONOTIFY).
	o := c.DB.Peek(c.Arg(2))
	if o == nil {
		c.e.stats.KeyspaceMisses++
		c.W.Null()
	} else {
		c.e.stats.KeyspaceHits++
	}
	return o
}

func objectEncodingCmd(c *Ctx) {
	if o := objectLookup(c); o != nil {
		c.W.BulkString(o.Encoding())
	}
}

// sharedRefcount is what Redis reports for its shared integer objects
// (0 to 9999), which every int-encoded string in that range is.
const sharedRefcount = math.MaxInt32

func objectRefcountCmd(c *Ctx) {
	o := objectLookup(c)
	if o == nil {
		return
	}
	if o.Kind() == keyspace.KindString && o.Encoding() == "int" {
		if n, ok := num.ParseInt(o.Str()); ok && n >= 0 && n < 10000 {
			c.W.Int(sharedRefcount)
			return
		}
	}
	c.W.Int(1)
}

func objectIdletimeCmd(c *Ctx) {
	o := objectLookup(c)
	if o == nil {
		return
	}
	idle := (c.Now() - o.Access(c.DB.Keyspace())) / 1000
	if idle < 0 {
		idle = 0
	}
	c.W.Int(idle)
}

// objectFreqCmd answers as Redis does without an LFU maxmemory policy,
// which ferry does not have.
func objectFreqCmd(c *Ctx) {
	if objectLookup(c) != nil {
		c.Error(errNoLFU)
	}
}
