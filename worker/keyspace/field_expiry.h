// Hash-field expiry (Redis 7.4's HEXPIRE family). A hash whose fields may
// carry their own expiry time is a table of kind HashTtl whose stored
// values begin with that time (8 bytes, kNoExpiry: none), then the field's
// value. Everything else about it is a hash table's: it moves, copies and
// is freed as one (image.h, objects.cpp), and collection.h's reads strip
// the time and leave out the fields expired at the command's time
// (Store::commandTime), as Redis 7.4 answers until its active cycle
// deletes them; Store::expireFieldsSome is that cycle here.
//
// Why in the value and not beside it: a field and its time then move
// together through every path a hash takes (reload hand-over, COPY,
// cross-worker locks) with no second structure to keep in step.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "worker/keyspace/store.h"

namespace keyloop::field_ttl {

inline constexpr std::size_t kStampSize = 8;

// A stored value's time and value bytes.
std::int64_t stampOf(std::string_view stored);
inline std::string_view valueOf(std::string_view stored) { return stored.substr(kStampSize); }
std::string stamped(std::string_view value, std::int64_t expireAtMs);
inline bool expiredAt(std::string_view stored, std::int64_t nowMs) {
  const std::int64_t at = stampOf(stored);
  return at != kNoExpiry && at <= nowMs;
}

// Makes a hash entry one whose fields can carry a time (none has one yet).
void makeExpiring(Store& store, Store::Entry*& e);

// The field's time: nullopt when absent or expired at `nowMs`, kNoExpiry
// when it has none. Any hash.
std::optional<std::int64_t> expiryOf(const Store::Entry* e, std::string_view field, std::int64_t nowMs);
// Gives an existing field of a HashTtl entry this time (kNoExpiry: none).
void setExpiry(Store::Entry* e, std::string_view field, std::int64_t expireAtMs);
// The earliest time among the fields (kNoExpiry: none has one).
std::int64_t nextExpiry(const Store::Entry* e);

// Deletes up to `limit` fields of a HashTtl entry expired at `nowMs`,
// calling gone(field) for each before it goes; returns how many went.
std::size_t removeExpired(Store::Entry* e, std::int64_t nowMs, std::size_t limit,
                          const std::function<void(std::string_view field)>& gone);

// OBJECT ENCODING: "listpackex" while it is small enough for a listpack by
// these limits, as Redis 7.4 keeps a small hash with times; else "hashtable".
bool fitsListpack(const Store::Entry* e, std::size_t maxEntries, std::size_t maxValue);

}  // namespace keyloop::field_ttl
