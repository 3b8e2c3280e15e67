// Ring: which worker owns a key, the same answer in every process.
//
// Two steps, both deterministic (no per-process seed: every worker of every
// generation must agree):
//   key  -> slot   Redis Cluster's rule: CRC16 of the key, or of its hash tag
//                  ({user1}.a and {user1}.b share a slot), mod 16384.
//   slot -> worker jump consistent hash (Lamping & Veach) over the slot.
// Why jump hash over a ring of virtual nodes: our workers are the contiguous
// slots 0..N-1, which is exactly jump hash's model; it needs no memory, is
// balanced to within the 16384 slots' granularity, and when N changes it
// moves only the slots that must move (~1/N of them), which the tests check.
// Slots also give reload migration its unit and its order: an old owner
// streams its keys slot by slot and publishes the slot it has reached.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace keyloop::ring {

inline constexpr int kSlots = 16384;

// Redis Cluster's CRC16 (XMODEM): the slot hash.
std::uint16_t crc16(std::string_view bytes);
// The part of a key that is hashed: the first non-empty {...}, else the key.
std::string_view hashTag(std::string_view key);
std::uint16_t slotOf(std::string_view key);
// Jump consistent hash of a slot onto [0, workers).
int ownerOfSlot(std::uint16_t slot, int workers);

// The slot -> worker table for one worker count: O(1) lookups on hot paths.
class Ring {
 public:
  explicit Ring(int workers);
  int workers() const { return workers_; }
  int ownerOf(std::string_view key) const { return owners_[slotOf(key)]; }
  int ownerOfSlot(std::uint16_t slot) const { return owners_[slot]; }
  // Slots whose owner differs between this ring and `next`, in slot order.
  std::vector<std::uint16_t> movedSlots(const Ring& next) const;

 private:
  int workers_;
  std::array<std::uint16_t, kSlots> owners_{};
};

}  // namespace keyloop::ring
