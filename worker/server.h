// Server: one worker's object graph, built in one place. It owns the store
// and the key locks, and composes the jobs of a worker:
//   Connections  accept, the client registry, drain, hand-over (connections.h)
//   Dispatch     execute requests here or the long way (dispatch.h)
//   WorkerStats  INFO counters and the shared metrics block (worker_stats.h)
// plus the expire cycle. It is also what command handlers see of their
// worker (WorkerServices): nothing else of it.
//
// Single-threaded, on one Loop.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "common/config/config.h"
#include "common/log/log.h"
#include "common/loop/thread_pool.h"
#include "common/metrics/shared_metrics.h"
#include "worker/dispatch/blocking.h"
#include "worker/connection/connections.h"
#include "worker/dispatch/dispatch.h"
#include "worker/routing/key_locks.h"
#include "worker/session/sessions.h"
#include "worker/worker_persistence.h"
#include "worker/session/monitors.h"
#include "worker/session/aof_waits.h"
#include "worker/session/tracking.h"
#include "worker/session/pubsub.h"
#include "worker/scripting/functions.h"
#include "worker/scripting/lua_engine.h"
#include "worker/scripting/script_run.h"
#include "worker/keyspace/databases.h"
#include "worker/keyspace/store.h"
#include "worker/execution/worker_services.h"
#include "worker/execution/worker_stats.h"

namespace keyloop {

class Server final : public WorkerServices {
 public:
  Server(Loop& loop, Config config, Log& log);
  ~Server() override;

  // Starts serving; accepts on listening sockets opened by the master (not
  // owned) now, or only from connections().startAccepting() (a reload's new
  // worker waits for its keys).
  void serve(const std::vector<int>& listenFds, bool acceptNow = true);
  // A reload's settings (limits, auth, timeouts, expiry): the next checks
  // use them, and open clients take the new parser limits too.
  void applyConfig(const Config& next) override;
  // Stops accepting, closes every client, stops the timers.
  void shutdown();

  void setRouter(Router* router) { dispatch_.setRouter(router); }
  // This worker's block of the shared metrics (maxclients counts the
  // clients of all workers through them). Without one (a Server on its
  // own), metrics go to a private block.
  void setSharedMetrics(metrics::SharedMetrics* shared, int index);
  // Reported as tcp_port in INFO.
  void setPort(std::uint16_t port) { port_ = port; }

  Connections& connections() { return connections_; }
  Dispatch& dispatch() { return dispatch_; }
  Databases& keyspaces() { return databases_; }
  Loop& loop() { return loop_; }

  // WorkerServices (what command handlers see):
  const Config& config() const override { return config_; }
  ServerStats& stats() override { return stats_.counters(); }
  Databases* databases() override { return &databases_; }
  KeyLocks& locks() override { return locks_; }
  ThreadPool& threadPool() override { return threadPool_; }
  TimePoint now() const override { return loop_.now(); }
  const std::map<std::uint64_t, std::unique_ptr<Client>>& clients() const override { return connections_.all(); }
  const LagMonitor& lag() const override { return stats_.lag(); }
  std::uint16_t port() const override { return port_; }
  TimePoint startedAt() const override { return startedAt_; }
  ServerStats totals() const override;
  const ring::Ring* ring() const override;
  int self() const override;
  Blocking* blocking() override { return &blocking_; }
  Watches* watches() override { return &dispatch_.watches(); }
  Channels* channels() override { return &channels_; }
  Monitors* monitors() override { return &monitors_; }
  Tracking* tracking() override { return &tracking_; }
  AofWaits* aofWaits() override { return &aofWaits_; }
  ClientPause* clientPause() override { return &dispatch_.clientPause(); }
  void feedMonitorsFromScript(const CommandSpec& spec, std::span<const std::string_view> args, int db) override {
    dispatch_.feedMonitors(nullptr, spec, args, db);
  }
  LuaEngine* lua() override { return &lua_; }
  ScriptCacheFigures scriptCache() const override { return {lua_.memoryBytes(), lua_.scripts()}; }
  FunctionLibraries* functions() override { return &functions_; }
  void runNested(const ResolvedCommand& command, CommandContext& ctx) override { dispatch_.runNested(command, ctx); }
  void postToPeers(std::span<const std::string_view> args) override;
  void publishEvent(std::string_view channel, std::string_view message) override;
  void setDebugSwitch(DebugSwitch which, bool on) override {
    (which == DebugSwitch::ActiveExpire ? activeExpire_ : denyScriptsDisabled_) = on;
  }
  bool denyScriptsDisabled() const override { return denyScriptsDisabled_; }
  void scriptStarted(ScriptCall* call) override;
  const ScriptCall* runningScript(long long* ms) const override;
  bool scriptShouldStop() override;
  Status killScript(bool eval) override;
  WorkerPersistence* persistence() override { return &persistence_; }
  const metrics::SnapshotStatus* snapshotStatus() const override { return stats_.snapshotStatus(); }
  metrics::AofStatus* aofStatus() const override { return stats_.aofStatus(); }
  metrics::WorkerMetrics& workerMetrics() { return stats_.metrics(); }
  Slowlog* slowlog() override { return &dispatch_.slowlog(); }
  WorkerStats* workerStats() override { return &stats_; }
  void noteChanges(std::uint64_t changes) override { metrics::bump(stats_.metrics().changes, changes); }
  std::uint64_t changesEverywhere() const override { return stats_.changesEverywhere(); }
  std::uint8_t busyScriptElsewhere() const override { return stats_.busyScriptElsewhere(); }
  bool waitInScript(const std::function<bool()>& done, const LockGrant& grants) override;
  std::string callPeerFromScript(int owner, std::span<const std::string_view> args, const LockGrant& grants,
                                 int db) override;
  void postPeerFromScript(int owner, std::span<const std::string_view> args, int db) override;
  void revokeLocks(std::span<const std::string_view> keys) override { dispatch_.revokeLocks(keys); }
  bool takeScriptReach(bool transaction) override { return stats_.takeScriptReach(transaction); }
  void queueForScriptReach(bool queued) override { stats_.queueForScriptReach(queued); }
  void releaseScriptReach(bool transaction) override;
  std::int64_t scriptReachHolder() const override { return stats_.scriptReachHolder(); }
  bool takeBarrier() override { return stats_.takeBarrier(); }
  void releaseBarrier() override { stats_.releaseBarrier(); }
  bool holdForBarrier() override;
  bool quietForBarrier() const override { return dispatch_.quiet() && locks_.empty(); }
  void endBarrierHold() override;
  void journalScratch(int db, Store& scratch, std::span<const std::string_view> keys, std::int64_t nowMs) override;
  // What INFO persistence says of the load at start.
  void noteLoaded(std::uint64_t keys, std::uint64_t expired);

 private:
  void armExpireCycle();
  void applyMemoryLimit();
  void runExpireCycle();

  Loop& loop_;
  Config config_;
  Log& log_;
  Databases databases_{config_.databases};
  KeyLocks locks_;
  WorkerStats stats_;
  // Dispatch before Connections: clients (in Connections) go first, and
  // their waits (Blocking) after them.
  Dispatch dispatch_;
  Sessions sessions_{dispatch_};  // before Connections: clients leave through it
  Blocking blocking_;
  Channels channels_{connections_};  // outlives the clients, who unsubscribe as they go
  Monitors monitors_{connections_, stats_};  // the same
  Tracking tracking_{loop_, connections_};   // the same
  AofWaits aofWaits_{dispatch_};
  LuaEngine lua_;
  FunctionLibraries functions_;
  ScriptCall* runningScript_ = nullptr;
  TimePoint scriptStarted_{};
  bool killRequested_ = false;
  // Clients are read and peers' requests run again (the script ended, or
  // -BUSY protects it now).
  void endScriptWait();
  bool scriptWaited_ = false;
  bool closeWhenScriptEnds_ = false;  // shutdown() came while a script ran  // the running script waited for another worker (waitInScript)
  LockGrant scriptGrants_;
  bool busy_ = false;  // past busy-reply-threshold: other clients get -BUSY
  bool activeExpire_ = true, denyScriptsDisabled_ = false;  // DEBUG's switches
  Connections connections_;
  Timer expireTimer_;
  int expireNextDb_ = 0;  // where the next expire cycle starts
  bool barrierHold_ = false;  // SWAPDB's barrier holds the clients' commands
  std::uint64_t startupMemory_ = 0;        // MEMORY STATS: used_memory once built
  mutable std::uint64_t peakMemory_ = 0;   // and the most seen by totals()
  ThreadPool threadPool_;
  WorkerPersistence persistence_{*this, log_};  // after the pool: its snapshot writes through it
  TimePoint startedAt_;
  std::uint16_t port_ = 0;
  std::uint64_t loadedKeys_ = 0, loadExpiredKeys_ = 0;
};

}  // namespace keyloop
