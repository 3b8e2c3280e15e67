#include "worker/keyspace/chunk.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include "worker/keyspace/packed.h"

namespace keyloop {

Chunk::Chunk() : Chunk(std::string_view("\0\0\0\0", packed::kPackedHeader)) {}
Chunk::Chunk(std::string_view bytes) { splice(0, 0, bytes); }
Chunk::~Chunk() { std::free(data_); }
Chunk::Chunk(Chunk&& other) noexcept : data_(other.data_), size_(other.size_), capacity_(other.capacity_) {
  other.data_ = nullptr;
  other.size_ = other.capacity_ = 0;
}
Chunk& Chunk::operator=(Chunk&& other) noexcept {
  std::swap(data_, other.data_);
  std::swap(size_, other.size_);
  std::swap(capacity_, other.capacity_);
  return *this;
}
std::uint32_t Chunk::count() const { return packed::countOf(bytes()); }
void Chunk::setCount(std::uint32_t n) { packed::setCount(data_, n); }

void Chunk::splice(std::size_t at, std::size_t erase, std::string_view insert) {
  const std::size_t newSize = size_ - erase + insert.size();
  if (newSize > capacity_) reserve(newSize);
  std::memmove(data_ + at + insert.size(), data_ + at + erase, size_ - at - erase);
  if (!insert.empty()) std::memcpy(data_ + at, insert.data(), insert.size());
  size_ = static_cast<std::uint32_t>(newSize);
  if (newSize + 256 < capacity_ / 2) reserve(newSize);  // shrunk a lot: give the rest back
}

void Chunk::shrinkToFit() {
  if (capacity_ == size_ || size_ == 0) return;
  void* moved = std::realloc(data_, size_);
  if (moved == nullptr) return;  // keeping the slack is fine
  data_ = static_cast<char*>(moved);
  capacity_ = size_;
}

void Chunk::reserve(std::size_t size) {
  // Steps of an eighth: little slack, and O(1) amortized reallocations.
  const std::size_t capacity = size + size / 8 + 16;
  void* moved = std::realloc(data_, capacity);
  if (moved == nullptr) throw std::bad_alloc();
  data_ = static_cast<char*>(moved);
  capacity_ = static_cast<std::uint32_t>(capacity);
}

}  // namespace keyloop
