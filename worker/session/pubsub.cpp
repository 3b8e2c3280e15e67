#include "worker/session/pubsub.h"
#include "worker/execution/command_families.h"

#include "common/text/text.h"
#include "worker/commands/commands.h"
#include "worker/connection/client.h"
#include "worker/execution/command_table.h"
#include "worker/connection/connections.h"
#include "worker/dispatch/dispatch.h"
#include "worker/execution/worker_services.h"

namespace keyloop {

namespace {

// A message or confirmation: RESP3 push, RESP2 array (Redis's addReplyPushLen).
void header(resp::Reply& reply, std::size_t count) {
  reply.protocol() == resp::Protocol::Resp3 ? reply.push(count) : reply.array(count);
}

std::string encode(resp::Protocol protocol, std::span<const std::string_view> parts) {
  std::string out;
  resp::Reply reply(out, protocol);
  header(reply, parts.size());
  for (std::string_view p : parts) reply.bulk(p);
  return out;
}

}  // namespace

void Channels::add(Kind kind, std::string_view name, std::uint64_t clientId) {
  auto it = byName_[kind].find(name);
  if (it == byName_[kind].end()) it = byName_[kind].emplace(std::string(name), std::set<std::uint64_t>{}).first;
  it->second.insert(clientId);
}

void Channels::remove(Kind kind, std::string_view name, std::uint64_t clientId) {
  auto it = byName_[kind].find(name);
  if (it == byName_[kind].end()) return;
  it->second.erase(clientId);
  if (it->second.empty()) byName_[kind].erase(it);
}

bool Channels::deliver(std::uint64_t clientId, std::span<const std::string_view> parts) {
  Client* c = connections_.find(clientId);
  if (c == nullptr) return false;
  c->push(encode(c->reply().protocol(), parts));
  return true;
}

std::size_t Channels::publish(Kind kind, std::string_view channel, std::string_view message) {
  std::size_t receivers = 0;
  const Kind exact = kind == Shard ? Shard : Channel;
  if (auto it = byName_[exact].find(channel); it != byName_[exact].end()) {
    const std::string_view parts[] = {kind == Shard ? "smessage" : "message", channel, message};
    // A copy: a delivery may disconnect a slow subscriber, which unsubscribes it.
    const std::set<std::uint64_t> ids = it->second;
    for (std::uint64_t id : ids) receivers += deliver(id, parts) ? 1 : 0;
  }
  if (kind == Shard) return receivers;
  std::vector<std::pair<std::string, std::set<std::uint64_t>>> matching;
  for (const auto& [pattern, ids] : byName_[Pattern]) {
    if (globMatch(pattern, channel)) matching.emplace_back(pattern, ids);
  }
  for (const auto& [pattern, ids] : matching) {
    const std::string_view parts[] = {"pmessage", pattern, channel, message};
    for (std::uint64_t id : ids) receivers += deliver(id, parts) ? 1 : 0;
  }
  return receivers;
}

std::vector<std::string_view> Channels::names(Kind kind, std::string_view pattern) const {
  std::vector<std::string_view> out;
  for (const auto& [name, ids] : byName_[kind]) {
    if (pattern.empty() || globMatch(pattern, name)) out.push_back(name);
  }
  return out;
}

std::size_t Channels::subscribers(Kind kind, std::string_view name) const {
  auto it = byName_[kind].find(name);
  return it == byName_[kind].end() ? 0 : it->second.size();
}

std::vector<std::string_view> Channels::patterns() const { return names(Pattern, ""); }

namespace pubsub {

namespace {

using Kind = Channels::Kind;

std::set<std::string, std::less<>>& namesOf(Session& s, Kind kind) {
  return kind == Kind::Channel ? s.channels : kind == Kind::Pattern ? s.patterns : s.shardChannels;
}

// What the confirmation counts: shard channels apart, as Redis does.
std::size_t countFor(const Session& s, Kind kind) {
  return kind == Kind::Shard ? s.shardChannels.size() : s.subscriptions();
}

void confirm(Client& client, std::string_view what, const std::string_view* name, std::size_t count) {
  resp::Reply& reply = client.reply();
  header(reply, 3);
  reply.bulk(what);
  name != nullptr ? reply.bulk(*name) : reply.null();
  reply.integer(static_cast<long long>(count));
}

void subscribeTo(Dispatch& dispatch, Client& client, std::span<const std::string_view> names, Kind kind,
                 std::string_view what) {
  Session& s = client.session();
  for (std::string_view name : names) {
    if (namesOf(s, kind).emplace(name).second) dispatch.services().channels()->add(kind, name, client.id());
    confirm(client, what, &name, countFor(s, kind));
  }
}

void unsubscribeFrom(Dispatch& dispatch, Client& client, std::span<const std::string_view> names, Kind kind,
                     std::string_view what) {
  Session& s = client.session();
  auto& mine = namesOf(s, kind);
  std::vector<std::string> all;
  if (names.empty()) {
    all.assign(mine.begin(), mine.end());
    if (all.empty()) return confirm(client, what, nullptr, countFor(s, kind));
  } else {
    all.assign(names.begin(), names.end());
  }
  for (const std::string& name : all) {
    if (auto it = mine.find(name); it != mine.end()) {
      mine.erase(it);
      dispatch.services().channels()->remove(kind, name, client.id());
    }
    const std::string_view view(name);
    confirm(client, what, &view, countFor(s, kind));
  }
}

}  // namespace

void subscribe(Dispatch& d, Client& c, std::span<const std::string_view> a) { subscribeTo(d, c, a.subspan(1), Kind::Channel, "subscribe"); }
void psubscribe(Dispatch& d, Client& c, std::span<const std::string_view> a) { subscribeTo(d, c, a.subspan(1), Kind::Pattern, "psubscribe"); }
void ssubscribe(Dispatch& d, Client& c, std::span<const std::string_view> a) { subscribeTo(d, c, a.subspan(1), Kind::Shard, "ssubscribe"); }
void unsubscribe(Dispatch& d, Client& c, std::span<const std::string_view> a) { unsubscribeFrom(d, c, a.subspan(1), Kind::Channel, "unsubscribe"); }
void punsubscribe(Dispatch& d, Client& c, std::span<const std::string_view> a) { unsubscribeFrom(d, c, a.subspan(1), Kind::Pattern, "punsubscribe"); }
void sunsubscribe(Dispatch& d, Client& c, std::span<const std::string_view> a) { unsubscribeFrom(d, c, a.subspan(1), Kind::Shard, "sunsubscribe"); }

void forget(Dispatch& dispatch, Client& client) {
  Session& s = client.session();
  Channels* channels = dispatch.services().channels();
  for (Kind kind : {Kind::Channel, Kind::Pattern, Kind::Shard}) {
    for (const std::string& name : namesOf(s, kind)) {
      if (channels != nullptr) channels->remove(kind, name, client.id());
    }
    namesOf(s, kind).clear();
  }
}

void adopt(Dispatch& dispatch, Client& client, std::span<const std::vector<std::string>> subscriptions) {
  const Kind kinds[] = {Kind::Channel, Kind::Pattern, Kind::Shard};
  for (std::size_t i = 0; i < subscriptions.size() && i < std::size(kinds); ++i) {
    for (const std::string& name : subscriptions[i]) {
      if (namesOf(client.session(), kinds[i]).emplace(name).second) {
        dispatch.services().channels()->add(kinds[i], name, client.id());
      }
    }
  }
}

}  // namespace pubsub

namespace commands {

namespace {

void publishAs(CommandContext& ctx, Channels::Kind kind) {
  Channels* channels = ctx.worker.channels();
  ctx.reply.integer(channels == nullptr ? 0 : static_cast<long long>(channels->publish(kind, ctx.args[1], ctx.args[2])));
}

void listNames(CommandContext& ctx, Channels::Kind kind) {
  const std::string_view pattern = ctx.args.size() > 2 ? ctx.args[2] : std::string_view();
  const auto names = ctx.worker.channels()->names(kind, pattern);
  ctx.reply.array(names.size());
  for (std::string_view n : names) ctx.reply.bulk(n);
}

void countSubscribers(CommandContext& ctx, Channels::Kind kind) {
  const auto names = ctx.args.subspan(2);
  ctx.reply.array(names.size() * 2);  // a flat array in RESP3 too (Redis 7.0)
  for (std::string_view n : names) {
    ctx.reply.bulk(n);
    ctx.reply.integer(static_cast<long long>(ctx.worker.channels()->subscribers(kind, n)));
  }
}

}  // namespace

void publish(CommandContext& ctx) { publishAs(ctx, Channels::Channel); }

// The peer message Deliver: another worker's keyspace notification.
void deliverHere(CommandContext& ctx) {
  const auto deliver = peer::decodeDeliver(ctx.args);
  Channels* channels = ctx.worker.channels();
  if (deliver && channels != nullptr) channels->publish(Channels::Channel, deliver->channel, deliver->message);
  ctx.reply.ok();
}
void spublish(CommandContext& ctx) { publishAs(ctx, Channels::Shard); }
void pubsubChannels(CommandContext& ctx) {
  if (ctx.args.size() > 3) return ctx.reply.error(subcommandSyntaxError(ctx.args[1], "PUBSUB"));
  listNames(ctx, Channels::Channel);
}

void pubsubShardchannels(CommandContext& ctx) {
  if (ctx.args.size() > 3) return ctx.reply.error(subcommandSyntaxError(ctx.args[1], "PUBSUB"));
  listNames(ctx, Channels::Shard);
}
void pubsubNumsub(CommandContext& ctx) { countSubscribers(ctx, Channels::Channel); }
void pubsubShardnumsub(CommandContext& ctx) { countSubscribers(ctx, Channels::Shard); }

void pubsubNumpat(CommandContext& ctx) {
  // Redis counts distinct patterns: a part of a broadcast (no client, and
  // other workers) names its own, and the merge counts the distinct ones;
  // alone, or for a client (a script's call has none), the count.
  const ring::Ring* ring = ctx.worker.ring();
  if (ctx.client != nullptr || ring == nullptr || ring->workers() < 2) {
    return ctx.reply.integer(static_cast<long long>(ctx.worker.channels()->patternCount()));
  }
  const auto patterns = ctx.worker.channels()->patterns();
  ctx.reply.array(patterns.size());
  for (std::string_view p : patterns) ctx.reply.bulk(p);
}

void pubsubHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "CHANNELS [<pattern>]",
      "    Return the currently active channels matching a <pattern> (default: '*').",
      "NUMPAT",
      "    Return number of subscriptions to patterns.",
      "NUMSUB [<channel> ...]",
      "    Return the number of subscribers for the specified channels, excluding",
      "    pattern subscriptions(default: no channels).",
      "SHARDCHANNELS [<pattern>]",
      "    Return the currently active shard level channels matching a <pattern> (default: '*').",
      "SHARDNUMSUB [<shardchannel> ...]",
      "    Return the number of subscribers for the specified shard level channel(s)",
      "HELP",
      "    Prints this help."};
  replyHelp(ctx, kLines);
}

}  // namespace commands

}  // namespace keyloop

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> pubsubCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kPubsubSubcommands[] = {
      {.name = "channels", .arity = -2, .flags = 0, .acl = acl::kPubsub,
       .cross = CrossWorker::BroadcastUnion, .handler = pubsubChannels},
      {.name = "help", .arity = 2, .flags = 0,
       .handler = pubsubHelp},
      {.name = "numpat", .arity = 2, .flags = 0, .acl = acl::kPubsub,
       .cross = CrossWorker::BroadcastCountUnion, .handler = pubsubNumpat},
      {.name = "numsub", .arity = -2, .flags = 0, .acl = acl::kPubsub,
       .cross = CrossWorker::BroadcastPairSums, .handler = pubsubNumsub},
      {.name = "shardchannels", .arity = -2, .flags = 0, .acl = acl::kPubsub,
       .cross = CrossWorker::BroadcastUnion, .handler = pubsubShardchannels},
      {.name = "shardnumsub", .arity = -2, .flags = 0, .acl = acl::kPubsub,
       .cross = CrossWorker::BroadcastPairSums, .handler = pubsubShardnumsub},
  };
  static constexpr CommandSpec kRows[] = {
      {.name = "peer-deliver", .arity = 0, .flags = 0,
       .handler = deliverHere, .peer = peer::Kind::Deliver},
      {.name = "psubscribe", .arity = -2, .flags = kNoScript | kConnection | kSubscribedOk | kPushReply, .acl = acl::kPubsub,
       .session = pubsub::psubscribe},
      {.name = "publish", .arity = 3, .flags = kFast | kEveryNode | kMayReplicate, .acl = acl::kPubsub,
       .cross = CrossWorker::BroadcastSum, .handler = publish},
      {.name = "pubsub", .arity = -2, .flags = 0,
       .subcommands = kPubsubSubcommands},
      {.name = "punsubscribe", .arity = -1, .flags = kNoScript | kConnection | kSubscribedOk | kPushReply, .acl = acl::kPubsub,
       .session = pubsub::punsubscribe},
      {.name = "spublish", .arity = 3, .flags = kFast | kEveryNode | kMayReplicate, .acl = acl::kPubsub,
       .keys = {1, 1, 1}, .cross = CrossWorker::BroadcastSum, .keyFlags = "NOT_KEY", .handler = spublish},
      {.name = "ssubscribe", .arity = -2, .flags = kNoScript | kConnection | kSubscribedOk | kPushReply, .acl = acl::kPubsub,
       .keys = {1, -1, 1}, .keyFlags = "NOT_KEY", .session = pubsub::ssubscribe},
      {.name = "subscribe", .arity = -2, .flags = kNoScript | kConnection | kSubscribedOk | kPushReply, .acl = acl::kPubsub,
       .session = pubsub::subscribe},
      {.name = "sunsubscribe", .arity = -1, .flags = kNoScript | kConnection | kSubscribedOk | kPushReply, .acl = acl::kPubsub,
       .keys = {1, -1, 1}, .keyFlags = "NOT_KEY", .session = pubsub::sunsubscribe},
      {.name = "unsubscribe", .arity = -1, .flags = kNoScript | kConnection | kSubscribedOk | kPushReply, .acl = acl::kPubsub,
       .session = pubsub::unsubscribe},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
