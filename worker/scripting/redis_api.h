// What a script reaches of the server, as Redis 7.0 gives it
// (script_lua.c): the `redis` table (call, pcall, error_reply,
// status_reply, sha1hex, log, setresp, set_repl, acl_check_cmd and their
// constants; in EVAL also breakpoint, debug and replicate_commands), the
// global pcall that hands back an error table's message, and math.random
// on Redis's lrand48. A call reaches the server through the RunState of
// the script being run (LuaEngine::Run's Caller).
#pragma once

#include <initializer_list>
#include <string_view>
#include <utility>

extern "C" {
#include <lua.h>
}

#include "common/resp/reply.h"
#include "worker/scripting/lua_engine.h"

namespace keyloop::lua {

struct RunState {
  const LuaEngine::Run* run;
  resp::Protocol protocol = resp::Protocol::Resp2;  // redis.setresp
};
// The run redis.call belongs to (null: none, outside a script run).
void setRunState(lua_State* L, RunState* state);
RunState* runState(lua_State* L);

// Raises `text` as an error table ({err = ...}), as redis.call does.
int raise(lua_State* L, std::string_view text);

// The redis global, the global pcall and math.random.
void registerRedisApi(lua_State* L);
// What only EVAL's scripts have: redis.breakpoint, redis.debug, redis.replicate_commands.
void registerEvalOnlyApi(lua_State* L);
// Fields of the table at the top of the stack.
void setFunction(lua_State* L, const char* name, lua_CFunction f);
void setNumbers(lua_State* L, std::initializer_list<std::pair<const char*, lua_Number>> fields);
// redis.log, its levels and the version (FUNCTION's library API has them too).
void setLogAndVersion(lua_State* L);

}  // namespace keyloop::lua
