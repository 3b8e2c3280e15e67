// Server: a worker's whole job: accept clients on the listening sockets,
// run their commands against the store, expire keys, keep the counters that
// INFO reports.
//
// Single-threaded, on one Loop. Owns the clients (by id) and destroys a
// closed one only from the loop (deferred), never inside its own callback
// frame further up the stack.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/config/config.h"
#include "common/log/log.h"
#include "common/loop/lag_monitor.h"
#include "common/loop/thread_pool.h"
#include "worker/client.h"
#include "worker/store.h"

namespace keyloop {

// What HELLO and INFO report as redis_version: the Redis release whose
// replies keyloop reproduces byte for byte.
inline constexpr std::string_view kRedisCompatibleVersion = "7.0.15";
inline constexpr std::string_view kKeyloopVersion = KEYLOOP_VERSION;

struct ServerStats {
  std::uint64_t connectionsReceived = 0;
  std::uint64_t connectionsRejected = 0;
  std::uint64_t commandsProcessed = 0;
  std::uint64_t commandErrors = 0;
  std::uint64_t keyspaceHits = 0;
  std::uint64_t keyspaceMisses = 0;
  std::uint64_t netInputBytes = 0;
  std::uint64_t netOutputBytes = 0;
};

class Server {
 public:
  Server(Loop& loop, Config config, Log& log);
  ~Server();

  // Opens the listening sockets; returns an error message, or "" on success.
  std::string listen();
  // Stops accepting and closes every client.
  void shutdown();

  // Runs one parsed request of `client` (the reply goes to its buffer).
  void execute(Client& client, std::span<const std::string_view> args);
  void removeClient(std::uint64_t id);

  Loop& loop() { return loop_; }
  // Scratch buffer every client reads into first (see Client::readAndExecute).
  std::string& sharedReadBuffer() { return sharedReadBuffer_; }
  Log& log() { return log_; }
  Store& store() { return store_; }
  const Config& config() const { return config_; }
  ServerStats& stats() { return stats_; }
  const std::map<std::uint64_t, std::unique_ptr<Client>>& clients() const { return clients_; }
  const LagMonitor& lag() const { return lag_; }
  ThreadPool& threadPool() { return threadPool_; }
  TimePoint startedAt() const { return startedAt_; }
  const std::vector<std::uint16_t>& boundPorts() const { return boundPorts_; }

 private:
  struct Listener {
    UniqueFd fd;
    std::unique_ptr<IoWatcher> io;
  };
  void acceptFrom(Listener& listener);
  void runExpireCycle();
  void closeIdleClients();

  Loop& loop_;
  Config config_;
  Log& log_;
  Store store_;
  ServerStats stats_;
  std::vector<Listener> listeners_;
  std::vector<std::uint16_t> boundPorts_;
  std::map<std::uint64_t, std::unique_ptr<Client>> clients_;
  std::uint64_t nextClientId_ = 1;
  std::string sharedReadBuffer_;
  Timer expireTimer_;
  Timer idleTimer_;
  LagMonitor lag_;
  ThreadPool threadPool_;
  TimePoint startedAt_;
};

// Unix time in milliseconds (the clock expiry times are kept in).
std::int64_t unixMillis();

}  // namespace keyloop
