// Blocking: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX
// and BZMPOP, whose keys may live on any worker (DESIGN.md "Blocking
// commands"). Two halves, one on every worker:
//
//   waits    (the client's worker) a blocked client: its reserved reply
//            place, the command, the timeout timer. It alone decides
//            whether the client is still there to be served, so exactly
//            one owner serves it.
//   waiters  (a key's owner) who waits on which of its keys, in arrival
//            order: the longest waiting is offered an element first.
//
// The protocol, each step a peer message on the channels (peer_messages.h):
//   1. The client's worker runs the command's handler as an attempt (the
//      ordinary route: here, on the owner, or atomically over several).
//      Not null: that is the reply. Null: the client waits, and each owner
//      of its keys gets Block (the wait, the client's worker and protocol,
//      the type waited for, that owner's keys, the command), which looks at those keys at once (a push may have come meanwhile).
//   2. After every write on an owner, a waited-on key that now holds its
//      type is served: for a client of this worker, the command restricted
//      to that key runs on the spot; for a client elsewhere, the owner
//      locks the key (nothing else touches it), asks Wake, and on
//      yes runs the restricted command and posts Served (the reply); on
//      no (timed out, gone, served by another owner) it tries the next.
//   3. The client's worker answers Wake by reserving the wait (a
//      timeout or CLIENT UNBLOCK now waits for the outcome); Served
//      delivers the reply, or (null: the element went) waits again.
//   4. Once served, timed out, unblocked or disconnected, Unblock
//      goes to every owner it registered with.
// A restricted command whose keys are not all on one owner (a BLMOVE to
// a key of a third worker) is not run by the owner: it posts Retry
// and the client's worker runs it the ordinary (atomic) way, waiting
// again (Rewait) if the element was taken meanwhile.
//
// A wait is in the database the client had selected: the owner keeps its
// waiters by database and key (a push to the same name in another
// database serves no one).
//
// A reload hands a blocked client over with its command: the wait is
// cancelled here and the command, with the time it has left, runs again
// first thing on the worker that adopts the connection.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/loop/handles.h"
#include "common/resp/reply.h"
#include "worker/execution/peer_messages.h"
#include "worker/routing/route_plan.h"

namespace keyloop {

class Client;
class Dispatch;
struct CommandSpec;

class Blocking {
 public:
  // Serving waits while one is held: a MULTI block or a script serves its
  // waiters once, after it ends, with what it left (Redis serves blocked
  // clients after the outermost command: a key an EXEC filled and emptied
  // again wakes no one).
  class Hold {
   public:
    explicit Hold(Blocking* b) : b_(b) {
      if (b_ != nullptr) ++b_->holds_;
    }
    ~Hold() {
      if (b_ != nullptr && --b_->holds_ == 0) b_->serveReady();
    }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

   private:
    Blocking* b_;
  };

  Blocking(Loop& loop, Dispatch& dispatch);
  ~Blocking();

  // --- the client's worker ---
  // Runs a blocking command for `client` (its reply comes later, in order).
  void start(Client& client, const CommandSpec& spec, std::span<const std::string_view> args, const RoutePlan& plan);
  void clientGone(std::uint64_t clientId);
  // CLIENT UNBLOCK: whether the client was waiting here (it gets Redis's
  // timeout reply, or the UNBLOCKED error).
  bool unblock(std::uint64_t clientId, bool withError);
  // Wake: the wait is the asker's to serve now, is being served (by an
  // answer still on its way), or is over.
  enum class Reservation : std::uint8_t { Gone = 0, Reserved = 1, Busy = 2 };
  Reservation reserve(std::uint64_t waitId);
  // Served: the reply, or (null) the element went; whether it waits on.
  bool served(std::uint64_t waitId, std::string_view reply);
  void retry(std::uint64_t waitId);                       // Retry
  // A reload hands the client over: its wait ends here; returns the
  // command (RESP, the timeout what is left of it) to run again there, or
  // nothing when it does not wait (or is being served: hand it over later).
  std::optional<std::string> releaseForHandOver(std::uint64_t clientId);
  std::size_t blockedClients() const { return waits_.size(); }
  bool blocks(std::uint64_t clientId) const { return waitOfClient_.contains(clientId); }

  // --- a key's owner ---
  void addWaiter(std::uint64_t waitId, int worker, resp::Protocol protocol, std::uint8_t type, int db,
                 std::span<const std::string_view> keys, std::span<const std::string_view> command);
  void removeWaiter(std::uint64_t waitId);                // Unblock
  void rewait(std::uint64_t waitId);                      // Rewait
  // After a write: serves the clients waiting on its keys.
  void noteWrite(int db, const CommandSpec& spec, std::span<const std::string_view> args);
  // A key of database `db` was written outside a command's own keys (MOVE's destination).
  void noteReady(int db, std::string_view key);
  // Every waited-on key may hold something now (SWAPDB).
  void noteEverythingReady();

 private:
  struct Wait;
  struct Waiter;
  using WaiterPtr = std::shared_ptr<Waiter>;

  // Runs the command the way `plan` says, its reply to `then` (`place`:
  // the client's reply place its next commands wait behind, 0: none).
  void attempt(Client& client, std::uint64_t place, int db, const CommandSpec& spec,
               std::span<const std::string_view> args, const RoutePlan& plan,
               std::function<void(std::string_view reply)> then);
  void block(Client& client, std::uint64_t place, int db, const CommandSpec& spec, std::vector<std::string> args,
             std::string nullReply);
  void resolveNewest(std::uint64_t clientId, std::uint64_t place, int db, const CommandSpec& spec,
                     std::vector<std::string> args, std::vector<std::pair<std::size_t, std::size_t>> marks);
  void attemptThenBlock(Client& client, std::uint64_t place, int db, const CommandSpec& spec,
                        std::vector<std::string> copy, const RoutePlan& plan);
  // The reply a waiter gets from `key` now: its command restricted to the
  // key, or the row's gone-error when the key is gone or of another type.
  std::string replyFor(const Waiter& waiter, std::string_view key, const std::vector<std::string>& restricted);
  void finish(std::uint64_t waitId, std::string_view reply);
  void tellOwners(const Wait& wait, peer::Kind kind);
  // Waited-on keys are named by keyInDatabase (keyspace/databases.h).
  void noteReady(const std::string& named);
  void serveReady();
  void serveKey(const std::string& named);
  void dropWaiter(const std::string& key, std::uint64_t waitId);
  bool allKeysHere(std::span<const std::string_view> args) const;

  Loop& loop_;
  Dispatch& dispatch_;
  std::uint64_t nextWaitId_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Wait>> waits_;
  std::unordered_map<std::uint64_t, std::uint64_t> waitOfClient_;
  std::unordered_map<std::string, std::deque<WaiterPtr>> waitersByKey_;
  std::unordered_map<std::uint64_t, std::vector<std::string>> keysOfWaiter_;
  std::vector<std::string> ready_;
  std::unordered_set<std::string> offering_;  // keys locked while a client elsewhere is asked
  // Keys whose waiter was busy when offered: looked at again in a moment.
  void lookAgainSoon(const std::string& key);
  std::set<std::string> lookAgain_;
  std::unique_ptr<Timer> lookAgainTimer_;
  bool serving_ = false;
  int holds_ = 0;
};

// A waited-on command restricted to one of its keys (BLPOP a b 0 served
// by b runs as BLPOP b 0; BZMPOP 0 2 a b MIN as BZMPOP 0 1 b MIN).
std::vector<std::string> restrictToKey(const CommandSpec& spec, std::span<const std::string_view> args,
                                       std::string_view key);
// Whether a reply is a null (the attempt found nothing).
bool isNullReply(std::string_view reply);
// Whether this call of a blocking command may block (XREAD only with BLOCK).
bool blocksNow(const CommandSpec& spec, std::span<const std::string_view> args);

}  // namespace keyloop
