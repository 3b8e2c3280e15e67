// KeyLocks: parked work waits for the unlock and then runs in arrival
// order; a lock nobody releases (its coordinator died) lets go on its own.
#include "worker/routing/key_locks.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace keyloop {
namespace {

TEST(KeyLocks, ParkedWorkRunsInOrderAfterTheUnlock) {
  Loop loop;
  KeyLocks locks(loop);
  const std::vector<std::string_view> keys{"a", "b"};
  locks.lock("tx1", keys);
  EXPECT_TRUE(locks.isLocked("a"));
  EXPECT_TRUE(locks.isLocked("b"));
  EXPECT_FALSE(locks.isLocked("c"));
  std::vector<int> ran;
  locks.park([&] { ran.push_back(1); });
  locks.park([&] { ran.push_back(2); });
  loop.run(RunMode::NoWait);
  EXPECT_TRUE(ran.empty()) << "parked work ran while the lock was held";
  locks.unlock("tx1");
  EXPECT_FALSE(locks.isLocked("a"));
  EXPECT_TRUE(ran.empty()) << "resumed inside unlock (a command handler)";
  loop.run(RunMode::NoWait);
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
  EXPECT_TRUE(locks.empty());
}

TEST(KeyLocks, AnAbandonedLockIsReleasedAfterTheTimeout) {
  Loop loop;
  KeyLocks locks(loop);
  const std::vector<std::string_view> keys{"k"};
  locks.lock("dead-coordinator", keys);
  bool ran = false;
  // As Dispatch's parked work: it looks again when resumed, and parks
  // again while its key is locked (resumes come on unlocks, and every
  // 250 ms while anything is parked).
  std::function<void()> work = [&] {
    if (locks.isLocked("k")) return locks.park(work);
    ran = true;
  };
  locks.park(work);
  Timer giveUp(loop);
  giveUp.start(KeyLocks::kLockTimeout + std::chrono::seconds(2), [] {});
  const TimePoint start = Clock::now();
  while (!ran && giveUp.active()) loop.run(RunMode::Once);
  EXPECT_TRUE(ran);
  EXPECT_FALSE(locks.isLocked("k"));
  const Duration waited = Clock::now() - start;
  EXPECT_GE(waited, KeyLocks::kLockTimeout);
  EXPECT_LT(waited, KeyLocks::kLockTimeout + std::chrono::milliseconds(900));
}

}  // namespace
}  // namespace keyloop
