package command

import (
	"strconv"

	"github.com/ferrydb/ferry/internal/geohash"
	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/resp"
)

// GEORADIUS, GEORADIUSBYMEMBER, their _RO forms, GEOSEARCH and
// GEOSEARCHSTORE (georadiusGeneric): the members in the nine cells around
// the center are gathered cell by cell in score order, filtered by the
// shape, then ordered as Redis orders them (glibc's stable merge sort for
// a full sort, pqsort for a partial one), so that equal distances and
// COUNT cut the same members.

// Kinds of search.
const (
	geoByCoords    = 1 << iota // GEORADIUS: around a position
	geoByMember                // GEORADIUSBYMEMBER: around a member
	geoNoStore                 // the _RO forms: no STORE
	geoSearch                  // GEOSEARCH's arguments
	geoSearchStore             // GEOSEARCHSTORE: STOREDIST only
)

const (
	geoSortNone = iota
	geoSortAsc
	geoSortDesc
)

// geoPoint is a member found in the search area.
type geoPoint struct {
	long, lat, dist, score float64
	member                 string
}

func georadiusCmd(c *Ctx)           { geoSearchGeneric(c, 1, geoByCoords) }
func georadiusroCmd(c *Ctx)         { geoSearchGeneric(c, 1, geoByCoords|geoNoStore) }
func georadiusbymemberCmd(c *Ctx)   { geoSearchGeneric(c, 1, geoByMember) }
func georadiusbymemberroCmd(c *Ctx) { geoSearchGeneric(c, 1, geoByMember|geoNoStore) }
func geosearchCmd(c *Ctx)           { geoSearchGeneric(c, 1, geoSearch) }
func geosearchstoreCmd(c *Ctx)      { geoSearchGeneric(c, 2, geoSearch|geoSearchStore) }

func geoSearchGeneric(c *Ctx, srcIdx, flags int) {
	var storeKey []byte
	storeDist := false
	z, ok := c.readZSet(c.Arg(srcIdx))
	if !ok {
		return
	}
	var shape geohash.Shape
	base := 0
	switch {
	case flags&geoByCoords != 0:
		base = 6
		if shape.Long, shape.Lat, ok = c.geoLongLat(2); !ok {
			return
		}
		if !c.geoRadiusArg(4, &shape) {
			return
		}
	case flags&geoByMember != 0 && z == nil:
		// Arguments are still parsed, to know which reply to give.
		base = 5
	case flags&geoByMember != 0:
		base = 5
		if !c.geoMemberPos(z, c.Arg(2), &shape) || !c.geoRadiusArg(3, &shape) {
			return
		}
	default:
		base = 2
		if flags&geoSearchStore != 0 {
			base = 3
			storeKey = c.Args[1]
		}
	}

	withDist, withHash, withCoord := false, false, false
	fromMember, fromLoc, byRadius, byBox := false, false, false, false
	sortBy, anyOpt := geoSortNone, false
	var count int64
	search := flags&geoSearch != 0
	canStore := flags&(geoNoStore|geoSearch) == 0
	remaining := len(c.Args) - base
	for i := 0; i < remaining; i++ {
		at := base + i
		switch {
		case c.Is(at, "withdist"):
			withDist = true
		case c.Is(at, "withhash"):
			withHash = true
		case c.Is(at, "withcoord"):
			withCoord = true
		case c.Is(at, "any"):
			anyOpt = true
		case c.Is(at, "asc"):
			sortBy = geoSortAsc
		case c.Is(at, "desc"):
			sortBy = geoSortDesc
		case c.Is(at, "count") && i+1 < remaining:
			if count, ok = c.Int(at + 1); !ok {
				return
			}
			if count <= 0 {
				c.Error(errGeoCount)
				return
			}
			i++
		case c.Is(at, "store") && i+1 < remaining && canStore:
			storeKey, storeDist = c.Args[at+1], false
			i++
		case c.Is(at, "storedist") && i+1 < remaining && canStore:
			storeKey, storeDist = c.Args[at+1], true
			i++
		case c.Is(at, "storedist") && search && flags&geoSearchStore != 0:
			storeDist = true
		case c.Is(at, "frommember") && i+1 < remaining && search && !fromLoc:
			if z != nil && !c.geoMemberPos(z, c.Arg(at+1), &shape) {
				return
			}
			fromMember = true
			i++
		case c.Is(at, "fromlonlat") && i+2 < remaining && search && !fromMember:
			if shape.Long, shape.Lat, ok = c.geoLongLat(at + 1); !ok {
				return
			}
			fromLoc = true
			i += 2
		case c.Is(at, "byradius") && i+2 < remaining && search && !byBox:
			if !c.geoRadiusArg(at+1, &shape) {
				return
			}
			byRadius = true
			i += 2
		case c.Is(at, "bybox") && i+3 < remaining && search && !byRadius:
			if !c.geoBoxArg(at+1, &shape) {
				return
			}
			byBox = true
			i += 3
		default:
			c.Error(ErrSyntax)
			return
		}
	}

	switch {
	case storeKey != nil && (withDist || withHash || withCoord):
		if flags&geoSearchStore != 0 {
			c.Error(errGeoSearchWith)
		} else {
			c.Error(errGeoStoreWith)
		}
		return
	case search && !fromMember && !fromLoc:
		c.Error("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for " + c.Arg(0))
		return
	case search && !byRadius && !byBox:
		c.Error("ERR exactly one of BYRADIUS and BYBOX can be specified for " + c.Arg(0))
		return
	case anyOpt && count == 0:
		c.Error(errGeoAnyCount)
		return
	}

	if z == nil {
		if storeKey != nil {
			geoStore(c, storeKey, nil, false)
			return
		}
		c.W.Array(0)
		return
	}
	if count != 0 && sortBy == geoSortNone && !anyOpt {
		sortBy = geoSortAsc
	}
	var limit int64
	if anyOpt {
		limit = count
	}
	points := geoMembersInShape(z, &shape, limit)
	if len(points) == 0 && storeKey == nil {
		c.W.Array(0)
		return
	}
	returned := len(points)
	if count != 0 && int64(returned) > count {
		returned = int(count)
	}
	if sortBy != geoSortNone {
		cmp := geoCmpAsc
		if sortBy == geoSortDesc {
			cmp = geoCmpDesc
		}
		if returned == len(points) {
			geoMergeSort(points, cmp)
		} else {
			geoPartialSort(points, cmp, 0, returned-1)
		}
	}
	points = points[:returned]
	for i := range points {
		points[i].dist /= shape.Conversion
	}
	if storeKey != nil {
		geoStore(c, storeKey, points, storeDist)
		return
	}
	opts := 0
	for _, on := range []bool{withDist, withHash, withCoord} {
		if on {
			opts++
		}
	}
	c.W.Array(len(points))
	for i := range points {
		p := &points[i]
		if opts > 0 {
			c.W.Array(opts + 1)
		}
		c.W.BulkString(p.member)
		if withDist {
			c.geoDistance(p.dist)
		}
		if withHash {
			c.W.Int(int64(p.score))
		}
		if withCoord {
			c.W.Array(2)
			c.geoCoord(p.long)
			c.geoCoord(p.lat)
		}
	}
}

// geoMembersInShape gathers the members of z in the cells that cover s
// and within it, cell by cell (a cell equal to the one searched before it
// is skipped, as huge radii make neighbours repeat) in score order. With a
// limit it stops once that many were found (COUNT ... ANY).
func geoMembersInShape(z *keyspace.ZSet, s *geohash.Shape, limit int64) []geoPoint {
	var points []geoPoint
	cells := s.Cells()
	last := 0 // Redis's last_processed: 0 also means none, so a cell equal to the center's is searched again
	full := func() bool { return limit > 0 && int64(len(points)) >= limit }
	for i, cell := range cells {
		if cell.IsZero() {
			continue
		}
		if last != 0 && cell == cells[last] {
			continue
		}
		if len(points) > 0 && full() {
			break
		}
		lo, hi := geohash.ScoreRange(cell)
		r := keyspace.ScoreRange{Min: float64(lo), Max: float64(hi), MaxEx: true}
		if first := z.FirstInScore(r); first >= 0 {
			z.Walk(first, false, func(member string, score float64) bool {
				if !r.LteMax(score) {
					return false
				}
				long, lat := geohash.DecodeScore(score)
				if d, in := s.Within(long, lat); in {
					points = append(points, geoPoint{long: long, lat: lat, dist: d, score: score, member: member})
				}
				return !(len(points) > 0 && full())
			})
		}
		last = i
	}
	return points
}

// geoCmpAsc is Redis's sort_gp_asc.
func geoCmpAsc(a, b *geoPoint) int {
	switch {
	case a.dist > b.dist:
		return 1
	case a.dist == b.dist:
		return 0
	}
	return -1
}

func geoCmpDesc(a, b *geoPoint) int { return -geoCmpAsc(a, b) }

// geoMergeSort sorts as glibc's qsort does for arrays it can copy: a
// top-down merge sort that takes from the left run on ties (stable).
func geoMergeSort(p []geoPoint, cmp func(a, b *geoPoint) int) {
	if len(p) <= 1 {
		return
	}
	tmp := make([]geoPoint, len(p))
	var msort func(b []geoPoint)
	msort = func(b []geoPoint) {
		n := len(b)
		if n <= 1 {
			return
		}
		n1 := n / 2
		b1, b2 := b[:n1], b[n1:]
		msort(b1)
		msort(b2)
		t := tmp[:0]
		for len(b1) > 0 && len(b2) > 0 {
			if cmp(&b1[0], &b2[0]) <= 0 {
				t = append(t, b1[0])
				b1 = b1[1:]
			} else {
				t = append(t, b2[0])
				b2 = b2[1:]
			}
		}
		t = append(t, b1...)
		copy(b, t) // what is left of b2 is already in place
	}
	msort(p)
}

// geoPartialSort is Redis's pqsort (Bentley and McIlroy's quicksort that
// skips the partitions outside [lrange, rrange]): the elements of ranks
// lrange to rrange end up where a full sort puts them, ties ordered as
// Redis orders them.
func geoPartialSort(p []geoPoint, cmp func(a, b *geoPoint) int, lrange, rrange int) {
	c := func(i, j int) int { return cmp(&p[i], &p[j]) }
	swap := func(i, j int) { p[i], p[j] = p[j], p[i] }
	vecswap := func(i, j, n int) {
		for k := 0; k < n; k++ {
			swap(i+k, j+k)
		}
	}
	med3 := func(a, b, d int) int {
		if c(a, b) < 0 {
			if c(b, d) < 0 {
				return b
			}
			if c(a, d) < 0 {
				return d
			}
			return a
		}
		if c(b, d) > 0 {
			return b
		}
		if c(a, d) < 0 {
			return a
		}
		return d
	}
	// outside reports whether [lrange, rrange] misses [lo, hi].
	outside := func(lo, hi int) bool {
		return (lrange < lo && rrange < lo) || (lrange > hi && rrange > hi)
	}
	var sort func(a, n int)
	sort = func(a, n int) {
		for {
			if n < 7 {
				for pm := a + 1; pm < a+n; pm++ {
					for pl := pm; pl > a && c(pl-1, pl) > 0; pl-- {
						swap(pl, pl-1)
					}
				}
				return
			}
			pm := a + n/2
			if n > 7 {
				pl, pn := a, a+n-1
				if n > 40 {
					d := n / 8
					pl = med3(pl, pl+d, pl+2*d)
					pm = med3(pm-d, pm, pm+d)
					pn = med3(pn-2*d, pn-d, pn)
				}
				pm = med3(pl, pm, pn)
			}
			swap(a, pm)
			pa, pb := a+1, a+1
			pc, pd := a+n-1, a+n-1
			for {
				for pb <= pc {
					r := c(pb, a)
					if r > 0 {
						break
					}
					if r == 0 {
						swap(pa, pb)
						pa++
					}
					pb++
				}
				for pb <= pc {
					r := c(pc, a)
					if r < 0 {
						break
					}
					if r == 0 {
						swap(pc, pd)
						pd--
					}
					pc--
				}
				if pb > pc {
					break
				}
				swap(pb, pc)
				pb++
				pc--
			}
			pn := a + n
			r := min(pa-a, pb-pa)
			vecswap(a, pb-r, r)
			r = min(pd-pc, pn-pd-1)
			vecswap(pb, pn-r, r)
			if r = pb - pa; r > 1 && !outside(a, a+r-1) {
				sort(a, r)
			}
			r = pd - pc
			if r <= 1 {
				return
			}
			a, n = pn-r, r
			if outside(a, a+r-1) {
				return
			}
		}
	}
	sort(0, len(p))
}

// geoStore stores a search's result at dst: a sorted set of the members
// scored by their geohash, or by their distance (in the search's unit)
// with STOREDIST, replying its size. It propagates DEL and ZADD of what it
// stored; an empty result deletes dst (propagated as DEL when it existed).
// A result whose ZADD would be more than one log entry holds is refused,
// and nothing is stored.
func geoStore(c *Ctx, dst []byte, points []geoPoint, storeDist bool) {
	key := view(dst)
	if len(points) == 0 {
		c.W.Int(0)
		if c.DB.Delete(key) {
			c.Touch(key)
			c.notify(notifyGeneric, "del", key)
			c.PropagateArgs(Bytes("DEL"), dst)
		}
		return
	}
	lim := c.limits()
	z := keyspace.NewZSetSkiplist()
	args := make([][]byte, 0, 2+2*len(points))
	args = append(args, Bytes("ZADD"), dst)
	for i := range points {
		p := &points[i]
		score := p.score
		if storeDist {
			score = p.dist
		}
		z.Add(p.member, score, 0, lim)
	}
	z.Compact(lim)
	var buf []byte
	z.Range(func(member string, score float64) bool {
		start := len(buf)
		buf = resp.AppendDouble(buf, score)
		args = append(args, buf[start:len(buf):len(buf)], []byte(member))
		return true
	})
	// With what the unit (a transaction, a script) already holds.
	if n := requestBytes(args); c.e.maxWrite > 0 && len(c.e.eff.buf)+n > c.e.maxWrite {
		c.Error(c.e.tooLargeForEntry("this search would store "+strconv.Itoa(z.Len())+
			" members, a ZADD of about "+strconv.Itoa(n)+" bytes") + ": use COUNT to store fewer")
		return
	}
	c.DB.SetCollection(key, z, false)
	c.Touch(key)
	if c.Cmd.Name == "geosearchstore" {
		c.notify(notifyZSet, "geosearchstore", key)
	} else {
		c.notify(notifyZSet, "georadiusstore", key)
	}
	c.PropagateArgs(Bytes("DEL"), dst)
	c.PropagateArgs(args...)
	c.W.Int(int64(z.Len()))
}
