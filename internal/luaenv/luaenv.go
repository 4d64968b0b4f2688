// Package luaenv builds the Lua 5.1 environment Redis 7.0 gives scripts,
// on gopher-lua: the base, table, string, math and coroutine libraries
// without file, module or environment access, the bit library, Redis's
// deterministic math.random, and globals that scripts can read but not
// change. The redis table itself belongs to the engine (internal/command).
package luaenv

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// ErrReadonly is the error raised when a script modifies a protected table.
const ErrReadonly = "Attempt to modify a readonly table"

// Env is one Lua state prepared for scripts.
type Env struct {
	L *lua.LState
	// Globals holds the real global variables; scripts see them through
	// Proxy, which refuses writes and reads of undefined names.
	Globals *lua.LTable
	// Proxy is the environment scripts run in.
	Proxy *lua.LTable
	// Index, when set, is what Proxy reads instead of Globals: function
	// libraries run their load-time code with only the API FUNCTION LOAD
	// gives them.
	Index *lua.LTable

	protected   map[*lua.LTable]bool
	globalsMeta *lua.LTable // what getmetatable(_G) gives: a read-only view
	stringMeta  *lua.LTable // what getmetatable('') gives: a read-only view
	rng         lrand48
}

// removed lists globals gopher-lua defines that Redis's scripts do not
// have: file and module access, environments, printing.
var removed = []string{
	"dofile", "loadfile", "print", "setfenv", "getfenv", "module", "require",
	"newproxy", "_printregs", "_GOPHER_LUA_VERSION",
}

// New returns a Lua state with Redis's libraries. Add library tables with
// SetLibrary, then call Seal before running scripts.
func New() *Env {
	// The data stack grows on demand: cmsgpack.unpack and struct.unpack
	// return up to Lua's C stack limit (8000 values) at once.
	L := lua.NewState(lua.Options{SkipOpenLibs: true, RegistryMaxSize: 256 * 1024})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
		{lua.CoroutineLibName, lua.OpenCoroutine},
	} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	env := &Env{L: L, Globals: L.G.Global, protected: make(map[*lua.LTable]bool)}
	for _, name := range removed {
		env.Globals.RawSetString(name, lua.LNil)
	}
	fixArgs(L, env.Globals)
	addCompat51(L, env.Globals)
	math := env.Globals.RawGetString("math").(*lua.LTable)
	math.RawSetString("random", L.NewFunction(env.random))
	math.RawSetString("randomseed", L.NewFunction(env.randomseed))
	env.Globals.RawSetString("bit", newBit(L))
	env.Globals.RawSetString("cjson", newCjson(L, L.NewUserData()))
	env.Globals.RawSetString("cmsgpack", newCmsgpack(L))
	env.Globals.RawSetString("struct", newStruct(L))
	env.Globals.RawSetString("rawset", L.NewFunction(env.rawset))
	env.Globals.RawSetString("setmetatable", env.refuseProtected(env.Globals.RawGetString("setmetatable").(*lua.LFunction)))
	env.Globals.RawSetString("getmetatable", L.NewFunction(env.getmetatable))
	env.Globals.RawSetString("tostring", numbersAsLua(L, env.Globals.RawGetString("tostring").(*lua.LFunction)))
	for _, name := range []string{"load", "loadstring"} {
		env.Globals.RawSetString(name, env.inEnv(env.Globals.RawGetString(name).(*lua.LFunction)))
	}
	return env
}

// SetLibrary installs a library table as a global.
func (env *Env) SetLibrary(name string, t *lua.LTable) { env.Globals.RawSetString(name, t) }

// Seal makes every library table read-only (scripts see a proxy) and
// builds the environment scripts run in.
func (env *Env) Seal() {
	env.Globals.ForEach(func(k, v lua.LValue) {
		if t, ok := v.(*lua.LTable); ok && k.String() != "_G" {
			env.Globals.RawSet(k, env.readonly(t, nil))
		}
	})
	// Strings' methods are the string library scripts see, as in Redis
	// (getmetatable('').__index == string).
	// Its metatable is read-only too, or a script could take the methods
	// away from every later one.
	if mt, ok := env.L.GetMetatable(lua.LString("")).(*lua.LTable); ok {
		mt.RawSetString("__index", env.Globals.RawGetString("string"))
		env.stringMeta = env.readonly(mt, nil)
	}
	var mt *lua.LTable
	env.Proxy, mt = env.readonlyProxy(nil, env.strictIndex(func() *lua.LTable {
		if env.Index != nil {
			return env.Index
		}
		return env.Globals
	}))
	// Redis's globals have a metatable (the one behind the nonexistent
	// variable error), itself read-only: scripts see a read-only view.
	env.globalsMeta = env.readonly(mt, nil)
	env.Globals.RawSetString("_G", env.Proxy)
}

// getmetatable is the base library's getmetatable, showing protected
// tables as Redis shows its read-only ones: the globals and strings with
// a read-only view of their metatable, the others with none.
func (env *Env) getmetatable(L *lua.LState) int {
	if L.GetTop() == 0 {
		// Lua 5.1's wording (gopher-lua's has no quotes).
		L.RaiseError("bad argument #1 to 'getmetatable' (value expected)")
	}
	if _, ok := L.Get(1).(lua.LString); ok && env.stringMeta != nil {
		L.Push(env.stringMeta)
		return 1
	}
	if t, ok := L.Get(1).(*lua.LTable); ok && env.protected[t] {
		if t == env.Proxy {
			L.Push(env.globalsMeta)
		} else {
			L.Push(lua.LNil)
		}
		return 1
	}
	L.Push(L.GetMetaField(L.CheckAny(1), "__metatable"))
	if L.Get(-1) == lua.LNil {
		L.Pop(1)
		L.Push(L.GetMetatable(L.Get(1)))
	}
	return 1
}

// readonly returns an empty table that reads through to t (or calls
// index) and refuses writes.
func (env *Env) readonly(t *lua.LTable, index *lua.LFunction) *lua.LTable {
	proxy, _ := env.readonlyProxy(t, index)
	return proxy
}

// readonlyProxy returns a protected empty table that reads through to t
// (or calls index) and refuses writes, and its metatable. Scripts cannot
// change the metatable, and getmetatable shows them none (see
// getmetatable), as Redis's read-only tables have none.
func (env *Env) readonlyProxy(t *lua.LTable, index *lua.LFunction) (proxy, mt *lua.LTable) {
	L := env.L
	proxy = L.NewTable()
	mt = L.NewTable()
	mt.RawSetString("__metatable", lua.LFalse)
	if index != nil {
		mt.RawSetString("__index", index)
	} else {
		mt.RawSetString("__index", t)
	}
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError(ErrReadonly)
		return 0
	}))
	L.SetMetatable(proxy, mt)
	env.protected[proxy] = true
	return proxy, mt
}

// refuseProtected wraps setmetatable: its arguments are checked as Lua
// 5.1 checks them, and a protected table is refused with the read-only
// error raised as a C function raises it: without a position.
func (env *Env) refuseProtected(fn *lua.LFunction) *lua.LFunction {
	return env.L.NewFunction(func(L *lua.LState) int {
		t, ok := L.Get(1).(*lua.LTable)
		if !ok {
			// Lua 5.1's check: gopher-lua's would set the metatable of
			// every string (or number...) for every later script.
			badArg(L, 1, "table expected, got "+argTypeName(L, 1))
		}
		if mt := L.Get(2); mt != lua.LNil {
			if _, ok := mt.(*lua.LTable); !ok {
				badArg(L, 2, "nil or table expected")
			}
		}
		if env.protected[t] {
			L.Error(lua.LString(ErrReadonly), 0)
		}
		return callThrough(L, fn)
	})
}

// numbersAsLua wraps tostring so that a number is written as Lua 5.1
// writes it ("%.14g": 0.33333333333333, inf), where gopher-lua uses Go's
// shortest form; anything else goes to tostring itself. (Concatenation
// with .. is the VM's own and keeps Go's form.)
func numbersAsLua(L *lua.LState, tostring *lua.LFunction) *lua.LFunction {
	return L.NewFunction(func(L *lua.LState) int {
		if L.GetTop() == 0 {
			badArg(L, 1, "value expected")
		}
		if n, ok := L.Get(1).(lua.LNumber); ok {
			L.Push(lua.LString(formatG(float64(n), 14)))
			return 1
		}
		return callThrough(L, tostring)
	})
}

// callThrough calls fn with the current function's arguments and returns
// what it returns, for wrappers that hand a call on.
func callThrough(L *lua.LState, fn *lua.LFunction) int {
	top := L.GetTop()
	L.Push(fn)
	for i := 1; i <= top; i++ {
		L.Push(L.Get(i))
	}
	L.Call(top, lua.MultRet)
	return L.GetTop() - top
}

// strictIndex returns an __index function that reads the table src
// returns and raises an error for a name it does not hold.
func (env *Env) strictIndex(src func() *lua.LTable) *lua.LFunction {
	return env.L.NewFunction(func(L *lua.LState) int {
		name := L.Get(2)
		v := src().RawGet(name)
		if v == lua.LNil {
			L.RaiseError("Script attempted to access nonexistent global variable '%s'", lua.LVAsString(name))
		}
		L.Push(v)
		return 1
	})
}

// Strict returns a read-only proxy of t whose reads of a missing field
// raise the error a nonexistent global variable does, as Redis's tables
// with its error metatable do.
func (env *Env) Strict(t *lua.LTable) *lua.LTable {
	return env.readonly(nil, env.strictIndex(func() *lua.LTable { return t }))
}

// rawset is the base library's rawset, refusing protected tables.
func (env *Env) rawset(L *lua.LState) int {
	t := L.CheckTable(1)
	if env.protected[t] {
		// Raised by a Go function, as Lua's rawset is a C one: no position.
		L.Error(lua.LString(ErrReadonly), 0)
	}
	t.RawSet(L.CheckAny(2), L.CheckAny(3))
	L.Push(t)
	return 1
}

// inEnv wraps load or loadstring so that the chunks they compile run in
// the scripts' environment, not in the real globals.
func (env *Env) inEnv(load *lua.LFunction) *lua.LFunction {
	return env.L.NewFunction(func(L *lua.LState) int {
		top := L.GetTop()
		L.Push(load)
		for i := 1; i <= top; i++ {
			L.Push(L.Get(i))
		}
		L.Call(top, lua.MultRet)
		if fn, ok := L.Get(top + 1).(*lua.LFunction); ok {
			fn.Env = env.Proxy
		}
		return L.GetTop() - top
	})
}

// Compile compiles a script body as a function running in the scripts'
// environment; name is its chunk name ("user_script").
func (env *Env) Compile(body, name string) (*lua.LFunction, error) {
	fn, err := env.L.Load(strings.NewReader(body), name)
	if err != nil {
		return nil, err
	}
	fn.Env = env.Proxy
	return fn, nil
}

// Close releases the state.
func (env *Env) Close() { env.L.Close() }
