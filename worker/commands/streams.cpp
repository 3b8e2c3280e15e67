// Streams' entries: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XSETID
// and XREAD, as Redis 7.0's t_stream.c answers them; the helpers every
// stream command shares (stream_access.h).
#include <algorithm>

#include "worker/commands/stream_access.h"
#include "worker/commands/stream_commands.h"

namespace keyloop::commands::streams {

using stream::Id;

Store::Entry* createStream(CommandContext& ctx, std::string_view key) {
  return ctx.store.setObject(ctx.store.set(key, {}, kNoExpiry), new stream::Stream(), Kind::Stream);
}

stream::Limits streamLimits(const CommandContext& ctx) {
  const EncodingConfig& e = ctx.worker.config().encoding;
  return {e.streamNodeMaxBytes, static_cast<long long>(e.streamNodeMaxEntries)};
}

std::optional<Id> idOrReply(CommandContext& ctx, std::string_view arg, std::uint64_t missingSeq, bool strict) {
  const auto id = stream::parse(arg, missingSeq, strict);
  if (!id) ctx.reply.error(kInvalidId);
  return id;
}

std::optional<std::vector<Id>> idsOrReply(CommandContext& ctx, std::size_t from) {
  std::vector<Id> ids;
  for (std::size_t i = from; i < ctx.args.size(); ++i) {
    const auto id = idOrReply(ctx, ctx.args[i], 0, true);
    if (!id) return std::nullopt;
    ids.push_back(*id);
  }
  return ids;
}

std::optional<Id> startOrReply(CommandContext& ctx, std::string_view arg) {
  const bool exclusive = arg.size() > 1 && arg[0] == '(';
  auto id = idOrReply(ctx, exclusive ? arg.substr(1) : arg, 0, exclusive);
  if (id && exclusive && !stream::increment(*id)) {
    ctx.reply.error("ERR invalid start ID for the interval");
    return std::nullopt;
  }
  return id;
}

std::optional<Id> endOrReply(CommandContext& ctx, std::string_view arg) {
  const bool exclusive = arg.size() > 1 && arg[0] == '(';
  auto id = idOrReply(ctx, exclusive ? arg.substr(1) : arg, UINT64_MAX, exclusive);
  if (id && exclusive && !stream::decrement(*id)) {
    ctx.reply.error("ERR invalid end ID for the interval");
    return std::nullopt;
  }
  return id;
}

void replyId(resp::Reply& reply, Id id) { reply.bulk(stream::format(id)); }

void replyEntry(resp::Reply& reply, Id id, stream::Fields fields) {
  reply.array(2);
  replyId(reply, id);
  reply.array(fields.size());
  for (std::string_view f : fields) reply.bulk(f);
}

std::size_t replyRange(resp::Reply& reply, const stream::Stream& s, Id from, Id to, std::size_t count,
                       bool backwards) {
  Deferred entries(reply);
  s.range(from, to, backwards, [&](Id id, stream::Fields fields) {
    replyEntry(entries.reply(), id, fields);
    entries.counted();
    return count == 0 || entries.count() < count;
  });
  entries.flushArray(reply);
  return entries.count();
}

std::optional<AddOrTrimArgs> addOrTrimArgsOrReply(CommandContext& ctx, bool xadd) {
  const auto& a = ctx.args;
  AddOrTrimArgs out;
  stream::Trim& t = out.trim;
  std::size_t i = 2;
  for (; i < a.size(); ++i) {
    const std::size_t more = a.size() - 1 - i;
    if (xadd && a[i] == "*") break;
    const bool maxlen = equalsIgnoreCase(a[i], "maxlen"), minid = equalsIgnoreCase(a[i], "minid");
    if ((maxlen || minid) && more > 0) {
      if (t.by != stream::Trim::By::None) {
        return ctx.reply.error("ERR syntax error, MAXLEN and MINID options at the same time are not compatible"),
               std::nullopt;
      }
      t.approximate = false;
      if (more >= 2 && (a[i + 1] == "~" || a[i + 1] == "=")) t.approximate = a[++i] == "~";
      const std::string_view threshold = a[i + 1];
      if (maxlen) {
        const auto n = parseInteger(threshold);
        if (!n) return ctx.reply.error(kNotInteger), std::nullopt;
        if (*n < 0) return ctx.reply.error("ERR The MAXLEN argument must be >= 0."), std::nullopt;
        t.maxLen = static_cast<std::uint64_t>(*n);
        t.by = stream::Trim::By::MaxLen;
      } else {
        const auto id = idOrReply(ctx, threshold, 0, true);
        if (!id) return std::nullopt;
        t.minId = *id;
        t.by = stream::Trim::By::MinId;
      }
      out.thresholdAt = ++i;
    } else if (equalsIgnoreCase(a[i], "limit") && more > 0) {
      const auto n = parseInteger(a[i + 1]);
      if (!n) return ctx.reply.error(kNotInteger), std::nullopt;
      if (*n < 0) return ctx.reply.error("ERR The LIMIT argument must be >= 0."), std::nullopt;
      t.limit = *n;
      out.limitGiven = true;
      ++i;
    } else if (xadd && equalsIgnoreCase(a[i], "nomkstream")) {
      out.noMkStream = true;
    } else if (xadd) {
      const bool partial = a[i].size() > 2 && a[i].ends_with("-*");
      const auto id = idOrReply(ctx, partial ? a[i].substr(0, a[i].size() - 2) : a[i], 0, true);
      if (!id) return std::nullopt;
      out.id = *id;
      out.seqGiven = !partial;
      break;
    } else {
      return ctx.reply.error(kSyntaxError), std::nullopt;
    }
  }
  out.idAt = i;
  if (t.limit != 0 && t.by == stream::Trim::By::None) {
    return ctx.reply.error("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"),
           std::nullopt;
  }
  if (!xadd && t.by == stream::Trim::By::None) {
    return ctx.reply.error("ERR syntax error, XTRIM must be called with a trimming strategy"), std::nullopt;
  }
  if (out.limitGiven && !t.approximate) {
    return ctx.reply.error("ERR syntax error, LIMIT cannot be used without the special ~ option"), std::nullopt;
  }
  if (!out.limitGiven && t.approximate) {
    // Redis bounds the work of an unlimited "~" at 100 nodes.
    const long long perNode = static_cast<long long>(ctx.worker.config().encoding.streamNodeMaxEntries);
    t.limit = perNode <= 0 ? 10000 : std::min(100 * perNode, 1000000LL);
  }
  return out;
}

std::vector<std::string> exactTrimForm(const CommandContext& ctx, const AddOrTrimArgs& a, const stream::Stream& s) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < ctx.args.size(); ++i) {
    if (a.limitGiven && i + 1 < a.idAt && equalsIgnoreCase(ctx.args[i], "limit") && i + 1 != a.thresholdAt) {
      ++i;  // LIMIT n: what it allowed is in the threshold now
      continue;
    }
    if (i + 1 == a.thresholdAt && ctx.args[i] == "~") out.emplace_back("=");
    else if (i == a.thresholdAt) {
      out.push_back(a.trim.by == stream::Trim::By::MaxLen ? std::to_string(s.length())
                                                          : stream::format(s.firstEntry().value_or(stream::kMaxId)));
    } else {
      out.emplace_back(ctx.args[i]);
    }
  }
  return out;
}

namespace {

// The ID an XADD gets: the one given, completed, or the next after the
// stream's last; nullopt after replying why not.
std::optional<Id> newIdOrReply(CommandContext& ctx, const stream::Stream& s, const AddOrTrimArgs& a) {
  const Id last = s.lastId;
  const auto tooSmall = [&] {
    ctx.reply.error("ERR The ID specified in XADD is equal or smaller than the target stream top item");
    return std::nullopt;
  };
  if (!a.id) {
    const auto now = static_cast<std::uint64_t>(ctx.nowMs);
    if (now > last.ms) return Id{now, 0};
    Id next = last;
    stream::increment(next);
    return next;
  }
  if (a.seqGiven) {
    if (*a.id <= last) return tooSmall();
    return a.id;
  }
  if (a.id->ms > last.ms) return Id{a.id->ms, 0};
  if (a.id->ms < last.ms || last.seq == UINT64_MAX) return tooSmall();
  return Id{last.ms, last.seq + 1};
}

}  // namespace

void xadd(CommandContext& ctx) {
  const auto a = addOrTrimArgsOrReply(ctx, true);
  if (!a) return;
  const std::size_t fieldsAt = a->idAt + 1;
  if (fieldsAt > ctx.args.size() || ctx.args.size() - fieldsAt < 2 || (ctx.args.size() - fieldsAt) % 2 == 1) {
    return ctx.reply.error("ERR wrong number of arguments for 'xadd' command");
  }
  if (a->id && a->seqGiven && *a->id == Id{}) return ctx.reply.error("ERR The ID specified in XADD must be greater than 0-0");
  const std::string_view key = ctx.args[1];
  auto found = writeAs(ctx, key, Type::Stream);
  if (!found) return;
  Store::Entry* e = *found;
  if (e == nullptr && a->noMkStream) {
    ctx.changedNothing();
    return ctx.reply.null();
  }
  if (e != nullptr && streamOf(e).lastId == stream::kMaxId) {
    return ctx.reply.error("ERR The stream has exhausted the last possible ID, unable to add more items");
  }
  const stream::Stream probe;
  const auto id = newIdOrReply(ctx, e != nullptr ? streamOf(e) : probe, *a);
  if (!id) return;
  if (e == nullptr) e = createStream(ctx, key);
  stream::Stream& s = streamOf(e);
  s.append(*id, ctx.args.subspan(fieldsAt), streamLimits(ctx));
  replyId(ctx.reply, *id);
  if (a->trim.by != stream::Trim::By::None && s.trim(a->trim) > 0) ctx.raise('t', "xtrim", key);
  std::vector<std::string> form =
      a->trim.approximate ? exactTrimForm(ctx, *a, s) : std::vector<std::string>(ctx.args.begin(), ctx.args.end());
  // The ID it got, for the log and replicas (the LIMIT pair, if dropped, came before it).
  const std::size_t dropped = ctx.args.size() - form.size();
  form[a->idAt - dropped] = stream::format(*id);
  ctx.propagateAs(std::move(form));
}

namespace {

void rangeCommand(CommandContext& ctx, bool backwards) {
  const auto& a = ctx.args;
  const auto from = startOrReply(ctx, backwards ? a[3] : a[2]);
  if (!from) return;
  const auto to = endOrReply(ctx, backwards ? a[2] : a[3]);
  if (!to) return;
  long long count = -1;
  for (std::size_t i = 4; i < a.size(); ++i) {
    if (!equalsIgnoreCase(a[i], "count") || i + 1 >= a.size()) return ctx.reply.error(kSyntaxError);
    const auto n = integerOrReply(ctx, a[++i]);
    if (!n) return;
    count = std::max(*n, 0LL);
  }
  const auto e = readAs(ctx, a[1], Type::Stream);
  if (!e) return;
  if (*e == nullptr) return ctx.reply.array(0);
  if (count == 0) return ctx.reply.nullArray();
  replyRange(ctx.reply, streamOf(*e), *from, *to, count < 0 ? 0 : static_cast<std::size_t>(count), backwards);
}

}  // namespace

void xrange(CommandContext& ctx) { rangeCommand(ctx, false); }
void xrevrange(CommandContext& ctx) { rangeCommand(ctx, true); }

void xlen(CommandContext& ctx) {
  const auto e = readAs(ctx, ctx.args[1], Type::Stream);
  if (e) ctx.reply.integer(*e ? static_cast<long long>(streamOf(*e).length()) : 0);
}

void xdel(CommandContext& ctx) {
  const auto e = writeAs(ctx, ctx.args[1], Type::Stream);
  if (!e) return;
  if (*e == nullptr) {
    ctx.changedNothing();
    return ctx.reply.integer(0);
  }
  const auto ids = idsOrReply(ctx, 2);
  if (!ids) return;
  long long deleted = 0;
  for (const Id& id : *ids) deleted += streamOf(*e).erase(id) ? 1 : 0;
  if (deleted == 0) ctx.changedNothing();
  ctx.reply.integer(deleted);
}

void xtrim(CommandContext& ctx) {
  const auto a = addOrTrimArgsOrReply(ctx, false);
  if (!a) return;
  const auto e = writeAs(ctx, ctx.args[1], Type::Stream);
  if (!e) return;
  const std::uint64_t deleted = *e != nullptr ? streamOf(*e).trim(a->trim) : 0;
  if (deleted == 0) ctx.changedNothing();
  else if (a->trim.approximate) ctx.propagateAs(exactTrimForm(ctx, *a, streamOf(*e)));
  ctx.reply.integer(static_cast<long long>(deleted));
}

void xsetid(CommandContext& ctx) {
  const auto& a = ctx.args;
  const auto id = idOrReply(ctx, a[2], 0, true);
  if (!id) return;
  long long entriesAdded = -1;
  Id maxDeleted;
  for (std::size_t i = 3; i < a.size(); i += 2) {
    if (equalsIgnoreCase(a[i], "entriesadded") && i + 1 < a.size()) {
      const auto n = integerOrReply(ctx, a[i + 1]);
      if (!n) return;
      if (*n < 0) return ctx.reply.error("ERR entries_added must be positive");
      entriesAdded = *n;
    } else if (equalsIgnoreCase(a[i], "maxdeletedid") && i + 1 < a.size()) {
      const auto m = idOrReply(ctx, a[i + 1], 0, true);
      if (!m) return;
      if (*id < *m) return ctx.reply.error("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
      maxDeleted = *m;
    } else {
      return ctx.reply.error(kSyntaxError);
    }
  }
  const auto e = writeAs(ctx, a[1], Type::Stream);
  if (!e) return;
  if (*e == nullptr) return ctx.reply.error("ERR no such key");
  stream::Stream& s = streamOf(*e);
  if (s.length() > 0) {
    if (*id < s.lastEntry().value_or(Id{})) {
      return ctx.reply.error("ERR The ID specified in XSETID is smaller than the target stream top item");
    }
    if (entriesAdded != -1 && s.length() > static_cast<std::uint64_t>(entriesAdded)) {
      return ctx.reply.error("ERR The entries_added specified in XSETID is smaller than the target stream length");
    }
  }
  s.lastId = *id;
  if (entriesAdded != -1) s.entriesAdded = static_cast<std::uint64_t>(entriesAdded);
  if (maxDeleted != Id{}) s.maxDeletedId = maxDeleted;
  ctx.reply.ok();
}

// ---- XREAD and XREADGROUP's arguments ----

std::optional<ReadArgs> readArgsOrReply(CommandContext& ctx, bool group) {
  const auto& a = ctx.args;
  ReadArgs r;
  for (std::size_t i = 1; i < a.size(); ++i) {
    const std::size_t more = a.size() - 1 - i;
    if (equalsIgnoreCase(a[i], "block") && more > 0) {
      if (ctx.fromScript) {
        ctx.reply.error("ERR " + std::string(a[0]) + " command is not allowed with BLOCK option from scripts");
        return std::nullopt;
      }
      const auto ms = parseInteger(a[++i]);
      if (!ms) return ctx.reply.error("ERR timeout is not an integer or out of range"), std::nullopt;
      if (*ms < 0) return ctx.reply.error("ERR timeout is negative"), std::nullopt;
      r.blocks = true;
    } else if (equalsIgnoreCase(a[i], "count") && more > 0) {
      const auto n = integerOrReply(ctx, a[++i]);
      if (!n) return std::nullopt;
      r.count = static_cast<std::size_t>(std::max(*n, 0LL));
    } else if (equalsIgnoreCase(a[i], "streams") && more > 0) {
      if (more % 2 != 0) {
        ctx.reply.error("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.");
        return std::nullopt;
      }
      r.streamsAt = i + 1;
      r.keys = more / 2;
      break;
    } else if (equalsIgnoreCase(a[i], "group") && more >= 2) {
      if (!group) {
        return ctx.reply.error("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."),
               std::nullopt;
      }
      r.group = a[i + 1];
      r.consumer = a[i + 2];
      i += 2;
    } else if (equalsIgnoreCase(a[i], "noack")) {
      if (!group) {
        return ctx.reply.error("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead."),
               std::nullopt;
      }
      r.noAck = true;
    } else {
      return ctx.reply.error(kSyntaxError), std::nullopt;
    }
  }
  if (r.streamsAt == 0) return ctx.reply.error(kSyntaxError), std::nullopt;
  if (group && r.group.data() == nullptr) return ctx.reply.error("ERR Missing GROUP option for XREADGROUP"), std::nullopt;
  return r;
}

void xread(CommandContext& ctx) {
  const auto r = readArgsOrReply(ctx, false);
  if (!r) return;
  const auto& a = ctx.args;
  std::vector<std::pair<Store::Entry*, Id>> from(r->keys);
  for (std::size_t k = 0; k < r->keys; ++k) {
    const auto e = readAs(ctx, a[r->streamsAt + k], Type::Stream);
    if (!e) return;
    const std::string_view idArg = a[r->streamsAt + r->keys + k];
    if (idArg == "$") {
      from[k] = {*e, *e != nullptr ? streamOf(*e).lastId : Id{}};
      continue;
    }
    if (idArg == ">") {
      return ctx.reply.error(
          "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.");
    }
    const auto id = idOrReply(ctx, idArg, 0, true);
    if (!id) return;
    from[k] = {*e, *id};
  }
  Deferred streams(ctx.reply);
  for (std::size_t k = 0; k < r->keys; ++k) {
    auto [e, after] = from[k];
    if (e == nullptr || streamOf(e).length() == 0) continue;
    const stream::Stream& s = streamOf(e);
    if (s.lastEntry().value_or(Id{}) <= after || !stream::increment(after)) continue;
    resp::Reply& out = streams.reply();
    if (out.protocol() == resp::Protocol::Resp2) out.array(2);
    out.bulk(a[r->streamsAt + k]);
    replyRange(out, s, after, stream::kMaxId, r->count, false);
    streams.counted();
  }
  if (streams.count() == 0) return ctx.reply.nullArray();
  ctx.reply.protocol() == resp::Protocol::Resp2 ? streams.flushArray(ctx.reply) : streams.flushMap(ctx.reply);
}

// peer::LastIds: the last ID of each key here ("0-0" for none).
void lastIds(CommandContext& ctx) {
  ctx.reply.array(ctx.args.size() - 1);
  for (std::size_t i = 1; i < ctx.args.size(); ++i) {
    const Store::Entry* e = lookupQuietly(ctx, ctx.args[i]);
    replyId(ctx.reply, e != nullptr && Store::kind(e) == Kind::Stream ? streamOf(e).lastId : Id{});
  }
}

}  // namespace keyloop::commands::streams
