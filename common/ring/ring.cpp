#include "common/ring/ring.h"

#include <algorithm>

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

std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint16_t slotOf(std::string_view key) { return crc16(hashTag(key)) & (kSlots - 1); }

namespace {

// Block -> worker for `workers` workers, dealt as ring.h describes.
std::array<int, kBlocks> dealBlocks(int workers) {
  std::array<int, kBlocks> owner{};  // 1 worker: worker 0 owns every block
  std::vector<std::vector<int>> blocksOf(1);
  for (int b = 0; b < kBlocks; ++b) blocksOf[0].push_back(b);
  for (int n = 1; n < workers; ++n) {  // n workers -> n + 1
    const auto byHash = [n](int a, int b) {
      return mix(static_cast<std::uint64_t>(a) * 4096 + static_cast<std::uint64_t>(n)) <
             mix(static_cast<std::uint64_t>(b) * 4096 + static_cast<std::uint64_t>(n));
    };
    std::vector<int> taken;
    for (int w = 0; w < n; ++w) {
      const int target = kBlocks / (n + 1) + (w < kBlocks % (n + 1) ? 1 : 0);
      std::vector<int>& mine = blocksOf[static_cast<std::size_t>(w)];
      const auto give = static_cast<std::ptrdiff_t>(std::max(0, static_cast<int>(mine.size()) - target));
      std::sort(mine.begin(), mine.end(), byHash);  // the smallest hashes for this step go
      taken.insert(taken.end(), mine.begin(), mine.begin() + give);
      mine.erase(mine.begin(), mine.begin() + give);
    }
    for (int b : taken) owner[static_cast<std::size_t>(b)] = n;
    blocksOf.push_back(std::move(taken));
  }
  return owner;
}

}  // namespace

Ring::Ring(int workers) : workers_(workers < 1 ? 1 : workers) {
  const std::array<int, kBlocks> blocks = dealBlocks(workers_);
  for (int slot = 0; slot < kSlots; ++slot) {
    owners_[static_cast<std::size_t>(slot)] =
        static_cast<std::uint16_t>(blocks[static_cast<std::size_t>(slot / kBlockSlots)]);
  }
}

std::vector<Ring::Range> Ring::ranges() const {
  std::vector<Range> out;
  for (int slot = 0; slot < kSlots; ++slot) {
    const int owner = owners_[static_cast<std::size_t>(slot)];
    if (!out.empty() && out.back().owner == owner) {
      out.back().last = static_cast<std::uint16_t>(slot);
    } else {
      out.push_back({static_cast<std::uint16_t>(slot), static_cast<std::uint16_t>(slot), owner});
    }
  }
  return out;
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
