#include "master/metrics_http.h"

#include <sys/socket.h>

#include <cerrno>

namespace keyloop {

struct MetricsHttp::Connection {
  Connection(Loop& loop, UniqueFd socket) : fd(std::move(socket)), watcher(loop, fd.get()), openedAt(loop.now()) {}
  UniqueFd fd;
  IoWatcher watcher;
  TimePoint openedAt;
  std::string head;
};

RequestLine parseRequestLine(std::string_view head) {
  const std::size_t eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  const std::size_t space1 = line.find(' ');
  const std::size_t space2 = space1 == std::string_view::npos ? space1 : line.find(' ', space1 + 1);
  if (space1 == 0 || space2 == std::string_view::npos || space2 == space1 + 1) return {};
  const std::string_view version = line.substr(space2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return {};
  RequestLine r{std::string(line.substr(0, space1)), std::string(line.substr(space1 + 1, space2 - space1 - 1))};
  // The query string does not select anything here.
  if (const std::size_t q = r.target.find('?'); q != std::string::npos) r.target.resize(q);
  return r;
}

MetricsHttp::MetricsHttp(Loop& loop, UniqueFd listenFd, Render metrics, Render health)
    : loop_(loop),
      listenFd_(std::move(listenFd)),
      listenWatcher_(loop, listenFd_.get()),
      metrics_(std::move(metrics)),
      health_(std::move(health)),
      timeouts_(loop) {
  listenWatcher_.unref();  // serving metrics never keeps the master alive by itself
  listenWatcher_.start(kReadable, [this](std::uint32_t) { accept(); });
  timeouts_.unref();
  timeouts_.start(std::chrono::seconds(1), std::chrono::seconds(1), [this] { closeSlow(); });
}

MetricsHttp::~MetricsHttp() = default;

void MetricsHttp::accept() {
  for (int i = 0; i < 16; ++i) {
    UniqueFd fd(::accept4(listenFd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) return;
    if (connections_.size() >= kMaxConnections) continue;  // closed by UniqueFd
    const int raw = fd.get();
    auto c = std::make_unique<Connection>(loop_, std::move(fd));
    c->watcher.unref();
    c->watcher.start(kReadable, [this, conn = c.get()](std::uint32_t) { onReadable(*conn); });
    connections_.emplace(raw, std::move(c));
  }
}

void MetricsHttp::onReadable(Connection& c) {
  char chunk[2048];
  const ssize_t n = ::recv(c.fd.get(), chunk, sizeof chunk, 0);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return close(c.fd.get());
  if (n < 0) return;
  c.head.append(chunk, static_cast<std::size_t>(n));
  const std::size_t end = c.head.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (c.head.size() > kMaxRequestHead) respond(c, "400 Bad Request", "text/plain", "request head too large\n");
    return;
  }
  const RequestLine request = parseRequestLine(c.head);
  if (request.method.empty()) return respond(c, "400 Bad Request", "text/plain", "malformed request\n");
  if (request.method != "GET" && request.method != "HEAD") {
    return respond(c, "405 Method Not Allowed", "text/plain", "only GET\n");
  }
  if (request.target == "/metrics") {
    return respond(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", metrics_());
  }
  if (request.target == "/healthz") return respond(c, "200 OK", "text/plain", health_());
  respond(c, "404 Not Found", "text/plain", "try /metrics or /healthz\n");
}

void MetricsHttp::respond(Connection& c, std::string_view status, std::string_view contentType,
                          const std::string& body) {
  std::string response = "HTTP/1.1 " + std::string(status) + "\r\nContent-Type: " + std::string(contentType) +
                         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  if (c.head.rfind("HEAD ", 0) != 0) response += body;
  // A scrape is a few tens of KB: the socket buffer takes it whole. If a
  // client's window is full anyway, it gets what fits; never block.
  ssize_t ignored = ::send(c.fd.get(), response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)ignored;
  ::shutdown(c.fd.get(), SHUT_WR);
  close(c.fd.get());
}

void MetricsHttp::close(int fd) { connections_.erase(fd); }

void MetricsHttp::closeSlow() {
  std::vector<int> slow;
  for (const auto& [fd, c] : connections_) {
    if (loop_.now() - c->openedAt > kRequestTimeout) slow.push_back(fd);
  }
  for (int fd : slow) close(fd);
}

}  // namespace keyloop
