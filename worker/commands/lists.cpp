// List commands: pushes and pops at both ends, ranges, positional edits,
// moves, and the blocking pops. A blocking command's handler is the
// non-blocking attempt: when nothing is there it replies Redis's timeout
// reply (a null), and blocking.h decides whether the client waits.
#include <climits>
#include <cmath>

#include "worker/commands/commands.h"
#include "worker/execution/command_families.h"

namespace keyloop::commands {

namespace {

using list::End;

std::optional<End> endOf(std::string_view arg) {
  if (equalsIgnoreCase(arg, "left")) return End::Head;
  if (equalsIgnoreCase(arg, "right")) return End::Tail;
  return std::nullopt;
}

// Normalizes LRANGE-style indexes; false when the range is empty.
bool clampRange(long long& start, long long& end, long long size) {
  if (start < 0) start += size;
  if (end < 0) end += size;
  if (start < 0) start = 0;
  if (start > end || start >= size) return false;
  if (end >= size) end = size - 1;
  return true;
}

void deleteIfEmpty(CommandContext& ctx, const Store::Entry* e, std::string_view key) {
  if (list::size(e) == 0) ctx.store.erase(key);
}

void push(CommandContext& ctx, End end, bool onlyIfExists) {
  auto e = writeAs(ctx, ctx.args[1], Type::List);
  if (!e) return;
  if (*e == nullptr) {
    if (onlyIfExists) return ctx.reply.integer(0);
    *e = ctx.store.set(ctx.args[1], list::emptyValue(), kNoExpiry, Kind::ListPacked);
  }
  const list::Limits limits = listLimits(ctx);
  for (std::size_t i = 2; i < ctx.args.size(); ++i) list::push(ctx.store, *e, end, ctx.args[i], limits);
  ctx.reply.integer(static_cast<long long>(list::size(*e)));
}

// The elements from..to, forwards or (reverse) backwards.
void replyRange(CommandContext& ctx, const Store::Entry* e, std::size_t from, std::size_t to, bool reverse) {
  ctx.reply.array(to - from + 1);
  list::forRange(e, from, to, reverse, [&](std::size_t, std::string_view el) { return ctx.reply.bulk(el), true; });
}

// Pops up to `count` from `end` of the list `key` (non-empty) and replies
// them as an array (the LMPOP and BLMPOP form with the key first).
void popRangeWithKey(CommandContext& ctx, Store::Entry* e, std::string_view key, End end, long long count) {
  const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(count), list::size(e));
  ctx.reply.array(2);
  ctx.reply.bulk(key);
  ctx.reply.array(n);
  for (std::size_t i = 0; i < n; ++i) ctx.reply.bulk(list::pop(ctx.store, e, end));
  deleteIfEmpty(ctx, e, key);
}

void pop(CommandContext& ctx, End end) {
  const bool hasCount = ctx.args.size() == 3;
  if (ctx.args.size() > 3) return ctx.reply.error("ERR wrong number of arguments for '" + toLower(ctx.args[0]) + "' command");
  long long count = 0;
  if (hasCount) {
    const auto c = positiveOrReply(ctx, ctx.args[2]);
    if (!c) return;
    count = *c;
  }
  auto e = writeAs(ctx, ctx.args[1], Type::List);
  if (!e) return;
  if (*e == nullptr) return hasCount ? ctx.reply.nullArray() : ctx.reply.null();
  if (hasCount && count == 0) return ctx.reply.array(0);
  if (!hasCount) {
    ctx.reply.bulk(list::pop(ctx.store, *e, end));
    return deleteIfEmpty(ctx, *e, ctx.args[1]);
  }
  const std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(count), list::size(*e));
  ctx.reply.array(n);
  for (std::size_t i = 0; i < n; ++i) ctx.reply.bulk(list::pop(ctx.store, *e, end));
  deleteIfEmpty(ctx, *e, ctx.args[1]);
}

// LMOVE's work once positions are parsed; replies the moved element.
void move(CommandContext& ctx, End from, End to) {
  auto source = writeAs(ctx, ctx.args[1], Type::List);
  if (!source) return;
  if (*source == nullptr) {
    ctx.changedNothing();
    return ctx.reply.null();
  }
  auto destination = writeAs(ctx, ctx.args[2], Type::List);
  if (!destination) return;
  const std::string value = list::pop(ctx.store, *source, from);
  if (list::size(*source) == 0) ctx.store.erase(ctx.args[1]);
  Store::Entry* d = ctx.store.find(ctx.args[2], ctx.nowMs);  // the pop may have moved or deleted it
  if (d == nullptr) d = ctx.store.set(ctx.args[2], list::emptyValue(), kNoExpiry, Kind::ListPacked);
  list::push(ctx.store, d, to, value, listLimits(ctx));
  ctx.reply.bulk(value);
}

// LMPOP / BLMPOP: numkeys at args[at], then the keys, LEFT|RIGHT, [COUNT n].
// LMPOP/ZMPOP at `at` = 1; the blocking forms at 2, their timeout read
// after everything else, as Redis reads it.
void mpop(CommandContext& ctx, std::size_t at) {
  const auto numkeys = parseInteger(ctx.args[at]);
  if (!numkeys || *numkeys < 1) return ctx.reply.error("ERR numkeys should be greater than 0");
  const std::size_t whereAt = at + static_cast<std::size_t>(*numkeys) + 1;
  if (*numkeys >= static_cast<long long>(ctx.args.size()) || whereAt >= ctx.args.size()) {
    return ctx.reply.error(kSyntaxError);
  }
  const auto end = endOf(ctx.args[whereAt]);
  if (!end) return ctx.reply.error(kSyntaxError);
  const auto count = mpopCountOrReply(ctx, whereAt + 1);
  if (!count) return;
  if (at == 2 && !timeoutOrReply(ctx, ctx.args[1])) return;
  const auto found = firstExisting(ctx, at + 1, whereAt, Type::List);
  if (!found) return;
  if (found->second == nullptr) {
    ctx.changedNothing();
    return ctx.reply.nullArray();
  }
  // Propagated as the pop it made (Redis 7.0: LPOP key count).
  const std::size_t popped = std::min(static_cast<std::size_t>(*count), list::size(found->second));
  ctx.propagateAs({*end == End::Head ? "LPOP" : "RPOP", std::string(found->first), std::to_string(popped)});
  popRangeWithKey(ctx, found->second, found->first, *end, *count);
}

}  // namespace

std::optional<long long> timeoutOrReply(CommandContext& ctx, std::string_view arg) {
  Result<long long> ms = parseBlockingTimeout(arg, ctx.nowMs);
  if (!ms) return ctx.reply.error(ms.error()), std::nullopt;
  return *ms;
}

void lpush(CommandContext& ctx) { push(ctx, End::Head, false); }
void rpush(CommandContext& ctx) { push(ctx, End::Tail, false); }
void lpushx(CommandContext& ctx) { push(ctx, End::Head, true); }
void rpushx(CommandContext& ctx) { push(ctx, End::Tail, true); }
void lpop(CommandContext& ctx) { pop(ctx, End::Head); }
void rpop(CommandContext& ctx) { pop(ctx, End::Tail); }

void llen(CommandContext& ctx) {
  auto e = readAs(ctx, ctx.args[1], Type::List);
  if (e) ctx.reply.integer(*e ? static_cast<long long>(list::size(*e)) : 0);
}

void lrange(CommandContext& ctx) {
  auto start = integerOrReply(ctx, ctx.args[2]);
  if (!start) return;
  auto end = integerOrReply(ctx, ctx.args[3]);
  if (!end) return;
  auto e = readAs(ctx, ctx.args[1], Type::List);
  if (!e) return;
  if (*e == nullptr || !clampRange(*start, *end, static_cast<long long>(list::size(*e)))) return ctx.reply.array(0);
  replyRange(ctx, *e, static_cast<std::size_t>(*start), static_cast<std::size_t>(*end), false);
}

void lindex(CommandContext& ctx) {
  auto e = readAs(ctx, ctx.args[1], Type::List);
  if (!e) return;
  if (*e == nullptr) return ctx.reply.null();
  auto index = integerOrReply(ctx, ctx.args[2]);
  if (!index) return;
  const long long n = static_cast<long long>(list::size(*e));
  const long long i = *index < 0 ? n + *index : *index;
  if (i < 0 || i >= n) return ctx.reply.null();
  ctx.reply.bulk(list::at(*e, static_cast<std::size_t>(i)));
}

void lset(CommandContext& ctx) {
  Store::Entry* e = lookupWrite(ctx, ctx.args[1]);
  if (e == nullptr) return ctx.reply.error("ERR no such key");
  if (typeOf(Store::kind(e)) != Type::List) return ctx.reply.error(kWrongType);
  auto index = integerOrReply(ctx, ctx.args[2]);
  if (!index) return;
  const long long n = static_cast<long long>(list::size(e));
  const long long i = *index < 0 ? n + *index : *index;
  if (i < 0 || i >= n) return ctx.reply.error("ERR index out of range");
  list::set(ctx.store, e, static_cast<std::size_t>(i), ctx.args[3], listLimits(ctx));
  ctx.reply.ok();
}

void linsert(CommandContext& ctx) {
  bool after;
  if (equalsIgnoreCase(ctx.args[2], "after")) after = true;
  else if (equalsIgnoreCase(ctx.args[2], "before")) after = false;
  else return ctx.reply.error(kSyntaxError);
  auto e = writeAs(ctx, ctx.args[1], Type::List);
  if (!e) return;
  if (*e == nullptr) return ctx.reply.integer(0);
  if (!list::insertAt(ctx.store, *e, ctx.args[3], after, ctx.args[4], listLimits(ctx))) return ctx.reply.integer(-1);
  ctx.reply.integer(static_cast<long long>(list::size(*e)));
}

void lrem(CommandContext& ctx) {
  auto count = integerOrReply(ctx, ctx.args[2]);
  if (!count) return;
  auto e = writeAs(ctx, ctx.args[1], Type::List);
  if (!e) return;
  if (*e == nullptr) return ctx.reply.integer(0);
  const std::size_t removed = list::removeEqual(ctx.store, *e, ctx.args[3], *count);
  deleteIfEmpty(ctx, *e, ctx.args[1]);
  ctx.reply.integer(static_cast<long long>(removed));
}

void ltrim(CommandContext& ctx) {
  auto start = integerOrReply(ctx, ctx.args[2]);
  if (!start) return;
  auto end = integerOrReply(ctx, ctx.args[3]);
  if (!end) return;
  auto e = writeAs(ctx, ctx.args[1], Type::List);
  if (!e) return;
  if (*e == nullptr) return ctx.reply.ok();
  const long long n = static_cast<long long>(list::size(*e));
  if (!clampRange(*start, *end, n)) {
    ctx.store.erase(ctx.args[1]);
  } else {
    list::trim(ctx.store, *e, static_cast<std::size_t>(*start), static_cast<std::size_t>(*end));
    deleteIfEmpty(ctx, *e, ctx.args[1]);
  }
  ctx.reply.ok();
}

void lpos(CommandContext& ctx) {
  long long rank = 1, count = -1, maxlen = 0;
  for (std::size_t j = 3; j < ctx.args.size(); ++j) {
    const bool more = j + 1 < ctx.args.size();
    if (equalsIgnoreCase(ctx.args[j], "rank") && more) {
      const auto r = integerOrReply(ctx, ctx.args[++j]);
      if (!r) return;
      if (*r == 0) {
        return ctx.reply.error("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
                               "or use negative to start from the end of the list");
      }
      rank = *r;
    } else if (equalsIgnoreCase(ctx.args[j], "count") && more) {
      const auto c = positiveOrReply(ctx, ctx.args[++j], "ERR COUNT can't be negative");
      if (!c) return;
      count = *c;
    } else if (equalsIgnoreCase(ctx.args[j], "maxlen") && more) {
      const auto m = positiveOrReply(ctx, ctx.args[++j], "ERR MAXLEN can't be negative");
      if (!m) return;
      maxlen = *m;
    } else {
      return ctx.reply.error(kSyntaxError);
    }
  }
  const bool backwards = rank < 0;
  // Redis negates the long: LONG_MIN stays negative, so every match
  // counts as reaching the rank and the first one from the tail answers.
  if (rank == LLONG_MIN) rank = 1;
  else if (backwards) rank = -rank;
  auto e = readAs(ctx, ctx.args[1], Type::List);
  if (!e) return;
  if (*e == nullptr) return count != -1 ? ctx.reply.array(0) : ctx.reply.null();
  const std::size_t n = list::size(*e);
  std::vector<long long> found;
  long long matches = 0, scanned = 0;
  list::forRange(*e, 0, n - 1, backwards, [&](std::size_t index, std::string_view el) {
    if (maxlen != 0 && scanned >= maxlen) return false;
    ++scanned;
    if (el != ctx.args[2]) return true;
    if (++matches < rank) return true;
    found.push_back(static_cast<long long>(index));
    return count > 0 ? matches - rank + 1 < count : count == 0;
  });
  if (count == -1) return found.empty() ? ctx.reply.null() : ctx.reply.integer(found.front());
  ctx.reply.array(found.size());
  for (long long i : found) ctx.reply.integer(i);
}

void lmove(CommandContext& ctx) {
  const auto from = endOf(ctx.args[3]);
  if (!from) return ctx.reply.error(kSyntaxError);
  const auto to = endOf(ctx.args[4]);
  if (!to) return ctx.reply.error(kSyntaxError);
  move(ctx, *from, *to);
}

void rpoplpush(CommandContext& ctx) { move(ctx, End::Tail, End::Head); }

void lmpop(CommandContext& ctx) { mpop(ctx, 1); }

namespace {

void blockingPop(CommandContext& ctx, End end) {
  if (!timeoutOrReply(ctx, ctx.args.back())) return;
  const auto found = firstExisting(ctx, 1, ctx.args.size() - 1, Type::List);
  if (!found) return;
  if (found->second == nullptr) {
    ctx.changedNothing();
    return ctx.reply.nullArray();
  }
  // Served, it propagates as the pop it made (Redis 7.0: LPOP key).
  ctx.propagateAs({end == End::Head ? "LPOP" : "RPOP", std::string(found->first)});
  ctx.reply.array(2);
  ctx.reply.bulk(found->first);
  Store::Entry* e = found->second;
  ctx.reply.bulk(list::pop(ctx.store, e, end));
  deleteIfEmpty(ctx, e, found->first);
}

}  // namespace

void blpop(CommandContext& ctx) { blockingPop(ctx, End::Head); }
void brpop(CommandContext& ctx) { blockingPop(ctx, End::Tail); }

void blmove(CommandContext& ctx) {
  const auto from = endOf(ctx.args[3]);
  if (!from) return ctx.reply.error(kSyntaxError);
  const auto to = endOf(ctx.args[4]);
  if (!to) return ctx.reply.error(kSyntaxError);
  if (!timeoutOrReply(ctx, ctx.args[5])) return;
  // Served (or at once), it propagates as the move it made (Redis 7.0).
  ctx.propagateAs({"LMOVE", std::string(ctx.args[1]), std::string(ctx.args[2]), std::string(ctx.args[3]),
                   std::string(ctx.args[4])});
  move(ctx, *from, *to);
}

void brpoplpush(CommandContext& ctx) {
  if (!timeoutOrReply(ctx, ctx.args[3])) return;
  ctx.propagateAs({"RPOPLPUSH", std::string(ctx.args[1]), std::string(ctx.args[2])});
  move(ctx, End::Tail, End::Head);
}

void blmpop(CommandContext& ctx) {
  mpop(ctx, 2);
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

namespace {

using namespace commands;

constexpr auto kList = static_cast<std::uint8_t>(Type::List);
constexpr BlockingSpec kListWait{{1, -2, 1}, kList, -1};          // BLPOP key... timeout
constexpr BlockingSpec kListMoveWait{{1, 1, 1}, kList, -1};       // BLMOVE source dest ... timeout
constexpr BlockingSpec kListNumkeysWait{{.numkeysAt = 2}, kList, 1};  // BLMPOP timeout numkeys key...

std::string_view sideOf(std::string_view where, std::string_view left, std::string_view right) {
  return equalsIgnoreCase(where, "left") ? left : right;
}
// LMOVE/BLMOVE source destination LEFT|RIGHT LEFT|RIGHT
std::string_view moveEvents(std::span<const std::string_view> a, std::size_t, std::size_t group) {
  return group == 0 ? sideOf(a[3], "lpop", "rpop") : sideOf(a[4], "lpush", "rpush");
}
std::string_view lmpopEvent(std::span<const std::string_view> a, std::size_t, std::size_t) {
  return sideOf(directionAfterKeys(a, 1), "lpop", "rpop");
}
std::string_view blmpopEvent(std::span<const std::string_view> a, std::size_t, std::size_t) {
  return sideOf(directionAfterKeys(a, 2), "lpop", "rpop");
}

}  // namespace

std::span<const CommandSpec> listCommands() {
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "blmove", .arity = 6, .flags = kWrite | kNoScript, .acl = acl::kList | acl::kBlocking,
       .keys = {1, 2, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW access delete;RW insert", .handler = blmove, .blocking = &kListMoveWait, .events = {.type = 'l', .eventOf = moveEvents}},
      {.name = "blmpop", .arity = -5, .flags = kWrite | kNeverGrows, .acl = acl::kList | acl::kBlocking,
       .keys = {.numkeysAt = 2}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW access delete", .handler = blmpop, .blocking = &kListNumkeysWait, .events = {.type = 'l', .eventOf = blmpopEvent}},
      {.name = "blpop", .arity = -3, .flags = kWrite | kNoScript | kNeverGrows, .acl = acl::kList | acl::kBlocking,
       .keys = {1, -2, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW access delete", .handler = blpop, .blocking = &kListWait, .events = {.type = 'l', .event = "lpop"}},
      {.name = "brpop", .arity = -3, .flags = kWrite | kNoScript | kNeverGrows, .acl = acl::kList | acl::kBlocking,
       .keys = {1, -2, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW access delete", .handler = brpop, .blocking = &kListWait, .events = {.type = 'l', .event = "rpop"}},
      {.name = "brpoplpush", .arity = 4, .flags = kWrite | kNoScript, .acl = acl::kList | acl::kBlocking,
       .keys = {1, 2, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW access delete;RW insert", .handler = brpoplpush, .blocking = &kListMoveWait, .events = {.type = 'l', .event = "rpop", .second = "lpush"}},
      {.name = "lindex", .arity = 3, .flags = kReadonly, .acl = acl::kList,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = lindex},
      {.name = "linsert", .arity = 5, .flags = kWrite, .acl = acl::kList,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW insert", .handler = linsert, .events = {.type = 'l', .event = "linsert"}},
      {.name = "llen", .arity = 2, .flags = kReadonly | kFast, .acl = acl::kList,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO", .handler = llen},
      {.name = "lmove", .arity = 5, .flags = kWrite, .acl = acl::kList,
       .keys = {1, 2, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW access delete;RW insert", .handler = lmove, .events = {.type = 'l', .eventOf = moveEvents}},
      {.name = "lmpop", .arity = -4, .flags = kWrite | kNeverGrows, .acl = acl::kList,
       .keys = {.numkeysAt = 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW access delete", .handler = lmpop, .events = {.type = 'l', .eventOf = lmpopEvent}},
      {.name = "lpop", .arity = -2, .flags = kWrite | kFast | kNeverGrows, .acl = acl::kList,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW access delete", .handler = lpop, .events = {.type = 'l', .event = "lpop"}},
      {.name = "lpos", .arity = -3, .flags = kReadonly, .acl = acl::kList,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = lpos},
      {.name = "lpush", .arity = -3, .flags = kWrite | kFast, .acl = acl::kList,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW insert", .handler = lpush, .events = {.type = 'l', .event = "lpush"}},
      {.name = "lpushx", .arity = -3, .flags = kWrite | kFast, .acl = acl::kList,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW insert", .handler = lpushx, .events = {.type = 'l', .event = "lpush"}},
      {.name = "lrange", .arity = 4, .flags = kReadonly, .acl = acl::kList,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = lrange},
      {.name = "lrem", .arity = 4, .flags = kWrite | kNoneIsNoChange | kNeverGrows, .acl = acl::kList,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW delete", .handler = lrem, .events = {.type = 'l', .event = "lrem"}},
      {.name = "lset", .arity = 4, .flags = kWrite, .acl = acl::kList,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW update", .handler = lset, .events = {.type = 'l', .event = "lset"}},
      {.name = "ltrim", .arity = 4, .flags = kWrite | kNeverGrows, .acl = acl::kList,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW delete", .handler = ltrim, .events = {.type = 'l', .event = "ltrim"}},
      {.name = "rpop", .arity = -2, .flags = kWrite | kFast | kNeverGrows, .acl = acl::kList,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW access delete", .handler = rpop, .events = {.type = 'l', .event = "rpop"}},
      {.name = "rpoplpush", .arity = 3, .flags = kWrite, .acl = acl::kList,
       .keys = {1, 2, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW access delete;RW insert", .handler = rpoplpush, .events = {.type = 'l', .event = "rpop", .second = "lpush"}},
      {.name = "rpush", .arity = -3, .flags = kWrite | kFast, .acl = acl::kList,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW insert", .handler = rpush, .events = {.type = 'l', .event = "rpush"}},
      {.name = "rpushx", .arity = -3, .flags = kWrite | kFast, .acl = acl::kList,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW insert", .handler = rpushx, .events = {.type = 'l', .event = "rpush"}},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
