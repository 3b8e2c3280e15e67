#include "worker/scripting/lua_sandbox.h"

extern "C" {
#include <lauxlib.h>
#include <lua.h>
}

namespace keyloop::lua {

namespace {

constexpr const char* kProtected = "keyloop:protected";  // proxies rawset/setmetatable refuse

bool isProtected(lua_State* L, int index) {
  if (!lua_istable(L, index)) return false;
  lua_pushvalue(L, index);
  lua_getfield(L, LUA_REGISTRYINDEX, kProtected);
  lua_insert(L, -2);
  lua_rawget(L, -2);
  const bool yes = lua_toboolean(L, -1) != 0;
  lua_pop(L, 2);
  return yes;
}

// Raised without a position, as Lua's VM raises it inside rawset.
int readonlyError(lua_State* L) {
  lua_pushstring(L, "Attempt to modify a readonly table");
  return lua_error(L);
}

int assignToReadonly(lua_State* L) { return luaL_error(L, "Attempt to modify a readonly table"); }

int guardedRawset(lua_State* L) {
  if (isProtected(L, 1)) return readonlyError(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkany(L, 2);
  luaL_checkany(L, 3);
  lua_settop(L, 3);
  lua_rawset(L, 1);
  return 1;
}

int guardedSetmetatable(lua_State* L) {
  if (isProtected(L, 1)) return readonlyError(L);
  const int t = lua_type(L, 2);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argcheck(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table expected");
  if (luaL_getmetafield(L, 1, "__metatable")) return luaL_error(L, "cannot change a protected metatable");
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

int missingName(lua_State* L) {
  const char* name = lua_tostring(L, 2);
  return luaL_error(L, "Script attempted to access nonexistent global variable '%s'", name == nullptr ? "?" : name);
}

// __index of the globals: the API in reach now (the real globals, or a
// library's while it loads), or Redis's error for a missing name.
int globalsIndex(lua_State* L) {
  lua_getfield(L, LUA_REGISTRYINDEX, kApi);
  lua_pushvalue(L, 2);
  lua_rawget(L, -2);
  if (!lua_isnil(L, -1)) return 1;
  const char* name = lua_tostring(L, 2);
  return luaL_error(L, "Script attempted to access nonexistent global variable '%s'", name == nullptr ? "?" : name);
}

void markProtected(lua_State* L) {
  lua_getfield(L, LUA_REGISTRYINDEX, kProtected);
  lua_pushvalue(L, -2);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

// The metatable at the top of the stack shows getmetatable() a read-only
// view of itself: reading it works, changing it is Redis's error.
void sealMetatable(lua_State* L) {
  const int mt = lua_gettop(L);
  lua_newtable(L);  // the view
  lua_newtable(L);  // its metatable
  lua_pushvalue(L, mt);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, assignToReadonly);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
  markProtected(L);
  lua_setfield(L, mt, "__metatable");
}

// Redis's Lua refuses precompiled chunks: loadstring of one gives nil.
int guardedLoadstring(lua_State* L) {
  std::size_t n = 0;
  const char* code = luaL_checklstring(L, 1, &n);
  if (n > 0 && code[0] == LUA_SIGNATURE[0]) {
    lua_pushnil(L);
    lua_pushstring(L, "binary code loading is disabled");
    return 2;
  }
  const char* name = luaL_optstring(L, 2, code);
  if (luaL_loadbuffer(L, code, n, name) == 0) return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

// Replaces the table at the top of the stack by an empty proxy that reads
// through to it and refuses writes; `strictIndex`: a missing name is an error.
}  // namespace

void pushProxyOf(lua_State* L, bool strictIndex) {
  const int real = lua_gettop(L);
  lua_newtable(L);  // the proxy
  lua_newtable(L);  // its metatable
  lua_pushvalue(L, real);
  lua_setfield(L, -2, "__index");
  if (strictIndex) {
    // A missing field is an error too (the library API's redis table).
    lua_newtable(L);
    lua_pushcfunction(L, missingName);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, real);
  }
  lua_pushcfunction(L, assignToReadonly);
  lua_setfield(L, -2, "__newindex");
  sealMetatable(L);
  lua_setmetatable(L, -2);
  markProtected(L);
  lua_remove(L, real);
}

void guardBuiltins(lua_State* L) {
  lua_pushcfunction(L, guardedRawset);
  lua_setglobal(L, "rawset");
  lua_pushcfunction(L, guardedSetmetatable);
  lua_setglobal(L, "setmetatable");
  lua_pushcfunction(L, guardedLoadstring);
  lua_setglobal(L, "loadstring");
}

void lockGlobals(lua_State* L, std::initializer_list<const char*> libraries) {
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, kProtected);
  lua_newtable(L);
  const int real = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, LUA_GLOBALSINDEX) != 0) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, real);
  }
  for (const char* library : libraries) {
    lua_getfield(L, real, library);
    if (!lua_istable(L, -1)) {
      lua_pop(L, 1);
      continue;
    }
    pushProxyOf(L, false);
    lua_setfield(L, real, library);
  }
  lua_pushvalue(L, real);
  lua_setfield(L, LUA_REGISTRYINDEX, kRealGlobals);
  lua_pushvalue(L, real);
  lua_setfield(L, LUA_REGISTRYINDEX, kApi);
  // Strings' methods come from the same (protected) string table.
  lua_pushliteral(L, "");
  if (lua_getmetatable(L, -1)) {
    lua_getfield(L, real, "string");
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  // Empty the globals table itself and make it the proxy of `real`.
  for (;;) {
    lua_pushnil(L);
    if (lua_next(L, LUA_GLOBALSINDEX) == 0) break;
    lua_pop(L, 1);
    lua_pushnil(L);
    lua_rawset(L, LUA_GLOBALSINDEX);
  }
  lua_pushvalue(L, LUA_GLOBALSINDEX);
  lua_setfield(L, real, "_G");
  lua_newtable(L);
  lua_pushcfunction(L, globalsIndex);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, assignToReadonly);
  lua_setfield(L, -2, "__newindex");
  sealMetatable(L);
  lua_setmetatable(L, LUA_GLOBALSINDEX);
  lua_pushvalue(L, LUA_GLOBALSINDEX);
  markProtected(L);
  lua_settop(L, 0);
}

}  // namespace keyloop::lua
