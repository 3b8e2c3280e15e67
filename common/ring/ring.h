// Ring: which worker owns a key, the same answer in every process.
//
// Two steps, both deterministic (no per-process seed: every worker of every
// generation must agree):
//   key  -> slot   Redis Cluster's rule: CRC16 of the key, or of its hash tag
//                  ({user1}.a and {user1}.b share a slot), mod 16384.
//   slot -> worker by blocks of kBlockSlots contiguous slots (kBlocks of
//                  them), so a worker's slots are at most 256 ranges: what
//                  CLUSTER SLOTS reports and cluster clients keep a table of.
// Blocks are dealt the way workers are added: N=1 owns every block; going
// from N to N+1 workers, each worker hands the newcomer just enough of its
// blocks (chosen by a hash, so they are spread over the keyspace) to leave
// every worker floor or ceil of kBlocks/(N+1). So every count is balanced to
// one block, and a block only ever moves to a worker newer than its owner:
// from M to N workers exactly the share of workers M..N-1 moves, |N-M|/max,
// the least any assignment can move (the tests check both).
// Slots also give reload migration its unit and its order: an old owner
// streams its keys slot by slot and publishes the slot it has reached.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace keyloop::ring {

inline constexpr int kSlots = 16384;
inline constexpr int kBlocks = 256;
inline constexpr int kBlockSlots = kSlots / kBlocks;

// Redis Cluster's CRC16 (XMODEM): the slot hash.
std::uint16_t crc16(std::string_view bytes);
// The part of a key that is hashed: the first non-empty {...}, else the key.
std::string_view hashTag(std::string_view key);
std::uint16_t slotOf(std::string_view key);
// splitmix64's finalizer: spreads a small number over 64 well-mixed bits
// (which blocks a worker hands over; CLUSTER's node ids).
std::uint64_t mix(std::uint64_t x);

// The slot -> worker table for one worker count: O(1) lookups on hot paths.
class Ring {
 public:
  explicit Ring(int workers);
  int workers() const { return workers_; }
  int ownerOf(std::string_view key) const { return owners_[slotOf(key)]; }
  int ownerOfSlot(std::uint16_t slot) const { return owners_[slot]; }
  // Slots whose owner differs between this ring and `next`, in slot order.
  std::vector<std::uint16_t> movedSlots(const Ring& next) const;
  // Contiguous runs of slots with one owner, in slot order.
  struct Range {
    std::uint16_t first, last;
    int owner;
  };
  std::vector<Range> ranges() const;

 private:
  int workers_;
  std::array<std::uint16_t, kSlots> owners_{};
};

}  // namespace keyloop::ring
