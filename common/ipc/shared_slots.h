// SharedSlots: one cache-line-aligned block per worker slot in an anonymous
// shared mapping the master makes before forking. Each worker writes only
// its own block (single writer, no locks); any process may read them all.
//
// Why per slot and not one shared counter: a worker that crashes cannot
// decrement anything, but its replacement simply overwrites its own block.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace keyloop::ipc {

struct alignas(64) SlotBlock {
  std::atomic<std::uint64_t> clients{0};  // open client connections
};

class SharedSlots {
 public:
  // Throws std::system_error if the kernel refuses the mapping.
  explicit SharedSlots(int slots);
  ~SharedSlots();
  SharedSlots(const SharedSlots&) = delete;
  SharedSlots& operator=(const SharedSlots&) = delete;

  int size() const { return slots_; }
  SlotBlock& at(int slot) { return blocks_[slot]; }
  // Sum of every slot's clients: a snapshot, good enough for maxclients
  // (two workers accepting at the same instant may overshoot by one each).
  std::uint64_t totalClients() const;

 private:
  int slots_;
  std::size_t bytes_;
  SlotBlock* blocks_;
};

}  // namespace keyloop::ipc
