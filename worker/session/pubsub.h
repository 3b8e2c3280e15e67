// Pub/sub: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their UNSUBSCRIBEs,
// PUBLISH, SPUBLISH and PUBSUB, for clients spread over the workers.
//
// Each worker knows only its own clients' subscriptions (Channels). A
// PUBLISH runs on every worker (the command table's BroadcastSum, on a
// cluster node's port too): each delivers to its subscribers and answers
// how many; the client gets the sum. The publisher's own worker delivers
// inline and the others over the FIFO channels, so the messages of one
// publisher reach every subscriber in the order they were published.
//
// A subscriber whose unsent output passes `client-output-buffer-limit
// pubsub` (hard, or soft for longer than its seconds) is disconnected and
// counted (keyloop_pubsub_disconnects_total), as Redis does.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keyloop {

class Client;
class Connections;
class Dispatch;
struct CommandContext;

class Channels {
 public:
  enum Kind { Channel, Pattern, Shard };

  explicit Channels(Connections& connections) : connections_(connections) {}

  void add(Kind kind, std::string_view name, std::uint64_t clientId);
  void remove(Kind kind, std::string_view name, std::uint64_t clientId);
  // Delivers to this worker's subscribers; returns how many got it.
  std::size_t publish(Kind kind, std::string_view channel, std::string_view message);
  // The channels (Channel or Shard) with a subscriber here, matching `pattern`.
  std::vector<std::string_view> names(Kind kind, std::string_view pattern) const;
  std::size_t subscribers(Kind kind, std::string_view name) const;
  std::size_t patternCount() const { return byName_[Pattern].size(); }
  std::vector<std::string_view> patterns() const;

 private:
  bool deliver(std::uint64_t clientId, std::span<const std::string_view> parts);

  Connections& connections_;
  std::map<std::string, std::set<std::uint64_t>, std::less<>> byName_[3];
};

namespace pubsub {

// Session commands (command_table.h).
void subscribe(Dispatch& dispatch, Client& client, std::span<const std::string_view> args);
void unsubscribe(Dispatch& dispatch, Client& client, std::span<const std::string_view> args);
void psubscribe(Dispatch& dispatch, Client& client, std::span<const std::string_view> args);
void punsubscribe(Dispatch& dispatch, Client& client, std::span<const std::string_view> args);
void ssubscribe(Dispatch& dispatch, Client& client, std::span<const std::string_view> args);
void sunsubscribe(Dispatch& dispatch, Client& client, std::span<const std::string_view> args);
// Drops every subscription of a client (RESET, a disconnect).
void forget(Dispatch& dispatch, Client& client);
// Subscriptions a connection brought from a retiring worker (no replies):
// channels, patterns, shard channels.
void adopt(Dispatch& dispatch, Client& client, std::span<const std::vector<std::string>> subscriptions);

}  // namespace pubsub

namespace commands {
void publish(CommandContext& ctx);
void spublish(CommandContext& ctx);
void pubsubChannels(CommandContext& ctx);
void pubsubShardchannels(CommandContext& ctx);
void pubsubNumsub(CommandContext& ctx);
void pubsubShardnumsub(CommandContext& ctx);
void pubsubNumpat(CommandContext& ctx);
void pubsubHelp(CommandContext& ctx);
}  // namespace commands

}  // namespace keyloop
