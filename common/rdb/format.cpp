#include "common/rdb/format.h"

#include <bit>
#include <cmath>
#include <cstdlib>

#include "common/config/version.h"
#include "common/rdb/checksum.h"
#include "common/text/text.h"

namespace keyloop::rdb {

void appendRdbLength(std::string& out, std::uint64_t n) {
  if (n < 64) {
    out.push_back(static_cast<char>(n));
  } else if (n < 16384) {
    out.push_back(static_cast<char>(0x40 | (n >> 8)));
    out.push_back(static_cast<char>(n & 0xff));
  } else {
    const bool wide = n > UINT32_MAX;
    out.push_back(static_cast<char>(wide ? 0x81 : 0x80));
    for (int shift = wide ? 56 : 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
  }
}

// Redis's rdbSaveRawString without compression: a short canonical integer
// in 1, 2 or 4 bytes, anything else as length and bytes.
void appendRdbString(std::string& out, std::string_view s) {
  if (s.size() <= 11) {
    if (const auto v = parseInteger(s)) {
      auto put = [&](unsigned char encoding, int bytes) {
        out.push_back(static_cast<char>(0xC0 | encoding));
        for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((static_cast<std::uint64_t>(*v) >> (8 * i)) & 0xff));
      };
      if (*v >= -128 && *v <= 127) return put(0, 1);
      if (*v >= -32768 && *v <= 32767) return put(1, 2);
      if (*v >= INT32_MIN && *v <= INT32_MAX) return put(2, 4);
    }
  }
  appendRdbLength(out, s.size());
  out.append(s);
}

void appendLittleEndian(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t littleEndian(std::string_view s, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= std::uint64_t{static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)])} << (8 * i);
  return v;
}

void appendAux(std::string& out, std::string_view name, std::string_view value) {
  out.push_back(static_cast<char>(kAux));
  appendRdbString(out, name);
  appendRdbString(out, value);
}

std::optional<unsigned char> Reader::byte() {
  if (in.empty()) return std::nullopt;
  const auto b = static_cast<unsigned char>(in[0]);
  in.remove_prefix(1);
  return b;
}

std::optional<std::uint64_t> Reader::bigEndian(int bytes) {
  if (in.size() < static_cast<std::size_t>(bytes)) return std::nullopt;
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(in[static_cast<std::size_t>(i)]);
  in.remove_prefix(static_cast<std::size_t>(bytes));
  return v;
}

std::optional<std::uint64_t> Reader::length(bool* encoded) {
  const auto b = byte();
  if (!b) return std::nullopt;
  if (encoded) *encoded = false;
  switch (*b >> 6) {
    case 0: return *b & 0x3f;
    case 1: {
      const auto low = byte();
      if (!low) return std::nullopt;
      return (std::uint64_t{*b & 0x3fu} << 8) | *low;
    }
    case 2:
      if (*b == 0x80) return bigEndian(4);
      if (*b == 0x81) return bigEndian(8);
      return std::nullopt;
    default:
      if (!encoded) return std::nullopt;
      *encoded = true;
      return *b & 0x3f;
  }
}

std::optional<std::string> Reader::string() {
  bool encoded = false;
  const auto n = length(&encoded);
  if (!n) return std::nullopt;
  if (!encoded) return take(*n);
  if (*n <= 2) {  // an integer of 1, 2 or 4 bytes, little-endian
    const std::size_t bytes = std::size_t{1} << *n;
    if (in.size() < bytes) return std::nullopt;
    std::uint64_t u = 0;
    for (std::size_t i = 0; i < bytes; ++i) u |= std::uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
    in.remove_prefix(bytes);
    const int shift = 64 - static_cast<int>(bytes) * 8;
    return std::to_string(static_cast<std::int64_t>(u << shift) >> shift);
  }
  if (*n != 3) return std::nullopt;
  const auto compressed = length(), expanded = length();
  if (!compressed || !expanded) return std::nullopt;
  const auto bytes = take(*compressed);
  if (!bytes) return std::nullopt;
  return lzfDecompress(*bytes, *expanded);
}

std::optional<double> Reader::binaryDouble() {
  if (in.size() < 8) return std::nullopt;
  const std::uint64_t bits = littleEndian(in, 0, 8);
  in.remove_prefix(8);
  return std::bit_cast<double>(bits);
}

std::optional<double> Reader::textDouble() {
  const auto n = byte();
  if (!n) return std::nullopt;
  if (*n == 253) return std::nan("");
  if (*n == 254) return HUGE_VAL;
  if (*n == 255) return -HUGE_VAL;
  const auto text = take(*n);
  if (!text) return std::nullopt;
  return std::strtod(text->c_str(), nullptr);
}

bool Reader::skip(std::uint64_t n) {
  if (in.size() < n) return false;
  in.remove_prefix(n);
  return true;
}

bool Reader::skipString() {
  bool encoded = false;
  const auto n = length(&encoded);
  if (!n) return false;
  if (!encoded) return skip(*n);
  if (*n <= 2) return skip(std::uint64_t{1} << *n);
  const auto compressed = *n == 3 ? length() : std::nullopt;
  return compressed && length() && skip(*compressed);
}

std::optional<std::string> Reader::take(std::uint64_t n) {
  if (in.size() < n) return std::nullopt;
  std::string s(in.substr(0, n));
  in.remove_prefix(n);
  return s;
}

std::optional<std::uint64_t> readRdbLength(std::string_view& in) {
  Reader r{in};
  return r.length();
}

std::optional<std::string> readRdbString(std::string_view& in) {
  Reader r{in};
  return r.string();
}

std::string fileHead(std::int64_t nowSeconds, std::uint64_t usedMemory) {
  std::string out = "REDIS00" + std::to_string(kVersion);
  appendAux(out, "redis-ver", kRedisCompatibleVersion);  // the format's peer
  appendAux(out, "redis-bits", "64");
  appendAux(out, "ctime", std::to_string(nowSeconds));
  appendAux(out, "used-mem", std::to_string(usedMemory));
  appendAux(out, "aof-base", "0");
  return out;
}

std::string dbHead(std::uint64_t keys, std::uint64_t expires) {
  std::string out;
  out.push_back(static_cast<char>(kSelectDb));
  appendRdbLength(out, 0);
  out.push_back(static_cast<char>(kResizeDb));
  appendRdbLength(out, keys);
  appendRdbLength(out, expires);
  return out;
}

std::string fileTail(std::uint64_t crcSoFar) {
  std::string out(1, static_cast<char>(kEof));
  appendLittleEndian(out, crc64(crcSoFar, out), 8);
  return out;
}

}  // namespace keyloop::rdb
