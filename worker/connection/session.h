// Session: what a connection carries between its commands besides its
// identity: an open MULTI with its queued commands, the keys it WATCHes
// (with the version each owner gave), and its pub/sub subscriptions.
// transaction.h and pubsub.h act on it; Client only keeps it.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace keyloop {

struct CommandSpec;

struct QueuedCommand {
  const CommandSpec* topLevel;
  const CommandSpec* spec;
  std::vector<std::string> args;
};

struct WatchedKey {
  int db;
  std::string key;
  std::uint64_t version;  // the owner's (watches.h)
  bool existed;
};

struct Session {
  bool inMulti = false;
  bool multiAborted = false;  // a command was refused while queueing: EXECABORT
  std::vector<QueuedCommand> queued;
  std::vector<WatchedKey> watched;
  std::set<std::string, std::less<>> channels, patterns, shardChannels;
  // CLIENT REPLY: OFF silences every reply, SKIP the next command's (not
  // pub/sub's: their replies and messages are pushes, as in Redis).
  bool repliesOff = false, skipThis = false, skipNext = false;
  bool monitoring = false;  // MONITOR: every command of every client reaches it (session/monitors.h)
  bool inExec = false;      // EXEC runs the queued commands: none may block (Redis's CLIENT_DENY_BLOCKING)
  bool noEvict = false;     // CLIENT NO-EVICT on (keyloop evicts no clients: a flag CLIENT LIST shows)
  int db = 0;               // SELECT's database
  std::string libName, libVersion;  // CLIENT SETINFO (Redis 7.2): what the client says it is

  std::size_t subscriptions() const { return channels.size() + patterns.size(); }
  bool subscribed() const { return subscriptions() + shardChannels.size() > 0; }
  // CLIENT LIST's multi=: -1 outside MULTI, else the commands queued.
  long long multiCount() const { return inMulti ? static_cast<long long>(queued.size()) : -1; }
};

}  // namespace keyloop
