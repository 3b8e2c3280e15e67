// Consumer groups: XGROUP, XREADGROUP, XACK, XCLAIM, XAUTOCLAIM and
// XPENDING, as Redis 7.0 answers and propagates them (a delivery travels
// as XCLAIM ... JUSTID, a moved group as XGROUP SETID ... ENTRIESREAD).
#include <algorithm>

#include "worker/commands/stream_access.h"
#include "worker/commands/stream_commands.h"

namespace keyloop::commands::streams {

using stream::Id;

namespace {

void propagateNothingYet(CommandContext& ctx) {
  if (ctx.effects != nullptr) ctx.effects->rewritten = true;  // only what the handler adds
}

std::string noGroup(std::string_view key, std::string_view group) {
  return "NOGROUP No such key '" + std::string(key) + "' or consumer group '" + std::string(group) + "'";
}

void replySubcommandSyntaxError(CommandContext& ctx, std::string_view container) {
  ctx.reply.error("ERR unknown subcommand or wrong number of arguments for '" + std::string(ctx.args[1]) + "'. Try " +
                  std::string(container) + " HELP.");
}

// Redis's streamPropagateXCLAIM: the delivery as the replica must make it.
void propagateClaim(CommandContext& ctx, std::string_view key, std::string_view group, const stream::Group& g, Id id,
                    const stream::Pending& p) {
  ctx.propagateAs({"XCLAIM", std::string(key), std::string(group), p.owner->name, "0", stream::format(id), "TIME",
                   std::to_string(p.deliveredMs), "RETRYCOUNT", std::to_string(p.deliveries), "FORCE", "JUSTID",
                   "LASTID", stream::format(g.lastId)});
}

void propagateGroupId(CommandContext& ctx, std::string_view key, std::string_view group, const stream::Group& g) {
  ctx.propagateAs({"XGROUP", "SETID", std::string(key), std::string(group), stream::format(g.lastId), "ENTRIESREAD",
                   std::to_string(g.entriesRead)});
}

stream::Consumer& consumerSeen(CommandContext& ctx, stream::Group& g, std::string_view name, std::string_view key) {
  bool created = false;
  stream::Consumer& c = g.consumer(name, ctx.nowMs, &created);
  c.seenMs = ctx.nowMs;
  if (created) ctx.raise('t', "xgroup-createconsumer", key);
  return c;
}

// The consumer's own pending entries from `start` (XREADGROUP with an ID):
// each delivered again; one that was deleted since comes as [id, nil].
void replyHistory(CommandContext& ctx, resp::Reply& out, const stream::Stream& s, stream::Group& g,
                  stream::Consumer& c, Id start, std::size_t count) {
  Deferred entries(out);
  for (auto it = c.pending.lower_bound(start); it != c.pending.end() && (count == 0 || entries.count() < count); ++it) {
    bool found = false;
    s.range(*it, *it, false, [&](Id id, stream::Fields fields) {
      replyEntry(entries.reply(), id, fields);
      return !(found = true);
    });
    if (found) {
      stream::Pending& p = g.pending.at(*it);
      p.deliveredMs = ctx.nowMs;
      ++p.deliveries;
    } else {
      entries.reply().array(2);
      replyId(entries.reply(), *it);
      entries.reply().nullArray();
    }
    entries.counted();
  }
  entries.flushArray(out);
}

// New entries for the group (XREADGROUP with ">"): each moves the group's
// last ID and joins the consumer's pending entries unless NOACK.
void replyNew(CommandContext& ctx, resp::Reply& out, const stream::Stream& s, stream::Group& g, stream::Consumer& c,
              std::string_view key, std::string_view group, const ReadArgs& r) {
  Id start = g.lastId;
  stream::increment(start);
  const Id before = g.lastId;
  Deferred entries(out);
  s.range(start, stream::kMaxId, false, [&](Id id, stream::Fields fields) {
    s.noteRead(g, id);
    replyEntry(entries.reply(), id, fields);
    if (!r.noAck) propagateClaim(ctx, key, group, g, id, g.deliver(id, c, ctx.nowMs));
    entries.counted();
    return r.count == 0 || entries.count() < r.count;
  });
  if (r.noAck && g.lastId != before) propagateGroupId(ctx, key, group, g);
  entries.flushArray(out);
}

}  // namespace

void xreadgroup(CommandContext& ctx) {
  const auto r = readArgsOrReply(ctx, true);
  if (!r) return;
  propagateNothingYet(ctx);
  const auto& a = ctx.args;
  struct Read {
    Store::Entry* e;
    stream::Group* g;
    std::optional<Id> history;  // nullopt: ">"
  };
  std::vector<Read> reads;
  for (std::size_t k = 0; k < r->keys; ++k) {
    const std::string_view key = a[r->streamsAt + k], idArg = a[r->streamsAt + r->keys + k];
    const auto e = readAs(ctx, key, Type::Stream);
    if (!e) return;
    stream::Group* g = nullptr;
    if (*e != nullptr) {
      auto it = streamOf(*e).groups.find(r->group);
      if (it != streamOf(*e).groups.end()) g = &it->second;
    }
    if (g == nullptr) return ctx.reply.error(noGroup(key, r->group) + " in XREADGROUP with GROUP option");
    if (idArg == "$") {
      return ctx.reply.error(
          "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by "
          "specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result "
          "set.");
    }
    if (idArg == ">") {
      reads.push_back({*e, g, std::nullopt});
      continue;
    }
    const auto id = idOrReply(ctx, idArg, 0, true);
    if (!id) return;
    reads.push_back({*e, g, *id});
  }
  Deferred streams(ctx.reply);
  for (std::size_t k = 0; k < reads.size(); ++k) {
    const std::string_view key = a[r->streamsAt + k];
    const stream::Stream& s = streamOf(reads[k].e);
    stream::Group& g = *reads[k].g;
    if (!reads[k].history && (s.length() == 0 || s.lastEntry().value_or(Id{}) <= g.lastId)) continue;
    resp::Reply& out = streams.reply();
    if (out.protocol() == resp::Protocol::Resp2) out.array(2);
    out.bulk(key);
    bool created = g.find(r->consumer) == nullptr;
    stream::Consumer& c = consumerSeen(ctx, g, r->consumer, key);
    if (created && r->noAck) ctx.propagateAs({"XGROUP", "CREATECONSUMER", std::string(key), std::string(r->group), c.name});
    if (reads[k].history) {
      Id start = *reads[k].history;
      stream::increment(start);
      replyHistory(ctx, out, s, g, c, start, r->count);
    } else {
      replyNew(ctx, out, s, g, c, key, r->group, *r);
    }
    streams.counted();
  }
  if (streams.count() == 0) {
    ctx.changedNothing();
    return ctx.reply.nullArray();
  }
  ctx.reply.protocol() == resp::Protocol::Resp2 ? streams.flushArray(ctx.reply) : streams.flushMap(ctx.reply);
}

void xack(CommandContext& ctx) {
  const auto e = readAs(ctx, ctx.args[1], Type::Stream);
  if (!e) return;
  stream::Group* g = nullptr;
  if (*e != nullptr) {
    auto it = streamOf(*e).groups.find(ctx.args[2]);
    if (it != streamOf(*e).groups.end()) g = &it->second;
  }
  if (g == nullptr) {
    ctx.changedNothing();
    return ctx.reply.integer(0);
  }
  const auto ids = idsOrReply(ctx, 3);
  if (!ids) return;
  long long acknowledged = 0;
  for (const Id& id : *ids) {
    auto it = g->pending.find(id);
    if (it == g->pending.end()) continue;
    g->acknowledge(it);
    ++acknowledged;
  }
  if (acknowledged == 0) ctx.changedNothing();
  ctx.reply.integer(acknowledged);
}

namespace {

// XCLAIM's and XAUTOCLAIM's group, after replying NOGROUP or WRONGTYPE when there is none.
std::optional<std::pair<Store::Entry*, stream::Group*>> claimGroupOrReply(CommandContext& ctx) {
  const auto e = readAs(ctx, ctx.args[1], Type::Stream);
  if (!e) return std::nullopt;
  if (*e != nullptr) {
    auto it = streamOf(*e).groups.find(ctx.args[2]);
    if (it != streamOf(*e).groups.end()) return std::pair{*e, &it->second};
  }
  ctx.reply.error(noGroup(ctx.args[1], ctx.args[2]));
  return std::nullopt;
}

// Gives a pending entry to `c` as XCLAIM and XAUTOCLAIM do.
void claim(stream::Pending& p, Id id, stream::Consumer& c) {
  if (p.owner == &c) return;
  if (p.owner != nullptr) p.owner->pending.erase(id);
  p.owner = &c;
  c.pending.insert(id);
}

void replyClaimed(resp::Reply& out, const stream::Stream& s, Id id, bool justId) {
  if (justId) return replyId(out, id);
  s.range(id, id, false, [&](Id found, stream::Fields fields) { return replyEntry(out, found, fields), false; });
}

}  // namespace

void xclaim(CommandContext& ctx) {
  const auto found = claimGroupOrReply(ctx);
  if (!found) return;
  const auto& a = ctx.args;
  const auto minIdleArg = parseInteger(a[4]);
  if (!minIdleArg) return ctx.reply.error("ERR Invalid min-idle-time argument for XCLAIM");
  const long long minIdle = std::max(*minIdleArg, 0LL);
  std::vector<Id> ids;
  std::size_t j = 5;
  for (; j < a.size(); ++j) {
    const auto id = stream::parse(a[j], 0, true);
    if (!id) break;
    ids.push_back(*id);
  }
  long long retryCount = -1, deliveryTime = -1;
  bool force = false, justId = false;
  Id lastId;
  const std::int64_t now = ctx.nowMs;
  for (; j < a.size(); ++j) {
    const bool more = j + 1 < a.size();
    auto number = [&](std::string_view option) -> std::optional<long long> {
      const auto v = parseInteger(a[++j]);
      if (!v) ctx.reply.error("ERR Invalid " + std::string(option) + " option argument for XCLAIM");
      return v;
    };
    if (equalsIgnoreCase(a[j], "force")) {
      force = true;
    } else if (equalsIgnoreCase(a[j], "justid")) {
      justId = true;
    } else if (equalsIgnoreCase(a[j], "idle") && more) {
      const auto v = number("IDLE");
      if (!v) return;
      deliveryTime = now - *v;
    } else if (equalsIgnoreCase(a[j], "time") && more) {
      const auto v = number("TIME");
      if (!v) return;
      deliveryTime = *v;
    } else if (equalsIgnoreCase(a[j], "retrycount") && more) {
      const auto v = number("RETRYCOUNT");
      if (!v) return;
      retryCount = *v;
    } else if (equalsIgnoreCase(a[j], "lastid") && more) {
      const auto id = idOrReply(ctx, a[++j], 0, true);
      if (!id) return;
      lastId = *id;
    } else {
      return ctx.reply.error("ERR Unrecognized XCLAIM option '" + std::string(a[j]) + "'");
    }
  }
  propagateNothingYet(ctx);
  const stream::Stream& s = streamOf(found->first);
  stream::Group& g = *found->second;
  bool propagateLastId = false;
  if (lastId > g.lastId) {
    g.lastId = lastId;
    propagateLastId = true;
  }
  if (deliveryTime == -1 || deliveryTime < 0 || deliveryTime > now) deliveryTime = now;
  stream::Consumer* c = nullptr;
  Deferred claimed(ctx.reply);
  for (const Id& id : ids) {
    auto it = g.pending.find(id);
    if (!s.contains(id)) {
      if (it != g.pending.end()) {  // gone from the stream: it leaves the pending list too
        propagateClaim(ctx, a[1], a[2], g, id, it->second);
        propagateLastId = false;
        g.acknowledge(it);
      }
      continue;
    }
    if (it == g.pending.end()) {
      if (!force) continue;
      it = g.pending.emplace(id, stream::Pending{now, 0, nullptr}).first;
    }
    stream::Pending& p = it->second;
    if (p.owner != nullptr && minIdle > 0 && now - p.deliveredMs < minIdle) continue;
    if (c == nullptr) c = &consumerSeen(ctx, g, a[3], a[1]);
    claim(p, id, *c);
    p.deliveredMs = deliveryTime;
    if (retryCount >= 0) p.deliveries = static_cast<std::uint64_t>(retryCount);
    else if (!justId) ++p.deliveries;
    replyClaimed(claimed.reply(), s, id, justId);
    claimed.counted();
    propagateClaim(ctx, a[1], a[2], g, id, p);
    propagateLastId = false;
  }
  if (propagateLastId) propagateGroupId(ctx, a[1], a[2], g);
  claimed.flushArray(ctx.reply);
}

void xautoclaim(CommandContext& ctx) {
  const auto& a = ctx.args;
  const auto minIdleArg = parseInteger(a[4]);
  if (!minIdleArg) return ctx.reply.error("ERR Invalid min-idle-time argument for XAUTOCLAIM");
  const long long minIdle = std::max(*minIdleArg, 0LL);
  const auto start = startOrReply(ctx, a[5]);
  if (!start) return;
  long long count = 100;
  bool justId = false;
  for (std::size_t j = 6; j < a.size(); ++j) {
    if (equalsIgnoreCase(a[j], "count") && j + 1 < a.size()) {
      const auto n = parseInteger(a[++j]);
      if (!n || *n < 1 || *n > LLONG_MAX / 16) return ctx.reply.error("ERR COUNT must be > 0");
      count = *n;
    } else if (equalsIgnoreCase(a[j], "justid")) {
      justId = true;
    } else {
      return ctx.reply.error(kSyntaxError);
    }
  }
  const auto found = claimGroupOrReply(ctx);
  if (!found) return;
  propagateNothingYet(ctx);
  const stream::Stream& s = streamOf(found->first);
  stream::Group& g = *found->second;
  const std::int64_t now = ctx.nowMs;
  long long attempts = count * 10;
  stream::Consumer* c = nullptr;
  Deferred claimed(ctx.reply);
  std::vector<Id> deleted;
  auto it = g.pending.lower_bound(*start);
  while (attempts-- > 0 && count > 0 && it != g.pending.end()) {
    const Id id = it->first;
    if (!s.contains(id)) {
      propagateClaim(ctx, a[1], a[2], g, id, it->second);
      auto next = std::next(it);
      g.acknowledge(it);
      it = next;
      deleted.push_back(id);
      --count;
      continue;
    }
    stream::Pending& p = it->second;
    ++it;
    if (minIdle > 0 && now - p.deliveredMs < minIdle) continue;
    if (c == nullptr) c = &consumerSeen(ctx, g, a[3], a[1]);
    claim(p, id, *c);
    p.deliveredMs = now;
    if (!justId) ++p.deliveries;
    replyClaimed(claimed.reply(), s, id, justId);
    claimed.counted();
    --count;
    propagateClaim(ctx, a[1], a[2], g, id, p);
  }
  ctx.reply.array(3);
  replyId(ctx.reply, it == g.pending.end() ? Id{} : it->first);
  claimed.flushArray(ctx.reply);
  ctx.reply.array(deleted.size());
  for (const Id& id : deleted) replyId(ctx.reply, id);
}

void xpending(CommandContext& ctx) {
  const auto& a = ctx.args;
  const bool summary = a.size() == 3;
  if (!summary && (a.size() < 6 || a.size() > 9)) return ctx.reply.error(kSyntaxError);
  Id from, to;
  long long count = 0, minIdle = 0;
  std::optional<std::string_view> consumerName;
  if (!summary) {
    std::size_t at = 3;
    if (equalsIgnoreCase(a[3], "idle")) {
      const auto v = integerOrReply(ctx, a[4]);
      if (!v) return;
      minIdle = *v;
      if (a.size() < 8) return ctx.reply.error(kSyntaxError);
      at += 2;
    }
    const auto n = integerOrReply(ctx, a[at + 2]);
    if (!n) return;
    count = std::max(*n, 0LL);
    const auto f = startOrReply(ctx, a[at]);
    if (!f) return;
    const auto t = endOrReply(ctx, a[at + 1]);
    if (!t) return;
    from = *f;
    to = *t;
    if (at + 3 < a.size()) consumerName = a[at + 3];
  }
  const auto e = readAs(ctx, a[1], Type::Stream);
  if (!e) return;
  const stream::Group* g = nullptr;
  if (*e != nullptr) {
    auto it = streamOf(*e).groups.find(a[2]);
    if (it != streamOf(*e).groups.end()) g = &it->second;
  }
  if (g == nullptr) return ctx.reply.error(noGroup(a[1], a[2]));
  if (summary) {
    ctx.reply.array(4);
    ctx.reply.integer(static_cast<long long>(g->pending.size()));
    if (g->pending.empty()) {
      ctx.reply.null();
      ctx.reply.null();
      return ctx.reply.nullArray();
    }
    replyId(ctx.reply, g->pending.begin()->first);
    replyId(ctx.reply, g->pending.rbegin()->first);
    Deferred owners(ctx.reply);
    for (const auto& [name, c] : g->consumers) {
      if (c->pending.empty()) continue;
      owners.reply().array(2);
      owners.reply().bulk(name);
      owners.reply().bulk(std::to_string(c->pending.size()));
      owners.counted();
    }
    return owners.flushArray(ctx.reply);
  }
  const stream::Consumer* only = nullptr;
  if (consumerName) {
    only = g->find(*consumerName);
    if (only == nullptr) return ctx.reply.array(0);
  }
  Deferred rows(ctx.reply);
  auto visit = [&](Id id, const stream::Pending& p) {
    if (count == 0 || id > to) return false;
    const long long idle = std::max<long long>(ctx.nowMs - p.deliveredMs, 0);
    if (minIdle > 0 && ctx.nowMs - p.deliveredMs < minIdle) return true;
    resp::Reply& out = rows.reply();
    out.array(4);
    replyId(out, id);
    out.bulk(p.owner->name);
    out.integer(idle);
    out.integer(static_cast<long long>(p.deliveries));
    rows.counted();
    --count;
    return true;
  };
  if (only != nullptr) {
    for (auto it = only->pending.lower_bound(from); it != only->pending.end() && visit(*it, g->pending.at(*it)); ++it) {
    }
  } else {
    for (auto it = g->pending.lower_bound(from); it != g->pending.end() && visit(it->first, it->second); ++it) {
    }
  }
  rows.flushArray(ctx.reply);
}

// ---- XGROUP ----

namespace {

struct GroupTarget {
  Store::Entry* e = nullptr;  // null: no stream (CREATE ... MKSTREAM makes one)
  stream::Group* g = nullptr;
  bool mkStream = false;
  long long entriesRead = stream::kUnknownRead;
};

// XGROUP's common part (Redis's xgroupCommand before the subcommand):
// options from args[5], the key, the group; nullopt after replying.
std::optional<GroupTarget> groupTargetOrReply(CommandContext& ctx, bool create, bool setId, bool groupNeeded) {
  const auto& a = ctx.args;
  GroupTarget t;
  for (std::size_t i = 5; i < a.size();) {
    if (create && equalsIgnoreCase(a[i], "mkstream")) {
      t.mkStream = true;
      ++i;
    } else if ((create || setId) && equalsIgnoreCase(a[i], "entriesread") && i + 1 < a.size()) {
      const auto n = integerOrReply(ctx, a[i + 1]);
      if (!n) return std::nullopt;
      if (*n < 0 && *n != stream::kUnknownRead) {
        return ctx.reply.error("ERR value for ENTRIESREAD must be positive or -1"), std::nullopt;
      }
      t.entriesRead = *n;
      i += 2;
    } else {
      return replySubcommandSyntaxError(ctx, "XGROUP"), std::nullopt;
    }
  }
  const auto e = writeAs(ctx, a[2], Type::Stream);
  if (!e) return std::nullopt;
  t.e = *e;
  if (t.mkStream) return t;
  if (t.e == nullptr) {
    ctx.reply.error("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use "
                    "the MKSTREAM option to create an empty stream automatically.");
    return std::nullopt;
  }
  auto it = streamOf(t.e).groups.find(a[3]);
  if (it != streamOf(t.e).groups.end()) t.g = &it->second;
  if (t.g == nullptr && groupNeeded) {
    ctx.reply.error("NOGROUP No such consumer group '" + std::string(a[3]) + "' for key name '" + std::string(a[2]) +
                    "'");
    return std::nullopt;
  }
  return t;
}

}  // namespace

void xgroupCreate(CommandContext& ctx) {
  auto t = groupTargetOrReply(ctx, true, false, false);
  if (!t) return;
  if (ctx.args.size() > 8) return replySubcommandSyntaxError(ctx, "XGROUP");
  Id id;
  if (ctx.args[4] == "$") {
    id = t->e != nullptr ? streamOf(t->e).lastId : Id{};
  } else {
    const auto parsed = idOrReply(ctx, ctx.args[4], 0, true);
    if (!parsed) return;
    id = *parsed;
  }
  if (t->e != nullptr && streamOf(t->e).groups.contains(ctx.args[3])) {
    return ctx.reply.error("BUSYGROUP Consumer Group name already exists");
  }
  if (t->e == nullptr) t->e = createStream(ctx, ctx.args[2]);
  stream::Group& g = streamOf(t->e).groups[std::string(ctx.args[3])];
  g.lastId = id;
  g.entriesRead = t->entriesRead;
  ctx.reply.ok();
}

void xgroupSetid(CommandContext& ctx) {
  auto t = groupTargetOrReply(ctx, false, true, true);
  if (!t) return;
  if (ctx.args.size() != 5 && ctx.args.size() != 7) return replySubcommandSyntaxError(ctx, "XGROUP");
  Id id;
  if (ctx.args[4] == "$") {
    id = streamOf(t->e).lastId;
  } else {
    const auto parsed = idOrReply(ctx, ctx.args[4], 0, false);
    if (!parsed) return;
    id = *parsed;
  }
  t->g->lastId = id;
  t->g->entriesRead = t->entriesRead;
  ctx.reply.ok();
}

void xgroupDestroy(CommandContext& ctx) {
  auto t = groupTargetOrReply(ctx, false, false, false);
  if (!t) return;
  if (t->g == nullptr) return ctx.reply.integer(0);
  streamOf(t->e).groups.erase(std::string(ctx.args[3]));
  ctx.reply.integer(1);
}

void xgroupCreateconsumer(CommandContext& ctx) {
  auto t = groupTargetOrReply(ctx, false, false, true);
  if (!t) return;
  bool created = false;
  t->g->consumer(ctx.args[4], ctx.nowMs, &created);
  ctx.reply.integer(created ? 1 : 0);
}

void xgroupDelconsumer(CommandContext& ctx) {
  auto t = groupTargetOrReply(ctx, false, false, true);
  if (!t) return;
  if (t->g->find(ctx.args[4]) == nullptr) {
    ctx.changedNothing();
    return ctx.reply.integer(0);
  }
  ctx.reply.integer(static_cast<long long>(t->g->removeConsumer(ctx.args[4])));
}

void xgroupHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "CREATE <key> <groupname> <id|$> [option]",
      "    Create a new consumer group. Options are:",
      "    * MKSTREAM",
      "      Create the empty stream if it does not exist.",
      "    * ENTRIESREAD entries_read",
      "      Set the group's entries_read counter (internal use).",
      "CREATECONSUMER <key> <groupname> <consumer>",
      "    Create a new consumer in the specified group.",
      "DELCONSUMER <key> <groupname> <consumer>",
      "    Remove the specified consumer.",
      "DESTROY <key> <groupname>",
      "    Remove the specified group.",
      "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
      "    Set the current group ID and entries_read counter.",
      "HELP",
      "    Prints this help.",
  };
  replyHelp(ctx, kLines);
}

}  // namespace keyloop::commands::streams
