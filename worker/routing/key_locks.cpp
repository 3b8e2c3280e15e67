#include "worker/routing/key_locks.h"

#include <signal.h>

#include "common/text/text.h"

namespace keyloop {

KeyLocks::KeyLocks(Loop& loop) : loop_(loop), abandonedCheck_(loop) {}

bool KeyLocks::isLocked(std::string_view key) const {
  return !owners_.empty() && owners_.find(key) != owners_.end();
}

std::string_view KeyLocks::lockedBy(std::string_view key) const {
  const auto found = owners_.find(key);
  return found == owners_.end() ? std::string_view() : std::string_view(found->second);
}

void KeyLocks::lock(const std::string& transaction, std::span<const std::string_view> keys) {
  Held& held = transactions_[transaction];
  held.lockedAt = loop_.now();
  for (std::string_view key : keys) {
    if (owners_.emplace(key, transaction).second) held.keys.emplace_back(key);
  }
  watchAbandoned();
}

void KeyLocks::unlock(const std::string& transaction) {
  auto it = transactions_.find(transaction);
  if (it == transactions_.end()) {
    // Its lock may still come (parked here, or on the way): it must not
    // take the keys then, with nobody left to release them.
    if (ended_.insert(transaction).second) endedOrder_.push_back(transaction);
    if (endedOrder_.size() > kEndedKept) {
      ended_.erase(endedOrder_.front());
      endedOrder_.pop_front();
    }
    return;
  }
  for (const std::string& key : it->second.keys) owners_.erase(key);
  transactions_.erase(it);
  if (transactions_.empty() && parked_.empty()) abandonedCheck_.stop();
  resumeSoon();  // not inline: unlock runs inside a command handler
}

bool KeyLocks::ended(std::string_view transaction) const { return ended_.find(transaction) != ended_.end(); }

void KeyLocks::park(Task work) {
  parked_.push_back(std::move(work));
  watchAbandoned();
}

void KeyLocks::watchAbandoned() {
  if (abandonedCheck_.active()) return;
  abandonedCheck_.unref();
  abandonedCheck_.start(std::chrono::milliseconds(250), std::chrono::milliseconds(250), [this] {
    releaseAbandoned();
    if (parked_.empty() && transactions_.empty()) return abandonedCheck_.stop();
    resumeSoon();
  });
}

void KeyLocks::resumeSoon() {
  if (parked_.empty() || resumeQueued_) return;
  resumeQueued_ = true;
  loop_.defer([this] { resumeParked(); });
}

void KeyLocks::resumeParked() {
  resumeQueued_ = false;
  // Everything parked so far gets one try, in arrival order; what is still
  // blocked parks again behind it, so the order is kept. One at a time from
  // the queue itself: work that waits inside (a script waiting for another
  // worker, script_reach.h) leaves the rest where a resume from within
  // that wait (resumeSoon) finds it.
  for (std::size_t n = parked_.size(); n > 0 && !parked_.empty(); --n) {
    Task work = std::move(parked_.front());
    parked_.pop_front();
    work();
  }
}

KeyLocks::Coordinator KeyLocks::coordinatorOf(std::string_view transaction) {
  const std::size_t first = transaction.find('.');
  const std::size_t second = first == std::string_view::npos ? first : transaction.find('.', first + 1);
  if (second == std::string_view::npos) return {};
  const auto slot = parseInteger(transaction.substr(0, first));
  const auto pid = parseInteger(transaction.substr(first + 1, second - first - 1));
  if (!slot || !pid) return {};
  return {static_cast<int>(*slot), *pid, transaction.substr(second + 1, 1) == "s"};
}

namespace {

// A running script's locks last as long as the script, which may wait its
// turn for longer than a transaction ever holds its locks: only its
// worker's death frees them.
bool heldByLiveScript(std::string_view transaction) {
  const KeyLocks::Coordinator c = KeyLocks::coordinatorOf(transaction);
  return c.script && c.pid > 0 && ::kill(static_cast<pid_t>(c.pid), 0) == 0;
}

}  // namespace

void KeyLocks::releaseAbandoned() {
  std::vector<std::string> abandoned;
  for (const auto& [transaction, held] : transactions_) {
    if (loop_.now() - held.lockedAt > kLockTimeout && !heldByLiveScript(transaction)) abandoned.push_back(transaction);
  }
  for (const std::string& transaction : abandoned) unlock(transaction);
}

}  // namespace keyloop
