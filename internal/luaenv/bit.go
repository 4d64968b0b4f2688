package luaenv

import (
	"math"
	"math/bits"

	lua "github.com/yuin/gopher-lua"
)

// newBit returns the bit library (LuaBitOp's API, as Redis ships it):
// operations on numbers taken as 32-bit two's complement integers.
func newBit(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	unary := map[string]func(uint32) uint32{
		"tobit": func(x uint32) uint32 { return x },
		"bnot":  func(x uint32) uint32 { return ^x },
		"bswap": bits.ReverseBytes32,
	}
	for name, f := range unary {
		L.SetField(t, name, L.NewFunction(func(L *lua.LState) int {
			L.Push(bitResult(f(checkBit(L, 1))))
			return 1
		}))
	}
	fold := map[string]func(a, b uint32) uint32{
		"band": func(a, b uint32) uint32 { return a & b },
		"bor":  func(a, b uint32) uint32 { return a | b },
		"bxor": func(a, b uint32) uint32 { return a ^ b },
	}
	for name, f := range fold {
		L.SetField(t, name, L.NewFunction(func(L *lua.LState) int {
			acc := checkBit(L, 1)
			for i := 2; i <= L.GetTop(); i++ {
				acc = f(acc, checkBit(L, i))
			}
			L.Push(bitResult(acc))
			return 1
		}))
	}
	shift := map[string]func(x uint32, n uint) uint32{
		"lshift":  func(x uint32, n uint) uint32 { return x << n },
		"rshift":  func(x uint32, n uint) uint32 { return x >> n },
		"arshift": func(x uint32, n uint) uint32 { return uint32(int32(x) >> n) },
		"rol":     func(x uint32, n uint) uint32 { return bits.RotateLeft32(x, int(n)) },
		"ror":     func(x uint32, n uint) uint32 { return bits.RotateLeft32(x, -int(n)) },
	}
	for name, f := range shift {
		L.SetField(t, name, L.NewFunction(func(L *lua.LState) int {
			x, n := checkBit(L, 1), checkBit(L, 2)&31
			L.Push(bitResult(f(x, uint(n))))
			return 1
		}))
	}
	L.SetField(t, "tohex", L.NewFunction(func(L *lua.LState) int {
		x := checkBit(L, 1)
		n := int32(8)
		if L.GetTop() >= 2 { // nil is not a count: LuaBitOp tests for none
			n = int32(checkBit(L, 2))
		}
		digits := "0123456789abcdef"
		if n < 0 {
			n = -n
			digits = "0123456789ABCDEF"
		}
		n = min(n, 8)
		buf := make([]byte, n)
		for i := n - 1; i >= 0; i-- {
			buf[i] = digits[x&15]
			x >>= 4
		}
		L.Push(lua.LString(buf))
		return 1
	}))
	return t
}

// checkBit reads argument i as LuaBitOp does: a number (or a string that
// reads as one) plus 2^52+2^51, whose low 32 bits are then the number
// rounded to an integer modulo 2^32 when it is below 2^51, and other bits
// past that, as in Redis (bit.tobit(2^53+3) is 2).
func checkBit(L *lua.LState, i int) uint32 {
	f := float64(numberArg(L, i)) + 6755399441055744.0
	return uint32(math.Float64bits(f))
}

// bitResult returns x as a signed 32-bit Lua number.
func bitResult(x uint32) lua.LNumber { return lua.LNumber(int32(x)) }
