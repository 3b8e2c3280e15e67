#include "common/resp/request_parser.h"

#include <charconv>
#include <climits>
#include <cstring>

namespace keyloop::resp {

namespace {

// Strict like Redis's string2ll: optional '-', digits, nothing else.
bool parseLength(std::string_view text, long long& out) {
  if (text.empty() || text.size() > 20) return false;
  // The common case, a few plain digits, without from_chars's generality
  // (every request has two or more of these).
  if (text.size() <= 18 && text.front() != '-') {
    long long value = 0;
    for (char c : text) {
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    out = value;
    return true;
  }
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end && text.front() != '+';
}

bool isSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f'; }

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

ParseStatus RequestParser::parse(std::string_view input) {
  args_.clear();
  consumed_ = 0;
  if (input.empty()) return ParseStatus::NeedMore;
  if (input.front() == '*') return parseMultibulk(input);
  return parseInline(input);
}

ParseStatus RequestParser::fail(std::string message) {
  reset();
  error_ = std::move(message);
  return ParseStatus::Error;
}

void RequestParser::reset() {
  pendingArgs_ = -1;
  bulkLength_ = -1;
  position_ = 0;
  spans_.clear();
}

ParseStatus RequestParser::complete(std::string_view input, std::size_t size) {
  for (const Span& s : spans_) args_.push_back(input.substr(s.offset, s.length));
  reset();
  consumed_ = size;
  return ParseStatus::Complete;
}

ParseStatus RequestParser::parseInline(std::string_view input) {
  const std::size_t newline = input.find('\n');
  if (newline == std::string_view::npos) {
    if (input.size() > limits_.maxInlineLength) return fail("Protocol error: too big inline request");
    return ParseStatus::NeedMore;
  }
  std::string_view line = input.substr(0, newline);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  inlineArgs_.clear();
  if (!splitInlineArgs(line, inlineArgs_)) return fail("Protocol error: unbalanced quotes in request");
  for (const std::string& arg : inlineArgs_) args_.push_back(arg);
  consumed_ = newline + 1;
  return ParseStatus::Complete;
}

ParseStatus RequestParser::parseMultibulk(std::string_view input) {
  // Like Redis, a header line ends at '\r' and the byte after it is skipped
  // unchecked; a header with no '\r' yet may not grow past the inline limit.
  auto headerLine = [&](std::string_view& line) -> bool {
    const std::size_t cr = input.find('\r', position_);
    if (cr == std::string_view::npos || cr + 1 >= input.size()) return false;
    line = input.substr(position_ + 1, cr - position_ - 1);
    position_ = cr + 2;
    return true;
  };
  auto tooBig = [&] { return input.size() - position_ > limits_.maxInlineLength; };

  if (pendingArgs_ < 0) {
    std::string_view line;
    if (!headerLine(line)) {
      if (tooBig()) return fail("Protocol error: too big mbulk count string");
      return ParseStatus::NeedMore;
    }
    long long count;
    if (!parseLength(line, count) || count > INT_MAX) {
      return fail("Protocol error: invalid multibulk length");
    }
    if (count <= 0) return complete(input, position_);  // empty request: ignored
    pendingArgs_ = count;
    // Trust the count only so far: a hostile "*1000000000" costs nothing.
    spans_.reserve(static_cast<std::size_t>(std::min(count, 1024LL)));
  }

  while (pendingArgs_ > 0) {
    if (bulkLength_ < 0) {
      if (position_ >= input.size()) return ParseStatus::NeedMore;
      if (input[position_] != '$') {
        return fail(std::string("Protocol error: expected '$', got '") + input[position_] + "'");
      }
      std::string_view line;
      if (!headerLine(line)) {
        if (tooBig()) return fail("Protocol error: too big bulk count string");
        return ParseStatus::NeedMore;
      }
      long long length;
      if (!parseLength(line, length) || length < 0 ||
          static_cast<unsigned long long>(length) > limits_.maxBulkLength) {
        return fail("Protocol error: invalid bulk length");
      }
      bulkLength_ = length;
    }
    const std::size_t need = static_cast<std::size_t>(bulkLength_) + 2;  // payload + CRLF
    if (input.size() - position_ < need) return ParseStatus::NeedMore;
    spans_.push_back({position_, static_cast<std::size_t>(bulkLength_)});
    position_ += need;
    bulkLength_ = -1;
    --pendingArgs_;
  }
  return complete(input, position_);
}

namespace {

// Reads "<prefix><length>\r\n" at `at`; returns false unless it is exactly
// that with a length of 0 or more.
bool peekHeader(std::string_view input, std::size_t& at, char prefix, std::size_t& value) {
  if (at >= input.size() || input[at] != prefix) return false;
  const std::size_t cr = input.find('\r', at);
  if (cr == std::string_view::npos || cr + 1 >= input.size() || input[cr + 1] != '\n') return false;
  long long length;
  if (!parseLength(input.substr(at + 1, cr - at - 1), length) || length < 0) return false;
  value = static_cast<std::size_t>(length);
  at = cr + 2;
  return true;
}

}  // namespace

Lookahead peekSecondArguments(std::string_view input, std::span<std::string_view> keys) {
  Lookahead found;
  std::size_t at = 0;
  for (std::size_t request = 0; request < keys.size(); ++request) {
    std::size_t count;
    // A long request (MSET of many keys) is where looking ahead costs more
    // than one prefetch can save: stop there.
    if (!peekHeader(input, at, '*', count) || count == 0 || count > kLookaheadMaxArguments) break;
    std::string_view second;
    for (std::size_t arg = 0; arg < count; ++arg) {
      std::size_t length;
      if (!peekHeader(input, at, '$', length) || input.size() - at < length + 2) return found;
      if (arg == 1) second = input.substr(at, length);
      at += length + 2;
    }
    if (count > 1) keys[found.keys++] = second;
    found.bytes = at;
  }
  return found;
}

bool splitInlineArgs(std::string_view line, std::vector<std::string>& out) {
  std::size_t i = 0;
  const std::size_t n = line.size();
  while (true) {
    while (i < n && isSpace(line[i])) ++i;
    if (i >= n) return true;
    std::string current;
    bool inDouble = false, inSingle = false, done = false;
    while (!done) {
      if (inDouble) {
        if (i >= n) return false;  // unterminated quotes
        if (line[i] == '\\' && i + 3 < n && line[i + 1] == 'x' && hexValue(line[i + 2]) >= 0 &&
            hexValue(line[i + 3]) >= 0) {
          current += static_cast<char>(hexValue(line[i + 2]) * 16 + hexValue(line[i + 3]));
          i += 3;
        } else if (line[i] == '\\' && i + 1 < n) {
          ++i;
          switch (line[i]) {
            case 'n': current += '\n'; break;
            case 'r': current += '\r'; break;
            case 't': current += '\t'; break;
            case 'b': current += '\b'; break;
            case 'a': current += '\a'; break;
            default: current += line[i]; break;
          }
        } else if (line[i] == '"') {
          // A closing quote must be followed by a space or the end.
          if (i + 1 < n && !isSpace(line[i + 1])) return false;
          done = true;
        } else {
          current += line[i];
        }
      } else if (inSingle) {
        if (i >= n) return false;
        if (line[i] == '\\' && i + 1 < n && line[i + 1] == '\'') {
          ++i;
          current += '\'';
        } else if (line[i] == '\'') {
          if (i + 1 < n && !isSpace(line[i + 1])) return false;
          done = true;
        } else {
          current += line[i];
        }
      } else {
        if (i >= n) {
          done = true;
          break;
        }
        switch (line[i]) {
          case ' ': case '\n': case '\r': case '\t': case '\0': done = true; break;
          case '"': inDouble = true; break;
          case '\'': inSingle = true; break;
          default: current += line[i]; break;
        }
      }
      if (i < n) ++i;
    }
    out.push_back(std::move(current));
  }
}

}  // namespace keyloop::resp
