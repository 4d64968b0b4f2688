package luaenv

import (
	"runtime/metrics"

	lua "github.com/yuin/gopher-lua"
)

// Lua 5.1 functions gopher-lua lacks or does differently, as Redis's Lua
// has them: table.foreach, table.foreachi and table.setn (deprecated in
// 5.1, still there), gcinfo, and collectgarbage's options and results.

// addCompat51 installs them in the globals g.
func addCompat51(L *lua.LState, g *lua.LTable) {
	tab := g.RawGetString("table").(*lua.LTable)
	tab.RawSetString("foreach", L.NewFunction(tabForeach))
	tab.RawSetString("foreachi", L.NewFunction(tabForeachi))
	tab.RawSetString("setn", L.NewFunction(func(L *lua.LState) int {
		raisef(L, "'setn' is obsolete")
		return 0
	}))
	g.RawSetString("gcinfo", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(int64(heapKB())))
		return 1
	}))
	gc := &gcSettings{pause: 200, stepmul: 200}
	g.RawSetString("collectgarbage", L.NewFunction(gc.collectgarbage))
}

// tabForeach is table.foreach(t, f): f(k, v) for every pair, in next's
// order, until f returns something other than nil, which it returns.
func tabForeach(L *lua.LState) int {
	t := L.CheckTable(1)
	f := checkFunction(L, 2)
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		L.Push(f)
		L.Push(k)
		L.Push(v)
		L.Call(2, 1)
		if r := L.Get(-1); r != lua.LNil {
			return 1
		}
		L.Pop(1)
	}
	return 0
}

// tabForeachi is table.foreachi(t, f): f(i, t[i]) for i from 1 to #t,
// until f returns something other than nil, which it returns.
func tabForeachi(L *lua.LState) int {
	t := L.CheckTable(1)
	f := checkFunction(L, 2)
	n := t.Len()
	for i := 1; i <= n; i++ {
		L.Push(f)
		L.Push(lua.LNumber(i))
		L.Push(t.RawGetInt(i))
		L.Call(2, 1)
		if r := L.Get(-1); r != lua.LNil {
			return 1
		}
		L.Pop(1)
	}
	return 0
}

// checkFunction is luaL_checktype(L, n, LUA_TFUNCTION).
func checkFunction(L *lua.LState, n int) *lua.LFunction {
	f, ok := L.Get(n).(*lua.LFunction)
	if !ok {
		badArg(L, n, "function expected, got "+argTypeName(L, n))
	}
	return f
}

// gcSettings are collectgarbage's setpause and setstepmul values, kept to
// be given back: Go's collector, which the whole server shares, is not
// the script's to tune or run.
type gcSettings struct{ pause, stepmul int }

// collectgarbage takes Lua 5.1's options. "count" gives the live Go heap
// in KB; "collect", "step", "stop" and "restart" answer as Lua does and
// run nothing (a collection would stop every client, not one script).
func (gc *gcSettings) collectgarbage(L *lua.LState) int {
	opt := "collect"
	if L.GetTop() >= 1 {
		opt = checkString(L, 1)
	}
	switch opt {
	case "collect", "stop", "restart":
		L.Push(lua.LNumber(0))
	case "count":
		L.Push(lua.LNumber(heapKB()))
	case "step":
		L.Push(lua.LFalse) // no cycle finished
	case "setpause", "setstepmul":
		v := int(optNumber(L, 2, 0))
		old := &gc.pause
		if opt == "setstepmul" {
			old = &gc.stepmul
		}
		L.Push(lua.LNumber(*old))
		*old = v
	default:
		badArg(L, 1, "invalid option '"+opt+"'")
	}
	return 1
}

// heapKB is the live heap in KB, read without stopping the world.
func heapKB() float64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return float64(s[0].Value.Uint64()) / 1024
}
