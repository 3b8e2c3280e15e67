// String commands: GET/SET and friends, counters, ranges.
#include <climits>
#include <cmath>

#include "worker/commands/commands.h"
#include "worker/execution/command_families.h"

namespace keyloop::commands {

namespace {

constexpr std::string_view kTooBig = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

bool lengthAllowed(CommandContext& ctx, long long size, long long append) {
  // Written so that no sum can overflow: SETRANGE's offset may be near 2^63.
  const auto most = static_cast<long long>(ctx.worker.config().protoMaxBulkLen);
  if (append > most || size > most - append) {
    ctx.reply.error(kTooBig);
    return false;
  }
  return true;
}

enum SetFlag : unsigned {
  kNx = 1, kXx = 2, kGet = 4, kKeepTtl = 8, kPersist = 16,
  kEx = 32, kPx = 64, kExAt = 128, kPxAt = 256,
};
constexpr unsigned kAnyExpire = kEx | kPx | kExAt | kPxAt;

struct StringOptions {
  unsigned flags = 0;
  std::string_view expire;
};

// Redis's parseExtendedStringArgumentsOrReply, rule for rule: each expiry
// kind excludes the other kinds (a repeated one wins), NX/XX exclude each
// other, GET/KEEPTTL belong to SET and PERSIST to GETEX.
std::optional<StringOptions> parseStringOptions(CommandContext& ctx, std::size_t first,
                                                bool forSet) {
  StringOptions o;
  const auto& a = ctx.args;
  for (std::size_t j = first; j < a.size(); ++j) {
    const std::string_view opt = a[j];
    const bool hasNext = j + 1 < a.size();
    auto is = [&](std::string_view name) { return equalsIgnoreCase(opt, name); };
    auto expiryOk = [&](unsigned self) {
      return !(o.flags & (kKeepTtl | kPersist)) && !(o.flags & (kAnyExpire & ~self)) && hasNext;
    };
    if (forSet && is("nx") && !(o.flags & kXx)) {
      o.flags |= kNx;
    } else if (forSet && is("xx") && !(o.flags & kNx)) {
      o.flags |= kXx;
    } else if (forSet && is("get")) {
      o.flags |= kGet;
    } else if (forSet && is("keepttl") && !(o.flags & (kPersist | kAnyExpire))) {
      o.flags |= kKeepTtl;
    } else if (!forSet && is("persist") && !(o.flags & (kAnyExpire | kKeepTtl))) {
      o.flags |= kPersist;
    } else if ((is("ex") && expiryOk(kEx)) || (is("px") && expiryOk(kPx)) ||
               (is("exat") && expiryOk(kExAt)) || (is("pxat") && expiryOk(kPxAt))) {
      o.flags |= is("ex") ? kEx : is("px") ? kPx : is("exat") ? kExAt : kPxAt;
      o.expire = a[++j];
    } else {
      ctx.reply.error(kSyntaxError);
      return std::nullopt;
    }
  }
  return o;
}

std::optional<long long> optionExpireMillis(CommandContext& ctx, const StringOptions& o) {
  const ExpireUnit unit = (o.flags & (kEx | kExAt)) ? ExpireUnit::Seconds : ExpireUnit::Milliseconds;
  return expireMillisOrReply(ctx, o.expire, unit, (o.flags & (kEx | kPx)) != 0);
}

// SET's arguments less its GET option (as Redis propagates SET ... GET).
std::vector<std::string> argumentsWithout(std::span<const std::string_view> args, std::string_view option) {
  std::vector<std::string> kept;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (i < 3 || !equalsIgnoreCase(args[i], option)) kept.emplace_back(args[i]);
  }
  return kept;
}

// The shared body of SET, SETNX, SETEX and PSETEX (Redis's setGenericCommand).
// SETNX answers :1/:0 where the others answer +OK/null.
void setGeneric(CommandContext& ctx, const StringOptions& o, std::string_view key,
                std::string_view value, bool integerReplies = false) {
  long long expireAt = kNoExpiry;
  if (o.flags & kAnyExpire) {
    auto ms = optionExpireMillis(ctx, o);
    if (!ms) return;
    expireAt = *ms;
  }
  Store::Entry* existing = lookupWrite(ctx, key);
  if (o.flags & kGet) {
    if (existing && typeOf(Store::kind(existing)) != Type::String) return ctx.reply.error(kWrongType);
    replyValue(ctx, existing);
  }
  if (((o.flags & kNx) && existing) || ((o.flags & kXx) && !existing)) {
    ctx.changedNothing();
    if (!(o.flags & kGet)) integerReplies ? ctx.reply.integer(0) : ctx.reply.null();
    return;
  }
  if ((o.flags & kKeepTtl) && existing) expireAt = Store::expireAt(existing);
  ctx.store.set(key, value, expireAt);
  if (o.flags & kAnyExpire) {
    // Redis 7.0 propagates SET key value PXAT <ms> for any TTL given.
    ctx.propagateAs({"SET", std::string(key), std::string(value), "PXAT", std::to_string(expireAt)});
  } else if (o.flags & kGet) {
    ctx.propagateAs(argumentsWithout(ctx.args, "GET"));
  }
  if (o.flags & kGet) return;
  integerReplies ? ctx.reply.integer(1) : ctx.reply.ok();
}

std::optional<long long> integerValue(CommandContext& ctx, const Store::Entry* e) {
  if (e == nullptr) return 0;
  auto v = parseInteger(Store::value(e));
  if (!v) ctx.reply.error(kNotInteger);
  return v;
}

void incrementBy(CommandContext& ctx, long long increment) {
  auto found = writeAs(ctx, ctx.args[1], Type::String);
  if (!found) return;
  Store::Entry* e = *found;
  auto current = integerValue(ctx, e);
  if (!current) return;
  long long result;
  if (__builtin_add_overflow(*current, increment, &result)) {
    ctx.reply.error(kOverflow);
    return;
  }
  storeValue(ctx, e, ctx.args[1], formatInteger(result));
  ctx.reply.integer(result);
}

}  // namespace

void get(CommandContext& ctx) {
  if (auto e = readAs(ctx, ctx.args[1], Type::String)) replyValue(ctx, *e);
}

void set(CommandContext& ctx) {
  auto o = parseStringOptions(ctx, 3, true);
  if (o) setGeneric(ctx, *o, ctx.args[1], ctx.args[2]);
}

void setnx(CommandContext& ctx) { setGeneric(ctx, {kNx, {}}, ctx.args[1], ctx.args[2], true); }

void setex(CommandContext& ctx) {
  setGeneric(ctx, {kEx, ctx.args[2]}, ctx.args[1], ctx.args[3]);
}

void psetex(CommandContext& ctx) {
  setGeneric(ctx, {kPx, ctx.args[2]}, ctx.args[1], ctx.args[3]);
}

void getset(CommandContext& ctx) {
  auto e = readAs(ctx, ctx.args[1], Type::String);
  if (!e) return;
  replyValue(ctx, *e);
  ctx.store.set(ctx.args[1], ctx.args[2], kNoExpiry);
  ctx.propagateAs({"SET", std::string(ctx.args[1]), std::string(ctx.args[2])});
}

void getdel(CommandContext& ctx) {
  auto e = readAs(ctx, ctx.args[1], Type::String);
  if (!e) return;
  replyValue(ctx, *e);
  if (*e == nullptr) return ctx.changedNothing();
  ctx.store.erase(ctx.args[1]);
  ctx.propagateAs({"DEL", std::string(ctx.args[1])});
}

void getex(CommandContext& ctx) {
  auto o = parseStringOptions(ctx, 2, false);
  if (!o) return;
  auto found = readAs(ctx, ctx.args[1], Type::String);
  if (!found) return;
  Store::Entry* e = *found;
  if (e == nullptr) {
    ctx.changedNothing();
    return ctx.reply.null();
  }
  long long expireAt = kNoExpiry;
  if (o->flags & kAnyExpire) {
    auto ms = optionExpireMillis(ctx, *o);
    if (!ms) return;
    expireAt = *ms;
  }
  replyValue(ctx, e);
  // Never propagated as called: as DEL, PEXPIREAT or PERSIST, or not at all.
  const std::string key(ctx.args[1]);
  if ((o->flags & (kExAt | kPxAt)) && expireAt <= ctx.nowMs) {
    ctx.store.erase(key);
    ctx.propagateAs({"DEL", key});
  } else if (o->flags & kAnyExpire) {
    ctx.store.setExpire(e, expireAt);
    ctx.propagateAs({"PEXPIREAT", key, std::to_string(expireAt)});
  } else if ((o->flags & kPersist) && Store::expireAt(e) != kNoExpiry) {
    ctx.store.setExpire(e, kNoExpiry);
    ctx.propagateAs({"PERSIST", key});
  } else {
    ctx.changedNothing();
  }
}

void mget(CommandContext& ctx) {
  ctx.reply.array(ctx.args.size() - 1);
  // A key of another type reads as missing, as in Redis.
  for (std::size_t i = 1; i < ctx.args.size(); ++i) {
    const Store::Entry* e = lookupRead(ctx, ctx.args[i]);
    replyValue(ctx, e && typeOf(Store::kind(e)) == Type::String ? e : nullptr);
  }
}

namespace {
bool pairsOrArityError(CommandContext& ctx) {
  if (ctx.args.size() % 2 == 0) {
    ctx.reply.error("ERR wrong number of arguments for '" + toLower(ctx.args[0]) + "' command");
    return false;
  }
  return true;
}
void setPairs(CommandContext& ctx) {
  for (std::size_t i = 1; i + 1 < ctx.args.size(); i += 2) {
    ctx.store.set(ctx.args[i], ctx.args[i + 1], kNoExpiry);
  }
}
}  // namespace

void mset(CommandContext& ctx) {
  if (!pairsOrArityError(ctx)) return;
  setPairs(ctx);
  ctx.reply.ok();
}

void msetnx(CommandContext& ctx) {
  if (!pairsOrArityError(ctx)) return;
  for (std::size_t i = 1; i < ctx.args.size(); i += 2) {
    if (lookupWrite(ctx, ctx.args[i])) return ctx.reply.integer(0);
  }
  setPairs(ctx);
  ctx.reply.integer(1);
}

void append(CommandContext& ctx) {
  auto found = writeAs(ctx, ctx.args[1], Type::String);
  if (!found) return;
  Store::Entry* e = *found;
  const std::string_view tail = ctx.args[2];
  if (e == nullptr) {
    ctx.store.set(ctx.args[1], tail, kNoExpiry);
    return ctx.reply.integer(static_cast<long long>(tail.size()));
  }
  const std::size_t oldLength = Store::value(e).size();
  if (!lengthAllowed(ctx, static_cast<long long>(oldLength), static_cast<long long>(tail.size()))) return;
  e = ctx.store.resizeValue(e, oldLength + tail.size());
  Store::setKind(e, Kind::StringRaw);
  std::copy(tail.begin(), tail.end(), Store::mutableValue(e) + oldLength);
  ctx.reply.integer(static_cast<long long>(oldLength + tail.size()));
}

void strlen(CommandContext& ctx) {
  auto e = readAs(ctx, ctx.args[1], Type::String);
  if (e) ctx.reply.integer(*e ? static_cast<long long>(Store::value(*e).size()) : 0);
}

void setrange(CommandContext& ctx) {
  auto offset = parseInteger(ctx.args[2]);
  if (!offset) return ctx.reply.error(kNotInteger);
  if (*offset < 0) return ctx.reply.error("ERR offset is out of range");
  const std::string_view patch = ctx.args[3];
  auto found = writeAs(ctx, ctx.args[1], Type::String);
  if (!found) return;
  Store::Entry* e = *found;
  const long long oldLength = e ? static_cast<long long>(Store::value(e).size()) : 0;
  if (patch.empty()) return ctx.reply.integer(oldLength);
  if (!lengthAllowed(ctx, *offset, static_cast<long long>(patch.size()))) return;
  if (e == nullptr) e = ctx.store.set(ctx.args[1], {}, kNoExpiry);
  const std::size_t end = static_cast<std::size_t>(*offset) + patch.size();
  if (end > Store::value(e).size()) e = ctx.store.resizeValue(e, end);
  Store::setKind(e, Kind::StringRaw);
  std::copy(patch.begin(), patch.end(), Store::mutableValue(e) + *offset);
  ctx.reply.integer(static_cast<long long>(Store::value(e).size()));
}

void getrange(CommandContext& ctx) {
  auto start = parseInteger(ctx.args[2]);
  if (!start) return ctx.reply.error(kNotInteger);
  auto end = parseInteger(ctx.args[3]);
  if (!end) return ctx.reply.error(kNotInteger);
  auto found = readAs(ctx, ctx.args[1], Type::String);
  if (!found) return;
  Store::Entry* e = *found;
  if (e == nullptr) return ctx.reply.bulk({});
  const std::string_view v = Store::value(e);
  const long long length = static_cast<long long>(v.size());
  long long s = *start, t = *end;
  if (s < 0 && t < 0 && s > t) return ctx.reply.bulk({});
  if (s < 0) s = length + s;
  if (t < 0) t = length + t;
  if (s < 0) s = 0;
  if (t < 0) t = 0;
  if (t >= length) t = length - 1;
  if (s > t || length == 0) return ctx.reply.bulk({});
  ctx.reply.bulk(v.substr(static_cast<std::size_t>(s), static_cast<std::size_t>(t - s + 1)));
}

void incr(CommandContext& ctx) { incrementBy(ctx, 1); }
void decr(CommandContext& ctx) { incrementBy(ctx, -1); }

void incrby(CommandContext& ctx) {
  auto by = parseInteger(ctx.args[2]);
  if (!by) return ctx.reply.error(kNotInteger);
  incrementBy(ctx, *by);
}

void decrby(CommandContext& ctx) {
  auto by = parseInteger(ctx.args[2]);
  if (!by) return ctx.reply.error(kNotInteger);
  if (*by == LLONG_MIN) return ctx.reply.error("ERR decrement would overflow");
  incrementBy(ctx, -*by);
}

void incrbyfloat(CommandContext& ctx) {
  auto found = writeAs(ctx, ctx.args[1], Type::String);
  if (!found) return;
  Store::Entry* e = *found;
  std::optional<long double> current = e ? parseLongDouble(Store::value(e)) : 0.0L;
  if (!current) return ctx.reply.error(kNotFloat);
  auto by = parseLongDouble(ctx.args[2]);
  if (!by) return ctx.reply.error(kNotFloat);
  const long double result = *current + *by;
  if (std::isnan(result) || std::isinf(result)) {
    return ctx.reply.error("ERR increment would produce NaN or Infinity");
  }
  const std::string text = formatLongDouble(result);
  storeValue(ctx, e, ctx.args[1], text, Kind::StringText);  // embstr, as Redis makes it
  // A float's sum may differ by platform: the result propagates, not the increment.
  ctx.propagateAs({"SET", std::string(ctx.args[1]), text, "KEEPTTL"});
  ctx.reply.bulk(text);
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

namespace {

using namespace commands;

// SET reads its key only with GET (Redis's setGetKeys).
std::string_view setKeyFlags(std::span<const std::string_view> args) {
  for (std::size_t i = 3; i < args.size(); ++i) {
    if (equalsIgnoreCase(args[i], "get")) return "RW access update";
  }
  return "OW update";
}

}  // namespace

std::span<const CommandSpec> stringCommands() {
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "append", .arity = 3, .flags = kWrite | kFast, .acl = acl::kString,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW insert", .handler = append, .events = {.type = '$', .event = "append"}},
      {.name = "decr", .arity = 2, .flags = kWrite | kFast, .acl = acl::kString,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW access update", .handler = decr, .events = {.type = '$', .event = "incrby"}},
      {.name = "decrby", .arity = 3, .flags = kWrite | kFast, .acl = acl::kString,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW access update", .handler = decrby, .events = {.type = '$', .event = "incrby"}},
      {.name = "get", .arity = 2, .flags = kReadonly | kFast, .acl = acl::kString,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = get},
      {.name = "getdel", .arity = 2, .flags = kWrite | kFast | kNeverGrows, .acl = acl::kString,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW access delete", .handler = getdel, .events = {.type = 'g', .event = "del"}},
      {.name = "getex", .arity = -2, .flags = kWrite | kFast | kNeverGrows, .acl = acl::kString,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW access update", .handler = getex, .events = {.type = 'g', .event = "expire", .rule = KeyEventSpec::TtlChange}},
      {.name = "getrange", .arity = 4, .flags = kReadonly, .acl = acl::kString,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = getrange},
      {.name = "getset", .arity = 3, .flags = kWrite | kFast, .acl = acl::kString,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW access update", .handler = getset, .events = {.type = '$', .event = "set"}},
      {.name = "incr", .arity = 2, .flags = kWrite | kFast, .acl = acl::kString,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW access update", .handler = incr, .events = {.type = '$', .event = "incrby"}},
      {.name = "incrby", .arity = 3, .flags = kWrite | kFast, .acl = acl::kString,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW access update", .handler = incrby, .events = {.type = '$', .event = "incrby"}},
      {.name = "incrbyfloat", .arity = 3, .flags = kWrite | kFast, .acl = acl::kString,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW access update", .handler = incrbyfloat, .events = {.type = '$', .event = "incrbyfloat"}},
      {.name = "mget", .arity = -2, .flags = kReadonly | kFast, .acl = acl::kString,
       .keys = {1, -1, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RO access", .handler = mget},
      {.name = "mset", .arity = -3, .flags = kWrite, .acl = acl::kString,
       .keys = {1, -1, 2}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "OW update", .handler = mset, .events = {.type = '$', .event = "set"}},
      {.name = "msetnx", .arity = -3, .flags = kWrite | kNoneIsNoChange, .acl = acl::kString,
       .keys = {1, -1, 2}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "OW insert", .handler = msetnx, .events = {.type = '$', .event = "set"}},
      {.name = "psetex", .arity = 4, .flags = kWrite, .acl = acl::kString,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "OW update", .handler = psetex, .events = {.type = '$', .event = "set", .rule = KeyEventSpec::SetWithTtl}},
      {.name = "set", .arity = -3, .flags = kWrite | kNoneIsNoChange, .acl = acl::kString,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW access update variable_flags", .handler = set, .variableKeyFlags = setKeyFlags, .events = {.type = '$', .event = "set", .rule = KeyEventSpec::SetWithTtl}},
      {.name = "setex", .arity = 4, .flags = kWrite, .acl = acl::kString,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "OW update", .handler = setex, .events = {.type = '$', .event = "set", .rule = KeyEventSpec::SetWithTtl}},
      {.name = "setnx", .arity = 3, .flags = kWrite | kFast | kNoneIsNoChange, .acl = acl::kString,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "OW insert", .handler = setnx, .events = {.type = '$', .event = "set"}},
      {.name = "setrange", .arity = 4, .flags = kWrite, .acl = acl::kString,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW update", .handler = setrange, .events = {.type = '$', .event = "setrange"}},
      {.name = "strlen", .arity = 2, .flags = kReadonly | kFast, .acl = acl::kString,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO", .handler = strlen},
      {.name = "substr", .arity = 4, .flags = kReadonly, .acl = acl::kString,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = getrange},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
