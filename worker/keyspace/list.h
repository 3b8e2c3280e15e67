// List: a Redis list in either of its encodings, behind one set of
// operations: a small list is one chunk inline in its store entry
// (ListPacked); a big one is a ChunkedList of such chunks (ListChunked),
// Redis's quicklist without compression. OBJECT ENCODING says "quicklist"
// for both, as Redis 7.0 does.
//
// A chunk is [u32 count][element]...; an element is [length][bytes]
// [length mirrored], the length a LEB128 varint written once forwards and
// once backwards, so a chunk is walked from either end (listpack's
// back-length): pushes and pops at both ends cost O(1) plus the memmove of
// one chunk, an index O(chunks).
//
// A chunk holds at most `list-max-listpack-size` (negative: -1..-5 are 4 to
// 64 KB of elements; positive: that many elements); a small list that
// outgrows one chunk becomes chunked and stays so.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "worker/keyspace/store.h"
#include "worker/keyspace/chunk.h"

namespace keyloop::list {

struct Limits {
  long long fill = -2;  // list-max-listpack-size
  bool allows(std::size_t chunkBytes, std::size_t chunkCount) const;
};

class ChunkedList {
 public:
  std::deque<Chunk> chunks;
  std::size_t size = 0;
  std::size_t bytes() const;  // from malloc (MEMORY USAGE)
};

inline bool isChunked(const Store::Entry* e) { return Store::kind(e) == Kind::ListChunked; }
inline ChunkedList& chunked(const Store::Entry* e) { return Store::object<ChunkedList>(e); }

// A new list entry's value: an empty inline chunk.
std::string emptyValue();
// Makes a list entry chunked (images of big lists arrive as such).
Store::Entry* makeChunked(Store& store, Store::Entry* e);
// One element as a chunk holds it, and the elements of such a run
// ([count][element]...: a chunk's bytes, an image's).
std::string encodedElement(std::string_view element);
void forEachEncoded(std::string_view run, const std::function<void(std::string_view)>& visit);

std::size_t size(const Store::Entry* e);
enum class End { Head, Tail };
void push(Store& store, Store::Entry*& e, End end, std::string_view value, const Limits& limits);
// Takes the element at `end` (the list must not be empty). The caller
// deletes the key once it is empty, as Redis does.
std::string pop(Store& store, Store::Entry*& e, End end);
// The element at `index` (0 <= index < size).
std::string_view at(const Store::Entry* e, std::size_t index);
void set(Store& store, Store::Entry*& e, std::size_t index, std::string_view value, const Limits& limits);
// Calls visit(index, element) for from..to (inclusive, from <= to < size),
// or to..from backwards; stops when visit returns false.
using Visit = std::function<bool(std::size_t index, std::string_view element)>;
void forRange(const Store::Entry* e, std::size_t from, std::size_t to, bool backwards, const Visit& visit);
// LINSERT: inserts before or after the first `pivot`; false if none.
bool insertAt(Store& store, Store::Entry*& e, std::string_view pivot, bool after, std::string_view value,
              const Limits& limits);
// LREM: removes up to |count| elements equal to `value` (count > 0 from the
// head, < 0 from the tail, 0 all); returns how many.
std::size_t removeEqual(Store& store, Store::Entry*& e, std::string_view value, long long count);
// LTRIM: keeps from..to (inclusive; from > to keeps nothing).
void trim(Store& store, Store::Entry*& e, std::size_t from, std::size_t to);
// Every element in order (images, DUMP).
void forEach(const Store::Entry* e, const std::function<void(std::string_view)>& visit);

std::size_t ownBytes(const Store::Entry* e);

}  // namespace keyloop::list
