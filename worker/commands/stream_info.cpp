// XINFO STREAM [FULL [COUNT n]], XINFO GROUPS, XINFO CONSUMERS, as Redis
// 7.0 lays them out (maps in RESP3, flat arrays in RESP2).
#include <algorithm>

#include "worker/commands/stream_access.h"
#include "worker/commands/stream_commands.h"

namespace keyloop::commands::streams {

using stream::Id;

namespace {

const stream::Stream* streamOrReply(CommandContext& ctx) {
  const auto e = readAs(ctx, ctx.args[2], Type::Stream);
  if (!e) return nullptr;
  if (*e == nullptr) return ctx.reply.error("ERR no such key"), nullptr;
  return &streamOf(*e);
}

void replyLag(resp::Reply& out, const stream::Stream& s, const stream::Group& g) {
  if (const auto lag = s.lag(g)) out.integer(*lag);
  else out.null();
}

void replyEntriesRead(resp::Reply& out, const stream::Group& g) {
  if (g.entriesRead != stream::kUnknownRead) out.integer(g.entriesRead);
  else out.null();
}

void replyEdge(resp::Reply& out, const stream::Stream& s, bool last) {
  bool found = false;
  s.range({}, stream::kMaxId, last, [&](Id id, stream::Fields fields) {
    replyEntry(out, id, fields);
    return !(found = true);
  });
  if (!found) out.null();
}

// Radix tree nodes Redis would have for these keys: a figure only.
long long treeNodes(const stream::Stream& s) { return static_cast<long long>(s.nodeCount()) * 2 + 1; }

void replyFullGroups(resp::Reply& out, const stream::Stream& s, std::size_t count) {
  out.array(s.groups.size());
  for (const auto& [name, g] : s.groups) {
    out.map(7);
    out.bulk("name");
    out.bulk(name);
    out.bulk("last-delivered-id");
    replyId(out, g.lastId);
    out.bulk("entries-read");
    replyEntriesRead(out, g);
    out.bulk("lag");
    replyLag(out, s, g);
    out.bulk("pel-count");
    out.integer(static_cast<long long>(g.pending.size()));
    out.bulk("pending");
    const std::size_t shown = count == 0 ? g.pending.size() : std::min(count, g.pending.size());
    out.array(shown);
    std::size_t n = 0;
    for (auto it = g.pending.begin(); n < shown; ++it, ++n) {
      out.array(4);
      replyId(out, it->first);
      out.bulk(it->second.owner->name);
      out.integer(it->second.deliveredMs);
      out.integer(static_cast<long long>(it->second.deliveries));
    }
    out.bulk("consumers");
    out.array(g.consumers.size());
    for (const auto& [cname, c] : g.consumers) {
      out.map(4);
      out.bulk("name");
      out.bulk(cname);
      out.bulk("seen-time");
      out.integer(c->seenMs);
      out.bulk("pel-count");
      out.integer(static_cast<long long>(c->pending.size()));
      out.bulk("pending");
      const std::size_t mine = count == 0 ? c->pending.size() : std::min(count, c->pending.size());
      out.array(mine);
      std::size_t k = 0;
      for (auto id = c->pending.begin(); k < mine; ++id, ++k) {
        const stream::Pending& p = g.pending.at(*id);
        out.array(3);
        replyId(out, *id);
        out.integer(p.deliveredMs);
        out.integer(static_cast<long long>(p.deliveries));
      }
    }
  }
}

}  // namespace

void xinfoStream(CommandContext& ctx) {
  const auto& a = ctx.args;
  // The key first, then the options (Redis's order of errors).
  const stream::Stream* s = streamOrReply(ctx);
  if (s == nullptr) return;
  bool full = false;
  long long count = 10;
  if (a.size() > 3) {
    if ((a.size() != 4 && a.size() != 6) || !equalsIgnoreCase(a[3], "full") ||
        (a.size() == 6 && !equalsIgnoreCase(a[4], "count"))) {
      return ctx.reply.error("ERR unknown subcommand or wrong number of arguments for '" + std::string(a[1]) +
                             "'. Try XINFO HELP.");
    }
    full = true;
    if (a.size() == 6) {
      const auto n = integerOrReply(ctx, a[5]);
      if (!n) return;
      count = *n < 0 ? 10 : *n;
    }
  }
  resp::Reply& out = ctx.reply;
  out.map(full ? 9 : 10);
  out.bulk("length");
  out.integer(static_cast<long long>(s->length()));
  out.bulk("radix-tree-keys");
  out.integer(static_cast<long long>(s->nodeCount()));
  out.bulk("radix-tree-nodes");
  out.integer(treeNodes(*s));
  out.bulk("last-generated-id");
  replyId(out, s->lastId);
  out.bulk("max-deleted-entry-id");
  replyId(out, s->maxDeletedId);
  out.bulk("entries-added");
  out.integer(static_cast<long long>(s->entriesAdded));
  out.bulk("recorded-first-entry-id");
  replyId(out, s->firstId);
  if (!full) {
    out.bulk("groups");
    out.integer(static_cast<long long>(s->groups.size()));
    out.bulk("first-entry");
    replyEdge(out, *s, false);
    out.bulk("last-entry");
    replyEdge(out, *s, true);
    return;
  }
  out.bulk("entries");
  replyRange(out, *s, {}, stream::kMaxId, static_cast<std::size_t>(count), false);
  out.bulk("groups");
  replyFullGroups(out, *s, static_cast<std::size_t>(count));
}

void xinfoGroups(CommandContext& ctx) {
  const stream::Stream* s = streamOrReply(ctx);
  if (s == nullptr) return;
  resp::Reply& out = ctx.reply;
  out.array(s->groups.size());
  for (const auto& [name, g] : s->groups) {
    out.map(6);
    out.bulk("name");
    out.bulk(name);
    out.bulk("consumers");
    out.integer(static_cast<long long>(g.consumers.size()));
    out.bulk("pending");
    out.integer(static_cast<long long>(g.pending.size()));
    out.bulk("last-delivered-id");
    replyId(out, g.lastId);
    out.bulk("entries-read");
    replyEntriesRead(out, g);
    out.bulk("lag");
    replyLag(out, *s, g);
  }
}

void xinfoConsumers(CommandContext& ctx) {
  const stream::Stream* s = streamOrReply(ctx);
  if (s == nullptr) return;
  auto it = s->groups.find(ctx.args[3]);
  if (it == s->groups.end()) {
    return ctx.reply.error("NOGROUP No such consumer group '" + std::string(ctx.args[3]) + "' for key name '" +
                           std::string(ctx.args[2]) + "'");
  }
  resp::Reply& out = ctx.reply;
  out.array(it->second.consumers.size());
  for (const auto& [name, c] : it->second.consumers) {
    out.map(3);
    out.bulk("name");
    out.bulk(name);
    out.bulk("pending");
    out.integer(static_cast<long long>(c->pending.size()));
    out.bulk("idle");
    out.integer(std::max<long long>(ctx.nowMs - c->seenMs, 0));
  }
}

void xinfoHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "CONSUMERS <key> <groupname>",
      "    Show consumers of <groupname>.",
      "GROUPS <key>",
      "    Show the stream consumer groups.",
      "STREAM <key> [FULL [COUNT <count>]",
      "    Show information about the stream.",
      "HELP",
      "    Prints this help.",
  };
  replyHelp(ctx, kLines);
}

}  // namespace keyloop::commands::streams
