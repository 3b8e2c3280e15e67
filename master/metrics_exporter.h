// The Prometheus view of keyloop, built at scrape time: every metric family
// from the shared per-worker blocks (shared_metrics.h), the master's own
// counters, the kernel's view of each listening socket (TCP_INFO: accept
// queue length and its maximum) and of the host (/proc/net/netstat listen
// overflows and drops), and per-process CPU, memory and descriptors; then
// prometheus-cpp's text serializer writes the exposition.
//
// Names follow Prometheus conventions: keyloop_ prefix, base units
// (seconds, bytes), _total for counters; `worker` and `listener` labels.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/metrics/shared_metrics.h"

namespace keyloop {

struct ListenerView {
  int fd;               // a listening socket the master owns
  std::string address;  // "127.0.0.1:6379"
  int slot;             // the worker that accepts on it
};

struct MasterView {
  const metrics::SharedMetrics* workers = nullptr;
  int slots = 0;  // slots with a worker (serving or retiring): the ones exported
  std::vector<pid_t> workerPids;  // by slot; -1 while down
  std::vector<std::uint64_t> workerRestarts;  // by slot
  std::vector<ListenerView> listeners;
  std::uint64_t configGeneration = 1;
  std::uint64_t reloadsOk = 0, reloadsFailed = 0;
  double lastReloadSeconds = 0;     // the last successful reload, start to hand-over done
  double lastPauseSeconds = 0;      // of which clients' keyed commands were held
  std::uint64_t migratedKeys = 0;   // handed from one generation to the next, ever
  std::uint64_t drainingConnections = 0;  // still open on retiring workers
  std::vector<pid_t> retiringPids;  // workers of the retiring generation, by slot
  // Every reload step by name, and whether the master is in it now.
  std::vector<std::pair<std::string, bool>> reloadSteps;
  pid_t masterPid = 0;
};

// The whole /metrics body.
std::string renderMetrics(const MasterView& view);

// Queue length and maximum of a listening socket (TCP_INFO on a LISTEN
// socket: tcpi_unacked is the accept queue, tcpi_sacked its backlog).
struct AcceptQueue {
  std::uint32_t length = 0, max = 0;
};
AcceptQueue acceptQueueOf(int listenFd);

}  // namespace keyloop
