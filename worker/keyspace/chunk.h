// Chunk: a byte buffer that starts with a u32 element count (packed.h's
// header), grown and shrunk by realloc in steps of an eighth. Lists keep
// their elements in chunks, big sorted sets their tuples in tree leaves.
// Why not std::string: it doubles its capacity, which would leave a
// quarter of a big list's memory unused on average.
#pragma once

#include <cstdint>
#include <string_view>

namespace keyloop {

class Chunk {
 public:
  Chunk();  // no elements
  explicit Chunk(std::string_view bytes);
  ~Chunk();
  Chunk(Chunk&& other) noexcept;
  Chunk& operator=(Chunk&& other) noexcept;
  Chunk(const Chunk&) = delete;
  Chunk& operator=(const Chunk&) = delete;

  std::string_view bytes() const { return {data_, size_}; }
  std::uint32_t count() const;
  void setCount(std::uint32_t n);
  // Replaces `erase` bytes at `at` with `insert`.
  void splice(std::size_t at, std::size_t erase, std::string_view insert);
  std::size_t allocated() const { return capacity_; }
  // Gives back the slack (a list's chunk that will not grow again).
  void shrinkToFit();

 private:
  void reserve(std::size_t size);  // capacity for `size` bytes and a little more

  char* data_ = nullptr;
  std::uint32_t size_ = 0, capacity_ = 0;
};

}  // namespace keyloop
