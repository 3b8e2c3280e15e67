// Ring: Redis Cluster's slots and hash tags, jump hash's balance and its
// minimal movement when the worker count changes.
#include "common/ring/ring.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace keyloop::ring {
namespace {

TEST(Ring, Crc16IsRedisClusters) {
  EXPECT_EQ(crc16("123456789"), 0x31C3);  // the CRC-16/XMODEM check value
  EXPECT_EQ(slotOf("foo"), 12182);        // CLUSTER KEYSLOT foo
  EXPECT_EQ(slotOf("bar"), 5061);
  EXPECT_EQ(slotOf(""), 0);
}

TEST(Ring, HashTagsFollowRedisClusterRules) {
  EXPECT_EQ(hashTag("{user1}.following"), "user1");
  EXPECT_EQ(slotOf("{user1}.following"), slotOf("{user1}.followers"));
  EXPECT_EQ(slotOf("{user1}.following"), slotOf("user1"));
  EXPECT_EQ(hashTag("foo{}{bar}"), "foo{}{bar}");  // empty first tag: whole key
  EXPECT_EQ(hashTag("foo{{bar}}zap"), "{bar");
  EXPECT_EQ(hashTag("foo{bar}{zap}"), "bar");
  EXPECT_EQ(hashTag("no{close"), "no{close");
}

TEST(Ring, EveryOwnerIsInRange) {
  for (int workers : {1, 2, 3, 4, 7, 16, 64}) {
    Ring ring(workers);
    for (int slot = 0; slot < kSlots; ++slot) {
      const int owner = ring.ownerOfSlot(static_cast<std::uint16_t>(slot));
      ASSERT_GE(owner, 0);
      ASSERT_LT(owner, workers);
    }
  }
}

TEST(Ring, HundredThousandRandomKeysSpreadEvenly) {
  std::mt19937_64 rng(5);
  for (int workers : {2, 3, 4, 8}) {
    Ring ring(workers);
    std::vector<int> counts(static_cast<std::size_t>(workers), 0);
    constexpr int kKeys = 100000;
    for (int i = 0; i < kKeys; ++i) ++counts[static_cast<std::size_t>(ring.ownerOf("key:" + std::to_string(rng())))];
    const double fair = static_cast<double>(kKeys) / workers;
    for (int c : counts) EXPECT_NEAR(c, fair, fair * 0.05) << workers << " workers";
  }
}

// Growing from N to N+1 moves ~1/(N+1) of the slots, all of them to the new
// worker; shrinking moves only the removed worker's slots.
TEST(Ring, ChangingTheWorkerCountMovesOnlyWhatMust) {
  for (int n = 1; n < 12; ++n) {
    Ring before(n), after(n + 1);
    const auto moved = before.movedSlots(after);
    const double fraction = static_cast<double>(moved.size()) / kSlots;
    EXPECT_NEAR(fraction, 1.0 / (n + 1), 1.0 / kBlocks) << n << " -> " << n + 1;
    for (std::uint16_t slot : moved) ASSERT_EQ(after.ownerOfSlot(slot), n);
    for (std::uint16_t slot : after.movedSlots(before)) ASSERT_EQ(after.ownerOfSlot(slot), n);
  }
  // 2 -> 4 -> 1 -> 3, as a reload might do: each step moves at most what the
  // count difference requires.
  const int steps[] = {2, 4, 1, 3};
  for (int i = 0; i + 1 < 4; ++i) {
    Ring a(steps[i]), b(steps[i + 1]);
    const double fraction = static_cast<double>(a.movedSlots(b).size()) / kSlots;
    const int big = std::max(steps[i], steps[i + 1]), small = std::min(steps[i], steps[i + 1]);
    EXPECT_NEAR(fraction, 1.0 - static_cast<double>(small) / big, 1.0 / kBlocks);
  }
}

// What CLUSTER SLOTS reports: few contiguous ranges whatever the count, and
// every worker within one block of its fair share.
TEST(Ring, SlotsFormAtMost256RangesAndAreBalancedToOneBlock) {
  for (int workers = 1; workers <= 300; workers += workers < 20 ? 1 : 37) {
    const Ring ring(workers);
    const auto ranges = ring.ranges();
    EXPECT_LE(ranges.size(), static_cast<std::size_t>(kBlocks)) << workers;
    ASSERT_EQ(ranges.front().first, 0);
    ASSERT_EQ(ranges.back().last, kSlots - 1);
    std::vector<int> slots(static_cast<std::size_t>(workers), 0);
    for (std::size_t i = 0; i < ranges.size(); ++i) {
      if (i > 0) {
        ASSERT_EQ(ranges[i].first, ranges[i - 1].last + 1);
      }
      slots[static_cast<std::size_t>(ranges[i].owner)] += ranges[i].last - ranges[i].first + 1;
    }
    const int fair = kSlots / workers;
    for (int s : slots) EXPECT_LE(std::abs(s - fair), kBlockSlots) << workers << " workers";
  }
}

}  // namespace
}  // namespace keyloop::ring
