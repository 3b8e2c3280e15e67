#include "worker/scripting/scripts.h"
#include "worker/execution/command_families.h"

#include <algorithm>
#include <cctype>

#include "worker/commands/commands.h"
#include "worker/execution/keyspace_events.h"
#include "worker/scripting/lua_convert.h"
#include "worker/scripting/lua_engine.h"
#include "worker/scripting/script_reach.h"
#include "worker/scripting/script_run.h"

namespace keyloop {

namespace {

constexpr std::string_view kNoScriptError = "NOSCRIPT No matching script. Please use EVAL.";

std::string errorReply(std::string_view line) { return "-" + std::string(line) + "\r\n"; }

}  // namespace

std::string callFromScript(CommandContext& ctx, ScriptCall& call, std::span<const std::string_view> args,
                           resp::Protocol protocol) {
  const ResolvedCommand command = resolveCommand(args);
  if (command.spec == nullptr) return errorReply("ERR Unknown Redis command called from script");
  const CommandSpec& spec = *command.spec;
  if (!arityAllows(spec, args.size())) return errorReply("ERR Wrong number of args calling Redis command from script");
  if (((spec.flags & kNoScript) && !ctx.worker.denyScriptsDisabled()) || spec.handler == nullptr) {
    return errorReply("ERR This Redis command is not allowed from script");
  }
  if ((spec.flags & kWrite) && call.readOnly) {
    return errorReply("ERR Write commands are not allowed from read-only scripts.");
  }
  const ring::Ring* ring = ctx.worker.ring();
  if (broadcasts(spec.cross) && ring != nullptr && ring->workers() > 1) {
    return errorReply("ERR '" + command.fullName() + "' cannot run in a script on a keyloop of several workers");
  }
  std::vector<std::string_view> keys;
  forEachKey(spec, args, [&](std::size_t i, std::size_t) {
    keys.push_back(args[i]);
    return true;
  });
  Result<Store*> store =
      call.reach != nullptr ? call.reach->reach(keys, (spec.flags & kWrite) != 0) : Result<Store*>(&ctx.store);
  if (!store) return errorReply(store.error());
  if (call.db != ctx.db) {
    // After a SELECT: that database's store, which only the worker's own
    // keys (not locked copies of keys elsewhere) have.
    Databases* databases = ctx.worker.databases();
    if (databases == nullptr || *store != &ctx.store || ctx.readable != nullptr || &ctx.store != &(*databases)[ctx.db]) {
      return errorReply("ERR keyloop runs a script's commands in another database only on keys of the worker "
                        "that runs the script");
    }
    store = Result<Store*>(&(*databases)[call.db]);
  }
  if (spec.flags & kWrite) call.wrote = true;
  std::string out;
  resp::Reply reply(out, protocol);
  const bool scratch = ctx.readable != nullptr || (call.db == ctx.db && *store != &ctx.store);
  CommandContext inner{ctx.worker, nullptr, reply, **store, args, ctx.nowMs, {}, ctx.readable,
                       ctx.readable == nullptr && scratch ? call.reach->events() : ctx.events};
  inner.fromScript = true;
  inner.db = call.db;
  inner.selects = &call.db;
  inner.caller = ctx.caller;  // client tracking: a read here remembers the script's keys
  inner.noTouch = ctx.noTouch;
  // SELECT's line names the database it chose (Redis feeds it after it ran).
  const bool monitorAfter = (spec.flags & kMonitoredAfter) != 0;
  if (!monitorAfter) ctx.worker.feedMonitorsFromScript(spec, args, call.db);
  // Against locked keys (a scratch store) the handler just runs: the
  // commit is the write the owners see.
  if (scratch) {
    keyspace_events::runRecorded(spec, inner);
  } else {
    ctx.worker.runNested(command, inner);
  }
  if (monitorAfter) ctx.worker.feedMonitorsFromScript(spec, args, call.db);
  return out;
}

std::optional<std::size_t> numkeysOrReply(CommandContext& ctx, std::string_view notANumber) {
  const auto numkeys = parseInteger(ctx.args[2]);
  if (!numkeys) {
    ctx.reply.error(notANumber);
    return std::nullopt;
  }
  if (*numkeys > static_cast<long long>(ctx.args.size()) - 3) {
    ctx.reply.error("ERR Number of keys can't be greater than number of args");
    return std::nullopt;
  }
  if (*numkeys < 0) {
    ctx.reply.error("ERR Number of keys can't be negative");
    return std::nullopt;
  }
  return static_cast<std::size_t>(*numkeys);
}

bool flagsAllowOrReply(CommandContext& ctx, std::uint32_t flags, bool readOnlyCommand) {
  if ((flags & lua::kNoCluster) && ctx.worker.config().cluster.enabled) {
    ctx.reply.error("ERR Can not run script on cluster, 'no-cluster' flag is set.");
    return false;
  }
  if (readOnlyCommand && !(flags & lua::kNoWrites)) {
    ctx.reply.error("ERR Can not execute a script with write flag using *_ro command.");
    return false;
  }
  return true;
}

void replyKill(CommandContext& ctx, bool eval) {
  const Status killed = ctx.worker.killScript(eval);
  killed ? ctx.reply.ok() : ctx.reply.error(killed.error());
}

void runWithCalls(CommandContext& ctx, ScriptCall call, std::span<const std::string_view> keys,
                  std::span<const std::string_view> args, const std::function<void(const LuaEngine::Run&)>& invoke) {
  ScriptGuard guard(ctx.worker, call);
  ScriptReach reach(ctx);  // before the guard ends: its commits are part of the script
  call.reach = &reach;
  call.db = ctx.db;
  reach.startReaching(call.name);
  LuaEngine::Run run{call.name, keys, args,
                     [&ctx, &call](std::span<const std::string_view> a, resp::Protocol p) {
                       return callFromScript(ctx, call, a, p);
                     },
                     [&ctx] { return ctx.worker.scriptShouldStop(); }};
  const std::size_t replyStart = ctx.reply.buffer().size();
  for (;;) {
    invoke(run);
    if (!reach.mustStartOver()) break;  // (the reach's end commits)
    ctx.reply.buffer().resize(replyStart);  // it gave way: nothing of this run stays
    call.wrote = false;
    call.db = ctx.db;
    reach.startOver();
  }
  reach.ranToTheEnd();
}

namespace commands {

namespace {

// Whether a script with these shebang flags may write, as Redis's
// scriptFlagsToCmdFlags: one without a shebang may; one that declares its
// flags does unless they say no-writes.
bool scriptWrites(std::uint32_t flags) { return (flags & lua::kCompatible) || !(flags & lua::kNoWrites); }

// EVAL's and EVALSHA's writesFor (command_table.h): from the script's own
// shebang; a script not in the cache may write.
bool evalWrites(WorkerServices&, std::span<const std::string_view> args) {
  if (args.size() < 2) return true;
  const lua::Shebang shebang = lua::parseShebang(args[1]);
  return !shebang.error.empty() || scriptWrites(shebang.flags);
}

bool evalshaWrites(WorkerServices& worker, std::span<const std::string_view> args) {
  LuaEngine* engine = worker.lua();
  if (engine == nullptr || args.size() < 2 || args[1].size() != 40) return true;
  std::string sha(args[1]);
  std::transform(sha.begin(), sha.end(), sha.begin(), [](unsigned char c) { return std::tolower(c); });
  return !engine->has(sha) || scriptWrites(engine->flags(sha));
}

// EVAL and friends: numkeys checked, the script found (or compiled), run.
void evalGeneric(CommandContext& ctx, bool bySha, bool readOnlyCommand) {
  LuaEngine* engine = ctx.worker.lua();
  if (engine == nullptr) return ctx.reply.error("ERR scripting is not available");
  const auto numkeys = numkeysOrReply(ctx, kNotInteger);
  if (!numkeys) return;
  std::string sha;
  if (bySha) {
    if (ctx.args[1].size() != 40) return ctx.reply.error(kNoScriptError);
    sha.assign(ctx.args[1]);
    std::transform(sha.begin(), sha.end(), sha.begin(), [](unsigned char c) { return std::tolower(c); });
    if (!engine->has(sha)) return ctx.reply.error(kNoScriptError);
  } else {
    sha = sha1Hex(ctx.args[1]);
    if (!engine->has(sha)) {
      if (Status loaded = engine->load(sha, ctx.args[1]); !loaded) return ctx.reply.error(loaded.error());
      ctx.worker.postToPeers(peer::encode(peer::ScriptLoad{ctx.args[1]}).args());
    }
  }
  const std::uint32_t flags = engine->flags(sha);
  // A script without a shebang keeps Redis 6's rules (no flags to check).
  if (!(flags & lua::kCompatible) && !flagsAllowOrReply(ctx, flags, readOnlyCommand)) return;
  runWithCalls(ctx, ScriptCall{readOnlyCommand || (flags & lua::kNoWrites), false, false, sha, ctx.args},
               ctx.args.subspan(3, *numkeys), ctx.args.subspan(3 + *numkeys),
               [&](const LuaEngine::Run& run) { engine->run(run, ctx.reply); });
}

}  // namespace

void eval(CommandContext& ctx) { evalGeneric(ctx, false, false); }
void evalRo(CommandContext& ctx) { evalGeneric(ctx, false, true); }
void evalsha(CommandContext& ctx) { evalGeneric(ctx, true, false); }
void evalshaRo(CommandContext& ctx) { evalGeneric(ctx, true, true); }

void scriptLoad(CommandContext& ctx) {
  LuaEngine* engine = ctx.worker.lua();
  if (engine == nullptr) return ctx.reply.error("ERR scripting is not available");
  const std::string sha = sha1Hex(ctx.args[2]);
  if (Status loaded = engine->load(sha, ctx.args[2]); !loaded) return ctx.reply.error(loaded.error());
  ctx.reply.bulk(sha);
}

void loadScriptHere(CommandContext& ctx) {
  const auto load = peer::decodeScriptLoad(ctx.args);
  // A script that compiled on its first worker compiles here too.
  if (LuaEngine* engine = ctx.worker.lua(); engine != nullptr && load) (void)engine->load(sha1Hex(load->body), load->body);
}

void scriptExists(CommandContext& ctx) {
  LuaEngine* engine = ctx.worker.lua();
  ctx.reply.array(ctx.args.size() - 2);
  for (std::string_view sha : ctx.args.subspan(2)) {
    std::string lower(sha);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    ctx.reply.integer(engine != nullptr && engine->has(lower) ? 1 : 0);
  }
}

void scriptFlush(CommandContext& ctx) {
  if (ctx.args.size() > 3 || (ctx.args.size() == 3 && !isFlushMode(ctx.args[2]))) {
    return ctx.reply.error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
  }
  if (LuaEngine* engine = ctx.worker.lua()) engine->flush();
  ctx.reply.ok();
}

void scriptKill(CommandContext& ctx) { replyKill(ctx, /*eval=*/true); }

void scriptHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "DEBUG (YES|SYNC|NO)",
      "    Set the debug mode for subsequent scripts executed.",
      "EXISTS <sha1> [<sha1> ...]",
      "    Return information about the existence of the scripts in the script cache.",
      "FLUSH [ASYNC|SYNC]",
      "    Flush the Lua scripts cache. Very dangerous on replicas.",
      "    When called without the optional mode argument, the behavior is determined by the",
      "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
      "    * ASYNC: Asynchronously flush the scripts cache.",
      "    * SYNC: Synchronously flush the scripts cache.",
      "KILL",
      "    Kill the currently executing Lua script.",
      "LOAD <script>",
      "    Load a script into the scripts cache without executing it.",
      "HELP",
      "    Prints this help."};
  replyHelp(ctx, kLines);
}

}  // namespace commands

}  // namespace keyloop

namespace keyloop {

void WorkerServices::runNested(const ResolvedCommand& command, CommandContext& ctx) { runGuarded(command.spec->handler, ctx); }

ScriptGuard::ScriptGuard(WorkerServices& worker, ScriptCall& call) : worker_(worker) { worker_.scriptStarted(&call); }
ScriptGuard::~ScriptGuard() { worker_.scriptStarted(nullptr); }

}  // namespace keyloop

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> scriptCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kScriptSubcommands[] = {
      {.name = "exists", .arity = -3, .flags = kNoScript, .acl = acl::kScripting,
       .handler = scriptExists},
      {.name = "flush", .arity = -2, .flags = kNoScript, .acl = acl::kScripting,
       .cross = CrossWorker::BroadcastSame, .handler = scriptFlush},
      {.name = "help", .arity = 2, .flags = 0, .acl = acl::kScripting,
       .handler = scriptHelp},
      {.name = "kill", .arity = 2, .flags = kNoScript | kAllowBusy, .acl = acl::kScripting,
       .cross = CrossWorker::BroadcastKill, .handler = scriptKill},
      {.name = "load", .arity = 3, .flags = kNoScript, .acl = acl::kScripting,
       .cross = CrossWorker::BroadcastSame, .handler = scriptLoad},
  };
  static constexpr CommandSpec kRows[] = {
      {.name = "peer-scriptload", .arity = 0, .flags = 0,
       .handler = loadScriptHere, .peer = peer::Kind::ScriptLoad},
      {.name = "eval", .arity = -3, .flags = kNoScript | kMayWrite, .acl = acl::kScripting,
       .keys = {.numkeysAt = 2}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW access update", .handler = eval, .writesFor = evalWrites},
      {.name = "eval_ro", .arity = -3, .flags = kNoScript | kReadonly, .acl = acl::kScripting,
       .keys = {.numkeysAt = 2}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RO access", .handler = evalRo},
      {.name = "evalsha", .arity = -3, .flags = kNoScript | kMayWrite, .acl = acl::kScripting,
       .keys = {.numkeysAt = 2}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW access update", .handler = evalsha, .writesFor = evalshaWrites},
      {.name = "evalsha_ro", .arity = -3, .flags = kNoScript | kReadonly, .acl = acl::kScripting,
       .keys = {.numkeysAt = 2}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RO access", .handler = evalshaRo},
      {.name = "script", .arity = -2, .flags = 0,
       .subcommands = kScriptSubcommands},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
