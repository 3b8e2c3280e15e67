// What the hash and set commands share: SCAN options and replies, and
// picking distinct random elements.
#include <algorithm>
#include <unordered_set>

#include "worker/commands/commands.h"

namespace keyloop::commands {

collection::Limits hashLimits(const CommandContext& ctx) {
  const EncodingConfig& e = ctx.worker.config().encoding;
  return {e.hashMaxListpackEntries, e.hashMaxListpackValue};
}

list::Limits listLimits(const CommandContext& ctx) { return {ctx.worker.config().encoding.listMaxListpackSize}; }

zset::Limits zsetLimits(const CommandContext& ctx) {
  const EncodingConfig& e = ctx.worker.config().encoding;
  return {e.zsetMaxListpackEntries, e.zsetMaxListpackValue};
}

collection::Limits setLimits(const CommandContext& ctx) {
  const EncodingConfig& e = ctx.worker.config().encoding;
  return {e.setMaxListpackEntries, e.setMaxListpackValue, e.setMaxIntsetEntries};
}

std::optional<ScanOptions> parseScanOptions(CommandContext& ctx, std::size_t first, bool typeAllowed) {
  ScanOptions o;
  for (std::size_t i = first; i < ctx.args.size(); i += 2) {
    const bool hasValue = i + 1 < ctx.args.size();
    if (equalsIgnoreCase(ctx.args[i], "count") && hasValue) {
      auto n = parseInteger(ctx.args[i + 1]);
      if (!n) return ctx.reply.error(kNotInteger), std::nullopt;
      if (*n < 1) return ctx.reply.error(kSyntaxError), std::nullopt;
      o.count = static_cast<std::size_t>(*n);
    } else if (equalsIgnoreCase(ctx.args[i], "match") && hasValue) {
      o.pattern = ctx.args[i + 1];
    } else if (typeAllowed && equalsIgnoreCase(ctx.args[i], "type") && hasValue) {
      o.type = ctx.args[i + 1];
    } else {
      return ctx.reply.error(kSyntaxError), std::nullopt;
    }
  }
  return o;
}

void scanCollection(CommandContext& ctx, const Store::Entry* e, std::uint64_t cursor) {
  if (e == nullptr) {  // before the options, as Redis: a missing key is an empty scan, whatever follows
    ctx.reply.array(2);
    ctx.reply.bulk("0");
    return ctx.reply.array(0);
  }
  auto options = parseScanOptions(ctx, 3, false);
  if (!options) return;
  std::vector<std::string> found;
  const bool all = options->pattern == "*";
  const bool pairs = collection::widthOf(e) == 2;
  cursor = collection::scan(e, cursor, options->count, [&](std::string_view k, std::string_view v) {
    if (!all && !globMatch(options->pattern, k)) return;
    found.emplace_back(k);
    if (pairs) found.emplace_back(v);
  });
  ctx.reply.array(2);
  ctx.reply.bulk(std::to_string(cursor));
  ctx.reply.array(found.size());
  for (const std::string& s : found) ctx.reply.bulk(s);
}

void removeElements(CommandContext& ctx, Type type) {
  auto e = writeAs(ctx, ctx.args[1], type);
  if (!e) return;
  long long removed = 0;
  if (*e != nullptr) {
    for (std::size_t i = 2; i < ctx.args.size() && collection::size(*e) > 0; ++i) {
      removed += collection::erase(ctx.store, *e, ctx.args[i]);
    }
    if (collection::size(*e) == 0) ctx.store.erase(ctx.args[1]);  // an empty hash or set is no key, as in Redis
  }
  ctx.reply.integer(removed);
}

void randomDistinct(const Store::Entry* e, std::size_t wanted, const VisitTuple& visit) {
  const std::size_t size = collection::size(e);
  if (wanted * 3 > size) {
    // Most of them: take all, then drop random ones (Redis's case 3).
    std::vector<std::pair<std::string, std::string>> all;
    all.reserve(size);
    collection::forEach(e, [&](std::string_view k, std::string_view v) { all.emplace_back(k, v); });
    while (all.size() > wanted) {
      std::swap(all[collection::draw() % all.size()], all.back());
      all.pop_back();
    }
    for (const auto& [k, v] : all) visit(k, v);
    return;
  }
  std::unordered_set<std::string> seen;
  while (seen.size() < wanted) {
    collection::Picked p = collection::random(e);
    if (seen.insert(p.key).second) visit(p.key, p.value);
  }
}

}  // namespace keyloop::commands
