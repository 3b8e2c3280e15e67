// One value in Redis's RDB encoding (rdb.c, RDB version 10 as Redis 7.0
// writes it): what DUMP carries, and what RDB snapshots will.
//
// Written: strings (type 0, small integers in Redis's integer encodings),
// lists (1), hashes (4), integer sets (11, the intset bytes), other sets
// (2), sorted sets (5, binary scores); never compressed. Read: all of
// those, plus Redis's compact forms (quicklists 14 and 18, list ziplists
// 10, hash listpacks 16 and ziplists 13, sorted-set listpacks 17 and
// ziplists 12, the old text-score sorted sets 3, LZF-compressed strings),
// streams (written 19, read 19 and 15: keyspace/stream_codec.h),
// turned into keyloop's encodings under the configured limits.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/config/config.h"
#include "common/rdb/format.h"
#include "worker/keyspace/store.h"
#include "worker/keyspace/collection.h"
#include "worker/keyspace/list.h"
#include "worker/keyspace/zset.h"
#include "worker/keyspace/stream.h"

namespace keyloop::rdb {

struct Limits {
  collection::Limits hash, set;
  list::Limits list;
  zset::Limits zset;
  stream::Limits stream;
};
// The configured thresholds (CONFIG SET's current ones).
Limits limitsOf(const EncodingConfig& e);

// Appends the value's RDB type byte, then the value.
void appendValue(std::string& out, const Store::Entry* e);
// The same with the key between the type byte and the value: a key's
// record in an RDB file.
void appendKeyValue(std::string& out, const Store::Entry* e);

// Reads a type byte and one value from the front of `in` (advancing it)
// into `store` as `key`; nullptr when the bytes are malformed or hold a
// type keyloop does not have. `store` should be a scratch store: a value
// that fails half-way leaves its part behind.
// The same for a value whose type byte was read already (in a file the
// key sits between them).
Store::Entry* readValueOfType(unsigned char type, std::string_view& in, Store& store, std::string_view key,
                              const Limits& limits);
// Steps over a value of `type` without building it (a key another worker
// owns); false if malformed or of a type keyloop does not hold.
bool skipValueOfType(unsigned char type, std::string_view& in);
// Whether keyloop holds values of this RDB type (not modules).
bool knownType(unsigned char type);
// Whether the value's record is one Redis 7.0 cannot read (a hash with
// field times: Redis 7.4's RDB version 12 types).
bool needsVersion12(const Store::Entry* e);

Store::Entry* readValue(std::string_view& in, Store& store, std::string_view key, const Limits& limits);

}  // namespace keyloop::rdb
