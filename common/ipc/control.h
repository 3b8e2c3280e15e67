// Control messages between the master and one worker: a SOCK_SEQPACKET
// socketpair made before fork (the master keeps one end, the worker the
// other). Each message is one datagram of bytes plus, optionally, open
// descriptors passed with SCM_RIGHTS: this is how a worker that is already
// running receives the channels to a generation forked after it (nginx's
// worker channel does the same). Small and rare: reloads only, never on a
// request's path.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/loop/unique_fd.h"
#include "common/result/result.h"

namespace keyloop::ipc {

struct ControlDatagram {
  std::string bytes;
  std::vector<UniqueFd> fds;
};

// Both ends, non-blocking and close-on-exec; or why not (EMFILE, ENFILE).
Result<std::pair<UniqueFd, UniqueFd>> makeControlPair();
// False if the peer is gone (or the socket buffer is full: messages are
// few and small, so that means the peer stopped reading).
bool sendControl(int fd, std::string_view bytes, std::span<const int> fds = {});
// The next message; nullopt when none is waiting. `closed` becomes true
// when the peer has closed its end.
std::optional<ControlDatagram> receiveControl(int fd, bool& closed);

}  // namespace keyloop::ipc
