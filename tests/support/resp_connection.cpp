#include "tests/support/resp_connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace keyloop::test {

RespConnection::RespConnection(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("connect to port " + std::to_string(port) + " failed");
  }
  int one = 1;
  ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // A server that stops reading fails a test's send in seconds, never hangs it.
  timeval sendTimeout{30, 0};
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, sizeof sendTimeout);
}

std::string RespConnection::encode(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

void RespConnection::send(const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd_.get(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {  // the peer closed; the next read reports it
      if (n < 0 && (errno == ECONNRESET || errno == EPIPE)) end_ = End::Reset;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) throw std::runtime_error("send timed out: the server reads nothing");
      return;
    }
    sent += static_cast<std::size_t>(n);
  }
}

void RespConnection::sendCommand(const std::vector<std::string>& args) { send(encode(args)); }

std::string RespConnection::command(const std::vector<std::string>& args) {
  sendCommand(args);
  return readReply().value_or("<no reply>");
}

bool RespConnection::fill(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd_.get(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
  char chunk[65536];
  ssize_t n = ::read(fd_.get(), chunk, sizeof chunk);
  if (n == 0 && end_ == End::None) end_ = End::Closed;
  if (n < 0 && errno == ECONNRESET) end_ = End::Reset;
  if (n <= 0) return false;
  buffer_.append(chunk, static_cast<std::size_t>(n));
  return true;
}

std::optional<std::size_t> RespConnection::frame(const std::string& buffer_, std::size_t from) {
  if (from >= buffer_.size()) return std::nullopt;
  const std::size_t eol = buffer_.find("\r\n", from);
  if (eol == std::string::npos) return std::nullopt;
  const char type = buffer_[from];
  const std::string header = buffer_.substr(from + 1, eol - from - 1);
  const std::size_t afterHeader = eol + 2;
  switch (type) {
    case '+': case '-': case ':': case '_': case '#': case ',': case '(':
      return afterHeader - from;
    case '$': case '=': case '!': {
      const long long length = std::stoll(header);
      if (length < 0) return afterHeader - from;
      const std::size_t end = afterHeader + static_cast<std::size_t>(length) + 2;
      if (end > buffer_.size()) return std::nullopt;
      return end - from;
    }
    case '*': case '~': case '>': case '%': case '|': {
      long long count = std::stoll(header);
      if (count < 0) return afterHeader - from;
      if (type == '%' || type == '|') count *= 2;
      std::size_t at = afterHeader;
      for (long long i = 0; i < count; ++i) {
        auto len = frame(buffer_, at);
        if (!len) return std::nullopt;
        at += *len;
      }
      if (type == '|') {  // an attribute precedes the real reply
        auto len = frame(buffer_, at);
        if (!len) return std::nullopt;
        at += *len;
      }
      return at - from;
    }
    default:
      return eol + 2 - from;  // not RESP: hand back the line as is
  }
}

std::optional<std::string> RespConnection::readReply(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto length = frame(buffer_, 0)) {
      std::string reply = buffer_.substr(0, *length);
      buffer_.erase(0, *length);
      return reply;
    }
    if (!fill(deadline)) return std::nullopt;
  }
}

std::vector<std::string> RespConnection::elements(const std::string& reply) {
  std::vector<std::string> out;
  const std::size_t eol = reply.find("\r\n");
  if (reply.empty() || std::string("*~%>").find(reply[0]) == std::string::npos || eol == std::string::npos) {
    return out;
  }
  std::size_t at = eol + 2;
  while (at < reply.size()) {
    auto length = frame(reply, at);
    if (!length) break;
    out.push_back(reply.substr(at, *length));
    at += *length;
  }
  return out;
}

bool RespConnection::closedByPeer(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, 50) > 0) {
      char chunk[4096];
      ssize_t n = ::read(fd_.get(), chunk, sizeof chunk);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    }
  }
  return false;
}

std::optional<std::size_t> RespConnection::bytesUntilClosed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t received = buffer_.size();
  buffer_.clear();
  char chunk[65536];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::read(fd_.get(), chunk, sizeof chunk);
    if (n > 0) {
      received += static_cast<std::size_t>(n);
    } else if (n == 0 || errno == ECONNRESET) {
      end_ = n == 0 ? End::Closed : End::Reset;
      return received;
    }
  }
}

}  // namespace keyloop::test
