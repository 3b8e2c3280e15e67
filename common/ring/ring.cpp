#include "common/ring/ring.h"

namespace keyloop::ring {

namespace {

constexpr std::array<std::uint16_t, 256> makeCrcTable() {
  std::array<std::uint16_t, 256> table{};
  for (int byte = 0; byte < 256; ++byte) {
    std::uint16_t crc = static_cast<std::uint16_t>(byte << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = static_cast<std::uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    table[static_cast<std::size_t>(byte)] = crc;
  }
  return table;
}
constexpr auto kCrcTable = makeCrcTable();

// splitmix64's finalizer: spreads the 14-bit slot over 64 bits, which jump
// hash's generator needs to be uniform.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

std::uint16_t crc16(std::string_view bytes) {
  std::uint16_t crc = 0;
  for (unsigned char c : bytes) {
    crc = static_cast<std::uint16_t>((crc << 8) ^ kCrcTable[((crc >> 8) ^ c) & 0xff]);
  }
  return crc;
}

std::string_view hashTag(std::string_view key) {
  const std::size_t open = key.find('{');
  if (open == std::string_view::npos) return key;
  const std::size_t close = key.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

std::uint16_t slotOf(std::string_view key) { return crc16(hashTag(key)) & (kSlots - 1); }

int ownerOfSlot(std::uint16_t slot, int workers) {
  std::uint64_t key = mix(slot);
  std::int64_t bucket = -1, jump = 0;
  while (jump < workers) {
    bucket = jump;
    key = key * 2862933555777941757ULL + 1;
    jump = static_cast<std::int64_t>(static_cast<double>(bucket + 1) *
                                     (static_cast<double>(1LL << 31) / static_cast<double>((key >> 33) + 1)));
  }
  return static_cast<int>(bucket);
}

Ring::Ring(int workers) : workers_(workers < 1 ? 1 : workers) {
  for (int slot = 0; slot < kSlots; ++slot) {
    owners_[static_cast<std::size_t>(slot)] =
        static_cast<std::uint16_t>(ring::ownerOfSlot(static_cast<std::uint16_t>(slot), workers_));
  }
}

std::vector<std::uint16_t> Ring::movedSlots(const Ring& next) const {
  std::vector<std::uint16_t> moved;
  for (int slot = 0; slot < kSlots; ++slot) {
    if (owners_[static_cast<std::size_t>(slot)] != next.owners_[static_cast<std::size_t>(slot)]) {
      moved.push_back(static_cast<std::uint16_t>(slot));
    }
  }
  return moved;
}

}  // namespace keyloop::ring
