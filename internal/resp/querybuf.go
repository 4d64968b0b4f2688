package resp

import "math/bits"

// Sizes from Redis's server.h and sds.h.
const (
	ioBufLen    = 16 * 1024   // PROTO_IOBUF_LEN: a read's default size
	bigArg      = 32 * 1024   // PROTO_MBULK_BIG_ARG
	maxPrealloc = 1024 * 1024 // SDS_MAX_PREALLOC
)

// queryBuf models the allocation of redis-server's per-client query buffer,
// an sds string allocated by jemalloc. redis-server sizes each read(2) from
// it, and whether a long line is a protocol error depends on how many bytes
// the reads brought in, so the Reader asks for the same sizes. Only the
// sizes are modelled; the bytes live in Reader.buf.
//
// Not modelled: clientsCron, which may shrink an idle or oversized buffer
// every 100 ms, after which redis-server's reads are smaller again.
type queryBuf struct {
	base  int   // index in Reader.buf where redis-server's buffer starts
	alloc int64 // its sdsalloc
}

func newQueryBuf() queryBuf { return queryBuf{alloc: sdsNewAlloc(0)} }

// trim drops the consumed bytes before at, as processInputBuffer does once
// it has parsed what it could.
func (q *queryBuf) trim(at int) { q.base = at }

// shift follows the Reader moving its bytes n places towards the start.
func (q *queryBuf) shift(n int) { q.base -= n }

// readSize returns how many bytes readQueryFromClient asks read(2) for,
// growing the modelled buffer as it does. w is the end of the buffered
// bytes; bulk is the length of the bulk being read (when inBulk), or -1
// before its count line.
func (q *queryBuf) readSize(w int, inBulk bool, bulk int64) int {
	qlen := int64(w - q.base)
	readlen := int64(ioBufLen)
	big := inBulk && bulk >= bigArg
	if big {
		if remaining := bulk + 2 - qlen; remaining > 0 {
			readlen = remaining
		}
	}
	if big || q.alloc < ioBufLen {
		q.makeRoom(qlen, readlen, false)
	} else {
		q.makeRoom(qlen, readlen, true)
		readlen = q.alloc - qlen
	}
	return int(readlen)
}

// bigBulk is processMultibulkBuffer's preparation for a large bulk whose
// payload starts at at: when the buffer holds no more than the payload, it
// is trimmed to it and sized for all of it.
func (q *queryBuf) bigBulk(at, w int, size int64) {
	if size < bigArg || int64(w-at) > size+2 {
		return
	}
	q.base = at
	q.makeRoom(int64(w-at), size+2-int64(w-at), false)
}

// bulkDone is processMultibulkBuffer taking a complete bulk whose payload
// starts at at: a large bulk that is exactly the whole buffer becomes the
// argument, and a new buffer of the same size replaces it.
func (q *queryBuf) bulkDone(at, w int, size int64) {
	if at == q.base && size >= bigArg && int64(w-at) == size+2 {
		q.alloc = sdsNewAlloc(size + 2)
		q.base = w
	}
}

// makeRoom is sdsMakeRoomFor (greedy) or sdsMakeRoomForNonGreedy on a
// buffer of length n.
func (q *queryBuf) makeRoom(n, add int64, greedy bool) {
	if q.alloc-n >= add {
		return
	}
	size := n + add
	if greedy {
		if size < maxPrealloc {
			size *= 2
		} else {
			size += maxPrealloc
		}
	}
	q.alloc = sdsUsable(size, true)
}

// sdsNewAlloc is the sdsalloc of sdsnewlen(n).
func sdsNewAlloc(n int64) int64 { return sdsUsable(n, n == 0) }

// sdsUsable returns the alloc of an sds sized for n bytes: jemalloc's size
// class for header, bytes and terminator, less header and terminator,
// capped by the header type. noType5 is set where sds avoids its smallest
// header (appendable strings).
func sdsUsable(n int64, noType5 bool) int64 {
	var hdr, limit int64
	switch {
	case n < 1<<5 && !noType5:
		hdr, limit = 1, 1<<5-1
	case n < 1<<8:
		hdr, limit = 3, 1<<8-1
	case n < 1<<16:
		hdr, limit = 5, 1<<16-1
	case n < 1<<32:
		hdr, limit = 9, 1<<32-1
	default:
		hdr, limit = 17, 1<<62
	}
	usable := jemallocSize(hdr+n+1) - hdr - 1
	return min(usable, limit)
}

// jemallocSize returns the size class jemalloc 5 (4 KB pages, 16-byte
// quantum) serves a request of n bytes from: 8, multiples of 16 up to 128,
// then four classes per doubling.
func jemallocSize(n int64) int64 {
	switch {
	case n <= 8:
		return 8
	case n <= 128:
		return (n + 15) &^ 15
	}
	step := int64(1) << (bits.Len64(uint64(n-1)) - 3)
	return (n + step - 1) &^ (step - 1)
}
