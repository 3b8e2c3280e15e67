#include "common/ipc/shared_slots.h"

#include <sys/mman.h>

#include <cerrno>
#include <new>
#include <system_error>

namespace keyloop::ipc {

SharedSlots::SharedSlots(int slots) : slots_(slots), bytes_(sizeof(SlotBlock) * static_cast<std::size_t>(slots)) {
  void* mapping = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
  blocks_ = static_cast<SlotBlock*>(mapping);
  for (int i = 0; i < slots_; ++i) new (&blocks_[i]) SlotBlock{};
}

SharedSlots::~SharedSlots() { ::munmap(blocks_, bytes_); }

std::uint64_t SharedSlots::totalClients() const {
  std::uint64_t total = 0;
  for (int i = 0; i < slots_; ++i) total += blocks_[i].clients.load(std::memory_order_relaxed);
  return total;
}

}  // namespace keyloop::ipc
