// Connections: a worker's clients. Accepts on the listening sockets the
// master opened (not owned), keeps the registry of open clients by id,
// enforces maxclients over all workers and the idle timeout, ends clients
// gracefully on a drain, and moves them between generations on a reload
// (handOverIdleClients on the retiring worker, adoptClient on the new one).
//
// A closed client is freed from the loop (deferred), never inside its own
// callback frame further up the stack.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/ipc/messages.h"
#include "common/log/log.h"
#include "common/loop/handles.h"
#include "worker/connection/client.h"
#include "worker/connection/request_runner.h"
#include "worker/execution/worker_stats.h"

namespace keyloop {

class Connections {
 public:
  using Registry = std::map<std::uint64_t, std::unique_ptr<Client>>;

  // `config` is the worker's, kept current by reloads.
  Connections(Loop& loop, const Config& config, Log& log, WorkerStats& stats, RequestRunner& runner);
  ~Connections();

  // The sockets to accept on (startAccepting watches them).
  void listenOn(const std::vector<int>& fds) { listenFds_ = fds; }
  void startAccepting();
  // Stops accepting, except on `keep` (sockets of a slot or address that
  // is going away: their queues are drained until this worker exits).
  void stopAccepting(const std::vector<int>& keep = {});
  // Accepts whatever waits on the sockets still watched; returns how many.
  std::size_t acceptQueued();
  // A reload's settings: open clients take new parser limits, the idle
  // timeout restarts.
  void applyConfig(bool newLimits);

  // Graceful stop (after stopAccepting): with `closeIdle`, each client is
  // finished once idle; a retired worker hands them over instead.
  void drain(bool closeIdle = true);
  // Ends every connection at its next request boundary: replies already
  // owed are delivered, then the connection is shut down gracefully.
  void finishClients();
  bool drained() const { return draining_ && clients_.empty(); }
  // Stops accepting and closes every client.
  void closeAll();

  // Passes every client at a request boundary to `send` (which returns
  // false if it could not take it); the ones taken are gone from here.
  void handOverIdleClients(const std::function<bool(int fd, const ipc::ClientState&)>& send);
  // A connection handed over by a retiring worker.
  void adoptClient(UniqueFd fd, const ipc::ClientState& state);

  Client* find(std::uint64_t id);
  void remove(std::uint64_t id);
  const Registry& all() const { return clients_; }
  // Open clients of every worker.
  std::uint64_t everywhere() const { return stats_.clientsEverywhere(clients_.size()); }
  // Calls the client's sendReleased() once the current loop callback is
  // done: forwarded replies arrive in batches (one channel drain), and one
  // send() per client per batch beats one per reply.
  void sendSoon(std::uint64_t clientId);

  // What clients use of their worker.
  Loop& loop() { return loop_; }
  const Config& config() const { return config_; }
  Log& log() { return log_; }
  ServerStats& counters() { return stats_.counters(); }
  void countPubsubDisconnect() {
    ++stats_.counters()[kPubsubDisconnects];
    metrics::bump(stats_.metrics().pubsubDisconnects);
  }
  RequestRunner& runner() { return runner_; }
  // Whether client `id`'s reply must wait for the append-only log (which
  // then lets it go: Client::logCaughtUp). Unset: replies never wait.
  using ReplyGate = std::function<bool(std::uint64_t id)>;
  void setReplyGate(ReplyGate gate) { replyGate_ = std::move(gate); }
  const ReplyGate& replyGate() const { return replyGate_; }
  // Scratch buffer every client reads into first (see Client::readAndExecute);
  // while a script keeps the worker busy, another one: the script's client
  // still parses from the first.
  std::string& sharedReadBuffer() { return busy_ ? busyReadBuffer_ : sharedReadBuffer_; }
  void setBusy(bool busy) { busy_ = busy; }
  // While a script waits for another worker (Server::waitInScript), no
  // client is read and nothing a client sent before runs.
  void pauseReading(bool paused);
  bool readingPaused() const { return readingPaused_; }
  // A client with requests read before the pause runs them after it.
  void resumeAfterPause(std::uint64_t id) { resumeAfterPause_.push_back(id); }

 private:
  void acceptFrom(int listenFd);
  void pauseAccepting(int error);
  void resumeAccepting();
  static constexpr std::chrono::milliseconds kAcceptPause{100};
  // `keptId`: the id a handed-over connection had (0: a new one).
  Client& add(UniqueFd fd, std::uint64_t keptId = 0);
  void armIdleTimeout();
  void closeIdleClients();
  // Closes connections that lingered (Client::finish) longer than kLinger.
  void closeLingerers();

  Loop& loop_;
  const Config& config_;
  Log& log_;
  WorkerStats& stats_;
  RequestRunner& runner_;
  std::vector<int> listenFds_;
  std::vector<std::unique_ptr<IoWatcher>> listeners_;
  Registry clients_;
  bool draining_ = false;
  Timer idleTimer_;
  Timer acceptPause_;  // accepting stopped after EMFILE and the like
  std::optional<TimePoint> lastAcceptWarning_;
  ReplyGate replyGate_;
  std::vector<std::uint64_t> toSend_;  // sendSoon's clients, in order
  std::string sharedReadBuffer_, busyReadBuffer_;
  bool busy_ = false;
  bool readingPaused_ = false;
  std::vector<std::uint64_t> resumeAfterPause_;
};

}  // namespace keyloop
