// Lookups and replies shared by every command family.
#include <climits>

#include "worker/commands/commands.h"

#include "worker/execution/keyspace_events.h"
#include "worker/persistence/persistence.h"

namespace keyloop::commands {

Store::Entry* lookupRead(CommandContext& ctx, std::string_view key) {
  Store::Entry* e = ctx.store.find(key, ctx.nowMs);
  ++ctx.worker.stats()[e ? kKeyspaceHits : kKeyspaceMisses];
  if (e != nullptr && !ctx.noTouch) ctx.store.touch(e);
  if (e == nullptr && (ctx.worker.config().notifyKeyspaceEvents & keyspace_events::kKeyMiss)) {
    keyspace_events::notify(ctx.worker.config().notifyKeyspaceEvents, 'm', "keymiss", key, ctx.db,
                            [&ctx](std::string_view channel, std::string_view message) {
                              ctx.events != nullptr ? (*ctx.events)(channel, message)
                                                    : ctx.worker.publishEvent(channel, message);
                            });
  }
  return e;
}

namespace {
std::optional<Store::Entry*> checkedType(CommandContext& ctx, Store::Entry* e, Type type) {
  if (e != nullptr && typeOf(Store::kind(e)) != type) {
    ctx.reply.error(kWrongType);
    return std::nullopt;
  }
  return e;
}
}  // namespace

std::optional<Store::Entry*> readAs(CommandContext& ctx, std::string_view key, Type type) {
  return checkedType(ctx, lookupRead(ctx, key), type);
}

std::optional<Store::Entry*> writeAs(CommandContext& ctx, std::string_view key, Type type) {
  return checkedType(ctx, lookupWrite(ctx, key), type);
}

std::optional<std::pair<std::string_view, Store::Entry*>> firstExisting(CommandContext& ctx, std::size_t first,
                                                                        std::size_t end, Type type) {
  for (std::size_t i = first; i < end; ++i) {
    auto e = writeAs(ctx, ctx.args[i], type);
    if (!e) return std::nullopt;
    if (*e != nullptr) return std::pair{ctx.args[i], *e};
  }
  return std::pair{std::string_view{}, nullptr};
}

std::optional<long long> integerOrReply(CommandContext& ctx, std::string_view arg) {
  const auto v = parseInteger(arg);
  if (!v) ctx.reply.error(kNotInteger);
  return v;
}

std::optional<long long> rangedIntegerOrReply(CommandContext& ctx, std::string_view arg, long long min, long long max) {
  const auto v = integerOrReply(ctx, arg);
  if (v && (*v < min || *v > max)) {
    ctx.reply.error("ERR value is out of range, value must between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return v;
}

std::optional<int> databaseArgument(CommandContext& ctx, std::string_view arg, const char* invalid) {
  if (invalid == nullptr) {
    const auto v = rangedIntegerOrReply(ctx, arg, INT_MIN, INT_MAX);
    return v ? std::optional<int>(static_cast<int>(*v)) : std::nullopt;
  }
  const auto v = parseInteger(arg);
  if (!v || *v < INT_MIN || *v > INT_MAX) return ctx.reply.error(std::string("ERR ") + invalid), std::nullopt;
  return static_cast<int>(*v);
}

Store* otherDatabase(CommandContext& ctx, int db) {
  Databases* databases = ctx.worker.databases();
  if (databases == nullptr || !databases->valid(db)) return ctx.reply.error("ERR DB index is out of range"), nullptr;
  if (db == ctx.db) return ctx.reply.error("ERR source and destination objects are the same"), nullptr;
  if (&ctx.store != &(*databases)[ctx.db]) {
    // A run against locked copies of keys (a transaction or script over
    // several workers): the other database's key is not among them.
    return ctx.reply.error("ERR keyloop reaches another database only on the worker that owns the key "
                           "(not in a transaction or script whose keys live on several workers)"), nullptr;
  }
  return &(*databases)[db];
}

void keepForSnapshot(CommandContext& ctx, Store& store, std::string_view key) {
  if (Persistence* persistence = ctx.worker.persistence()) persistence->beforeWrite(store, key);
}

bool replyOverLimit(const CommandContext& ctx) {
  return ctx.reply.buffer().size() > ctx.worker.config().clientOutputBufferLimit;
}

std::optional<long long> positiveOrReply(CommandContext& ctx, std::string_view arg, std::string_view message) {
  const auto v = parseInteger(arg);
  if (!v || *v < 0) return ctx.reply.error(message), std::nullopt;
  return v;
}

std::optional<long long> mpopCountOrReply(CommandContext& ctx, std::size_t from) {
  long long count = -1;
  for (std::size_t j = from; j < ctx.args.size(); ++j) {
    if (count == -1 && equalsIgnoreCase(ctx.args[j], "count") && j + 1 < ctx.args.size()) {
      const auto c = parseInteger(ctx.args[++j]);
      if (!c || *c < 1) return ctx.reply.error("ERR count should be greater than 0"), std::nullopt;
      count = *c;
    } else {
      return ctx.reply.error(kSyntaxError), std::nullopt;
    }
  }
  return count == -1 ? 1 : count;
}

void replyInvalidExpire(CommandContext& ctx) {
  ctx.reply.error("ERR invalid expire time in '" + toLower(ctx.args[0]) + "' command");
}

std::optional<long long> expireMillisOrReply(CommandContext& ctx, std::string_view arg,
                                             ExpireUnit unit, bool relative) {
  auto value = parseInteger(arg);
  if (!value) {
    ctx.reply.error(kNotInteger);
    return std::nullopt;
  }
  long long ms = *value;
  if (ms <= 0 || (unit == ExpireUnit::Seconds && ms > LLONG_MAX / 1000)) {
    replyInvalidExpire(ctx);
    return std::nullopt;
  }
  if (unit == ExpireUnit::Seconds) ms *= 1000;
  // Redis adds the clock with wrap-around and rejects a non-positive result.
  if (relative && __builtin_add_overflow(ms, ctx.nowMs, &ms)) ms = -1;
  if (ms <= 0) {
    replyInvalidExpire(ctx);
    return std::nullopt;
  }
  return ms;
}

void replyValue(CommandContext& ctx, const Store::Entry* entry) {
  entry ? ctx.reply.bulk(Store::value(entry)) : ctx.reply.null();
}

void storeValue(CommandContext& ctx, Store::Entry* entry, std::string_view key, std::string_view value, Kind kind) {
  if (entry) {
    ctx.store.setValue(entry, value, kind);  // a new value: no longer "raw"
  } else {
    ctx.store.set(key, value, kNoExpiry, kind);
  }
}

void replyHelp(CommandContext& ctx, std::span<const std::string_view> lines) {
  ctx.reply.array(lines.size());
  for (std::string_view line : lines) ctx.reply.simple(line);
}

std::string_view directionAfterKeys(std::span<const std::string_view> args, std::size_t numkeysAt) {
  const auto n = parseInteger(args[numkeysAt]);
  const std::size_t where = numkeysAt + 1 + static_cast<std::size_t>(n.value_or(0));
  return n && where < args.size() ? args[where] : std::string_view();
}

}  // namespace keyloop::commands
