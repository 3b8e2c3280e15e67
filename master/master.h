// Master: owns what outlives workers: the listening sockets (one per listen
// entry per worker slot, SO_REUSEPORT), the inter-worker channels, the
// pidfile. Forks one worker per slot, restarts a worker that dies (at once,
// then with exponential backoff while it keeps dying), and turns signals
// into actions from its own loop (signalfd: no work in handlers):
//   SIGTERM, SIGINT  fast shutdown: workers get SIGTERM, master exits last
//   SIGQUIT          graceful: workers drain (see worker_process.h)
//   SIGHUP           reload the config file (reload() below); a reload
//                    that changes the workers starts a new generation
//                    and hands the keys over to it (migration.h)
//   SIGCHLD          reap and restart
// Workers die with the master (PR_SET_PDEATHSIG): no orphans.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/ipc/channel.h"
#include "common/ipc/control.h"
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
    UniqueFd control;            // the master's end of the worker's control socket
  };
  // A worker of the generation a reload replaced: it hands its keys over,
  // then serves its open connections (forwarding) until they end.
  struct Retiree {
    pid_t pid = -1;
    int slot = 0;
    UniqueFd control;
    bool handedOver = false;
    std::unique_ptr<IoWatcher> messages;  // its control socket: 'D' and 'C' (worker_process.h)
  };

  std::string openSockets();
  // The channels between every two of the workers_ serving workers.
  void makeChannels();
  // Between retiring worker `old` and new worker `fresh`, one direction.
  ipc::ChannelMemory* guestChannel(int old, int fresh, bool toNew) const;
  // SIGHUP: re-reads and validates the file. Invalid: nothing changes, the
  // error (file:line:column) is logged and answered. Valid: settings that
  // running workers can take (limits, requirepass, timeout, expiry, log
  // level, drain_timeout) go to them through shared memory and SIGHUP;
  // settings that need new workers (listen, workers, cpu_affinity,
  // thread_pool, log file, metrics on/off) start a new generation
  // (startGeneration); the metrics listener moves in the master; the
  // pidfile needs a restart and is refused by name.
  void reload();
  // Forks generation g+1 on the same listening sockets (plus new ones),
  // links it to generation g, and tells g to hand its keys over and drain.
  // Waits first for an older retiring generation to be gone.
  void startGeneration(Config next, std::string text);
  std::string openGenerationSockets(const Config& next, int workers,
                                    std::vector<std::vector<OpenedListener>>& sockets,
                                    std::vector<ListenConfig>& resolved);
  void answerReload(bool ok, const std::string& text);
  // Answers the reload once every running worker applied text `version`.
  void awaitWorkers(std::uint64_t version, std::string answer);
  // Answers a new-generation reload once it serves and has every key.
  void awaitHandOver(TimePoint started);
  // Reads a retiree's messages: its keys are handed over ('D'), or a
  // client connection to pass on to a new worker ('C').
  void readRetiree(Retiree& retiree);
  void retireeGone(std::size_t index);
  void checkReady();
  std::string statusLine() const;
  // Opens `config`'s metrics listener (or closes it if disabled).
  std::string startMetrics(const Config& config);
  MasterView metricsView() const;
  int metricsIndex(int slot) const { return metrics::SharedMetrics::indexOf(bank_, slot); }
  void spawn(int slot, int handOvers = 0);
  // Empties a dead worker's incoming channels before its replacement starts.
  void discardInbox(int slot);
  [[noreturn]] void becomeWorker(int slot, int handOvers, UniqueFd control);
  void onSignal(int signo);
  void reapChildren();
  void scheduleRestart(int slot);
  void signalWorkers(int signo, bool retireesToo = true);
  bool anyWorkerAlive() const;

  Config config_;
  Log& log_;
  Loop loop_;
  SignalWatcher signals_;
  Timer forceStop_;
  pid_t masterPid_;
  int workers_;
  std::vector<std::vector<OpenedListener>> listeners_;  // [slot][listen entry]
  std::vector<ListenConfig> listening_;  // config_.listen with the ports actually bound
  std::vector<std::unique_ptr<ipc::ChannelMemory>> channels_;  // [from * workers + to]
  std::unique_ptr<metrics::SharedMetrics> metrics_;  // one block per worker slot and bank
  int bank_ = 0;  // the serving generation's bank of metrics blocks
  std::vector<Slot> slots_;
  // The retiring generation, the channels it shares with the serving one
  // ([old * workers + new]: old -> new, then new -> old), and the sockets
  // that go away with it (closed last slot first once it is gone).
  std::vector<Retiree> retirees_;
  std::vector<std::unique_ptr<ipc::ChannelMemory>> guestChannels_;
  int retiringWorkers_ = 0;
  std::vector<std::pair<int, OpenedListener>> retiringListeners_;  // (slot, socket)
  std::uint64_t migratedKeys_ = 0;
  std::size_t nextAdopter_ = 0;  // round robin over the new workers
  double lastReloadSeconds_ = 0;
  double lastPauseSeconds_ = 0;  // the longest a retiring worker held its clients in the last reload
  std::vector<int> steerWhenHandedOver_;  // groups that grow: steered to every new slot at the end
  Timer retireeWait_;
  std::unique_ptr<MetricsHttp> metricsHttp_;
  std::unique_ptr<ipc::SharedText> configText_;  // what reload hands to workers
  Timer readyCheck_, statusTimer_, reloadWait_;
  bool reloading_ = false, reloadAgain_ = false;  // a SIGHUP during a reload runs it again after
  bool ready_ = false;
  std::uint64_t generation_ = 1, reloadsOk_ = 0, reloadsFailed_ = 0;
  bool stopping_ = false;
};

}  // namespace keyloop
