package command

import (
	"strconv"
	"unsafe"

	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/num"
	"github.com/ferrydb/ferry/internal/resp"
)

// Ctx is what a handler sees of one command execution.
type Ctx struct {
	e      *Engine
	Client *Client
	// Args are the command's arguments, Args[0] its name. They alias the
	// network buffer: copy what must outlive the handler.
	Args [][]byte
	W    *resp.Writer
	DB   *keyspace.DB
	Cmd  *Command
}

// Engine returns the engine running the command.
func (c *Ctx) Engine() *Engine { return c.e }

// Error replies with an error; msg is the full text ("ERR ...").
func (c *Ctx) Error(msg string) { c.W.Error(msg) }

// Arg returns argument i as a string view of the buffer (not to be retained).
func (c *Ctx) Arg(i int) string { return view(c.Args[i]) }

// view returns b as a string without copying; it must not outlive b.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// Is reports whether argument i is word (in lower case) as Redis's
// strcasecmp sees it: ASCII letters in any case, up to a NUL byte, so
// "NX\x00junk" is NX (eqFold).
func (c *Ctx) Is(i int, word string) bool { return eqFold(view(c.Args[i]), word) }

// Now returns the unit's time in unix milliseconds.
func (c *Ctx) Now() int64 { return c.DB.Keyspace().Now() }

// Propagate records the command as received as its effect.
func (c *Ctx) Propagate() { c.e.eff.add(c.DB.Index(), c.Args...) }

// PropagateArgs records a rewritten command as the effect, in the client's
// database.
func (c *Ctx) PropagateArgs(args ...[]byte) { c.e.eff.add(c.DB.Index(), args...) }

// PropagateIn records a command executed in database db as an effect.
func (c *Ctx) PropagateIn(db int, args ...[]byte) { c.e.eff.add(db, args...) }

// Touch signals that key was modified (WATCH). Handlers call it for every
// key a write changes in place; replacing or deleting a key signals itself.
func (c *Ctx) Touch(key string) {
	if len(c.e.watching) > 0 {
		c.e.touchWatched(c.DB.Index(), key)
	}
	if c.e.trackingActive() {
		c.e.invalidateKey(key, true)
	}
}

// TouchIn is Touch for a key in database db.
func (c *Ctx) TouchIn(db int, key string) {
	if len(c.e.watching) > 0 {
		c.e.touchWatched(db, key)
	}
	if c.e.trackingActive() {
		c.e.invalidateKey(key, true)
	}
}

// Lookup returns key's object for reading, counting a keyspace hit or miss
// (and raising keymiss).
func (c *Ctx) Lookup(key string) *keyspace.Object {
	o := c.DB.Get(key)
	if o == nil {
		c.e.stats.KeyspaceMisses++
		c.keyMiss(key)
	} else {
		c.e.stats.KeyspaceHits++
	}
	return o
}

// LookupKind returns key's object when it holds kind. It returns nil, true
// when the key is missing, and nil, false after replying WRONGTYPE.
func (c *Ctx) LookupKind(key string, kind keyspace.Kind) (*keyspace.Object, bool) {
	o := c.Lookup(key)
	if o == nil {
		return nil, true
	}
	if o.Kind() != kind {
		c.W.Error(ErrWrongType)
		return nil, false
	}
	return o, true
}

// LookupWrite is LookupKind for a write: no hit or miss is counted.
func (c *Ctx) LookupWrite(key string, kind keyspace.Kind) (*keyspace.Object, bool) {
	o := c.DB.Get(key)
	if o == nil {
		return nil, true
	}
	if o.Kind() != kind {
		c.W.Error(ErrWrongType)
		return nil, false
	}
	return o, true
}

// lookupAs returns key's collection, of type T and kind, for reading
// (counting a keyspace hit or miss) or for writing: nil, true when the key
// is missing; nil, false after replying WRONGTYPE.
func lookupAs[T keyspace.Collection](c *Ctx, key string, kind keyspace.Kind, write bool) (T, bool) {
	var (
		zero T
		o    *keyspace.Object
		ok   bool
	)
	if write {
		o, ok = c.LookupWrite(key, kind)
	} else {
		o, ok = c.LookupKind(key, kind)
	}
	if o == nil {
		return zero, ok
	}
	return o.Collection().(T), true
}

// Int parses argument i as an integer, replying ErrNotInt when it is not.
func (c *Ctx) Int(i int) (int64, bool) {
	n, ok := num.ParseInt(c.Args[i])
	if !ok {
		c.W.Error(ErrNotInt)
	}
	return n, ok
}

// IntRange parses argument i as an integer in [lo, hi], replying msg (or
// ErrNotInt when msg is empty) otherwise.
func (c *Ctx) IntRange(i int, lo, hi int64, msg string) (int64, bool) {
	n, ok := num.ParseInt(c.Args[i])
	if !ok || n < lo || n > hi {
		if msg == "" || !ok {
			msg = ErrNotInt
		}
		c.W.Error(msg)
		return 0, false
	}
	return n, true
}

// Float parses argument i as a float with Redis's rules, replying
// ErrNotFloat when it is not one.
func (c *Ctx) Float(i int) (float64, bool) {
	f, ok := num.ParseFloat(c.Args[i])
	if !ok {
		c.W.Error(ErrNotFloat)
	}
	return f, ok
}

// FormatInt returns n in decimal.
func FormatInt(n int64) []byte { return strconv.AppendInt(nil, n, 10) }

// Bytes returns s as bytes.
func Bytes(s string) []byte { return []byte(s) }

// clampIndexes converts Redis start/end indexes (negative from the end) for
// a sequence of n elements into [start, end], reporting false when empty.
func clampIndexes(start, end int64, n int) (int, int, bool) {
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

// helpReply writes a HELP reply: a header line, the given lines, and the
// closing HELP entry, as status strings.
func helpReply(c *Ctx, name string, lines ...string) {
	c.W.Array(len(lines) + 3)
	c.W.Status(name + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, l := range lines {
		c.W.Status(l)
	}
	c.W.Status("HELP")
	c.W.Status("    Prints this help.")
}

// millis parses argument i as a timeout in milliseconds (WAIT, CLIENT
// PAUSE, XREAD's BLOCK), replying Redis's error when it is not an integer
// or is negative.
func (c *Ctx) millis(i int) (int64, bool) {
	ms, ok := num.ParseInt(c.Args[i])
	switch {
	case !ok:
		c.Error(ErrTimeoutNotInt)
		return 0, false
	case ms < 0:
		c.Error(ErrTimeoutNegative)
		return 0, false
	}
	return ms, true
}
