// Conversions between RESP and Lua values, as Redis 7.0 makes them
// (script_lua.c): a command's reply becomes a Lua value for redis.call,
// and the script's return value becomes the client's reply. Also the
// shebang line (`#!lua flags=no-writes,...`) of a script.
//
//   RESP                     Lua
//   integer                  number
//   bulk / null bulk         string / false
//   array / null array       table / false
//   status / error           {ok=...} / {err=...}
//   RESP3 map, set, null     {map=...}, {set=...}, nil
//   RESP3 bool, double       boolean, {double=...}
//   RESP3 big number         {big_number=...}
//   RESP3 verbatim           {verbatim_string={format=..., string=...}}
// Back: numbers are truncated to integers; true is 1 in RESP2 (#t once the
// script chose RESP3), false is a null; an array stops at its first nil.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/resp/reply.h"

struct lua_State;

namespace keyloop::lua {

// Redis's luaPushErrorBuff: "-CODE msg" or "msg" (then the code is ERR)
// becomes {err = "CODE msg"}.
void pushErrorTable(lua_State* L, std::string_view text);
// Pushes one RESP reply (the whole of `reply`) as a Lua value.
void pushReply(lua_State* L, std::string_view reply);
// Pops the value at the top and writes it as the reply; `scriptProtocol`
// is what redis.setresp chose (booleans depend on it).
void writeReply(lua_State* L, resp::Reply& reply, resp::Protocol scriptProtocol);
// Pops a failed run's error (the handler's table, or a string) and writes
// Redis's error: "<err> script: <sha>, on <source>:<line>."
void replyError(lua_State* L, std::string_view sha, resp::Reply& reply);

// Shebang flags of a script (Redis's scripts_flags_def).
enum ScriptFlag : std::uint32_t {
  kCompatible = 1u << 0,  // no shebang: Redis 6 behaviour
  kNoWrites = 1u << 1,
  kAllowOom = 1u << 2,
  kAllowStale = 1u << 3,
  kNoCluster = 1u << 4,
  kAllowCrossSlot = 1u << 5,
};
struct Shebang {
  std::size_t length = 0;  // bytes of the shebang line, its line feed not counted
  std::uint32_t flags = kCompatible;
  std::string error;       // Redis's text; empty when valid
};
Shebang parseShebang(std::string_view body);
// A flag by its name (register_function's flags, any case); 0: unknown.
std::uint32_t flagNamed(std::string_view name);
// The names of `flags`, in Redis's order.
std::vector<std::string_view> flagNames(std::uint32_t flags);

}  // namespace keyloop::lua
