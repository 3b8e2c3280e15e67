// What a store entry's object is, by kind (kind.h): how to free it and how
// much work that is.
#include "worker/keyspace/bucket_table.h"
#include "worker/keyspace/kind.h"
#include "worker/keyspace/list.h"
#include "worker/keyspace/stream.h"
#include "worker/keyspace/zset.h"

namespace keyloop {

void destroyObject(Kind k, void* object) {
  switch (k) {
    case Kind::HashTable:
    case Kind::HashTtl:
    case Kind::SetTable: delete static_cast<BucketTable*>(object); break;
    case Kind::ListChunked: delete static_cast<list::ChunkedList*>(object); break;
    case Kind::ZsetTree: delete static_cast<zset::SortedSet*>(object); break;
    case Kind::Stream: delete static_cast<stream::Stream*>(object); break;
    default: break;
  }
}

std::size_t freeEffort(Kind k, const void* object) {
  switch (k) {
    case Kind::HashTable:
    case Kind::HashTtl:
    case Kind::SetTable: return static_cast<const BucketTable*>(object)->size();
    case Kind::ListChunked: return static_cast<const list::ChunkedList*>(object)->chunks.size();
    case Kind::ZsetTree: return static_cast<const zset::SortedSet*>(object)->index.size();
    // A node is one free; the groups' pending entries are one each.
    case Kind::Stream: {
      const auto* s = static_cast<const stream::Stream*>(object);
      std::size_t effort = s->nodeCount();
      for (const auto& [name, g] : s->groups) effort += g.pending.size();
      return effort;
    }
    default: return 0;
  }
}

}  // namespace keyloop
