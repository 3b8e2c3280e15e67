#include "common/net/listener.h"

#include <linux/filter.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace keyloop {

namespace {

std::string formatAddress(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (addr.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(addr);
    ::inet_ntop(AF_INET, &a.sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(a.sin_port));
  }
  const auto& a = reinterpret_cast<const sockaddr_in6&>(addr);
  ::inet_ntop(AF_INET6, &a.sin6_addr, host, sizeof host);
  return std::string(host) + ":" + std::to_string(ntohs(a.sin6_port));
}

std::uint16_t portOf(const sockaddr_storage& addr) {
  return ntohs(addr.ss_family == AF_INET ? reinterpret_cast<const sockaddr_in&>(addr).sin_port
                                         : reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
}

}  // namespace

std::string socketAddress(int fd, bool peer) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                : ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return rc == 0 ? formatAddress(addr) : "?:0";
}

Result<OpenedListener> openListener(const ListenConfig& l, bool reusePort, bool listen) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(l.port);
  if (int rc = ::getaddrinfo(l.address.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return fail("invalid listen address " + l.address + ": " + ::gai_strerror(rc));
  }
  UniqueFd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {  // EMFILE, ENFILE, ENOBUFS: said as such, not as a later call's errno
    const int error = errno;
    ::freeaddrinfo(found);
    return fail("could not open a socket for " + l.address + ":" + port + ": " + std::strerror(error));
  }
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reusePort) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (found->ai_family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  const bool ok = ::bind(fd.get(), found->ai_addr, found->ai_addrlen) == 0 &&
                  (!listen || ::listen(fd.get(), l.backlog) == 0);
  const int error = errno;
  ::freeaddrinfo(found);
  if (!ok) return fail("could not listen on " + l.address + ":" + port + ": " + std::strerror(error));
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len);
  return OpenedListener{std::move(fd), portOf(bound), formatAddress(bound)};
}

Result<std::uint16_t> claimPort(const ListenConfig& l) {
  // SO_REUSEPORT would let us join another server's group on the same port
  // (and silently split its traffic). A plain bind fails if anyone holds
  // the address, and for port 0 it picks the port the slots then share.
  auto probe = openListener(l, /*reusePort=*/false, /*listen=*/false);
  if (!probe) return fail(probe.error());
  return probe->port;
}

Status steerToFirst(int fd, int sockets) {
  // Classic BPF: a random number modulo the count is the socket's index in
  // the group (sockets join it in listen() order: our slot order).
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<std::uint32_t>(SKF_AD_OFF + SKF_AD_RANDOM)),
      BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, static_cast<std::uint32_t>(std::max(sockets, 1))),
      BPF_STMT(BPF_RET | BPF_A, 0),
  };
  sock_fprog program{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &program, sizeof program) != 0) {
    return fail(std::string("SO_ATTACH_REUSEPORT_CBPF: ") + std::strerror(errno));
  }
  return {};
}

}  // namespace keyloop
