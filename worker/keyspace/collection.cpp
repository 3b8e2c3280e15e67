#include "worker/keyspace/collection.h"

#include <random>

#include "worker/keyspace/field_expiry.h"

namespace keyloop::collection {

namespace {

void addToCount(Store::Entry* e, int delta) {
  char* v = Store::mutableValue(e);
  packed::setCount(v, static_cast<std::uint32_t>(static_cast<int>(packed::countOf(Store::value(e))) + delta));
}

}  // namespace

std::uint64_t draw() {
  thread_local std::uint64_t state = (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

bool fieldExpired(std::string_view stored) { return field_ttl::expiredAt(stored, Store::commandTime()); }
std::string_view fieldValueOf(std::string_view stored) { return field_ttl::valueOf(stored); }

std::size_t size(const Store::Entry* e) {
  if (hasFieldTimes(e)) {
    std::size_t n = 0;
    forEach(e, [&](std::string_view, std::string_view) { ++n; });
    return n;
  }
  if (isTable(e)) return Store::table(e).size();
  return isIntset(e) ? intset::count(Store::value(e)) : packed::countOf(Store::value(e));
}

packed::Tuple find(const Store::Entry* e, std::string_view key) {
  if (hasFieldTimes(e)) {
    packed::Tuple t = Store::table(e).find(key);
    if (t.end == 0 || fieldExpired(t.value)) return {};
    t.value = fieldValueOf(t.value);
    return t;
  }
  if (isTable(e)) return Store::table(e).find(key);
  return packed::findTuple(Store::value(e), packed::kPackedHeader, widthOf(e), key);
}

bool contains(const Store::Entry* e, std::string_view key) {
  if (!isIntset(e)) return find(e, key).end != 0;
  const auto value = intset::memberValue(key);
  return value && intset::contains(Store::value(e), *value);
}

BucketTable* tableOf(std::string_view packedValue, int width) {
  auto* table = new BucketTable(width);
  packed::forEachTuple(packedValue, packed::kPackedHeader, width, [&](const packed::Tuple& t) {
    table->insert(t.key, t.value);
    return true;
  });
  return table;
}

void convertToTable(Store& store, Store::Entry*& e, const Shape& shape) {
  if (isTable(e)) return;
  BucketTable* table;
  if (isIntset(e)) {
    table = new BucketTable(1);
    forEachMember(e, [&](std::string_view member, std::string_view) { table->insert(member); });
  } else {
    table = tableOf(Store::value(e), shape.width);
  }
  e = store.setTable(e, table, shape.tableKind);
}

EmptySet emptySetFor(std::string_view firstMember) {
  static const std::string emptyIntset = intset::empty(), emptyPacked = packed::emptyValue();
  if (intset::memberValue(firstMember)) return {emptyIntset, Kind::SetInts};
  return {emptyPacked, Kind::SetPacked};
}

namespace {

// An intset that must take `member`: as an intset if it can, else
// rewritten as packed members or a table first (false: not added yet).
bool addToIntset(Store& store, Store::Entry*& e, const Limits& limits, std::string_view member, bool& added) {
  const std::size_t n = intset::count(Store::value(e));
  if (const auto v = intset::memberValue(member); v) {
    if (intset::contains(Store::value(e), *v)) return added = false, true;
    if (n < limits.maxIntsetEntries) {
      std::string grown(Store::value(e));
      intset::add(grown, *v);
      e = store.setValue(e, grown);
      return added = true, true;
    }
  }
  if (n + 1 <= limits.maxPackedEntries && member.size() <= limits.maxPackedValue) {
    std::string members = packed::emptyValue();
    forEachMember(e, [&](std::string_view m, std::string_view) { packed::appendElement(members, m); });
    packed::setCount(members.data(), static_cast<std::uint32_t>(n));
    e = store.setValue(e, members, Kind::SetPacked);
  } else {
    convertToTable(store, e, kSet);
  }
  return false;
}

}  // namespace

bool insert(Store& store, Store::Entry*& e, const Shape& shape, const Limits& limits, std::string_view key,
            std::string_view value) {
  if (bool added; isIntset(e) && addToIntset(store, e, limits, key, added)) return added;
  if (!isTable(e)) {
    const std::string_view bytes = Store::value(e);
    const packed::Tuple t = packed::findTuple(bytes, packed::kPackedHeader, shape.width, key);
    const bool fits = key.size() <= limits.maxPackedValue && value.size() <= limits.maxPackedValue &&
                      (t.end != 0 || packed::countOf(bytes) < limits.maxPackedEntries);
    if (fits) {
      std::string tuple;
      packed::appendTuple(tuple, key, value, shape.width);
      if (t.end != 0) {
        if (shape.width == 1) return false;
        e = store.spliceValue(e, t.begin, t.end - t.begin, tuple);  // replaced where it was, as listpack does
        return false;
      }
      e = store.spliceValue(e, bytes.size(), 0, tuple);
      addToCount(e, 1);
      return true;
    }
    convertToTable(store, e, shape);
  }
  if (hasFieldTimes(e)) return Store::table(e).insert(key, field_ttl::stamped(value, kNoExpiry));
  return Store::table(e).insert(key, value);
}

bool erase(Store& store, Store::Entry*& e, std::string_view key) {
  if (isTable(e)) return Store::table(e).erase(key);
  if (isIntset(e)) {
    const auto v = intset::memberValue(key);
    std::string members(Store::value(e));
    if (!v || !intset::remove(members, *v)) return false;
    e = store.setValue(e, members);
    return true;
  }
  const packed::Tuple t = find(e, key);
  if (t.end == 0) return false;
  e = store.spliceValue(e, t.begin, t.end - t.begin, {});
  addToCount(e, -1);
  return true;
}

Picked random(const Store::Entry* e) {
  if (hasFieldTimes(e)) {
    // A live field by a few draws (a hash whose fields all expired is
    // deleted by the expiry cycle soon; till then one may be answered).
    packed::Tuple t;
    for (int tries = 0; tries < 16; ++tries) {
      t = Store::table(e).random(draw);
      if (!fieldExpired(t.value)) break;
    }
    return {std::string(t.key), std::string(fieldValueOf(t.value))};
  }
  if (isTable(e)) {
    const packed::Tuple t = Store::table(e).random(draw);
    return {std::string(t.key), std::string(t.value)};
  }
  std::size_t n = draw() % size(e);
  if (isIntset(e)) return {std::to_string(intset::at(Store::value(e), static_cast<std::uint32_t>(n))), {}};
  Picked chosen;
  packed::forEachTuple(Store::value(e), packed::kPackedHeader, widthOf(e), [&](const packed::Tuple& t) {
    if (n-- != 0) return true;
    chosen = {std::string(t.key), std::string(t.value)};
    return false;
  });
  return chosen;
}

std::size_t ownBytes(const Store::Entry* e) { return isTable(e) ? Store::table(e).bytes() : 0; }

}  // namespace keyloop::collection
