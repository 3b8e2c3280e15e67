// BucketTable: the encoding of a big hash or set ("hashtable" to OBJECT
// ENCODING): a hash table whose buckets are small packed arrays of tuples
// (packed.h), about kLoad tuples each, one allocation per bucket.
//
// Why buckets of packed tuples: memory. A Redis hash field costs a dict
// entry, two sds strings and a bucket pointer (about 70 bytes for a short
// field and value); here it costs its bytes, two length bytes and a share
// of its bucket's malloc header and pointer (about 30).
//
// Why linear hashing (Litwin): the table grows and shrinks one bucket at a
// time, so a write never pays for rehashing a million tuples at once (no
// stall, no second table). With n buckets and `low` the power of two such
// that low <= n < 2*low, a tuple lives in bucket h & (2*low - 1), or in
// h & (low - 1) while that bucket is not split yet.
//
// SCAN keeps Redis's guarantee: a cursor position c under mask 2*low - 1
// stands for exactly the tuples with h & mask == c (taken from the bucket
// that holds them, filtered when it is unsplit), so the reverse-binary
// cursor of Store::scan visits every tuple present for the whole scan.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "worker/keyspace/packed.h"

namespace keyloop {

class BucketTable {
 public:
  static constexpr std::size_t kLoad = 4;

  explicit BucketTable(int width);
  ~BucketTable();
  BucketTable(const BucketTable&) = delete;
  BucketTable& operator=(const BucketTable&) = delete;

  int width() const { return width_; }
  std::size_t size() const { return size_; }
  // The tuple with this key (Tuple::end == 0: none). Its views stay valid
  // until the next write.
  packed::Tuple find(std::string_view key) const;
  bool contains(std::string_view key) const { return find(key).end != 0; }
  // Adds the tuple or replaces its value; true when it was added.
  bool insert(std::string_view key, std::string_view value = {});
  bool erase(std::string_view key);

  // Calls visit(key, value) for every tuple (no writes meanwhile).
  template <typename Visit>
  void forEach(Visit visit) const {
    for (const char* bucket : buckets_) {
      packed::forEachTuple(contents(bucket), 0, width_, [&](const packed::Tuple& t) {
        visit(t.key, t.value);
        return true;
      });
    }
  }
  // Redis's SCAN over the tuples: about `count` cursor positions' worth.
  template <typename Visit>
  std::uint64_t scan(std::uint64_t cursor, std::size_t count, Visit visit) const;
  // A uniformly random tuple (the table must not be empty).
  packed::Tuple random(std::uint64_t (*draw)()) const;

  // Bytes it holds from malloc, table and buckets (MEMORY USAGE).
  std::size_t bytes() const;

 private:
  std::uint64_t hashOf(std::string_view key) const;
  std::size_t bucketOf(std::uint64_t hash) const;
  static std::string_view contents(const char* bucket);
  void growIfNeeded();
  void shrinkIfNeeded();
  void split();
  void merge();
  // Appends raw tuple bytes to bucket `b`.
  void append(std::size_t b, std::string_view tuples);

  int width_;
  std::size_t size_ = 0;
  std::size_t low_ = 1;
  std::uint64_t seed_;
  std::vector<char*> buckets_;  // each [u32 length][tuples], or null when empty
};

std::uint64_t reverseBits(std::uint64_t v);

template <typename Visit>
std::uint64_t BucketTable::scan(std::uint64_t cursor, std::size_t count, Visit visit) const {
  const std::uint64_t mask = 2 * low_ - 1;
  std::size_t positions = 0;
  do {
    const std::uint64_t c = cursor & mask;
    const bool exists = c < buckets_.size();
    const char* bucket = buckets_[exists ? c : c - low_];
    // Unsplit buckets (p <= c < low) and virtual ones hold two positions' tuples.
    const bool filter = !exists || (c < low_ && c + low_ >= buckets_.size());
    packed::forEachTuple(contents(bucket), 0, width_, [&](const packed::Tuple& t) {
      if (!filter || (hashOf(t.key) & mask) == c) visit(t.key, t.value);
      return true;
    });
    cursor |= ~mask;
    cursor = reverseBits(reverseBits(cursor) + 1);
  } while (cursor != 0 && ++positions < count);
  return cursor;
}

}  // namespace keyloop
