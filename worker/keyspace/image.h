// Value images: a value of any type as one byte string, for moving it to
// another worker (a cross-worker transaction's locked keys and commits, a
// reload's hand-over) and for copying it (COPY).
//
// An image is [kind][bytes]. Strings, packed values, intsets and inline
// lists are their own bytes already; a table, a chunked list or a sorted
// set's tree travels as one packed run of its tuples or elements (in
// order) and is rebuilt on arrival; a stream travels in its RDB form
// (stream_codec.h), groups and all, or, when big, in parts of whole nodes
// with its groups in the last one. (DUMP's payload is another matter: Redis's RDB
// encoding, in rdb/.)
#pragma once

#include <string>
#include <string_view>

#include "worker/keyspace/store.h"
#include "worker/keyspace/bucket_table.h"

namespace keyloop {

void appendImage(std::string& out, const Store::Entry* e);
inline std::string imageOf(const Store::Entry* e) {
  std::string out;
  appendImage(out, e);
  return out;
}
// Sets `key` to the image's value (replacing what was there); nullptr,
// and nothing changed, if the image is malformed.
Store::Entry* restoreImage(Store& store, std::string_view key, std::string_view image, std::int64_t expireAtMs);

// Big objects (tables, chunked lists, trees) travel in parts, so that neither side spends more than a
// slice of loop time on one: first the image of an empty table of the
// kind, then parts (images of some of its tuples) that add to it.
// A part is a bit of work on the receiving side: a ring's worth of them
// arriving at once must still be a short slice of its loop.
inline constexpr std::size_t kTuplesPerPart = 256;
bool travelsInParts(const Store::Entry* e);
void appendEmptyImage(std::string& out, Kind objectKind);
// The part of `e`'s object after `cursor` (0: the first part; a table's
// SCAN cursor, or an element's position): appends its image, returns the
// cursor of the next part (0: that was the last).
std::uint64_t appendPart(std::string& out, const Store::Entry* e, std::uint64_t cursor);
// Adds a part's tuples or elements to `e` (an object of the part's kind);
// false if not.
bool addPart(Store& store, Store::Entry*& e, std::string_view part);

}  // namespace keyloop
