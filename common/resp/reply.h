// Reply: encodes RESP2 or RESP3 replies into a connection's output buffer.
//
// One builder per protocol switch, not per reply: HELLO 3 flips `protocol`
// and the same calls produce RESP3 types (null `_`, map `%`, set `~`,
// verbatim `=`) where RESP2 has only bulk strings and arrays.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace keyloop::resp {

enum class Protocol { Resp2 = 2, Resp3 = 3 };

class Reply {
 public:
  explicit Reply(std::string& out, Protocol protocol = Protocol::Resp2)
      : out_(out), protocol_(protocol) {}

  Protocol protocol() const { return protocol_; }
  void setProtocol(Protocol p) { protocol_ = p; }

  void ok() { out_ += "+OK\r\n"; }
  void simple(std::string_view text);
  // `line` is the whole error without the leading '-', e.g. "ERR syntax error".
  void error(std::string_view line);
  // An error line as given (a script's own error table: Redis sends it as is).
  void errorVerbatim(std::string_view line);
  void integer(long long value);
  void bulk(std::string_view value);
  void null();       // missing value: $-1 / _
  void nullArray();  // missing array: *-1 / _
  void array(std::size_t count);
  void map(std::size_t pairs);  // RESP2: a flat array of 2*pairs
  void set(std::size_t count);  // RESP2: an array
  void verbatim(std::string_view text);  // RESP3 txt verbatim; RESP2 bulk
  void boolean(bool value);  // RESP3 #t/#f; RESP2 integer 1/0
  void push(std::size_t count);  // RESP3 >count (RESP2 too: only between workers)
  // A double given as text: RESP2 a bulk, RESP3 ",text".
  void doubleText(std::string_view text);
  // Redis 7.0's addReplyDouble: RESP2 a bulk of "%.17g" (inf, -inf); RESP3 a double.
  void doubleValue(double value);

  std::string& buffer() { return out_; }

  // How the reply written from offset `from` on began, as its writers
  // recorded it: the dispatcher learns that a command was refused or
  // changed nothing (DEL of a missing key answers 0) without parsing the
  // bytes back. markStart() forgets what earlier replies recorded.
  enum class Began : std::uint8_t { Other, Error, ZeroOrNull };
  void markStart() { errorAt_ = nothingAt_ = kNowhere; }
  Began beganWith(std::size_t from) const {
    if (errorAt_ == from) return Began::Error;
    return nothingAt_ == from ? Began::ZeroOrNull : Began::Other;
  }

 private:
  static constexpr std::size_t kNowhere = static_cast<std::size_t>(-1);
  void header(char type, std::size_t n);

  std::string& out_;
  Protocol protocol_;
  std::size_t errorAt_ = kNowhere, nothingAt_ = kNowhere;  // where the last error / 0 / null began
};

}  // namespace keyloop::resp
