// RespConnection: a raw blocking TCP client that sends bytes and reads back
// exactly one RESP2/RESP3 reply, as raw bytes, so two servers' answers can
// be compared byte for byte.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/loop/unique_fd.h"

namespace keyloop::test {

class RespConnection {
 public:
  explicit RespConnection(std::uint16_t port);

  bool connected() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  void send(const std::string& bytes);
  // Sends one command as a multibulk request.
  void sendCommand(const std::vector<std::string>& args);
  // One whole reply, or nullopt on timeout or closed connection.
  std::optional<std::string> readReply(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::string command(const std::vector<std::string>& args);
  // True if the server closed the connection (reads EOF within timeout).
  bool closedByPeer(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Reads everything until the server closes the connection: how many
  // bytes came, or nullopt if it is still open at the deadline.
  std::optional<std::size_t> bytesUntilClosed(std::chrono::milliseconds timeout);
  // How the connection ended, if it did: an orderly close (FIN) or a reset.
  enum class End { None, Closed, Reset };
  End end() const { return end_; }

  static std::string encode(const std::vector<std::string>& args);
  // The raw frames of a reply's top-level aggregate (empty if not one).
  static std::vector<std::string> elements(const std::string& reply);

 private:
  bool fill(std::chrono::steady_clock::time_point deadline);
  // Length of one complete reply at buffer[from...], or nullopt if incomplete.
  static std::optional<std::size_t> frame(const std::string& buffer, std::size_t from);

  UniqueFd fd_;
  std::string buffer_;
  End end_ = End::None;
};

}  // namespace keyloop::test
