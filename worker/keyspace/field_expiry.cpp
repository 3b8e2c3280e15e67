#include "worker/keyspace/field_expiry.h"

#include <cstring>
#include <vector>

#include "worker/keyspace/collection.h"

namespace keyloop::field_ttl {

std::int64_t stampOf(std::string_view stored) {
  std::int64_t at;
  std::memcpy(&at, stored.data(), sizeof at);
  return at;
}

std::string stamped(std::string_view value, std::int64_t expireAtMs) {
  std::string out(kStampSize, '\0');
  std::memcpy(out.data(), &expireAtMs, sizeof expireAtMs);
  out.append(value);
  return out;
}

void makeExpiring(Store& store, Store::Entry*& e) {
  if (Store::kind(e) == Kind::HashTtl) return;
  auto* table = new BucketTable(2);
  collection::forEach(e, [&](std::string_view f, std::string_view v) { table->insert(f, stamped(v, kNoExpiry)); });
  e = store.setTable(e, table, Kind::HashTtl);
}

std::optional<std::int64_t> expiryOf(const Store::Entry* e, std::string_view field, std::int64_t nowMs) {
  if (Store::kind(e) != Kind::HashTtl) {
    if (collection::find(e, field).end == 0) return std::nullopt;
    return kNoExpiry;
  }
  const packed::Tuple t = Store::table(e).find(field);
  if (t.end == 0 || expiredAt(t.value, nowMs)) return std::nullopt;
  return stampOf(t.value);
}

void setExpiry(Store::Entry* e, std::string_view field, std::int64_t expireAtMs) {
  BucketTable& table = Store::table(e);
  const packed::Tuple t = table.find(field);
  if (t.end == 0) return;
  // Copied out first: the insert rewrites the bucket the views point into.
  const std::string key(t.key);
  table.insert(key, stamped(valueOf(t.value), expireAtMs));
}

std::int64_t nextExpiry(const Store::Entry* e) {
  std::int64_t next = kNoExpiry;
  if (Store::kind(e) != Kind::HashTtl) return next;
  Store::table(e).forEach([&](std::string_view, std::string_view stored) {
    const std::int64_t at = stampOf(stored);
    if (at != kNoExpiry && (next == kNoExpiry || at < next)) next = at;
  });
  return next;
}

std::size_t removeExpired(Store::Entry* e, std::int64_t nowMs, std::size_t limit,
                          const std::function<void(std::string_view field)>& gone) {
  BucketTable& table = Store::table(e);
  std::vector<std::string> due;
  table.forEach([&](std::string_view field, std::string_view stored) {
    if (due.size() < limit && expiredAt(stored, nowMs)) due.emplace_back(field);
  });
  for (const std::string& field : due) {
    gone(field);
    table.erase(field);
  }
  return due.size();
}

bool fitsListpack(const Store::Entry* e, std::size_t maxEntries, std::size_t maxValue) {
  const BucketTable& table = Store::table(e);
  if (table.size() > maxEntries) return false;
  bool fits = true;
  table.forEach([&](std::string_view field, std::string_view stored) {
    fits = fits && field.size() <= maxValue && valueOf(stored).size() <= maxValue;
  });
  return fits;
}

}  // namespace keyloop::field_ttl
