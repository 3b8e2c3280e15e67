// The read-only sandbox of Redis's Lua. Redis patches its own Lua with
// read-only tables; Debian's Lua 5.1 has none, so the globals and the
// libraries become empty proxies that read through to the real tables and
// refuse every write with Redis's texts ("Attempt to modify a readonly
// table"; "Script attempted to access nonexistent global variable" for a
// missing global), getmetatable shows a read-only view, and rawset,
// setmetatable and loadstring (no bytecode) are guarded.
#pragma once

#include <initializer_list>

extern "C" {
#include <lua.h>
}

namespace keyloop::lua {

// Registry keys: the table behind the globals proxy, and what global
// lookups read through to now (it, or a library's API while FUNCTION LOAD
// runs the library).
inline constexpr const char* kRealGlobals = "keyloop:globals";
inline constexpr const char* kApi = "keyloop:api";

// Replaces rawset, setmetatable and loadstring by their guarded forms.
void guardBuiltins(lua_State* L);
// Moves every global behind a read-only proxy, and the `libraries` too.
void lockGlobals(lua_State* L, std::initializer_list<const char*> libraries);
// Replaces the table at the top of the stack by its read-only proxy;
// `strictIndex`: reading a missing field is an error too.
void pushProxyOf(lua_State* L, bool strictIndex);

}  // namespace keyloop::lua
