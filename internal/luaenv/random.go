package luaenv

import (
	"math"

	lua "github.com/yuin/gopher-lua"
)

// lrand48 is the 48-bit linear congruential generator of POSIX lrand48,
// which Redis uses for math.random: after the same math.randomseed, a
// script draws the numbers it would draw in Redis.
type lrand48 struct{ x uint64 }

const (
	lrandMask = 1<<48 - 1
	lrandMax  = math.MaxInt32
)

// seed sets the state as srand48 does: the seed in the high 32 bits, 0x330E
// below.
func (r *lrand48) seed(s int32) { r.x = uint64(uint32(s))<<16 | 0x330E }

// next returns the next non-negative 31-bit number.
func (r *lrand48) next() int32 {
	r.x = (r.x*0x5DEECE66D + 0xB) & lrandMask
	return int32(r.x >> 17)
}

// random is math.random: a number in [0, 1), or an integer in [1, u] or
// [l, u].
func (env *Env) random(L *lua.LState) int {
	r := float64(env.rng.next()%lrandMax) / lrandMax
	switch L.GetTop() {
	case 0:
		L.Push(lua.LNumber(r))
	case 1:
		u := intArg(L, 1)
		if u < 1 {
			badArg(L, 1, "interval is empty")
		}
		L.Push(lua.LNumber(math.Floor(r*float64(u)) + 1))
	case 2:
		l, u := intArg(L, 1), intArg(L, 2)
		if l > u {
			badArg(L, 2, "interval is empty")
		}
		L.Push(lua.LNumber(math.Floor(r*float64(u-l+1)) + float64(l)))
	default:
		raise(L, "wrong number of arguments")
	}
	return 1
}

// randomseed is math.randomseed.
func (env *Env) randomseed(L *lua.LState) int {
	env.rng.seed(intArg(L, 1))
	return 0
}
