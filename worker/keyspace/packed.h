// Packed elements: the compact byte form small hashes and sets live in
// (inside their key's store entry) and that big ones keep in each bucket.
//
// An element is [length][bytes]: the length is a LEB128 varint, one byte up
// to 127 (so a 10-byte field costs 11 bytes; Redis's listpack spends 12, its
// back-length byte buys reverse walks a hash or set never takes). A tuple is
// `width` elements: a hash's field and value (2), a set's member (1); the
// first one is the tuple's key.
//
// A packed value (kPackedHeader bytes of tuple count, then the tuples) is
// position-independent: it moves by memcpy and is its own transfer image.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace keyloop::packed {

inline std::size_t lengthSize(std::size_t n) {
  std::size_t bytes = 1;
  while (n >= 0x80) {
    n >>= 7;
    ++bytes;
  }
  return bytes;
}

inline std::size_t elementSize(std::string_view s) { return lengthSize(s.size()) + s.size(); }

inline char* putElement(char* out, std::string_view s) {
  std::size_t n = s.size();
  while (n >= 0x80) {
    *out++ = static_cast<char>((n & 0x7F) | 0x80);
    n >>= 7;
  }
  *out++ = static_cast<char>(n);
  if (!s.empty()) std::memcpy(out, s.data(), s.size());
  return out + s.size();
}

inline void appendElement(std::string& out, std::string_view s) {
  const std::size_t at = out.size();
  out.resize(at + elementSize(s));
  putElement(out.data() + at, s);
}

// A varint alone (a count, a delta: streams' nodes use them too).
inline void appendLength(std::string& out, std::uint64_t n) {
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7F) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
}

// Reads the varint at `p` and moves `p` past it.
inline std::uint64_t readLength(const char*& p) {
  std::uint64_t n = 0;
  int shift = 0;
  unsigned char byte;
  do {
    byte = static_cast<unsigned char>(*p++);
    n |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
    shift += 7;
  } while ((byte & 0x80) && shift < 64);
  return n;
}

// Reads the element at `p` and moves `p` past it.
inline std::string_view readElement(const char*& p) {
  const auto n = static_cast<std::size_t>(readLength(p));
  const std::string_view s(p, n);
  p += n;
  return s;
}

// A tuple read in place: its elements and where it starts and ends.
struct Tuple {
  std::string_view key, value;  // value empty for width 1
  std::size_t begin = 0, end = 0;
};

inline Tuple readTuple(std::string_view bytes, std::size_t at, int width) {
  const char* p = bytes.data() + at;
  Tuple t;
  t.begin = at;
  t.key = readElement(p);
  if (width == 2) t.value = readElement(p);
  t.end = static_cast<std::size_t>(p - bytes.data());
  return t;
}

// Tuples of `bytes` from `from` on: calls visit(const Tuple&) until it
// returns false; returns whether the walk went to the end.
template <typename Visit>
bool forEachTuple(std::string_view bytes, std::size_t from, int width, Visit visit) {
  for (std::size_t at = from; at < bytes.size();) {
    const Tuple t = readTuple(bytes, at, width);
    if (!visit(t)) return false;
    at = t.end;
  }
  return true;
}

// The tuple whose key is `key`, or a Tuple with end == 0.
inline Tuple findTuple(std::string_view bytes, std::size_t from, int width, std::string_view key) {
  Tuple found;
  forEachTuple(bytes, from, width, [&](const Tuple& t) {
    if (t.key.size() != key.size() || t.key != key) return true;
    found = t;
    return false;
  });
  return found;
}

inline std::size_t tupleSize(std::string_view key, std::string_view value, int width) {
  return elementSize(key) + (width == 2 ? elementSize(value) : 0);
}

inline void appendTuple(std::string& out, std::string_view key, std::string_view value, int width) {
  appendElement(out, key);
  if (width == 2) appendElement(out, value);
}

// The tuple count header of a packed value.
inline constexpr std::size_t kPackedHeader = 4;
inline std::uint32_t countOf(std::string_view packedValue) {
  std::uint32_t n;
  std::memcpy(&n, packedValue.data(), sizeof n);
  return n;
}
inline void setCount(char* packedValue, std::uint32_t n) { std::memcpy(packedValue, &n, sizeof n); }
inline std::string emptyValue() { return std::string(kPackedHeader, '\0'); }

}  // namespace keyloop::packed
