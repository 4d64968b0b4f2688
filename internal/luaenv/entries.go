package luaenv

import lua "github.com/yuin/gopher-lua"

// TableEntries returns t's keys and values in the order Lua 5.1's lua_next
// visits them in Redis, for a table built key by key (see tableEntries):
// the order in which Redis writes a script's {map=...} and {set=...}
// tables, such as the maps redis.call returns after redis.setresp(3).
func TableEntries(t *lua.LTable) (keys, vals []lua.LValue) { return tableEntries(t) }
