#include "tests/support/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>

#include "common/loop/unique_fd.h"

namespace keyloop::test {

std::string httpRaw(std::uint16_t port, const std::string& request) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
  timeval timeout{10, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return {};
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) < 0) return {};
  std::string response;
  char chunk[16384];
  ssize_t n;
  while ((n = ::recv(fd.get(), chunk, sizeof chunk, 0)) > 0) response.append(chunk, static_cast<std::size_t>(n));
  return response;
}

HttpResponse httpGet(std::uint16_t port, const std::string& target) {
  // HTTP/1.0: the answer is never chunked and ends when the server closes.
  const std::string raw = httpRaw(port, "GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  HttpResponse r;
  if (raw.rfind("HTTP/1.", 0) != 0 || raw.size() < 12) return r;
  r.status = std::atoi(raw.c_str() + 9);
  const std::size_t body = raw.find("\r\n\r\n");
  if (body != std::string::npos) r.body = raw.substr(body + 4);
  return r;
}

}  // namespace keyloop::test
