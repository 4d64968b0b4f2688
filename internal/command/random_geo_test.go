package command_test

import (
	"strconv"
	"strings"
	"testing"
)

// TestRandomGeoAgainstRedis runs random geo commands (GEOADD with NX XX CH,
// GEODIST, GEOHASH, GEOPOS, GEOSEARCH and GEOSEARCHSTORE with every FROM,
// BY and option, GEORADIUS and GEORADIUSBYMEMBER with their _RO forms and
// STORE/STOREDIST) on ferry and redis-server with coordinates at and past
// the limits, odd numbers, bad units and options, repeated and missing
// pieces, wrong arity, sorted sets whose scores are no valid geohashes and
// keys of other types, and compares every reply and DEBUG DIGEST; see
// random_diff_test.go. Distances stored by STOREDIST go to their own key
// (sd), compared by member and order and then deleted on both servers:
// README.md (Geo) documents that about one stored distance in several
// hundred differs from Redis's in its 17th digit.
func TestRandomGeoAgainstRedis(t *testing.T) {
	runDiff(t, 1200, geoStep)
}

// geoFixed are positions that give members equal distances, and the limits.
var geoFixed = [][2]string{
	{"10", "10"}, {"10.5", "10"}, {"9.5", "10"}, {"10", "10.5"}, {"10", "9.5"},
	{"180", "85.05112878"}, {"-180", "-85.05112878"}, {"0", "0"}, {"179.9999999", "-85"}, {"-179.9999999", "85"},
}

// geoBadCoords are coordinates at and past the limits, and no numbers.
var geoBadCoords = []string{
	"180", "-180", "180.0000001", "-180.0000001", "85.05112878", "85.05112879", "-85.05112879", "85.051128779806592",
	"85.0511287798065923", "90", "-90", "1e3", "1e-400", "0x1p3", "inf", "-inf", "nan", "", " 1", "1 ", "abc", "-0", "+5",
}

func geoStep(d *diff) {
	key := func() string { return d.pick("g0", "g1", "g2", "g0", "g1", "z", "str", "list", "none") }
	member := func() string {
		switch d.r.IntN(12) {
		case 0:
			return d.pick("", "\x00", "m\x00", "\xff", "é")
		case 1:
			return "far" + d.n(0, 3)
		}
		return "m" + d.n(0, 25)
	}
	coord := func(lo, hi float64) string {
		v := lo + d.r.Float64()*(hi-lo)
		switch d.r.IntN(4) {
		case 0:
			return strconv.FormatFloat(v, 'f', -1, 64)
		case 1:
			return strconv.FormatFloat(v, 'f', d.r.IntN(4), 64)
		case 2:
			return strconv.FormatFloat(v, 'e', 8, 64)
		}
		return strconv.FormatFloat(v, 'f', 6, 64)
	}
	lonLat := func() []string {
		switch d.r.IntN(14) {
		case 0:
			return []string{d.pick(geoBadCoords...), d.pick(geoBadCoords...)}
		case 1:
			return []string{d.number(-180, 180), d.number(-85, 85)}
		case 2, 3:
			p := geoFixed[d.r.IntN(len(geoFixed))]
			return []string{p[0], p[1]}
		case 4, 5, 6, 7:
			// a cluster, for searches with many results
			return []string{coord(9, 11), coord(9, 11)}
		}
		return []string{coord(-180, 180), coord(-85.05, 85.05)}
	}
	unit := func() string {
		if d.r.IntN(15) == 0 {
			return d.pick("yd", "", "M\x00", "kms", "meters")
		}
		return d.pick("m", "km", "mi", "ft", "KM", "Mi", "FT", "M")
	}
	dist := func() string {
		switch d.r.IntN(10) {
		case 0:
			return d.pick(oddNumbers...)
		case 1:
			return d.pick("-1", "-0.5", "0", "1e-5", "40075000", "1e10")
		}
		v := []float64{1, 100, 5000, 100000, 300000, 2e6, 2e7}[d.r.IntN(7)] * d.r.Float64()
		return strconv.FormatFloat(v, 'f', d.r.IntN(4), 64)
	}
	count := func() []string {
		c := []string{d.kw("COUNT")}
		if d.r.IntN(8) == 0 {
			c = append(c, d.pick(oddNumbers...))
		} else {
			c = append(c, d.n(0, 12))
		}
		if d.r.IntN(3) == 0 {
			c = append(c, d.kw("ANY"))
		}
		if d.r.IntN(20) == 0 {
			c = c[:1] // COUNT without its number
		}
		return c
	}
	// options are a search's options, shuffled; with is whether WITH*
	// ones may appear (they are refused with STORE, now and then tried).
	options := func(with bool) []string {
		var opts [][]string
		if d.r.IntN(3) == 0 {
			opts = append(opts, []string{d.kw(d.pick("ASC", "DESC"))})
		}
		if d.r.IntN(3) == 0 {
			opts = append(opts, count())
		}
		if d.r.IntN(15) == 0 {
			opts = append(opts, []string{d.kw("ANY")}) // without COUNT
		}
		if with || d.r.IntN(15) == 0 {
			for _, w := range []string{"WITHDIST", "WITHCOORD", "WITHHASH"} {
				if d.r.IntN(2) == 0 {
					opts = append(opts, []string{d.kw(w)})
				}
			}
		}
		if d.r.IntN(25) == 0 {
			opts = append(opts, []string{d.pick("FOO", "STORE", "BYRADIUS", "COUNT", "WITH")})
		}
		d.r.Shuffle(len(opts), func(i, j int) { opts[i], opts[j] = opts[j], opts[i] })
		var out []string
		for _, o := range opts {
			out = append(out, o...)
		}
		return out
	}
	// search returns GEOSEARCH's FROM and BY parts, sometimes missing,
	// repeated or incomplete.
	search := func() []string {
		from := func() []string {
			if d.r.IntN(2) == 0 {
				return []string{d.kw("FROMMEMBER"), member()}
			}
			return append([]string{d.kw("FROMLONLAT")}, lonLat()...)
		}
		by := func() []string {
			if d.r.IntN(2) == 0 {
				return []string{d.kw("BYRADIUS"), dist(), unit()}
			}
			return []string{d.kw("BYBOX"), dist(), dist(), unit()}
		}
		var parts [][]string
		switch d.r.IntN(20) {
		case 0:
			parts = [][]string{by()}
		case 1:
			parts = [][]string{from()}
		case 2:
			parts = [][]string{from(), from(), by()}
		case 3:
			parts = [][]string{from(), by(), by()}
		case 4:
			f := from()
			parts = [][]string{f[:len(f)-1]}
		default:
			parts = [][]string{from(), by()}
		}
		d.r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}

	k := key()
	var c []string
	storeDist := false
	switch d.r.IntN(40) {
	case 0, 1, 2, 3, 4, 5:
		c = []string{"GEOADD", k}
		for _, o := range []string{"NX", "XX", "CH"} {
			if d.r.IntN(6) == 0 {
				c = append(c, d.kw(o))
			}
		}
		if d.r.IntN(20) == 0 {
			c = append(c, d.pick("GT", "LT", "INCR", "CH"))
		}
		for i := 1 + d.r.IntN(6); i > 0; i-- {
			c = append(c, lonLat()...)
			c = append(c, member())
		}
		if d.r.IntN(15) == 0 {
			c = c[:len(c)-1-d.r.IntN(2)] // a missing member or latitude
		}
	case 6:
		// many members in the cluster
		c = []string{"GEOADD", d.pick("g0", "g1")}
		for i := 0; i < 30+d.r.IntN(40); i++ {
			c = append(c, coord(9, 11), coord(9, 11), "m"+d.n(0, 80))
		}
	case 7, 8:
		c = []string{"GEODIST", k, member(), member()}
		if d.r.IntN(2) == 0 {
			c = append(c, unit())
		}
		if d.r.IntN(15) == 0 {
			c = append(c, "extra")
		}
	case 9, 10:
		c = []string{d.pick("GEOHASH", "GEOPOS"), k}
		for i := d.r.IntN(5); i > 0; i-- {
			c = append(c, member())
		}
	case 11, 12, 13, 14, 15, 16:
		c = append(append([]string{"GEOSEARCH", k}, search()...), options(true)...)
	case 17, 18, 19, 20:
		storeDist = d.r.IntN(2) == 0
		dst := d.pick("d0", "g2", "str", "d0")
		if storeDist {
			dst = "sd"
		}
		c = append(append([]string{"GEOSEARCHSTORE", dst, k}, search()...), options(false)...)
		if storeDist {
			c = append(c, d.kw("STOREDIST"))
		}
	case 21, 22, 23, 24, 25:
		name := d.pick("GEORADIUS", "GEORADIUS_RO", "GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER_RO")
		c = []string{name, k}
		if strings.HasPrefix(name, "GEORADIUSBYMEMBER") {
			c = append(c, member())
		} else {
			c = append(c, lonLat()...)
		}
		c = append(append(c, dist(), unit()), options(true)...)
		if d.r.IntN(8) == 0 {
			// STORE on a _RO form, or with WITH* options: errors
			c = append(c, d.kw("STORE"), "d0")
		}
	case 26, 27, 28:
		name := d.pick("GEORADIUS", "GEORADIUSBYMEMBER")
		c = []string{name, k}
		if name == "GEORADIUSBYMEMBER" {
			c = append(c, member())
		} else {
			c = append(c, lonLat()...)
		}
		c = append(c, dist(), unit())
		opts := options(false)
		var store []string
		for i := 1 + d.r.IntN(2); i > 0; i-- {
			if d.r.IntN(2) == 0 {
				store = append(store, d.kw("STOREDIST"), "sd")
			} else {
				store = append(store, d.kw("STORE"), d.pick("d0", "g2", "str"))
			}
		}
		at := d.r.IntN(len(opts) + 1)
		if d.r.IntN(15) == 0 {
			// STORE without its key, last: followed by an option, it
			// would take that for its key, which STOREDIST would fill
			// with distances not compared here
			store = store[:len(store)-1]
			at = len(opts)
		}
		c = append(append(append(c, opts[:at]...), store...), opts[at:]...)
		storeDist = true // STOREDIST may have won: sd is checked either way
	case 29:
		c = []string{"ZADD", d.pick("g0", "z"), d.pick("-1", "0", "4503599627370495", "4503599627370496", "1e20", "-inf", "inf",
			"3471579339700058", "1.5", "69175699277690920"), member()}
	case 30:
		c = []string{"ZREM", k, member(), member()}
	case 31:
		c = []string{"ZRANGE", d.pick("g0", "g1", "g2", "d0"), "0", "-1", "WITHSCORES"}
	case 32:
		c = []string{"SET", "str", "x"}
	case 33:
		c = []string{"RPUSH", "list", "x"}
	case 34:
		c = []string{"DEL", d.pick("g0", "g1", "g2", "d0", "str", "list", "z")}
	case 35:
		c = []string{"COPY", d.pick("g0", "g1"), d.pick("g2", "d0"), "REPLACE"}
	case 36, 37:
		// wrong arity
		c = []string{d.pick("GEOADD", "GEODIST", "GEOHASH", "GEOPOS", "GEOSEARCH", "GEOSEARCHSTORE", "GEORADIUS", "GEORADIUS_RO",
			"GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER_RO")}
		for i := d.r.IntN(5); i > 0; i-- {
			c = append(c, d.pick("g0", "m1", "10", "km", "1"))
		}
	default:
		c = []string{"ZCARD", k}
	}
	d.do(c...)
	if storeDist {
		// README.md (Geo): stored distances may differ in their 17th
		// digit, so compare the members in order, then start over.
		d.do("ZRANGE", "sd", "0", "-1")
		d.do("DEL", "sd")
	}
}
