package hll

import "math"

// histogram counts the registers of each value (0-63).
type histogram [64]int

// Count estimates the cardinality of the valid HyperLogLog s from its
// registers, ignoring the cached value.
func Count(s []byte) (uint64, error) {
	var h histogram
	if IsDense(s) {
		h.addDense(s[HeaderSize:])
	} else if !h.addSparse(s[HeaderSize:]) {
		return 0, ErrCorrupt
	}
	return h.estimate(), nil
}

// addDense counts dense registers r, four registers (three bytes) at a
// time.
func (h *histogram) addDense(r []byte) {
	for i := 0; i+2 < len(r); i += 3 {
		b0, b1, b2 := r[i], r[i+1], r[i+2]
		h[b0&regMax]++
		h[(b0>>6|b1<<2)&regMax]++
		h[(b1>>4|b2<<4)&regMax]++
		h[b2>>2]++
	}
}

// addSparse counts sparse registers b and reports whether they are
// exactly NumRegisters.
func (h *histogram) addSparse(b []byte) bool {
	return eachRun(b, 0, func(_, run, val int) { h[val] += run })
}

// estimate is Redis 7.0's estimator, from Otmar Ertl's "New cardinality
// estimation algorithms for HyperLogLog sketches" (arXiv:1702.01284),
// computed in the same order of float64 operations. The explicit float64
// conversions keep the compiler from fusing a multiply and an add, which
// would round differently.
func (h *histogram) estimate() uint64 {
	const (
		m = float64(NumRegisters)
		q = 64 - precision
		// alphaInf is 1/(2 ln 2).
		alphaInf = 0.721347520444481703680
	)
	z := m * tau((m-float64(h[q+1]))/m)
	for j := q; j >= 1; j-- {
		z += float64(h[j])
		z *= 0.5
	}
	z += float64(m * sigma(float64(h[0])/m))
	e := math.Round(alphaInf * m * m / z)
	if !(e < 1<<63) {
		// C's llroundl out of range (an infinite estimate when every
		// register is at 51): x86-64 yields the "integer indefinite".
		return 1 << 63
	}
	return uint64(e)
}

func sigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y, z := 1.0, x
	for {
		x *= x
		prev := z
		z += float64(x * y)
		y += y
		if z == prev {
			return z
		}
	}
}

func tau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y, z := 1.0, 1-x
	for {
		x = math.Sqrt(x)
		prev := z
		y *= 0.5
		d := 1 - x
		z -= float64(float64(d*d) * y)
		if z == prev {
			return z / 3
		}
	}
}

// Union holds, for each register, the largest value among the
// HyperLogLogs merged into it: PFCOUNT of several keys counts it, PFMERGE
// stores it.
type Union [NumRegisters]uint8

// Merge raises u's registers to those of the valid HyperLogLog s.
func (u *Union) Merge(s []byte) error {
	r := s[HeaderSize:]
	if IsDense(s) {
		for i := range u {
			u[i] = max(u[i], reg(r, i))
		}
		return nil
	}
	ok := eachRun(r, 0, func(first, run, val int) {
		for i := first; i < first+run; i++ {
			u[i] = max(u[i], uint8(val))
		}
	})
	if !ok {
		return ErrCorrupt
	}
	return nil
}

// Count estimates the cardinality of the union.
func (u *Union) Count() uint64 {
	var h histogram
	for _, v := range u {
		h[v]++
	}
	return h.estimate()
}
