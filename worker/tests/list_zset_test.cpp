// Unit tests of lists and sorted sets: every list operation against a
// std::deque through chunk splits and merges, the B+tree against a
// std::set (ranks, bounds, walks both ways), conversions at the limits,
// scores as bytes, images in parts, and how a blocking command is
// restricted to the key that serves it.
#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <limits>
#include <random>
#include <set>

#include "worker/dispatch/blocking.h"
#include "worker/execution/command_table.h"
#include "worker/keyspace/image.h"
#include "worker/keyspace/list.h"
#include "worker/keyspace/score_tree.h"
#include "worker/keyspace/zset.h"

namespace keyloop {
namespace {

std::deque<std::string> contents(const Store::Entry* e) {
  std::deque<std::string> out;
  list::forEach(e, [&](std::string_view v) { out.emplace_back(v); });
  return out;
}

class ListModel : public ::testing::TestWithParam<long long> {};

TEST_P(ListModel, EveryOperationMatchesADequeThroughChunkSplits) {
  const list::Limits limits{GetParam()};
  Store store;
  Store::Entry* e = store.set("l", list::emptyValue(), kNoExpiry, Kind::ListPacked);
  std::deque<std::string> model;
  std::mt19937 rng(7);
  auto element = [&] { return std::string(rng() % 3 == 0 ? 200 : rng() % 12, static_cast<char>('a' + rng() % 5)); };
  bool becameChunked = false;
  for (int step = 0; step < 6000; ++step) {
    const int op = static_cast<int>(rng() % 9);
    const std::size_t n = model.size();
    if (op <= 2 || n == 0) {
      const std::string v = element();
      const bool head = rng() % 2 == 0;
      list::push(store, e, head ? list::End::Head : list::End::Tail, v, limits);
      head ? model.push_front(v) : model.push_back(v);
    } else if (op == 3) {
      const bool head = rng() % 2 == 0;
      ASSERT_EQ(list::pop(store, e, head ? list::End::Head : list::End::Tail), head ? model.front() : model.back());
      head ? model.pop_front() : model.pop_back();
    } else if (op == 4) {
      const std::size_t i = rng() % n;
      ASSERT_EQ(list::at(e, i), model[i]);
      const std::string v = element();
      list::set(store, e, i, v, limits);
      model[i] = v;
    } else if (op == 5) {
      const std::string pivot = model[rng() % n], v = element();
      const bool after = rng() % 2 == 0;
      ASSERT_TRUE(list::insertAt(store, e, pivot, after, v, limits));
      auto it = std::find(model.begin(), model.end(), pivot);
      model.insert(after ? it + 1 : it, v);
    } else if (op == 6) {
      const std::string v = model[rng() % n];
      const long long count = static_cast<long long>(rng() % 5) - 2;
      std::size_t expected = 0;
      const std::size_t limit = count == 0 ? SIZE_MAX : static_cast<std::size_t>(std::llabs(count));
      if (count >= 0) {
        for (auto it = model.begin(); it != model.end() && expected < limit;) {
          if (*it == v) it = model.erase(it), ++expected;
          else ++it;
        }
      } else {
        for (std::size_t i = model.size(); i-- > 0 && expected < limit;) {
          if (model[i] == v) model.erase(model.begin() + static_cast<std::ptrdiff_t>(i)), ++expected;
        }
      }
      ASSERT_EQ(list::removeEqual(store, e, v, count), expected);
    } else if (op == 7 && n > 20 && rng() % 4 == 0) {
      const std::size_t from = rng() % 5, to = n - 1 - rng() % 5;
      list::trim(store, e, from, to);
      model = std::deque<std::string>(model.begin() + static_cast<std::ptrdiff_t>(from),
                                      model.begin() + static_cast<std::ptrdiff_t>(to) + 1);
    } else {
      const std::size_t from = rng() % n, to = from + rng() % (n - from);
      const bool backwards = rng() % 2 == 0;
      std::vector<std::string> seen;
      list::forRange(e, from, to, backwards, [&](std::size_t i, std::string_view v) {
        EXPECT_EQ(v, model[i]);
        seen.emplace_back(v);
        return true;
      });
      ASSERT_EQ(seen.size(), to - from + 1);
    }
    if (model.empty()) {
      store.erase("l");
      e = store.set("l", list::emptyValue(), kNoExpiry, Kind::ListPacked);
    }
    ASSERT_EQ(list::size(e), model.size());
    becameChunked = becameChunked || list::isChunked(e);
  }
  EXPECT_EQ(contents(e), model);
  EXPECT_TRUE(becameChunked);
  if (list::isChunked(e)) {
    for (const Chunk& c : list::chunked(e).chunks) {
      EXPECT_TRUE(limits.allows(c.bytes().size() - packed::kPackedHeader, c.count()) || c.count() == 1);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(ChunkLimits, ListModel, ::testing::Values(3, -1, -2));

TEST(ScoreTree, RanksBoundsAndWalksMatchAnOrderedSet) {
  ScoreTree tree;
  std::set<std::pair<double, std::string>> model;
  std::mt19937 rng(11);
  for (int step = 0; step < 40000; ++step) {
    const double s = static_cast<double>(rng() % 500) / 4;
    const std::string m = "m" + std::to_string(rng() % 8000);
    if (rng() % 3 != 0) {
      if (model.insert({s, m}).second) tree.insert(s, m);
    } else {
      ASSERT_EQ(tree.erase(s, m), model.erase({s, m}) == 1);
    }
  }
  ASSERT_EQ(tree.size(), model.size());
  for (int probe = 0; probe < 300; ++probe) {
    const double bound = static_cast<double>(rng() % 520) / 4 - 2;
    const std::size_t below = static_cast<std::size_t>(std::distance(model.begin(), model.lower_bound({bound, ""})));
    ASSERT_EQ(tree.prefixCount([&](double s, std::string_view) { return s < bound; }), below);
    const std::size_t rank = rng() % model.size();
    auto it = std::next(model.begin(), static_cast<std::ptrdiff_t>(rank));
    std::size_t visited = 0;
    const bool backwards = probe % 2 == 1;
    tree.walk(rank, backwards, [&](std::size_t r, double s, std::string_view m) {
      EXPECT_EQ(r, backwards ? rank - visited : rank + visited);
      EXPECT_EQ(std::make_pair(s, std::string(m)), *it);
      ++visited;
      if (backwards) {
        if (it == model.begin()) return false;
        --it;
      } else if (++it == model.end()) {
        return false;
      }
      return visited < 200;
    });
    EXPECT_EQ(visited, std::min<std::size_t>(200, backwards ? rank + 1 : model.size() - rank));
  }
  // Emptied again, it is a usable empty tree.
  for (const auto& [s, m] : model) ASSERT_TRUE(tree.erase(s, m));
  EXPECT_EQ(tree.size(), 0u);
  tree.insert(1, "again");
  EXPECT_EQ(tree.size(), 1u);
}

TEST(Scores, TravelAsTheirBitsWithTrailingZeroBytesDropped) {
  for (double v : {0.0, -0.0, 1.0, -2.5, 0.1, 1e300, -1e-300, 1700000000123.0, std::numeric_limits<double>::infinity(),
                   -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::denorm_min()}) {
    const std::string bytes = score::encoded(v);
    EXPECT_LE(bytes.size(), 8u);
    EXPECT_EQ(std::signbit(score::decode(bytes)), std::signbit(v));
    EXPECT_EQ(score::decode(bytes), v);
  }
  EXPECT_EQ(score::encoded(1.0).size(), 2u);
  EXPECT_EQ(score::encoded(0.0).size(), 0u);
}

TEST(Zset, APackedSetBecomesATreeAtEitherLimitAndKeepsItsOrder) {
  Store store;
  const zset::Limits limits{16, 8};
  Store::Entry* e = zset::create(store, "z", 0, 1, limits);
  for (int i = 0; i < 16; ++i) zset::put(store, e, "m" + std::to_string(i), 16 - i, limits);
  EXPECT_EQ(Store::kind(e), Kind::ZsetPacked);
  zset::put(store, e, "m3", -1, limits);  // an update, not a new member
  EXPECT_EQ(Store::kind(e), Kind::ZsetPacked);
  EXPECT_EQ(zset::rankOf(e, "m3"), 0u);
  zset::put(store, e, "one-more", 100, limits);
  EXPECT_EQ(Store::kind(e), Kind::ZsetTree);
  EXPECT_EQ(zset::size(e), 17u);
  EXPECT_EQ(zset::rankOf(e, "one-more"), 16u);
  Store::Entry* longMember = zset::create(store, "y", 0, 1, limits);
  zset::put(store, longMember, "a-member-longer-than-8", 1, limits);
  EXPECT_EQ(Store::kind(longMember), Kind::ZsetTree);
  // A packed set keeps -0 as Redis's listpack text does: "0".
  Store::Entry* zero = zset::create(store, "x", 0, 1, limits);
  zset::put(store, zero, "m", -0.0, limits);
  EXPECT_FALSE(std::signbit(*zset::scoreOf(zero, "m")));
}

TEST(Image, BigListsAndSortedSetsTravelInPartsAndArriveWhole) {
  Store from, to;
  Store::Entry* l = from.set("l", list::emptyValue(), kNoExpiry, Kind::ListPacked);
  for (int i = 0; i < 3000; ++i) list::push(from, l, list::End::Tail, "e" + std::to_string(i), {});
  Store::Entry* z = zset::create(from, "z", 3000, 5, {});
  for (int i = 0; i < 3000; ++i) zset::put(from, z, "m" + std::to_string(i), i % 97, {});
  for (Store::Entry* e : {l, z}) {
    ASSERT_TRUE(travelsInParts(e));
    std::string image;
    appendEmptyImage(image, Store::kind(e));
    const std::string key(Store::key(e));
    Store::Entry* copy = restoreImage(to, key, image, kNoExpiry);
    ASSERT_NE(copy, nullptr);
    std::uint64_t cursor = 0;
    int parts = 0;
    do {
      std::string part;
      cursor = appendPart(part, e, cursor);
      ASSERT_TRUE(addPart(to, copy, part));
      ++parts;
    } while (cursor != 0);
    EXPECT_GT(parts, 3);
    EXPECT_EQ(imageOf(copy), imageOf(e)) << key;
    // And whole, in one image.
    Store::Entry* again = restoreImage(to, key + "2", imageOf(e), 5);
    EXPECT_EQ(imageOf(again), imageOf(e)) << key;
  }
}

TEST(Blocking, ACommandIsRestrictedToTheKeyThatServesIt) {
  auto restrict = [](std::vector<std::string_view> args, std::string_view key) {
    return restrictToKey(*resolveCommand(args).spec, args, key);
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(restrict({"BLPOP", "a", "b", "c", "0"}, "b"), (V{"BLPOP", "b", "0"}));
  EXPECT_EQ(restrict({"BZPOPMAX", "a", "1.5"}, "a"), (V{"BZPOPMAX", "a", "1.5"}));
  EXPECT_EQ(restrict({"BLMPOP", "0", "3", "a", "b", "c", "LEFT", "COUNT", "2"}, "c"),
            (V{"BLMPOP", "0", "1", "c", "LEFT", "COUNT", "2"}));
  EXPECT_EQ(restrict({"BLMOVE", "s", "d", "LEFT", "RIGHT", "0"}, "s"), (V{"BLMOVE", "s", "d", "LEFT", "RIGHT", "0"}));
  EXPECT_TRUE(isNullReply("*-1\r\n"));
  EXPECT_TRUE(isNullReply("_\r\n"));
  EXPECT_FALSE(isNullReply("*0\r\n"));
}

}  // namespace
}  // namespace keyloop
