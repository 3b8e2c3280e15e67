#include "worker/keyspace/intset.h"

#include <cstring>

#include "common/text/text.h"

namespace keyloop::intset {

namespace {

std::uint32_t field(std::string_view set, std::size_t at) {
  std::uint32_t v;
  std::memcpy(&v, set.data() + at, sizeof v);
  return v;
}

void setField(std::string& set, std::size_t at, std::uint32_t v) { std::memcpy(set.data() + at, &v, sizeof v); }

std::uint32_t widthFor(std::int64_t v) {
  if (v >= INT16_MIN && v <= INT16_MAX) return 2;
  if (v >= INT32_MIN && v <= INT32_MAX) return 4;
  return 8;
}

std::int64_t read(const char* p, std::uint32_t width) {
  switch (width) {
    case 2: { std::int16_t v; std::memcpy(&v, p, 2); return v; }
    case 4: { std::int32_t v; std::memcpy(&v, p, 4); return v; }
    default: { std::int64_t v; std::memcpy(&v, p, 8); return v; }
  }
}

void write(char* p, std::uint32_t width, std::int64_t v) {
  switch (width) {
    case 2: { const auto n = static_cast<std::int16_t>(v); std::memcpy(p, &n, 2); return; }
    case 4: { const auto n = static_cast<std::int32_t>(v); std::memcpy(p, &n, 4); return; }
    default: std::memcpy(p, &v, 8);
  }
}

// The index of `value`, or where it would go; and whether it is there.
std::pair<std::uint32_t, bool> search(std::string_view set, std::int64_t value) {
  std::uint32_t lo = 0, hi = count(set);
  const std::uint32_t width = field(set, 0);
  while (lo < hi) {
    const std::uint32_t mid = lo + (hi - lo) / 2;
    const std::int64_t v = read(set.data() + kHeader + std::size_t{mid} * width, width);
    if (v == value) return {mid, true};
    if (v < value) lo = mid + 1;
    else hi = mid;
  }
  return {lo, false};
}

}  // namespace

std::string empty() {
  std::string s(kHeader, '\0');
  setField(s, 0, 2);
  return s;
}

std::uint32_t count(std::string_view set) { return field(set, 4); }

std::int64_t at(std::string_view set, std::uint32_t index) {
  const std::uint32_t width = field(set, 0);
  return read(set.data() + kHeader + std::size_t{index} * width, width);
}

bool contains(std::string_view set, std::int64_t value) {
  if (widthFor(value) > field(set, 0)) return false;
  return search(set, value).second;
}

bool valid(std::string_view set) {
  if (set.size() < kHeader) return false;
  const std::uint32_t width = field(set, 0);
  if (width != 2 && width != 4 && width != 8) return false;
  const std::uint32_t n = count(set);
  if (set.size() != kHeader + std::size_t{n} * width || n == 0) return false;
  for (std::uint32_t i = 1; i < n; ++i) {
    if (at(set, i - 1) >= at(set, i)) return false;  // sorted, no duplicates
  }
  return true;
}

bool add(std::string& set, std::int64_t value) {
  const std::uint32_t width = field(set, 0);
  const std::uint32_t n = count(set);
  if (const std::uint32_t wider = widthFor(value); wider > width) {
    // A member that needs more bytes is below or above all the others.
    std::string grown(kHeader + std::size_t{n + 1} * wider, '\0');
    setField(grown, 0, wider);
    setField(grown, 4, n + 1);
    const std::size_t shift = value < 0 ? 1 : 0;
    for (std::uint32_t i = 0; i < n; ++i) write(grown.data() + kHeader + (i + shift) * wider, wider, at(set, i));
    write(grown.data() + kHeader + (value < 0 ? 0 : std::size_t{n}) * wider, wider, value);
    set.swap(grown);
    return true;
  }
  const auto [index, found] = search(set, value);
  if (found) return false;
  set.insert(kHeader + std::size_t{index} * width, width, '\0');
  write(set.data() + kHeader + std::size_t{index} * width, width, value);
  setField(set, 4, n + 1);
  return true;
}

bool remove(std::string& set, std::int64_t value) {
  if (widthFor(value) > field(set, 0)) return false;
  const auto [index, found] = search(set, value);
  if (!found) return false;
  const std::uint32_t width = field(set, 0);
  set.erase(kHeader + std::size_t{index} * width, width);
  setField(set, 4, count(set) - 1);
  return true;
}

std::optional<std::int64_t> memberValue(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  auto v = parseInteger(text);
  if (!v) return std::nullopt;
  return *v;
}

}  // namespace keyloop::intset
