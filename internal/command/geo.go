package command

import (
	"math"
	"strconv"

	"github.com/ferrydb/ferry/internal/geohash"
	"github.com/ferrydb/ferry/internal/keyspace"
	"github.com/ferrydb/ferry/internal/num"
)

// Geo commands (geo.c) over sorted sets whose scores are 52-bit geohashes
// (package geohash). GEOADD runs as the ZADD it stands for and propagates
// that ZADD, scores as integers. The STORE forms (GEORADIUS ... STORE,
// GEOSEARCHSTORE) propagate what they stored, as DEL and ZADD with the
// scores or distances spelled "%.17g" (a replica need not compute the
// same distances: its platform's math may round differently), or the DEL
// of the destination when the result is empty.

func init() {
	registrations = append(registrations, registerGeo)
	for name, spec := range map[string]string{
		"geoadd": "RW update @1", "geodist": "RO access @1", "geohash": "RO access @1", "geopos": "RO access @1",
		"georadius":         "RO access @1; OW update kw:STORE,6; OW update kw:STOREDIST,6",
		"georadiusbymember": "RO access @1; OW update kw:STORE,5; OW update kw:STOREDIST,5",
		"georadius_ro":      "RO access @1", "georadiusbymember_ro": "RO access @1",
		"geosearch": "RO access @1", "geosearchstore": "OW update @1; RO access @2",
	} {
		keySpecTable[name] = spec
	}
	const (
		units  = "(M|KM|FT|MI)"
		with   = "[WITHCOORD] [WITHDIST] [WITHHASH]"
		count  = "[COUNT count:i [ANY]]"
		order  = "[ASC|DESC]"
		store  = " [STORE key] [STOREDIST key]"
		from   = "(FROMMEMBER member|FROMLONLAT longitude:d latitude:d) "
		by     = "(BYRADIUS radius:d " + units + "|BYBOX width:d height:d " + units + ") "
		radius = "radius:d " + units + " " + with + " " + count + " " + order
	)
	for name, args := range map[string]string{
		"geoadd":               "key [NX|XX] [CH] (longitude:d latitude:d member)...",
		"geodist":              "key member1 member2 [M|KM|FT|MI]",
		"geohash":              "key member...",
		"geopos":               "key member...",
		"georadius":            "key longitude:d latitude:d " + radius + store,
		"georadius_ro":         "key longitude:d latitude:d " + radius,
		"georadiusbymember":    "key member " + radius + store,
		"georadiusbymember_ro": "key member " + radius,
		"geosearch":            "key " + from + by + order + " " + count + " " + with,
		"geosearchstore":       "destination:k source:k " + from + by + order + " " + count + " [STOREDIST]",
	} {
		argSyntax[name] = args
	}
	deprecations["georadius"] = "6.2.0 `GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument"
	deprecations["georadius_ro"] = "6.2.0 `GEOSEARCH` with the `BYRADIUS` argument"
	deprecations["georadiusbymember"] = "6.2.0 `GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` and `FROMMEMBER` arguments"
	deprecations["georadiusbymember_ro"] = "6.2.0 `GEOSEARCH` with the `BYRADIUS` and `FROMMEMBER` arguments"
}

func registerGeo(t *Table) {
	g := func(c *Command) *Command { c.FirstKey, c.LastKey, c.Step, c.Group = 1, 1, 1, "geo"; return c }
	w, r := Write|DenyOOM, ReadOnly
	ws, rs := []string{"write", "geo", "slow"}, []string{"read", "geo", "slow"}
	t.Add(
		g(&Command{Name: "geoadd", Arity: -5, Flags: w, Since: "3.2.0", ACL: ws, Handler: geoaddCmd,
			Summary: "Adds members with their longitude and latitude to a geospatial index (a sorted set), or moves them."}),
		g(&Command{Name: "geodist", Arity: -4, Flags: r, Since: "3.2.0", ACL: rs, Handler: geodistCmd,
			Summary: "Returns the distance between two members of a geospatial index."}),
		g(&Command{Name: "geohash", Arity: -2, Flags: r, Since: "3.2.0", ACL: rs, Handler: geohashCmd,
			Summary: "Returns the standard 11-character geohash of members of a geospatial index."}),
		g(&Command{Name: "geopos", Arity: -2, Flags: r, Since: "3.2.0", ACL: rs, Handler: geoposCmd,
			Summary: "Returns the longitude and latitude of members of a geospatial index."}),
		g(&Command{Name: "georadius", Arity: -6, Flags: w, Since: "3.2.0", ACL: ws, Handler: georadiusCmd,
			Summary: "Finds the members of a geospatial index within a radius of a position, optionally storing them."}),
		g(&Command{Name: "georadius_ro", Arity: -6, Flags: r, Since: "3.2.10", ACL: rs, Handler: georadiusroCmd,
			Summary: "Finds the members of a geospatial index within a radius of a position."}),
		g(&Command{Name: "georadiusbymember", Arity: -5, Flags: w, Since: "3.2.0", ACL: ws, Handler: georadiusbymemberCmd,
			Summary: "Finds the members of a geospatial index within a radius of one of its members, optionally storing them."}),
		g(&Command{Name: "georadiusbymember_ro", Arity: -5, Flags: r, Since: "3.2.10", ACL: rs, Handler: georadiusbymemberroCmd,
			Summary: "Finds the members of a geospatial index within a radius of one of its members."}),
		g(&Command{Name: "geosearch", Arity: -7, Flags: r, Since: "6.2.0", ACL: rs, Handler: geosearchCmd,
			Summary: "Finds the members of a geospatial index within a circle or a box."}),
		&Command{Name: "geosearchstore", Arity: -8, Flags: w, FirstKey: 1, LastKey: 2, Step: 1, Group: "geo", Since: "6.2.0", ACL: ws, Handler: geosearchstoreCmd,
			Summary: "Finds the members of a geospatial index within a circle or a box and stores them in a sorted set."},
	)
}

// Error replies of the geo commands.
const (
	errGeoUnit       = "ERR unsupported unit provided. please use M, KM, FT, MI"
	errGeoMember     = "ERR could not decode requested zset member"
	errGeoRadius     = "ERR need numeric radius"
	errGeoNegRadius  = "ERR radius cannot be negative"
	errGeoWidth      = "ERR need numeric width"
	errGeoHeight     = "ERR need numeric height"
	errGeoNegBox     = "ERR height or width cannot be negative"
	errGeoCount      = "ERR COUNT must be > 0"
	errGeoAnyCount   = "ERR the ANY argument requires COUNT argument"
	errGeoStoreWith  = "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
	errGeoSearchWith = "ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
)

// geoFloat parses argument i as getDoubleFromObjectOrReply does, replying
// msg (ErrNotFloat when empty) when it is not a float.
func (c *Ctx) geoFloat(i int, msg string) (float64, bool) {
	f, ok := num.ParseFloat(c.Args[i])
	if !ok {
		if msg == "" {
			msg = ErrNotFloat
		}
		c.Error(msg)
	}
	return f, ok
}

// geoLongLat parses a longitude and latitude at i and i+1, replying an
// error when either is no float or the pair is out of the score limits.
func (c *Ctx) geoLongLat(i int) (long, lat float64, ok bool) {
	if long, ok = c.geoFloat(i, ""); !ok {
		return 0, 0, false
	}
	if lat, ok = c.geoFloat(i+1, ""); !ok {
		return 0, 0, false
	}
	if long < geohash.LongMin || long > geohash.LongMax || lat < geohash.LatMin || lat > geohash.LatMax {
		c.Error("ERR invalid longitude,latitude pair " + formatF(long) + "," + formatF(lat))
		return 0, 0, false
	}
	return long, lat, true
}

// formatF formats f as C's "%f".
func formatF(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'f', 6, 64)
}

// geoUnit parses a unit: the meters in one unit, or 0 after replying an
// error.
func (c *Ctx) geoUnit(i int) float64 {
	switch {
	case c.Is(i, "m"):
		return 1
	case c.Is(i, "km"):
		return 1000
	case c.Is(i, "ft"):
		return 0.3048
	case c.Is(i, "mi"):
		return 1609.34
	}
	c.Error(errGeoUnit)
	return 0
}

// geoRadiusArg parses "radius unit" at i into s.
func (c *Ctx) geoRadiusArg(i int, s *geohash.Shape) bool {
	r, ok := c.geoFloat(i, errGeoRadius)
	if !ok {
		return false
	}
	if r < 0 {
		c.Error(errGeoNegRadius)
		return false
	}
	conv := c.geoUnit(i + 1)
	if conv == 0 {
		return false
	}
	s.Box, s.Radius, s.Conversion = false, r, conv
	return true
}

// geoBoxArg parses "width height unit" at i into s.
func (c *Ctx) geoBoxArg(i int, s *geohash.Shape) bool {
	w, ok := c.geoFloat(i, errGeoWidth)
	if !ok {
		return false
	}
	h, ok := c.geoFloat(i+1, errGeoHeight)
	if !ok {
		return false
	}
	if h < 0 || w < 0 {
		c.Error(errGeoNegBox)
		return false
	}
	conv := c.geoUnit(i + 2)
	if conv == 0 {
		return false
	}
	s.Box, s.Width, s.Height, s.Conversion = true, w, h, conv
	return true
}

// geoMemberPos sets s's center to member's position, replying an error
// when it is not in z.
func (c *Ctx) geoMemberPos(z *keyspace.ZSet, member string, s *geohash.Shape) bool {
	score, ok := z.Score(member)
	if !ok {
		c.Error(errGeoMember)
		return false
	}
	s.Long, s.Lat = geohash.DecodeScore(score)
	return true
}

// appendDistance formats a distance with 4 decimals as Redis's
// fixedpoint_d2string does: rounded half to even by llrint (whose
// out-of-range result, x86-64's indefinite integer, shows as such).
func appendDistance(dst []byte, d float64) []byte {
	if d == 0 {
		return append(dst, "0.0000"...)
	}
	scaled := d * 10000
	var v uint64
	neg := false
	if r := math.RoundToEven(scaled); r >= -9223372036854775808.0 && r < 9223372036854775808.0 {
		n := int64(r)
		neg = n < 0
		v = uint64(n)
		if neg {
			v = -v
		}
	} else {
		neg, v = true, 1<<63
	}
	if neg {
		dst = append(dst, '-')
	}
	digits := strconv.AppendUint(nil, v, 10)
	if len(digits) < 5 {
		pad := make([]byte, 5-len(digits), 5)
		for i := range pad {
			pad[i] = '0'
		}
		digits = append(pad, digits...)
	}
	dst = append(dst, digits[:len(digits)-4]...)
	dst = append(dst, '.')
	return append(dst, digits[len(digits)-4:]...)
}

// geoDistance replies a distance: a bulk string with 4 decimals, in RESP3
// too.
func (c *Ctx) geoDistance(d float64) {
	var buf [32]byte
	c.W.Bulk(appendDistance(buf[:0], d))
}

// appendHumanDouble formats a coordinate as Redis's ld2string in its
// "human" mode: "%.17Lf" without trailing zeros (nor a trailing point),
// "-0" as "0".
func appendHumanDouble(dst []byte, f float64) []byte {
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', 17, 64)
	i := len(dst)
	for i > start && dst[i-1] == '0' {
		i--
	}
	if i > start && dst[i-1] == '.' {
		i--
	}
	dst = dst[:i]
	if string(dst[start:]) == "-0" {
		dst = append(dst[:start], '0')
	}
	return dst
}

// geoCoord replies a coordinate as addReplyHumanLongDouble: a bulk string
// in RESP2, a double in RESP3.
func (c *Ctx) geoCoord(f float64) {
	var buf [48]byte
	b := appendHumanDouble(buf[:0], f)
	if c.W.Proto == 3 {
		c.W.Raw([]byte{','})
		c.W.Raw(b)
		c.W.Raw([]byte("\r\n"))
		return
	}
	c.W.Bulk(b)
}

// GEOADD key [NX|XX] [CH] longitude latitude member ...: runs as ZADD key
// [options] score member ... (Redis's geoaddCommand rewrites its arguments
// the same way), and propagates that ZADD.
func geoaddCmd(c *Ctx) {
	nx, xx := false, false
	longIdx := 2
opts:
	for ; longIdx < len(c.Args); longIdx++ {
		switch {
		case c.Is(longIdx, "nx"):
			nx = true
		case c.Is(longIdx, "xx"):
			xx = true
		case c.Is(longIdx, "ch"):
		default:
			break opts
		}
	}
	if (len(c.Args)-longIdx)%3 != 0 || (xx && nx) {
		c.Error(ErrSyntax)
		return
	}
	elements := (len(c.Args) - longIdx) / 3
	args := make([][]byte, 0, longIdx+2*elements)
	args = append(args, Bytes("ZADD"))
	args = append(args, c.Args[1:longIdx]...)
	for i := 0; i < elements; i++ {
		at := longIdx + 3*i
		long, lat, ok := c.geoLongLat(at)
		if !ok {
			return
		}
		score, _ := geohash.Score(long, lat)
		args = append(args, strconv.AppendUint(nil, score, 10), c.Args[at+2])
	}
	orig := c.Args
	c.Args = args
	zaddGeneric(c, 0)
	c.Args = orig
}

func geodistCmd(c *Ctx) {
	conv := 1.0
	switch {
	case len(c.Args) == 5:
		if conv = c.geoUnit(4); conv == 0 {
			return
		}
	case len(c.Args) > 5:
		c.Error(ErrSyntax)
		return
	}
	z, ok := c.readZSet(c.Arg(1))
	if !ok {
		return
	}
	if z == nil {
		c.W.Null()
		return
	}
	s1, ok1 := z.Score(c.Arg(2))
	s2, ok2 := z.Score(c.Arg(3))
	if !ok1 || !ok2 {
		c.W.Null()
		return
	}
	lon1, lat1 := geohash.DecodeScore(s1)
	lon2, lat2 := geohash.DecodeScore(s2)
	c.geoDistance(geohash.Distance(lon1, lat1, lon2, lat2) / conv)
}

func geohashCmd(c *Ctx) {
	z, ok := c.readZSet(c.Arg(1))
	if !ok {
		return
	}
	c.W.Array(len(c.Args) - 2)
	memberScores(c, z, func(score float64, found bool) {
		if !found {
			c.W.Null()
			return
		}
		c.W.BulkString(geohash.String(score))
	})
}

// memberScores calls fn with the score of each member argument (from the
// third on) in z, which may be nil; found is false for a missing member.
func memberScores(c *Ctx, z *keyspace.ZSet, fn func(score float64, found bool)) {
	for j := 2; j < len(c.Args); j++ {
		var score float64
		found := false
		if z != nil {
			score, found = z.Score(c.Arg(j))
		}
		fn(score, found)
	}
}

func geoposCmd(c *Ctx) {
	z, ok := c.readZSet(c.Arg(1))
	if !ok {
		return
	}
	c.W.Array(len(c.Args) - 2)
	memberScores(c, z, func(score float64, found bool) {
		if !found {
			c.W.NullArray()
			return
		}
		long, lat := geohash.DecodeScore(score)
		c.W.Array(2)
		c.geoCoord(long)
		c.geoCoord(lat)
	})
}
