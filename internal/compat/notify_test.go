package compat

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Keyspace notifications (notify-keyspace-events), three connections per
// server: 0 subscribes, 1 sets the classes and writes, 2 blocks. "<conn>
// read*N:" reads N messages (N "<conn> read:" lines); every scenario ends
// with "0 quiet:" so that a message ferry sends and Redis does not (or the
// reverse) fails it. The pattern __key*__:* sees each event twice with KE:
// on the keyspace channel, then on the keyevent channel.
func TestNotify(t *testing.T) {
	scenarioTest(t, 3, expandReads(map[string]string{
		"config": `
			1: CONFIG GET notify-keyspace-events
			1: CONFIG SET notify-keyspace-events KEA
			1: CONFIG GET notify-keyspace-events
			1: CONFIG SET notify-keyspace-events Egx
			1: CONFIG GET notify-keyspace-events
			1: CONFIG SET notify-keyspace-events g$lshzxetd
			1: CONFIG GET notify-keyspace-events
			1: CONFIG SET notify-keyspace-events g$lshzxetdnKEm
			1: CONFIG GET notify-keyspace-events
			1: CONFIG SET notify-keyspace-events mnEK
			1: CONFIG GET notify-keyspace-events
			1: CONFIG SET notify-keyspace-events AAn
			1: CONFIG GET notify-keyspace-events
			1: CONFIG SET notify-keyspace-events x
			1: CONFIG GET notify-keyspace-events
			1: CONFIG SET notify-keyspace-events KEA!
			1: CONFIG SET notify-keyspace-events "K E"
			1: CONFIG SET notify-keyspace-events a
			1: CONFIG GET notify-keyspace-events
			1: CONFIG SET notify-keyspace-events KEA hz 10 notify-keyspace-events Kg
			1: CONFIG SET hz 11 notify-keyspace-events KE?
			1: CONFIG GET hz
			1: CONFIG SET NOTIFY-KEYSPACE-EVENTS KEl
			1: CONFIG GET notify-keyspace-*
			1: CONFIG GET NOTIFY-KEYSPACE-EVENTS
			1: CONFIG SET notify-keyspace-events ""
			1: CONFIG GET notify-keyspace-events`,
		"off": `
			1: CONFIG SET notify-keyspace-events ""
			0: PSUBSCRIBE *
			1: SET k v
			1: DEL k
			1: CONFIG SET notify-keyspace-events KE
			1: SET k v
			1: DEL k
			1: CONFIG SET notify-keyspace-events A
			1: SET k v
			1: DEL k
			0 quiet:`,
		"strings": `
			1: CONFIG SET notify-keyspace-events KEA
			0: PSUBSCRIBE __key*__:*
			1: SET k v
			0 read*2:
			1: SET k v EX 100
			0 read*4:
			1: SET k v NX
			1: SET k2 v XX
			1: SET k w KEEPTTL GET
			0 read*2:
			1: SETNX k v
			1: SETNX k3 v
			0 read*2:
			1: SETEX k4 100 v
			0 read*4:
			1: PSETEX k5 100000 v
			0 read*4:
			1: GETSET k x
			0 read*2:
			1: MSET a 1 b 2
			0 read*4:
			1: MSETNX a 1 c 3
			1: MSETNX c 3 d 4
			0 read*4:
			1: INCR n
			1: DECR n
			1: INCRBY n 5
			1: DECRBY n 2
			0 read*8:
			1: INCRBYFLOAT f 1.5
			0 read*2:
			1: APPEND k yy
			0 read*2:
			1: SETRANGE k 1 zz
			0 read*2:
			1: SETRANGE k 0 ""
			1: SETRANGE k9 0 ""
			1: GETEX k EX 100
			0 read*2:
			1: GETEX k PERSIST
			0 read*2:
			1: GETEX k PERSIST
			1: GETEX k
			1: GETEX k PXAT 1
			0 read*2:
			1: GETDEL a
			0 read*2:
			1: GETDEL a
			1: SET s abc
			0 read*2:
			1: INCR s
			1: INCRBYFLOAT s 1
			1: SETEX k 0 v
			1: GET k
			1: MGET a b
			1: STRLEN b
			0 quiet:`,
		"keys": `
			1: CONFIG SET notify-keyspace-events KEA
			0: PSUBSCRIBE __key*__:*
			1: MSET a 1 b 2 c 3
			0 read*6:
			1: DEL a nope b
			0 read*4:
			1: UNLINK c
			0 read*2:
			1: SET k v
			0 read*2:
			1: EXPIRE k 100
			0 read*2:
			1: EXPIRE k 200 NX
			1: EXPIRE nope 100
			1: PEXPIRE k 200000 GT
			0 read*2:
			1: EXPIREAT k 4000000000
			0 read*2:
			1: PEXPIREAT k 4000000000000 LT
			1: PERSIST k
			0 read*2:
			1: PERSIST k
			1: EXPIREAT k 1
			0 read*2:
			1: SET k v
			1: PEXPIRE k -5
			0 read*4:
			1: SET k v
			1: RENAME k k2
			0 read*6:
			1: SET k v
			1: RENAMENX k k2
			1: RENAME k k2
			0 read*6:
			1: RENAME k2 k2
			1: RENAME nope k2
			1: MOVE k2 1
			0 read*4:
			1: SET k2 v
			1: MOVE k2 1
			0 read*2:
			1: COPY k2 k3
			0 read*2:
			1: COPY k2 k3
			1: COPY k2 k3 REPLACE
			0 read*2:
			1: COPY k2 k4 DB 2
			0 read*2:
			1: COPY nope k5
			1: SELECT 3
			1: SET k v
			1: DEL k
			0 read*4:
			1: SELECT 0
			1: EXISTS nope k2
			1: TYPE nope
			1: TTL nope
			1: TOUCH k2 nope
			1: FLUSHDB
			1: SET k v
			0 read*2:
			1: FLUSHALL
			1: SWAPDB 0 1
			0 quiet:`,
		"new": `
			1: CONFIG SET notify-keyspace-events KEAn
			0: PSUBSCRIBE __key*__:*
			1: SET k v
			0 read*4:
			1: SET k w
			0 read*2:
			1: SET k2 v
			1: RENAME k k2
			0 read*10:
			1: COPY k2 k3
			0 read*4:
			1: COPY k2 k3 REPLACE
			0 read*4:
			1: MOVE k3 5
			0 read*6:
			1: LPUSH l a
			1: RPUSH l b
			0 read*6:
			1: LMOVE l l2 LEFT LEFT
			0 read*6:
			1: LMOVE l l2 LEFT RIGHT
			0 read*6:
			1: HSET h f v
			1: SADD s a
			1: ZADD z 1 a
			1: XADD x 1-1 f v
			1: PFADD p a
			1: SETBIT b 1 1
			1: INCR i
			1: INCRBYFLOAT fl 1
			1: APPEND ap x
			1: SETRANGE sr 2 x
			1: HINCRBY hi f 1
			1: ZINCRBY zi 1 m
			1: GEOADD g 13.36 38.11 Palermo
			0 read*52:
			1: SORT l2 ALPHA STORE so
			1: SINTERSTORE si s
			1: ZUNIONSTORE zu 1 z
			1: BITOP OR bo b
			1: PFMERGE pm p
			1: GEOSEARCHSTORE gs g FROMLONLAT 13.36 38.11 BYRADIUS 10 km
			1: XGROUP CREATE x2 grp $ MKSTREAM
			0 read*28:
			1: SORT l2 ALPHA STORE so
			1: EXPIRE so 100
			0 read*4:
			1: SET so v
			0 read*2:
			1: GETDEL so
			0 read*2:
			0 quiet:`,
		"keymiss": `
			1: CONFIG SET notify-keyspace-events KEm
			0: PSUBSCRIBE __key*__:*
			1: GET nope
			0 read*2:
			1: MGET a b
			0 read*4:
			1: SET k v
			1: GET k
			1: EXISTS nope k
			0 read*2:
			1: TYPE nope
			1: TTL nope
			1: PTTL nope
			0 read*6:
			1: OBJECT ENCODING nope
			1: STRLEN nope
			1: GETRANGE nope 0 1
			1: HGET nope f
			1: HGETALL nope
			1: LRANGE nope 0 -1
			1: LLEN nope
			1: SMEMBERS nope
			1: SCARD nope
			1: ZRANGE nope 0 -1
			1: ZSCORE nope m
			0 read*20:
			1: DEL nope
			1: LPOP nope
			1: INCR n
			1: SET nope2 v GET
			0 read*2:
			1: COPY nope k2
			0 read*2:
			1: PFCOUNT nope
			0 read*2:
			1: BITCOUNT nope
			1: GETBIT nope 1
			0 read*4:
			1: GETDEL nope
			1: GETEX nope
			0 read*4:
			1: RPUSH sl 1 2
			1: SORT sl BY w_*
			1: SORT sl GET h_*->f
			0 read*8:
			1: TOUCH nope
			1: EVAL_RO "return redis.call('get', KEYS[1])" 1 nope
			1: LCS nope sl
			0 read*6:
			1: SCAN 0 TYPE list
			1: MEMORY USAGE nope
			0 quiet:`,
		"lists": `
			1: CONFIG SET notify-keyspace-events KEA
			0: PSUBSCRIBE __key*__:*
			1: LPUSH l a b
			0 read*2:
			1: RPUSH l c
			0 read*2:
			1: LPUSHX nope x
			1: RPUSHX l d
			0 read*2:
			1: LINSERT l BEFORE a x
			0 read*2:
			1: LINSERT l BEFORE zz x
			1: LSET l 0 y
			0 read*2:
			1: LREM l 0 x
			0 read*2:
			1: LREM l 0 nothing
			1: LTRIM l 0 -1
			0 read*2:
			1: LPOP l
			0 read*2:
			1: RPOP l 2
			0 read*2:
			1: LPOP l 0
			1: RPUSH l p q r
			0 read*2:
			1: LMOVE l l2 LEFT RIGHT
			0 read*4:
			1: RPOPLPUSH l l2
			0 read*4:
			1: LMPOP 2 nope l LEFT COUNT 10
			0 read*4:
			1: LMOVE l2 l2 LEFT LEFT
			0 read*4:
			1: LTRIM l2 1 0
			0 read*4:
			1: RPUSH l a
			1: LPOP l 5
			0 read*6:
			1: RPUSH l a
			1: BLPOP l 0
			0 read*6:
			1: RPUSH l a b
			1: BLMPOP 1 1 l RIGHT COUNT 3
			0 read*6:
			1: RPUSH l a
			1: BLMOVE l l2 RIGHT LEFT 0
			1: BRPOPLPUSH l2 l 0
			0 read*14:
			1: LPOP nope
			1: LMOVE nope l LEFT LEFT
			0 quiet:`,
		"hashes": `
			1: CONFIG SET notify-keyspace-events KEA
			0: PSUBSCRIBE __key*__:*
			1: HSET h f v
			0 read*2:
			1: HSET h f v2 g w
			0 read*2:
			1: HSETNX h f x
			1: HSETNX h n x
			0 read*2:
			1: HMSET h a 1
			0 read*2:
			1: HINCRBY h c 1
			0 read*2:
			1: HINCRBYFLOAT h d 1.5
			0 read*2:
			1: HINCRBY h f 1
			1: HDEL h nope
			1: HDEL h f g
			0 read*2:
			1: HDEL h c d n a nope
			0 read*4:
			1: HDEL h a
			0 quiet:`,
		"sets": `
			1: CONFIG SET notify-keyspace-events KEA
			0: PSUBSCRIBE __key*__:*
			1: SADD s a b
			0 read*2:
			1: SADD s a
			1: SREM s x
			1: SREM s a
			0 read*2:
			1: SMOVE s t b
			0 read*6:
			1: SMOVE t t b
			1: SMOVE nope t b
			1: SADD s b
			1: SMOVE s t b
			0 read*6:
			1: SADD s 1
			1: SPOP s
			0 read*6:
			1: SADD s 1 2 3
			1 sort: SPOP s 5
			0 read*6:
			1: SADD s 1 2 3 4 5 6 7 8 9 10
			1 type: SPOP s 2
			0 read*4:
			1: SADD s 1 2 3 4 5 6 7 8 9 10
			1: SADD t x y 1
			1: SINTERSTORE d s t
			1: SUNIONSTORE d s t
			1: SDIFFSTORE d s s
			1: SDIFFSTORE d s s
			1: SINTERSTORE d s nope
			1: SADD d z
			1: SINTERSTORE d s nope
			0 read*14:
			1: SREM s 1 2 3 4 5 6 7 8 9 10
			0 read*4:
			1: SPOP nope
			1: SPOP nope 3
			0 quiet:`,
		"zsets": `
			1: CONFIG SET notify-keyspace-events KEA
			0: PSUBSCRIBE __key*__:*
			1: ZADD z 1 a 2 b
			0 read*2:
			1: ZADD z 1 a
			1: ZADD z XX 5 c
			1: ZADD z CH 3 a
			0 read*2:
			1: ZADD z INCR 1 a
			1: ZINCRBY z 1 b
			0 read*4:
			1: ZADD z NX INCR 1 a
			1: ZREM z x
			1: ZREM z a
			0 read*2:
			1: ZADD z 1 a 2 b 3 c 4 d
			1: ZREMRANGEBYRANK z 0 0
			1: ZREMRANGEBYSCORE z 2 2
			1: ZREMRANGEBYLEX z [c [c
			1: ZREMRANGEBYSCORE z 100 200
			0 read*8:
			1: ZADD z 1 a 2 b
			1: ZPOPMIN z
			1: ZPOPMAX z 5
			0 read*8:
			1: ZPOPMIN z
			1: ZADD z 1 a 2 b
			1: ZRANGESTORE d z 0 -1
			1: ZRANGESTORE d z 5 6
			1: ZUNIONSTORE u 1 z
			1: ZINTERSTORE i 2 z nope
			1: ZDIFFSTORE u 2 z z
			0 read*10:
			1: ZMPOP 1 z MIN COUNT 5
			0 read*4:
			1: ZADD z 1 a
			1: BZPOPMAX z 0
			1: ZADD z 1 a 2 b
			1: BZMPOP 1 1 z MIN COUNT 1
			0 read*10:
			1: ZREMRANGEBYRANK z 0 -1
			0 read*4:
			0 quiet:`,
		"geo": `
			1: CONFIG SET notify-keyspace-events KEA
			0: PSUBSCRIBE __key*__:*
			1: GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
			0 read*2:
			1: GEOADD g NX 13.361389 38.115556 Palermo
			1: GEOSEARCHSTORE dst g FROMLONLAT 15 37 BYRADIUS 200 km
			0 read*2:
			1: GEORADIUS g 15 37 200 km STORE d2
			0 read*2:
			1: GEORADIUSBYMEMBER g Palermo 1 m STORE d2
			0 read*2:
			1: GEOSEARCHSTORE dst g FROMLONLAT 0 0 BYRADIUS 1 km STOREDIST
			0 read*2:
			1: GEOSEARCHSTORE dst g FROMLONLAT 0 0 BYRADIUS 1 km
			1: GEORADIUS nope 15 37 200 km STORE d2
			0 read*2:
			1: GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 200 km
			1: GEODIST g Palermo Catania
			0 quiet:`,
		"bits-hll-sort": `
			1: CONFIG SET notify-keyspace-events KEA
			0: PSUBSCRIBE __key*__:*
			1: SETBIT b 7 1
			0 read*2:
			1: SETBIT b 7 1
			1: SETBIT b 100 0
			0 read*2:
			1: SETBIT b 100 0
			1: BITFIELD b SET u8 0 255
			0 read*2:
			1: BITFIELD b GET u8 0
			1: BITFIELD b INCRBY u8 0 0
			1: BITFIELD b OVERFLOW FAIL INCRBY u8 0 1
			1: BITFIELD b INCRBY u8 8 1
			0 read*2:
			1: BITFIELD_RO b GET u8 0
			1: BITOP OR dst b
			0 read*2:
			1: BITOP AND dst nope1 nope2
			0 read*2:
			1: BITOP AND dst nope1 nope2
			1: PFADD h a b
			0 read*2:
			1: PFADD h a
			1: PFCOUNT h
			1: PFMERGE h2 h
			0 read*2:
			1: PFMERGE h2
			0 read*2:
			1: RPUSH l 3 1 2
			0 read*2:
			1: SORT l STORE d
			0 read*2:
			1: SORT l LIMIT 5 5 STORE d
			0 read*2:
			1: SORT l LIMIT 5 5 STORE d
			1: SORT l
			1: SORT nope STORE l
			0 read*2:
			0 quiet:`,
		"streams": `
			1: CONFIG SET notify-keyspace-events KEA
			0: PSUBSCRIBE __key*__:*
			1: XADD s 1-1 f v
			0 read*2:
			1: XADD s MAXLEN 1 2-1 f v
			0 read*4:
			1: XADD s MAXLEN 5 3-1 f v
			0 read*2:
			1: XADD nope NOMKSTREAM * f v
			1: XADD s 1-1 f v
			1: XDEL s 9-9
			1: XDEL s 2-1 3-1
			0 read*2:
			1: XADD s 4-1 f v
			1: XTRIM s MAXLEN 5
			1: XTRIM s MAXLEN 0
			0 read*4:
			1: XSETID s 5-0
			0 read*2:
			1: XGROUP CREATE s g $
			0 read*2:
			1: XGROUP CREATE s g $
			1: XGROUP CREATE s2 g $ MKSTREAM
			0 read*2:
			1: XGROUP CREATECONSUMER s g c
			0 read*2:
			1: XGROUP CREATECONSUMER s g c
			1: XGROUP SETID s g 0
			0 read*2:
			1: XADD s 6-1 f v
			0 read*2:
			1: XREADGROUP GROUP g c2 COUNT 1 STREAMS s >
			0 read*2:
			1: XREADGROUP GROUP g c2 COUNT 1 STREAMS s >
			1: XACK s g 6-1
			1: XADD s 7-1 f v
			1: XREADGROUP GROUP g c COUNT 1 STREAMS s >
			1: XCLAIM s g c3 0 7-1 JUSTID
			1: XAUTOCLAIM s g c4 0 0 JUSTID
			0 read*6:
			1: XGROUP DELCONSUMER s g c
			1: XGROUP DELCONSUMER s g nope
			0 read*2:
			1: XGROUP DESTROY s g
			1: XGROUP DESTROY s g
			0 read*2:
			1: XLEN s
			1: XRANGE s - +
			0 quiet:`,
		"lazy-expiry": `
			1: CONFIG SET notify-keyspace-events KEA
			0: PSUBSCRIBE __key*__:*
			1: DEBUG SET-ACTIVE-EXPIRE 0
			1: SET k v PX 50
			1: SET k2 v PX 50
			1: RPUSH l a
			1: PEXPIRE l 50
			1: SET k3 v PX 50
			0 read*16:
			sleep 150
			1: GET k
			0 read*2:
			1: EXISTS k
			1: SET k2 v
			0 read*4:
			1: LPUSH l b
			0 read*4:
			1: DEL k3
			0 read*2:
			1: SET sc v PX 20
			0 read*4:
			sleep 60
			1 sort: KEYS *
			1 type: SCAN 0 COUNT 100
			0 read*2:
			1: DEBUG SET-ACTIVE-EXPIRE 1
			0 quiet:`,
		"active-expiry": `
			1: CONFIG SET notify-keyspace-events KEA
			0: PSUBSCRIBE __key*__:*
			1: SET k v PX 30
			0 read*4:
			0 read*2:
			1: SELECT 4
			1: HSET h f v
			1: PEXPIRE h 30
			0 read*4:
			0 read*2:
			0 quiet:`,
		"classes": `
			1: CONFIG SET notify-keyspace-events Egx
			0: PSUBSCRIBE __key*__:*
			1: SET k v
			1: EXPIRE k 100
			0 read:
			1: RENAME k k2
			0 read*2:
			1: DEL k2
			0 read:
			1: DEBUG SET-ACTIVE-EXPIRE 0
			1: SET k v PX 20
			0 read:
			sleep 60
			1: GET k
			0 read:
			1: DEBUG SET-ACTIVE-EXPIRE 1
			1: CONFIG SET notify-keyspace-events K$
			1: SET k v
			0 read:
			1: LPUSH l a
			1: DEL k
			1: CONFIG SET notify-keyspace-events El
			1: LPUSH l a
			0 read:
			1: CONFIG SET notify-keyspace-events Kshzt
			1: SADD s a
			1: HSET h f v
			1: ZADD z 1 a
			1: XADD x 1-1 f v
			1: SET k v
			0 read*4:
			0 quiet:`,
		"channel-subscribers": `
			1: CONFIG SET notify-keyspace-events KEA
			0 noreply: SUBSCRIBE __keyevent@0__:expired __keyspace@0__:k
			0 read*2:
			1: SET k v PX 20
			0 read*2:
			0 read*2:
			1: SET other v PX 20
			0 read:
			1: PUBSUB NUMSUB __keyevent@0__:expired
			0 quiet:`,
		"transactions": `
			1: CONFIG SET notify-keyspace-events KEA
			0: PSUBSCRIBE __key*__:*
			1: MULTI
			1: SET a 1
			1: LPUSH l x
			1: INCR a
			1: GET a
			1: EXEC
			0 read*6:
			1: MULTI
			1: SET a 2
			1: DISCARD
			1: WATCH a
			2: SET a 3
			0 read*2:
			1: MULTI
			1: SET a 4
			1: EXEC
			1: MULTI
			1: BLPOP l 0
			1: BLPOP l 0
			1: EXEC
			0 read*4:
			0 quiet:`,
		"scripts": `
			1: CONFIG SET notify-keyspace-events KEA
			0: PSUBSCRIBE __key*__:*
			1: EVAL "redis.call('set', KEYS[1], 'v'); redis.call('expire', KEYS[1], 100); return redis.call('del', KEYS[1])" 1 k
			0 read*6:
			1: EVAL "redis.call('rpush', KEYS[1], 'a', 'b'); return redis.call('lpop', KEYS[1], 2)" 1 l
			0 read*6:
			1: EVAL "return redis.pcall('incr', KEYS[1])" 1 l
			1: EVAL "redis.call('hset', KEYS[1], 'f', 'v'); return redis.call('incr', KEYS[1])" 1 h
			0 read*4:
			1: EVAL_RO "return redis.call('get', KEYS[1])" 1 nope
			0 quiet:`,
		"blocking": `
			1: CONFIG SET notify-keyspace-events KEA
			0: PSUBSCRIBE __key*__:*
			2 noreply: BLPOP bl 0
			sleep 50
			1: LPUSH bl a
			0 read*6:
			2 read:
			2 noreply: BLMOVE src dst LEFT RIGHT 0
			sleep 50
			1: RPUSH src a b
			0 read*6:
			2 read:
			2 noreply: BZPOPMIN bz 0
			sleep 50
			1: ZADD bz 1 a 2 b
			0 read*4:
			2 read:
			2 noreply: BLMPOP 0 1 bl2 RIGHT COUNT 5
			sleep 50
			1: RPUSH bl2 a b
			0 read*6:
			2 read:
			2 noreply: XREAD BLOCK 0 STREAMS bs $
			sleep 50
			1: XADD bs 1-1 f v
			0 read*2:
			2 read:
			0 quiet:`,
		"resp3-self": `
			1: CONFIG SET notify-keyspace-events KEA
			0: PSUBSCRIBE __keyevent@0__:*
			0: SET k v
			0 read:
			0: DEL k
			0 read:
			0: GET k
			0 quiet:`,
	}))
}

var readTimes = regexp.MustCompile(`^(\d+) read\*(\d+):$`)

// expandReads turns each "<conn> read*N:" line of the scripts into N
// "<conn> read:" lines.
func expandReads(scripts map[string]string) map[string]string {
	out := make(map[string]string, len(scripts))
	for name, script := range scripts {
		var b strings.Builder
		for _, line := range strings.Split(script, "\n") {
			m := readTimes.FindStringSubmatch(strings.TrimSpace(line))
			if m == nil {
				b.WriteString(line + "\n")
				continue
			}
			n, _ := strconv.Atoi(m[2])
			for i := 0; i < n; i++ {
				b.WriteString(m[1] + " read:\n")
			}
		}
		out[name] = b.String()
	}
	return out
}
