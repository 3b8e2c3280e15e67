#include "common/rdb/listpack.h"

#include <charconv>
#include <optional>

#include "common/rdb/format.h"

namespace keyloop::rdb {

std::string signedText(std::uint64_t raw, int bits) {
  const int shift = 64 - bits;
  return std::to_string(static_cast<std::int64_t>(raw << shift) >> shift);
}

// Calls visit(element) for each entry of a listpack; false if malformed.
bool forEachListpackEntry(std::string_view lp, const std::function<void(const std::string&)>& visit) {
  if (lp.size() < 7 || littleEndian(lp, 0, 4) != lp.size()) return false;
  std::size_t p = 6;
  while (p < lp.size()) {
    const auto b = static_cast<unsigned char>(lp[p]);
    if (b == 0xFF) return p + 1 == lp.size();
    std::size_t header = 1, data = 0;
    std::string element;
    auto need = [&](std::size_t n) { return p + n <= lp.size(); };
    if ((b & 0x80) == 0) {
      element = std::to_string(b & 0x7f);
    } else if ((b & 0xC0) == 0x80) {
      data = b & 0x3f;
    } else if ((b & 0xE0) == 0xC0) {
      if (!need(2)) return false;
      header = 2;
      element = signedText((std::uint64_t{b & 0x1fu} << 8) | static_cast<unsigned char>(lp[p + 1]), 13);
    } else if ((b & 0xF0) == 0xE0) {
      if (!need(2)) return false;
      header = 2;
      data = (std::size_t{b & 0x0fu} << 8) | static_cast<unsigned char>(lp[p + 1]);
    } else if (b == 0xF0) {
      if (!need(5)) return false;
      header = 5;
      data = littleEndian(lp, p + 1, 4);
    } else if (b >= 0xF1 && b <= 0xF4) {
      const int bytes = b == 0xF1 ? 2 : b == 0xF2 ? 3 : b == 0xF3 ? 4 : 8;
      if (!need(1 + static_cast<std::size_t>(bytes))) return false;
      header = 1 + static_cast<std::size_t>(bytes);
      element = signedText(littleEndian(lp, p + 1, bytes), bytes * 8);
    } else {
      return false;
    }
    if (!need(header + data)) return false;
    if (data > 0 || (b & 0xC0) == 0x80 || (b & 0xF0) == 0xE0 || b == 0xF0) element.assign(lp.substr(p + header, data));
    const std::size_t size = header + data;
    const std::size_t backlen = size < 128 ? 1 : size < 16384 ? 2 : size < 2097152 ? 3 : size < 268435456 ? 4 : 5;
    if (!need(size + backlen)) return false;
    visit(element);
    p += size + backlen;
  }
  return false;
}

namespace {

// The back-length: the entry's size, 7 bits a byte, read from its end.
void appendBacklen(std::string& out, std::size_t size) {
  if (size < 128) return out.push_back(static_cast<char>(size));
  std::string reversed;
  while (size > 0) {
    reversed.push_back(static_cast<char>(size & 127));
    size >>= 7;
  }
  for (std::size_t i = 0; i < reversed.size(); ++i) {
    auto b = static_cast<unsigned char>(reversed[reversed.size() - 1 - i]);
    if (i > 0) b |= 128;  // read from the end: every byte but the first written says "more"
    out.push_back(static_cast<char>(b));
  }
}

std::optional<std::int64_t> integerOf(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  char digits[24];
  const auto printed = std::to_chars(digits, digits + sizeof digits, v).ptr;
  if (std::string_view(digits, static_cast<std::size_t>(printed - digits)) != s) return std::nullopt;
  return v;
}

}  // namespace

ListpackWriter::ListpackWriter() : out_(6, '\0') {}

void ListpackWriter::addEncoded(std::string_view encoded) {
  out_.append(encoded);
  appendBacklen(out_, encoded.size());
  ++count_;
}

void ListpackWriter::add(std::string_view element) {
  if (const auto v = integerOf(element)) return addInteger(*v);
  std::string e;
  if (element.size() < 64) {
    e.push_back(static_cast<char>(0x80 | element.size()));
  } else if (element.size() < 4096) {
    e.push_back(static_cast<char>(0xE0 | (element.size() >> 8)));
    e.push_back(static_cast<char>(element.size() & 0xFF));
  } else {
    e.push_back(static_cast<char>(0xF0));
    appendLittleEndian(e, element.size(), 4);
  }
  e.append(element);
  addEncoded(e);
}

void ListpackWriter::addInteger(std::int64_t v) {
  std::string e;
  if (v >= 0 && v <= 127) {
    e.push_back(static_cast<char>(v));
  } else if (v >= -4096 && v <= 4095) {
    const auto u = static_cast<std::uint64_t>(v) & 0x1FFF;
    e.push_back(static_cast<char>(0xC0 | (u >> 8)));
    e.push_back(static_cast<char>(u & 0xFF));
  } else {
    const int bytes = v >= -32768 && v <= 32767 ? 2 : v >= -8388608 && v <= 8388607 ? 3
                    : v >= INT32_MIN && v <= INT32_MAX ? 4 : 8;
    e.push_back(static_cast<char>(bytes == 2 ? 0xF1 : bytes == 3 ? 0xF2 : bytes == 4 ? 0xF3 : 0xF4));
    appendLittleEndian(e, static_cast<std::uint64_t>(v), bytes);
  }
  addEncoded(e);
}

std::string ListpackWriter::finish() {
  out_.push_back(static_cast<char>(0xFF));
  std::string head;
  appendLittleEndian(head, out_.size(), 4);
  appendLittleEndian(head, count_ < 65535 ? count_ : 65535, 2);
  out_.replace(0, 6, head);
  return std::move(out_);
}

}  // namespace keyloop::rdb
