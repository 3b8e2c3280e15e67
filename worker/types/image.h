// Value images: a value of any type as one byte string, for moving it to
// another worker (a cross-worker transaction's locked keys and commits, a
// reload's hand-over) and for copying it (COPY).
//
// An image is [kind][bytes]. Strings, packed values and intsets are their
// own bytes already; a table travels as the packed form of its tuples and
// is rebuilt on arrival. (DUMP's payload is another matter: Redis's RDB
// encoding, in rdb/.)
#pragma once

#include <string>
#include <string_view>

#include "worker/store.h"

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

}  // namespace keyloop
