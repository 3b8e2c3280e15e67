// Keyspace commands: DEL, EXISTS, RENAME, KEYS, SCAN and friends.
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "worker/commands/commands.h"
#include "worker/execution/command_families.h"
#include "worker/dispatch/blocking.h"
#include "worker/execution/watches.h"

namespace keyloop::commands {

namespace {
long long countKeys(CommandContext& ctx, bool erase) {
  long long n = 0;
  for (std::size_t i = 1; i < ctx.args.size(); ++i) {
    if (erase ? (lookupWrite(ctx, ctx.args[i]) && ctx.store.erase(ctx.args[i]))
              : lookupRead(ctx, ctx.args[i]) != nullptr) {
      ++n;
    }
  }
  return n;
}

bool matchesAll(std::string_view pattern) { return pattern == "*"; }
}  // namespace

void del(CommandContext& ctx) { ctx.reply.integer(countKeys(ctx, true)); }
void exists(CommandContext& ctx) {
  ctx.noTouch = true;  // Redis's LOOKUP_NOTOUCH: EXISTS leaves the access time
  ctx.reply.integer(countKeys(ctx, false));
}
void touch(CommandContext& ctx) {
  ctx.noTouch = false;  // TOUCH touches, CLIENT NO-TOUCH or not (Redis 7.2)
  ctx.reply.integer(countKeys(ctx, false));
}

void type(CommandContext& ctx) {
  const Store::Entry* e = lookupQuietly(ctx, ctx.args[1]);
  ctx.reply.simple(e ? typeName(typeOf(Store::kind(e))) : "none");
}

namespace {
// RENAME and RENAMENX: the value and its TTL move to the new name.
void renameGeneric(CommandContext& ctx, bool onlyIfAbsent) {
  Store::Entry* source = lookupWrite(ctx, ctx.args[1]);
  if (source == nullptr) return ctx.reply.error("ERR no such key");
  if (ctx.args[1] == ctx.args[2]) {
    return onlyIfAbsent ? ctx.reply.integer(0) : ctx.reply.ok();
  }
  if (onlyIfAbsent && lookupWrite(ctx, ctx.args[2])) return ctx.reply.integer(0);
  ctx.store.rename(source, ctx.args[2]);
  onlyIfAbsent ? ctx.reply.integer(1) : ctx.reply.ok();
}
}  // namespace

void rename(CommandContext& ctx) { renameGeneric(ctx, false); }
void renamenx(CommandContext& ctx) { renameGeneric(ctx, true); }

void keys(CommandContext& ctx) {
  const std::string_view pattern = ctx.args[1];
  std::vector<std::string_view> found;
  ctx.store.forEach(ctx.nowMs, [&](const Store::Entry* e) {
    if (matchesAll(pattern) || globMatch(pattern, Store::key(e))) found.push_back(Store::key(e));
  });
  ctx.reply.array(found.size());
  for (std::string_view k : found) ctx.reply.bulk(k);
}

void scan(CommandContext& ctx) {
  const std::optional<std::uint64_t> cursor = parseScanCursor(ctx.args[1]);
  if (!cursor) return ctx.reply.error("ERR invalid cursor");
  const auto options = parseScanOptions(ctx, 2, true);
  if (!options) return;
  std::vector<std::string_view> found;
  const bool all = matchesAll(options->pattern);
  const std::uint64_t next = ctx.store.scanEntries(*cursor, options->count, ctx.nowMs, [&](const Store::Entry* e) {
    const std::string_view k = Store::key(e);
    if (!all && !globMatch(options->pattern, k)) return;
    if (!options->type.empty() && !equalsIgnoreCase(options->type, typeName(typeOf(Store::kind(e))))) return;
    found.push_back(k);
  });
  ctx.reply.array(2);
  ctx.reply.bulk(std::to_string(next));
  ctx.reply.array(found.size());
  for (std::string_view k : found) ctx.reply.bulk(k);
}

void randomkey(CommandContext& ctx) {
  Store::Entry* e = ctx.store.randomEntry(ctx.nowMs);
  if (e == nullptr) return ctx.reply.null();
  ctx.reply.bulk(Store::key(e));
}

void dbsize(CommandContext& ctx) { ctx.reply.integer(static_cast<long long>(ctx.store.size())); }

namespace {
void empty(CommandContext& ctx, Store& store) {
  // The keys are gone for clients at once either way; only the freeing of
  // a big keyspace moves off the loop, so FLUSHALL never shows up as lag.
  constexpr std::size_t kFreeInline = 4096;
  if (store.size() <= kFreeInline) {
    store.clear();
  } else {
    auto dead = std::make_shared<Store::Detached>(store.detachAll());
    ctx.worker.threadPool().submit([dead] { dead->free(); });
  }
}

// FLUSHDB's and FLUSHALL's [ASYNC|SYNC]; false after the syntax error.
bool flushModeOrReply(CommandContext& ctx) {
  if (ctx.args.size() > 2 || (ctx.args.size() == 2 && !isFlushMode(ctx.args[1]))) return ctx.reply.error(kSyntaxError), false;
  return true;
}
}  // namespace

void flushdb(CommandContext& ctx) {
  if (!flushModeOrReply(ctx)) return;
  empty(ctx, ctx.store);
  ctx.reply.ok();
}

// MOVE: the key and its TTL go to another database, if it has no such key.
void move(CommandContext& ctx) {
  if (ctx.worker.config().cluster.enabled) return ctx.reply.error("ERR MOVE is not allowed in cluster mode");
  const auto db = databaseArgument(ctx, ctx.args[2]);
  if (!db) return;
  Store* to = otherDatabase(ctx, *db);
  if (to == nullptr) return;
  const std::string_view key = ctx.args[1];
  Store::Entry* e = lookupWrite(ctx, key);
  if (e == nullptr) return ctx.reply.integer(0);
  if (to->find(key, ctx.nowMs) != nullptr) return ctx.reply.integer(0);
  keepForSnapshot(ctx, *to, key);
  to->adopt(ctx.store, e, key);
  ctx.wroteIn(*db, key);
  ctx.raiseIn(*db, 'n', "new", key);  // Redis's dbAdd
  ctx.raise('g', "move_from", key);
  ctx.raiseIn(*db, 'g', "move_to", key);
  ctx.reply.integer(1);
}

// SWAPDB on this worker (every worker runs it, each for its keys): the two
// stores change numbers; the clients that watch or wait on keys of either
// look again.
void swapdb(CommandContext& ctx) {
  if (ctx.worker.config().cluster.enabled) return ctx.reply.error("ERR SWAPDB is not allowed in cluster mode");
  const auto a = databaseArgument(ctx, ctx.args[1], "invalid first DB index");
  if (!a) return;
  const auto b = databaseArgument(ctx, ctx.args[2], "invalid second DB index");
  if (!b) return;
  Databases* databases = ctx.worker.databases();
  if (databases == nullptr || !databases->valid(*a) || !databases->valid(*b)) {
    return ctx.reply.error("ERR DB index is out of range");
  }
  if (*a != *b) {
    if (Watches* watches = ctx.worker.watches()) {
      // A watched key of either that exists in either (Redis's touchAllWatchedKeysInDb).
      watches->touchExisting(*a, (*databases)[*a], ctx.nowMs, &(*databases)[*b]);
      watches->touchExisting(*b, (*databases)[*b], ctx.nowMs, &(*databases)[*a]);
    }
    databases->swap(*a, *b);
    if (Blocking* blocking = ctx.worker.blocking()) blocking->noteEverythingReady();
  }
  ctx.reply.ok();
}

// SWAPDB's barrier on this worker (cross_worker.h: runBehindBarrier).
void barrierHere(CommandContext& ctx) {
  const auto step = peer::decodeBarrier(ctx.args);
  if (!step) return ctx.reply.error("ERR malformed Barrier message");
  switch (*step) {
    case peer::BarrierStep::Hold:
      return ctx.worker.holdForBarrier() ? ctx.reply.ok() : ctx.reply.error("TRYAGAIN a reload holds this worker");
    case peer::BarrierStep::Ready:
      return ctx.reply.integer(ctx.worker.quietForBarrier() ? 1 : 0);
    case peer::BarrierStep::Release:
      ctx.worker.endBarrierHold();
      return ctx.reply.ok();
  }
}

void flushall(CommandContext& ctx) {
  if (!flushModeOrReply(ctx)) return;
  Databases* databases = ctx.worker.databases();
  if (databases == nullptr) return empty(ctx, ctx.store), ctx.reply.ok();
  databases->forEach([&ctx](int, Store& store) { empty(ctx, store); });
  ctx.reply.ok();
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> keyspaceCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "dbsize", .arity = 1, .flags = kReadonly | kFast, .acl = acl::kKeyspace,
       .cross = CrossWorker::BroadcastSum, .handler = dbsize},
      {.name = "del", .arity = -2, .flags = kWrite | kNoneIsNoChange | kNeverGrows, .acl = acl::kKeyspace,
       .keys = {1, -1, 1}, .cross = CrossWorker::SplitAndSum, .keyFlags = "RM delete", .handler = del, .events = {.type = 'g', .event = "del"}},
      {.name = "exists", .arity = -2, .flags = kReadonly | kFast, .acl = acl::kKeyspace,
       .keys = {1, -1, 1}, .cross = CrossWorker::SplitAndSum, .keyFlags = "RO", .handler = exists},
      {.name = "flushall", .arity = -1, .flags = kWrite | kWipesKeyspace | kEveryDatabase | kNeverGrows, .acl = acl::kKeyspace | acl::kDangerous,
       .cross = CrossWorker::BroadcastSame, .handler = flushall},
      {.name = "flushdb", .arity = -1, .flags = kWrite | kWipesKeyspace | kNeverGrows, .acl = acl::kKeyspace | acl::kDangerous,
       .cross = CrossWorker::BroadcastSame, .handler = flushdb},
      {.name = "move", .arity = 3, .flags = kWrite | kFast, .acl = acl::kKeyspace,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW access update", .handler = move},
      {.name = "keys", .arity = 2, .flags = kReadonly, .acl = acl::kKeyspace | acl::kDangerous,
       .cross = CrossWorker::BroadcastConcat, .handler = keys},
      {.name = "randomkey", .arity = 1, .flags = kReadonly, .acl = acl::kKeyspace,
       .cross = CrossWorker::BroadcastRandom, .handler = randomkey},
      {.name = "rename", .arity = 3, .flags = kWrite | kNeverGrows, .acl = acl::kKeyspace,
       .keys = {1, 2, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW access delete;OW update", .handler = rename, .events = {.type = 'g', .event = "rename_from", .rule = KeyEventSpec::Renames, .second = "rename_to"}},
      {.name = "renamenx", .arity = 3, .flags = kWrite | kFast | kNoneIsNoChange | kNeverGrows, .acl = acl::kKeyspace,
       .keys = {1, 2, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW access delete;OW insert", .handler = renamenx, .events = {.type = 'g', .event = "rename_from", .rule = KeyEventSpec::Renames, .second = "rename_to"}},
      {.name = "swapdb", .arity = 3, .flags = kWrite | kFast | kSwapsDatabases, .acl = acl::kKeyspace | acl::kDangerous,
       .cross = CrossWorker::BroadcastBarrier, .handler = swapdb},
      {.name = "peer-barrier", .arity = 0, .flags = 0, .handler = barrierHere, .peer = peer::Kind::Barrier},
      {.name = "scan", .arity = -2, .flags = kReadonly, .acl = acl::kKeyspace,
       .cross = CrossWorker::BroadcastScan, .handler = scan},
      {.name = "touch", .arity = -2, .flags = kReadonly | kFast, .acl = acl::kKeyspace,
       .keys = {1, -1, 1}, .cross = CrossWorker::SplitAndSum, .keyFlags = "RO", .handler = touch},
      {.name = "type", .arity = 2, .flags = kReadonly | kFast, .acl = acl::kKeyspace,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO", .handler = type},
      {.name = "unlink", .arity = -2, .flags = kWrite | kFast | kNoneIsNoChange | kNeverGrows, .acl = acl::kKeyspace,
       .keys = {1, -1, 1}, .cross = CrossWorker::SplitAndSum, .keyFlags = "RM delete", .handler = del, .events = {.type = 'g', .event = "del"}},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
