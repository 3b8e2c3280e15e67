// Server: a worker's whole job: accept clients on the listening sockets,
// run their commands against the store, expire keys, keep the counters that
// INFO reports.
//
// Single-threaded, on one Loop. Owns the clients (by id) and destroys a
// closed one only from the loop (deferred), never inside its own callback
// frame further up the stack.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/config/config.h"
#include "common/ipc/messages.h"
#include "common/log/log.h"
#include "common/loop/lag_monitor.h"
#include "common/loop/thread_pool.h"
#include "common/metrics/shared_metrics.h"
#include "worker/client.h"
#include "worker/key_locks.h"
#include "worker/router.h"
#include "worker/stats.h"
#include "worker/store.h"

namespace keyloop {

struct CommandSpec;
struct CommandContext;

// What HELLO and INFO report as redis_version: the Redis release whose
// replies keyloop reproduces byte for byte.
inline constexpr std::string_view kRedisCompatibleVersion = "7.0.15";
inline constexpr std::string_view kKeyloopVersion = KEYLOOP_VERSION;


class Server {
 public:
  Server(Loop& loop, Config config, Log& log);
  ~Server();

  // Starts serving; accepts on listening sockets opened by the master (not
  // owned) now, or only from startAccepting() (a reload's new worker waits
  // for its keys).
  void serve(const std::vector<int>& listenFds, bool acceptNow = true);
  void startAccepting();
  // A reload's settings (limits, auth, timeouts, expiry): the next checks
  // use them, and open clients take the new parser limits too.
  void applyConfig(const Config& next);
  // Graceful stop (after stopAccepting): with `closeIdle`, each client is
  // finished once idle; a retired worker hands them over instead
  // (handOverIdleClients).
  void drain(bool closeIdle = true);
  // Ends every connection at its next request boundary: replies already
  // owed are delivered, then the connection is shut down gracefully.
  void finishClients();
  // Closes connections that lingered (Client::finish) longer than kLinger.
  void closeLingerers();
  bool drained() const { return draining_ && clients_.empty(); }
  // Stops accepting and closes every client.
  void shutdown();

  // Runs one parsed request of `client` (the reply goes to its buffer).
  void execute(Client& client, std::span<const std::string_view> args);
  // Prefetches the keys of the next few whole requests in `pending` (a
  // pipeline); returns how many bytes of requests it looked at.
  std::size_t prefetchKeys(std::string_view pending);
  // Runs a command routed here (by a peer, or locally by fan-out); done()
  // gets the reply, later if the command's keys are locked (key_locks.h).
  void executeRouted(std::span<const std::string_view> args, resp::Protocol protocol, Router::Done done);
  void removeClient(std::uint64_t id);

  // Reload migration (migration.h). While holding, keyed commands of this
  // worker's clients wait in arrival order (their reply places kept);
  // with `routedToo`, so do requests from other workers. release() runs
  // everything that waited.
  void hold(bool routedToo);
  void release();
  bool holdingClients() const { return holdClients_; }
  void holdCommand(Task work) { held_.push_back(std::move(work)); }
  // Told of every write command this worker runs (a reload's copy phase
  // notes the keys it must send again).
  using WriteObserver = std::function<void(std::span<const std::string_view> args, const CommandSpec& spec)>;
  void setWriteObserver(WriteObserver observer) { writeObserver_ = std::move(observer); }
  // No request of ours is out at another worker and nothing waits for a
  // lock here: what the retiring side waits for before it tells its peers
  // it will send them nothing more.
  bool quiet() const;
  // Stops accepting, except on `keep` (sockets of a slot or address that
  // is going away: their queues are drained until this worker exits).
  void stopAccepting(const std::vector<int>& keep = {});
  // Accepts whatever waits on the sockets still watched; returns how many.
  std::size_t acceptQueued();
  // Passes every client at a request boundary to `send` (which returns
  // false if it could not take it); the ones taken are gone from here.
  void handOverIdleClients(const std::function<bool(int fd, const ipc::ClientState&)>& send);
  // A connection handed over by a retiring worker.
  void adoptClient(UniqueFd fd, const ipc::ClientState& state);
  Client* findClient(std::uint64_t id);
  // Calls the client's sendReleased() once the current loop callback is
  // done: forwarded replies arrive in batches (one channel drain), and one
  // send() per client per batch beats one per reply.
  void sendSoon(std::uint64_t clientId);
  void setRouter(Router* router) { router_ = router; }
  // This worker's block of the shared metrics (maxclients counts the
  // clients of all workers through them). Without one (a Server on its
  // own), metrics go to a private block.
  void setSharedMetrics(metrics::SharedMetrics* shared, int slot);
  metrics::WorkerMetrics& metrics() { return *metrics_; }
  // Open clients of every worker (this one's only without shared slots).
  std::uint64_t clientsEverywhere() const;
  Router* router() { return router_; }

  Loop& loop() { return loop_; }
  // Scratch buffer every client reads into first (see Client::readAndExecute).
  std::string& sharedReadBuffer() { return sharedReadBuffer_; }
  Log& log() { return log_; }
  Store& store() { return store_; }
  KeyLocks& locks() { return locks_; }
  const Config& config() const { return config_; }
  ServerStats& stats() { return stats_; }
  // The counters plus this worker's gauges (clients, keys, ...).
  ServerStats totals() const;
  const std::map<std::uint64_t, std::unique_ptr<Client>>& clients() const { return clients_; }
  const LagMonitor& lag() const { return lag_; }
  ThreadPool& threadPool() { return threadPool_; }
  TimePoint startedAt() const { return startedAt_; }
  // Reported as tcp_port in INFO.
  void setPort(std::uint16_t port) { port_ = port; }
  std::uint16_t port() const { return port_; }

 private:
  void acceptFrom(int listenFd);
  Client& addClient(UniqueFd fd);
  Task deferRouted(std::span<const std::string_view> args, resp::Protocol protocol, Router::Done done);
  // Runs a command's handler, and tells the write observer if it writes.
  void run(const CommandSpec& spec, CommandContext& ctx);
  void publishClientCount();
  void publishMetrics();
  // (Re)starts the expire and idle timers from config_ (serve, reload).
  void armTimers();
  void runExpireCycle();
  void closeIdleClients();

  Loop& loop_;
  Config config_;
  Log& log_;
  Store store_;
  KeyLocks locks_;
  ServerStats stats_{};
  std::vector<std::unique_ptr<IoWatcher>> listeners_;
  std::uint16_t port_ = 0;
  Router* router_ = nullptr;
  metrics::SharedMetrics* shared_ = nullptr;
  metrics::WorkerMetrics ownMetrics_;
  metrics::WorkerMetrics* metrics_ = &ownMetrics_;
  bool draining_ = false;
  bool holdClients_ = false, holdRouted_ = false;
  WriteObserver writeObserver_;
  std::vector<int> listenFds_;
  std::vector<Task> held_;
  std::map<std::uint64_t, std::unique_ptr<Client>> clients_;
  std::uint64_t nextClientId_ = 1;
  std::string sharedReadBuffer_;
  std::vector<std::uint64_t> toSend_;  // sendSoon's clients, in order
  std::string routedReply_;  // executeRouted's reply buffer, reused
  int routedDepth_ = 0;
  Timer expireTimer_;
  Timer idleTimer_;
  LagMonitor lag_;
  Check afterPoll_;
  Prepare beforePoll_;
  TimePoint iterationStart_{};
  Timer publishTimer_;
  std::uint64_t publishedExpired_ = 0, publishedForwarded_ = 0;
  ThreadPool threadPool_;
  TimePoint startedAt_;
};

// Unix time in milliseconds (the clock expiry times are kept in).
std::int64_t unixMillis();
// This process's resident set size, in bytes.
std::size_t residentBytes();
// Bytes malloc has handed out and not got back (INFO's used_memory).
std::size_t heapBytesInUse();

}  // namespace keyloop
