// Set commands: membership, random members, moves, and the algebra
// (SINTER, SUNION, SDIFF and their STORE forms).
#include <algorithm>
#include <climits>
#include <unordered_set>

#include "worker/commands/commands.h"
#include "worker/execution/command_families.h"

namespace keyloop::commands {

namespace {

using collection::kSet;

// Adds `member` to the set at `key`, creating it (`e` null) as Redis would.
bool addMember(CommandContext& ctx, Store::Entry*& e, std::string_view key, std::string_view member) {
  if (e == nullptr) {
    const collection::EmptySet empty = collection::emptySetFor(member);
    e = ctx.store.set(key, empty.bytes, kNoExpiry, empty.kind);
  }
  return collection::insert(ctx.store, e, kSet, setLimits(ctx), member);
}

void replyMembers(CommandContext& ctx, const Store::Entry* e) {
  ctx.reply.set(e ? collection::size(e) : 0);
  if (e) collection::forEach(e, [&](std::string_view m, std::string_view) { ctx.reply.bulk(m); });
}

// The sets at args[first..last], type-checked all (nullopt: WRONGTYPE
// replied); a missing key is a null entry (an empty set).
std::optional<std::vector<const Store::Entry*>> setsAt(CommandContext& ctx, std::size_t first, std::size_t end) {
  std::vector<const Store::Entry*> sets;
  for (std::size_t i = first; i < end; ++i) {
    auto e = readAs(ctx, ctx.args[i], Type::Set);
    if (!e) return std::nullopt;
    sets.push_back(*e);
  }
  return sets;
}

std::size_t sizeOf(const Store::Entry* e) { return e ? collection::size(e) : 0; }

enum class Algebra { Inter, Union, Diff };

// The members of the result, in the order they were found; stops at
// `limit` members (0: no limit) for SINTERCARD.
std::vector<std::string> combine(std::vector<const Store::Entry*> sets, Algebra op, std::size_t limit = 0) {
  std::vector<std::string> out;
  if (op == Algebra::Inter) {
    // Walk the smallest set, look the others up (Redis's order of work).
    std::stable_sort(sets.begin(), sets.end(), [](auto* a, auto* b) { return sizeOf(a) < sizeOf(b); });
    if (sets.empty() || sizeOf(sets[0]) == 0) return out;
    collection::forEach(sets[0], [&](std::string_view m, std::string_view) {
      if (limit != 0 && out.size() >= limit) return;
      for (std::size_t i = 1; i < sets.size(); ++i) {
        if (!collection::contains(sets[i], m)) return;
      }
      out.emplace_back(m);
    });
    return out;
  }
  std::unordered_set<std::string_view> seen;
  std::vector<std::string> kept;
  auto note = [&](std::string_view m) {
    if (seen.contains(m)) return;
    kept.emplace_back(m);
    seen.insert(kept.back());
  };
  if (op == Algebra::Union) {
    kept.reserve([&] { std::size_t n = 0; for (auto* s : sets) n += sizeOf(s); return n; }());
    for (const Store::Entry* s : sets) {
      if (s) collection::forEach(s, [&](std::string_view m, std::string_view) { note(m); });
    }
    return kept;
  }
  if (sets.empty() || sizeOf(sets[0]) == 0) return out;
  collection::forEach(sets[0], [&](std::string_view m, std::string_view) {
    for (std::size_t i = 1; i < sets.size(); ++i) {
      if (sets[i] && collection::contains(sets[i], m)) return;
    }
    out.emplace_back(m);
  });
  return out;
}

void replyAlgebra(CommandContext& ctx, Algebra op) {
  auto sets = setsAt(ctx, 1, ctx.args.size());
  if (!sets) return;
  const std::vector<std::string> members = combine(std::move(*sets), op);
  ctx.reply.set(members.size());
  for (const std::string& m : members) ctx.reply.bulk(m);
}

void storeAlgebra(CommandContext& ctx, Algebra op) {
  auto sets = setsAt(ctx, 2, ctx.args.size());
  if (!sets) return;
  const std::vector<std::string> members = combine(std::move(*sets), op);
  const std::string_view dest = ctx.args[1];
  ctx.store.erase(dest);
  Store::Entry* e = nullptr;
  for (const std::string& m : members) addMember(ctx, e, dest, m);
  ctx.reply.integer(static_cast<long long>(members.size()));
}

}  // namespace

void sadd(CommandContext& ctx) {
  auto e = writeAs(ctx, ctx.args[1], Type::Set);
  if (!e) return;
  long long added = 0;
  for (std::size_t i = 2; i < ctx.args.size(); ++i) added += addMember(ctx, *e, ctx.args[1], ctx.args[i]);
  ctx.reply.integer(added);
}

void srem(CommandContext& ctx) { removeElements(ctx, Type::Set); }

void sismember(CommandContext& ctx) {
  auto e = readAs(ctx, ctx.args[1], Type::Set);
  if (e) ctx.reply.integer(*e && collection::contains(*e, ctx.args[2]) ? 1 : 0);
}

void smismember(CommandContext& ctx) {
  auto e = readAs(ctx, ctx.args[1], Type::Set);
  if (!e) return;
  ctx.reply.array(ctx.args.size() - 2);
  for (std::size_t i = 2; i < ctx.args.size(); ++i) {
    ctx.reply.integer(*e && collection::contains(*e, ctx.args[i]) ? 1 : 0);
  }
}

void scard(CommandContext& ctx) {
  auto e = readAs(ctx, ctx.args[1], Type::Set);
  if (e) ctx.reply.integer(static_cast<long long>(sizeOf(*e)));
}

void smembers(CommandContext& ctx) {
  auto e = readAs(ctx, ctx.args[1], Type::Set);
  if (e) replyMembers(ctx, *e);
}

void srandmember(CommandContext& ctx) {
  const auto& a = ctx.args;
  if (a.size() > 3) return ctx.reply.error(kSyntaxError);
  std::optional<long long> count;
  if (a.size() == 3 && !(count = randomCountOrReply(ctx, a[2]))) return;
  auto e = readAs(ctx, a[1], Type::Set);
  if (!e) return;
  if (*e == nullptr) ctx.changedNothing();
  if (!count) {
    if (*e == nullptr) return ctx.reply.null();
    return ctx.reply.bulk(collection::random(*e).key);
  }
  if (*e == nullptr || *count == 0) return ctx.reply.array(0);
  const std::size_t size = collection::size(*e);
  if (*count < 0) {
    const std::size_t wanted = static_cast<std::size_t>(-(*count + 1)) + 1;
    ctx.reply.array(wanted);
    for (std::size_t i = 0; i < wanted && !replyOverLimit(ctx); ++i) ctx.reply.bulk(collection::random(*e).key);
    return;
  }
  const std::size_t wanted = std::min(static_cast<std::size_t>(*count), size);
  ctx.reply.array(wanted);
  auto replyOne = [&](std::string_view m, std::string_view) { ctx.reply.bulk(m); };
  if (wanted == size) return collection::forEach(*e, replyOne);
  randomDistinct(*e, wanted, replyOne);
}

void spop(CommandContext& ctx) {
  const auto& a = ctx.args;
  if (a.size() > 3) return ctx.reply.error(kSyntaxError);
  std::optional<long long> count;
  if (a.size() == 3) {
    count = positiveOrReply(ctx, a[2]);
    if (!count) return;
  }
  auto e = writeAs(ctx, a[1], Type::Set);
  if (!e) return;
  // A random choice propagates as its outcome: SREM of what was popped,
  // or DEL when the whole set went (as Redis 7.0).
  const std::string key(a[1]);
  if (!count) {
    if (*e == nullptr) return ctx.reply.null();
    const std::string member = collection::random(*e).key;
    collection::erase(ctx.store, *e, member);
    if (collection::size(*e) == 0) ctx.store.erase(key);
    ctx.propagateAs({"SREM", key, member});
    return ctx.reply.bulk(member);
  }
  if (*e == nullptr || *count == 0) {
    ctx.changedNothing();
    return ctx.reply.set(0);
  }
  const std::size_t size = collection::size(*e);
  std::vector<std::string> popped;
  if (static_cast<std::size_t>(*count) >= size) {
    collection::forEach(*e, [&](std::string_view m, std::string_view) { popped.emplace_back(m); });
    ctx.store.erase(key);
    ctx.propagateAs({"DEL", key});
  } else {
    randomDistinct(*e, static_cast<std::size_t>(*count),
                   [&](std::string_view m, std::string_view) { popped.emplace_back(m); });
    for (const std::string& m : popped) collection::erase(ctx.store, *e, m);
    std::vector<std::string> srem = {"SREM", key};
    srem.insert(srem.end(), popped.begin(), popped.end());
    ctx.propagateAs(std::move(srem));
  }
  ctx.reply.set(popped.size());
  for (const std::string& m : popped) ctx.reply.bulk(m);
}

void smove(CommandContext& ctx) {
  const auto& a = ctx.args;
  // A missing source answers 0 before any type is checked (Redis's order).
  if (lookupWrite(ctx, a[1]) == nullptr) return ctx.reply.integer(0);
  auto source = writeAs(ctx, a[1], Type::Set);
  if (!source) return;
  auto dest = writeAs(ctx, a[2], Type::Set);
  if (!dest) return;
  if (!collection::contains(*source, a[3])) return ctx.reply.integer(0);
  if (a[1] == a[2]) return ctx.reply.integer(1);
  collection::erase(ctx.store, *source, a[3]);
  if (collection::size(*source) == 0) ctx.store.erase(a[1]);
  Store::Entry* d = lookupWrite(ctx, a[2]);  // the source's erase may have moved entries
  addMember(ctx, d, a[2], a[3]);
  ctx.reply.integer(1);
}

void sinter(CommandContext& ctx) { replyAlgebra(ctx, Algebra::Inter); }
void sunion(CommandContext& ctx) { replyAlgebra(ctx, Algebra::Union); }
void sdiff(CommandContext& ctx) { replyAlgebra(ctx, Algebra::Diff); }
void sinterstore(CommandContext& ctx) { storeAlgebra(ctx, Algebra::Inter); }
void sunionstore(CommandContext& ctx) { storeAlgebra(ctx, Algebra::Union); }
void sdiffstore(CommandContext& ctx) { storeAlgebra(ctx, Algebra::Diff); }

void sintercard(CommandContext& ctx) {
  const auto& a = ctx.args;
  auto numkeys = parseInteger(a[1]);
  if (!numkeys || *numkeys <= 0) return ctx.reply.error("ERR numkeys should be greater than 0");
  if (*numkeys > static_cast<long long>(a.size()) - 2) {
    return ctx.reply.error("ERR Number of keys can't be greater than number of args");
  }
  const std::size_t end = 2 + static_cast<std::size_t>(*numkeys);
  long long limit = 0;
  for (std::size_t i = end; i < a.size(); i += 2) {
    if (equalsIgnoreCase(a[i], "limit") && i + 1 < a.size()) {
      auto n = parseInteger(a[i + 1]);
      if (!n || *n < 0) return ctx.reply.error("ERR LIMIT can't be negative");
      limit = *n;
    } else {
      return ctx.reply.error(kSyntaxError);
    }
  }
  auto sets = setsAt(ctx, 2, end);
  if (!sets) return;
  ctx.reply.integer(static_cast<long long>(combine(std::move(*sets), Algebra::Inter, static_cast<std::size_t>(limit)).size()));
}

void sscan(CommandContext& ctx) {
  const std::optional<std::uint64_t> cursor = parseScanCursor(ctx.args[2]);
  if (!cursor) return ctx.reply.error("ERR invalid cursor");
  auto e = readAs(ctx, ctx.args[1], Type::Set);
  if (e) scanCollection(ctx, *e, *cursor);
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> setCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "sadd", .arity = -3, .flags = kWrite | kFast | kNoneIsNoChange, .acl = acl::kSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW insert", .handler = sadd, .events = {.type = 's', .event = "sadd"}},
      {.name = "scard", .arity = 2, .flags = kReadonly | kFast, .acl = acl::kSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO", .handler = scard},
      {.name = "sdiff", .arity = -2, .flags = kReadonly, .acl = acl::kSet,
       .keys = {1, -1, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RO access", .handler = sdiff},
      {.name = "sdiffstore", .arity = -3, .flags = kWrite, .acl = acl::kSet,
       .keys = {1, -1, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "OW update;RO access", .handler = sdiffstore, .events = {.type = 's', .event = "sdiffstore", .rule = KeyEventSpec::EventOrDel, .firstKeyOnly = true}},
      {.name = "sinter", .arity = -2, .flags = kReadonly, .acl = acl::kSet,
       .keys = {1, -1, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RO access", .handler = sinter},
      {.name = "sintercard", .arity = -3, .flags = kReadonly, .acl = acl::kSet,
       .keys = {.numkeysAt = 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RO access", .handler = sintercard},
      {.name = "sinterstore", .arity = -3, .flags = kWrite, .acl = acl::kSet,
       .keys = {1, -1, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW update;RO access", .handler = sinterstore, .events = {.type = 's', .event = "sinterstore", .rule = KeyEventSpec::EventOrDel, .firstKeyOnly = true}},
      {.name = "sismember", .arity = 3, .flags = kReadonly | kFast, .acl = acl::kSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO", .handler = sismember},
      {.name = "smembers", .arity = 2, .flags = kReadonly, .acl = acl::kSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = smembers},
      {.name = "smismember", .arity = -3, .flags = kReadonly | kFast, .acl = acl::kSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = smismember},
      {.name = "smove", .arity = 4, .flags = kWrite | kFast | kNoneIsNoChange | kNeverGrows, .acl = acl::kSet,
       .keys = {1, 2, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW access delete;RW insert", .handler = smove, .events = {.type = 's', .event = "srem", .second = "sadd"}},
      {.name = "spop", .arity = -2, .flags = kWrite | kFast | kNeverGrows, .acl = acl::kSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW access delete", .handler = spop, .events = {.type = 's', .event = "spop"}},
      {.name = "srandmember", .arity = -2, .flags = kReadonly, .acl = acl::kSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = srandmember},
      {.name = "srem", .arity = -3, .flags = kWrite | kFast | kNoneIsNoChange | kNeverGrows, .acl = acl::kSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW delete", .handler = srem, .events = {.type = 's', .event = "srem"}},
      {.name = "sscan", .arity = -3, .flags = kReadonly, .acl = acl::kSet,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = sscan},
      {.name = "sunion", .arity = -2, .flags = kReadonly, .acl = acl::kSet,
       .keys = {1, -1, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RO access", .handler = sunion},
      {.name = "sunionstore", .arity = -3, .flags = kWrite, .acl = acl::kSet,
       .keys = {1, -1, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "OW update;RO access", .handler = sunionstore, .events = {.type = 's', .event = "sunionstore", .rule = KeyEventSpec::EventOrDel, .firstKeyOnly = true}},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
