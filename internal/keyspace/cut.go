package keyspace

import "github.com/ferrydb/ferry/internal/dict"

// A Cut is a point-in-time view of the keyspace, written out key by key
// while the keyspace keeps changing (a snapshot that does not stall
// writers). Every key present at the cut is emitted exactly once, with the
// value and expiry it had at the cut; keys created after it never are.
//
// It works as Dragonfly's snapshots do, per key rather than per bucket:
// every object carries the epoch of the last cut that has seen it. Step
// scans the databases as they were at the cut and emits the objects not yet
// seen. Before any lookup, change or removal of an object not yet seen, the
// keyspace emits it first (its pre-image), so the scan never meets a value
// newer than the cut. Objects created after the cut are marked seen. The
// memory a cut adds is what emit holds on to, at most one encoding per key
// touched ahead of the scan; nothing is copied.
//
// Everything runs under the engine's lock: Step in short slices, emit from
// inside the writes that touch keys. A FLUSHDB or FLUSHALL during a cut
// hands the old table to the cut, which goes on scanning it.
type Cut struct {
	ks     *Keyspace
	epoch  uint32
	dicts  [NumDBs]*dict.Dict[Object] // each database's table at the cut
	emit   func(db int, key string, o *Object)
	db     int    // database the scan is in
	cursor uint64 // its cursor
	done   bool
	keys   int // keys emitted
}

// BeginCut starts a cut: emit receives each key of the cut, with the
// database it was in at the cut, exactly once, from Step or from a write
// that touches the key first. emit must not modify the keyspace, and must
// not retain o (it may retain what it encodes). Only one cut runs at a
// time: BeginCut panics if one is running. The caller holds the engine lock.
func (ks *Keyspace) BeginCut(emit func(db int, key string, o *Object)) *Cut {
	if ks.cut != nil {
		panic("keyspace: a cut is already running")
	}
	ks.epoch++
	c := &Cut{ks: ks, epoch: ks.epoch, emit: emit}
	for i, db := range ks.dbs {
		c.dicts[i] = db.keys
	}
	ks.cut = c
	return c
}

// Step scans on until it has emitted at least n keys itself or the scan is
// complete, and reports whether it is. The caller holds the engine lock.
func (c *Cut) Step(n int) (complete bool) {
	emitted := 0
	for !c.done && emitted < n {
		d := c.dicts[c.db]
		if d == nil || d.Len() == 0 {
			c.nextDB()
			continue
		}
		c.cursor = d.Scan(c.cursor, func(key string, o *Object) {
			if o.cut != c.epoch {
				o.cut = c.epoch
				c.keys++
				emitted++
				c.emit(c.db, key, o)
			}
		})
		if c.cursor == 0 {
			c.nextDB()
		}
	}
	return c.done
}

func (c *Cut) nextDB() {
	c.dicts[c.db] = nil // a flushed table is dropped once scanned
	c.cursor = 0
	if c.db++; c.db == NumDBs {
		c.done = true
	}
}

// Keys returns how many keys the cut has emitted so far.
func (c *Cut) Keys() int { return c.keys }

// End stops the cut: writes no longer emit anything. Call it once Step
// reported completion, or to abandon the cut. The caller holds the engine
// lock.
func (c *Cut) End() {
	if c.ks.cut == c {
		c.ks.cut = nil
	}
	c.dicts = [NumDBs]*dict.Dict[Object]{}
}

// save emits o, the object of key in table d, if the running cut has not
// seen it yet: it is about to be read, changed or removed.
func (ks *Keyspace) save(d *dict.Dict[Object], key string, o *Object) {
	c := ks.cut
	if c == nil || o.cut == c.epoch {
		return
	}
	o.cut = c.epoch
	for i, cd := range c.dicts {
		if cd == d {
			c.keys++
			c.emit(i, key, o)
			return
		}
	}
	// A table created after the cut (a flush's): nothing in it is part of
	// the cut.
}

// fresh marks a new object as seen by every cut up to the current one.
func (ks *Keyspace) fresh(o *Object) { o.cut = ks.epoch }

// detach hands db's table to the running cut, if the cut still has to scan
// it, and gives db a new empty one; it reports whether it did. Flush uses
// it so that a cut goes on with the keys as they were.
func (db *DB) detach() bool {
	c := db.ks.cut
	if c == nil {
		return false
	}
	for _, cd := range c.dicts {
		if cd == db.keys {
			db.keys = dict.New[Object]()
			db.expires = dict.New[struct{}]()
			db.expireCursor = 0
			return true
		}
	}
	return false
}
