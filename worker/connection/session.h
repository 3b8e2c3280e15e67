// Session: what a connection carries between its commands besides its
// identity: an open MULTI with its queued commands, the keys it WATCHes
// (with the version each owner gave), its pub/sub subscriptions and its
// CLIENT TRACKING mode.
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

// CLIENT TRACKING's mode of a connection (session/tracking.h).
struct TrackingMode {
  bool on = false, bcast = false, optin = false, optout = false, noloop = false;
  bool caching = false;         // CLIENT CACHING yes|no, for the next command (or transaction)
  bool brokenRedirect = false;  // the client it redirects to was gone
  std::uint64_t redirect = 0;   // the client its invalidations go to (0: itself)
  int redirectWorker = -1;      // where that client talks to (-1: every worker is asked)
  std::vector<std::string> prefixes;  // BCAST's
  // Whether the keys its next command reads are remembered (Redis's trackingRememberKeys).
  bool remembersReads() const { return on && !bcast && (optin ? caching : optout ? !caching : true); }
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
  bool replyTurnedOn = false;  // CLIENT REPLY ON ran: its own +OK goes out, even right after SKIP
  bool monitoring = false;  // MONITOR: every command of every client reaches it (session/monitors.h)
  bool inExec = false;      // EXEC runs the queued commands: none may block (Redis's CLIENT_DENY_BLOCKING)
  bool noEvict = false;     // CLIENT NO-EVICT on (keyloop evicts no clients: a flag CLIENT LIST shows)
  bool noTouch = false;     // CLIENT NO-TOUCH on (Redis 7.2): its commands leave LRU/LFU as they were
  int db = 0;               // SELECT's database
  std::string libName, libVersion;  // CLIENT SETINFO (Redis 7.2): what the client says it is
  TrackingMode tracking;            // CLIENT TRACKING

  std::size_t subscriptions() const { return channels.size() + patterns.size(); }
  bool subscribed() const { return subscriptions() + shardChannels.size() > 0; }
  // CLIENT LIST's multi=: -1 outside MULTI, else the commands queued.
  long long multiCount() const { return inMulti ? static_cast<long long>(queued.size()) : -1; }
};

}  // namespace keyloop
