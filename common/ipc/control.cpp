#include "common/ipc/control.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace keyloop::ipc {

namespace {
constexpr std::size_t kMaxBytes = 64 * 1024;
constexpr std::size_t kMaxFds = 16;
}  // namespace

Result<std::pair<UniqueFd, UniqueFd>> makeControlPair() {
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, ends) != 0) {
    return fail(std::string("socketpair: ") + std::strerror(errno));
  }
  return std::pair{UniqueFd(ends[0]), UniqueFd(ends[1])};
}

bool sendControl(int fd, std::string_view bytes, std::span<const int> fds) {
  if (fds.size() > kMaxFds || bytes.size() > kMaxBytes) return false;
  iovec io{const_cast<char*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &io;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char space[CMSG_SPACE(sizeof(int) * kMaxFds)];
  if (!fds.empty()) {
    msg.msg_control = space;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(bytes.size());
}

std::optional<ControlDatagram> receiveControl(int fd, bool& closed) {
  ControlDatagram message;
  message.bytes.resize(kMaxBytes);
  iovec io{message.bytes.data(), message.bytes.size()};
  msghdr msg{};
  msg.msg_iov = &io;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char space[CMSG_SPACE(sizeof(int) * kMaxFds)];
  msg.msg_control = space;
  msg.msg_controllen = sizeof space;
  ssize_t n;
  do {
    n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    closed = errno != EAGAIN && errno != EWOULDBLOCK;
    return std::nullopt;
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int received;
      std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      message.fds.emplace_back(received);
    }
  }
  if (n == 0) {  // SEQPACKET: a zero-length read is the peer's close
    closed = true;
    return std::nullopt;
  }
  message.bytes.resize(static_cast<std::size_t>(n));
  return message;
}

}  // namespace keyloop::ipc
