// Package geohash is the arithmetic behind Redis's geo commands (geohash.c,
// geohash_helper.c): 52-bit interleaved geohashes as sorted set scores, the
// nine cells that cover a search area, and haversine distances on Redis's
// earth radius. Every computation follows Redis's order of operations, so
// that the same inputs give the same doubles.
package geohash

import "math"

// Limits of the coordinates a geohash score can hold (EPSG:900913).
const (
	LatMin  = -85.05112878
	LatMax  = 85.05112878
	LongMin = -180.0
	LongMax = 180.0
	// StepMax is the precision of a score: 26 bits for each coordinate.
	StepMax = 26
)

// EarthRadius is Redis's earth radius in meters (the quadratic mean radius
// of WGS-84).
const EarthRadius = 6372797.560856

const mercatorMax = 20037726.37

// Bits is a geohash of Step bits per coordinate, longitude bits in the
// odd positions and latitude bits in the even ones.
type Bits struct {
	Bits uint64
	Step uint8
}

// IsZero reports whether h is the zero hash (an excluded neighbour).
func (h Bits) IsZero() bool { return h.Bits == 0 && h.Step == 0 }

// Range is an interval of one coordinate.
type Range struct{ Min, Max float64 }

func (r Range) isZero() bool { return r.Min == 0 && r.Max == 0 }

// Area is the cell a hash stands for.
type Area struct {
	Hash      Bits
	Long, Lat Range
}

// WGS84 returns the longitude and latitude ranges of scores.
func WGS84() (long, lat Range) {
	return Range{LongMin, LongMax}, Range{LatMin, LatMax}
}

// spread moves the low 32 bits of v to the even bit positions.
func spread(v uint64) uint64 {
	v = (v | v<<16) & 0x0000FFFF0000FFFF
	v = (v | v<<8) & 0x00FF00FF00FF00FF
	v = (v | v<<4) & 0x0F0F0F0F0F0F0F0F
	v = (v | v<<2) & 0x3333333333333333
	v = (v | v<<1) & 0x5555555555555555
	return v
}

// squeeze gathers the even bits of v into its low 32 bits.
func squeeze(v uint64) uint64 {
	v &= 0x5555555555555555
	v = (v | v>>1) & 0x3333333333333333
	v = (v | v>>2) & 0x0F0F0F0F0F0F0F0F
	v = (v | v>>4) & 0x00FF00FF00FF00FF
	v = (v | v>>8) & 0x0000FFFF0000FFFF
	v = (v | v>>16) & 0x00000000FFFFFFFF
	return v
}

// Encode hashes a position with step bits per coordinate within the given
// ranges. It fails outside the score limits, outside the ranges, or for a
// step that is not 1..32.
func Encode(long, lat Range, longitude, latitude float64, step uint8) (Bits, bool) {
	if step > 32 || step == 0 || lat.isZero() || long.isZero() {
		return Bits{}, false
	}
	if longitude > LongMax || longitude < LongMin || latitude > LatMax || latitude < LatMin {
		return Bits{}, false
	}
	if latitude < lat.Min || latitude > lat.Max || longitude < long.Min || longitude > long.Max {
		return Bits{Step: step}, false
	}
	latOff := (latitude - lat.Min) / (lat.Max - lat.Min)
	longOff := (longitude - long.Min) / (long.Max - long.Min)
	latOff *= float64(uint64(1) << step)
	longOff *= float64(uint64(1) << step)
	// As C's conversion to uint32_t: the offsets are in [0, 2^step].
	return Bits{Bits: spread(uint64(uint32(latOff))) | spread(uint64(uint32(longOff)))<<1, Step: step}, true
}

// EncodeWGS84 hashes a position within the score limits.
func EncodeWGS84(longitude, latitude float64, step uint8) (Bits, bool) {
	long, lat := WGS84()
	return Encode(long, lat, longitude, latitude, step)
}

// Decode returns the cell of h within the given ranges; it fails for the
// zero hash.
func Decode(long, lat Range, h Bits) (Area, bool) {
	if h.IsZero() || lat.isZero() || long.isZero() {
		return Area{}, false
	}
	ilat := uint32(squeeze(h.Bits))
	ilong := uint32(squeeze(h.Bits >> 1))
	latScale := lat.Max - lat.Min
	longScale := long.Max - long.Min
	div := float64(uint64(1) << h.Step)
	a := Area{Hash: h}
	// The conversions keep each product rounded on its own (no fused
	// multiply-add), as Redis computes it.
	a.Lat.Min = lat.Min + float64(float64(ilat)/div*latScale)
	a.Lat.Max = lat.Min + float64(float64(ilat+1)/div*latScale)
	a.Long.Min = long.Min + float64(float64(ilong)/div*longScale)
	a.Long.Max = long.Min + float64(float64(ilong+1)/div*longScale)
	return a, true
}

// Center returns the middle of the cell, clamped to the score limits.
func (a Area) Center() (longitude, latitude float64) {
	longitude = (a.Long.Min + a.Long.Max) / 2
	longitude = min(max(longitude, LongMin), LongMax)
	latitude = (a.Lat.Min + a.Lat.Max) / 2
	latitude = min(max(latitude, LatMin), LatMax)
	return longitude, latitude
}

// ScoreBits converts a sorted set score to hash bits as C's cast of a
// double to uint64_t does on x86-64 (scores set by ZADD may be anything).
func ScoreBits(score float64) uint64 {
	const two63 = 9223372036854775808.0
	const indefinite = uint64(1) << 63
	if score >= two63 {
		d := score - two63
		if d >= two63 {
			return 0 // the indefinite integer, sign bit flipped
		}
		return uint64(int64(d)) ^ indefinite
	}
	if score != score || score < -two63 {
		return indefinite
	}
	return uint64(int64(score))
}

// DecodeScore returns the position a score stands for (the center of its
// cell at full precision).
func DecodeScore(score float64) (longitude, latitude float64) {
	long, lat := WGS84()
	a, _ := Decode(long, lat, Bits{Bits: ScoreBits(score), Step: StepMax})
	return a.Center()
}

// Score returns the sorted set score of a position within the limits.
func Score(longitude, latitude float64) (uint64, bool) {
	h, ok := EncodeWGS84(longitude, latitude, StepMax)
	return Align52(h), ok
}

// Align52 shifts a hash to the 52-bit score scale.
func Align52(h Bits) uint64 { return h.Bits << (52 - uint(h.Step)*2) }

// String returns the standard 11-character geohash of a score, as
// GEOHASH replies: the position is hashed again with latitudes in
// [-90, 90], and the 11th character is always '0'.
func String(score float64) string {
	const alphabet = "0123456789bcdefghjkmnpqrstuvwxyz"
	longitude, latitude := DecodeScore(score)
	h, _ := Encode(Range{-180, 180}, Range{-90, 90}, longitude, latitude, StepMax)
	var buf [11]byte
	for i := 0; i < 10; i++ {
		buf[i] = alphabet[(h.Bits>>(52-(i+1)*5))&0x1f]
	}
	buf[10] = alphabet[0]
	return string(buf[:])
}

func moveX(h *Bits, d int) {
	if d == 0 {
		return
	}
	x := h.Bits & 0xaaaaaaaaaaaaaaaa
	y := h.Bits & 0x5555555555555555
	zz := uint64(0x5555555555555555) >> (64 - uint(h.Step)*2)
	if d > 0 {
		x += zz + 1
	} else {
		x |= zz
		x -= zz + 1
	}
	x &= 0xaaaaaaaaaaaaaaaa >> (64 - uint(h.Step)*2)
	h.Bits = x | y
}

func moveY(h *Bits, d int) {
	if d == 0 {
		return
	}
	x := h.Bits & 0xaaaaaaaaaaaaaaaa
	y := h.Bits & 0x5555555555555555
	zz := uint64(0xaaaaaaaaaaaaaaaa) >> (64 - uint(h.Step)*2)
	if d > 0 {
		y += zz + 1
	} else {
		y |= zz
		y -= zz + 1
	}
	y &= 0x5555555555555555 >> (64 - uint(h.Step)*2)
	h.Bits = x | y
}

// Neighbors are the eight cells around one.
type Neighbors struct {
	North, South, East, West                   Bits
	NorthEast, NorthWest, SouthEast, SouthWest Bits
}

func neighbor(h Bits, dx, dy int) Bits {
	moveX(&h, dx)
	moveY(&h, dy)
	return h
}

// NeighborsOf returns the cells around h (wrapping around at the edges).
func NeighborsOf(h Bits) Neighbors {
	return Neighbors{
		East: neighbor(h, 1, 0), West: neighbor(h, -1, 0),
		South: neighbor(h, 0, -1), North: neighbor(h, 0, 1),
		NorthWest: neighbor(h, -1, 1), NorthEast: neighbor(h, 1, 1),
		SouthEast: neighbor(h, 1, -1), SouthWest: neighbor(h, -1, -1),
	}
}

// dR is C's (M_PI / 180.0): pi rounded to a double, then divided in
// double arithmetic (not pi/180 rounded once, as a Go constant would be).
var dR = func() float64 { pi := math.Pi; return pi / 180.0 }()

func degRad(a float64) float64 { return a * dR }
func radDeg(a float64) float64 { return a / dR }

// EstimateSteps returns the precision of the cells that cover a search of
// rangeMeters around a point at latitude lat.
func EstimateSteps(rangeMeters, lat float64) uint8 {
	if rangeMeters == 0 {
		return 26
	}
	step := 1
	for rangeMeters < mercatorMax {
		rangeMeters *= 2
		step++
	}
	step -= 2
	if lat > 66 || lat < -66 {
		step--
		if lat > 80 || lat < -80 {
			step--
		}
	}
	return uint8(min(max(step, 1), 26))
}

// Shape is a search area: a circle of Radius or a box of Width x Height
// (in units of Conversion meters) around (Long, Lat).
type Shape struct {
	Long, Lat     float64
	Box           bool
	Radius        float64
	Width, Height float64
	Conversion    float64
}

// bounds returns the shape's bounding box: min longitude, min latitude,
// max longitude, max latitude.
func (s *Shape) bounds() [4]float64 {
	height, width := s.Conversion*s.Radius, s.Conversion*s.Radius
	if s.Box {
		height, width = s.Conversion*(s.Height/2), s.Conversion*(s.Width/2)
	}
	latDelta := radDeg(height / EarthRadius)
	longDeltaTop := radDeg(width / EarthRadius / Cos(degRad(s.Lat+latDelta)))
	longDeltaBottom := radDeg(width / EarthRadius / Cos(degRad(s.Lat-latDelta)))
	var b [4]float64
	if s.Lat < 0 {
		b[0], b[2] = s.Long-longDeltaBottom, s.Long+longDeltaBottom
	} else {
		b[0], b[2] = s.Long-longDeltaTop, s.Long+longDeltaTop
	}
	b[1], b[3] = s.Lat-latDelta, s.Lat+latDelta
	return b
}

// Cells returns the cells to search for s, in Redis's order: the center's,
// north, south, east, west, north-east, north-west, south-east,
// south-west. Cells that cannot hold a match are zero.
func (s *Shape) Cells() [9]Bits {
	b := s.bounds()
	minLon, minLat, maxLon, maxLat := b[0], b[1], b[2], b[3]
	radius := s.Radius
	if s.Box {
		radius = math.Sqrt((s.Width/2)*(s.Width/2) + (s.Height/2)*(s.Height/2))
	}
	radius *= s.Conversion
	steps := EstimateSteps(radius, s.Lat)
	long, lat := WGS84()
	hash, _ := Encode(long, lat, s.Long, s.Lat, steps)
	nb := NeighborsOf(hash)
	area, _ := Decode(long, lat, hash)
	north, _ := Decode(long, lat, nb.North)
	south, _ := Decode(long, lat, nb.South)
	east, _ := Decode(long, lat, nb.East)
	west, _ := Decode(long, lat, nb.West)
	decrease := north.Lat.Max < maxLat || south.Lat.Min > minLat ||
		east.Long.Max < maxLon || west.Long.Min > minLon
	if steps > 1 && decrease {
		steps--
		hash, _ = Encode(long, lat, s.Long, s.Lat, steps)
		nb = NeighborsOf(hash)
		area, _ = Decode(long, lat, hash)
	}
	if steps >= 2 {
		if area.Lat.Min < minLat {
			nb.South, nb.SouthWest, nb.SouthEast = Bits{}, Bits{}, Bits{}
		}
		if area.Lat.Max > maxLat {
			nb.North, nb.NorthEast, nb.NorthWest = Bits{}, Bits{}, Bits{}
		}
		if area.Long.Min < minLon {
			nb.West, nb.SouthWest, nb.NorthWest = Bits{}, Bits{}, Bits{}
		}
		if area.Long.Max > maxLon {
			nb.East, nb.SouthEast, nb.NorthEast = Bits{}, Bits{}, Bits{}
		}
	}
	return [9]Bits{hash, nb.North, nb.South, nb.East, nb.West, nb.NorthEast, nb.NorthWest, nb.SouthEast, nb.SouthWest}
}

// ScoreRange returns the scores of the members of cell h: min inclusive,
// max exclusive.
func ScoreRange(h Bits) (lo, hi uint64) {
	lo = Align52(h)
	h.Bits++
	return lo, Align52(h)
}

// latDistance is the distance between two latitudes on a meridian.
func latDistance(lat1, lat2 float64) float64 {
	return EarthRadius * math.Abs(degRad(lat2)-degRad(lat1))
}

// Distance returns the haversine distance in meters between two positions.
func Distance(lon1, lat1, lon2, lat2 float64) float64 {
	lon1r, lon2r := degRad(lon1), degRad(lon2)
	v := Sin((lon2r - lon1r) / 2)
	if v == 0 {
		return latDistance(lat1, lat2)
	}
	lat1r, lat2r := degRad(lat1), degRad(lat2)
	u := Sin((lat2r - lat1r) / 2)
	a := float64(u*u) + float64(float64(Cos(lat1r)*Cos(lat2r))*v*v)
	return 2.0 * EarthRadius * Asin(math.Sqrt(a))
}

// Within reports whether the position (lon, lat) is in s, and its
// distance in meters from the shape's center.
func (s *Shape) Within(lon, lat float64) (float64, bool) {
	if !s.Box {
		d := Distance(s.Long, s.Lat, lon, lat)
		return d, !(d > s.Radius*s.Conversion)
	}
	width, height := s.Width*s.Conversion, s.Height*s.Conversion
	if latDistance(lat, s.Lat) > height/2 {
		return 0, false
	}
	if Distance(lon, lat, s.Long, lat) > width/2 {
		return 0, false
	}
	return Distance(s.Long, s.Lat, lon, lat), true
}
