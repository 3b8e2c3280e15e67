#include "worker/scripting/lua_engine.h"

extern "C" {
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <lua-bitop.h>
#include <lua-cjson.h>
}

#include <cctype>
#include <chrono>
#include <cmath>
#include <optional>
#include <cstdio>
#include <cstring>
#include <vector>

#include "worker/scripting/lua_convert.h"

namespace keyloop {

namespace {

constexpr const char* kRunKey = "keyloop:run";          // light userdata: the RunState
constexpr const char* kRealGlobals = "keyloop:globals";  // the table behind the globals proxy
constexpr const char* kProtected = "keyloop:protected";  // proxies rawset/setmetatable refuse
constexpr const char* kHandler = "keyloop:handler";      // the error handler
constexpr const char* kApi = "keyloop:api";              // what globals read through to now
constexpr const char* kLibraryApi = "keyloop:library";   // that, while FUNCTION LOAD runs a library
constexpr const char* kLoadKey = "keyloop:load";         // light userdata: the LoadState
constexpr auto kLoadTimeout = std::chrono::milliseconds(500);  // Redis's LOAD_TIMEOUT_MS
constexpr int kHookInstructions = 100000;
constexpr int kGcEveryRuns = 50;

struct RunState {
  const LuaEngine::Run* run;
  resp::Protocol protocol = resp::Protocol::Resp2;  // redis.setresp
};

RunState* runState(lua_State* L) {
  lua_getfield(L, LUA_REGISTRYINDEX, kRunKey);
  auto* state = static_cast<RunState*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  return state;
}

// Raises `text` as an error table ({err = ...}), as redis.call does.
int raise(lua_State* L, std::string_view text) {
  lua::pushErrorTable(L, text);
  return lua_error(L);
}

// redis.call and redis.pcall: the command's reply as a Lua value; an error
// reply is raised by call and returned by pcall.
int genericCall(lua_State* L, bool raiseErrors) {
  RunState* state = runState(L);
  if (state == nullptr) return raise(L, "redis.call/pcall can only be called inside a script invocation");
  const int argc = lua_gettop(L);
  if (argc == 0) {
    lua::pushErrorTable(L, "Please specify at least one argument for this redis lib call");
    return raiseErrors ? lua_error(L) : 1;
  }
  std::vector<std::string> args;
  for (int j = 1; j <= argc; ++j) {
    if (lua_type(L, j) == LUA_TNUMBER) {
      // Lua's own number format loses precision (Redis prints %.17g).
      char digits[64];
      std::snprintf(digits, sizeof digits, "%.17g", static_cast<double>(lua_tonumber(L, j)));
      args.emplace_back(digits);
    } else if (lua_type(L, j) == LUA_TSTRING) {
      std::size_t length = 0;
      const char* s = lua_tolstring(L, j, &length);
      args.emplace_back(s, length);
    } else {
      break;
    }
  }
  lua_pop(L, argc);
  if (static_cast<int>(args.size()) != argc) {
    lua::pushErrorTable(L, "Lua redis lib command arguments must be strings or integers");
    return raiseErrors ? lua_error(L) : 1;
  }
  const std::vector<std::string_view> views(args.begin(), args.end());
  const std::string reply = state->run->call(views, state->protocol);
  lua::pushReply(L, reply);
  if (raiseErrors && !reply.empty() && reply[0] == '-') return lua_error(L);
  return 1;
}

int redisCall(lua_State* L) { return genericCall(L, true); }
int redisPcall(lua_State* L) { return genericCall(L, false); }

// The global pcall: an error table caught is handed back as its message
// (scripts written for Redis 6 compare error strings).
int protectedCall(lua_State* L) {
  const int argc = lua_gettop(L);
  lua_pushboolean(L, 1);
  lua_insert(L, 1);
  if (lua_pcall(L, argc - 1, LUA_MULTRET, 0) != 0) {
    lua_remove(L, 1);
    if (lua_istable(L, -1)) {
      lua_getfield(L, -1, "err");
      if (lua_isstring(L, -1)) lua_replace(L, -2);
    }
    lua_pushboolean(L, 0);
    lua_insert(L, 1);
  }
  return lua_gettop(L);
}

int sha1hex(lua_State* L) {
  if (lua_gettop(L) != 1) return raise(L, "wrong number of arguments");
  std::size_t length = 0;
  const char* s = lua_tolstring(L, 1, &length);
  lua_pushstring(L, sha1Hex(std::string_view(s == nullptr ? "" : s, s == nullptr ? 0 : length)).c_str());
  return 1;
}

int errorReply(lua_State* L) {
  if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
    lua::pushErrorTable(L, "wrong number or type of arguments");
    return 1;
  }
  std::string text = lua_tostring(L, -1);
  if (text.empty() || text[0] != '-') text.insert(0, "-");
  lua::pushErrorTable(L, text);
  return 1;
}

int statusReply(lua_State* L) {
  if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
    lua::pushErrorTable(L, "wrong number or type of arguments");
    return 1;
  }
  lua_newtable(L);
  lua_pushstring(L, "ok");
  lua_pushvalue(L, -3);
  lua_settable(L, -3);
  return 1;
}

int setResp(lua_State* L) {
  RunState* state = runState(L);
  if (state == nullptr) return raise(L, "redis.setresp can only be called inside a script invocation");
  if (lua_gettop(L) != 1) return raise(L, "redis.setresp() requires one argument.");
  const int version = static_cast<int>(lua_tonumber(L, -1));
  if (version != 2 && version != 3) return raise(L, "RESP version must be 2 or 3.");
  state->protocol = version == 3 ? resp::Protocol::Resp3 : resp::Protocol::Resp2;
  return 0;
}

// keyloop has no replication: set_repl checks its argument and does nothing.
int setRepl(lua_State* L) {
  if (runState(L) == nullptr) return raise(L, "redis.set_repl can only be called inside a script invocation");
  if (lua_gettop(L) != 1) return raise(L, "redis.set_repl() requires two arguments.");
  const int flags = static_cast<int>(lua_tonumber(L, -1));
  if ((flags & ~3) != 0) return raise(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
  return 0;
}

// Only the default user exists: every command it names is allowed.
int aclCheckCommand(lua_State* L) {
  if (runState(L) == nullptr) return raise(L, "redis.acl_check_cmd can only be called inside a script invocation");
  if (lua_gettop(L) == 0) return raise(L, "Please specify at least one argument for this redis lib call");
  lua_pushboolean(L, 1);
  return 1;
}

int log(lua_State* L) {
  const int argc = lua_gettop(L);
  if (argc < 2) return raise(L, "redis.log() requires two arguments or more.");
  if (!lua_isnumber(L, -argc)) return raise(L, "First argument must be a number (log level).");
  const int level = static_cast<int>(lua_tonumber(L, -argc));
  if (level < 0 || level > 3) return raise(L, "Invalid debug level.");
  return 0;
}

// Redis's math.random: lrand48's generator, one state per worker.
std::uint64_t randomState = 0x1234ABCD330EULL;
std::int32_t nextRandom() {
  randomState = (randomState * 0x5DEECE66DULL + 0xB) & ((1ULL << 48) - 1);
  return static_cast<std::int32_t>(randomState >> 17);
}

int mathRandom(lua_State* L) {
  if (runState(L) == nullptr) return luaL_error(L, "math.random can only be called inside a script invocation");
  constexpr double kMax = 2147483647.0;
  const lua_Number r = static_cast<lua_Number>(nextRandom() % 2147483647) / kMax;
  switch (lua_gettop(L)) {
    case 0:
      lua_pushnumber(L, r);
      break;
    case 1: {
      const int u = luaL_checkint(L, 1);
      luaL_argcheck(L, 1 <= u, 1, "interval is empty");
      lua_pushnumber(L, std::floor(r * u) + 1);
      break;
    }
    case 2: {
      const int l = luaL_checkint(L, 1), u = luaL_checkint(L, 2);
      luaL_argcheck(L, l <= u, 2, "interval is empty");
      lua_pushnumber(L, std::floor(r * (u - l + 1)) + l);
      break;
    }
    default:
      return luaL_error(L, "wrong number of arguments");
  }
  return 1;
}

int mathRandomseed(lua_State* L) {
  if (runState(L) == nullptr) return luaL_error(L, "math.randomseed can only be called inside a script invocation");
  const auto seed = static_cast<std::uint32_t>(luaL_checkint(L, 1));
  randomState = (static_cast<std::uint64_t>(seed) << 16) | 0x330E;
  return 0;
}

// ---- the read-only sandbox -------------------------------------------------

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
  lua_getfield(L, LUA_REGISTRYINDEX, kProtected);
  lua_pushvalue(L, -2);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  lua_remove(L, real);
}

void setFunction(lua_State* L, const char* name, lua_CFunction f) {
  lua_pushcfunction(L, f);
  lua_setfield(L, -2, name);
}

void setNumber(lua_State* L, const char* name, lua_Number n) {
  lua_pushnumber(L, n);
  lua_setfield(L, -2, name);
}

// Opens a library; one that only returns its table (lua-cjson) becomes a global too.
void openLibrary(lua_State* L, const char* name, lua_CFunction open) {
  lua_pushcfunction(L, open);
  lua_pushstring(L, name);
  lua_call(L, 1, 1);
  if (*name != '\0' && lua_istable(L, -1)) {
    lua_getglobal(L, name);
    const bool missing = lua_isnil(L, -1);
    lua_pop(L, 1);
    if (missing) {
      lua_setglobal(L, name);
      return;
    }
  }
  lua_pop(L, 1);
}

// redis.log, its levels and the version: in scripts and library code alike.
void setLogAndVersion(lua_State* L) {
  setFunction(L, "log", log);
  setNumber(L, "LOG_DEBUG", 0);
  setNumber(L, "LOG_VERBOSE", 1);
  setNumber(L, "LOG_NOTICE", 2);
  setNumber(L, "LOG_WARNING", 3);
  setNumber(L, "REDIS_VERSION_NUM", 0x07000f);
  lua_pushstring(L, "7.0.15");
  lua_setfield(L, -2, "REDIS_VERSION");
}

void registerRedisApi(lua_State* L) {
  lua_newtable(L);
  setFunction(L, "call", redisCall);
  setFunction(L, "pcall", redisPcall);
  setLogAndVersion(L);
  setFunction(L, "setresp", setResp);
  setFunction(L, "sha1hex", sha1hex);
  setFunction(L, "error_reply", errorReply);
  setFunction(L, "status_reply", statusReply);
  setFunction(L, "set_repl", setRepl);
  setNumber(L, "REPL_NONE", 0);
  setNumber(L, "REPL_AOF", 1);
  setNumber(L, "REPL_SLAVE", 2);
  setNumber(L, "REPL_REPLICA", 2);
  setNumber(L, "REPL_ALL", 3);
  setFunction(L, "acl_check_cmd", aclCheckCommand);
  lua_setglobal(L, "redis");
}

// Where the error of a raised call is reported: the script's line, not
// the C function's (redis.call) that raised it.
constexpr const char* kHandlerSource = R"(
local info_of = debug.getinfo
return function(err)
  local where = info_of(2, 'nSl')
  if where and where.what == 'C' then where = info_of(3, 'nSl') end
  if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)} end
  if where then
    err['source'] = where.source
    err['line'] = where.currentline
  end
  return err
end
)";

}  // namespace

namespace {

// ---- FUNCTION LOAD's redis.register_function --------------------------------

struct LoadState {
  std::vector<LuaEngine::Registered>* registered;
  std::chrono::steady_clock::time_point started;
};

LoadState* loadState(lua_State* L) {
  lua_getfield(L, LUA_REGISTRYINDEX, kLoadKey);
  auto* state = static_cast<LoadState*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  return state;
}

bool validName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

std::optional<std::string> stringAt(lua_State* L, int index) {
  if (!lua_isstring(L, index)) return std::nullopt;
  std::size_t n = 0;
  const char* s = lua_tolstring(L, index, &n);
  return std::string(s, n);
}

// register_function{function_name=..., callback=..., flags={...}, description=...}
std::string namedArguments(lua_State* L, LuaEngine::Registered& f) {
  if (!lua_istable(L, 1)) {
    return "calling redis.register_function with a single argument is only applicable to Lua table (representing "
           "named arguments).";
  }
  bool named = false;
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    if (!lua_isstring(L, -2)) return "named argument key given to redis.register_function is not a string";
    std::string key = lua_tostring(L, -2);
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (key == "function_name") {
      auto name = stringAt(L, -1);
      if (!name) return "function_name argument given to redis.register_function must be a string";
      f.name = *name;
      named = true;
    } else if (key == "description") {
      auto description = stringAt(L, -1);
      if (!description) return "description argument given to redis.register_function must be a string";
      f.description = *description;
      f.hasDescription = true;
    } else if (key == "callback") {
      if (!lua_isfunction(L, -1)) return "callback argument given to redis.register_function must be a function";
      if (f.ref != 0) luaL_unref(L, LUA_REGISTRYINDEX, f.ref);
      f.ref = luaL_ref(L, LUA_REGISTRYINDEX);  // pops the value
      continue;
    } else if (key == "flags") {
      if (!lua_istable(L, -1)) return "flags argument to redis.register_function must be a table representing function flags";
      for (int j = 1;; ++j) {
        lua_rawgeti(L, -1, j);
        if (lua_isnil(L, -1)) {
          lua_pop(L, 1);
          break;
        }
        const auto flag = lua_isstring(L, -1) ? lua::flagNamed(lua_tostring(L, -1)) : 0;
        lua_pop(L, 1);
        if (flag == 0) return "unknown flag given";
        f.flags |= flag;
      }
    } else {
      return "unknown argument given to redis.register_function";
    }
    lua_pop(L, 1);
  }
  if (!named) return "redis.register_function must get a function name argument";
  if (f.ref == 0) return "redis.register_function must get a callback argument";
  return {};
}

int registerFunction(lua_State* L) {
  LoadState* state = loadState(L);
  if (state == nullptr) return raise(L, "redis.register_function can only be called on FUNCTION LOAD command");
  const int argc = lua_gettop(L);
  if (argc < 1 || argc > 2) return raise(L, "wrong number of arguments to redis.register_function");
  LuaEngine::Registered f;
  std::string error;
  if (argc == 1) {
    error = namedArguments(L, f);
  } else if (auto name = stringAt(L, 1); !name) {
    error = "first argument to redis.register_function must be a string";
  } else if (!lua_isfunction(L, 2)) {
    error = "second argument to redis.register_function must be a function";
  } else {
    f.name = *name;
    lua_settop(L, 2);
    f.ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  if (error.empty() && !validName(f.name)) {
    error = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";
  }
  for (const auto& other : *state->registered) {
    if (error.empty() && other.name == f.name) error = "Function already exists in the library";
  }
  if (!error.empty()) {
    if (f.ref != 0) luaL_unref(L, LUA_REGISTRYINDEX, f.ref);
    return raise(L, error);
  }
  state->registered->push_back(std::move(f));
  return 0;
}

void loadHook(lua_State* L, lua_Debug*) {
  LoadState* state = loadState(L);
  if (state == nullptr || std::chrono::steady_clock::now() - state->started <= kLoadTimeout) return;
  lua_sethook(L, loadHook, LUA_MASKLINE, 0);
  raise(L, "FUNCTION LOAD timeout");
}

// The library API: redis.register_function, redis.log and the version.
void registerLibraryApi(lua_State* L) {
  lua_newtable(L);  // the library's globals
  lua_newtable(L);  // its redis table
  setFunction(L, "register_function", registerFunction);
  setLogAndVersion(L);
  pushProxyOf(L, true);
  lua_setfield(L, -2, "redis");
  lua_setfield(L, LUA_REGISTRYINDEX, kLibraryApi);
}

}  // namespace

LuaEngine::LuaEngine(Mode mode) : mode_(mode) { open(); }
LuaEngine::~LuaEngine() { close(); }

void LuaEngine::open() {
  lua_State* L = luaL_newstate();
  lua_ = L;
  openLibrary(L, "", luaopen_base);
  openLibrary(L, LUA_TABLIBNAME, luaopen_table);
  openLibrary(L, LUA_STRLIBNAME, luaopen_string);
  openLibrary(L, LUA_MATHLIBNAME, luaopen_math);
  openLibrary(L, LUA_DBLIBNAME, luaopen_debug);
  openLibrary(L, "cjson", luaopen_cjson);
  openLibrary(L, "bit", luaopen_bit);
  for (const char* gone : {"dofile", "loadfile", "print"}) {
    lua_pushnil(L);
    lua_setglobal(L, gone);
  }
  lua_pushcfunction(L, protectedCall);
  lua_setglobal(L, "pcall");
  lua_pushcfunction(L, guardedRawset);
  lua_setglobal(L, "rawset");
  lua_pushcfunction(L, guardedSetmetatable);
  lua_setglobal(L, "setmetatable");
  lua_pushcfunction(L, guardedLoadstring);
  lua_setglobal(L, "loadstring");
  registerRedisApi(L);
  lua_getglobal(L, "math");
  setFunction(L, "random", mathRandom);
  setFunction(L, "randomseed", mathRandomseed);
  lua_pop(L, 1);
  luaL_loadbuffer(L, kHandlerSource, std::strlen(kHandlerSource), "@err_handler_def");
  lua_call(L, 0, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, kHandler);
  lua_pushnil(L);
  lua_setglobal(L, "debug");  // the handler keeps its own reference

  // Lock it all: the real globals move behind a proxy, and so do the libraries.
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
  for (const char* library : {"string", "table", "math", "cjson", "bit", "redis", "coroutine"}) {
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
  if (mode_ == Mode::Functions) registerLibraryApi(L);
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
  lua_getfield(L, LUA_REGISTRYINDEX, kProtected);
  lua_pushvalue(L, LUA_GLOBALSINDEX);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_settop(L, 0);
}

void LuaEngine::close() {
  if (lua_ != nullptr) lua_close(lua_);
  lua_ = nullptr;
}

void LuaEngine::flush() {
  close();
  bodies_.clear();
  flags_.clear();
  open();
}

std::size_t LuaEngine::memoryBytes() const { return static_cast<std::size_t>(lua_gc(lua_, LUA_GCCOUNT, 0)) * 1024; }

const std::string* LuaEngine::body(std::string_view sha) const {
  auto it = bodies_.find(sha);
  return it == bodies_.end() ? nullptr : &it->second;
}

std::string LuaEngine::load(const std::string& sha, std::string_view body) {
  if (has(sha)) return {};
  const lua::Shebang shebang = lua::parseShebang(body);
  if (!shebang.error.empty()) return "ERR " + shebang.error;
  // The shebang line goes, its line feed stays: line numbers still match.
  const std::string_view code = body.substr(shebang.length);
  if (luaL_loadbuffer(lua_, code.data(), code.size(), "@user_script") != 0) {
    std::string error = "ERR Error compiling script (new function): ";
    error += lua_tostring(lua_, -1);
    lua_pop(lua_, 1);
    return error;
  }
  lua_setfield(lua_, LUA_REGISTRYINDEX, ("f_" + sha).c_str());
  bodies_.emplace(sha, std::string(body));
  flags_[sha] = shebang.flags;
  return {};
}

std::uint32_t LuaEngine::flags(std::string_view sha) const {
  auto it = flags_.find(sha);
  return it == flags_.end() ? lua::kCompatible : it->second;
}

namespace {

void hook(lua_State* L, lua_Debug*) {
  RunState* state = runState(L);
  if (state == nullptr || !state->run->poll || !state->run->poll()) return;
  // From now on every line checks again: a pcall cannot swallow the kill.
  lua_sethook(L, hook, LUA_MASKLINE, 0);
  raise(L, "Script killed by user with SCRIPT KILL...");
}

void setArray(lua_State* L, int real, const char* name, std::span<const std::string_view> items) {
  lua_newtable(L);
  for (std::size_t i = 0; i < items.size(); ++i) {
    lua_pushlstring(L, items[i].data(), items[i].size());
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  lua_setfield(L, real, name);
}

}  // namespace

void LuaEngine::run(const Run& run, resp::Reply& reply) {
  lua_State* L = lua_;
  RunState state{&run};
  lua_pushlightuserdata(L, &state);
  lua_setfield(L, LUA_REGISTRYINDEX, kRunKey);
  if (run.poll) lua_sethook(L, hook, LUA_MASKCOUNT, kHookInstructions);
  lua_getfield(L, LUA_REGISTRYINDEX, kRealGlobals);
  setArray(L, lua_gettop(L), "KEYS", run.keys);
  setArray(L, lua_gettop(L), "ARGV", run.args);
  lua_pop(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, kHandler);
  lua_getfield(L, LUA_REGISTRYINDEX, ("f_" + std::string(run.sha)).c_str());
  const bool failed = lua_pcall(L, 0, 1, -2) != 0;
  finishRun(failed, run.sha, reply, state.protocol);
}

void LuaEngine::call(int ref, std::string_view name, const Run& run, resp::Reply& reply) {
  lua_State* L = lua_;
  RunState state{&run};
  lua_pushlightuserdata(L, &state);
  lua_setfield(L, LUA_REGISTRYINDEX, kRunKey);
  if (run.poll) lua_sethook(L, hook, LUA_MASKCOUNT, kHookInstructions);
  lua_getfield(L, LUA_REGISTRYINDEX, kHandler);
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  for (auto items : {run.keys, run.args}) {
    lua_newtable(L);
    for (std::size_t i = 0; i < items.size(); ++i) {
      lua_pushlstring(L, items[i].data(), items[i].size());
      lua_rawseti(L, -2, static_cast<int>(i + 1));
    }
  }
  const bool failed = lua_pcall(L, 2, 1, -4) != 0;
  finishRun(failed, name, reply, state.protocol);
}

void LuaEngine::finishRun(bool failed, std::string_view name, resp::Reply& reply, resp::Protocol protocol) {
  lua_State* L = lua_;
  if (++runs_ % kGcEveryRuns == 0) lua_gc(L, LUA_GCSTEP, kGcEveryRuns);
  if (failed) {
    lua::replyError(L, name, reply);
  } else {
    lua::writeReply(L, reply, protocol);
  }
  lua_settop(L, 0);
  lua_sethook(L, nullptr, 0, 0);
  lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, kRunKey);
}

std::string LuaEngine::loadLibrary(std::string_view code, std::vector<Registered>& registered) {
  lua_State* L = lua_;
  if (luaL_loadbuffer(L, code.data(), code.size(), "@user_function") != 0) {
    std::string error = "ERR Error compiling function: ";
    error += lua_tostring(L, -1);
    lua_settop(L, 0);
    return error;
  }
  LoadState state{&registered, std::chrono::steady_clock::now()};
  lua_pushlightuserdata(L, &state);
  lua_setfield(L, LUA_REGISTRYINDEX, kLoadKey);
  lua_getfield(L, LUA_REGISTRYINDEX, kLibraryApi);
  lua_setfield(L, LUA_REGISTRYINDEX, kApi);
  lua_sethook(L, loadHook, LUA_MASKCOUNT, kHookInstructions);
  std::string error;
  if (lua_pcall(L, 0, 0, 0) != 0) {
    std::string message;
    if (lua_istable(L, -1)) {
      lua_getfield(L, -1, "err");
      if (lua_isstring(L, -1)) message = lua_tostring(L, -1);
      lua_pop(L, 1);
    } else if (lua_isstring(L, -1)) {
      message = std::string("ERR ") + lua_tostring(L, -1);
    }
    error = "ERR Error registering functions: " + message;
    for (const Registered& f : registered) luaL_unref(L, LUA_REGISTRYINDEX, f.ref);
    registered.clear();
  }
  lua_sethook(L, nullptr, 0, 0);
  lua_getfield(L, LUA_REGISTRYINDEX, kRealGlobals);
  lua_setfield(L, LUA_REGISTRYINDEX, kApi);
  lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, kLoadKey);
  lua_settop(L, 0);
  return error;
}

void LuaEngine::release(int ref) { luaL_unref(lua_, LUA_REGISTRYINDEX, ref); }

}  // namespace keyloop
