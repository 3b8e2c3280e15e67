// One script run (EVAL or FCALL) and the commands it calls: the checks
// Redis makes before a script's command runs (unknown, arity, noscript,
// read only) and where the command runs: on the run's store, or on the
// keys it reaches beyond it (script_reach.h).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/resp/reply.h"
#include "worker/scripting/lua_engine.h"

namespace keyloop {

class LuaEngine;
class ScriptReach;
class WorkerServices;
struct CommandContext;

struct ScriptCall {
  bool readOnly;       // EVAL_RO, FCALL_RO, a no-writes script
  bool function = false;  // FCALL (FUNCTION KILL stops it), else EVAL (SCRIPT KILL)
  bool wrote = false;  // a write ran: SCRIPT KILL can no longer stop it
  std::string name = {};                      // the function's (FUNCTION STATS)
  std::span<const std::string_view> command = {};  // the FCALL / EVAL that runs it
  ScriptReach* reach = nullptr;  // the keys it reaches beyond its run's (script_reach.h)
  int db = 0;  // redis.call('SELECT', n) moves it, for the script alone (as Redis 7)
};

// Marks a script as running on this worker for as long as it lives (SCRIPT
// KILL and the busy check look at it).
class ScriptGuard {
 public:
  ScriptGuard(WorkerServices& worker, ScriptCall& call);
  ~ScriptGuard();
  ScriptGuard(const ScriptGuard&) = delete;
  ScriptGuard& operator=(const ScriptGuard&) = delete;

 private:
  WorkerServices& worker_;
};

// redis.call's command `args`, checked, then run against ctx's store; the
// reply in `protocol`.
std::string callFromScript(CommandContext& ctx, ScriptCall& call, std::span<const std::string_view> args,
                           resp::Protocol protocol);
// EVAL's and FCALL's numkeys (args[2]), checked against the arguments;
// nullopt after replying `notANumber` or Redis's other errors.
std::optional<std::size_t> numkeysOrReply(CommandContext& ctx, std::string_view notANumber);
// Whether a script with `flags` (lua_convert.h) may run here, as
// scriptPrepareForRun checks: false after replying why not.
bool flagsAllowOrReply(CommandContext& ctx, std::uint32_t flags, bool readOnlyCommand);

// SCRIPT KILL (`eval`) and FUNCTION KILL: +OK, or Redis's reason why not.
void replyKill(CommandContext& ctx, bool eval);

// Runs a script or function (`invoke` hands the Run to the engine) whose
// redis.call goes to callFromScript; its reply goes to ctx.reply. The
// run's name is call.name.
void runWithCalls(CommandContext& ctx, ScriptCall call, std::span<const std::string_view> keys,
                  std::span<const std::string_view> args, const std::function<void(const LuaEngine::Run&)>& invoke);

}  // namespace keyloop
