// Geo commands: a geo set is a sorted set whose scores are 52-bit geohashes
// (keyspace/geohash.h). GEOADD is ZADD with the scores computed; the searches
// (GEOSEARCH, GEOSEARCHSTORE and the older GEORADIUS family) follow
// Redis's georadiusGeneric step by step, so results come in the same
// order and print the same digits.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "worker/commands/commands.h"
#include "worker/execution/command_families.h"
#include "worker/commands/zset_ranges.h"
#include "worker/keyspace/geohash.h"

namespace keyloop::commands {

namespace {

// Longitude then latitude at args[at]; nullopt after replying the error.
std::optional<std::pair<double, double>> lonLatOrReply(CommandContext& ctx, std::size_t at) {
  const auto lon = parseDouble(ctx.args[at]);
  if (!lon) return ctx.reply.error(kNotFloat), std::nullopt;
  const auto lat = parseDouble(ctx.args[at + 1]);
  if (!lat) return ctx.reply.error(kNotFloat), std::nullopt;
  if (*lon < geo::kLongMin || *lon > geo::kLongMax || *lat < geo::kLatMin || *lat > geo::kLatMax) {
    ctx.reply.error(printed("ERR invalid longitude,latitude pair %f,%f", *lon, *lat));
    return std::nullopt;
  }
  return std::pair{*lon, *lat};
}

// The factor from the unit to metres; nullopt after replying the error.
std::optional<double> unitOrReply(CommandContext& ctx, std::string_view unit) {
  if (equalsIgnoreCase(unit, "m")) return 1.0;
  if (equalsIgnoreCase(unit, "km")) return 1000.0;
  if (equalsIgnoreCase(unit, "ft")) return 0.3048;
  if (equalsIgnoreCase(unit, "mi")) return 1609.34;
  ctx.reply.error("ERR unsupported unit provided. please use M, KM, FT, MI");
  return std::nullopt;
}

// Redis's extractDistanceOrReply: a radius and its unit at args[at],
// into `shape` (a circle); false after replying the error.
bool radiusOrReply(CommandContext& ctx, std::size_t at, geo::Shape& shape) {
  const auto r = parseDouble(ctx.args[at]);
  if (!r) return ctx.reply.error("ERR need numeric radius"), false;
  if (*r < 0) return ctx.reply.error("ERR radius cannot be negative"), false;
  const auto unit = unitOrReply(ctx, ctx.args[at + 1]);
  if (!unit) return false;
  shape.circle = true;
  shape.radius = *r;
  shape.toMeters = *unit;
  return true;
}

// Redis's addReplyDoubleDistance: four decimals, rounded (fixedpoint_d2string).
void replyDistance(CommandContext& ctx, double d) {
  const long long scaled = std::llrint(d * 10000.0);
  const unsigned long long magnitude = scaled < 0 ? 0ull - static_cast<unsigned long long>(scaled)
                                                  : static_cast<unsigned long long>(scaled);
  char buf[48];
  const int n = std::snprintf(buf, sizeof buf, "%s%llu.%04llu", scaled < 0 ? "-" : "", magnitude / 10000, magnitude % 10000);
  ctx.reply.bulk(std::string_view(buf, static_cast<std::size_t>(n)));
}

// addReplyHumanLongDouble: "%.17Lf" without trailing zeros; RESP3 a double.
void replyCoordinate(CommandContext& ctx, double v) {
  ctx.reply.doubleText(formatLongDouble(static_cast<long double>(v)));
}

std::optional<std::pair<double, double>> positionOf(const Store::Entry* e, std::string_view member) {
  const auto s = zset::scoreOf(e, member);
  double lon, lat;
  if (!s || !geo::decodeScore(*s, lon, lat)) return std::nullopt;
  return std::pair{lon, lat};
}

// GEOHASH / GEOPOS: one reply per member of args[2..], `missing` for
// one that is not there.
template <typename One>
void forEachPosition(CommandContext& ctx, void (resp::Reply::*missing)(), One one) {
  auto e = readAs(ctx, ctx.args[1], Type::Zset);
  if (!e) return;
  ctx.reply.array(ctx.args.size() - 2);
  for (std::size_t j = 2; j < ctx.args.size(); ++j) {
    const auto p = *e ? positionOf(*e, ctx.args[j]) : std::nullopt;
    if (p) one(p->first, p->second);
    else (ctx.reply.*missing)();
  }
}

struct Point {
  double lon, lat, meters, score;
  std::string member;
};

// The points of `e` inside the shape, box by box as Redis walks them.
std::vector<Point> pointsInside(const Store::Entry* e, const geo::Shape& shape, std::size_t limit) {
  std::vector<Point> out;
  const std::array<geo::Hash, 9> boxes = geo::boxesAround(shape);
  int last = -1;
  for (int i = 0; i < 9; ++i) {
    const geo::Hash& box = boxes[static_cast<std::size_t>(i)];
    if (box.zero()) continue;
    if (last > 0 && box.bits == boxes[static_cast<std::size_t>(last)].bits &&
        box.step == boxes[static_cast<std::size_t>(last)].step) {
      continue;
    }
    if (!out.empty() && limit != 0 && out.size() >= limit) break;
    last = i;
    geo::Hash next = box;
    ++next.bits;
    const ScoreRange range{static_cast<double>(geo::align52(box)), static_cast<double>(geo::align52(next)), false, true};
    const Ranks ranks = ranksOf(e, range);
    if (ranks.size() == 0) continue;
    zset::walk(e, ranks.first, ranks.end - 1, false, [&](std::size_t, std::string_view m, double s) {
      Point p{0, 0, 0, s, {}};
      if (geo::decodeScore(s, p.lon, p.lat) && geo::within(shape, p.lon, p.lat, p.meters)) {
        p.member.assign(m);
        out.push_back(std::move(p));
      }
      return !(limit != 0 && out.size() >= limit);
    });
  }
  return out;
}

enum SearchFlags : unsigned { kByCoords = 1, kByMember = 2, kNoStore = 4, kSearch = 8, kSearchStore = 16 };
enum class Sort { None, Asc, Desc };

void search(CommandContext& ctx, std::size_t keyAt, unsigned flags) {
  const auto& a = ctx.args;
  auto found = readAs(ctx, a[keyAt], Type::Zset);
  if (!found) return;
  const Store::Entry* e = *found;
  geo::Shape shape;
  std::size_t base = 0;
  std::optional<std::string_view> storeKey;  // "" is a key too
  bool storeDist = false;
  if (flags & kByCoords) {
    base = 6;
    const auto ll = lonLatOrReply(ctx, 2);
    if (!ll) return;
    std::tie(shape.lon, shape.lat) = *ll;
    if (!radiusOrReply(ctx, 4, shape)) return;
  } else if (flags & kByMember) {
    base = 5;
    if (e != nullptr) {
      const auto at = positionOf(e, a[2]);
      if (!at) return ctx.reply.error("ERR could not decode requested zset member");
      std::tie(shape.lon, shape.lat) = *at;
      if (!radiusOrReply(ctx, 3, shape)) return;
    }
  } else {
    base = (flags & kSearchStore) ? 3 : 2;
    if (flags & kSearchStore) storeKey = a[1];
  }
  bool withDist = false, withHash = false, withCoord = false, any = false;
  bool fromMember = false, fromLonLat = false, byRadius = false, byBox = false;
  Sort sort = Sort::None;
  long long count = 0;
  const std::size_t remaining = a.size() > base ? a.size() - base : 0;
  for (std::size_t i = 0; i < remaining; ++i) {
    const std::string_view arg = a[base + i];
    const bool search = flags & kSearch;
    if (equalsIgnoreCase(arg, "withdist")) withDist = true;
    else if (equalsIgnoreCase(arg, "withhash")) withHash = true;
    else if (equalsIgnoreCase(arg, "withcoord")) withCoord = true;
    else if (equalsIgnoreCase(arg, "any")) any = true;
    else if (equalsIgnoreCase(arg, "asc")) sort = Sort::Asc;
    else if (equalsIgnoreCase(arg, "desc")) sort = Sort::Desc;
    else if (equalsIgnoreCase(arg, "count") && i + 1 < remaining) {
      const auto c = parseInteger(a[base + i + 1]);
      if (!c) return ctx.reply.error(kNotInteger);
      if (*c <= 0) return ctx.reply.error("ERR COUNT must be > 0");
      count = *c;
      ++i;
    } else if ((equalsIgnoreCase(arg, "store") || equalsIgnoreCase(arg, "storedist")) && i + 1 < remaining &&
               !(flags & kNoStore) && !search) {
      storeKey = a[base + i + 1];
      storeDist = equalsIgnoreCase(arg, "storedist");
      ++i;
    } else if (equalsIgnoreCase(arg, "storedist") && search && (flags & kSearchStore)) {
      storeDist = true;
    } else if (equalsIgnoreCase(arg, "frommember") && i + 1 < remaining && search && !fromLonLat) {
      if (e != nullptr) {
        const auto at = positionOf(e, a[base + i + 1]);
        if (!at) return ctx.reply.error("ERR could not decode requested zset member");
        std::tie(shape.lon, shape.lat) = *at;
      }
      fromMember = true;
      ++i;
    } else if (equalsIgnoreCase(arg, "fromlonlat") && i + 2 < remaining && search && !fromMember) {
      const auto ll = lonLatOrReply(ctx, base + i + 1);
      if (!ll) return;
      std::tie(shape.lon, shape.lat) = *ll;
      fromLonLat = true;
      i += 2;
    } else if (equalsIgnoreCase(arg, "byradius") && i + 2 < remaining && search && !byBox) {
      if (!radiusOrReply(ctx, base + i + 1, shape)) return;
      byRadius = true;
      i += 2;
    } else if (equalsIgnoreCase(arg, "bybox") && i + 3 < remaining && search && !byRadius) {
      const auto w = parseDouble(a[base + i + 1]);
      if (!w) return ctx.reply.error("ERR need numeric width");
      const auto h = parseDouble(a[base + i + 2]);
      if (!h) return ctx.reply.error("ERR need numeric height");
      if (*h < 0 || *w < 0) return ctx.reply.error("ERR height or width cannot be negative");
      const auto unit = unitOrReply(ctx, a[base + i + 3]);
      if (!unit) return;
      shape.circle = false;
      shape.width = *w;
      shape.height = *h;
      shape.toMeters = *unit;
      byBox = true;
      i += 3;
    } else {
      return ctx.reply.error(kSyntaxError);
    }
  }
  if (storeKey.has_value() && (withDist || withHash || withCoord)) {
    return ctx.reply.error(std::string("ERR ") + ((flags & kSearchStore) ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS") +
                           " is not compatible with WITHDIST, WITHHASH and WITHCOORD options");
  }
  if ((flags & kSearch) && !(fromMember || fromLonLat)) {
    return ctx.reply.error("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for " + std::string(a[0]));
  }
  if ((flags & kSearch) && !(byRadius || byBox)) {
    return ctx.reply.error("ERR exactly one of BYRADIUS and BYBOX can be specified for " + std::string(a[0]));
  }
  if (any && count == 0) return ctx.reply.error("ERR the ANY argument requires COUNT argument");
  if (e == nullptr) {
    if (!storeKey) return ctx.reply.array(0);
    ctx.store.erase(*storeKey);
    return ctx.reply.integer(0);
  }
  if (count != 0 && sort == Sort::None && !any) sort = Sort::Asc;
  std::vector<Point> points = pointsInside(e, shape, any ? static_cast<std::size_t>(count) : 0);
  if (points.empty() && !storeKey) return ctx.reply.array(0);
  const std::size_t returned = count == 0 ? points.size() : std::min<std::size_t>(points.size(), static_cast<std::size_t>(count));
  if (sort != Sort::None) {
    std::stable_sort(points.begin(), points.end(), [&](const Point& x, const Point& y) {
      return sort == Sort::Asc ? x.meters < y.meters : x.meters > y.meters;
    });
  }
  points.resize(returned);
  if (storeKey.has_value()) {
    std::vector<Scored> items;
    for (const Point& p : points) items.push_back({p.member, storeDist ? p.meters / shape.toMeters : p.score});
    std::sort(items.begin(), items.end(), [](const Scored& x, const Scored& y) {
      return score::before(x.score, x.member, y.score, y.member);
    });
    return ctx.reply.integer(static_cast<long long>(storeScored(ctx, *storeKey, items)));
  }
  const std::size_t options = withDist + withHash + withCoord;
  ctx.reply.array(points.size());
  for (const Point& p : points) {
    if (options) ctx.reply.array(options + 1);
    ctx.reply.bulk(p.member);
    if (withDist) replyDistance(ctx, p.meters / shape.toMeters);
    if (withHash) ctx.reply.integer(static_cast<long long>(p.score));
    if (withCoord) {
      ctx.reply.array(2);
      replyCoordinate(ctx, p.lon);
      replyCoordinate(ctx, p.lat);
    }
  }
}

}  // namespace

void geoadd(CommandContext& ctx) {
  const auto& a = ctx.args;
  bool xx = false, nx = false;
  std::size_t at = 2;
  for (; at < a.size(); ++at) {
    if (equalsIgnoreCase(a[at], "nx")) nx = true;
    else if (equalsIgnoreCase(a[at], "xx")) xx = true;
    else if (!equalsIgnoreCase(a[at], "ch")) break;
  }
  if ((a.size() - at) % 3 != 0 || (xx && nx)) return ctx.reply.error(kSyntaxError);
  // ZADD key [options] score member ..., the scores the points' geohashes.
  std::vector<std::string> scores;
  std::vector<std::string_view> zaddArgs(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(at));
  zaddArgs[0] = "zadd";
  scores.reserve((a.size() - at) / 3);
  for (std::size_t i = at; i < a.size(); i += 3) {
    const auto ll = lonLatOrReply(ctx, i);
    if (!ll) return;
    geo::Hash hash;
    geo::encode(ll->first, ll->second, geo::kStepMax, hash);
    scores.push_back(std::to_string(geo::align52(hash)));
  }
  for (std::size_t i = at, k = 0; i < a.size(); i += 3, ++k) {
    zaddArgs.push_back(scores[k]);
    zaddArgs.push_back(a[i + 2]);
  }
  CommandContext inner{ctx.worker, ctx.client, ctx.reply, ctx.store, zaddArgs, ctx.nowMs};
  zadd(inner);
}

void geodist(CommandContext& ctx) {
  double toMeters = 1;
  if (ctx.args.size() == 5) {
    const auto unit = unitOrReply(ctx, ctx.args[4]);
    if (!unit) return;
    toMeters = *unit;
  } else if (ctx.args.size() > 5) {
    return ctx.reply.error(kSyntaxError);
  }
  auto e = readAs(ctx, ctx.args[1], Type::Zset);
  if (!e) return;
  if (*e == nullptr) return ctx.reply.null();
  const auto p1 = positionOf(*e, ctx.args[2]), p2 = positionOf(*e, ctx.args[3]);
  if (!p1 || !p2) return ctx.reply.null();
  replyDistance(ctx, geo::distance(p1->first, p1->second, p2->first, p2->second) / toMeters);
}

void geohash(CommandContext& ctx) {
  static constexpr char kAlphabet[] = "0123456789bcdefghjkmnpqrstuvwxyz";
  forEachPosition(ctx, &resp::Reply::null, [&](double lon, double lat) {
    // Re-encoded over the standard -90..90 latitudes (Redis's are +-85).
    geo::Hash hash;
    geo::encode({-180, 180}, {-90, 90}, lon, lat, 26, hash);
    char text[11];
    for (int i = 0; i < 11; ++i) {
      const auto index = i == 10 ? 0 : (hash.bits >> (52 - ((i + 1) * 5))) & 0x1f;
      text[i] = kAlphabet[index];
    }
    ctx.reply.bulk(std::string_view(text, 11));
  });
}

void geopos(CommandContext& ctx) {
  forEachPosition(ctx, &resp::Reply::nullArray, [&](double lon, double lat) {
    ctx.reply.array(2);
    replyCoordinate(ctx, lon);
    replyCoordinate(ctx, lat);
  });
}

void georadius(CommandContext& ctx) { search(ctx, 1, kByCoords); }
void georadiusRo(CommandContext& ctx) { search(ctx, 1, kByCoords | kNoStore); }
void georadiusbymember(CommandContext& ctx) { search(ctx, 1, kByMember); }
void georadiusbymemberRo(CommandContext& ctx) { search(ctx, 1, kByMember | kNoStore); }
void geosearch(CommandContext& ctx) { search(ctx, 1, kSearch); }
void geosearchstore(CommandContext& ctx) { search(ctx, 2, kSearch | kSearchStore); }

// GEORADIUS ... STORE key / STOREDIST key name a second key.
void georadiusKeyIndices(std::span<const std::string_view> args, std::vector<std::size_t>& indices) {
  indices.push_back(1);
  for (std::size_t i = 2; i + 1 < args.size(); ++i) {
    if (equalsIgnoreCase(args[i], "store") || equalsIgnoreCase(args[i], "storedist")) indices.push_back(++i);
  }
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> geoCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "geoadd", .arity = -5, .flags = kWrite, .acl = acl::kGeo,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RW update", .handler = geoadd, .events = {.type = 'z', .event = "zadd"}},
      {.name = "geodist", .arity = -4, .flags = kReadonly, .acl = acl::kGeo,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = geodist},
      {.name = "geohash", .arity = -2, .flags = kReadonly, .acl = acl::kGeo,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = geohash},
      {.name = "geopos", .arity = -2, .flags = kReadonly, .acl = acl::kGeo,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = geopos},
      {.name = "georadius", .arity = -6, .flags = kWrite, .acl = acl::kGeo,
       .keys = {.find = georadiusKeyIndices}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RO access;OW update;OW update", .handler = georadius},
      {.name = "georadius_ro", .arity = -6, .flags = kReadonly, .acl = acl::kGeo,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = georadiusRo},
      {.name = "georadiusbymember", .arity = -5, .flags = kWrite, .acl = acl::kGeo,
       .keys = {.find = georadiusKeyIndices}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "RO access;OW update;OW update", .handler = georadiusbymember},
      {.name = "georadiusbymember_ro", .arity = -5, .flags = kReadonly, .acl = acl::kGeo,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = georadiusbymemberRo},
      {.name = "geosearch", .arity = -7, .flags = kReadonly, .acl = acl::kGeo,
       .keys = {1, 1, 1}, .cross = CrossWorker::Keyed, .keyFlags = "RO access", .handler = geosearch},
      {.name = "geosearchstore", .arity = -8, .flags = kWrite, .acl = acl::kGeo,
       .keys = {1, 2, 1}, .cross = CrossWorker::MultiOwnerAtomic, .keyFlags = "OW update;RO access", .handler = geosearchstore, .events = {.type = 'z', .event = "geosearchstore", .rule = KeyEventSpec::EventOrDel, .firstKeyOnly = true}},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
