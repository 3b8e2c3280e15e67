// Whole RDB files, laid out as Redis 7.0's rdb.c writes them (version 10):
//
//   "REDIS0010"  aux fields (0xFA name value)...  function libraries (0xF5 code)...
//   0xFE db  0xFB keys expires  records: [0xFC expiry ms] type key value ...
//   0xFF  CRC-64 of everything before it (8 bytes, little-endian)
//
// A snapshot is assembled by the master from every worker's records
// (snapshot.h makes them) in common/rdb/format.h's frame. The
// loader reads any RDB file redis-server 7.0 writes (versions 1 to 10:
// every encoding value_codec.h reads, aux fields, idle and frequency
// hints, old 4-byte expiries), keeping the keys `owns` accepts; anything
// it cannot read (a stream, a module value, a cut-off file, a wrong
// checksum) is an error naming the record, never half a keyspace.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "worker/keyspace/databases.h"
#include "worker/persistence/value_codec.h"
#include "common/result/result.h"

namespace keyloop::rdb {

// One key's record (its expiry, if it has one, then type, key and value).
void appendRecord(std::string& out, const Store::Entry* e);
// SELECTDB: the records after it are database `db`'s.
void appendSelectDb(std::string& out, std::uint64_t db);
// One function library (RDB_OPCODE_FUNCTION2).
void appendFunctionLibrary(std::string& out, std::string_view code);

struct LoadTarget {
  Databases& databases;  // SELECTDB picks one; before any, database 0
  Limits limits;
  std::function<bool(std::string_view key)> owns;  // keys this worker keeps
  // A library's code; an error (Redis's text) refuses the file.
  std::function<Status(std::string_view code)> onLibrary;
  bool verifyChecksum = true;
  std::int64_t nowMs = 0;  // keys expired by then are not loaded (as a Redis master does)
};

struct LoadCounts {
  std::uint64_t loaded = 0, expired = 0, notOurs = 0;
};

// Loads `file` (its whole bytes); the reason it cannot, if so.
Status loadFile(std::string_view file, LoadTarget& target, LoadCounts& counts);

}  // namespace keyloop::rdb
