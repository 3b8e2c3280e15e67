#include "worker/scripting/redis_api.h"

extern "C" {
#include <lauxlib.h>
#include <lua.h>
}

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "worker/scripting/lua_convert.h"

namespace keyloop::lua {

namespace {

constexpr const char* kRunKey = "keyloop:run";  // light userdata: the RunState

}  // namespace

void setRunState(lua_State* L, RunState* state) {
  state != nullptr ? lua_pushlightuserdata(L, state) : lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, kRunKey);
}

RunState* runState(lua_State* L) {
  lua_getfield(L, LUA_REGISTRYINDEX, kRunKey);
  auto* state = static_cast<RunState*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  return state;
}

// Raises `text` as an error table ({err = ...}), as redis.call does.
int raise(lua_State* L, std::string_view text) {
  pushErrorTable(L, text);
  return lua_error(L);
}

void setFunction(lua_State* L, const char* name, lua_CFunction f) {
  lua_pushcfunction(L, f);
  lua_setfield(L, -2, name);
}

void setNumbers(lua_State* L, std::initializer_list<std::pair<const char*, lua_Number>> fields) {
  for (const auto& [name, n] : fields) {
    lua_pushnumber(L, n);
    lua_setfield(L, -2, name);
  }
}

namespace {

// redis.call and redis.pcall: the command's reply as a Lua value; an error
// reply is raised by call and returned by pcall.
int genericCall(lua_State* L, bool raiseErrors) {
  RunState* state = runState(L);
  if (state == nullptr) return raise(L, "redis.call/pcall can only be called inside a script invocation");
  const int argc = lua_gettop(L);
  if (argc == 0) {
    pushErrorTable(L, "Please specify at least one argument for this redis lib call");
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
    pushErrorTable(L, "Lua redis lib command arguments must be strings or integers");
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
    pushErrorTable(L, "wrong number or type of arguments");
    return 1;
  }
  std::string text = lua_tostring(L, -1);
  if (text.empty() || text[0] != '-') text.insert(0, "-");
  pushErrorTable(L, text);
  return 1;
}

int statusReply(lua_State* L) {
  if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
    pushErrorTable(L, "wrong number or type of arguments");
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

// EVAL's debugger hooks (SCRIPT DEBUG is not offered): outside a debugging
// session Redis's breakpoint answers false and debug prints nothing.
int breakpoint(lua_State* L) {
  lua_pushboolean(L, 0);
  return 1;
}

int debugPrint(lua_State*) { return 0; }

// Scripts replicate their effects, the only way Redis 7.0 has.
int replicateCommands(lua_State* L) {
  lua_pushboolean(L, 1);
  return 1;
}

}  // namespace

void registerEvalOnlyApi(lua_State* L) {
  lua_getglobal(L, "redis");
  setFunction(L, "breakpoint", breakpoint);
  setFunction(L, "debug", debugPrint);
  setFunction(L, "replicate_commands", replicateCommands);
  lua_pop(L, 1);
}

// redis.log, its levels and the version: in scripts and library code alike.
void setLogAndVersion(lua_State* L) {
  setFunction(L, "log", log);
  setNumbers(L, {{"LOG_DEBUG", 0}, {"LOG_VERBOSE", 1}, {"LOG_NOTICE", 2}, {"LOG_WARNING", 3},
                 {"REDIS_VERSION_NUM", 0x07000f}});
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
  setNumbers(L, {{"REPL_NONE", 0}, {"REPL_AOF", 1}, {"REPL_SLAVE", 2}, {"REPL_REPLICA", 2}, {"REPL_ALL", 3}});
  setFunction(L, "acl_check_cmd", aclCheckCommand);
  lua_setglobal(L, "redis");
  lua_pushcfunction(L, protectedCall);
  lua_setglobal(L, "pcall");
  lua_getglobal(L, "math");
  setFunction(L, "random", mathRandom);
  setFunction(L, "randomseed", mathRandomseed);
  lua_pop(L, 1);
}

}  // namespace keyloop::lua
