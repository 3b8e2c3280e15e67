// Sorted-set commands: ZADD and its flags, scores and ranks, the range
// family (by rank, score or lex, forwards or reversed, with LIMIT, and
// its STORE form, in zset_ranges.cpp), removals by range, pops (and their
// blocking forms: a null reply means "nothing there", see blocking.h) and
// random members; the algebra is in zset_algebra.cpp.
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <unordered_map>

#include "worker/commands/commands.h"
#include "worker/execution/command_families.h"
#include "worker/commands/zset_ranges.h"

namespace keyloop::commands {

namespace {

constexpr std::string_view kNan = "ERR resulting score is not a number (NaN)";

// ---- ZADD ----

enum AddFlag : unsigned { kNx = 1, kXx = 2, kGt = 4, kLt = 8, kIncr = 16 };

struct AddOutcome {
  bool added = false, updated = false, nop = false, nan = false;
  double score = 0;
};

AddOutcome addOne(CommandContext& ctx, Store::Entry*& e, std::string_view member, double score, unsigned flags) {
  AddOutcome out;
  const std::optional<double> current = zset::scoreOf(e, member);
  if (current) {
    if (flags & kNx) return out.nop = true, out;
    if (flags & kIncr) {
      score += *current;
      if (std::isnan(score)) return out.nan = true, out;
    }
    if (((flags & kLt) && score >= *current) || ((flags & kGt) && score <= *current)) return out.nop = true, out;
    out.score = score;
    if (score != *current) {
      zset::put(ctx.store, e, member, score, zsetLimits(ctx));
      out.updated = true;
    }
    return out;
  }
  if (flags & kXx) return out.nop = true, out;
  zset::put(ctx.store, e, member, score, zsetLimits(ctx));
  out.added = true;
  out.score = score;
  return out;
}

void addGeneric(CommandContext& ctx, unsigned flags) {
  const auto& a = ctx.args;
  bool ch = false;
  std::size_t at = 2;
  for (; at < a.size(); ++at) {
    if (equalsIgnoreCase(a[at], "nx")) flags |= kNx;
    else if (equalsIgnoreCase(a[at], "xx")) flags |= kXx;
    else if (equalsIgnoreCase(a[at], "ch")) ch = true;
    else if (equalsIgnoreCase(a[at], "incr")) flags |= kIncr;
    else if (equalsIgnoreCase(a[at], "gt")) flags |= kGt;
    else if (equalsIgnoreCase(a[at], "lt")) flags |= kLt;
    else break;
  }
  const std::size_t rest = a.size() - at;
  if (rest % 2 != 0 || rest == 0) return ctx.reply.error(kSyntaxError);
  const std::size_t pairs = rest / 2;
  if ((flags & kNx) && (flags & kXx)) return ctx.reply.error("ERR XX and NX options at the same time are not compatible");
  if (((flags & kGt) && (flags & kNx)) || ((flags & kLt) && (flags & kNx)) || ((flags & kGt) && (flags & kLt))) {
    return ctx.reply.error("ERR GT, LT, and/or NX options at the same time are not compatible");
  }
  if ((flags & kIncr) && pairs > 1) return ctx.reply.error("ERR INCR option supports a single increment-element pair");
  std::vector<double> scores;
  for (std::size_t j = 0; j < pairs; ++j) {
    const auto s = parseDouble(a[at + 2 * j]);
    if (!s) return ctx.reply.error(kNotFloat);
    scores.push_back(*s);
  }
  auto e = writeAs(ctx, a[1], Type::Zset);
  if (!e) return;
  long long added = 0, updated = 0, processed = 0;
  double last = 0;
  if (*e == nullptr && !(flags & kXx)) {
    *e = zset::create(ctx.store, a[1], 0, a[at + 1].size(), zsetLimits(ctx));
  }
  if (*e != nullptr) {
    for (std::size_t j = 0; j < pairs; ++j) {
      const AddOutcome out = addOne(ctx, *e, a[at + 2 * j + 1], scores[j], flags);
      if (out.nan) return ctx.reply.error(kNan);
      added += out.added;
      updated += out.updated;
      if (!out.nop) ++processed, last = out.score;
    }
  }
  if (flags & kIncr) return processed ? ctx.reply.doubleValue(last) : ctx.reply.null();
  ctx.reply.integer(ch ? added + updated : added);
}

// ---- pops ----

enum class Side { Min, Max };

// Pops up to `count` from the sorted set at `key`; `e` non-null.
std::vector<Scored> popFrom(CommandContext& ctx, Store::Entry*& e, std::string_view key, Side side, std::size_t count) {
  const std::size_t n = std::min(count, zset::size(e));
  std::vector<Scored> out;
  if (n == 0) return out;
  const std::size_t size = zset::size(e);
  zset::walk(e, side == Side::Min ? 0 : size - n, side == Side::Min ? n - 1 : size - 1, side == Side::Max,
             [&](std::size_t, std::string_view m, double s) { return out.push_back({std::string(m), s}), true; });
  for (const Scored& item : out) zset::erase(ctx.store, e, item.member);
  if (zset::size(e) == 0) ctx.store.erase(key);
  return out;
}

void popCommand(CommandContext& ctx, Side side) {
  if (ctx.args.size() > 3) return ctx.reply.error(kSyntaxError);
  long long count = -1;
  if (ctx.args.size() == 3) {
    const auto c = positiveOrReply(ctx, ctx.args[2]);
    if (!c) return;
    count = *c;
  }
  auto e = writeAs(ctx, ctx.args[1], Type::Zset);
  if (!e) return;
  if (*e == nullptr || count == 0) {
    ctx.changedNothing();
    return ctx.reply.array(0);
  }
  const bool nested = ctx.reply.protocol() == resp::Protocol::Resp3 && count != -1;
  const auto items = popFrom(ctx, *e, ctx.args[1], side, count == -1 ? 1 : static_cast<std::size_t>(count));
  ctx.reply.array(nested ? items.size() : items.size() * 2);
  for (const Scored& item : items) {
    if (nested) ctx.reply.array(2);
    ctx.reply.bulk(item.member);
    ctx.reply.doubleValue(item.score);
  }
}

void blockingPop(CommandContext& ctx, Side side) {
  if (!timeoutOrReply(ctx, ctx.args.back())) return;
  auto found = firstExisting(ctx, 1, ctx.args.size() - 1, Type::Zset);
  if (!found) return;
  if (found->second == nullptr) {
    ctx.changedNothing();
    return ctx.reply.nullArray();
  }
  // Served, it propagates as the pop it made (Redis 7.0: ZPOPMIN key).
  ctx.propagateAs({side == Side::Min ? "ZPOPMIN" : "ZPOPMAX", std::string(found->first)});
  const auto items = popFrom(ctx, found->second, found->first, side, 1);
  ctx.reply.array(3);
  ctx.reply.bulk(found->first);
  ctx.reply.bulk(items.front().member);
  ctx.reply.doubleValue(items.front().score);
}

// ZMPOP / BZMPOP: numkeys at args[at], the keys, MIN|MAX, [COUNT n].
// LMPOP/ZMPOP at `at` = 1; the blocking forms at 2, their timeout read
// after everything else, as Redis reads it.
void mpop(CommandContext& ctx, std::size_t at) {
  const auto numkeys = parseInteger(ctx.args[at]);
  if (!numkeys || *numkeys < 1) return ctx.reply.error("ERR numkeys should be greater than 0");
  if (*numkeys >= static_cast<long long>(ctx.args.size())) return ctx.reply.error(kSyntaxError);
  const std::size_t whereAt = at + static_cast<std::size_t>(*numkeys) + 1;
  if (whereAt >= ctx.args.size()) return ctx.reply.error(kSyntaxError);
  Side side;
  if (equalsIgnoreCase(ctx.args[whereAt], "min")) side = Side::Min;
  else if (equalsIgnoreCase(ctx.args[whereAt], "max")) side = Side::Max;
  else return ctx.reply.error(kSyntaxError);
  const auto count = mpopCountOrReply(ctx, whereAt + 1);
  if (!count) return;
  if (at == 2 && !timeoutOrReply(ctx, ctx.args[1])) return;
  auto found = firstExisting(ctx, at + 1, whereAt, Type::Zset);
  if (!found) return;
  if (found->second == nullptr) {
    ctx.changedNothing();
    return ctx.reply.nullArray();
  }
  const std::string key(found->first);
  const auto items = popFrom(ctx, found->second, key, side, static_cast<std::size_t>(*count));
  ctx.propagateAs({side == Side::Min ? "ZPOPMIN" : "ZPOPMAX", key, std::to_string(items.size())});
  ctx.reply.array(2);
  ctx.reply.bulk(key);
  ctx.reply.array(items.size());
  for (const Scored& item : items) {
    ctx.reply.array(2);
    ctx.reply.bulk(item.member);
    ctx.reply.doubleValue(item.score);
  }
}

}  // namespace

std::size_t storeScored(CommandContext& ctx, std::string_view key, const std::vector<Scored>& items) {
  ctx.store.erase(key);
  if (items.empty()) return 0;
  std::size_t longest = 0;
  for (const Scored& item : items) longest = std::max(longest, item.member.size());
  Store::Entry* e = zset::create(ctx.store, key, items.size(), longest, zsetLimits(ctx));
  for (const Scored& item : items) zset::put(ctx.store, e, item.member, item.score, zsetLimits(ctx));
  return items.size();
}

void zadd(CommandContext& ctx) { addGeneric(ctx, 0); }
void zincrby(CommandContext& ctx) { addGeneric(ctx, kIncr); }

void zrem(CommandContext& ctx) {
  auto e = writeAs(ctx, ctx.args[1], Type::Zset);
  if (!e) return;
  if (*e == nullptr) return ctx.reply.integer(0);
  long long deleted = 0;
  for (std::size_t j = 2; j < ctx.args.size(); ++j) {
    deleted += zset::erase(ctx.store, *e, ctx.args[j]);
    if (zset::size(*e) == 0) {
      ctx.store.erase(ctx.args[1]);
      break;
    }
  }
  ctx.reply.integer(deleted);
}

void zcard(CommandContext& ctx) {
  auto e = readAs(ctx, ctx.args[1], Type::Zset);
  if (e) ctx.reply.integer(*e ? static_cast<long long>(zset::size(*e)) : 0);
}

void zscore(CommandContext& ctx) {
  auto e = readAs(ctx, ctx.args[1], Type::Zset);
  if (!e) return;
  const auto s = *e ? zset::scoreOf(*e, ctx.args[2]) : std::nullopt;
  s ? ctx.reply.doubleValue(*s) : ctx.reply.null();
}

void zmscore(CommandContext& ctx) {
  auto e = readAs(ctx, ctx.args[1], Type::Zset);
  if (!e) return;
  ctx.reply.array(ctx.args.size() - 2);
  for (std::size_t j = 2; j < ctx.args.size(); ++j) {
    const auto s = *e ? zset::scoreOf(*e, ctx.args[j]) : std::nullopt;
    s ? ctx.reply.doubleValue(*s) : ctx.reply.null();
  }
}

void rankCommand(CommandContext& ctx, bool reverse) {
  auto e = readAs(ctx, ctx.args[1], Type::Zset);
  if (!e) return;
  const auto rank = *e ? zset::rankOf(*e, ctx.args[2]) : std::nullopt;
  if (!rank) return ctx.reply.null();
  ctx.reply.integer(static_cast<long long>(reverse ? zset::size(*e) - 1 - *rank : *rank));
}
void zrank(CommandContext& ctx) { rankCommand(ctx, false); }
void zrevrank(CommandContext& ctx) { rankCommand(ctx, true); }

void zpopmin(CommandContext& ctx) { popCommand(ctx, Side::Min); }
void zpopmax(CommandContext& ctx) { popCommand(ctx, Side::Max); }
void bzpopmin(CommandContext& ctx) { blockingPop(ctx, Side::Min); }
void bzpopmax(CommandContext& ctx) { blockingPop(ctx, Side::Max); }
void zmpop(CommandContext& ctx) { mpop(ctx, 1); }
void bzmpop(CommandContext& ctx) {
  mpop(ctx, 2);
}

void zrandmember(CommandContext& ctx) {
  const auto& a = ctx.args;
  if (a.size() < 3) {
    auto e = readAs(ctx, a[1], Type::Zset);
    if (!e) return;
    if (*e == nullptr) return ctx.reply.null();
    return ctx.reply.bulk(zset::random(*e, collection::draw).first);
  }
  const auto count = randomCountOrReply(ctx, a[2]);
  if (!count) return;
  bool withScores = false;
  if (a.size() > 4 || (a.size() == 4 && !equalsIgnoreCase(a[3], "withscores"))) return ctx.reply.error(kSyntaxError);
  if (a.size() == 4) {
    withScores = true;
    if (*count < -LLONG_MAX / 2 || *count > LLONG_MAX / 2) return ctx.reply.error("ERR value is out of range");
  }
  auto e = readAs(ctx, a[1], Type::Zset);
  if (!e) return;
  if (*e == nullptr || *count == 0) return ctx.reply.array(0);
  const std::size_t size = zset::size(*e);
  std::vector<Scored> picked;
  if (*count < 0 || *count == 1) {  // repeats allowed: produced as they are drawn
    const auto n = static_cast<std::size_t>(*count < 0 ? -*count : *count);
    replyScoredHeader(ctx, n, withScores);
    for (std::size_t i = 0; i < n && !replyOverLimit(ctx); ++i) {
      auto [m, s] = zset::random(*e, collection::draw);
      replyScoredItem(ctx, {std::move(m), s}, withScores);
    }
    return;
  } else if (static_cast<std::size_t>(*count) >= size) {
    zset::forEach(*e, [&](std::string_view m, double s) { picked.push_back({std::string(m), s}); });
  } else {
    // Distinct picks: positions chosen by a partial shuffle of the ranks.
    std::vector<std::size_t> ranks(size);
    for (std::size_t i = 0; i < size; ++i) ranks[i] = i;
    const auto wanted = static_cast<std::size_t>(*count);
    for (std::size_t i = 0; i < wanted; ++i) std::swap(ranks[i], ranks[i + collection::draw() % (size - i)]);
    ranks.resize(wanted);
    std::sort(ranks.begin(), ranks.end());
    std::size_t next = 0;
    zset::walk(*e, 0, size - 1, false, [&](std::size_t rank, std::string_view m, double s) {
      if (rank == ranks[next]) picked.push_back({std::string(m), s}), ++next;
      return next < ranks.size();
    });
    for (std::size_t i = picked.size(); i > 1; --i) std::swap(picked[i - 1], picked[collection::draw() % i]);
  }
  replyScored(ctx, picked, withScores);
}

void zscan(CommandContext& ctx) {
  const auto cursor = parseScanCursor(ctx.args[2]);
  if (!cursor) return ctx.reply.error("ERR invalid cursor");
  auto e = readAs(ctx, ctx.args[1], Type::Zset);
  if (!e) return;
  // As Redis: a missing key is an empty scan before the options are read.
  const auto options = *e != nullptr ? parseScanOptions(ctx, 3, false) : ScanOptions{};
  if (!options) return;
  std::vector<std::string> found;
  std::uint64_t next = 0;
  if (*e != nullptr) {
    next = zset::scan(*e, *cursor, options->count, [&](std::string_view m, double s) {
      if (!globMatch(options->pattern, m)) return;
      found.emplace_back(m);
      found.push_back(scoreText(s));
    });
  }
  ctx.reply.array(2);
  ctx.reply.bulk(std::to_string(next));
  ctx.reply.array(found.size());
  for (const std::string& f : found) ctx.reply.bulk(f);
}

std::string scoreText(double s) {
  if (std::isinf(s)) return s > 0 ? "inf" : "-inf";
  char digits[32];
  const int n = std::snprintf(digits, sizeof digits, "%.17g", s);
  return std::string(digits, static_cast<std::size_t>(n));
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

namespace {

using namespace commands;

constexpr auto kZset = static_cast<std::uint8_t>(Type::Zset);
constexpr BlockingSpec kZsetWait{{1, -2, 1}, kZset, -1};              // BZPOPMIN key... timeout
constexpr BlockingSpec kZsetNumkeysWait{{.numkeysAt = 2}, kZset, 1};  // BZMPOP timeout numkeys key...

std::string_view zmpopEvent(std::span<const std::string_view> a, std::size_t, std::size_t) {
  return equalsIgnoreCase(directionAfterKeys(a, 1), "min") ? "zpopmin" : "zpopmax";
}
std::string_view bzmpopEvent(std::span<const std::string_view> a, std::size_t, std::size_t) {
  return equalsIgnoreCase(directionAfterKeys(a, 2), "min") ? "zpopmin" : "zpopmax";
}
std::string_view zaddEvent(std::span<const std::string_view> a, std::size_t, std::size_t) {
  for (std::size_t i = 2; i < a.size(); ++i) {
    if (equalsIgnoreCase(a[i], "incr")) return "zincr";
  }
  return "zadd";
}

}  // namespace

std::span<const CommandSpec> zsetCommands() {
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "bzmpop", .arity = -5, .flags = kWrite | kNeverGrows, .acl = acl::kSortedSet | acl::kBlocking,
       .keys = {.numkeysAt = 2}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW access delete", .handler = bzmpop, .blocking = &kZsetNumkeysWait, .events = {.type = 'z', .eventOf = bzmpopEvent}},
      {.name = "bzpopmax", .arity = -3, .flags = kWrite | kFast | kNoScript | kNeverGrows, .acl = acl::kSortedSet | acl::kBlocking,
       .keys = {1, -2, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW access delete", .handler = bzpopmax, .blocking = &kZsetWait, .events = {.type = 'z', .event = "zpopmax"}},
      {.name = "bzpopmin", .arity = -3, .flags = kWrite | kFast | kNoScript | kNeverGrows, .acl = acl::kSortedSet | acl::kBlocking,
       .keys = {1, -2, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW access delete", .handler = bzpopmin, .blocking = &kZsetWait, .events = {.type = 'z', .event = "zpopmin"}},
      {.name = "zadd", .arity = -4, .flags = kWrite | kFast, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW update", .handler = zadd, .events = {.type = 'z', .eventOf = zaddEvent}},
      {.name = "zcard", .arity = 2, .flags = kReadonly | kFast, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO", .handler = zcard},
      {.name = "zincrby", .arity = 4, .flags = kWrite | kFast, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW access update", .handler = zincrby, .events = {.type = 'z', .event = "zincr"}},
      {.name = "zmpop", .arity = -4, .flags = kWrite | kNeverGrows, .acl = acl::kSortedSet,
       .keys = {.numkeysAt = 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW access delete", .handler = zmpop, .events = {.type = 'z', .eventOf = zmpopEvent}},
      {.name = "zmscore", .arity = -3, .flags = kReadonly | kFast, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = zmscore},
      {.name = "zpopmax", .arity = -2, .flags = kWrite | kFast | kNeverGrows, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW access delete", .handler = zpopmax, .events = {.type = 'z', .event = "zpopmax"}},
      {.name = "zpopmin", .arity = -2, .flags = kWrite | kFast | kNeverGrows, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW access delete", .handler = zpopmin, .events = {.type = 'z', .event = "zpopmin"}},
      {.name = "zrandmember", .arity = -2, .flags = kReadonly, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = zrandmember},
      {.name = "zrank", .arity = 3, .flags = kReadonly | kFast, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = zrank},
      {.name = "zrem", .arity = -3, .flags = kWrite | kFast | kNoneIsNoChange | kNeverGrows, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW delete", .handler = zrem, .events = {.type = 'z', .event = "zrem"}},
      {.name = "zrevrank", .arity = 3, .flags = kReadonly | kFast, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = zrevrank},
      {.name = "zscan", .arity = -3, .flags = kReadonly, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = zscan},
      {.name = "zscore", .arity = 3, .flags = kReadonly | kFast, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = zscore},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
