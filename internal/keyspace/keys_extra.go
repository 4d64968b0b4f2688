package keyspace

// Stored reports whether key is stored, expired or not, without applying
// the expire mode (SCAN tells a key an earlier lookup deleted from one that
// is still there).
func (db *DB) Stored(key string) bool { return db.keys.Get(key) != nil }

// Reserve sizes an empty database's table for n keys (a loader's hint);
// it does nothing to a database that holds keys.
func (db *DB) Reserve(n int) {
	if db.keys.Len() == 0 {
		db.keys.Reserve(n)
	}
}
