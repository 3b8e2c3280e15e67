#include "common/text/text.h"

#include <cctype>
#include <cstdarg>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cerrno>

namespace keyloop {

std::optional<std::uint64_t> parseScanCursor(std::string_view text) {
  const std::string copy(text);  // strtoul needs a terminator
  char* end = nullptr;
  errno = 0;
  const std::uint64_t cursor = std::strtoul(copy.c_str(), &end, 10);
  // Redis's strtoul check: an empty cursor is 0.
  if ((!copy.empty() && std::isspace(static_cast<unsigned char>(copy[0]))) || *end != '\0' || errno == ERANGE ||
      copy.size() != std::strlen(copy.c_str())) {
    return std::nullopt;
  }
  return cursor;
}

std::optional<long long> parseInteger(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  if (s == "0") return 0;
  std::size_t i = 0;
  bool negative = false;
  if (s[0] == '-') {
    negative = true;
    if (++i == s.size()) return std::nullopt;
  }
  if (s[i] < '1' || s[i] > '9') return std::nullopt;  // no leading zero, no "-0"
  unsigned long long magnitude = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    const unsigned long long digit = static_cast<unsigned long long>(s[i] - '0');
    if (magnitude > (~0ULL - digit) / 10) return std::nullopt;
    magnitude = magnitude * 10 + digit;
  }
  if (negative) {
    if (magnitude > static_cast<unsigned long long>(LLONG_MAX) + 1) return std::nullopt;
    return static_cast<long long>(0 - magnitude);
  }
  if (magnitude > static_cast<unsigned long long>(LLONG_MAX)) return std::nullopt;
  return static_cast<long long>(magnitude);
}

std::optional<long double> parseLongDouble(std::string_view s) {
  constexpr std::size_t kMaxChars = 5 * 1024;  // MAX_LONG_DOUBLE_CHARS
  if (s.empty() || s.size() >= kMaxChars) return std::nullopt;
  if (std::memchr(s.data(), '\0', s.size()) != nullptr) return std::nullopt;
  std::string buf(s);
  char* end = nullptr;
  errno = 0;
  long double value = std::strtold(buf.c_str(), &end);
  if (std::isspace(static_cast<unsigned char>(buf[0])) || *end != '\0' ||
      (errno == ERANGE && (value == HUGE_VALL || value == -HUGE_VALL || value == 0)) ||
      std::isnan(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<double> parseDouble(std::string_view s) {
  if (s.empty() || std::memchr(s.data(), '\0', s.size()) != nullptr) return std::nullopt;
  const std::string buf(s);
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(buf.c_str(), &end);
  if (std::isspace(static_cast<unsigned char>(buf[0])) || *end != '\0' ||
      (errno == ERANGE && (value == HUGE_VAL || value == -HUGE_VAL || std::fpclassify(value) == FP_ZERO)) ||
      std::isnan(value)) {
    return std::nullopt;
  }
  return value;
}

Result<long long> parseBlockingTimeout(std::string_view text, std::int64_t nowMs) {
  const auto seconds = parseLongDouble(text);
  if (!seconds) return fail("ERR timeout is not a float or out of range");
  const long double ms = std::ceil(*seconds * 1000.0L);
  if (ms < 0 || ms >= 0x1p63L) return fail("ERR timeout is negative");
  const auto millis = static_cast<long long>(ms);
  return millis > LLONG_MAX - nowMs ? 1 : millis;
}

std::string formatLongDouble(long double value) {
  char buf[5 * 1024];
  int length = std::snprintf(buf, sizeof buf, "%.17Lf", value);
  if (length < 0 || static_cast<std::size_t>(length) >= sizeof buf) return "0";
  if (std::strchr(buf, '.') != nullptr) {
    while (buf[length - 1] == '0') --length;
    if (buf[length - 1] == '.') --length;
  }
  if (length == 2 && buf[0] == '-' && buf[1] == '0') return "0";
  return std::string(buf, static_cast<std::size_t>(length));
}

std::string formatInteger(long long value) { return std::to_string(value); }

std::string printed(const char* format, ...) {
  va_list args;
  va_start(args, format);
  va_list again;
  va_copy(again, args);
  const int length = std::vsnprintf(nullptr, 0, format, args);
  va_end(args);
  std::string text(length > 0 ? static_cast<std::size_t>(length) : 0, '\0');
  if (length > 0) std::vsnprintf(text.data(), text.size() + 1, format, again);
  va_end(again);
  return text;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string toLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string toUpper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

namespace {

char fold(char c, bool noCase) {
  return noCase ? static_cast<char>(std::tolower(static_cast<unsigned char>(c))) : c;
}

// Returns 1 on match, 0 on mismatch, -1 when a '*' can never match (lets the
// caller stop early, as Redis does, so hostile patterns stay linear-ish).
int matchFrom(const char* p, std::size_t plen, const char* s, std::size_t slen, bool noCase,
              int nesting) {
  if (nesting > 1000) return 0;
  while (plen > 0 && slen > 0) {
    switch (p[0]) {
      case '*': {
        while (plen > 1 && p[1] == '*') {
          ++p;
          --plen;
        }
        if (plen == 1) return 1;
        while (slen > 0) {
          int r = matchFrom(p + 1, plen - 1, s, slen, noCase, nesting + 1);
          if (r != 0) return r;
          ++s;
          --slen;
        }
        return -1;
      }
      case '?':
        ++s;
        --slen;
        break;
      case '[': {
        ++p;
        --plen;
        bool negate = plen > 0 && p[0] == '^';
        if (negate) {
          ++p;
          --plen;
        }
        bool matched = false;
        while (plen > 0 && p[0] != ']') {
          if (p[0] == '\\' && plen >= 2) {
            ++p;
            --plen;
            if (p[0] == s[0]) matched = true;
          } else if (plen >= 3 && p[1] == '-') {
            char start = fold(p[0], noCase), end = fold(p[2], noCase), c = fold(s[0], noCase);
            if (start > end) std::swap(start, end);
            if (c >= start && c <= end) matched = true;
            p += 2;
            plen -= 2;
          } else if (fold(p[0], noCase) == fold(s[0], noCase)) {
            matched = true;
          }
          ++p;
          --plen;
        }
        if (plen == 0) {  // unterminated class: Redis treats the end as ']'
          ++plen;
          --p;
        }
        if (negate) matched = !matched;
        if (!matched) return 0;
        ++s;
        --slen;
        break;
      }
      case '\\':
        if (plen >= 2) {
          ++p;
          --plen;
        }
        [[fallthrough]];
      default:
        if (fold(p[0], noCase) != fold(s[0], noCase)) return 0;
        ++s;
        --slen;
        break;
    }
    ++p;
    --plen;
    if (slen == 0) {
      while (plen > 0 && p[0] == '*') {
        ++p;
        --plen;
      }
      break;
    }
  }
  return plen == 0 && slen == 0 ? 1 : 0;
}

}  // namespace

bool globMatch(std::string_view pattern, std::string_view text, bool noCase) {
  return matchFrom(pattern.data(), pattern.size(), text.data(), text.size(), noCase, 0) == 1;
}

std::vector<std::string_view> splitOn(std::string_view text, char separator) {
  std::vector<std::string_view> pieces;
  while (!text.empty()) {
    const std::size_t end = std::min(text.find(separator), text.size());
    if (end > 0) pieces.push_back(text.substr(0, end));
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return pieces;
}

}  // namespace keyloop
