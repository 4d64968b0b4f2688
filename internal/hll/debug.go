package hll

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// Decode lists the opcodes of the valid sparse HyperLogLog s as PFDEBUG
// DECODE does: "z:N" and "Z:N" for zero runs, "v:VALUE,N" for value runs.
func Decode(s []byte) string {
	var b strings.Builder
	r := s[HeaderSize:]
	for i := 0; i < len(r); {
		size, run, val := opAt(r, i, 0)
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		switch {
		case val != 0:
			fmt.Fprintf(&b, "v:%d,%d", val, run)
		case size == 2:
			fmt.Fprintf(&b, "Z:%d", run)
		default:
			fmt.Fprintf(&b, "z:%d", run)
		}
		i += size
	}
	return b.String()
}

// Registers returns the registers of the dense HyperLogLog s.
func Registers(s []byte) []uint8 {
	out := make([]uint8, NumRegisters)
	for i := range out {
		out[i] = reg(s[HeaderSize:], i)
	}
	return out
}

// SelfTest checks register access and the estimator as PFSELFTEST does,
// on a smaller scale: 10 rounds of random registers, and up to 100,000
// elements added to a dense and a sparse HyperLogLog that must agree, with
// an error within six standard errors. Its error's text is the wire reply.
func SelfTest() error {
	r := make([]byte, DenseSize-HeaderSize)
	var want [NumRegisters]uint8
	for range 10 {
		for i := range want {
			want[i] = uint8(rand.IntN(regMax + 1))
			setReg(r, i, want[i])
		}
		for i, w := range want {
			if v := reg(r, i); v != w {
				return fmt.Errorf("TESTFAILED Register %d should be %d but is %d", i, w, v)
			}
		}
	}

	dense := New()
	if err := dense.ToDense(); err != nil {
		return err
	}
	sparse := New()
	relErr := 1.04 / math.Sqrt(NumRegisters)
	salt := rand.Uint64()
	var ele [8]byte
	for n, check := uint64(1), uint64(1); n <= 100_000; n++ {
		binary.LittleEndian.PutUint64(ele[:], n^salt)
		dense.Add(ele[:], DefaultSparseMaxBytes)
		if _, err := sparse.Add(ele[:], DefaultSparseMaxBytes); err != nil {
			return err
		}
		if n != check {
			continue
		}
		if n < DefaultSparseMaxBytes/2 && IsDense(sparse.s) {
			return fmt.Errorf("TESTFAILED sparse encoding not used")
		}
		d, _ := Count(dense.s)
		if c, err := Count(sparse.s); err != nil || c != d {
			return fmt.Errorf("TESTFAILED dense/sparse disagree")
		}
		maxErr := math.Ceil(relErr * 6 * float64(n))
		if n == 10 {
			maxErr = 1
		}
		if math.Abs(float64(n)-float64(d)) > maxErr {
			return fmt.Errorf("TESTFAILED Too big error. card:%d abserr:%d", n, int64(math.Abs(float64(n)-float64(d))))
		}
		check *= 10
	}
	return nil
}
