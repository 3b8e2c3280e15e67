// The sorted-set algebra: ZUNION, ZINTER, ZDIFF, their STORE forms and
// ZINTERCARD, over sorted sets and plain sets (every member scored 1),
// with WEIGHTS and AGGREGATE.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "worker/commands/commands.h"
#include "worker/commands/zset_ranges.h"
#include "worker/execution/command_families.h"

namespace keyloop::commands {

namespace {

// ---- the algebra ----

enum class Algebra { Union, Inter, Diff };
enum class Aggregate { Sum, Min, Max };

void aggregate(double& target, double value, Aggregate how) {
  if (how == Aggregate::Sum) {
    target += value;
    if (std::isnan(target)) target = 0;
  } else if (how == Aggregate::Min) {
    target = value < target ? value : target;
  } else {
    target = value > target ? value : target;
  }
}

// A source: a sorted set, a set (every score 1) or nothing.
struct Source {
  const Store::Entry* e = nullptr;
  double weight = 1;
  std::size_t size() const {
    if (e == nullptr) return 0;
    return typeOf(Store::kind(e)) == Type::Zset ? zset::size(e) : collection::size(e);
  }
  template <typename Visit>
  void forEach(Visit visit) const {
    if (e == nullptr) return;
    if (typeOf(Store::kind(e)) == Type::Zset) return zset::forEach(e, visit);
    collection::forEach(e, [&](std::string_view m, std::string_view) { visit(m, 1.0); });
  }
  std::optional<double> find(std::string_view m) const {
    if (e == nullptr) return std::nullopt;
    if (typeOf(Store::kind(e)) == Type::Zset) return zset::scoreOf(e, m);
    return collection::contains(e, m) ? std::optional<double>(1.0) : std::nullopt;
  }
};

struct AlgebraRequest {
  std::vector<Source> sources;
  Aggregate how = Aggregate::Sum;
  bool withScores = false;
  long long limit = 0;
};

// Parses numkeys at args[at], the sources and the options; nullopt after
// replying the error.
std::optional<AlgebraRequest> parseAlgebra(CommandContext& ctx, std::size_t at, Algebra op, bool store, bool cardinality) {
  const auto& a = ctx.args;
  const auto n = integerOrReply(ctx, a[at]);
  if (!n) return std::nullopt;
  if (*n < 1) {
    ctx.reply.error("ERR at least 1 input key is needed for '" + toLower(a[0]) + "' command");
    return std::nullopt;
  }
  if (*n > static_cast<long long>(a.size() - at - 1)) return ctx.reply.error(kSyntaxError), std::nullopt;
  AlgebraRequest r;
  std::size_t j = at + 1;
  for (long long i = 0; i < *n; ++i, ++j) {
    Store::Entry* e = lookupRead(ctx, a[j]);
    if (e != nullptr && typeOf(Store::kind(e)) != Type::Zset && typeOf(Store::kind(e)) != Type::Set) {
      ctx.reply.error(kWrongType);
      return std::nullopt;
    }
    r.sources.push_back({e, 1.0});
  }
  while (j < a.size()) {
    const std::size_t remaining = a.size() - j;
    if (op != Algebra::Diff && !cardinality && remaining >= r.sources.size() + 1 && equalsIgnoreCase(a[j], "weights")) {
      ++j;
      for (Source& s : r.sources) {
        const auto w = parseDouble(a[j++]);
        if (!w) return ctx.reply.error("ERR weight value is not a float"), std::nullopt;
        s.weight = *w;
      }
    } else if (op != Algebra::Diff && !cardinality && remaining >= 2 && equalsIgnoreCase(a[j], "aggregate")) {
      if (equalsIgnoreCase(a[j + 1], "sum")) r.how = Aggregate::Sum;
      else if (equalsIgnoreCase(a[j + 1], "min")) r.how = Aggregate::Min;
      else if (equalsIgnoreCase(a[j + 1], "max")) r.how = Aggregate::Max;
      else return ctx.reply.error(kSyntaxError), std::nullopt;
      j += 2;
    } else if (!store && !cardinality && equalsIgnoreCase(a[j], "withscores")) {
      r.withScores = true;
      ++j;
    } else if (cardinality && remaining >= 2 && equalsIgnoreCase(a[j], "limit")) {
      const auto l = parseInteger(a[j + 1]);
      if (!l || *l < 0) return ctx.reply.error("ERR LIMIT can't be negative"), std::nullopt;
      r.limit = *l;
      j += 2;
    } else {
      return ctx.reply.error(kSyntaxError), std::nullopt;
    }
  }
  return r;
}

// The result in (score, member) order; ZINTERCARD counts into `cardinality`.
std::vector<Scored> combine(AlgebraRequest& r, Algebra op, std::size_t* cardinality = nullptr) {
  std::vector<Scored> out;
  if (op != Algebra::Diff) {
    std::stable_sort(r.sources.begin(), r.sources.end(), [](const Source& x, const Source& y) { return x.size() < y.size(); });
  }
  if (op == Algebra::Inter) {
    if (r.sources[0].size() == 0) return out;
    std::size_t count = 0;
    bool stop = false;
    r.sources[0].forEach([&](std::string_view m, double s0) {
      if (stop) return;
      double score = r.sources[0].weight * s0;
      if (std::isnan(score)) score = 0;
      for (std::size_t j = 1; j < r.sources.size(); ++j) {
        const auto v = r.sources[j].e == r.sources[0].e ? std::optional<double>(s0) : r.sources[j].find(m);
        if (!v) return;
        aggregate(score, *v * r.sources[j].weight, r.how);
      }
      if (cardinality) {
        ++count;
        stop = r.limit != 0 && count >= static_cast<std::size_t>(r.limit);
        return;
      }
      out.push_back({std::string(m), score});
    });
    if (cardinality) *cardinality = count;
  } else if (op == Algebra::Union) {
    std::unordered_map<std::string, double> scores;
    for (const Source& src : r.sources) {
      src.forEach([&](std::string_view m, double s) {
        double score = src.weight * s;
        if (std::isnan(score)) score = 0;
        auto [it, fresh] = scores.try_emplace(std::string(m), score);
        if (!fresh) aggregate(it->second, score, r.how);
      });
    }
    out.reserve(scores.size());
    for (auto& [m, s] : scores) out.push_back({m, s});
  } else {
    r.sources[0].forEach([&](std::string_view m, double s) {
      for (std::size_t j = 1; j < r.sources.size(); ++j) {
        if (r.sources[j].find(m)) return;
      }
      out.push_back({std::string(m), s});
    });
  }
  std::sort(out.begin(), out.end(), [](const Scored& x, const Scored& y) {
    return score::before(x.score, x.member, y.score, y.member);
  });
  return out;
}

void algebraCommand(CommandContext& ctx, Algebra op, bool store) {
  auto r = parseAlgebra(ctx, store ? 2 : 1, op, store, false);
  if (!r) return;
  const std::vector<Scored> result = combine(*r, op);
  if (!store) return replyScored(ctx, result, r->withScores);
  ctx.reply.integer(static_cast<long long>(storeScored(ctx, ctx.args[1], result)));
}

}  // namespace

void zunion(CommandContext& ctx) { algebraCommand(ctx, Algebra::Union, false); }
void zinter(CommandContext& ctx) { algebraCommand(ctx, Algebra::Inter, false); }
void zdiff(CommandContext& ctx) { algebraCommand(ctx, Algebra::Diff, false); }
void zunionstore(CommandContext& ctx) { algebraCommand(ctx, Algebra::Union, true); }
void zinterstore(CommandContext& ctx) { algebraCommand(ctx, Algebra::Inter, true); }
void zdiffstore(CommandContext& ctx) { algebraCommand(ctx, Algebra::Diff, true); }

void zintercard(CommandContext& ctx) {
  auto r = parseAlgebra(ctx, 1, Algebra::Inter, false, true);
  if (!r) return;
  std::size_t cardinality = 0;
  combine(*r, Algebra::Inter, &cardinality);
  ctx.reply.integer(static_cast<long long>(cardinality));
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> zsetAlgebraCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "zdiff", .arity = -3, .flags = kReadonly, .acl = acl::kSortedSet,
       .keys = {.numkeysAt = 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RO access", .handler = zdiff},
      {.name = "zdiffstore", .arity = -4, .flags = kWrite, .acl = acl::kSortedSet,
       .keys = {.first = 1, .last = 1, .step = 1, .numkeysAt = 2}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "OW update;RO access", .handler = zdiffstore, .events = {.type = 'z', .event = "zdiffstore", .rule = KeyEventSpec::EventOrDel, .firstKeyOnly = true}},
      {.name = "zinter", .arity = -3, .flags = kReadonly, .acl = acl::kSortedSet,
       .keys = {.numkeysAt = 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RO access", .handler = zinter},
      {.name = "zintercard", .arity = -3, .flags = kReadonly, .acl = acl::kSortedSet,
       .keys = {.numkeysAt = 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RO access", .handler = zintercard},
      {.name = "zinterstore", .arity = -4, .flags = kWrite, .acl = acl::kSortedSet,
       .keys = {.first = 1, .last = 1, .step = 1, .numkeysAt = 2}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "OW update;RO access", .handler = zinterstore, .events = {.type = 'z', .event = "zinterstore", .rule = KeyEventSpec::EventOrDel, .firstKeyOnly = true}},
      {.name = "zunion", .arity = -3, .flags = kReadonly, .acl = acl::kSortedSet,
       .keys = {.numkeysAt = 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RO access", .handler = zunion},
      {.name = "zunionstore", .arity = -4, .flags = kWrite, .acl = acl::kSortedSet,
       .keys = {.first = 1, .last = 1, .step = 1, .numkeysAt = 2}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "OW update;RO access", .handler = zunionstore, .events = {.type = 'z', .event = "zunionstore", .rule = KeyEventSpec::EventOrDel, .firstKeyOnly = true}},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
