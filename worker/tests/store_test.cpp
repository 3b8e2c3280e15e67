// Store: values, expiry, resizes, and SCAN's guarantee.
#include "worker/keyspace/store.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>

namespace keyloop {
namespace {

constexpr std::int64_t kNow = 1'000'000;

TEST(Store, SetFindEraseAcrossGrowthAndShrink) {
  Store store;
  for (int i = 0; i < 10000; ++i) store.set("key:" + std::to_string(i), "value" + std::to_string(i), kNoExpiry);
  EXPECT_EQ(store.size(), 10000u);
  EXPECT_GE(store.bucketCount(), 10000u);
  for (int i = 0; i < 10000; ++i) {
    Store::Entry* e = store.find("key:" + std::to_string(i), kNow);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(Store::value(e), "value" + std::to_string(i));
  }
  for (int i = 0; i < 9990; ++i) EXPECT_TRUE(store.erase("key:" + std::to_string(i)));
  EXPECT_FALSE(store.erase("key:0"));
  EXPECT_EQ(store.size(), 10u);
  EXPECT_LT(store.bucketCount(), 100u);  // shrank
  EXPECT_NE(store.find("key:9995", kNow), nullptr);
}

TEST(Store, BinarySafeKeysAndValues) {
  Store store;
  const std::string key("a\0b", 3), value("\0\r\n\xff", 4);
  store.set(key, value, kNoExpiry);
  EXPECT_EQ(store.find(std::string("a\0c", 3), kNow), nullptr);
  ASSERT_NE(store.find(key, kNow), nullptr);
  EXPECT_EQ(Store::value(store.find(key, kNow)), value);
}

TEST(Store, ExpiredKeysVanishLazilyAndActively) {
  Store store;
  store.set("lazy", "v", kNow + 10);
  EXPECT_NE(store.find("lazy", kNow), nullptr);
  EXPECT_EQ(store.find("lazy", kNow + 10), nullptr);
  EXPECT_EQ(store.size(), 0u);
  for (int i = 0; i < 1000; ++i) store.set("t" + std::to_string(i), "v", kNow + 5);
  for (int i = 0; i < 1000; ++i) store.set("p" + std::to_string(i), "v", kNoExpiry);
  EXPECT_EQ(store.volatileCount(), 1000u);
  std::size_t deleted = 0;
  for (int round = 0; round < 1000 && store.volatileCount() > 0; ++round) {
    deleted += store.expireSome(kNow + 6, [] { return false; });
  }
  EXPECT_EQ(deleted, 1000u);
  EXPECT_EQ(store.size(), 1000u);
  EXPECT_EQ(store.expiredTotal(), 1001u);
}

// A few expired keys among many buckets are still found: the sampling
// cursor sweeps every bucket instead of guessing.
TEST(Store, ExpireCycleFindsTheLastFewExpiredKeys) {
  Store store;
  for (int i = 0; i < 5000; ++i) store.set("t" + std::to_string(i), "v", kNow + 1000);
  for (int i = 0; i < 4995; ++i) store.setExpire(store.find("t" + std::to_string(i), kNow), kNoExpiry);
  ASSERT_EQ(store.volatileCount(), 5u);
  std::size_t deleted = 0;
  for (int cycle = 0; cycle < 100 && deleted < 5; ++cycle) {
    deleted += store.expireSome(kNow + 2000, [] { return true; });
  }
  EXPECT_EQ(deleted, 5u);
  EXPECT_EQ(store.size(), 4995u);
}

TEST(Store, ExpireCycleStopsWhenOutOfTime) {
  Store store;
  for (int i = 0; i < 1000; ++i) store.set("t" + std::to_string(i), "v", kNow);
  std::size_t deleted = store.expireSome(kNow + 1, [] { return true; });
  EXPECT_GT(deleted, 0u);
  EXPECT_LE(deleted, 40u);  // one round of samples, then the budget stopped it
}

TEST(Store, ValueResizeKeepsKeyAndExpiry) {
  Store store;
  Store::Entry* e = store.set("k", "abc", kNow + 1000);
  e = store.resizeValue(e, 6);
  EXPECT_EQ(Store::value(e), std::string("abc\0\0\0", 6));
  e = store.setValue(e, "longer value here");
  EXPECT_EQ(Store::key(e), "k");
  EXPECT_EQ(Store::expireAt(e), kNow + 1000);
  EXPECT_EQ(Store::value(store.find("k", kNow)), "longer value here");
  EXPECT_EQ(store.volatileCount(), 1u);
  store.setExpire(e, kNoExpiry);
  EXPECT_EQ(store.volatileCount(), 0u);
}

// Every key present for the whole scan is returned at least once, even when
// the table grows and shrinks between calls.
TEST(Store, ScanReturnsEveryKeyAcrossResizes) {
  Store store;
  for (int i = 0; i < 500; ++i) store.set("stay" + std::to_string(i), "v", kNoExpiry);
  std::set<std::string> seen;
  std::uint64_t cursor = 0;
  int step = 0;
  do {
    cursor = store.scan(cursor, 10, kNow, [&](std::string_view k) { seen.emplace(k); });
    ++step;
    if (step == 5) {
      for (int i = 0; i < 5000; ++i) store.set("grow" + std::to_string(i), "v", kNoExpiry);
    }
    if (step == 30) {
      for (int i = 0; i < 5000; ++i) store.erase("grow" + std::to_string(i));
    }
  } while (cursor != 0);
  for (int i = 0; i < 500; ++i) EXPECT_TRUE(seen.count("stay" + std::to_string(i))) << i;
}

TEST(Store, RandomEntryAndClear) {
  Store store;
  EXPECT_EQ(store.randomEntry(kNow), nullptr);
  store.set("only", "v", kNoExpiry);
  ASSERT_NE(store.randomEntry(kNow), nullptr);
  EXPECT_EQ(Store::key(store.randomEntry(kNow)), "only");
  store.clear();
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.randomEntry(kNow), nullptr);
}

TEST(Store, DetachedEntriesAreFreedOnAnotherThread) {
  Store store;
  for (int i = 0; i < 20000; ++i) store.set("k" + std::to_string(i), "v", i % 2 ? kNow + 100 : kNoExpiry);
  Store::Detached dead = store.detachAll();
  EXPECT_EQ(store.size(), 0u);
  EXPECT_EQ(store.volatileCount(), 0u);
  EXPECT_EQ(store.find("k1", kNow), nullptr);
  store.set("k1", "new", kNoExpiry);  // the store is usable at once
  std::thread([&dead] { dead.free(); }).join();  // ASan checks every entry is freed once
  EXPECT_EQ(Store::value(store.find("k1", kNow)), "new");
}

}  // namespace
}  // namespace keyloop
