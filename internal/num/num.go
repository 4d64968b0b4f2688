// Package num parses and formats numbers exactly as Redis does, so that
// replies and errors match redis-server byte for byte.
package num

import (
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// ParseInt parses a decimal int64 with Redis's string2ll rules: an optional
// '-', no '+', no leading zeros, no spaces, no overflow.
func ParseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := false
	i := 0
	if b[0] == '-' {
		neg = true
		i = 1
		if len(b) == 1 {
			return 0, false
		}
	}
	if b[i] < '1' || b[i] > '9' {
		return 0, false
	}
	var v uint64
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (1<<64-1)/10 {
			return 0, false
		}
		v *= 10
		if v > 1<<64-1-uint64(c-'0') {
			return 0, false
		}
		v += uint64(c - '0')
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}

// ParseFloat parses a double with the rules of Redis's getDoubleFromObject
// (strtod): no leading space, no trailing bytes, no NaN, no overflow and no
// underflow to zero. "inf", "+inf", "-inf" and hex floats are accepted.
func ParseFloat(b []byte) (float64, bool) {
	s, ok := cFloatSyntax(b)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return 0, false
	}
	if f == 0 && nonZeroMantissa(s) {
		return 0, false
	}
	return f, true
}

// cFloatSyntax rejects what strtod would not consume whole but Go's
// ParseFloat accepts (underscores), and completes hex floats without an
// exponent ("0x10"), which strtod accepts and Go does not.
func cFloatSyntax(b []byte) (string, bool) {
	if len(b) == 0 || isSpace(b[0]) {
		return "", false
	}
	hex := false
	for i, c := range b {
		switch {
		case c == '_' || c == ' ':
			return "", false
		case (c == 'x' || c == 'X') && i > 0 && b[i-1] == '0':
			hex = true
		}
	}
	s := string(b)
	if hex && !strings.ContainsAny(s, "pP") {
		s += "p0"
	}
	return s, true
}

func nonZeroMantissa(s string) bool {
	hex := strings.ContainsAny(s, "xX")
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 'e' || c == 'E' && !hex || c == 'p' || c == 'P' {
			return false
		}
		if c >= '1' && c <= '9' || hex && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') && i > 1 {
			return true
		}
	}
	return false
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// LongDouble is an x87 80-bit extended double (64-bit mantissa), the type
// Redis uses for INCRBYFLOAT and HINCRBYFLOAT. Emulating it keeps results
// byte-identical: 0.1 + 0.2 is "0.3" in Redis, not "0.30000000000000004".
type LongDouble struct{ f *big.Float }

const longDoublePrec = 64

// ParseLongDouble parses b with the rules of Redis's getLongDoubleFromObject
// (strtold): like ParseFloat, with an 80-bit result.
func ParseLongDouble(b []byte) (LongDouble, bool) {
	s, ok := cFloatSyntax(b)
	if !ok {
		return LongDouble{}, false
	}
	low := strings.ToLower(strings.TrimLeft(s, "+-"))
	if low == "inf" || low == "infinity" {
		f := new(big.Float).SetPrec(longDoublePrec).SetInf(s[0] == '-')
		return LongDouble{f}, true
	}
	if strings.Contains(low, "nan") {
		return LongDouble{}, false
	}
	// strconv's syntax is strtold's: big.ParseFloat with base 0 also takes
	// a binary exponent after decimal digits ("1p3") and 0b and 0o
	// prefixes. Out of a double's range is fine here.
	if _, err := strconv.ParseFloat(s, 64); err != nil && !errors.Is(err, strconv.ErrRange) {
		return LongDouble{}, false
	}
	f, _, err := big.ParseFloat(s, 0, longDoublePrec, big.ToNearestEven)
	if err != nil {
		return LongDouble{}, false
	}
	if f.Sign() != 0 {
		exp := f.MantExp(nil)
		// x87 extended range: 2^-16445 (denormal) .. 2^16384.
		if exp > 16384 || exp < -16444 {
			return LongDouble{}, false
		}
	}
	return LongDouble{f}, true
}

// Add returns a + b rounded to 64 bits of mantissa; ok is false when the
// result is infinite (Redis: "increment would produce NaN or Infinity").
func (a LongDouble) Add(b LongDouble) (LongDouble, bool) {
	if a.f.IsInf() || b.f.IsInf() {
		return LongDouble{}, false
	}
	r := new(big.Float).SetPrec(longDoublePrec).SetMode(big.ToNearestEven)
	r.Add(a.f, b.f)
	if r.Sign() != 0 && r.MantExp(nil) > 16384 {
		return LongDouble{}, false
	}
	return LongDouble{r}, true
}

// Format renders the value as Redis's ld2string in LD_STR_HUMAN mode:
// "%.17Lf" with trailing zeros (and a trailing point) removed; integers in
// range are printed as integers.
func (a LongDouble) Format() []byte {
	if a.f.IsInf() {
		if a.f.Sign() < 0 {
			return []byte("-inf")
		}
		return []byte("inf")
	}
	s := a.f.Text('f', 17)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return []byte(s)
}
