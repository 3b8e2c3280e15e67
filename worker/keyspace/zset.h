// Zset: a Redis sorted set in either of its encodings behind one set of
// operations. A small one (ZsetPacked, OBJECT ENCODING listpack) is its
// (member, score) tuples packed inline in the store entry, kept in
// (score, member) order; a big one (ZsetTree, "skiplist" to OBJECT
// ENCODING, as Redis names it) is a SortedSet: a BucketTable from member to
// score (ZSCORE, ZSCAN, ZRANDMEMBER) beside a ScoreTree for the order.
//
// Every range command reduces to two questions: how many tuples come
// before a bound (prefixCount) and which tuples lie between two ranks
// (walk). A packed set becomes a tree past zset-max-listpack-entries or
// -value, and never back (Redis 7.0 too, except for the results of the
// STORE commands, which are built packed when they are small).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "worker/keyspace/store.h"
#include "worker/keyspace/bucket_table.h"
#include "worker/keyspace/score_tree.h"

namespace keyloop::zset {

struct Limits {
  std::size_t maxPackedEntries = 128, maxPackedValue = 64;
};

struct SortedSet {
  BucketTable index{2};  // member -> the score's 8 bytes
  ScoreTree tree;
};

inline bool isTree(const Store::Entry* e) { return Store::kind(e) == Kind::ZsetTree; }

// A new sorted set's value: packed, or a tree when it will hold more than
// the limits allow from the start.
Store::Entry* create(Store& store, std::string_view key, std::size_t expected, std::size_t longestMember,
                     const Limits& limits);

std::size_t size(const Store::Entry* e);
std::optional<double> scoreOf(const Store::Entry* e, std::string_view member);
// Sets member's score (adds it when absent). The caller applies NX/XX/GT/LT.
void put(Store& store, Store::Entry*& e, std::string_view member, double score, const Limits& limits);
bool erase(Store& store, Store::Entry*& e, std::string_view member);
// The member's 0-based rank from the lowest score.
std::optional<std::size_t> rankOf(const Store::Entry* e, std::string_view member);
// How many tuples hold `before` (true for a prefix of the order).
using Before = ScoreTree::Before;
std::size_t prefixCount(const Store::Entry* e, const Before& before);
// visit(rank, member, score) for ranks from..to inclusive (from <= to < size),
// backwards from `to` when asked; stops when visit returns false.
using Visit = std::function<bool(std::size_t rank, std::string_view member, double score)>;
void walk(const Store::Entry* e, std::size_t from, std::size_t to, bool backwards, const Visit& visit);
void forEach(const Store::Entry* e, const std::function<void(std::string_view member, double score)>& visit);
// ZSCAN: a packed set in one call (cursor 0 back), a tree through its index.
std::uint64_t scan(const Store::Entry* e, std::uint64_t cursor, std::size_t count,
                   const std::function<void(std::string_view member, double score)>& visit);
// A uniformly random member and its score (the set must not be empty).
std::pair<std::string, double> random(const Store::Entry* e, std::uint64_t (*draw)());

std::size_t ownBytes(const Store::Entry* e);

}  // namespace keyloop::zset
