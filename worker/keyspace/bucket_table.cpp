#include "worker/keyspace/bucket_table.h"

#include <cstdlib>
#include <new>
#include <random>
#include <string>

namespace keyloop {

namespace {

std::uint32_t lengthOf(const char* bucket) {
  std::uint32_t n = 0;
  if (bucket != nullptr) std::memcpy(&n, bucket, sizeof n);
  return n;
}

char* resized(char* bucket, std::uint32_t length) {
  if (length == 0) {
    std::free(bucket);
    return nullptr;
  }
  void* memory = std::realloc(bucket, sizeof length + length);
  if (memory == nullptr) throw std::bad_alloc();
  char* b = static_cast<char*>(memory);
  std::memcpy(b, &length, sizeof length);
  return b;
}

std::uint64_t tableSeed() {
  static const std::uint64_t seed = (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  return seed;
}

}  // namespace

std::uint64_t reverseBits(std::uint64_t v) {
  std::uint64_t r = 0;
  for (int i = 0; i < 64; ++i, v >>= 1) r = (r << 1) | (v & 1);
  return r;
}

BucketTable::BucketTable(int width) : width_(width), seed_(tableSeed()), buckets_(1, nullptr) {}

BucketTable::~BucketTable() {
  for (char* b : buckets_) std::free(b);
}

std::string_view BucketTable::contents(const char* bucket) {
  return bucket == nullptr ? std::string_view{} : std::string_view(bucket + sizeof(std::uint32_t), lengthOf(bucket));
}

std::uint64_t BucketTable::hashOf(std::string_view key) const {
  return std::_Hash_bytes(key.data(), key.size(), static_cast<std::size_t>(seed_));
}

std::size_t BucketTable::bucketOf(std::uint64_t hash) const {
  std::size_t b = hash & (2 * low_ - 1);
  return b < buckets_.size() ? b : b - low_;
}

packed::Tuple BucketTable::find(std::string_view key) const {
  return packed::findTuple(contents(buckets_[bucketOf(hashOf(key))]), 0, width_, key);
}

void BucketTable::append(std::size_t b, std::string_view tuples) {
  const std::uint32_t old = lengthOf(buckets_[b]);
  buckets_[b] = resized(buckets_[b], old + static_cast<std::uint32_t>(tuples.size()));
  std::memcpy(buckets_[b] + sizeof old + old, tuples.data(), tuples.size());
}

bool BucketTable::insert(std::string_view key, std::string_view value) {
  const std::size_t b = bucketOf(hashOf(key));
  const packed::Tuple t = packed::findTuple(contents(buckets_[b]), 0, width_, key);
  if (t.end != 0) {
    if (width_ == 1) return false;
    // Replace in place: the tuple's bytes change size, the rest shifts.
    const std::uint32_t old = lengthOf(buckets_[b]);
    const std::size_t now = packed::tupleSize(key, value, width_);
    const std::size_t was = t.end - t.begin;
    const std::string tail(contents(buckets_[b]).substr(t.end));
    const std::uint32_t length = static_cast<std::uint32_t>(old - was + now);
    buckets_[b] = resized(buckets_[b], length);
    char* at = buckets_[b] + sizeof length + t.begin;
    at = packed::putElement(packed::putElement(at, key), value);
    std::memcpy(at, tail.data(), tail.size());
    return false;
  }
  std::string tuple;
  packed::appendTuple(tuple, key, value, width_);
  append(b, tuple);
  ++size_;
  growIfNeeded();
  return true;
}

bool BucketTable::erase(std::string_view key) {
  const std::size_t b = bucketOf(hashOf(key));
  const std::string_view bytes = contents(buckets_[b]);
  const packed::Tuple t = packed::findTuple(bytes, 0, width_, key);
  if (t.end == 0) return false;
  char* base = buckets_[b] + sizeof(std::uint32_t);
  std::memmove(base + t.begin, base + t.end, bytes.size() - t.end);
  buckets_[b] = resized(buckets_[b], static_cast<std::uint32_t>(bytes.size() - (t.end - t.begin)));
  --size_;
  shrinkIfNeeded();
  return true;
}

void BucketTable::growIfNeeded() {
  if (size_ > kLoad * buckets_.size()) split();
}

void BucketTable::shrinkIfNeeded() {
  if (buckets_.size() > 1 && size_ < buckets_.size()) merge();
}

void BucketTable::split() {
  const std::size_t n = buckets_.size();
  const std::size_t source = n - low_;
  const std::uint64_t mask = 2 * low_ - 1;
  std::string stay, move;
  packed::forEachTuple(contents(buckets_[source]), 0, width_, [&](const packed::Tuple& t) {
    std::string& to = (hashOf(t.key) & mask) == n ? move : stay;
    to.append(contents(buckets_[source]).substr(t.begin, t.end - t.begin));
    return true;
  });
  buckets_[source] = resized(buckets_[source], static_cast<std::uint32_t>(stay.size()));
  if (!stay.empty()) std::memcpy(buckets_[source] + sizeof(std::uint32_t), stay.data(), stay.size());
  buckets_.push_back(nullptr);
  if (!move.empty()) append(n, move);
  if (buckets_.size() == 2 * low_) low_ *= 2;
}

void BucketTable::merge() {
  if (buckets_.size() == low_) low_ /= 2;
  const std::size_t last = buckets_.size() - 1;
  const std::string tuples(contents(buckets_[last]));
  std::free(buckets_[last]);
  buckets_.pop_back();
  if (!tuples.empty()) append(last - low_, tuples);
  // Give the pointer array back as the table halves (a vector never does).
  if (buckets_.capacity() > 4 * buckets_.size() && buckets_.capacity() > 64) buckets_.shrink_to_fit();
}

packed::Tuple BucketTable::random(std::uint64_t (*draw)()) const {
  // Uniform over tuples, not buckets: a bucket is taken with a chance in
  // proportion to its tuples (accepted with probability count / kMostAccepted),
  // then one of them uniformly. (Buckets past kMostAccepted are rare and
  // only a little favoured.)
  constexpr std::size_t kMostAccepted = 4 * kLoad;
  for (;;) {
    const std::string_view bytes = contents(buckets_[draw() % buckets_.size()]);
    if (bytes.empty()) continue;
    std::size_t tuples = 0;
    packed::forEachTuple(bytes, 0, width_, [&](const packed::Tuple&) { return ++tuples, true; });
    if (tuples < kMostAccepted && draw() % kMostAccepted >= tuples) continue;
    std::size_t pick = draw() % tuples;
    packed::Tuple chosen;
    packed::forEachTuple(bytes, 0, width_, [&](const packed::Tuple& t) {
      chosen = t;
      return pick-- != 0;
    });
    return chosen;
  }
}

std::size_t BucketTable::bytes() const {
  std::size_t total = sizeof(*this) + buckets_.capacity() * sizeof(char*);
  for (const char* b : buckets_) {
    // malloc's header and its rounding to 16 bytes.
    if (b != nullptr) total += (sizeof(std::uint32_t) + lengthOf(b) + 8 + 15) / 16 * 16;
  }
  return total;
}

}  // namespace keyloop
