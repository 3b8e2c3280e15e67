// Expiry commands: EXPIRE family with NX/XX/GT/LT, TTL family, PERSIST.
#include <climits>

#include "worker/commands/commands.h"
#include "worker/execution/command_families.h"

namespace keyloop::commands {

namespace {

enum ExpireFlag : unsigned { kNx = 1, kXx = 2, kGt = 4, kLt = 8 };

// Redis's expireGenericCommand: options first, then the number, then the key.
void expireGeneric(CommandContext& ctx, long long base, ExpireUnit unit) {
  unsigned flags = 0;
  for (std::size_t j = 3; j < ctx.args.size(); ++j) {
    const std::string_view opt = ctx.args[j];
    if (equalsIgnoreCase(opt, "nx")) flags |= kNx;
    else if (equalsIgnoreCase(opt, "xx")) flags |= kXx;
    else if (equalsIgnoreCase(opt, "gt")) flags |= kGt;
    else if (equalsIgnoreCase(opt, "lt")) flags |= kLt;
    else return ctx.reply.error("ERR Unsupported option " + std::string(opt));
  }
  if ((flags & kNx) && (flags & (kXx | kGt | kLt))) {
    return ctx.reply.error("ERR NX and XX, GT or LT options at the same time are not compatible");
  }
  if ((flags & kGt) && (flags & kLt)) {
    return ctx.reply.error("ERR GT and LT options at the same time are not compatible");
  }
  auto when = parseInteger(ctx.args[2]);
  if (!when) return ctx.reply.error(kNotInteger);
  long long at = *when;
  if (unit == ExpireUnit::Seconds) {
    if (at > LLONG_MAX / 1000 || at < LLONG_MIN / 1000) return replyInvalidExpire(ctx);
    at *= 1000;
  }
  if (at > LLONG_MAX - base) return replyInvalidExpire(ctx);
  at += base;

  Store::Entry* e = lookupWrite(ctx, ctx.args[1]);
  if (e == nullptr) return ctx.reply.integer(0);
  const long long current = Store::expireAt(e);
  if (((flags & kNx) && current != kNoExpiry) || ((flags & kXx) && current == kNoExpiry) ||
      ((flags & kGt) && (current == kNoExpiry || at <= current)) ||
      ((flags & kLt) && current != kNoExpiry && at >= current)) {
    return ctx.reply.integer(0);
  }
  // Propagated with the absolute time (or as DEL when that has passed).
  const std::string key(ctx.args[1]);
  if (at <= ctx.nowMs) {
    ctx.store.erase(key);
    ctx.propagateAs({"DEL", key});
  } else {
    ctx.store.setExpire(e, at);
    ctx.propagateAs({"PEXPIREAT", key, std::to_string(at)});
  }
  ctx.reply.integer(1);
}

// TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 missing key, -1 no expiry.
void ttlGeneric(CommandContext& ctx, bool millis, bool absolute) {
  ctx.noTouch = true;  // Redis's LOOKUP_NOTOUCH: reading a TTL leaves the access time
  Store::Entry* e = lookupRead(ctx, ctx.args[1]);
  if (e == nullptr) return ctx.reply.integer(-2);
  const long long at = Store::expireAt(e);
  if (at == kNoExpiry) return ctx.reply.integer(-1);
  const long long value = absolute ? at : std::max(at - ctx.nowMs, 0LL);
  // Rounded as unsigned: a time near LLONG_MAX (PEXPIREAT allows it) would
  // overflow `value + 500`; redis-server's build answers the unsigned result.
  const auto rounded = (static_cast<unsigned long long>(value) + 500) / 1000;
  ctx.reply.integer(millis ? value : static_cast<long long>(rounded));
}

}  // namespace

void expire(CommandContext& ctx) { expireGeneric(ctx, ctx.nowMs, ExpireUnit::Seconds); }
void pexpire(CommandContext& ctx) { expireGeneric(ctx, ctx.nowMs, ExpireUnit::Milliseconds); }
void expireat(CommandContext& ctx) { expireGeneric(ctx, 0, ExpireUnit::Seconds); }
void pexpireat(CommandContext& ctx) { expireGeneric(ctx, 0, ExpireUnit::Milliseconds); }

void ttl(CommandContext& ctx) { ttlGeneric(ctx, false, false); }
void pttl(CommandContext& ctx) { ttlGeneric(ctx, true, false); }
void expiretime(CommandContext& ctx) { ttlGeneric(ctx, false, true); }
void pexpiretime(CommandContext& ctx) { ttlGeneric(ctx, true, true); }

void persist(CommandContext& ctx) {
  Store::Entry* e = lookupWrite(ctx, ctx.args[1]);
  if (e == nullptr || Store::expireAt(e) == kNoExpiry) return ctx.reply.integer(0);
  ctx.store.setExpire(e, kNoExpiry);
  ctx.reply.integer(1);
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> expiryCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "expire", .arity = -3, .flags = kWrite | kFast | kNoneIsNoChange | kNeverGrows, .acl = acl::kKeyspace,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW update", .handler = expire, .events = {.type = 'g', .event = "expire", .rule = KeyEventSpec::EventOrDel}},
      {.name = "expireat", .arity = -3, .flags = kWrite | kFast | kNoneIsNoChange | kNeverGrows, .acl = acl::kKeyspace,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW update", .handler = expireat, .events = {.type = 'g', .event = "expire", .rule = KeyEventSpec::EventOrDel}},
      {.name = "expiretime", .arity = 2, .flags = kReadonly | kFast, .acl = acl::kKeyspace,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = expiretime},
      {.name = "persist", .arity = 2, .flags = kWrite | kFast | kNoneIsNoChange | kNeverGrows, .acl = acl::kKeyspace,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW update", .handler = persist, .events = {.type = 'g', .event = "persist"}},
      {.name = "pexpire", .arity = -3, .flags = kWrite | kFast | kNoneIsNoChange | kNeverGrows, .acl = acl::kKeyspace,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW update", .handler = pexpire, .events = {.type = 'g', .event = "expire", .rule = KeyEventSpec::EventOrDel}},
      {.name = "pexpireat", .arity = -3, .flags = kWrite | kFast | kNoneIsNoChange | kNeverGrows, .acl = acl::kKeyspace,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW update", .handler = pexpireat, .events = {.type = 'g', .event = "expire", .rule = KeyEventSpec::EventOrDel}},
      {.name = "pexpiretime", .arity = 2, .flags = kReadonly | kFast, .acl = acl::kKeyspace,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = pexpiretime},
      {.name = "pttl", .arity = 2, .flags = kReadonly | kFast, .acl = acl::kKeyspace,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = pttl},
      {.name = "ttl", .arity = 2, .flags = kReadonly | kFast, .acl = acl::kKeyspace,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = ttl},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
