// Cross-worker transactions: the multi-key commands Redis runs atomically
// (MGET, MSET, MSETNX, RENAME, RENAMENX) when their keys have several
// owners. The protocol and why it cannot deadlock are in key_locks.h:
//
//   1. lock:   `__lock TX key...` on each owner, one after the other in
//              ascending worker order; the reply is each key's value and
//              absolute expiry (or null), read while the lock is taken.
//   2. decide: the command looks at that snapshot and says what to write
//              and what to answer.
//   3. commit: `__commit TX (set key value expire-at | del key)...` on every
//              owner at once; each applies its part and unlocks.
//   4. reply:  only once every owner has committed, so the client's next
//              command sees its own writes.
// If an owner does not answer (restarting), the locks taken are released
// and the client gets that owner's -TRYAGAIN error; nothing was written.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/resp/reply.h"

namespace keyloop {

class Server;
struct CommandContext;

struct KeyValue {
  std::string value;
  std::int64_t expireAt;  // Unix ms, or kNoExpiry
};
// What each key held when it was locked, in the order the keys were given.
using Snapshot = std::vector<std::optional<KeyValue>>;

struct KeyWrite {
  std::string key;
  std::optional<KeyValue> value;  // nullopt: delete the key
};
struct Outcome {
  std::vector<KeyWrite> writes;  // only keys that were locked
  std::string reply;             // the client's reply bytes
};

using Decide = std::function<Outcome(const Snapshot&)>;
using ReplyTo = std::function<void(std::string_view bytes)>;

void runTransaction(Server& server, std::vector<std::string> keys, Decide decide, ReplyTo reply);

// The cross-worker forms of the five commands, built on runTransaction.
void transactMget(Server& server, resp::Protocol protocol, std::vector<std::string> keys, ReplyTo reply);
void transactMset(Server& server, std::vector<std::string> args, bool onlyIfNoneExists, ReplyTo reply);
void transactRename(Server& server, std::string source, std::string destination, bool onlyIfAbsent, ReplyTo reply);

namespace commands {
void lockKeys(CommandContext& ctx);    // __lock TX key...
void commitKeys(CommandContext& ctx);  // __commit TX ops...
}  // namespace commands

}  // namespace keyloop
