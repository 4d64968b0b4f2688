package command

import (
	"errors"

	"github.com/ferrydb/ferry/internal/keyspace"
)

// DUMP and RESTORE (cluster.c): a key's value as Redis's DUMP payload, the
// way migration tools (redis-shake, RIOT, redis-dump-go) move keys between
// servers. The payload format is RDB's, which lives in snapshot/rdb; this
// package, which may not import it, gets it through Config.Values.
//
// DUMP replies with ferry's own serialization of the value (the plain RDB
// types its snapshots use), which redis-server 7.0's RESTORE accepts;
// RESTORE takes every encoding redis-server 7.0 dumps.
//
// Effects, as Redis 7.0 propagates them: a RESTORE with a relative TTL goes
// out with the TTL made absolute and ABSTTL appended, otherwise as
// received, payload included (the master decoded it before it stored
// anything, and replicas decode it with the same code; its size is the
// request's, which the engine checks against what a log entry holds before
// the command runs). A RESTORE whose ABSTTL time has passed stores nothing
// and replies OK: it propagates DEL key when REPLACE deleted a key, and
// nothing otherwise. An expired key met by the BUSYKEY check goes out as
// its own DEL first. On a replica applying effects (and only there), a
// time already past is stored as it is, as a Redis replica does.
//
// Keyspace events: restore for a key stored, del for one REPLACE deleted
// when nothing is stored; DUMP's lookup raises keymiss.
//
// IDLETIME and FREQ are checked as Redis checks them and otherwise ignored:
// ferry keeps no LFU counter, and its idle time starts at the restore.

func init() {
	registrations = append(registrations, registerDump)
}

// ValueCodec turns one value into Redis's DUMP payload and back: the RDB
// value type byte and value, the RDB version it was written with (2 bytes,
// little endian) and the CRC-64/Jones of all that (8 bytes, little endian).
// snapshot/rdb implements it (rdb.Values). Its methods are called with the
// engine lock held and must not keep what they are given.
type ValueCodec interface {
	// Dump appends o's value as a DUMP payload to dst and returns the
	// result. It fails only for a value it cannot encode.
	Dump(dst []byte, o *keyspace.Object) ([]byte, error)
	// Restore decodes a DUMP payload into a string value (coll nil; str is
	// handed over, never aliasing payload) or a collection (not empty,
	// but for a stream) made with lim's encoding thresholds. Its error
	// wraps ErrDumpPayload when the payload is shorter than its footer, is
	// of a newer RDB version than redis-server 7.0's or fails its
	// checksum; any other error means the value is malformed.
	Restore(payload []byte, lim keyspace.Limits) (str []byte, coll keyspace.Collection, err error)
}

// ErrDumpPayload is wrapped by a ValueCodec's Restore when the payload's
// footer does not check out; its text is Redis's reply after "ERR ".
var ErrDumpPayload = errors.New("DUMP payload version or checksum are wrong")

// Error replies of DUMP and RESTORE.
const (
	errBusyKey      = "BUSYKEY Target key name already exists."
	errBadDump      = "ERR Bad data format"
	errRestoreTTL   = "ERR Invalid TTL value, must be >= 0"
	errRestoreIdle  = "ERR Invalid IDLETIME value, must be >= 0"
	errRestoreFreq  = "ERR Invalid FREQ value, must be >= 0 and <= 255"
	errNoValueCodec = "ERR ferry: DUMP and RESTORE are not available: this engine was built without a value codec (command.Config.Values)"
)

func registerDump(t *Table) {
	gen := func(c *Command) *Command {
		c.Group, c.Since, c.FirstKey, c.LastKey, c.Step = "generic", "2.6.0", 1, 1, 1
		return c
	}
	t.Add(
		gen(&Command{Name: "dump", Arity: 2, Flags: ReadOnly, Summary: "Returns a key's value serialized as RESTORE takes it.",
			ACL: []string{"keyspace", "read", "slow"}, Handler: dumpCmd}),
		gen(&Command{Name: "restore", Arity: -4, Flags: Write | DenyOOM, Summary: "Creates a key from a value serialized by DUMP.",
			ACL: []string{"keyspace", "write", "slow", "dangerous"}, Handler: restoreCmd}),
	)
}

func dumpCmd(c *Ctx) {
	codec := c.e.cfg.Values
	if codec == nil {
		c.Error(errNoValueCodec)
		return
	}
	o := c.Lookup(c.Arg(1))
	if o == nil {
		c.W.Null()
		return
	}
	p, err := codec.Dump(nil, o)
	if err != nil {
		c.Error("ERR " + err.Error())
		return
	}
	c.W.Bulk(p)
}

// restoreCmd is RESTORE key ttl serialized-value [REPLACE] [ABSTTL]
// [IDLETIME seconds] [FREQ frequency], checked in restoreCommand's order:
// options, the key's absence, the TTL, the payload's footer, its value.
func restoreCmd(c *Ctx) {
	codec := c.e.cfg.Values
	if codec == nil {
		c.Error(errNoValueCodec)
		return
	}
	replace, absttl := false, false
	idle, freq := int64(-1), int64(-1)
	for j := 4; j < len(c.Args); j++ {
		more := len(c.Args) - j - 1
		switch {
		case c.Is(j, "replace"):
			replace = true
		case c.Is(j, "absttl"):
			absttl = true
		case c.Is(j, "idletime") && more >= 1 && freq == -1:
			n, ok := c.Int(j + 1)
			if !ok {
				return
			}
			if n < 0 {
				c.Error(errRestoreIdle)
				return
			}
			idle = n
			j++
		case c.Is(j, "freq") && more >= 1 && idle == -1:
			n, ok := c.Int(j + 1)
			if !ok {
				return
			}
			if n < 0 || n > 255 {
				c.Error(errRestoreFreq)
				return
			}
			freq = n
			j++
		default:
			c.Error(ErrSyntax)
			return
		}
	}
	key := c.Arg(1)
	if !replace && c.DB.Get(key) != nil {
		c.Error(errBusyKey)
		return
	}
	ttl, ok := c.Int(2)
	if !ok {
		return
	}
	if ttl < 0 {
		c.Error(errRestoreTTL)
		return
	}
	str, coll, err := c.e.restorePayload(codec, c.Args[3], c.DB.Keyspace().Limits)
	switch {
	case errors.Is(err, ErrDumpPayload):
		c.Error("ERR " + ErrDumpPayload.Error())
		return
	case err != nil:
		c.Error(errBadDump)
		return
	}
	deleted := replace && c.DB.Delete(key)
	when := ttl
	if ttl != 0 && !absttl {
		// Wraps around past the largest time, as Redis's ttl+mstime()
		// does; the result is then in the past.
		when += c.Now()
	}
	if when != 0 && when <= c.Now() && c.DB.Keyspace().Mode == keyspace.ExpireDelete {
		// Already expired (checkAlreadyExpired): nothing is stored.
		if deleted {
			c.notify(notifyGeneric, "del", key)
			c.PropagateArgs(Bytes("DEL"), c.Args[1])
		}
		c.W.OK()
		return
	}
	if coll != nil {
		c.DB.SetCollection(key, coll, false)
	} else {
		c.DB.SetString(key, nil, false).SetStrOwned(str)
	}
	if when != 0 {
		if when < 0 {
			// A past time the keyspace can hold (0 means none).
			when = -1
		}
		c.DB.SetExpire(key, when)
	}
	c.Touch(key)
	c.notify(notifyGeneric, "restore", key)
	if when != 0 && !absttl {
		args := make([][]byte, 0, len(c.Args)+1)
		args = append(args, c.Args[0], c.Args[1], FormatInt(when))
		args = append(args, c.Args[3:]...)
		c.PropagateArgs(append(args, Bytes("ABSTTL"))...)
	} else {
		c.Propagate()
	}
	c.W.OK()
}
