// Collection: a hash or a set in any of its encodings, a packed value
// inside the store entry (small), an intset (small sets of integers) or a
// BucketTable (big), behind one set of operations. Hashes and sets are its
// two shapes; a set's intset is read here and written by addMember().
//
// A packed collection turns into a table when an insert would pass the
// shape's limits (Redis's hash-max-listpack-*, set-max-listpack-*), and
// never back, as in Redis. Entry pointers passed by reference are updated
// when a write moves the entry.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "worker/keyspace/store.h"
#include "worker/keyspace/bucket_table.h"
#include "worker/keyspace/intset.h"
#include "worker/keyspace/packed.h"

namespace keyloop::collection {

struct Shape {
  int width;
  Kind packedKind, tableKind;
};
inline constexpr Shape kHash{2, Kind::HashPacked, Kind::HashTable};
inline constexpr Shape kSet{1, Kind::SetPacked, Kind::SetTable};

struct Limits {
  std::size_t maxPackedEntries, maxPackedValue;
  std::size_t maxIntsetEntries = 0;  // sets only
};

inline bool isTable(const Store::Entry* e) {
  const Kind k = Store::kind(e);
  return k == Kind::HashTable || k == Kind::SetTable || k == Kind::HashTtl;
}
// A hash some of whose fields may expire (field_expiry.h): its reads leave
// out the fields expired at the command's time and strip the times.
inline bool hasFieldTimes(const Store::Entry* e) { return Store::kind(e) == Kind::HashTtl; }
bool fieldExpired(std::string_view stored);
std::string_view fieldValueOf(std::string_view stored);
inline bool isIntset(const Store::Entry* e) { return Store::kind(e) == Kind::SetInts; }
inline int widthOf(const Store::Entry* e) { return typeOf(Store::kind(e)) == Type::Hash ? 2 : 1; }

// Its fields or members (of a hash with field times: those not expired).
std::size_t size(const Store::Entry* e);
// The tuple with this key (end == 0: none); views valid until the next
// write. Not for intsets (contains() is).
packed::Tuple find(const Store::Entry* e, std::string_view key);
bool contains(const Store::Entry* e, std::string_view key);
// Adds (true) or replaces the value of (false) the tuple `key`. A set's
// intset stays one while its members are integers and few enough, then
// becomes packed (Redis 7.2's listpack sets) or a table.
bool insert(Store& store, Store::Entry*& e, const Shape& shape, const Limits& limits, std::string_view key,
            std::string_view value = {});
bool erase(Store& store, Store::Entry*& e, std::string_view key);
// A new empty set fit for `firstMember` (an intset if it is an integer).
struct EmptySet {
  std::string_view bytes;
  Kind kind;
};
EmptySet emptySetFor(std::string_view firstMember);
// Makes `e` a table holding its tuples (OBJECT ENCODING hashtable).
void convertToTable(Store& store, Store::Entry*& e, const Shape& shape);
// A packed value's tuples rebuilt as a table.
BucketTable* tableOf(std::string_view packedValue, int width);

// The set's members one by one (intset members as decimal text).
template <typename Visit>
void forEachMember(const Store::Entry* e, Visit visit) {
  const std::string_view set = Store::value(e);
  char digits[24];
  for (std::uint32_t i = 0, n = intset::count(set); i < n; ++i) {
    const int length = std::snprintf(digits, sizeof digits, "%lld", static_cast<long long>(intset::at(set, i)));
    visit(std::string_view(digits, static_cast<std::size_t>(length)), std::string_view{});
  }
}

// Calls visit for the tuples a reader sees: a hash's expired fields are
// left out, and times stripped.
template <typename Visit>
auto visibleTuples(const Store::Entry* e, Visit& visit) {
  return [&visit, timed = hasFieldTimes(e)](std::string_view k, std::string_view v) {
    if (!timed) return visit(k, v);
    if (!fieldExpired(v)) visit(k, fieldValueOf(v));
  };
}

template <typename Visit>
void forEach(const Store::Entry* e, Visit visit) {
  if (isTable(e)) return Store::table(e).forEach(visibleTuples(e, visit));
  if (isIntset(e)) return forEachMember(e, visit);
  packed::forEachTuple(Store::value(e), packed::kPackedHeader, widthOf(e), [&](const packed::Tuple& t) {
    visit(t.key, t.value);
    return true;
  });
}

// HSCAN / SSCAN: a packed value is visited whole in one call (cursor 0
// back), as Redis does with a listpack.
template <typename Visit>
std::uint64_t scan(const Store::Entry* e, std::uint64_t cursor, std::size_t count, Visit visit) {
  if (isTable(e)) return Store::table(e).scan(cursor, count, visibleTuples(e, visit));
  forEach(e, visit);
  return 0;
}

// A tuple copied out (an intset member has no bytes to point into).
struct Picked {
  std::string key, value;
};
// A uniformly random tuple of a non-empty collection.
Picked random(const Store::Entry* e);

// Random numbers for the random picks (one generator per thread).
std::uint64_t draw();

// The value's bytes from malloc beyond the entry's own (MEMORY USAGE).
std::size_t ownBytes(const Store::Entry* e);

}  // namespace keyloop::collection
