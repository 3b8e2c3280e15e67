// RequestParser: splits a client's query buffer into commands, incrementally.
//
// Both forms Redis accepts: multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`, what
// clients send) and inline (`GET k\r\n`, what a person types in telnet, with
// redis-cli's quoting rules). Input may arrive split anywhere: the parser
// keeps its progress (arguments found so far, the bulk length it waits for)
// and never rescans what it has parsed. Errors carry Redis's exact
// `Protocol error: ...` text; after one the connection must be closed.
//
// Offsets, not pointers, are kept across calls, so the caller may grow (move)
// its buffer between calls as long as the bytes of the current request stay
// at the start of what it passes in.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keyloop::resp {

struct ParserLimits {
  std::size_t maxBulkLength = 512ull * 1024 * 1024;  // proto-max-bulk-len
  std::size_t maxInlineLength = 64 * 1024;           // PROTO_INLINE_MAX_SIZE
};

enum class ParseStatus {
  Complete,  // args() holds one request (possibly empty: skip it); consumed() its size
  NeedMore,  // call again with the same start and more bytes
  Error,     // error() holds the reply text (without "-ERR "); close after replying
};

class RequestParser {
 public:
  explicit RequestParser(ParserLimits limits = {}) : limits_(limits) {}

  ParseStatus parse(std::string_view input);
  // New limits apply from the next length line read.
  void setLimits(ParserLimits limits) { limits_ = limits; }

  // Valid after Complete, until the next parse() call.
  const std::vector<std::string_view>& args() const { return args_; }
  std::size_t consumed() const { return consumed_; }
  const std::string& error() const { return error_; }

 private:
  ParseStatus parseInline(std::string_view input);
  ParseStatus parseMultibulk(std::string_view input);
  ParseStatus fail(std::string message);
  ParseStatus complete(std::string_view input, std::size_t size);
  void reset();

  ParserLimits limits_;
  // Progress through the current multibulk request.
  long long pendingArgs_ = -1;  // -1: count line not read yet
  long long bulkLength_ = -1;   // -1: length line of the next bulk not read yet
  std::size_t position_ = 0;    // bytes of the request already parsed
  struct Span {
    std::size_t offset, length;
  };
  std::vector<Span> spans_;
  // Inline arguments are unquoted copies, so they are stored, not referenced.
  std::vector<std::string> inlineArgs_;

  std::vector<std::string_view> args_;
  std::size_t consumed_ = 0;
  std::string error_;
};

// A look-ahead that parses nothing for real: for each whole multibulk request
// at the start of `input` (at most keys.size() of them) it stores its second
// argument (a key, for most commands) in `keys`. It stops at the first
// request that is inline, incomplete, longer than kLookaheadMaxArguments or
// has anything unusual in it; parse() is what judges those. Used to
// prefetch the keys a pipeline will touch.
constexpr std::size_t kLookaheadMaxArguments = 4;
struct Lookahead {
  std::size_t keys = 0;   // entries of `keys` filled
  std::size_t bytes = 0;  // length of the whole requests looked at
};
Lookahead peekSecondArguments(std::string_view input, std::span<std::string_view> keys);

// Splits one inline line like redis-cli / sdssplitargs: whitespace separates,
// "double quotes" take \n \r \t \b \a \\ \" and \xHH escapes, 'single quotes'
// take only \'. Returns false on unbalanced quotes (or a closing quote that is
// not followed by whitespace).
bool splitInlineArgs(std::string_view line, std::vector<std::string>& out);

}  // namespace keyloop::resp
