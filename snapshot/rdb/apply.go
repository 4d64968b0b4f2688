package rdb

import (
	"github.com/ferrydb/ferry/internal/keyspace"
)

// Loading runs in two goroutines when the process has more than one
// processor: the decoder reads and builds values, an applier stores them in
// the keyspace's tables. Storing (hashing, chain walks, the table's cache
// misses) is about a third of a load, decoding and allocating the rest.

// record is one thing the decoder read for the applier: a key with its
// value (str when coll is nil) and expiry, or a table size hint.
type record struct {
	off     int64
	db      int
	key     string
	str     []byte
	coll    keyspace.Collection
	expire  int64
	reserve int // a RESIZEDB hint when key is ""
}

// applyBatch is how many records go to the applier at once.
const applyBatch = 512

// applier stores records in ks from its own goroutine.
type applier struct {
	ks      *keyspace.Keyspace
	batch   []record
	batches chan []record
	free    chan []record
	failed  chan struct{} // closed when err is set
	done    chan struct{} // closed when the goroutine ended
	err     error
}

func newApplier(ks *keyspace.Keyspace) *applier {
	a := &applier{
		ks: ks, batches: make(chan []record, 4), free: make(chan []record, 6),
		failed: make(chan struct{}), done: make(chan struct{}),
	}
	go a.run()
	return a
}

func (a *applier) run() {
	defer close(a.done)
	for b := range a.batches {
		if a.err == nil {
			a.err = a.store(b)
			if a.err != nil {
				close(a.failed)
			}
		}
		clear(b)
		select {
		case a.free <- b[:0]:
		default:
		}
	}
}

// store stores one batch; a duplicate key is an error, as in loadKey.
func (a *applier) store(b []record) error {
	for i := range b {
		r := &b[i]
		db := a.ks.DB(r.db)
		if r.key == "" && r.coll == nil && r.str == nil {
			db.Reserve(r.reserve)
			continue
		}
		if !db.Restore(r.key, r.str, r.coll) {
			return &Error{Offset: r.off, Key: r.key, DB: r.db, Err: ErrCorrupt, Msg: "duplicate key"}
		}
		if r.expire != 0 {
			db.SetExpire(r.key, r.expire)
		}
	}
	return nil
}

// add queues r; it returns the applier's error once it has one.
func (a *applier) add(r record) error {
	if a.batch == nil {
		select {
		case a.batch = <-a.free:
		default:
			a.batch = make([]record, 0, applyBatch)
		}
	}
	a.batch = append(a.batch, r)
	if len(a.batch) == applyBatch {
		return a.flush()
	}
	return nil
}

func (a *applier) flush() error {
	if len(a.batch) > 0 {
		select {
		case a.batches <- a.batch:
		case <-a.failed:
		}
		a.batch = nil
	}
	select {
	case <-a.failed:
		return a.err
	default:
		return nil
	}
}

// finish stores what is queued and waits for the applier: its error, if
// any.
func (a *applier) finish() error {
	a.flush()
	close(a.batches)
	<-a.done
	return a.err
}

// queueKey reads the value of the key whose name is in d.key and queues it
// for the applier, with copies of everything the decoder reuses.
func (d *decoder) queueKey(off int64, t byte, expire int64) error {
	r := record{off: off, db: d.db, key: string(d.key), expire: expire}
	if t == typeString {
		var err error
		if d.a, err = d.readString(d.a[:0]); err != nil {
			return err
		}
		if len(d.a) >= bigValue {
			r.str, d.a = d.a, nil
		} else {
			r.str = append(make([]byte, 0, len(d.a)), d.a...)
		}
	} else {
		c, err := d.loadCollection(t)
		if err != nil {
			return err
		}
		if c == nil || c.Len() == 0 && c.Kind() != keyspace.KindStream {
			return nil // as loadKey: empty collections (not streams) are skipped
		}
		r.coll = c
	}
	d.trimScratch()
	return d.app.add(r)
}
