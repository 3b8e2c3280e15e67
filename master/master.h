// Master: owns what outlives workers: the listening sockets (one per listen
// entry per worker slot, SO_REUSEPORT), the inter-worker channels, the
// pidfile. Forks one worker per slot, restarts a worker that dies (at once,
// then with exponential backoff while it keeps dying), and turns signals
// into actions from its own loop (signalfd: no work in handlers):
//   SIGTERM, SIGINT  fast shutdown: workers get SIGTERM, master exits last
//   SIGQUIT          graceful: workers drain (see worker_process.h)
//   SIGHUP           reload the config file (reload() below)
//   SIGCHLD          reap and restart
// Workers die with the master (PR_SET_PDEATHSIG): no orphans.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/ipc/channel.h"
#include "common/ipc/shared_text.h"
#include "common/metrics/shared_metrics.h"
#include "common/log/log.h"
#include "common/loop/handles.h"
#include "common/net/listener.h"
#include "master/metrics_exporter.h"
#include "master/metrics_http.h"

namespace keyloop {

class Master {
 public:
  Master(Config config, Log& log);
  ~Master();

  // Returns the process exit code.
  int run();

 private:
  struct Slot {
    pid_t pid = -1;
    TimePoint startedAt{};
    int quickDeaths = 0;
    std::unique_ptr<Timer> restart;
    std::uint64_t restarts = 0;  // keyloop_worker_restarts_total
  };

  std::string openSockets();
  // SIGHUP: re-reads and validates the file. Invalid: nothing changes, the
  // error (file:line:column) is logged and answered. Valid: settings that
  // running workers can take (limits, requirepass, timeout, expiry, log
  // level, drain_timeout) go to them through shared memory and SIGHUP;
  // settings that need new workers (listen, workers, cpu_affinity,
  // thread_pool, metrics, pidfile, log file) are refused by name, since
  // starting a new generation of workers is not built yet.
  void reload();
  void answerReload(bool ok, const std::string& text);
  // Answers the reload once every running worker applied text `version`.
  void awaitWorkers(std::uint64_t version, std::string answer);
  void checkReady();
  std::string statusLine() const;
  std::string startMetrics();
  MasterView metricsView() const;
  void spawn(int slot);
  [[noreturn]] void becomeWorker(int slot);
  void onSignal(int signo);
  void reapChildren();
  void scheduleRestart(int slot);
  void signalWorkers(int signo);
  bool anyWorkerAlive() const;

  Config config_;
  Log& log_;
  Loop loop_;
  SignalWatcher signals_;
  Timer forceStop_;
  pid_t masterPid_;
  int workers_;
  std::vector<std::vector<OpenedListener>> listeners_;  // [slot][listen entry]
  std::vector<std::unique_ptr<ipc::ChannelMemory>> channels_;  // [from * workers + to]
  std::unique_ptr<metrics::SharedMetrics> metrics_;  // one block per worker slot
  std::vector<Slot> slots_;
  std::unique_ptr<MetricsHttp> metricsHttp_;
  std::unique_ptr<ipc::SharedText> configText_;  // what reload hands to workers
  Timer readyCheck_, statusTimer_, reloadWait_;
  bool reloading_ = false, reloadAgain_ = false;  // a SIGHUP during a reload runs it again after
  bool ready_ = false;
  std::uint64_t generation_ = 1, reloadsOk_ = 0, reloadsFailed_ = 0;
  bool stopping_ = false;
};

}  // namespace keyloop
