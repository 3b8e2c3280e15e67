// runWorker: the body of one worker process after fork: its own loop, its
// share of the keyspace (Server + Store), its links to the other workers
// (Router), accepting on its own slot's listening sockets.
//
// SIGHUP: take the settings of a reload (Server::applyConfig).
// SIGTERM/SIGINT: stop at once. SIGQUIT: graceful: stop accepting, serve
// open clients until each is idle, keep answering peer workers until no
// worker has a client left, then exit (or at shutdown.drain_timeout).
#pragma once

#include <cstdint>
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
  std::uint16_t port = 0;           // for INFO
  metrics::SharedMetrics* metrics = nullptr;  // every slot's metrics block
  const ipc::SharedText* configText = nullptr;  // the config a reload hands over
};

int runWorker(const Config& config, const WorkerSetup& setup, Log& log);

}  // namespace keyloop
