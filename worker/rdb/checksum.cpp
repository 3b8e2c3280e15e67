#include "worker/rdb/checksum.h"

#include <array>

namespace keyloop::rdb {

namespace {

// 0xad93d23594c935a9 bit-reversed: the table of the reflected algorithm.
constexpr std::uint64_t kReflectedPoly = 0x95ac9329ac4bc9b5ull;

constexpr std::array<std::uint64_t, 256> makeTable() {
  std::array<std::uint64_t, 256> table{};
  for (std::uint64_t i = 0; i < 256; ++i) {
    std::uint64_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) ? (crc >> 1) ^ kReflectedPoly : crc >> 1;
    table[i] = crc;
  }
  return table;
}

constexpr auto kTable = makeTable();

}  // namespace

std::uint64_t crc64(std::uint64_t crc, std::string_view bytes) {
  for (unsigned char b : bytes) crc = kTable[(crc ^ b) & 0xff] ^ (crc >> 8);
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
