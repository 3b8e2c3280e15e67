// Listening sockets: opened by the master, one per listen entry per worker
// slot (SO_REUSEPORT), so each worker accepts on a socket of its own and a
// slot's queue outlives the worker that serves it.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "common/config/config.h"
#include "common/loop/unique_fd.h"
#include "common/result/result.h"

namespace keyloop {

struct OpenedListener {
  UniqueFd fd;
  std::uint16_t port;   // the bound port (differs from the config's when it is 0)
  std::string address;  // "127.0.0.1:6379", for logs
};

// Returns the socket (listening unless `listen` is false), or an error
// message naming the address.
Result<OpenedListener> openListener(const ListenConfig& config, bool reusePort, bool listen = true);
// Checks that no other socket holds the address (SO_REUSEPORT would not
// notice) and returns the port to use (the configured one, or a free one
// for port 0).
Result<std::uint16_t> claimPort(const ListenConfig& config);

// Steers the SO_REUSEPORT group `fd` belongs to: new connections go only
// to the group's first `sockets` sockets (in the order they started
// listening), chosen at random. A reload that retires slots calls this
// before draining their queues, so no connection lands where nobody will
// accept it.
Status steerToFirst(int fd, int sockets);

// "host:port" of a socket's local or peer address.
std::string socketAddress(int fd, bool peer);

}  // namespace keyloop
