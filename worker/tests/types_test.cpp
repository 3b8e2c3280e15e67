// Unit tests of the value types: the bucket table (its SCAN guarantee
// while it grows and shrinks), intsets, collections and their conversions,
// images, the RDB codec and its checksum, and HyperLogLog's byte form.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/rdb/checksum.h"
#include "worker/persistence/dump.h"
#include "worker/persistence/value_codec.h"
#include "worker/keyspace/bucket_table.h"
#include "worker/keyspace/collection.h"
#include "worker/keyspace/hyperloglog.h"
#include "worker/keyspace/image.h"
#include "worker/keyspace/intset.h"

namespace keyloop {
namespace {

TEST(BucketTable, InsertsReplacesAndErasesWhileGrowingAndShrinking) {
  BucketTable table(2);
  std::map<std::string, std::string> model;
  for (int i = 0; i < 5000; ++i) {
    const std::string key = "f" + std::to_string(i % 3000), value = std::string(static_cast<std::size_t>(i % 7), 'v');
    EXPECT_EQ(table.insert(key, value), model.find(key) == model.end());
    model[key] = value;
  }
  for (int i = 0; i < 3000; i += 2) {
    EXPECT_TRUE(table.erase("f" + std::to_string(i)));
    model.erase("f" + std::to_string(i));
  }
  EXPECT_FALSE(table.erase("f0"));
  ASSERT_EQ(table.size(), model.size());
  std::map<std::string, std::string> seen;
  table.forEach([&](std::string_view k, std::string_view v) { seen.emplace(k, v); });
  EXPECT_EQ(seen, model);
  for (const auto& [k, v] : model) EXPECT_EQ(table.find(k).value, v);
}

TEST(BucketTable, ScanVisitsEveryTuplePresentThroughGrowthAndShrinking) {
  BucketTable table(1);
  for (int i = 0; i < 1000; ++i) table.insert("m" + std::to_string(i));
  std::set<std::string> seen;
  std::uint64_t cursor = 0;
  int step = 0;
  do {
    cursor = table.scan(cursor, 7, [&](std::string_view k, std::string_view) { seen.emplace(k); });
    // Between calls the table changes size a lot: growth, then shrinking.
    if (step < 20) {
      for (int i = 0; i < 300; ++i) table.insert("new" + std::to_string(step) + "-" + std::to_string(i));
    } else {
      for (int i = 0; i < 300; ++i) table.erase("new" + std::to_string(step - 20) + "-" + std::to_string(i));
    }
    ++step;
  } while (cursor != 0);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(seen.contains("m" + std::to_string(i))) << i;
}

std::uint64_t fixedDraw() {  // a seeded generator: the test is the same every run
  static std::uint64_t state = 42;
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

TEST(BucketTable, RandomPicksAreUniformOverTuplesNotBuckets) {
  BucketTable table(1);
  constexpr int kTuples = 1000, kDraws = 200000;
  for (int i = 0; i < kTuples; ++i) table.insert("m" + std::to_string(i));
  std::map<std::string, int> counts;
  for (int i = 0; i < kDraws; ++i) ++counts[std::string(table.random(fixedDraw).key)];
  // Pearson's chi-square over 1000 cells (999 degrees of freedom): about
  // 999 for a uniform pick, far above for one that takes a random bucket
  // first (Redis's HRANDFIELD chi-square test caught that; so does this).
  double chi = 0;
  const double expected = static_cast<double>(kDraws) / kTuples;
  for (const auto& [member, n] : counts) chi += (n - expected) * (n - expected) / expected;
  EXPECT_EQ(counts.size(), static_cast<std::size_t>(kTuples));
  EXPECT_LT(chi, 1200.0);
}

TEST(Intset, KeepsMembersSortedAndWidensAsRedisDoes) {
  std::string set = intset::empty();
  EXPECT_TRUE(intset::add(set, 5));
  EXPECT_TRUE(intset::add(set, -3));
  EXPECT_FALSE(intset::add(set, 5));
  EXPECT_EQ(set.size(), intset::kHeader + 2 * 2);  // int16 members
  EXPECT_TRUE(intset::add(set, 70000));           // every member widens to int32
  EXPECT_EQ(set.size(), intset::kHeader + 3 * 4);
  EXPECT_TRUE(intset::add(set, -(1ll << 40)));     // to int64, and first
  ASSERT_EQ(intset::count(set), 4u);
  EXPECT_EQ(intset::at(set, 0), -(1ll << 40));
  EXPECT_EQ(intset::at(set, 3), 70000);
  EXPECT_TRUE(intset::valid(set));
  EXPECT_TRUE(intset::remove(set, 5));
  EXPECT_FALSE(intset::contains(set, 5));
  EXPECT_FALSE(intset::memberValue("007"));  // not canonical: not an intset member
  EXPECT_FALSE(intset::valid(std::string("\x02\x00\x00\x00\x02\x00\x00\x00\x05\x00\x01\x00", 12)));  // unsorted
}

collection::Limits smallLimits() { return {4, 8, 3}; }

TEST(Collection, APackedHashBecomesATableAtEitherLimitAndNeverBack) {
  Store store;
  Store::Entry* e = store.set("h", packed::emptyValue(), kNoExpiry, Kind::HashPacked);
  for (const char* f : {"a", "b", "c", "d"}) EXPECT_TRUE(collection::insert(store, e, collection::kHash, smallLimits(), f, "1"));
  EXPECT_EQ(Store::kind(e), Kind::HashPacked);
  EXPECT_FALSE(collection::insert(store, e, collection::kHash, smallLimits(), "a", "2"));  // a replacement fits
  EXPECT_TRUE(collection::insert(store, e, collection::kHash, smallLimits(), "e", "1"));   // a fifth entry does not
  EXPECT_EQ(Store::kind(e), Kind::HashTable);
  for (const char* f : {"a", "b", "c", "d"}) collection::erase(store, e, f);
  EXPECT_EQ(Store::kind(e), Kind::HashTable);
  EXPECT_EQ(collection::find(e, "e").value, "1");

  Store::Entry* v = store.set("v", packed::emptyValue(), kNoExpiry, Kind::HashPacked);
  collection::insert(store, v, collection::kHash, smallLimits(), "f", "123456789");  // value over 8 bytes
  EXPECT_EQ(Store::kind(v), Kind::HashTable);
}

TEST(Collection, AnIntsetBecomesPackedForAStringAndATableWhenLarge) {
  Store store;
  const collection::EmptySet empty = collection::emptySetFor("1");
  Store::Entry* e = store.set("s", empty.bytes, kNoExpiry, empty.kind);
  ASSERT_EQ(empty.kind, Kind::SetInts);
  for (const char* m : {"1", "2", "3"}) collection::insert(store, e, collection::kSet, smallLimits(), m);
  EXPECT_EQ(Store::kind(e), Kind::SetInts);
  collection::insert(store, e, collection::kSet, smallLimits(), "x");
  EXPECT_EQ(Store::kind(e), Kind::SetPacked);
  EXPECT_TRUE(collection::contains(e, "2"));
  collection::insert(store, e, collection::kSet, smallLimits(), "y");  // a fifth member
  EXPECT_EQ(Store::kind(e), Kind::SetTable);
  std::set<std::string> members;
  collection::forEach(e, [&](std::string_view m, std::string_view) { members.emplace(m); });
  EXPECT_EQ(members, (std::set<std::string>{"1", "2", "3", "x", "y"}));
}

TEST(Image, EveryKindSurvivesTheTripAndATableTravelsInParts) {
  Store from, to;
  Store::Entry* big = from.set("big", packed::emptyValue(), kNoExpiry, Kind::HashPacked);
  for (int i = 0; i < 5000; ++i) {
    collection::insert(from, big, collection::kHash, {128, 64}, "f" + std::to_string(i), std::to_string(i));
  }
  ASSERT_TRUE(travelsInParts(big));
  std::string image;
  appendEmptyImage(image, Store::kind(big));
  Store::Entry* copy = restoreImage(to, "big", image, 123);
  std::uint64_t cursor = 0;
  int parts = 0;
  do {
    std::string part;
    cursor = appendPart(part, big, cursor);
    ASSERT_TRUE(addPart(to, copy, part));
    ++parts;
  } while (cursor != 0);
  EXPECT_GT(parts, 3);
  std::map<std::string, std::string> original, arrived;
  collection::forEach(big, [&](std::string_view k, std::string_view v) { original.emplace(k, v); });
  collection::forEach(copy, [&](std::string_view k, std::string_view v) { arrived.emplace(k, v); });
  EXPECT_EQ(arrived, original);
  EXPECT_EQ(Store::expireAt(copy), 123);
  EXPECT_EQ(restoreImage(to, "bad", std::string(1, '\x7f'), kNoExpiry), nullptr);
}

TEST(Checksum, Crc64AndLzfAreRedis) {
  EXPECT_EQ(rdb::crc64(0, "123456789"), 0xe9c6d914c4b8d9caull);
  // Eight bytes at a time (slicing) and one at a time agree, split anywhere.
  std::string bytes;
  for (int i = 0; i < 1000; ++i) bytes.push_back(static_cast<char>(i * 37 + 11));
  std::uint64_t oneByOne = 0;
  for (char c : bytes) oneByOne = rdb::crc64(oneByOne, std::string_view(&c, 1));
  EXPECT_EQ(rdb::crc64(0, bytes), oneByOne);
  EXPECT_EQ(rdb::crc64(rdb::crc64(0, std::string_view(bytes).substr(0, 333)), std::string_view(bytes).substr(333)), oneByOne);
  // "aaaaaaaaaa" as liblzf writes it: a literal, then a back reference.
  const std::string compressed("\x00\x61\xe0\x00\x00\x00\x61", 7);
  EXPECT_FALSE(rdb::lzfDecompress(compressed, 3).has_value());  // wrong length
  const std::string runs("\x01\x61\x62\x20\x01", 5);                 // "ab" then 3 bytes from 2 back
  EXPECT_EQ(rdb::lzfDecompress(runs, 5).value_or("?"), "ababa");
  EXPECT_FALSE(rdb::lzfDecompress(std::string("\x20\x05", 2), 3).has_value());  // reference before the start
}

TEST(RdbValue, DumpsRedisWouldWriteAndReadsBack) {
  Store store, scratch;
  store.set("s", "hello", kNoExpiry);
  // Redis 7.0.15's DUMP of "hello", byte for byte.
  EXPECT_EQ(rdb::dumpPayload(store.find("s", 0)), std::string("\x00\x05hello\n\x00" "cr\xdf" "ve4 \n", 17));
  store.set("n", "-123", kNoExpiry);
  std::string value;
  rdb::appendValue(value, store.find("n", 0));
  EXPECT_EQ(value, std::string("\x00\xc0\x85", 3));  // an 8-bit integer
  const rdb::Limits limits{{128, 64}, {128, 64, 512}, {-2}, {128, 64}, {}};
  std::string_view in = value;
  Store::Entry* back = rdb::readValue(in, scratch, "n", limits);
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(Store::value(back), "-123");
  const std::string truncated("\x04\x02\x01" "a", 4);  // a hash of 2 pairs, cut short
  std::string_view cut = truncated;
  EXPECT_EQ(rdb::readValue(cut, scratch, "h", limits), nullptr);
  EXPECT_FALSE(rdb::verifiedValue("short").has_value());
}

TEST(HyperLogLog, StartsAsRedisSparseFormAndCounts) {
  std::string h = hll::create();
  EXPECT_EQ(h, std::string("HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x7f\xff", 18));
  for (int i = 0; i < 1000; ++i) hll::add(h, std::to_string(i), 3000);
  bool changed = false;
  const auto n = hll::count(h, changed);
  ASSERT_TRUE(n.has_value());
  EXPECT_NEAR(static_cast<double>(*n), 1000.0, 30.0);  // the estimate's standard error is 0.81%
  EXPECT_TRUE(changed);
  for (int i = 1000; i < 3000; ++i) hll::add(h, std::to_string(i), 100);  // passes the sparse limit
  EXPECT_TRUE(hll::isDense(h));
  EXPECT_EQ(h.size(), 16u + 12288u);
  EXPECT_FALSE(hll::isHll("HYLL\x01"));
}

}  // namespace
}  // namespace keyloop
