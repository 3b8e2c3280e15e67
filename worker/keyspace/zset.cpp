#include "worker/keyspace/zset.h"

#include <cstring>
#include <vector>

#include "worker/keyspace/packed.h"

namespace keyloop::zset {

namespace {

constexpr std::size_t kHeader = packed::kPackedHeader;

SortedSet& tree(const Store::Entry* e) { return Store::object<SortedSet>(e); }

double scoreInIndex(std::string_view bytes) {
  double s;
  std::memcpy(&s, bytes.data(), sizeof s);
  return s;
}
std::string_view indexValue(const double& s) { return {reinterpret_cast<const char*>(&s), sizeof s}; }

struct Tuple {
  std::string_view member;
  double score;
  std::size_t begin, end;
};

Tuple readAt(std::string_view bytes, std::size_t at) {
  const packed::Tuple t = packed::readTuple(bytes, at, 2);
  return {t.key, score::decode(t.value), t.begin, t.end};
}

// The tuples' offsets of a packed set, in order.
std::vector<std::size_t> offsetsOf(std::string_view bytes) {
  std::vector<std::size_t> out;
  out.reserve(packed::countOf(bytes));
  for (std::size_t at = kHeader; at < bytes.size(); at = readAt(bytes, at).end) out.push_back(at);
  return out;
}

void convertToTree(Store& store, Store::Entry*& e) {
  auto* set = new SortedSet();
  const std::string_view bytes = Store::value(e);
  for (std::size_t at = kHeader; at < bytes.size();) {
    const Tuple t = readAt(bytes, at);
    set->index.insert(t.member, indexValue(t.score));
    set->tree.insert(t.score, t.member);
    at = t.end;
  }
  e = store.setObject(e, set, Kind::ZsetTree);
}

}  // namespace

Store::Entry* create(Store& store, std::string_view key, std::size_t expected, std::size_t longestMember,
                     const Limits& limits) {
  Store::Entry* e = store.set(key, packed::emptyValue(), kNoExpiry, Kind::ZsetPacked);
  if (expected > limits.maxPackedEntries || longestMember > limits.maxPackedValue) convertToTree(store, e);
  return e;
}

std::size_t size(const Store::Entry* e) {
  return isTree(e) ? tree(e).index.size() : packed::countOf(Store::value(e));
}

std::optional<double> scoreOf(const Store::Entry* e, std::string_view member) {
  if (isTree(e)) {
    const packed::Tuple t = tree(e).index.find(member);
    if (t.end == 0) return std::nullopt;
    return scoreInIndex(t.value);
  }
  const packed::Tuple t = packed::findTuple(Store::value(e), kHeader, 2, member);
  if (t.end == 0) return std::nullopt;
  return score::decode(t.value);
}

void put(Store& store, Store::Entry*& e, std::string_view member, double s, const Limits& limits) {
  if (!isTree(e) && (size(e) + 1 > limits.maxPackedEntries || member.size() > limits.maxPackedValue) &&
      !scoreOf(e, member)) {
    convertToTree(store, e);
  }
  if (isTree(e)) {
    SortedSet& set = tree(e);
    const packed::Tuple old = set.index.find(member);
    if (old.end != 0) {
      const double was = scoreInIndex(old.value);
      if (was == s) return;
      set.tree.erase(was, member);
      set.tree.insert(s, member);
      // The score is 8 bytes inside the index's bucket, which the tree
      // does not touch: rewritten there, with no second lookup.
      std::memcpy(const_cast<char*>(old.value.data()), &s, sizeof s);
      return;
    }
    set.index.insert(member, indexValue(s));
    set.tree.insert(s, member);
    return;
  }
  erase(store, e, member);
  if (s == 0) s = 0;  // a listpack keeps scores as text, and Redis's text of -0 is "0"
  const std::string_view bytes = Store::value(e);
  std::size_t at = kHeader;
  while (at < bytes.size()) {
    const Tuple t = readAt(bytes, at);
    if (score::before(s, member, t.score, t.member)) break;
    at = t.end;
  }
  std::string tuple;
  packed::appendElement(tuple, member);
  packed::appendElement(tuple, score::encoded(s));
  const std::uint32_t count = packed::countOf(bytes);
  e = store.spliceValue(e, at, 0, tuple);
  packed::setCount(Store::mutableValue(e), count + 1);
}

bool erase(Store& store, Store::Entry*& e, std::string_view member) {
  if (isTree(e)) {
    SortedSet& set = tree(e);
    const packed::Tuple old = set.index.find(member);
    if (old.end == 0) return false;
    set.tree.erase(scoreInIndex(old.value), member);
    set.index.erase(member);
    return true;
  }
  const std::string_view bytes = Store::value(e);
  const packed::Tuple t = packed::findTuple(bytes, kHeader, 2, member);
  if (t.end == 0) return false;
  const std::uint32_t count = packed::countOf(bytes);
  e = store.spliceValue(e, t.begin, t.end - t.begin, {});
  packed::setCount(Store::mutableValue(e), count - 1);
  return true;
}

std::size_t prefixCount(const Store::Entry* e, const Before& before) {
  if (isTree(e)) return tree(e).tree.prefixCount(before);
  std::size_t n = 0;
  const std::string_view bytes = Store::value(e);
  for (std::size_t at = kHeader; at < bytes.size(); ++n) {
    const Tuple t = readAt(bytes, at);
    if (!before(t.score, t.member)) break;
    at = t.end;
  }
  return n;
}

std::optional<std::size_t> rankOf(const Store::Entry* e, std::string_view member) {
  const std::optional<double> s = scoreOf(e, member);
  if (!s) return std::nullopt;
  const double mine = *s;
  return prefixCount(e, [&](double os, std::string_view om) { return score::before(os, om, mine, member); });
}

void walk(const Store::Entry* e, std::size_t from, std::size_t to, bool backwards, const Visit& visit) {
  if (isTree(e)) {
    tree(e).tree.walk(backwards ? to : from, backwards, [&](std::size_t rank, double s, std::string_view m) {
      if (backwards ? rank < from : rank > to) return false;
      return visit(rank, m, s);
    });
    return;
  }
  const std::string_view bytes = Store::value(e);
  if (!backwards) {  // a walk forwards needs no offsets: most ranges are
    std::size_t at = kHeader;
    for (std::size_t rank = 0; rank <= to; ++rank) {
      const Tuple t = readAt(bytes, at);
      if (rank >= from && !visit(rank, t.member, t.score)) return;
      at = t.end;
    }
    return;
  }
  const std::vector<std::size_t> offsets = offsetsOf(bytes);
  for (std::size_t rank = to + 1; rank-- > from;) {
    const Tuple t = readAt(bytes, offsets[rank]);
    if (!visit(rank, t.member, t.score)) return;
  }
}

void forEach(const Store::Entry* e, const std::function<void(std::string_view member, double score)>& visit) {
  const std::size_t n = size(e);
  if (n > 0) walk(e, 0, n - 1, false, [&](std::size_t, std::string_view m, double s) { return visit(m, s), true; });
}

std::uint64_t scan(const Store::Entry* e, std::uint64_t cursor, std::size_t count,
                   const std::function<void(std::string_view member, double score)>& visit) {
  if (!isTree(e)) {
    forEach(e, visit);
    return 0;
  }
  return tree(e).index.scan(cursor, count, [&](std::string_view m, std::string_view s) { visit(m, scoreInIndex(s)); });
}

std::pair<std::string, double> random(const Store::Entry* e, std::uint64_t (*draw)()) {
  if (isTree(e)) {
    const packed::Tuple t = tree(e).index.random(draw);
    return {std::string(t.key), scoreInIndex(t.value)};
  }
  const std::string_view bytes = Store::value(e);
  const std::vector<std::size_t> offsets = offsetsOf(bytes);
  const Tuple t = readAt(bytes, offsets[draw() % offsets.size()]);
  return {std::string(t.member), t.score};
}

std::size_t ownBytes(const Store::Entry* e) {
  return isTree(e) ? sizeof(SortedSet) + tree(e).index.bytes() + tree(e).tree.bytes() - sizeof(ScoreTree) : 0;
}

}  // namespace keyloop::zset
