// Keyspace notifications (notify-keyspace-events): the owner of a key
// publishes what a command did to it, on `__keyspace@<db>__:<key>` (the
// event) and `__keyevent@<db>__:<event>` (the key), to subscribers on every
// worker, as Redis does.
//
// Which event a command makes is declared beside the command table
// (KeyEventSpec, command_table.cpp): the event of each key argument, and
// a rule for the irregular ones. What happened is read from the key
// before and after the command, so the implied events come for every
// type alike: "new" for a key that appears, "del" for one a command
// empties (LPOP of the last element), "expire" for a SET with a TTL, none
// for a write that changed nothing. "expired" comes from the store.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/config/notify_flags.h"
#include "worker/execution/effects.h"

namespace keyloop {

class Store;
struct CommandContext;
struct CommandSpec;
struct KeyEventSpec;

namespace keyspace_events {

// Publishes one event of class `type` (a letter) for `key` as the flags say.
using Publish = std::function<void(std::string_view channel, std::string_view message)>;
// `db`: the key's database.
void notify(std::uint32_t flags, char type, std::string_view event, std::string_view key, int db,
            const Publish& publish);

// Publishes the events a run raised (Effects::events) as the flags say.
void publishRaised(std::uint32_t flags, std::span<const RaisedEvent> events, int db, const Publish& publish);

// One command's keys as they were before it ran; collect() says what it
// did to them. Nothing is looked at when notifications are off.
class Recorder {
 public:
  Recorder(std::uint32_t flags, const CommandSpec& spec, CommandContext& ctx);
  std::uint32_t flags() const { return flags_; }
  // The events the command raised, appended to `out`: none for a refused
  // write or one that changed nothing.
  void collect(const Effects& effects, std::vector<RaisedEvent>& out) const;

 private:
  void collectDeclared(const KeyEventSpec* events, const Effects& effects, std::vector<RaisedEvent>& out) const;
  struct Before {
    std::size_t index, group;
    bool existed;
    std::int64_t expireAt;
  };
  std::uint32_t flags_;
  const CommandSpec& spec_;
  CommandContext& ctx_;
  std::vector<Before> keys_;
};

// Runs a handler against locked keys (the multi-owner executor's scratch
// store) with its notifications sent to ctx.events.
void runRecorded(const CommandSpec& spec, CommandContext& ctx);
// The key a notification is about (the keyspace channel's suffix, or a
// keyevent message).
std::string_view keyOf(std::string_view channel, std::string_view message);

}  // namespace keyspace_events

}  // namespace keyloop
