// The multi-owner atomic executor: runs one command whose keys live on
// several workers so that no client ever observes half of it (DESIGN.md
// "Multi-owner atomic commands"). One mechanism for every such command:
// a command only declares its keys in the table (command_table.h), and its
// own handler runs unchanged.
//
//   1. lock:   the peer message Lock (peer_messages.h) on each owner, one after the other in
//              ascending worker order (one global order: two transactions
//              never wait for each other in a cycle; see key_locks.h). The
//              reply is each key's value image (keyspace/image.h), its
//              absolute expiry and its WATCH version, read while the lock
//              is taken.
//   2. run:    the command's handler runs against a scratch store that
//              holds exactly those keys as they were: it reads them, writes
//              them, and writes the client's reply.
//   3. commit: the peer message Commit on every owner at once, with each
//              key the handler changed (its image and expiry, or its
//              deletion) and the events it raised there; each owner
//              applies its part and unlocks.
//   4. reply:  as soon as every commit is on its way (channels are FIFO, so
//              the client's next command cannot overtake it on any owner);
//              commits are posted, not called: no owner answers them, so a
//              transaction costs one round trip per owner (the locks) plus
//              one record each way it must go.
// If an owner does not answer (restarting), the locks taken are released
// and the client gets that owner's -TRYAGAIN error; nothing was written.
// An owner whose running script reaches keys of other workers refuses
// locks (scripting/script_reach.h): then the locks taken are released and
// the transaction starts over a millisecond later.
//
// When every key has one owner the command simply runs there (route_plan.h);
// this is only the several-owner case.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keyloop {

class Store;
struct CommandContext;

// How the executor reaches the owners of keys: the worker's Router, or a
// fake in the unit tests.
class Owners {
 public:
  using Done = std::function<void(std::string_view reply)>;
  virtual ~Owners() = default;
  virtual int self() const = 0;
  virtual int ownerOf(std::string_view key) const = 0;
  // Sends a peer message (Lock, Commit) about keys of database `db` to
  // `owner`; RESP2 reply.
  virtual void send(int owner, std::span<const std::string_view> args, Done done, int db) = 0;
  // The same with no reply wanted (nothing comes back). On this worker it
  // runs before post() returns, unless a reload holds routed work (then
  // before any client command held with it).
  virtual void post(int owner, std::span<const std::string_view> args, int db) {
    send(owner, args, [](std::string_view) {}, db);
  }
  // Runs `again` a millisecond from now (a lock refused because a script
  // holds the keys: the transaction starts over).
  virtual void later(std::function<void()> again) { again(); }
  // The permission scripts take to reach other workers' keys
  // (scripting/script_reach.h): a transaction refused again and again
  // takes it (when free) so that waiting scripts give way to it.
  virtual bool tryScriptReach() { return false; }
  virtual void releaseScriptReach() {}
  // The run changed `keys` of database `db` (as `scratch` holds them now): the append-only
  // log records them here, as one block, before any commit is posted.
  virtual void journal(int db, Store& scratch, std::span<const std::string_view> keys, std::int64_t nowMs) {
    (void)db, (void)scratch, (void)keys, (void)nowMs;
  }
};

// Runs the command's handler against `scratch` (the locked keys as they
// were) and returns the client's reply bytes.
using RunAgainst = std::function<std::string(Store& scratch, std::int64_t nowMs)>;
using ReplyTo = std::function<void(std::string_view bytes)>;

// Each locked key's WATCH version on its owner (watches.h), as read while
// locking.
using KeyVersions = std::map<std::string, std::uint64_t, std::less<>>;
// Decides, with the keys locked, whether the run goes ahead (EXEC checks
// its watched keys); false: nothing runs, the keys unlock, reply("").
using Verify = std::function<bool(const KeyVersions& versions, Store& scratch, std::int64_t nowMs)>;

// Keyspace notifications a run made, each about one of its keys: the
// key's owner publishes them when it applies the commit, so they leave in
// order with that owner's other events.
struct KeyEvent {
  std::string key, channel, message;
};
using KeyEvents = std::vector<KeyEvent>;
// A CommandContext::events sink that keeps them in `events`.
std::function<void(std::string_view channel, std::string_view message)> collectInto(KeyEvents& events);

// `keys`: the command's key arguments (duplicates allowed), of database
// `db`; `writes`: whether the handler may change them (a read-only command
// only unlocks); `events`: filled by `run`, sent with the commits.
void runAtomically(Owners& owners, int db, std::span<const std::string_view> keys, bool writes, RunAgainst run,
                   ReplyTo reply, Verify verify = nullptr, std::shared_ptr<KeyEvents> events = nullptr);

namespace commands {
void lockKeys(CommandContext& ctx);    // the peer message Lock
void commitKeys(CommandContext& ctx);  // the peer message Commit
void revokeTransaction(CommandContext& ctx);  // the peer message Revoke
}  // namespace commands

}  // namespace keyloop
