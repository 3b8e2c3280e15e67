// Master: owns what outlives workers: the listening sockets (one per listen
// entry per worker slot, SO_REUSEPORT), the inter-worker channels, the
// pidfile. Forks one worker per slot, restarts a worker that dies (at once,
// then with exponential backoff while it keeps dying), and turns signals
// into actions from its own loop (signalfd: no work in handlers):
//   SIGTERM, SIGINT  fast shutdown: workers get SIGTERM, master exits last
//   SIGQUIT          graceful: workers drain (see worker_process.h)
//   SIGCHLD          reap and restart
// Workers die with the master (PR_SET_PDEATHSIG): no orphans.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/ipc/channel.h"
#include "common/ipc/shared_slots.h"
#include "common/log/log.h"
#include "common/loop/handles.h"
#include "common/net/listener.h"

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
  };

  std::string openSockets();
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
  std::unique_ptr<ipc::SharedSlots> shared_;  // per-slot counters (maxclients)
  std::vector<Slot> slots_;
  bool stopping_ = false;
};

}  // namespace keyloop
