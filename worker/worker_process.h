// runWorker: the body of one worker process after fork: its own loop, its
// share of the keyspace (Server + Store), its links to the other workers
// (Router), accepting on its own slot's listening sockets.
//
// SIGHUP: take the settings of a reload (Server::applyConfig).
// SIGTERM/SIGINT: stop at once. SIGQUIT: graceful: stop accepting, serve
// open clients until each is idle, keep answering peer workers until no
// worker has a client left, then exit (or at shutdown.drain_timeout: then
// each client is finished at its next request boundary, Client::finish).
//
// Control socket (from the master, ipc/control.h), for reloads that start
// a new generation of workers (migration.h):
//   'L' peer:i32 + 6 fds   the channels to worker `peer` of the next
//                          generation (out: memfd, data, space; in: same)
//   'G' workers:i32 keep:i32*  hand the keys over to the next generation
//                          (`workers` of them), keep accepting only on the
//                          listening sockets `keep` (they are going away),
//                          then drain and exit
//   'X' slot:i32           worker `slot` of the retiring generation died
//   'F'                    finish every client now (a newer reload needs
//                          this retiring worker gone)
//   'A' state + 1 fd       adopt a client connection a retiring worker
//                          handed over (Server::ClientState)
// and back to the master: 'D' keys:u64 took-ns:i64 held-ns:i64 when the
// keys are handed over; 'C' state + 1 fd for each client connection it hands over
// (the master passes it on to a new worker as 'A').
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/log/log.h"
#include "common/ipc/shared_text.h"
#include "common/metrics/shared_metrics.h"
#include "worker/router.h"

namespace keyloop {

struct WorkerSetup {
  int slot = 0;
  std::vector<int> listenFds;      // this slot's sockets, owned by the master
  std::vector<Router::Link> links;  // one per worker, links[slot] unused
  // Workers of the retiring generation handing their keys to this one
  // (a reload's new worker); keyed commands wait until all have.
  std::vector<Router::Link> guests;
  int handOvers = 0;                // how many of them still hand keys over (0 after a restart)
  int control = -1;                 // this worker's end of its control socket
  std::uint16_t port = 0;           // for INFO
  metrics::SharedMetrics* metrics = nullptr;  // every slot's metrics block
  int metricsIndex = 0;             // ours (SharedMetrics::indexOf)
  const ipc::SharedText* configText = nullptr;  // the config a reload hands over
  // Renames the process as `ps` shows it (once retired, like nginx's
  // "worker process is shutting down").
  std::function<void(const std::string&)> setTitle;
};

int runWorker(const Config& config, const WorkerSetup& setup, Log& log);

}  // namespace keyloop
