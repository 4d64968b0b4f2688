package keyspace

// Active expiry, after Redis's slow expire cycle (expire.c): each database's
// keys with an expiry are sampled in cursor order, 20 at a time, and the
// sampling goes on while more than 10% of a sample had expired.
const (
	expireSample     = 20
	expireStalePct   = 10
	expireMaxBuckets = expireSample * 20
)

// ActiveExpireCycle deletes expired keys (reporting each through OnExpire)
// and returns how many it deleted. It checks at most maxChecks keys, so that
// one cycle holds the engine for a bounded time. It does nothing unless the
// mode is ExpireDelete.
func (ks *Keyspace) ActiveExpireCycle(maxChecks int) int {
	if ks.Mode != ExpireDelete {
		return 0
	}
	deleted, checked := 0, 0
	var batch []string
	for _, db := range ks.dbs {
		for db.expires.Len() > 0 && checked < maxChecks {
			sampled, expired, buckets := 0, 0, 0
			batch = batch[:0]
			for sampled < expireSample && buckets < expireMaxBuckets {
				db.expireCursor = db.expires.Scan(db.expireCursor, func(key string, _ *struct{}) {
					sampled++
					if o := db.keys.Get(key); o != nil && db.expired(o) {
						batch = append(batch, key)
					}
				})
				buckets++
				if db.expireCursor == 0 {
					break
				}
			}
			for _, key := range batch {
				db.expireKey(key)
				expired++
			}
			deleted += expired
			checked += sampled
			if sampled == 0 || expired*100/sampled <= expireStalePct || db.expireCursor == 0 && expired == 0 {
				break
			}
		}
	}
	return deleted
}
