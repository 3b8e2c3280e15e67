#include "common/resp/reply_reader.h"

#include <charconv>
#include <string>

namespace keyloop::resp {

namespace {
bool number(std::string_view text, long long& out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}
}  // namespace

std::size_t replyLength(std::string_view bytes) {
  const std::size_t eol = bytes.find("\r\n");
  if (bytes.empty() || eol == std::string_view::npos) return 0;
  const std::string_view header = bytes.substr(1, eol - 1);
  std::size_t at = eol + 2;
  long long n = 0;
  switch (bytes[0]) {
    case '$': case '=': case '!':
      if (!number(header, n)) return 0;
      if (n < 0) return at;
      at += static_cast<std::size_t>(n) + 2;
      return at <= bytes.size() ? at : 0;
    case '*': case '~': case '%': case '>': {
      if (!number(header, n)) return 0;
      if (bytes[0] == '%') n *= 2;
      for (long long i = 0; i < n; ++i) {
        const std::size_t len = replyLength(bytes.substr(at));
        if (len == 0) return 0;
        at += len;
      }
      return at;
    }
    default:
      return at;  // simple string, error, integer, null, boolean, double
  }
}

std::vector<std::string_view> replyElements(std::string_view reply) {
  std::vector<std::string_view> out;
  const std::size_t eol = reply.find("\r\n");
  if (reply.empty() || eol == std::string_view::npos) return out;
  std::size_t at = eol + 2;
  while (at < reply.size()) {
    const std::size_t len = replyLength(reply.substr(at));
    if (len == 0) break;
    out.push_back(reply.substr(at, len));
    at += len;
  }
  return out;
}

std::optional<long long> replyInteger(std::string_view reply) {
  long long n = 0;
  if (reply.size() < 3 || reply[0] != ':' || !number(reply.substr(1, reply.size() - 3), n)) return std::nullopt;
  return n;
}

std::optional<std::string_view> replyBulk(std::string_view reply) {
  const std::size_t eol = reply.find("\r\n");
  if (reply.empty() || (reply[0] != '$' && reply[0] != '=') || eol == std::string_view::npos) return std::nullopt;
  long long n = 0;
  if (!number(reply.substr(1, eol - 1), n) || n < 0) return std::nullopt;
  const std::string_view body = reply.substr(eol + 2, static_cast<std::size_t>(n));
  return reply[0] == '=' && body.size() >= 4 ? body.substr(4) : body;  // a verbatim's "txt:" goes
}

}  // namespace keyloop::resp
