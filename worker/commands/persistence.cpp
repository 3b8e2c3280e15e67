// SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE and SHUTDOWN. The master makes snapshots and
// stops the server (persistence.h), so the first two and SHUTDOWN are
// session handlers: their reply comes back from the master.
#include "worker/connection/client.h"
#include "worker/execution/command_families.h"
#include "worker/commands/commands.h"
#include "worker/dispatch/dispatch.h"
#include "worker/persistence/persistence.h"

namespace keyloop::commands {

namespace {

void askMaster(Dispatch& dispatch, Client& client, ipc::SaveKind kind, bool force = false) {
  Persistence* persistence = dispatch.services().persistence();
  if (persistence == nullptr) return client.reply().error("ERR persistence is not available here");
  persistence->ask(client, kind, force);
}

}  // namespace

void save(Dispatch& dispatch, Client& client, std::span<const std::string_view>) {
  askMaster(dispatch, client, ipc::SaveKind::Save);
}

void bgsave(Dispatch& dispatch, Client& client, std::span<const std::string_view> args) {
  if (args.size() > 2 || (args.size() == 2 && !equalsIgnoreCase(args[1], "schedule"))) {
    return client.reply().error(kSyntaxError);
  }
  askMaster(dispatch, client, args.size() == 2 ? ipc::SaveKind::Scheduled : ipc::SaveKind::Background);
}

void bgrewriteaof(Dispatch& dispatch, Client& client, std::span<const std::string_view>) {
  askMaster(dispatch, client, ipc::SaveKind::Rewrite);
}

void shutdown(Dispatch& dispatch, Client& client, std::span<const std::string_view> args) {
  bool nosave = false, saveToo = false, force = false, abort = false, others = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (equalsIgnoreCase(args[i], "nosave")) nosave = true;
    else if (equalsIgnoreCase(args[i], "save")) saveToo = true;
    else if (equalsIgnoreCase(args[i], "force")) force = true;
    else if (equalsIgnoreCase(args[i], "now")) others = true;  // no replicas to wait for
    else if (equalsIgnoreCase(args[i], "abort")) abort = true;
    else return client.reply().error(kSyntaxError);
  }
  if ((abort && (nosave || saveToo || force || others)) || (nosave && saveToo)) return client.reply().error(kSyntaxError);
  // A shutdown here either happens at once or failed: none is ever pending.
  if (abort) return client.reply().error("ERR No shutdown in progress.");
  const ipc::SaveKind kind = nosave ? ipc::SaveKind::ShutdownNoSave
                             : saveToo ? ipc::SaveKind::ShutdownSave
                                       : ipc::SaveKind::Shutdown;
  askMaster(dispatch, client, kind, force);
}

void lastsave(CommandContext& ctx) {
  const metrics::SnapshotStatus* status = ctx.worker.snapshotStatus();
  const auto started = std::chrono::duration_cast<std::chrono::seconds>(ctx.worker.now() - ctx.worker.startedAt());
  ctx.reply.integer(status != nullptr ? status->lastSaveUnix.load(std::memory_order_relaxed)
                                      : ctx.nowMs / 1000 - started.count());
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> persistenceCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "bgrewriteaof", .arity = 1, .flags = kAdmin | kNoScript | kNoMulti,
       .session = bgrewriteaof},
      {.name = "bgsave", .arity = -1, .flags = kAdmin | kNoScript | kNoMulti,
       .session = bgsave},
      {.name = "lastsave", .arity = 1, .flags = kFast, .acl = acl::kAdmin | acl::kDangerous,
       .handler = lastsave},
      {.name = "save", .arity = 1, .flags = kAdmin | kNoScript | kNoMulti,
       .session = save},
      {.name = "shutdown", .arity = -1, .flags = kAdmin | kNoScript | kNoMulti | kAllowBusy,
       .session = shutdown},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
