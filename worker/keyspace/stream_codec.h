// A stream in Redis's RDB encoding: what DUMP, the snapshot and a move
// between workers carry. Written as RDB_TYPE_STREAM_LISTPACKS_2 (19, Redis
// 7.0): a listpack per node in Redis's own layout (master fields, ID deltas
// from the node's first ID, flags, lp-count), then the stream's IDs and
// counters, then each consumer group with its pending entries and
// consumers. Read: types 19 and 15 (Redis 5 to 6.2), checked throughout; a
// malformed payload is refused, never half-loaded.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/rdb/format.h"
#include "worker/keyspace/stream.h"

namespace keyloop::rdb {

inline constexpr unsigned char kStreamListpacks = 15, kStreamListpacks2 = 19;

void appendStream(std::string& out, const stream::Stream& s);
// nullptr when malformed.
std::unique_ptr<stream::Stream> readStream(Reader& r, bool version2, const stream::Limits& limits);
// What follows the nodes (length, IDs, counters, the groups), alone: the
// last part of a stream that moves between workers in parts carries it.
// Reading checks it against the entries `s` holds (`newest`: its last).
void appendStreamTail(std::string& out, const stream::Stream& s);
bool readStreamTail(Reader& r, bool version2, stream::Stream& s, std::optional<stream::Id> newest);

}  // namespace keyloop::rdb
