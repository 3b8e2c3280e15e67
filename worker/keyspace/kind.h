// Kind: what a store entry's value bytes hold: the data type and its
// encoding in one small number (4 bits of the entry).
//
//   String      the string's bytes (OBJECT ENCODING int, embstr or raw by content)
//   StringRaw   the same, changed in place (APPEND, SETRANGE, SETBIT): always raw
//   StringText  made as text (INCRBYFLOAT): embstr or raw by length, never int
//   HashPacked  a packed value of (field, value) tuples (packed.h): listpack
//   HashTable   a BucketTable* of (field, value): hashtable
//   SetInts     an intset (intset.h): intset
//   SetPacked   a packed value of members: listpack
//   SetTable    a BucketTable* of members: hashtable
//   ListPacked  one list chunk inline (list.h): quicklist, as Redis 7.0 says
//   ListChunked a ChunkedList* (list.h): quicklist
//   ZsetPacked  packed (member, score) tuples in order (zset.h): listpack
//   ZsetTree    a zset::SortedSet* (zset.h): skiplist, Redis's name for it
//   Stream      a stream::Stream* (stream.h): stream
//   HashTtl     a BucketTable* of (field, time + value) (field_expiry.h):
//               a hash some of whose fields expire (Redis 7.4)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace keyloop {

enum class Kind : std::uint8_t {
  String, StringRaw, StringText, HashPacked, HashTable, SetInts, SetPacked, SetTable,
  ListPacked, ListChunked, ZsetPacked, ZsetTree, Stream, HashTtl
};
inline constexpr Kind kLastKind = Kind::HashTtl;

enum class Type : std::uint8_t { String, Hash, Set, List, Zset, Stream };

inline Type typeOf(Kind k) {
  switch (k) {
    case Kind::HashPacked:
    case Kind::HashTable:
    case Kind::HashTtl: return Type::Hash;
    case Kind::SetInts:
    case Kind::SetPacked:
    case Kind::SetTable: return Type::Set;
    case Kind::ListPacked:
    case Kind::ListChunked: return Type::List;
    case Kind::ZsetPacked:
    case Kind::ZsetTree: return Type::Zset;
    case Kind::Stream: return Type::Stream;
    default: return Type::String;
  }
}

// TYPE's reply.
inline std::string_view typeName(Type t) {
  switch (t) {
    case Type::Hash: return "hash";
    case Type::Set: return "set";
    case Type::List: return "list";
    case Type::Zset: return "zset";
    case Type::Stream: return "stream";
    default: return "string";
  }
}

// Whether the value bytes are a pointer to an object the entry owns.
inline bool ownsObject(Kind k) {
  return k == Kind::HashTable || k == Kind::SetTable || k == Kind::ListChunked || k == Kind::ZsetTree ||
         k == Kind::Stream || k == Kind::HashTtl;
}
// Frees an entry's object, and how much work that is (elements or chunks:
// what decides whether it is freed on a pool thread); keyspace/objects.cpp.
void destroyObject(Kind k, void* object);
std::size_t freeEffort(Kind k, const void* object);

inline constexpr std::string_view kWrongType = "WRONGTYPE Operation against a key holding the wrong kind of value";

}  // namespace keyloop
