// Hash-field expiry, as Redis 7.4: HEXPIRE, HPEXPIRE, HEXPIREAT, HPEXPIREAT
// set a time on fields, HTTL, HPTTL, HEXPIRETIME, HPEXPIRETIME read it,
// HPERSIST removes it. Each answers one integer per field named.
// The fields' times live in the hash (keyspace/field_expiry.h).
#include <climits>

#include "worker/commands/commands.h"
#include "worker/execution/command_families.h"
#include "worker/keyspace/field_expiry.h"

namespace keyloop::commands {

namespace {

// Redis 7.4's HFE_MAX_ABS_TIME_MSEC: the latest time a field may be given.
constexpr long long kMaxFieldTime = 0xFFFFFFFFFFFFll >> 2;

// Per field: Redis's HSETEX_*, HFE_GET_*, HFE_PERSIST_* answers.
constexpr long long kNoField = -2, kNoTime = -1, kConditionNotMet = 0, kDone = 1, kDeleted = 2;

enum class Condition { None, Nx, Xx, Gt, Lt };

// FIELDS numfields field...: the fields, or nullopt after replying the error.
std::optional<std::span<const std::string_view>> fieldsAt(CommandContext& ctx, std::size_t at,
                                                           std::string_view countError) {
  const auto& a = ctx.args;
  if (!equalsIgnoreCase(a[at - 1], "fields")) {
    ctx.reply.error("ERR Mandatory argument FIELDS is missing or not at the right position");
    return std::nullopt;
  }
  const auto n = parseInteger(a[at]);
  if (!n || *n < 1) {
    ctx.reply.error(std::string("ERR ") + std::string(countError));
    return std::nullopt;
  }
  if (static_cast<unsigned long long>(*n) != a.size() - at - 1) {
    ctx.reply.error("ERR The `numfields` parameter must match the number of arguments");
    return std::nullopt;
  }
  return std::span<const std::string_view>(a).subspan(at + 1);
}

bool conditionAllows(Condition c, std::int64_t previous, std::int64_t at) {
  if (previous == kNoExpiry) return c != Condition::Xx && c != Condition::Gt;  // LT counts no time as later
  switch (c) {
    case Condition::Nx: return false;
    case Condition::Gt: return at > previous;
    case Condition::Lt: return at < previous;
    default: return true;
  }
}

void expireFields(CommandContext& ctx, long long base, ExpireUnit unit) {
  const auto& a = ctx.args;
  auto e = writeAs(ctx, a[1], Type::Hash);
  if (!e) return;
  const auto when = parseInteger(a[2]);
  if (!when) return ctx.reply.error(kNotInteger);
  long long at = *when;
  if (at < 0) return ctx.reply.error("ERR invalid expire time, must be >= 0");
  const std::string timeError = "ERR invalid expire time in '" + toLower(a[0]) + "' command";
  if (unit == ExpireUnit::Seconds) {
    if (at > kMaxFieldTime / 1000) return ctx.reply.error(timeError);
    at *= 1000;
  }
  if (at > kMaxFieldTime - base) return ctx.reply.error(timeError);
  at += base;

  Condition condition = Condition::None;
  if (equalsIgnoreCase(a[3], "nx")) condition = Condition::Nx;
  else if (equalsIgnoreCase(a[3], "xx")) condition = Condition::Xx;
  else if (equalsIgnoreCase(a[3], "gt")) condition = Condition::Gt;
  else if (equalsIgnoreCase(a[3], "lt")) condition = Condition::Lt;
  const auto fields = fieldsAt(ctx, condition == Condition::None ? 4 : 5, "Parameter `numFields` should be greater than 0");
  if (!fields) return;

  ctx.reply.array(fields->size());
  if (*e == nullptr) {
    for (std::size_t i = 0; i < fields->size(); ++i) ctx.reply.integer(kNoField);
    return ctx.changedNothing();
  }
  Store::Entry*& hash = *e;
  const std::string key(a[1]), atText = std::to_string(at);
  std::vector<std::string> updated{"HPEXPIREAT", key, atText, "FIELDS", ""};
  std::size_t deleted = 0;
  for (std::string_view field : *fields) {
    // Its time read against no clock: as Redis, a field expired but not
    // yet deleted is still there to set.
    const std::optional<std::int64_t> previous = field_ttl::expiryOf(hash, field, LLONG_MIN);
    if (!previous) {
      ctx.reply.integer(kNoField);
      continue;
    }
    if (!conditionAllows(condition, *previous, at)) {
      ctx.reply.integer(kConditionNotMet);
      continue;
    }
    if (at <= ctx.nowMs) {  // a time past: the field goes (propagated as HDEL)
      collection::erase(ctx.store, hash, field);
      ctx.propagateAs({"HDEL", key, std::string(field)});
      ++deleted;
      ctx.reply.integer(kDeleted);
      continue;
    }
    field_ttl::makeExpiring(ctx.store, hash);
    field_ttl::setExpiry(hash, field, at);
    updated.emplace_back(field);
    ctx.reply.integer(kDone);
  }
  const std::size_t set = updated.size() - 5;
  if (set == 0 && deleted == 0) return ctx.changedNothing();
  if (set > 0) {
    updated[4] = std::to_string(set);
    ctx.propagateAs(std::move(updated));
  }
  // Raised with the argument: an event keeps a view of its key past the handler.
  if (deleted == 0) return ctx.raise('h', "hexpire", a[1]);
  ctx.raise('h', "hdel", a[1]);
  // Empty when no field is left, expired ones included (Redis's hashTypeLength(o, 0)).
  const bool empty = Store::kind(hash) == Kind::HashTtl ? Store::table(hash).size() == 0 : collection::size(hash) == 0;
  if (empty) {
    ctx.store.erase(key);
    ctx.raise('g', "del", a[1]);
  }
}

// HTTL and friends: `base` 0 answers the absolute time.
void fieldTimes(CommandContext& ctx, long long base, ExpireUnit unit) {
  auto e = readAs(ctx, ctx.args[1], Type::Hash);
  if (!e) return;
  const auto fields = fieldsAt(ctx, 3, "Number of fields must be a positive integer");
  if (!fields) return;
  ctx.reply.array(fields->size());
  for (std::string_view field : *fields) {
    const auto at = *e != nullptr ? field_ttl::expiryOf(*e, field, ctx.nowMs) : std::nullopt;
    if (!at) ctx.reply.integer(kNoField);
    else if (*at == kNoExpiry) ctx.reply.integer(kNoTime);
    else ctx.reply.integer(unit == ExpireUnit::Seconds ? (*at + 999 - base) / 1000 : *at - base);
  }
}

}  // namespace

void hexpire(CommandContext& ctx) { expireFields(ctx, ctx.nowMs, ExpireUnit::Seconds); }
void hpexpire(CommandContext& ctx) { expireFields(ctx, ctx.nowMs, ExpireUnit::Milliseconds); }
void hexpireat(CommandContext& ctx) { expireFields(ctx, 0, ExpireUnit::Seconds); }
void hpexpireat(CommandContext& ctx) { expireFields(ctx, 0, ExpireUnit::Milliseconds); }
void httl(CommandContext& ctx) { fieldTimes(ctx, ctx.nowMs, ExpireUnit::Seconds); }
void hpttl(CommandContext& ctx) { fieldTimes(ctx, ctx.nowMs, ExpireUnit::Milliseconds); }
void hexpiretime(CommandContext& ctx) { fieldTimes(ctx, 0, ExpireUnit::Seconds); }
void hpexpiretime(CommandContext& ctx) { fieldTimes(ctx, 0, ExpireUnit::Milliseconds); }

void hpersist(CommandContext& ctx) {
  auto e = writeAs(ctx, ctx.args[1], Type::Hash);
  if (!e) return;
  const auto fields = fieldsAt(ctx, 3, "Number of fields must be a positive integer");
  if (!fields) return;
  ctx.reply.array(fields->size());
  bool changed = false;
  for (std::string_view field : *fields) {
    const auto at = *e != nullptr ? field_ttl::expiryOf(*e, field, ctx.nowMs - 1) : std::nullopt;
    if (!at) {
      ctx.reply.integer(kNoField);
    } else if (*at == kNoExpiry) {
      ctx.reply.integer(kNoTime);
    } else {
      field_ttl::setExpiry(*e, field, kNoExpiry);
      changed = true;
      ctx.reply.integer(kDone);
    }
  }
  if (!changed) return ctx.changedNothing();
  ctx.raise('h', "hpersist", ctx.args[1]);
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> hashExpiryCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "hexpire", .arity = -6, .flags = kWrite | kFast, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW update", .handler = hexpire},
      {.name = "hexpireat", .arity = -6, .flags = kWrite | kFast, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW update", .handler = hexpireat},
      {.name = "hexpiretime", .arity = -5, .flags = kReadonly | kFast, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = hexpiretime},
      {.name = "hpersist", .arity = -5, .flags = kWrite | kFast | kNeverGrows, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW update", .handler = hpersist},
      {.name = "hpexpire", .arity = -6, .flags = kWrite | kFast, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW update", .handler = hpexpire},
      {.name = "hpexpireat", .arity = -6, .flags = kWrite | kFast, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW update", .handler = hpexpireat},
      {.name = "hpexpiretime", .arity = -5, .flags = kReadonly | kFast, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = hpexpiretime},
      {.name = "hpttl", .arity = -5, .flags = kReadonly | kFast, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = hpttl},
      {.name = "httl", .arity = -5, .flags = kReadonly | kFast, .acl = acl::kHash,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = httl},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
