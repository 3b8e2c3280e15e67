// RequestRunner: what the connection layer asks of the layer that runs
// commands. Dispatch implements it (worker/dispatch/dispatch.h), so that
// connections include nothing above them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keyloop {

class Client;

class RequestRunner {
 public:
  // Runs one parsed request of `client` (the reply goes to its buffer, or
  // later in order when it takes the long way).
  virtual void execute(Client& client, std::span<const std::string_view> args) = 0;
  // Prefetches the keys of the next few whole requests in `pending` (a
  // pipeline); returns how many bytes of requests it looked at.
  virtual std::size_t prefetchKeys(std::string_view pending, int db) = 0;
  // Whether the client waits in a blocking command (BLPOP...).
  virtual bool blocked(std::uint64_t clientId) const = 0;
  // Its session ends here: watches and subscriptions go, and a wait.
  virtual void clientGone(std::uint64_t clientId) = 0;
  // A waiting client's request, taken back so that it runs again where the
  // connection goes next (a reload's hand-over); nullopt if it waits for none.
  virtual std::optional<std::string> releaseBlocked(std::uint64_t clientId) = 0;
  // A handed-over connection's subscriptions (pubsub.h).
  virtual void resubscribe(Client& client, std::span<const std::vector<std::string>> subscriptions) = 0;
  // Its CLIENT TRACKING mode as a hand-over carries it, and a handed-over
  // connection's mode taken up again (session/tracking.h).
  virtual std::string trackingState(const Client& client) const = 0;
  virtual void resumeTracking(Client& client, std::string_view state) = 0;

 protected:
  ~RequestRunner() = default;
};

}  // namespace keyloop
