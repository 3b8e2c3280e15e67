#include "common/ipc/shared_text.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <new>

namespace keyloop::ipc {

Result<std::unique_ptr<SharedText>> SharedText::create(std::size_t capacity) {
  void* mapping = ::mmap(nullptr, sizeof(Header) + capacity, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) return fail(std::string("mmap: ") + std::strerror(errno));
  return std::unique_ptr<SharedText>(new SharedText(capacity, mapping));
}

SharedText::SharedText(std::size_t capacity, void* mapping) : capacity_(capacity), bytes_(sizeof(Header) + capacity) {
  header_ = new (mapping) Header{};
  data_ = static_cast<char*>(mapping) + sizeof(Header);
}

SharedText::~SharedText() { ::munmap(header_, bytes_); }

bool SharedText::publish(std::string_view text) {
  if (text.size() > capacity_) return false;
  const std::uint64_t version = header_->version.load(std::memory_order_relaxed);
  header_->version.store(version + 1, std::memory_order_relaxed);  // odd: writing
  std::atomic_thread_fence(std::memory_order_release);
  std::memcpy(data_, text.data(), text.size());
  header_->length.store(text.size(), std::memory_order_relaxed);
  header_->version.store(version + 2, std::memory_order_release);
  return true;
}

SharedText::Snapshot SharedText::read() const {
  for (;;) {
    const std::uint64_t before = header_->version.load(std::memory_order_acquire);
    if (before % 2 == 1) continue;  // the master is writing
    const std::size_t length = std::min<std::size_t>(header_->length.load(std::memory_order_relaxed), capacity_);
    std::string text(data_, length);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (header_->version.load(std::memory_order_relaxed) == before) return {before, std::move(text)};
  }
}

}  // namespace keyloop::ipc
