package keyspace

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"strconv"

	"github.com/ferrydb/ferry/internal/resp"
)

// Digest is a 20-byte dataset or value digest computed exactly as Redis's
// DEBUG DIGEST computes it, so that nodes (and redis-server) can be compared.
type Digest [20]byte

// Xor xors the SHA-1 of b into d (order-independent mixing: set members, hash fields).
func (d *Digest) Xor(b []byte) {
	h := sha1.Sum(b)
	for i := range d {
		d[i] ^= h[i]
	}
}

// Mix xors the SHA-1 of b into d, then replaces d with its own SHA-1
// (order-dependent mixing: list elements, key then value).
func (d *Digest) Mix(b []byte) {
	d.Xor(b)
	*d = sha1.Sum(d[:])
}

// MixString is Mix for a string.
func (d *Digest) MixString(s string) { d.Mix([]byte(s)) }

// MixScore mixes a sorted-set score formatted as Redis does ("%.17g").
func (d *Digest) MixScore(f float64) {
	var tmp [32]byte
	d.Mix(resp.AppendDouble(tmp[:0], f))
}

// MixInt mixes an integer in decimal.
func (d *Digest) MixInt(n int64) {
	var tmp [20]byte
	d.Mix(strconv.AppendInt(tmp[:0], n, 10))
}

// Hex returns the digest as 40 lowercase hex digits.
func (d *Digest) Hex() string { return hex.EncodeToString(d[:]) }

// ValueDigest returns the digest of o's value and expiry (DEBUG DIGEST-VALUE).
func ValueDigest(o *Object) Digest { return keyDigest(Digest{}, o) }

// Digest returns the digest of the whole dataset (DEBUG DIGEST): all zeros
// when it is empty. Logically expired keys not yet deleted are included, as
// in Redis.
func (ks *Keyspace) Digest() Digest {
	var final Digest
	for _, db := range ks.dbs {
		if db.keys.Len() == 0 {
			continue
		}
		var id [4]byte
		binary.BigEndian.PutUint32(id[:], uint32(db.index))
		final.Mix(id[:])
		db.keys.Range(func(key string, o *Object) bool {
			var kd Digest
			kd.MixString(key)
			kd = keyDigest(kd, o)
			final.Xor(kd[:])
			return true
		})
	}
	return final
}

// keyDigest continues a digest that already holds the key with o's value.
func keyDigest(d Digest, o *Object) Digest {
	var kind [4]byte
	binary.BigEndian.PutUint32(kind[:], uint32(o.Kind()))
	d.Mix(kind[:])
	if o.coll == nil {
		d.Mix(o.str)
	} else {
		o.coll.Digest(&d)
	}
	if o.expire != 0 {
		d.Xor([]byte("!!expire!!"))
	}
	return d
}
