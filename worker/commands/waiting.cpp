// The peer messages of the blocking protocol between workers (blocking.h),
// and CLIENT UNBLOCK.
#include "worker/dispatch/blocking.h"
#include "worker/execution/command_families.h"
#include "worker/commands/commands.h"

namespace keyloop::commands {

void blockWaiter(CommandContext& ctx) {
  const auto block = peer::decodeBlock(ctx.args);
  Blocking* blocking = ctx.worker.blocking();
  if (blocking == nullptr || !block) return ctx.reply.error("ERR malformed Block message");
  blocking->addWaiter(block->wait, block->worker, block->protocol, block->waitsFor, ctx.db, block->keys, block->command);
  ctx.reply.ok();
}

void unblockWaiter(CommandContext& ctx) {
  const auto wait = peer::decodeWait(ctx.args);
  if (Blocking* b = ctx.worker.blocking(); b != nullptr && wait) b->removeWaiter(*wait);
  ctx.reply.ok();
}

void rewaitWaiter(CommandContext& ctx) {
  const auto wait = peer::decodeWait(ctx.args);
  if (Blocking* b = ctx.worker.blocking(); b != nullptr && wait) b->rewait(*wait);
  ctx.reply.ok();
}

void wakeWait(CommandContext& ctx) {
  const auto wait = peer::decodeWait(ctx.args);
  Blocking* b = ctx.worker.blocking();
  ctx.reply.integer(b != nullptr && wait ? static_cast<long long>(b->reserve(*wait)) : 0);
}

void servedWait(CommandContext& ctx) {
  const auto served = peer::decodeServed(ctx.args);
  if (Blocking* b = ctx.worker.blocking(); b != nullptr && served) b->served(served->wait, served->reply);
  ctx.reply.ok();
}

void retryWait(CommandContext& ctx) {
  const auto wait = peer::decodeWait(ctx.args);
  if (Blocking* b = ctx.worker.blocking(); b != nullptr && wait) b->retry(*wait);
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
      {.name = "peer-block", .arity = 0, .flags = 0,
       .keys = {.numkeysAt = 5}, .handler = blockWaiter, .peer = peer::Kind::Block},
      {.name = "peer-retry", .arity = 0, .flags = 0,
       .handler = retryWait, .peer = peer::Kind::Retry},
      {.name = "peer-rewait", .arity = 0, .flags = 0,
       .handler = rewaitWaiter, .peer = peer::Kind::Rewait},
      {.name = "peer-served", .arity = 0, .flags = 0,
       .handler = servedWait, .peer = peer::Kind::Served},
      {.name = "peer-unblock", .arity = 0, .flags = 0,
       .handler = unblockWaiter, .peer = peer::Kind::Unblock},
      {.name = "peer-wake", .arity = 0, .flags = 0,
       .handler = wakeWait, .peer = peer::Kind::Wake},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
