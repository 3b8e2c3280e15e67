// Unit tests of streams: the packed nodes against a std::map model through
// appends, deletions, exact and approximate trims (ranges both ways, with
// values that are integers, long strings and changing fields), node limits
// as Redis counts them, the RDB form round trip with consumer groups, and
// malformed payloads refused.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "worker/keyspace/image.h"
#include "worker/keyspace/stream.h"
#include "worker/keyspace/stream_codec.h"

namespace keyloop {
namespace {

using stream::Id;
using Model = std::map<Id, std::vector<std::string>>;

std::vector<std::string> randomFields(std::mt19937& rng) {
  static const std::vector<std::string> values = {"0", "63", "64", "-1", "-9223372036854775808", "9223372036854775807",
                                                  "007", "+5", "1.5", "", std::string(300, 'x'), "hello", "-0"};
  std::vector<std::string> out;
  const std::size_t pairs = 1 + rng() % 4;
  for (std::size_t i = 0; i < pairs; ++i) {
    out.push_back(rng() % 4 == 0 ? "f" + std::to_string(rng() % 9) : "f" + std::to_string(i));
    out.push_back(values[rng() % values.size()] + (rng() % 3 == 0 ? std::to_string(rng()) : ""));
  }
  return out;
}

Model contents(const stream::Stream& s, bool backwards) {
  Model out;
  Id previous = backwards ? stream::kMaxId : Id{};
  bool first = true;
  s.range({}, stream::kMaxId, backwards, [&](Id id, stream::Fields fields) {
    EXPECT_TRUE(first || (backwards ? id < previous : id > previous));
    first = false;
    previous = id;
    out[id] = std::vector<std::string>(fields.begin(), fields.end());
    return true;
  });
  return out;
}

TEST(StreamModel, EveryOperationMatchesAMap) {
  std::mt19937 rng(11);
  stream::Stream s;
  Model model;
  const stream::Limits limits{512, 10};
  Id next{1, 0};
  for (int step = 0; step < 5000; ++step) {
    const unsigned op = rng() % 20;
    if (op < 14) {
      next = rng() % 3 == 0 ? Id{next.ms + rng() % 100000, rng() % 20} : Id{next.ms, next.seq + 1 + rng() % 20};
      const auto fields = randomFields(rng);
      const std::vector<std::string_view> views(fields.begin(), fields.end());
      s.append(next, views, limits);
      model[next] = fields;
    } else if (op < 18 && !model.empty()) {
      auto it = model.begin();
      std::advance(it, static_cast<long>(rng() % model.size()));
      EXPECT_TRUE(s.erase(it->first));
      EXPECT_FALSE(s.erase(it->first));
      model.erase(it);
    } else if (op == 18) {
      stream::Trim t;
      t.by = stream::Trim::By::MaxLen;
      t.maxLen = model.size() > 5 ? model.size() - 5 : 0;
      EXPECT_EQ(s.trim(t), model.size() - t.maxLen);
      while (model.size() > t.maxLen) model.erase(model.begin());
    } else if (!model.empty()) {
      stream::Trim t;
      t.by = stream::Trim::By::MinId;
      t.approximate = true;
      t.minId = std::next(model.begin(), static_cast<long>(model.size() / 2))->first;
      const std::uint64_t gone = s.trim(t);
      // Whole nodes only: never past the bound, and what went was the oldest.
      EXPECT_LE(gone, model.size() / 2);
      for (std::uint64_t i = 0; i < gone; ++i) model.erase(model.begin());
    }
    ASSERT_EQ(s.length(), model.size());
    if (step % 97 == 0) {
      ASSERT_EQ(contents(s, false), model);
      ASSERT_EQ(contents(s, true), model);
      if (!model.empty()) {
        ASSERT_EQ(s.firstEntry(), model.begin()->first);
        ASSERT_EQ(s.lastEntry(), model.rbegin()->first);
      }
    }
  }
  ASSERT_EQ(contents(s, false), model);
}

TEST(StreamModel, RangesStartAndEndInsideNodes) {
  stream::Stream s;
  const std::vector<std::string_view> fields = {"a", "1"};
  for (std::uint64_t i = 1; i <= 250; ++i) s.append({i, 0}, fields, {});
  std::vector<std::uint64_t> seen;
  s.range({95, 0}, {205, 0}, true, [&](Id id, stream::Fields) {
    seen.push_back(id.ms);
    return seen.size() < 50;
  });
  ASSERT_EQ(seen.size(), 50u);
  EXPECT_EQ(seen.front(), 205u);
  EXPECT_EQ(seen.back(), 156u);
  EXPECT_TRUE(s.contains({100, 0}));
  EXPECT_FALSE(s.contains({100, 1}));
  EXPECT_EQ(s.nodeCount(), 3u);  // 100 entries a node, as Redis's default
}

TEST(StreamModel, ApproximateTrimKeepsWhatRedisKeeps) {
  // XADD ... MAXLEN ~ 555 over 1000 entries leaves 600 with nodes of 100 (Redis's own test).
  stream::Stream s;
  const std::vector<std::string_view> fields = {"xitem", "1"};
  stream::Trim t;
  t.by = stream::Trim::By::MaxLen;
  t.approximate = true;
  t.maxLen = 555;
  t.limit = 10000;
  for (std::uint64_t i = 1; i <= 1000; ++i) {
    s.append({i, 0}, fields, {});
    s.trim(t);
  }
  EXPECT_EQ(s.length(), 600u);
}

stream::Stream& withGroups(stream::Stream& s) {
  for (std::uint64_t i = 1; i <= 300; ++i) {
    const std::string v = std::to_string(i * 1000);
    const std::vector<std::string_view> fields = {"n", v, "text", i % 2 ? "odd" : "even entry"};
    s.append({i, i % 3}, fields, {});
  }
  s.erase({5, 2});
  stream::Group& g = s.groups["workers"];
  g.lastId = {200, 2};
  g.entriesRead = 200;
  stream::Consumer& alice = g.consumer("alice", 1000);
  stream::Consumer& bob = g.consumer("bob", 2000);
  g.deliver({7, 1}, alice, 5000);
  g.deliver({8, 2}, bob, 6000).deliveries = 4;
  g.deliver({5, 2}, bob, 7000);  // deleted since: still pending
  s.groups["idle"];
  return s;
}

TEST(StreamCodec, RoundTripKeepsEntriesGroupsAndCounters) {
  stream::Stream s;
  withGroups(s);
  std::string bytes;
  rdb::appendStream(bytes, s);
  std::string_view in = bytes;
  rdb::Reader r{in};
  const auto back = rdb::readStream(r, true, {});
  ASSERT_NE(back, nullptr);
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(contents(*back, false), contents(s, false));
  EXPECT_EQ(back->lastId, s.lastId);
  EXPECT_EQ(back->maxDeletedId, (Id{5, 2}));
  EXPECT_EQ(back->entriesAdded, 300u);
  ASSERT_EQ(back->groups.size(), 2u);
  const stream::Group& g = back->groups.at("workers");
  EXPECT_EQ(g.lastId, (Id{200, 2}));
  EXPECT_EQ(g.entriesRead, 200);
  ASSERT_EQ(g.pending.size(), 3u);
  EXPECT_EQ(g.pending.at({8, 2}).owner->name, "bob");
  EXPECT_EQ(g.pending.at({8, 2}).deliveries, 4u);
  EXPECT_EQ(g.pending.at({7, 1}).deliveredMs, 5000);
  EXPECT_EQ(g.find("bob")->pending.size(), 2u);
  EXPECT_EQ(g.find("alice")->seenMs, 1000);
  EXPECT_EQ(back->groups.at("idle").entriesRead, stream::kUnknownRead);
}

TEST(StreamCodec, MalformedPayloadsAreRefusedWhole) {
  stream::Stream s;
  withGroups(s);
  std::string bytes;
  rdb::appendStream(bytes, s);
  std::mt19937 rng(3);
  int refused = 0;
  for (int i = 0; i < 900; ++i) {
    std::string mutated = bytes;
    if (i % 3 == 0) {
      mutated.resize(rng() % mutated.size());
    } else {
      for (int k = 0; k < 1 + i % 4; ++k) mutated[rng() % mutated.size()] = static_cast<char>(rng());
    }
    std::string_view in = mutated;
    rdb::Reader r{in};
    if (rdb::readStream(r, true, {}) == nullptr) ++refused;
  }
  EXPECT_GT(refused, 300);  // truncations at least; a flipped value byte may still be a valid stream
}

TEST(StreamImage, ABigStreamTravelsInPartsWithItsGroupsAtTheEnd) {
  Store store;
  Store::Entry* e = store.setObject(store.set("s", {}, kNoExpiry), new stream::Stream(), Kind::Stream);
  stream::Stream& s = withGroups(Store::object<stream::Stream>(e));
  const std::vector<std::string_view> fields = {"more", "1"};
  for (std::uint64_t i = 1; i <= 500; ++i) s.append({1000 + i, 0}, fields, {});
  ASSERT_TRUE(travelsInParts(e));
  std::string first;
  appendEmptyImage(first, Kind::Stream);
  Store other;
  Store::Entry* copy = restoreImage(other, "s", first, kNoExpiry);
  ASSERT_NE(copy, nullptr);
  std::uint64_t cursor = 0;
  int parts = 0;
  do {
    std::string part;
    cursor = appendPart(part, e, cursor);
    ASSERT_TRUE(addPart(other, copy, part));
    EXPECT_FALSE(addPart(other, copy, part.substr(0, part.size() - 1)));  // cut short: refused
    ++parts;
  } while (cursor != 0);
  EXPECT_GE(parts, 2);
  const stream::Stream& moved = Store::object<stream::Stream>(copy);
  EXPECT_EQ(contents(moved, false), contents(s, false));
  EXPECT_EQ(moved.lastId, s.lastId);
  EXPECT_EQ(moved.entriesAdded, s.entriesAdded);
  EXPECT_EQ(moved.groups.at("workers").pending.size(), 3u);
  EXPECT_EQ(moved.groups.at("workers").find("bob")->pending.size(), 2u);
}

TEST(StreamImage, TravelsWholeWithItsGroups) {
  Store store;
  Store::Entry* e = store.setObject(store.set("s", {}, kNoExpiry), new stream::Stream(), Kind::Stream);
  withGroups(Store::object<stream::Stream>(e));
  const std::string image = imageOf(e);
  Store other;
  Store::Entry* copy = restoreImage(other, "s", image, kNoExpiry);
  ASSERT_NE(copy, nullptr);
  ASSERT_EQ(Store::kind(copy), Kind::Stream);
  EXPECT_EQ(contents(Store::object<stream::Stream>(copy), true), contents(Store::object<stream::Stream>(e), true));
  EXPECT_EQ(Store::object<stream::Stream>(copy).groups.at("workers").pending.size(), 3u);
  EXPECT_EQ(restoreImage(other, "t", image.substr(0, image.size() / 2), kNoExpiry), nullptr);
}

}  // namespace
}  // namespace keyloop
