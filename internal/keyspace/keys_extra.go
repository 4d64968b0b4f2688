package keyspace

// Stored reports whether key is stored, expired or not, without applying
// the expire mode (SCAN tells a key an earlier lookup deleted from one that
// is still there).
func (db *DB) Stored(key string) bool { return db.keys.Get(key) != nil }
