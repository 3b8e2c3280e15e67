#include "common/rdb/checksum.h"

#include <array>

namespace keyloop::rdb {

namespace {

// 0xad93d23594c935a9 bit-reversed: the table of the reflected algorithm.
constexpr std::uint64_t kReflectedPoly = 0x95ac9329ac4bc9b5ull;

// Slicing by 8 (as Redis's crcspeed): table k advances a byte through k
// more zero bytes, so 8 lookups take 8 bytes at once (a snapshot of
// gigabytes is checksummed at memory speed, not a byte per step).
using Tables = std::array<std::array<std::uint64_t, 256>, 8>;

constexpr Tables makeTables() {
  Tables t{};
  for (std::uint64_t i = 0; i < 256; ++i) {
    std::uint64_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) ? (crc >> 1) ^ kReflectedPoly : crc >> 1;
    t[0][i] = crc;
  }
  for (std::size_t k = 1; k < 8; ++k) {
    for (std::size_t i = 0; i < 256; ++i) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
  }
  return t;
}

constexpr Tables kTables = makeTables();

}  // namespace

std::uint64_t crc64(std::uint64_t crc, std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size();
  const auto& t = kTables;
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t word = 0;
    for (int i = 7; i >= 0; --i) word = (word << 8) | p[i];  // little-endian, whatever the host
    crc ^= word;
    crc = t[7][crc & 0xff] ^ t[6][(crc >> 8) & 0xff] ^ t[5][(crc >> 16) & 0xff] ^ t[4][(crc >> 24) & 0xff] ^
          t[3][(crc >> 32) & 0xff] ^ t[2][(crc >> 40) & 0xff] ^ t[1][(crc >> 48) & 0xff] ^ t[0][crc >> 56];
  }
  for (; n > 0; ++p, --n) crc = t[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
  return crc;
}

std::optional<std::string> lzfDecompress(std::string_view in, std::size_t length) {
  // A back reference of 3 bytes expands to at most 264: a claimed length
  // beyond that is a lie, and must not become an allocation.
  if (length > in.size() * 88 + 64) return std::nullopt;
  std::string out;
  out.reserve(length);
  std::size_t i = 0;
  while (i < in.size()) {
    const unsigned ctrl = static_cast<unsigned char>(in[i++]);
    if (ctrl < (1u << 5)) {  // a literal run of ctrl + 1 bytes
      const std::size_t run = ctrl + 1;
      if (i + run > in.size() || out.size() + run > length) return std::nullopt;
      out.append(in.substr(i, run));
      i += run;
      continue;
    }
    std::size_t run = ctrl >> 5;  // a back reference
    if (i >= in.size()) return std::nullopt;
    if (run == 7) {
      run += static_cast<unsigned char>(in[i++]);
      if (i >= in.size()) return std::nullopt;
    }
    const std::size_t back = ((ctrl & 0x1f) << 8) + static_cast<unsigned char>(in[i++]) + 1;
    run += 2;
    if (back > out.size() || out.size() + run > length) return std::nullopt;
    const std::size_t from = out.size() - back;
    for (std::size_t k = 0; k < run; ++k) out.push_back(out[from + k]);  // may overlap what it writes
  }
  if (out.size() != length) return std::nullopt;
  return out;
}

}  // namespace keyloop::rdb
