// SharedText: one text that the master publishes and workers read, in an
// anonymous shared mapping made before fork: the validated configuration a
// reload hands to the running workers (they must apply exactly what the
// master checked, not whatever the file holds a moment later).
//
// A seqlock: the version is odd while the master writes; a reader copies
// the text and retries if the version moved meanwhile.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <memory>
#include <variant>

#include "common/result/result.h"

namespace keyloop::ipc {

class SharedText {
 public:
  // A new text, or why the kernel refused the mapping.
  static Result<std::unique_ptr<SharedText>> create(std::size_t capacity = 1 << 20);
  ~SharedText();
  SharedText(const SharedText&) = delete;
  SharedText& operator=(const SharedText&) = delete;

  std::size_t capacity() const { return capacity_; }
  // False if the text does not fit.
  bool publish(std::string_view text);
  // Grows by 2 with every publish (0: nothing published yet).
  std::uint64_t version() const { return header_->version.load(std::memory_order_acquire); }
  struct Snapshot {
    std::uint64_t version;
    std::string text;  // empty if nothing was published
  };
  Snapshot read() const;

 private:
  SharedText(std::size_t capacity, void* mapping);
  struct Header {
    std::atomic<std::uint64_t> version;
    std::atomic<std::uint64_t> length;
  };
  std::size_t capacity_;
  std::size_t bytes_;
  Header* header_;
  char* data_;
};

}  // namespace keyloop::ipc
