package geohash

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// Scores and positions as redis-server 7.0.15 computes them.
func TestScore(t *testing.T) {
	for _, tc := range []struct {
		lon, lat float64
		score    uint64
	}{
		{13.361389, 38.115556, 3479099956230698},
		{15.087269, 37.502669, 3479447370796909},
		{0, 0, 3377699720527872},
		{1, 1, 3377822707026402},
	} {
		got, ok := Score(tc.lon, tc.lat)
		if !ok || got != tc.score {
			t.Errorf("Score(%v, %v) = %d, %v; want %d", tc.lon, tc.lat, got, ok, tc.score)
		}
	}
	if _, ok := Score(180.0000001, 0); ok {
		t.Error("a longitude past 180 hashed")
	}
	if _, ok := Score(0, LatMax+1e-9); ok {
		t.Error("a latitude past the limit hashed")
	}
	lon, lat := DecodeScore(3479099956230698)
	if lon != 13.361389338970184 || lat != 38.1155563954963 {
		t.Errorf("DecodeScore: %v %v", lon, lat)
	}
	if s := String(3479099956230698); s != "sqc8b49rny0" {
		t.Errorf("String: %q", s)
	}
}

// ScoreBits converts as the C cast does on x86-64 (values from gcc -O2).
func TestScoreBits(t *testing.T) {
	for _, tc := range []struct {
		f    float64
		want uint64
	}{
		{-1, 0xffffffffffffffff}, {-1.5, 0xffffffffffffffff}, {-1e30, 1 << 63}, {1e30, 0},
		{9223372036854775808.0, 1 << 63}, {18446744073709551616.0, 0}, {math.NaN(), 1 << 63},
		{math.Inf(1), 0}, {math.Inf(-1), 1 << 63}, {4503599627370496, 1 << 52}, {1e19, 0x8ac7230489e80000},
	} {
		if got := ScoreBits(tc.f); got != tc.want {
			t.Errorf("ScoreBits(%v) = %#x, want %#x", tc.f, got, tc.want)
		}
	}
}

const refPrec = 300

// bigSin is sin(x) to refPrec bits.
func bigSin(x float64) *big.Float { return bigSinF(new(big.Float).SetPrec(refPrec).SetFloat64(x)) }

// bigCos is cos(x) likewise.
func bigCos(x float64) *big.Float {
	bx := new(big.Float).SetPrec(refPrec).SetFloat64(x)
	x2 := new(big.Float).SetPrec(refPrec).Mul(bx, bx)
	term := new(big.Float).SetPrec(refPrec).SetInt64(1)
	sum := new(big.Float).SetPrec(refPrec).SetInt64(1)
	for n := int64(1); n < 80; n++ {
		term.Mul(term, x2)
		term.Quo(term, new(big.Float).SetInt64((2*n-1)*(2*n)))
		term.Neg(term)
		sum.Add(sum, term)
	}
	return sum
}

// nearest reports whether r is the double nearest to exact.
func nearest(r float64, exact *big.Float) bool {
	d := new(big.Float).SetPrec(refPrec).Sub(exact, new(big.Float).SetFloat64(r))
	d.Abs(d)
	half := new(big.Float).SetFloat64((math.Nextafter(math.Abs(r), math.Inf(1)) - math.Abs(r)) / 2)
	if r != 0 && math.Abs(r) == math.Float64frombits(math.Float64bits(math.Abs(r))&^(1<<52-1)) {
		// A power of two: the ulp below is half the one above.
		half.Quo(half, new(big.Float).SetInt64(2))
	}
	return d.Cmp(half) <= 0
}

// Sin, Cos and Asin give the double nearest to the exact value, over the
// arguments distances use (and a little more).
func TestTrigNearest(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for i := 0; i < 1500; i++ {
		x := (r.Float64()*2 - 1) * 4
		if i%3 == 0 {
			x *= math.Pow(2, -float64(r.IntN(40)))
		}
		if s := Sin(x); !nearest(s, bigSin(x)) {
			t.Fatalf("Sin(%v) = %v, exact %s", x, s, bigSin(x).Text('g', 25))
		}
		if c := Cos(x); !nearest(c, bigCos(x)) {
			t.Fatalf("Cos(%v) = %v, exact %s", x, c, bigCos(x).Text('g', 25))
		}
		// asin(y) = a is the nearest double when y lies between the sines
		// of a's rounding interval.
		y := r.Float64()
		if i%4 == 0 {
			y = 1 - y*math.Pow(2, -float64(r.IntN(50)))
		}
		a := Asin(y)
		lo, hi := math.Nextafter(a, 0), math.Nextafter(a, 2)
		by := new(big.Float).SetPrec(refPrec).SetFloat64(y)
		bl := new(big.Float).SetPrec(refPrec).Add(new(big.Float).SetFloat64(lo), new(big.Float).SetFloat64(a))
		bl.Quo(bl, new(big.Float).SetInt64(2))
		bh := new(big.Float).SetPrec(refPrec).Add(new(big.Float).SetFloat64(hi), new(big.Float).SetFloat64(a))
		bh.Quo(bh, new(big.Float).SetInt64(2))
		if bigSinF(bl).Cmp(by) > 0 || (a < math.Pi/2 && bigSinF(bh).Cmp(by) < 0) {
			t.Fatalf("Asin(%v) = %v is not the nearest double", y, a)
		}
	}
	if Asin(1) != math.Pi/2 || !math.IsNaN(Asin(1.0000000000000002)) || Asin(-0.5) != -Asin(0.5) {
		t.Fatal("Asin at its limits")
	}
}

// bigSinF is sin(x) to refPrec bits by its Taylor series (|x| < 8).
func bigSinF(bx *big.Float) *big.Float {
	x2 := new(big.Float).SetPrec(refPrec).Mul(bx, bx)
	term := new(big.Float).SetPrec(refPrec).Set(bx)
	sum := new(big.Float).SetPrec(refPrec).Set(bx)
	for n := int64(1); n < 80; n++ {
		term.Mul(term, x2)
		term.Quo(term, new(big.Float).SetInt64((2*n)*(2*n+1)))
		term.Neg(term)
		sum.Add(sum, term)
	}
	return sum
}

// The cells of a search: Redis skips excluded neighbours (zero hashes),
// and the center's cell holds the center.
func TestCells(t *testing.T) {
	s := Shape{Long: 13.361389, Lat: 38.115556, Radius: 200, Conversion: 1000}
	cells := s.Cells()
	if est := EstimateSteps(200000, s.Lat); est != 6 || (cells[0].Step != est && cells[0].Step != est-1) {
		t.Errorf("step %d, estimated %d", cells[0].Step, est)
	}
	score, _ := Score(s.Long, s.Lat)
	lo, hi := ScoreRange(cells[0])
	if score < lo || score >= hi {
		t.Errorf("the center's cell [%d, %d) misses its score %d", lo, hi, score)
	}
	if d, in := s.Within(15.087269, 37.502669); !in || math.Abs(d-166274.15) > 1 {
		t.Errorf("Catania: %v %v", d, in)
	}
	huge := Shape{Radius: math.Inf(1), Conversion: 1}
	if c := huge.Cells(); c[0].Step != 1 {
		t.Errorf("an infinite radius searches at step %d", c[0].Step)
	}
}
