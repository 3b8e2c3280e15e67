// DUMP payloads as Redis makes them (cluster.c createDumpPayload): the
// value's RDB encoding, the RDB version (2 bytes, little-endian), and a
// CRC-64 of all that (8 bytes, little-endian). A payload from redis-server
// RESTOREs here, and one from here RESTOREs into redis-server.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/rdb/format.h"
#include "worker/keyspace/store.h"

namespace keyloop::rdb {

std::string dumpPayload(const Store::Entry* e);
// `body` followed by the RDB version and the CRC-64: a payload (FUNCTION DUMP's too).
std::string sealPayload(std::string body, int version = kVersion);
// The value part of a payload whose version (at most the readable one) and checksum
// are right; nullopt otherwise.
std::optional<std::string_view> verifiedValue(std::string_view payload);

}  // namespace keyloop::rdb
