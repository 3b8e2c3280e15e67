// Sorted-set ranges: ZRANGE and its older forms, ZRANGESTORE, ZCOUNT,
// ZLEXCOUNT and ZREMRANGEBY*, all as "which ranks does the range cover"
// (zset.h's prefixCount) followed by a walk over those ranks.
#include "worker/commands/zset_ranges.h"
#include "worker/execution/command_families.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace keyloop::commands {

namespace {

// strtod as zslParseRange uses it: leading spaces allowed, nothing after.
std::optional<double> rangeNumber(std::string_view text) {
  const std::string buf(text);
  char* end = nullptr;
  const double v = std::strtod(buf.c_str(), &end);
  if (*end != '\0' || std::isnan(v)) return std::nullopt;
  return v;
}

std::optional<LexBound> lexBound(std::string_view item) {
  if (item.empty()) return std::nullopt;
  switch (item[0]) {
    case '+':
    case '-':
      if (item.size() != 1) return std::nullopt;
      return LexBound{"", true, item[0] == '+' ? 1 : -1};
    case '(':
    case '[':
      return LexBound{std::string(item.substr(1)), item[0] == '(', 0};
    default:
      return std::nullopt;
  }
}

int compare(std::string_view member, const LexBound& bound) {
  if (bound.infinity != 0) return -bound.infinity;
  return member.compare(bound.value);
}

enum class RangeType { Auto, Rank, Score, Lex };
enum class Direction { Auto, Forward, Reverse };

struct RangeOptions {
  bool withScores = false;
  long long offset = 0, limit = -1;
};

// ZRANGE's by-rank indexes as Redis normalizes them; nullopt: empty.
std::optional<std::pair<std::size_t, std::size_t>> rankWindow(long long start, long long end, std::size_t size) {
  const auto n = static_cast<long long>(size);
  if (start < 0) start += n;
  if (end < 0) end += n;
  if (start < 0) start = 0;
  if (start > end || start >= n) return std::nullopt;
  if (end >= n) end = n - 1;
  return std::pair{static_cast<std::size_t>(start), static_cast<std::size_t>(end)};
}

// The tuples of ranks [first, end), forwards or from the top, after LIMIT.
std::vector<Scored> collect(const Store::Entry* e, Ranks ranks, bool reverse, long long offset, long long limit) {
  std::vector<Scored> out;
  if (ranks.size() == 0 || offset < 0 || (offset > 0 && static_cast<std::size_t>(offset) >= ranks.size())) return out;
  const std::size_t skip = static_cast<std::size_t>(offset);
  const std::size_t available = ranks.size() - skip;
  const std::size_t take = limit < 0 ? available : std::min<std::size_t>(available, static_cast<std::size_t>(limit));
  if (take == 0) return out;
  out.reserve(take);
  const std::size_t from = reverse ? ranks.end - skip - take : ranks.first + skip;
  zset::walk(e, from, from + take - 1, reverse, [&](std::size_t, std::string_view m, double s) {
    return out.push_back({std::string(m), s}), true;
  });
  return out;
}

// Redis's zrangeGenericCommand: the key at args[at], min and max after it.
void rangeGeneric(CommandContext& ctx, std::size_t at, bool store, RangeType type, Direction direction) {
  const auto& a = ctx.args;
  RangeOptions o;
  for (std::size_t j = at + 3; j < a.size(); ++j) {
    const std::size_t left = a.size() - j - 1;
    if (!store && equalsIgnoreCase(a[j], "withscores")) {
      o.withScores = true;
    } else if (equalsIgnoreCase(a[j], "limit") && left >= 2) {
      const auto offset = parseInteger(a[j + 1]), limit = parseInteger(a[j + 2]);
      if (!offset || !limit) return ctx.reply.error(kNotInteger);
      o.offset = *offset;
      o.limit = *limit;
      j += 2;
    } else if (direction == Direction::Auto && equalsIgnoreCase(a[j], "rev")) {
      direction = Direction::Reverse;
    } else if (type == RangeType::Auto && equalsIgnoreCase(a[j], "bylex")) {
      type = RangeType::Lex;
    } else if (type == RangeType::Auto && equalsIgnoreCase(a[j], "byscore")) {
      type = RangeType::Score;
    } else {
      return ctx.reply.error(kSyntaxError);
    }
  }
  if (direction == Direction::Auto) direction = Direction::Forward;
  if (type == RangeType::Auto) type = RangeType::Rank;
  if (o.limit != -1 && type == RangeType::Rank) {
    return ctx.reply.error("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
  }
  if (o.withScores && type == RangeType::Lex) {
    return ctx.reply.error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
  }
  const bool reverse = direction == Direction::Reverse;
  std::string_view minArg = a[at + 1], maxArg = a[at + 2];
  if (reverse && type != RangeType::Rank) std::swap(minArg, maxArg);
  std::optional<std::pair<long long, long long>> rank;
  std::optional<ScoreRange> scores;
  std::optional<LexRange> lex;
  if (type == RangeType::Rank) {
    const auto start = parseInteger(minArg), end = parseInteger(maxArg);
    if (!start || !end) return ctx.reply.error(kNotInteger);
    rank = {*start, *end};
  } else if (type == RangeType::Score) {
    if (!(scores = parseScoreRange(minArg, maxArg))) return ctx.reply.error("ERR min or max is not a float");
  } else if (!(lex = parseLexRange(minArg, maxArg))) {
    return ctx.reply.error("ERR min or max not valid string range item");
  }
  auto e = readAs(ctx, a[at], Type::Zset);
  if (!e) return;
  std::vector<Scored> items;
  if (*e != nullptr) {
    if (rank) {
      const std::size_t size = zset::size(*e);
      if (const auto w = rankWindow(rank->first, rank->second, size)) {
        // Reversed ranks count from the top.
        const Ranks r = reverse ? Ranks{size - 1 - w->second, size - w->first} : Ranks{w->first, w->second + 1};
        items = collect(*e, r, reverse, 0, -1);
      }
    } else {
      items = collect(*e, scores ? ranksOf(*e, *scores) : ranksOf(*e, *lex, reverse), reverse, o.offset, o.limit);
    }
  }
  if (store) return ctx.reply.integer(static_cast<long long>(storeScored(ctx, a[1], items)));
  replyScored(ctx, items, o.withScores);
}

void removeRange(CommandContext& ctx, RangeType type) {
  const auto& a = ctx.args;
  std::optional<std::pair<long long, long long>> rank;
  std::optional<ScoreRange> scores;
  std::optional<LexRange> lex;
  if (type == RangeType::Rank) {
    const auto start = parseInteger(a[2]);
    if (!start) return ctx.reply.error(kNotInteger);
    const auto end = parseInteger(a[3]);
    if (!end) return ctx.reply.error(kNotInteger);
    rank = {*start, *end};
  } else if (type == RangeType::Score) {
    if (!(scores = parseScoreRange(a[2], a[3]))) return ctx.reply.error("ERR min or max is not a float");
  } else if (!(lex = parseLexRange(a[2], a[3]))) {
    return ctx.reply.error("ERR min or max not valid string range item");
  }
  auto e = writeAs(ctx, a[1], Type::Zset);
  if (!e) return;
  if (*e == nullptr) return ctx.reply.integer(0);
  Ranks r;
  if (rank) {
    const auto w = rankWindow(rank->first, rank->second, zset::size(*e));
    if (!w) return ctx.reply.integer(0);
    r = {w->first, w->second + 1};
  } else {
    r = scores ? ranksOf(*e, *scores) : ranksOf(*e, *lex, false);
  }
  const std::vector<Scored> doomed = collect(*e, r, false, 0, -1);
  for (const Scored& item : doomed) zset::erase(ctx.store, *e, item.member);
  if (zset::size(*e) == 0) ctx.store.erase(a[1]);
  ctx.reply.integer(static_cast<long long>(doomed.size()));
}

}  // namespace

void replyScoredHeader(CommandContext& ctx, std::size_t items, bool withScores) {
  const bool pairs = withScores && ctx.reply.protocol() == resp::Protocol::Resp3;
  ctx.reply.array(withScores && !pairs ? items * 2 : items);
}

void replyScoredItem(CommandContext& ctx, const Scored& item, bool withScores) {
  if (withScores && ctx.reply.protocol() == resp::Protocol::Resp3) ctx.reply.array(2);
  ctx.reply.bulk(item.member);
  if (withScores) ctx.reply.doubleValue(item.score);
}

void replyScored(CommandContext& ctx, const std::vector<Scored>& items, bool withScores) {
  replyScoredHeader(ctx, items.size(), withScores);
  for (const Scored& item : items) replyScoredItem(ctx, item, withScores);
}

std::optional<ScoreRange> parseScoreRange(std::string_view min, std::string_view max) {
  ScoreRange r{};
  auto side = [](std::string_view text, double& value, bool& exclusive) {
    exclusive = !text.empty() && text[0] == '(';
    const auto v = rangeNumber(exclusive ? text.substr(1) : text);
    if (v) value = *v;
    return v.has_value();
  };
  if (!side(min, r.min, r.minExclusive) || !side(max, r.max, r.maxExclusive)) return std::nullopt;
  return r;
}

std::optional<LexRange> parseLexRange(std::string_view min, std::string_view max) {
  auto lo = lexBound(min), hi = lexBound(max);
  if (!lo || !hi) return std::nullopt;
  return LexRange{std::move(*lo), std::move(*hi)};
}

Ranks ranksOf(const Store::Entry* e, const ScoreRange& range) {
  const std::size_t first = zset::prefixCount(e, [&](double s, std::string_view) {
    return range.minExclusive ? s <= range.min : s < range.min;
  });
  const std::size_t end = zset::prefixCount(e, [&](double s, std::string_view) {
    return range.maxExclusive ? s < range.max : s <= range.max;
  });
  return {first, std::max(first, end)};
}

// Redis finds a lex range by walking the order and comparing members, which
// means something only when all scores are equal; on mixed scores clients
// see what that walk gives, as redis-server's listpack (every small set)
// walks: nothing when the last member is below min or the first above max;
// else from the first member at or above min on while members stay at or
// below max (REV: from the last at or below max back while at or above
// min). A tree takes the same first and last checks and then two searches.
Ranks ranksOf(const Store::Entry* e, const LexRange& range, bool reverse) {
  auto atLeastMin = [&](std::string_view m) {
    const int c = compare(m, range.min);
    return range.min.exclusive ? c > 0 : c >= 0;
  };
  auto atMostMax = [&](std::string_view m) {
    const int c = compare(m, range.max);
    return range.max.exclusive ? c < 0 : c <= 0;
  };
  const std::size_t size = zset::size(e);
  if (size == 0 || range.min.infinity == 1 || range.max.infinity == -1) return {0, 0};
  if (range.min.infinity == 0 && range.max.infinity == 0) {
    const int c = range.min.value.compare(range.max.value);
    if (c > 0 || (c == 0 && (range.min.exclusive || range.max.exclusive))) return {0, 0};
  }
  std::string_view first, last;
  zset::walk(e, 0, 0, false, [&](std::size_t, std::string_view m, double) { return first = m, false; });
  zset::walk(e, size - 1, size - 1, false, [&](std::size_t, std::string_view m, double) { return last = m, false; });
  if (!atLeastMin(last) || !atMostMax(first)) return {0, 0};
  if (zset::isTree(e)) {
    const std::size_t from = zset::prefixCount(e, [&](double, std::string_view m) { return !atLeastMin(m); });
    const std::size_t end = zset::prefixCount(e, [&](double, std::string_view m) { return atMostMax(m); });
    return {from, std::max(from, end)};
  }
  Ranks found{0, 0};
  bool started = false;
  zset::walk(e, 0, size - 1, reverse, [&](std::size_t rank, std::string_view m, double) {
    if (!started) {
      if (!(reverse ? atMostMax(m) : atLeastMin(m))) return true;
      started = true;
      if (!(reverse ? atLeastMin(m) : atMostMax(m))) return false;
      found = {rank, rank + 1};
      return true;
    }
    if (!(reverse ? atLeastMin(m) : atMostMax(m))) return false;
    (reverse ? found.first : found.end) = reverse ? rank : rank + 1;
    return true;
  });
  return found;
}

void zrange(CommandContext& ctx) { rangeGeneric(ctx, 1, false, RangeType::Auto, Direction::Auto); }
void zrangestore(CommandContext& ctx) { rangeGeneric(ctx, 2, true, RangeType::Auto, Direction::Auto); }
void zrevrange(CommandContext& ctx) { rangeGeneric(ctx, 1, false, RangeType::Rank, Direction::Reverse); }
void zrangebyscore(CommandContext& ctx) { rangeGeneric(ctx, 1, false, RangeType::Score, Direction::Forward); }
void zrevrangebyscore(CommandContext& ctx) { rangeGeneric(ctx, 1, false, RangeType::Score, Direction::Reverse); }
void zrangebylex(CommandContext& ctx) { rangeGeneric(ctx, 1, false, RangeType::Lex, Direction::Forward); }
void zrevrangebylex(CommandContext& ctx) { rangeGeneric(ctx, 1, false, RangeType::Lex, Direction::Reverse); }
void zremrangebyrank(CommandContext& ctx) { removeRange(ctx, RangeType::Rank); }
void zremrangebyscore(CommandContext& ctx) { removeRange(ctx, RangeType::Score); }
void zremrangebylex(CommandContext& ctx) { removeRange(ctx, RangeType::Lex); }

void zcount(CommandContext& ctx) {
  const auto range = parseScoreRange(ctx.args[2], ctx.args[3]);
  if (!range) return ctx.reply.error("ERR min or max is not a float");
  auto e = readAs(ctx, ctx.args[1], Type::Zset);
  if (!e) return;
  ctx.reply.integer(*e ? static_cast<long long>(ranksOf(*e, *range).size()) : 0);
}

void zlexcount(CommandContext& ctx) {
  const auto range = parseLexRange(ctx.args[2], ctx.args[3]);
  if (!range) return ctx.reply.error("ERR min or max not valid string range item");
  auto e = readAs(ctx, ctx.args[1], Type::Zset);
  if (!e) return;
  ctx.reply.integer(*e ? static_cast<long long>(ranksOf(*e, *range, false).size()) : 0);
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> zsetRangeCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "zcount", .arity = 4, .flags = kReadonly | kFast, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = zcount},
      {.name = "zlexcount", .arity = 4, .flags = kReadonly | kFast, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = zlexcount},
      {.name = "zrange", .arity = -4, .flags = kReadonly, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = zrange},
      {.name = "zrangebylex", .arity = -4, .flags = kReadonly, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = zrangebylex},
      {.name = "zrangebyscore", .arity = -4, .flags = kReadonly, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = zrangebyscore},
      {.name = "zrangestore", .arity = -5, .flags = kWrite, .acl = acl::kSortedSet,
       .keys = {1, 2, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "OW update;RO access", .handler = zrangestore, .events = {.type = 'z', .event = "zrangestore", .rule = KeyEventSpec::EventOrDel, .firstKeyOnly = true}},
      {.name = "zremrangebylex", .arity = 4, .flags = kWrite | kNoneIsNoChange | kNeverGrows, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW delete", .handler = zremrangebylex, .events = {.type = 'z', .event = "zremrangebylex"}},
      {.name = "zremrangebyrank", .arity = 4, .flags = kWrite | kNoneIsNoChange | kNeverGrows, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW delete", .handler = zremrangebyrank, .events = {.type = 'z', .event = "zremrangebyrank"}},
      {.name = "zremrangebyscore", .arity = 4, .flags = kWrite | kNoneIsNoChange | kNeverGrows, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW delete", .handler = zremrangebyscore, .events = {.type = 'z', .event = "zremrangebyscore"}},
      {.name = "zrevrange", .arity = -4, .flags = kReadonly, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = zrevrange},
      {.name = "zrevrangebylex", .arity = -4, .flags = kReadonly, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = zrevrangebylex},
      {.name = "zrevrangebyscore", .arity = -4, .flags = kReadonly, .acl = acl::kSortedSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = zrevrangebyscore},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
