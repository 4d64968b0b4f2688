package luaenv

import lua "github.com/yuin/gopher-lua"

// tableEntries returns t's keys and values in the order lua_next visits
// them.
func tableEntries(t *lua.LTable) (keys, vals []lua.LValue) {
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		keys = append(keys, k)
		vals = append(vals, v)
	}
	return keys, vals
}
