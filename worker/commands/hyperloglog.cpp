// HyperLogLog commands: PFADD PFCOUNT PFMERGE over Redis's representation
// (keyspace/hyperloglog.h), stored as plain string values.
#include "worker/commands/commands.h"
#include "worker/execution/command_families.h"
#include "worker/keyspace/hyperloglog.h"

namespace keyloop::commands {

namespace {

std::size_t sparseMaxBytes(const CommandContext& ctx) { return ctx.worker.config().encoding.hllSparseMaxBytes; }

// The HLL at `key` (null entry: absent); nullopt after replying the error
// for another type or a string that is not an HLL.
std::optional<Store::Entry*> hllAt(CommandContext& ctx, std::string_view key, bool write) {
  auto e = write ? writeAs(ctx, key, Type::String) : readAs(ctx, key, Type::String);
  if (e && *e && !hll::isHll(Store::value(*e))) {
    ctx.reply.error(hll::kNotHll);
    return std::nullopt;
  }
  return e;
}

}  // namespace

void pfadd(CommandContext& ctx) {
  auto e = hllAt(ctx, ctx.args[1], true);
  if (!e) return;
  bool updated = *e == nullptr;
  std::string value = updated ? hll::create() : std::string(Store::value(*e));
  for (std::size_t i = 2; i < ctx.args.size(); ++i) {
    const int changed = hll::add(value, ctx.args[i], sparseMaxBytes(ctx));
    if (changed < 0) return ctx.reply.error(hll::kCorrupt);
    updated |= changed == 1;
  }
  if (updated) {
    value[15] = static_cast<char>(value[15] | 0x80);  // the cached count is stale
    *e ? ctx.store.setValue(*e, value, Kind::StringRaw) : ctx.store.set(ctx.args[1], value, kNoExpiry, Kind::StringRaw);
  }
  ctx.reply.integer(updated ? 1 : 0);
}

void pfcount(CommandContext& ctx) {
  if (ctx.args.size() > 2) {
    hll::Registers max{};
    for (std::size_t i = 1; i < ctx.args.size(); ++i) {
      auto e = hllAt(ctx, ctx.args[i], false);
      if (!e) return;
      if (*e && !hll::mergeInto(max, Store::value(*e))) return ctx.reply.error(hll::kCorrupt);
    }
    return ctx.reply.integer(static_cast<long long>(hll::countOf(max)));
  }
  auto e = hllAt(ctx, ctx.args[1], false);
  if (!e) return;
  if (*e == nullptr) return ctx.reply.integer(0);
  std::string value(Store::value(*e));
  bool changed = false;
  auto n = hll::count(value, changed);
  if (!n) return ctx.reply.error(hll::kCorrupt);
  if (changed) ctx.store.setValue(*e, value);  // the cache, as Redis keeps it
  ctx.reply.integer(static_cast<long long>(*n));
}

void pfmerge(CommandContext& ctx) {
  hll::Registers max{};
  bool dense = false;
  for (std::size_t i = 1; i < ctx.args.size(); ++i) {  // the destination is a source too
    auto e = hllAt(ctx, ctx.args[i], false);
    if (!e) return;
    if (*e == nullptr) continue;
    dense |= hll::isDense(Store::value(*e));
    if (!hll::mergeInto(max, Store::value(*e))) return ctx.reply.error(hll::kCorrupt);
  }
  Store::Entry* dest = lookupWrite(ctx, ctx.args[1]);
  std::string value = dest ? std::string(Store::value(dest)) : hll::create();
  if (!hll::store(value, max, dense, sparseMaxBytes(ctx))) return ctx.reply.error(hll::kCorrupt);
  dest ? ctx.store.setValue(dest, value, Kind::StringRaw) : ctx.store.set(ctx.args[1], value, kNoExpiry, Kind::StringRaw);
  ctx.reply.ok();
}

void pfselftest(CommandContext& ctx) {
  const Status passed = hll::selfTest(sparseMaxBytes(ctx));
  passed ? ctx.reply.ok() : ctx.reply.error(passed.error());
}

void pfdebug(CommandContext& ctx) {
  const std::string_view sub = ctx.args[1];
  Store::Entry* e = lookupWrite(ctx, ctx.args[2]);
  if (e == nullptr) return ctx.reply.error("ERR The specified key does not exist");
  if (typeOf(Store::kind(e)) != Type::String) return ctx.reply.error(kWrongType);
  if (!hll::isHll(Store::value(e))) return ctx.reply.error(hll::kNotHll);
  std::string value(Store::value(e));
  const bool wasDense = hll::isDense(value);
  auto dense = [&]() {
    if (!hll::makeDense(value)) return ctx.reply.error(hll::kCorrupt), false;
    if (!wasDense) ctx.store.setValue(e, value, Kind::StringRaw);
    return true;
  };
  if (equalsIgnoreCase(sub, "getreg")) {
    if (!dense()) return;
    hll::Registers registers{};
    hll::mergeInto(registers, value);
    ctx.reply.array(registers.size());
    for (std::uint8_t r : registers) ctx.reply.integer(r);
  } else if (equalsIgnoreCase(sub, "decode")) {
    if (wasDense) return ctx.reply.error("ERR HLL encoding is not sparse");
    ctx.reply.bulk(hll::describeSparse(value));
  } else if (equalsIgnoreCase(sub, "encoding")) {
    ctx.reply.simple(wasDense ? "dense" : "sparse");
  } else if (equalsIgnoreCase(sub, "todense")) {
    if (dense()) ctx.reply.integer(wasDense ? 0 : 1);
  } else {
    ctx.reply.error("ERR Unknown PFDEBUG subcommand '" + std::string(sub) + "'");
  }
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> hyperloglogCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "pfadd", .arity = -2, .flags = kWrite | kFast, .acl = acl::kHyperLogLog,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW insert", .handler = pfadd, .events = {.type = '$', .event = "pfadd"}},
      {.name = "pfcount", .arity = -2, .flags = kReadonly | kMayReplicate, .acl = acl::kHyperLogLog,
       .keys = {1, -1, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW access", .handler = pfcount},
      {.name = "pfdebug", .arity = 3, .flags = kWrite | kAdmin, .acl = acl::kHyperLogLog,
       .keys = {2, 2, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW access", .handler = pfdebug},
      {.name = "pfmerge", .arity = -2, .flags = kWrite, .acl = acl::kHyperLogLog,
       .keys = {1, -1, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RW access insert;RO access", .handler = pfmerge, .events = {.type = '$', .event = "pfadd", .firstKeyOnly = true}},
      {.name = "pfselftest", .arity = 1, .flags = kAdmin, .acl = acl::kHyperLogLog,
       .handler = pfselftest},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
