// DEBUG: the subcommands Redis's own tests and tools lean on. PROTOCOL
// answers one reply of each RESP type; SET-ACTIVE-EXPIRE pauses the active
// expire cycle (lazy expiry goes on); SET-DISABLE-DENY-SCRIPTS lets
// scripts call commands Redis marks noscript (its tests call DEBUG so);
// SLEEP stalls the worker that runs it (the slow log's and the latency
// monitor's tests make a slow command so).
#include <time.h>

#include <cmath>
#include <cstdlib>

#include "worker/commands/commands.h"
#include "worker/execution/command_families.h"

namespace keyloop::commands {

void debugProtocol(CommandContext& ctx) {
  resp::Reply& r = ctx.reply;
  const bool resp3 = r.protocol() == resp::Protocol::Resp3;
  const std::string_view name = ctx.args[2];
  if (equalsIgnoreCase(name, "string")) return r.bulk("Hello World");
  if (equalsIgnoreCase(name, "integer")) return r.integer(12345);
  if (equalsIgnoreCase(name, "double")) return r.doubleValue(3.141);
  if (equalsIgnoreCase(name, "bignum")) {
    constexpr std::string_view kBig = "1234567999999999999999999999999999999";
    if (!resp3) return r.bulk(kBig);
    r.buffer() += "(" + std::string(kBig) + "\r\n";
    return;
  }
  if (equalsIgnoreCase(name, "null")) return r.null();
  if (equalsIgnoreCase(name, "array") || equalsIgnoreCase(name, "set")) {
    equalsIgnoreCase(name, "set") ? r.set(3) : r.array(3);
    for (int j = 0; j < 3; ++j) r.integer(j);
    return;
  }
  if (equalsIgnoreCase(name, "map")) {
    r.map(3);
    for (int j = 0; j < 3; ++j) {
      r.integer(j);
      r.boolean(j == 1);
    }
    return;
  }
  if (equalsIgnoreCase(name, "attrib")) {
    if (resp3) {
      r.buffer() += "|1\r\n";
      r.bulk("key-popularity");
      r.array(2);
      r.bulk("key:123");
      r.integer(90);
    }
    return r.bulk("Some real reply following the attribute");
  }
  if (equalsIgnoreCase(name, "push")) {
    if (!resp3) return r.error("ERR RESP2 is not supported by this command");
    r.push(2);
    r.bulk("server-cpu-usage");
    r.integer(42);
    return r.bulk("Some real reply following the push reply");
  }
  if (equalsIgnoreCase(name, "true")) return r.boolean(true);
  if (equalsIgnoreCase(name, "false")) return r.boolean(false);
  if (equalsIgnoreCase(name, "verbatim")) return r.verbatim("This is a verbatim\nstring");
  r.error("ERR Wrong protocol type name. Please use one of the following: "
          "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false");
}

void debugSetActiveExpire(CommandContext& ctx) {
  const auto on = parseInteger(ctx.args[2]);
  if (!on) return ctx.reply.error(kNotInteger);
  ctx.worker.setDebugSwitch(WorkerServices::DebugSwitch::ActiveExpire, *on != 0);
  ctx.reply.ok();
}

void debugSetDisableDenyScripts(CommandContext& ctx) {
  const auto on = parseInteger(ctx.args[2]);
  if (!on) return ctx.reply.error(kNotInteger);
  ctx.worker.setDebugSwitch(WorkerServices::DebugSwitch::DenyScriptsDisabled, *on != 0);
  ctx.reply.ok();
}

void debugSleep(CommandContext& ctx) {
  // As Redis: strtod of the argument, whatever follows the number.
  const double seconds = std::strtod(std::string(ctx.args[2]).c_str(), nullptr);
  if (std::isfinite(seconds) && seconds > 0) {
    const auto micros = static_cast<long long>(std::min(seconds, 3600.0) * 1e6);
    timespec wait{static_cast<time_t>(micros / 1000000), static_cast<long>((micros % 1000000) * 1000)};
    while (::nanosleep(&wait, &wait) != 0) {
    }
  }
  ctx.reply.ok();
}

void debugHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "PROTOCOL <type>",
      "    Reply with a test value of the specified type. <type> can be: string,",
      "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
      "    true, false.",
      "SET-ACTIVE-EXPIRE <0|1>",
      "    Setting it to 0 disables expiring keys in background when they are not",
      "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
      "    default.",
      "SET-DISABLE-DENY-SCRIPTS <0|1>",
      "    For testing only: allow scripts to call commands that are denied in scripts.",
      "SLEEP <seconds>",
      "    Stop the server for <seconds>. Decimals allowed.",
      "HELP",
      "    Prints this help."};
  replyHelp(ctx, kLines);
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> debugCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kDebugSubcommands[] = {
      {.name = "help", .arity = 2, .flags = kAdmin,
       .handler = debugHelp},
      {.name = "protocol", .arity = 3, .flags = kAdmin,
       .handler = debugProtocol},
      {.name = "set-active-expire", .arity = 3, .flags = kAdmin,
       .cross = CrossWorker::BroadcastSame, .handler = debugSetActiveExpire},
      {.name = "set-disable-deny-scripts", .arity = 3, .flags = kAdmin,
       .cross = CrossWorker::BroadcastSame, .handler = debugSetDisableDenyScripts},
      {.name = "sleep", .arity = 3, .flags = kAdmin,
       .handler = debugSleep},
  };
  static constexpr CommandSpec kRows[] = {
      {.name = "debug", .arity = -2, .flags = kAdmin | kNoScript | kDebug,
       .subcommands = kDebugSubcommands},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
