package geohash

import (
	"math"
	"math/big"
)

// Sine, cosine and arcsine rounded to the nearest double, as glibc's
// (which are within about half an ulp, so nearly always the correctly
// rounded result) and unlike Go's math package (often one ulp off). Redis
// computes distances with glibc's, and GEOSEARCHSTORE ... STOREDIST shows
// all 17 digits of them. The functions work in double-double arithmetic:
// a reduction by pi/2 held in three doubles, Taylor series to 2^-110, and
// Newton steps for the arcsine from Go's estimate.

// dd is an unevaluated sum hi + lo with |lo| <= ulp(hi)/2.
type dd struct{ hi, lo float64 }

func twoSum(a, b float64) dd {
	s := a + b
	bb := s - a
	return dd{s, (a - (s - bb)) + (b - bb)}
}

func quickTwoSum(a, b float64) dd {
	s := a + b
	return dd{s, b - (s - a)}
}

func twoProd(a, b float64) dd {
	p := a * b
	return dd{p, math.FMA(a, b, -p)}
}

func ddAdd(x, y dd) dd {
	s := twoSum(x.hi, y.hi)
	t := twoSum(x.lo, y.lo)
	s = quickTwoSum(s.hi, s.lo+t.hi)
	return quickTwoSum(s.hi, s.lo+t.lo)
}

func ddMul(x, y dd) dd {
	p := twoProd(x.hi, y.hi)
	return quickTwoSum(p.hi, p.lo+(x.hi*y.lo+x.lo*y.hi))
}

func ddMulF(x dd, f float64) dd {
	p := twoProd(x.hi, f)
	return quickTwoSum(p.hi, p.lo+x.lo*f)
}

// pi/2 in three doubles.
const (
	pio2a = 0x1.921fb54442d18p+0
	pio2b = 0x1.1a62633145c07p-54
	pio2c = -0x1.f1976b7ed8fbcp-110
)

// terms of the Taylor series evaluated; |r| <= pi/4 makes the first term
// left out smaller than 2^-110.
const taylorTerms = 16

// sinCoef[k] = (-1)^k / (2k+1)!, cosCoef[k] = (-1)^k / (2k)!.
var sinCoef, cosCoef = func() (s, c [taylorTerms]dd) {
	fact := new(big.Float).SetPrec(256).SetInt64(1)
	for n := 0; n < 2*taylorTerms; n++ {
		if n > 0 {
			fact.Mul(fact, new(big.Float).SetPrec(256).SetInt64(int64(n)))
		}
		inv := new(big.Float).SetPrec(256).Quo(new(big.Float).SetPrec(256).SetInt64(1), fact)
		if (n/2)%2 == 1 {
			inv.Neg(inv)
		}
		hi, _ := inv.Float64()
		lo, _ := new(big.Float).SetPrec(256).Sub(inv, new(big.Float).SetFloat64(hi)).Float64()
		if n%2 == 0 {
			c[n/2] = dd{hi, lo}
		} else {
			s[n/2] = dd{hi, lo}
		}
	}
	return s, c
}()

// poly evaluates sum coef[k] * r2^k.
func poly(coef *[taylorTerms]dd, r2 dd) dd {
	p := coef[taylorTerms-1]
	for k := taylorTerms - 2; k >= 0; k-- {
		p = ddAdd(ddMul(p, r2), coef[k])
	}
	return p
}

// reduceLimit bounds the arguments reduced here; larger ones (only from
// absurd search radii, whose bounding box Redis does not use) go to Go's
// functions.
const reduceLimit = 1024

// sinCosDD returns sin(x) and cos(x) in double-double, |x| < reduceLimit.
func sinCosDD(x float64) (sin, cos dd) {
	k := math.RoundToEven(x * (2 / math.Pi))
	r := dd{x, 0}
	if k != 0 {
		r = ddAdd(r, ddMulF(dd{-pio2a, -pio2b}, k))
		r = ddAdd(r, dd{-pio2c * k, 0})
	}
	r2 := ddMul(r, r)
	s := ddMul(r, poly(&sinCoef, r2))
	c := poly(&cosCoef, r2)
	neg := func(v dd) dd { return dd{-v.hi, -v.lo} }
	switch int64(k) & 3 {
	case 1:
		return c, neg(s)
	case 2:
		return neg(s), neg(c)
	case 3:
		return neg(c), s
	}
	return s, c
}

// Sin returns the sine of x rounded to the nearest double.
func Sin(x float64) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) >= reduceLimit {
		return math.Sin(x)
	}
	s, _ := sinCosDD(x)
	return s.hi + s.lo
}

// Cos returns the cosine of x rounded to the nearest double.
func Cos(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) >= reduceLimit {
		return math.Cos(x)
	}
	_, c := sinCosDD(x)
	return c.hi + c.lo
}

// Asin returns the arcsine of y rounded to the nearest double.
func Asin(y float64) float64 {
	switch {
	case math.IsNaN(y) || y > 1 || y < -1:
		return math.NaN()
	case y < 0:
		return -Asin(-y)
	case y < 0x1p-26:
		return y // asin(y) = y(1 + y^2/6 + ...) rounds to y
	case y == 1:
		return pio2a
	}
	t := dd{math.Asin(y), 0}
	for i := 0; i < 2; i++ {
		s, c := sinCosDD(t.hi)
		// sin(t) - y, with sin(hi + lo) = sin(hi) + cos(hi) lo.
		f := ddAdd(ddAdd(s, ddMulF(c, t.lo)), dd{-y, 0})
		t = ddAdd(t, dd{-f.hi / c.hi, 0})
	}
	return t.hi + t.lo
}
