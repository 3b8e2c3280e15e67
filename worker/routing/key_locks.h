// KeyLocks: the keys a cross-worker transaction holds on this worker, and
// the work that waits for them.
//
// Why: MSET, MSETNX, MGET, RENAME and RENAMENX whose keys live on several
// workers must look atomic to every client. The coordinating worker locks
// the keys owner by owner, in ascending worker order (one global order, so
// two transactions can never wait for each other in a cycle), reads what it
// needs while locking, then commits on every owner at once. While a key is
// locked, every command that touches it (from a local client or a peer)
// parks here and runs, in arrival order, as soon as the lock is released: a
// reader that saw one half of a commit finds the other half locked and
// waits for it.
//
// A lock whose coordinator vanished (crashed worker) is released after
// kLockTimeout, so parked work waits a bounded time: shorter than the
// Router's request timeout, so work parked behind such a lock still runs and
// answers before its sender gives up on it with -TRYAGAIN.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/loop/handles.h"

namespace keyloop {

class KeyLocks {
 public:
  static constexpr std::chrono::seconds kLockTimeout{2};

  explicit KeyLocks(Loop& loop);

  bool empty() const { return owners_.empty(); }
  bool isLocked(std::string_view key) const;
  // The transaction that holds `key` ("" when none).
  std::string_view lockedBy(std::string_view key) const;
  // Transaction ids are "slot.pid.counter" (a script's counter starts with
  // "s", scripting/script_reach.h): the coordinator's slot and pid.
  struct Coordinator {
    int slot = -1;
    long long pid = 0;
    bool script = false;
  };
  static Coordinator coordinatorOf(std::string_view transaction);
  // Locks every key for `transaction`; the caller checked none is locked.
  void lock(const std::string& transaction, std::span<const std::string_view> keys);
  // Releases the transaction's keys and (deferred) runs the parked work.
  // One that holds nothing here has ended: its lock, if it comes late, is
  // refused (ended()).
  void unlock(const std::string& transaction);
  bool ended(std::string_view transaction) const;
  // Runs the parked work soon (deferred), as an unlock does.
  void resumeSoon();
  // Runs `work` after the next unlock (it may park itself again).
  void park(Task work);
  std::size_t parked() const { return parked_.size(); }

 private:
  struct Held {
    std::vector<std::string> keys;
    TimePoint lockedAt;
  };
  void resumeParked();
  void releaseAbandoned();
  // Every 250 ms while anything is locked or parked: abandoned locks go,
  // and parked work gets another try (no wake-up is ever lost for good).
  void watchAbandoned();

  Loop& loop_;
  // Looked up by string_view on every command while any lock is held:
  // transparent hashing, no std::string built per lookup.
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };
  std::unordered_map<std::string, std::string, KeyHash, std::equal_to<>> owners_;  // key -> transaction
  std::unordered_map<std::string, Held> transactions_;
  std::deque<Task> parked_;
  static constexpr std::size_t kEndedKept = 1024;
  std::unordered_set<std::string, KeyHash, std::equal_to<>> ended_;
  std::deque<std::string> endedOrder_;
  bool resumeQueued_ = false;
  Timer abandonedCheck_;
};

}  // namespace keyloop
