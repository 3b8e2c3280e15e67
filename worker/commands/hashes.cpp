// Hash commands: HSET and friends, counters, random fields, HSCAN.
#include <climits>
#include <cmath>

#include "worker/commands/commands.h"
#include "worker/execution/command_families.h"
#include "worker/keyspace/field_expiry.h"

namespace keyloop::commands {

namespace {

using collection::kHash;

// The hash at args[1] for a write, created empty when absent.
std::optional<Store::Entry*> hashForWrite(CommandContext& ctx) {
  auto e = writeAs(ctx, ctx.args[1], Type::Hash);
  if (e && *e == nullptr) *e = ctx.store.set(ctx.args[1], packed::emptyValue(), kNoExpiry, Kind::HashPacked);
  return e;
}

std::optional<std::string_view> fieldValue(const Store::Entry* e, std::string_view field) {
  if (e == nullptr) return std::nullopt;
  const packed::Tuple t = collection::find(e, field);
  if (t.end == 0) return std::nullopt;
  return t.value;
}

// HINCRBY's and HINCRBYFLOAT's write: a field that had a time keeps it
// (Redis 7.4's HASH_SET_KEEP_TTL), one expired is new and has none.
void updateKeepingTime(CommandContext& ctx, Store::Entry*& e, std::string_view field, std::string_view value) {
  const std::int64_t kept = field_ttl::expiryOf(e, field, ctx.nowMs).value_or(kNoExpiry);
  collection::insert(ctx.store, e, kHash, hashLimits(ctx), field, value);
  if (kept != kNoExpiry) field_ttl::setExpiry(e, field, kept);
}

void setFields(CommandContext& ctx, bool countAdded) {
  if (ctx.args.size() % 2 != 0) {
    return ctx.reply.error("ERR wrong number of arguments for '" + toLower(ctx.args[0]) + "' command");
  }
  auto e = hashForWrite(ctx);
  if (!e) return;
  long long added = 0;
  for (std::size_t i = 2; i + 1 < ctx.args.size(); i += 2) {
    added += collection::insert(ctx.store, *e, kHash, hashLimits(ctx), ctx.args[i], ctx.args[i + 1]);
  }
  countAdded ? ctx.reply.integer(added) : ctx.reply.ok();
}

void replyFields(CommandContext& ctx, bool fields, bool values) {
  auto e = readAs(ctx, ctx.args[1], Type::Hash);
  if (!e) return;
  if (*e == nullptr) return fields && values ? ctx.reply.map(0) : ctx.reply.array(0);
  const std::size_t n = collection::size(*e);
  fields && values ? ctx.reply.map(n) : ctx.reply.array(n);
  collection::forEach(*e, [&](std::string_view f, std::string_view v) {
    if (fields) ctx.reply.bulk(f);
    if (values) ctx.reply.bulk(v);
  });
}

}  // namespace

void hset(CommandContext& ctx) { setFields(ctx, true); }
void hmset(CommandContext& ctx) { setFields(ctx, false); }

void hsetnx(CommandContext& ctx) {
  auto e = hashForWrite(ctx);
  if (!e) return;
  if (fieldValue(*e, ctx.args[2])) return ctx.reply.integer(0);
  collection::insert(ctx.store, *e, kHash, hashLimits(ctx), ctx.args[2], ctx.args[3]);
  ctx.reply.integer(1);
}

void hget(CommandContext& ctx) {
  auto e = readAs(ctx, ctx.args[1], Type::Hash);
  if (!e) return;
  auto v = fieldValue(*e, ctx.args[2]);
  v ? ctx.reply.bulk(*v) : ctx.reply.null();
}

void hmget(CommandContext& ctx) {
  auto e = readAs(ctx, ctx.args[1], Type::Hash);
  if (!e) return;
  ctx.reply.array(ctx.args.size() - 2);
  for (std::size_t i = 2; i < ctx.args.size(); ++i) {
    auto v = fieldValue(*e, ctx.args[i]);
    v ? ctx.reply.bulk(*v) : ctx.reply.null();
  }
}

void hdel(CommandContext& ctx) { removeElements(ctx, Type::Hash); }

void hlen(CommandContext& ctx) {
  auto e = readAs(ctx, ctx.args[1], Type::Hash);
  if (e) ctx.reply.integer(*e ? static_cast<long long>(collection::size(*e)) : 0);
}

void hstrlen(CommandContext& ctx) {
  auto e = readAs(ctx, ctx.args[1], Type::Hash);
  if (!e) return;
  auto v = fieldValue(*e, ctx.args[2]);
  ctx.reply.integer(v ? static_cast<long long>(v->size()) : 0);
}

void hexists(CommandContext& ctx) {
  auto e = readAs(ctx, ctx.args[1], Type::Hash);
  if (e) ctx.reply.integer(fieldValue(*e, ctx.args[2]) ? 1 : 0);
}

void hincrby(CommandContext& ctx) {
  auto by = parseInteger(ctx.args[3]);
  if (!by) return ctx.reply.error(kNotInteger);
  auto e = hashForWrite(ctx);
  if (!e) return;
  long long current = 0;
  if (auto v = fieldValue(*e, ctx.args[2])) {
    auto parsed = parseInteger(*v);
    if (!parsed) return ctx.reply.error("ERR hash value is not an integer");
    current = *parsed;
  }
  long long result;
  if (__builtin_add_overflow(current, *by, &result)) return ctx.reply.error(kOverflow);
  updateKeepingTime(ctx, *e, ctx.args[2], formatInteger(result));
  ctx.reply.integer(result);
}

void hincrbyfloat(CommandContext& ctx) {
  auto by = parseLongDouble(ctx.args[3]);
  if (!by) return ctx.reply.error(kNotFloat);
  if (std::isinf(*by)) return ctx.reply.error("ERR value is NaN or Infinity");
  auto e = hashForWrite(ctx);
  if (!e) return;
  long double current = 0;
  if (auto v = fieldValue(*e, ctx.args[2])) {
    auto parsed = parseLongDouble(*v);
    if (!parsed) return ctx.reply.error("ERR hash value is not a float");
    current = *parsed;
  }
  const long double result = current + *by;
  if (std::isnan(result) || std::isinf(result)) {
    return ctx.reply.error("ERR increment would produce NaN or Infinity");
  }
  const std::string text = formatLongDouble(result);
  updateKeepingTime(ctx, *e, ctx.args[2], text);
  ctx.propagateAs({"HSET", std::string(ctx.args[1]), std::string(ctx.args[2]), text});
  ctx.reply.bulk(text);
}

void hkeys(CommandContext& ctx) { replyFields(ctx, true, false); }
void hvals(CommandContext& ctx) { replyFields(ctx, false, true); }
void hgetall(CommandContext& ctx) { replyFields(ctx, true, true); }

void hrandfield(CommandContext& ctx) {
  const auto& a = ctx.args;
  if (a.size() == 2) {
    auto e = readAs(ctx, a[1], Type::Hash);
    if (!e) return;
    if (*e == nullptr) return ctx.reply.null();
    return ctx.reply.bulk(collection::random(*e).key);
  }
  const auto count = randomCountOrReply(ctx, a[2]);  // before the syntax, as Redis
  if (!count) return;
  bool withValues = false;
  if (a.size() == 4 && equalsIgnoreCase(a[3], "withvalues")) {
    withValues = true;
  } else if (a.size() >= 4) {
    return ctx.reply.error(kSyntaxError);
  }
  if (withValues && (*count < -LONG_MAX / 2 || *count > LONG_MAX / 2)) {
    return ctx.reply.error("ERR value is out of range");
  }
  auto e = readAs(ctx, a[1], Type::Hash);
  if (!e) return;
  if (*e == nullptr || *count == 0) return ctx.reply.array(0);
  const bool pairs = withValues && ctx.reply.protocol() == resp::Protocol::Resp3;
  auto replyOne = [&](std::string_view f, std::string_view v) {
    if (pairs) ctx.reply.array(2);
    ctx.reply.bulk(f);
    if (withValues) ctx.reply.bulk(v);
  };
  const std::size_t size = collection::size(*e);
  const std::size_t wanted = *count < 0 ? static_cast<std::size_t>(-*count) : static_cast<std::size_t>(*count);
  const std::size_t n = *count < 0 ? wanted : std::min(wanted, size);
  ctx.reply.array(pairs || !withValues ? n : 2 * n);
  if (*count < 0) {  // repeats allowed
    for (std::size_t i = 0; i < wanted && !replyOverLimit(ctx); ++i) {
      const collection::Picked p = collection::random(*e);
      replyOne(p.key, p.value);
    }
    return;
  }
  if (wanted >= size) return collection::forEach(*e, replyOne);
  randomDistinct(*e, wanted, replyOne);
}

void hscan(CommandContext& ctx) {
  const std::optional<std::uint64_t> cursor = parseScanCursor(ctx.args[2]);
  if (!cursor) return ctx.reply.error("ERR invalid cursor");
  auto e = readAs(ctx, ctx.args[1], Type::Hash);
  if (!e) return;
  scanCollection(ctx, *e, *cursor);
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> hashCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "hdel", .arity = -3, .flags = kWrite | kFast | kNoneIsNoChange | kNeverGrows, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW delete", .handler = hdel, .events = {.type = 'h', .event = "hdel"}},
      {.name = "hexists", .arity = 3, .flags = kReadonly | kFast, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO", .handler = hexists},
      {.name = "hget", .arity = 3, .flags = kReadonly | kFast, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = hget},
      {.name = "hgetall", .arity = 2, .flags = kReadonly, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = hgetall},
      {.name = "hincrby", .arity = 4, .flags = kWrite | kFast, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW access update", .handler = hincrby, .events = {.type = 'h', .event = "hincrby"}},
      {.name = "hincrbyfloat", .arity = 4, .flags = kWrite | kFast, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW access update", .handler = hincrbyfloat, .events = {.type = 'h', .event = "hincrbyfloat"}},
      {.name = "hkeys", .arity = 2, .flags = kReadonly, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = hkeys},
      {.name = "hlen", .arity = 2, .flags = kReadonly | kFast, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO", .handler = hlen},
      {.name = "hmget", .arity = -3, .flags = kReadonly | kFast, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = hmget},
      {.name = "hmset", .arity = -4, .flags = kWrite | kFast, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW update", .handler = hmset, .events = {.type = 'h', .event = "hset"}},
      {.name = "hrandfield", .arity = -2, .flags = kReadonly, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = hrandfield},
      {.name = "hscan", .arity = -3, .flags = kReadonly, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = hscan},
      {.name = "hset", .arity = -4, .flags = kWrite | kFast, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW update", .handler = hset, .events = {.type = 'h', .event = "hset"}},
      {.name = "hsetnx", .arity = 4, .flags = kWrite | kFast | kNoneIsNoChange, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW insert", .handler = hsetnx, .events = {.type = 'h', .event = "hset"}},
      {.name = "hstrlen", .arity = 3, .flags = kReadonly | kFast, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO", .handler = hstrlen},
      {.name = "hvals", .arity = 2, .flags = kReadonly, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = hvals},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
