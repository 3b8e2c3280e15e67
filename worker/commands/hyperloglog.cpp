// HyperLogLog commands: PFADD PFCOUNT PFMERGE over Redis's representation
// (types/hyperloglog.h), stored as plain string values.
#include "worker/commands/commands.h"
#include "worker/types/hyperloglog.h"

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

}  // namespace keyloop::commands
