// The process boundary between the master and a worker it forks: what the
// master hands it (WorkerSetup) and the worker's entry point, runWorker
// (defined by worker/worker_process.cpp): the body of one worker process
// after fork: its own loop, its share of the keyspace, its links to the
// other workers, accepting on its own slot's listening sockets.
//
// SIGHUP: take the settings of a reload (Server::applyConfig).
// SIGTERM: stop at once. SIGINT: nothing (a terminal's Ctrl-C reaches the
// whole process group; the master saves, then sends SIGTERM). SIGQUIT:
// graceful: stop accepting, serve
// open clients until each is idle, keep answering peer workers until no
// worker has a client left, then exit (or at shutdown.drain_timeout: then
// each client is finished at its next request boundary, Client::finish).
//
// Control socket (from the master, ipc/control.h; every message is listed
// in ipc/messages.h): the worker says Serving once its loop runs and
// ConfigApplied for each settings reload; a reload that starts a new
// generation sends the retiring worker LinkNext (channels to each new
// worker) and HandOver (migration.h), which answers HandedOver and then
// passes its clients on (PassClient); a new worker adopts them
// (AdoptClient). RetireeGone and FinishClients are the exceptions: a
// retiring worker that died, a newer reload that needs this one gone.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/ipc/channel.h"
#include "common/ipc/shared_text.h"
#include "common/log/log.h"
#include "common/metrics/shared_metrics.h"

namespace keyloop {

// A worker's two channels with one peer worker.
struct ChannelLink {
  ipc::ChannelMemory* out = nullptr;  // this worker -> peer
  ipc::ChannelMemory* in = nullptr;   // peer -> this worker
};

struct WorkerSetup {
  int slot = 0;
  std::vector<int> listenFds;      // this slot's sockets, owned by the master
  std::vector<ChannelLink> links;  // one per worker, links[slot] unused
  // Workers of the retiring generation handing their keys to this one
  // (a reload's new worker); keyed commands wait until all have.
  std::vector<ChannelLink> guests;
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

// A worker that cannot load the data it starts from (a corrupt or
// unreadable snapshot file) exits with this code, having logged why; the
// master then stops rather than serve part of the keyspace.
inline constexpr int kExitDataRefused = 3;

int runWorker(const Config& config, const WorkerSetup& setup, Log& log);

}  // namespace keyloop
