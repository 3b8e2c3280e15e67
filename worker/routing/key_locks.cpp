#include "worker/routing/key_locks.h"

namespace keyloop {

KeyLocks::KeyLocks(Loop& loop) : loop_(loop), abandonedCheck_(loop) {}

bool KeyLocks::isLocked(std::string_view key) const {
  return !owners_.empty() && owners_.find(key) != owners_.end();
}

void KeyLocks::lock(const std::string& transaction, std::span<const std::string_view> keys) {
  Held& held = transactions_[transaction];
  held.lockedAt = loop_.now();
  for (std::string_view key : keys) {
    if (owners_.emplace(key, transaction).second) held.keys.emplace_back(key);
  }
  if (!abandonedCheck_.active()) {
    abandonedCheck_.unref();
    abandonedCheck_.start(std::chrono::milliseconds(250), std::chrono::milliseconds(250), [this] { releaseAbandoned(); });
  }
}

void KeyLocks::unlock(const std::string& transaction) {
  auto it = transactions_.find(transaction);
  if (it == transactions_.end()) return;
  for (const std::string& key : it->second.keys) owners_.erase(key);
  transactions_.erase(it);
  if (transactions_.empty()) abandonedCheck_.stop();
  if (!parked_.empty() && !resumeQueued_) {
    // Not inline: unlock runs inside a command handler.
    resumeQueued_ = true;
    loop_.defer([this] { resumeParked(); });
  }
}

void KeyLocks::park(Task work) { parked_.push_back(std::move(work)); }

void KeyLocks::resumeParked() {
  resumeQueued_ = false;
  // Everything parked so far gets one try, in arrival order; what is still
  // blocked parks again behind it, so the order is kept.
  std::deque<Task> ready;
  ready.swap(parked_);
  for (Task& work : ready) work();
}

void KeyLocks::releaseAbandoned() {
  std::vector<std::string> abandoned;
  for (const auto& [transaction, held] : transactions_) {
    if (loop_.now() - held.lockedAt > kLockTimeout) abandoned.push_back(transaction);
  }
  for (const std::string& transaction : abandoned) unlock(transaction);
}

}  // namespace keyloop
