// SORT and SORT_RO, as Redis's sort.c: numeric or ALPHA order, BY and GET
// patterns (`*` replaced by the element, `->field` a hash field, `#` the
// element itself), LIMIT, ASC/DESC, STORE into a list.
//
// Pattern keys may live on any worker, and which keys they are depends on
// the elements. When one is not readable here, the handler replies the
// keys it needs instead (a RESP3 push, which SORT never replies), and
// cross_worker.h runs it again through the atomic executor with those keys
// locked too (CrossWorker::Discovering). Inside MULTI or a script, where
// nothing can run it again, it answers an error.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>

#include "worker/commands/commands.h"
#include "worker/execution/command_families.h"

namespace keyloop::commands {

namespace {

struct Item {
  std::string value;
  double score = 0;
  std::optional<std::string> by;  // ALPHA with BY: the pattern's value
};

// The key a pattern names for `element` ("#": none, the element itself),
// and the hash field after "->" if any; nullopt: the pattern has no '*'.
struct PatternKey {
  std::string key, field;
  bool self = false;
};
std::optional<PatternKey> keyOf(std::string_view pattern, std::string_view element) {
  if (pattern == "#") return PatternKey{"", "", true};
  const std::size_t star = pattern.find('*');
  if (star == std::string_view::npos) return std::nullopt;
  PatternKey out;
  std::string_view rest = pattern.substr(star + 1);
  const std::size_t arrow = rest.find("->");
  if (arrow != std::string_view::npos && arrow + 2 < rest.size()) {
    out.field.assign(rest.substr(arrow + 2));
    rest = rest.substr(0, arrow);
  }
  out.key.reserve(star + element.size() + rest.size());
  out.key.append(pattern.substr(0, star)).append(element).append(rest);
  return out;
}

bool readable(CommandContext& ctx, std::string_view key) {
  if (ctx.readable != nullptr) return (*ctx.readable)(key);
  const ring::Ring* ring = ctx.worker.ring();
  return ring == nullptr || ring->workers() < 2 || ring->ownerOf(key) == ctx.worker.self();
}

// lookupKeyByPattern: the string (or hash field) a pattern names.
std::optional<std::string> lookupPattern(CommandContext& ctx, std::string_view pattern, std::string_view element) {
  const auto target = keyOf(pattern, element);
  if (!target) return std::nullopt;
  if (target->self) return std::string(element);
  const Store::Entry* e = lookupRead(ctx, target->key);
  if (e == nullptr) return std::nullopt;
  if (!target->field.empty()) {
    if (typeOf(Store::kind(e)) != Type::Hash) return std::nullopt;
    const packed::Tuple t = collection::find(e, target->field);
    if (t.end == 0) return std::nullopt;
    return std::string(t.value);
  }
  if (typeOf(Store::kind(e)) != Type::String) return std::nullopt;
  return std::string(Store::value(e));
}

void sortGeneric(CommandContext& ctx, bool readonly) {
  const auto& a = ctx.args;
  bool desc = false, alpha = false, dontSort = false;
  long long limitStart = 0, limitCount = -1;
  std::string_view sortBy;
  std::optional<std::string_view> storeKey;  // "" is a key too
  bool hasBy = false;
  std::vector<std::string_view> gets;
  const bool clusterPort = ctx.client != nullptr && ctx.client->clusterNode() >= 0;
  for (std::size_t j = 2; j < a.size(); ++j) {
    const std::size_t left = a.size() - j - 1;
    if (equalsIgnoreCase(a[j], "asc")) {
      desc = false;
    } else if (equalsIgnoreCase(a[j], "desc")) {
      desc = true;
    } else if (equalsIgnoreCase(a[j], "alpha")) {
      alpha = true;
    } else if (equalsIgnoreCase(a[j], "limit") && left >= 2) {
      const auto start = parseInteger(a[j + 1]), count = parseInteger(a[j + 2]);
      if (!start || !count) return ctx.reply.error(kNotInteger);
      limitStart = *start;
      limitCount = *count;
      j += 2;
    } else if (!readonly && equalsIgnoreCase(a[j], "store") && left >= 1) {
      storeKey = a[++j];
    } else if (equalsIgnoreCase(a[j], "by") && left >= 1) {
      sortBy = a[++j];
      hasBy = true;
      if (sortBy.find('*') == std::string_view::npos) dontSort = true;
      else if (clusterPort) return ctx.reply.error("ERR BY option of SORT denied in Cluster mode.");
    } else if (equalsIgnoreCase(a[j], "get") && left >= 1) {
      if (clusterPort) return ctx.reply.error("ERR GET option of SORT denied in Cluster mode.");
      gets.push_back(a[++j]);
    } else {
      return ctx.reply.error(kSyntaxError);
    }
  }
  const Store::Entry* source = lookupRead(ctx, a[1]);
  const Type type = source ? typeOf(Store::kind(source)) : Type::List;
  if (source && type != Type::Set && type != Type::List && type != Type::Zset) return ctx.reply.error(kWrongType);
  if (dontSort && type == Type::Set && storeKey.has_value()) {
    dontSort = false;
    alpha = true;
    hasBy = false;
  }
  // Every key a pattern names, first: those on other workers come first.
  std::vector<std::string> elements;
  if (source) {
    if (type == Type::List) list::forEach(source, [&](std::string_view v) { elements.emplace_back(v); });
    else if (type == Type::Set) collection::forEach(source, [&](std::string_view m, std::string_view) { elements.emplace_back(m); });
    else zset::forEach(source, [&](std::string_view m, double) { elements.emplace_back(m); });
  }
  std::set<std::string> missing;
  auto need = [&](std::string_view pattern) {
    for (const std::string& el : elements) {
      const auto target = keyOf(pattern, el);
      if (target && !target->self && !readable(ctx, target->key)) missing.insert(target->key);
    }
  };
  if (hasBy && !dontSort) need(sortBy);
  for (std::string_view g : gets) need(g);
  if (!missing.empty()) {
    if (!ctx.discovers) {
      return ctx.reply.error("ERR SORT's BY and GET patterns name keys of other workers, which it cannot read "
                             "inside MULTI or a script on a keyloop of several workers");
    }
    ctx.reply.push(missing.size());
    for (const std::string& k : missing) ctx.reply.bulk(k);
    return;
  }
  const long long length = static_cast<long long>(elements.size());
  long long start = std::min(std::max(limitStart, 0ll), length);
  limitCount = std::min(std::max(limitCount, -1ll), length);
  long long end = limitCount < 0 ? length - 1 : start + limitCount - 1;
  if (start >= length) {
    start = length - 1;
    end = length - 2;
  }
  if (end >= length) end = length - 1;
  std::vector<Item> items;
  if (dontSort && type != Type::Set) {
    // Source order (a sorted set's by score), the range taken first.
    if (end >= start) {
      for (long long i = start; i <= end; ++i) {
        const std::size_t at = static_cast<std::size_t>(desc ? length - 1 - i : i);
        items.push_back({elements[at], 0, std::nullopt});
      }
      end -= start;
      start = 0;
    }
  } else {
    for (std::string& el : elements) items.push_back({std::move(el), 0, std::nullopt});
  }
  bool conversionError = false;
  if (!dontSort) {
    for (Item& item : items) {
      std::optional<std::string> by;
      if (hasBy) {
        by = lookupPattern(ctx, sortBy, item.value);
        if (!by) continue;
      }
      if (alpha) {
        if (hasBy) item.by = std::move(by);
      } else {
        const std::string text = hasBy ? *by : item.value;
        char* endp = nullptr;
        errno = 0;
        item.score = std::strtod(text.c_str(), &endp);
        if (*endp != '\0' || errno == ERANGE || std::isnan(item.score)) conversionError = true;
      }
    }
    auto compare = [&](const Item& x, const Item& y) {
      int cmp;
      if (!alpha) {
        cmp = x.score > y.score ? 1 : x.score < y.score ? -1 : x.value.compare(y.value);
      } else if (hasBy) {
        if (!x.by || !y.by) cmp = x.by.has_value() == y.by.has_value() ? 0 : !x.by ? -1 : 1;
        else cmp = x.by->compare(*y.by);
      } else {
        cmp = x.value.compare(y.value);
      }
      return (desc ? -cmp : cmp) < 0;
    };
    std::stable_sort(items.begin(), items.end(), compare);
  }
  if (conversionError) return ctx.reply.error("ERR One or more scores can't be converted into double");
  const std::size_t rows = end >= start ? static_cast<std::size_t>(end - start + 1) : 0;
  if (!storeKey) {
    ctx.reply.array(gets.empty() ? rows : gets.size() * rows);
    for (std::size_t j = 0; j < rows; ++j) {
      const Item& item = items[static_cast<std::size_t>(start) + j];
      if (gets.empty()) ctx.reply.bulk(item.value);
      for (std::string_view g : gets) {
        const auto v = lookupPattern(ctx, g, item.value);
        v ? ctx.reply.bulk(*v) : ctx.reply.null();
      }
    }
    return;
  }
  std::vector<std::string> out;
  for (std::size_t j = 0; j < rows; ++j) {
    const Item& item = items[static_cast<std::size_t>(start) + j];
    if (gets.empty()) out.push_back(item.value);
    for (std::string_view g : gets) out.push_back(lookupPattern(ctx, g, item.value).value_or(""));
  }
  ctx.store.erase(*storeKey);
  if (!out.empty()) {
    Store::Entry* e = ctx.store.set(*storeKey, list::emptyValue(), kNoExpiry, Kind::ListPacked);
    const list::Limits limits = listLimits(ctx);
    for (const std::string& v : out) list::push(ctx.store, e, list::End::Tail, v, limits);
  }
  ctx.reply.integer(static_cast<long long>(out.size()));
}

}  // namespace

void sort(CommandContext& ctx) { sortGeneric(ctx, false); }
void sortRo(CommandContext& ctx) { sortGeneric(ctx, true); }

// SORT key ... STORE destination: the destination is a key too.
void sortKeyIndices(std::span<const std::string_view> args, std::vector<std::size_t>& indices) {
  indices.push_back(1);
  std::size_t store = 0;  // the last STORE wins, as in SORT itself
  for (std::size_t i = 2; i + 1 < args.size(); ++i) {
    if (equalsIgnoreCase(args[i], "store")) store = ++i;
    else if (equalsIgnoreCase(args[i], "limit")) i += 2;
    else if (equalsIgnoreCase(args[i], "by") || equalsIgnoreCase(args[i], "get")) ++i;
  }
  if (store != 0) indices.push_back(store);
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

namespace {

using namespace commands;

// SORT's only written key is its STORE destination (not args[1]).
std::string_view sortEvent(std::span<const std::string_view>, std::size_t index, std::size_t) {
  return index == 1 ? std::string_view() : "sortstore";
}

}  // namespace

std::span<const CommandSpec> sortCommands() {
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "sort", .arity = -2, .flags = kWrite, .acl = acl::kSet | acl::kSortedSet | acl::kList | acl::kDangerous,
       .keys = {.find = sortKeyIndices}, .cross = CrossWorker::Discovering, .keyFlags = "RO access;OW update", .handler = sort, .events = {.type = 'l', .rule = KeyEventSpec::EventOrDel, .eventOf = sortEvent}},
      {.name = "sort_ro", .arity = -2, .flags = kReadonly, .acl = acl::kSet | acl::kSortedSet | acl::kList | acl::kDangerous,
       .keys = {1, 1, 1}, .cross = CrossWorker::Discovering, .keyFlags = "RO access;RO access", .handler = sortRo},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
