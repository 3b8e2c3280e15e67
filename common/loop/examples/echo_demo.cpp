// keyloop-loop-demo: a TCP echo server on the loop, to try the loop by hand.
// Listens on 127.0.0.1:PORT (default 6379), echoes every byte back, prints the
// event-loop lag once a second, and exits cleanly on SIGINT/SIGTERM.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>

#include "common/loop/lag_monitor.h"

using namespace keyloop;

namespace {

struct Client {
  UniqueFd fd;
  std::unique_ptr<IoWatcher> io;
};

UniqueFd listenOn(std::uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd.get(), 511) != 0) {
    std::perror("keyloop-loop-demo: listen");
    std::exit(1);
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 6379);
  Loop loop;
  UniqueFd listener = listenOn(port);
  std::map<int, Client> clients;

  IoWatcher acceptor(loop, listener.get());
  acceptor.start(kReadable, [&](std::uint32_t) {
    UniqueFd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!conn) return;
    const int fd = conn.get();
    Client& client = clients[fd];
    client.fd = std::move(conn);
    client.io = std::make_unique<IoWatcher>(loop, fd);
    client.io->start(kReadable, [&, fd](std::uint32_t) {
      char buf[16384];
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0 && ::write(fd, buf, static_cast<std::size_t>(n)) == n) return;
      if (n < 0 && errno == EAGAIN) return;
      clients.erase(fd);  // destroys the watcher inside its own callback
    });
  });

  LagMonitor lag(loop);
  lag.start();
  Timer report(loop);
  report.unref();
  report.start(std::chrono::seconds(1), std::chrono::seconds(1), [&] {
    std::printf("clients=%zu lag p50=%.6fs p99=%.6fs max=%.6fs\n", clients.size(), lag.p50(),
                lag.p99(), lag.maxSeconds());
    std::fflush(stdout);
  });

  SignalWatcher signals(loop);
  signals.start({SIGINT, SIGTERM}, [&](int signo) {
    std::printf("signal %d: shutting down\n", signo);
    clients.clear();
    acceptor.stop();
    signals.stop();
  });
  std::printf("keyloop-loop-demo: echo server on 127.0.0.1:%u\n", port);
  std::fflush(stdout);
  loop.run();
  return 0;
}
