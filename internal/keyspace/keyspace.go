// Package keyspace holds ferry's data: 16 databases of strings, lists,
// hashes, sets and sorted sets with expiry. It is a deterministic state
// machine: no network, no logging, and time comes from an injected clock.
//
// Ownership: every method copies the bytes it retains, so callers may pass
// views of a reused network buffer. A Keyspace is not safe for concurrent
// use; the engine serializes access to it.
package keyspace

import (
	"time"

	"github.com/ferrydb/ferry/internal/dict"
	"github.com/ferrydb/ferry/internal/num"
)

// NumDBs is the number of databases, as Redis's default "databases 16".
const NumDBs = 16

// Kind is a value's type, numbered as Redis's OBJ_* constants (the numbers
// enter DEBUG DIGEST and RDB).
type Kind uint8

// The kinds of value.
const (
	KindString Kind = 0
	KindList   Kind = 1
	KindSet    Kind = 2
	KindZSet   Kind = 3
	KindHash   Kind = 4
	KindStream Kind = 6
)

// String returns the name TYPE replies with.
func (k Kind) String() string {
	switch k {
	case KindString:
		return "string"
	case KindList:
		return "list"
	case KindSet:
		return "set"
	case KindZSet:
		return "zset"
	case KindHash:
		return "hash"
	case KindStream:
		return "stream"
	}
	return "none"
}

// Collection is a list, hash, set or sorted set value.
type Collection interface {
	// Kind returns the value's type.
	Kind() Kind
	// Len returns the number of elements; an empty collection is never stored.
	Len() int
	// Encoding returns what OBJECT ENCODING replies for it.
	Encoding() string
	// Digest mixes the value's elements into d as Redis's DEBUG DIGEST does.
	Digest(d *Digest)
	// Clone returns a deep copy (COPY).
	Clone() Collection
}

// Limits are the encoding thresholds of Redis's config (hash-max-listpack-entries
// and friends). Small collections use a compact, ordered encoding, which
// also fixes the order in which Redis replies with their elements.
type Limits struct {
	HashMaxListpackEntries int
	HashMaxListpackValue   int
	SetMaxIntsetEntries    int
	ZSetMaxListpackEntries int
	ZSetMaxListpackValue   int
	ListMaxListpackSize    int
}

// DefaultLimits are Redis 7.0's defaults.
var DefaultLimits = Limits{
	HashMaxListpackEntries: 512, // the compiled-in default (redis.conf says 128)
	HashMaxListpackValue:   64,
	SetMaxIntsetEntries:    512,
	ZSetMaxListpackEntries: 128,
	ZSetMaxListpackValue:   64,
	ListMaxListpackSize:    -2,
}

// ExpireMode says what a lookup does with a key whose time has passed.
type ExpireMode uint8

// Expire modes.
const (
	// ExpireDelete deletes expired keys on access and reports them through
	// OnExpire (a master).
	ExpireDelete ExpireMode = iota
	// ExpireHide hides expired keys from lookups but keeps them (a replica
	// serving reads: the master's DEL removes them).
	ExpireHide
	// ExpireIgnore treats expired keys as present (a replica applying the
	// master's effects).
	ExpireIgnore
)

// Keyspace is the whole dataset: NumDBs databases and a clock.
type Keyspace struct {
	dbs   [NumDBs]*DB
	clock func() time.Time
	now   int64 // unix ms, fixed for the duration of a unit

	// Mode is how lookups treat expired keys.
	Mode ExpireMode
	// Limits are the encoding thresholds (CONFIG SET may change them).
	Limits Limits
	// OnExpire is called when a lookup or the active cycle deletes an
	// expired key, before the key is gone (a master propagates a DEL).
	OnExpire func(db int, key string)
	// OnDelete is called whenever a key is removed or replaced wholesale
	// (for WATCH bookkeeping); it may be nil.
	OnDelete func(db int, key string)
	// OnAdd is called when a key is created (to wake clients blocked on
	// it); it may be nil.
	OnAdd func(db int, key string)

	start int64
	epoch uint32 // the newest cut's
	cut   *Cut   // the running cut, if any
}

// New returns an empty keyspace that reads time from clock (time.Now when nil).
func New(clock func() time.Time) *Keyspace {
	if clock == nil {
		clock = time.Now
	}
	ks := &Keyspace{clock: clock, Limits: DefaultLimits}
	for i := range ks.dbs {
		ks.dbs[i] = newDB(ks, i)
	}
	ks.Tick()
	ks.start = ks.now
	return ks
}

// Tick reads the clock. The engine calls it once per command or transaction
// so that a unit of work sees one instant, as Redis does.
func (ks *Keyspace) Tick() { ks.now = ks.clock().UnixMilli() }

// Now returns the current unit's time in unix milliseconds.
func (ks *Keyspace) Now() int64 { return ks.now }

// SetClock replaces the clock (tests move time without sleeping).
func (ks *Keyspace) SetClock(clock func() time.Time) { ks.clock = clock; ks.Tick() }

// DB returns database i (0 <= i < NumDBs).
func (ks *Keyspace) DB(i int) *DB { return ks.dbs[i] }

// Swap exchanges the contents of databases i and j (SWAPDB).
func (ks *Keyspace) Swap(i, j int) {
	a, b := ks.dbs[i], ks.dbs[j]
	a.keys, b.keys = b.keys, a.keys
	a.expires, b.expires = b.expires, a.expires
	a.expireCursor, b.expireCursor = 0, 0
}

// Flush empties every database.
func (ks *Keyspace) Flush() {
	for _, db := range ks.dbs {
		db.Flush()
	}
}

// Object is one key's value and metadata.
type Object struct {
	str    []byte
	coll   Collection
	expire int64  // unix ms; 0 means no expiry
	access uint32 // seconds since the keyspace started, for OBJECT IDLETIME
	cut    uint32 // epoch of the newest cut that has seen it (fills padding)
}

// Kind returns the value's type.
func (o *Object) Kind() Kind {
	if o.coll == nil {
		return KindString
	}
	return o.coll.Kind()
}

// Str returns a string value's bytes, never nil (an empty string is not a
// missing value). The caller must not retain or modify them.
func (o *Object) Str() []byte {
	if o.str == nil {
		return []byte{}
	}
	return o.str
}

// SetStr replaces the value with a copy of b (a string).
func (o *Object) SetStr(b []byte) {
	o.coll = nil
	if c := cap(o.str); c >= len(b) && c <= 2*len(b)+16 {
		// Overwriting a value of about the same size (SET on an existing
		// key, INCR) reuses its memory instead of leaving garbage.
		o.str = append(o.str[:0], b...)
		return
	}
	o.str = append(o.str[:0:0], b...)
}

// SetStrOwned replaces the value with b, which the caller hands over.
func (o *Object) SetStrOwned(b []byte) {
	o.coll = nil
	o.str = b
}

// Collection returns the value when it is not a string.
func (o *Object) Collection() Collection { return o.coll }

// Expire returns the expiry time in unix ms, or 0.
func (o *Object) Expire() int64 { return o.expire }

// Access returns the last access time in unix ms (second resolution).
func (o *Object) Access(ks *Keyspace) int64 { return ks.start + int64(o.access)*1000 }

// Encoding returns what OBJECT ENCODING replies for the value.
func (o *Object) Encoding() string {
	if o.coll != nil {
		return o.coll.Encoding()
	}
	return StringEncoding(o.str)
}

// StringEncoding returns Redis's encoding name for a string value.
func StringEncoding(b []byte) string {
	if len(b) <= 20 {
		if _, ok := num.ParseInt(b); ok {
			return "int"
		}
	}
	if len(b) <= 44 {
		return "embstr"
	}
	return "raw"
}

// DB is one numbered database.
type DB struct {
	ks           *Keyspace
	index        int
	keys         *dict.Dict[Object]
	expires      *dict.Dict[struct{}]
	expireCursor uint64
}

func newDB(ks *Keyspace, i int) *DB {
	return &DB{ks: ks, index: i, keys: dict.New[Object](), expires: dict.New[struct{}]()}
}

// Index returns the database number.
func (db *DB) Index() int { return db.index }

// Keyspace returns the keyspace db belongs to.
func (db *DB) Keyspace() *Keyspace { return db.ks }

// Len returns the number of keys, expired ones not yet deleted included.
func (db *DB) Len() int { return db.keys.Len() }

// Touch reads ahead where keys are in db, so that commands on them about
// to run find them in the cache (dict.Dict.Touch).
func (db *DB) Touch(keys [][]byte) { db.keys.Touch(keys, touchValue) }

// touchFieldsMin is the size of a hash or set below which TouchFields
// leaves it alone: its table mostly stays in the cache.
const touchFieldsMin = 1 << 14

// TouchFields reads ahead, as Touch does for keys, where fields[i] is in
// the hash or set that keys[i] names, for each run of two or more
// requests on one key that holds a large hash or set (a pipeline of HSET,
// HGET, SADD or SISMEMBER on one big collection): the lookups of its
// fields then overlap their cache misses. A nil field, a key that holds
// something else, or one that is absent, costs a lookup and changes
// nothing. Expiry is not looked at: reading ahead only warms the cache.
func (db *DB) TouchFields(keys, fields [][]byte) {
	for i := 0; i < len(keys) && i < len(fields); {
		j := i + 1
		for j < len(keys) && j < len(fields) && string(keys[j]) == string(keys[i]) {
			j++
		}
		if j-i > 1 {
			if o := db.keys.Get(memberView(keys[i])); o != nil {
				switch c := o.coll.(type) {
				case *Hash:
					if c.ht != nil && c.ht.Len() >= touchFieldsMin {
						c.ht.Touch(fields[i:j], touchHashValue)
					}
				case *Set:
					if c.ht != nil && c.ht.Len() >= touchFieldsMin {
						c.ht.Touch(fields[i:j], nil)
					}
				}
			}
		}
		i = j
	}
}

func touchHashValue(v *[]byte) uintptr {
	if len(*v) > 0 {
		return uintptr((*v)[0])
	}
	return 0
}

func touchValue(o *Object) uintptr {
	if len(o.str) > 0 {
		return uintptr(o.str[0])
	}
	return 0
}

// Expires returns the number of keys with an expiry.
func (db *DB) Expires() int { return db.expires.Len() }

// expired reports whether o's time has passed: like Redis, a key expires
// once now is past its expiry time, not at it.
func (db *DB) expired(o *Object) bool {
	return o.expire != 0 && o.expire < db.ks.now
}

// Get looks key up, applying the keyspace's expire mode, and updates its
// access time. It returns nil when the key does not exist (or is expired).
func (db *DB) Get(key string) *Object {
	o := db.keys.Get(key)
	if o == nil {
		return nil
	}
	if db.ks.cut != nil {
		db.ks.save(db.keys, key, o)
	}
	if db.expired(o) {
		switch db.ks.Mode {
		case ExpireDelete:
			db.expireKey(key)
			return nil
		case ExpireHide:
			return nil
		}
	}
	o.access = uint32((db.ks.now - db.ks.start) / 1000)
	return o
}

// Peek looks key up like Get without touching its access time.
func (db *DB) Peek(key string) *Object {
	o := db.keys.Get(key)
	if o == nil {
		return nil
	}
	if db.ks.cut != nil {
		db.ks.save(db.keys, key, o)
	}
	if db.expired(o) {
		switch db.ks.Mode {
		case ExpireDelete:
			db.expireKey(key)
			return nil
		case ExpireHide:
			return nil
		}
	}
	return o
}

// Exists reports whether key exists, without touching it.
func (db *DB) Exists(key string) bool { return db.Peek(key) != nil }

// expireKey deletes an expired key and reports it.
func (db *DB) expireKey(key string) {
	if db.ks.OnExpire != nil {
		db.ks.OnExpire(db.index, key)
	}
	db.Delete(key)
}

// SetString stores a copy of val under key, replacing any value. The expiry
// is cleared unless keepTTL is set.
func (db *DB) SetString(key string, val []byte, keepTTL bool) *Object {
	o := db.put(key, keepTTL)
	o.SetStr(val)
	return o
}

// SetCollection stores c under key, replacing any value; the expiry is
// cleared unless keepTTL is set. c is handed over.
func (db *DB) SetCollection(key string, c Collection, keepTTL bool) *Object {
	o := db.put(key, keepTTL)
	o.str = nil
	o.coll = c
	return o
}

// Restore adds key with a string value (c nil) or a collection, the way a
// snapshot loader does: key, str and c are handed over, not copied. It
// reports false, changing nothing, when key exists already.
func (db *DB) Restore(key string, str []byte, c Collection) bool {
	o, created := db.keys.PutOwned(key)
	if !created {
		return false
	}
	db.added(key, o)
	o.str, o.coll = str, c
	o.access = uint32((db.ks.now - db.ks.start) / 1000)
	return true
}

// added readies the object of a key just added to the table.
func (db *DB) added(key string, o *Object) {
	db.ks.fresh(o)
	if db.ks.OnAdd != nil {
		db.ks.OnAdd(db.index, key)
	}
}

func (db *DB) put(key string, keepTTL bool) *Object {
	o, created := db.keys.Put(key)
	if created {
		db.added(key, o)
	} else {
		if db.ks.cut != nil {
			db.ks.save(db.keys, key, o)
		}
		if db.ks.OnDelete != nil {
			db.ks.OnDelete(db.index, key)
		}
		// Applying effects (ExpireIgnore), a kept TTL is kept whatever the
		// clock says: the master decided, maybe long before.
		if o.expire != 0 && (!keepTTL || db.ks.Mode != ExpireIgnore && db.expired(o)) {
			o.expire = 0
			db.expires.Delete(key)
		}
	}
	o.access = uint32((db.ks.now - db.ks.start) / 1000)
	return o
}

// Delete removes key and reports whether it existed (expired or not).
func (db *DB) Delete(key string) bool {
	o, ok := db.keys.Delete(key)
	if !ok {
		return false
	}
	if db.ks.cut != nil {
		db.ks.save(db.keys, key, &o)
	}
	if o.expire != 0 {
		db.expires.Delete(key)
	}
	if db.ks.OnDelete != nil {
		db.ks.OnDelete(db.index, key)
	}
	return true
}

// SetExpire sets key's expiry to at (unix ms); at == 0 removes it. The key
// must exist.
func (db *DB) SetExpire(key string, at int64) {
	o := db.keys.Get(key)
	if o == nil {
		return
	}
	if db.ks.cut != nil {
		db.ks.save(db.keys, key, o)
	}
	switch {
	case at == 0 && o.expire != 0:
		db.expires.Delete(key)
	case at != 0 && o.expire == 0:
		db.expires.Put(key)
	}
	o.expire = at
}

// Rename moves src's value and expiry to dst, replacing dst. src must exist.
func (db *DB) Rename(src, dst string) {
	p := db.keys.Get(src)
	if db.ks.cut != nil {
		db.ks.save(db.keys, src, p)
	}
	o := *p
	db.Delete(src)
	db.Delete(dst)
	n, _ := db.keys.Put(dst)
	*n = o
	if o.expire != 0 {
		db.expires.Put(dst)
	}
	if db.ks.OnAdd != nil {
		db.ks.OnAdd(db.index, dst)
	}
}

// MoveTo moves key with its value and expiry to database other, replacing
// nothing: the caller checks that other lacks the key.
func (db *DB) MoveTo(key string, other *DB) {
	p := db.keys.Get(key)
	if db.ks.cut != nil {
		db.ks.save(db.keys, key, p)
	}
	o := *p
	db.Delete(key)
	n, _ := other.keys.Put(key)
	*n = o
	if o.expire != 0 {
		other.expires.Put(key)
	}
	if db.ks.OnAdd != nil {
		db.ks.OnAdd(other.index, key)
	}
}

// Flush removes every key.
func (db *DB) Flush() {
	if db.ks.OnDelete != nil && db.keys.Len() > 0 {
		db.keys.Range(func(key string, _ *Object) bool {
			db.ks.OnDelete(db.index, key)
			return true
		})
	}
	if !db.detach() {
		db.keys.Clear()
		db.expires.Clear()
		db.expireCursor = 0
	}
}

// Scan visits the keys of one cursor step (see dict.Dict.Scan), expired
// ones included; fn must not modify db.
func (db *DB) Scan(cursor uint64, fn func(key string, o *Object)) uint64 {
	return db.keys.Scan(cursor, fn)
}

// Range visits every key until fn returns false; fn must not modify db.
func (db *DB) Range(fn func(key string, o *Object) bool) {
	db.keys.Range(fn)
}

// RandomKey returns a random live key, deleting (or skipping) expired ones
// on the way as Redis's RANDOMKEY does; ok is false when none is left.
func (db *DB) RandomKey() (string, bool) {
	for tries := 0; db.keys.Len() > 0; tries++ {
		key, o, _ := db.keys.Random()
		if !db.expired(o) {
			return key, true
		}
		switch db.ks.Mode {
		case ExpireDelete:
			db.expireKey(key)
		case ExpireIgnore:
			return key, true
		default:
			if tries > 100 && db.expires.Len() == db.keys.Len() {
				// A replica full of logically expired keys: Redis returns one.
				return key, true
			}
		}
	}
	return "", false
}

// IsExpired reports whether o's time has passed (for SCAN and KEYS, which
// filter expired keys themselves).
func (db *DB) IsExpired(o *Object) bool { return db.expired(o) }

// IsExpiredKey reports whether key is stored but its time has passed,
// whatever the mode, without deleting it.
func (db *DB) IsExpiredKey(key string) bool {
	o := db.keys.Get(key)
	return o != nil && db.expired(o)
}

// ExpireIfNeeded deletes key if it is expired and the mode allows it, and
// reports whether the key is now logically absent.
func (db *DB) ExpireIfNeeded(key string) bool {
	o := db.keys.Get(key)
	if o == nil {
		return true
	}
	if !db.expired(o) || db.ks.Mode == ExpireIgnore {
		return false
	}
	if db.ks.Mode == ExpireDelete {
		db.expireKey(key)
	}
	return true
}
