// The messages of the blocking protocol between workers (blocking.h),
// as internal commands, and CLIENT UNBLOCK.
#include "worker/dispatch/blocking.h"
#include "worker/execution/command_families.h"
#include "worker/commands/commands.h"

namespace keyloop::commands {

namespace {

std::uint64_t waitIdOf(std::string_view arg) { return static_cast<std::uint64_t>(parseInteger(arg).value_or(0)); }

}  // namespace

void blockWaiter(CommandContext& ctx) {
  // __block id worker resp type n key... command...
  const auto& a = ctx.args;
  Blocking* blocking = ctx.worker.blocking();
  const auto n = parseInteger(a[5]);
  if (blocking == nullptr || !n || *n < 1 || a.size() < 6 + static_cast<std::size_t>(*n) + 1) {
    return ctx.reply.error("ERR malformed __block");
  }
  const auto count = static_cast<std::size_t>(*n);
  blocking->addWaiter(waitIdOf(a[1]), static_cast<int>(parseInteger(a[2]).value_or(0)),
                      a[3] == "3" ? resp::Protocol::Resp3 : resp::Protocol::Resp2,
                      static_cast<std::uint8_t>(parseInteger(a[4]).value_or(0)), a.subspan(6, count),
                      a.subspan(6 + count));
  ctx.reply.ok();
}

void unblockWaiter(CommandContext& ctx) {
  if (Blocking* b = ctx.worker.blocking()) b->removeWaiter(waitIdOf(ctx.args[1]));
  ctx.reply.ok();
}

void rewaitWaiter(CommandContext& ctx) {
  if (Blocking* b = ctx.worker.blocking()) b->rewait(waitIdOf(ctx.args[1]));
  ctx.reply.ok();
}

void wakeWait(CommandContext& ctx) {
  Blocking* b = ctx.worker.blocking();
  ctx.reply.integer(b != nullptr && b->reserve(waitIdOf(ctx.args[1])) ? 1 : 0);
}

void servedWait(CommandContext& ctx) {
  if (Blocking* b = ctx.worker.blocking()) b->served(waitIdOf(ctx.args[1]), ctx.args[2]);
  ctx.reply.ok();
}

void retryWait(CommandContext& ctx) {
  if (Blocking* b = ctx.worker.blocking()) b->retry(waitIdOf(ctx.args[1]));
  ctx.reply.ok();
}

void clientUnblock(CommandContext& ctx) {
  bool withError = false;
  if (ctx.args.size() == 4) {
    if (equalsIgnoreCase(ctx.args[3], "error")) withError = true;
    else if (!equalsIgnoreCase(ctx.args[3], "timeout")) {
      return ctx.reply.error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
    }
  }
  const auto id = parseInteger(ctx.args[2]);
  if (!id) return ctx.reply.error(kNotInteger);
  Blocking* b = ctx.worker.blocking();
  ctx.reply.integer(b != nullptr && b->unblock(static_cast<std::uint64_t>(*id), withError) ? 1 : 0);
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> waitingCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "__block", .arity = -8, .flags = kInternal,
       .keys = {.numkeysAt = 5}, .handler = blockWaiter,
       .group = "list", .summary = "Registers a blocked client's wait on keys of this worker.", .since = "0.1.0", .syntax = "id worker resp type numkeys key... command..."},
      {.name = "__retry", .arity = 2, .flags = kInternal,
       .handler = retryWait,
       .group = "list", .summary = "A waited-on key has an element: run the command the long way.", .since = "0.1.0", .syntax = "id"},
      {.name = "__rewait", .arity = 2, .flags = kInternal,
       .handler = rewaitWaiter,
       .group = "list", .summary = "A blocked client waits again (its element went).", .since = "0.1.0", .syntax = "id"},
      {.name = "__served", .arity = 3, .flags = kInternal,
       .handler = servedWait,
       .group = "list", .summary = "A blocked client's reply, from the owner that served it.", .since = "0.1.0", .syntax = "id reply"},
      {.name = "__unblock", .arity = 2, .flags = kInternal,
       .handler = unblockWaiter,
       .group = "list", .summary = "A blocked client waits no more.", .since = "0.1.0", .syntax = "id"},
      {.name = "__wake", .arity = 2, .flags = kInternal,
       .handler = wakeWait,
       .group = "list", .summary = "May a blocked client be served? 1 reserves it.", .since = "0.1.0", .syntax = "id"},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
