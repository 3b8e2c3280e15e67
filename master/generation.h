// Generation: everything one configuration needs to run, as one object
// (nginx's cycle): the config, the listening sockets of every worker slot,
// the channels between its workers, the links from the generation it
// replaces, its bank of metrics blocks and its worker slots.
//
// Generation::open(config, old) builds all of it before anything changes:
// a listen entry `old` has keeps its sockets (duplicated, so their queues
// carry over), new entries and new slots get sockets of their own, and
// every descriptor the workers will need (channels, control sockets) is
// made here. Any refusal (EMFILE, ENFILE, ENOMEM, EADDRINUSE) is returned
// as a message; the half-built generation is simply dropped, closing what
// it had opened, and `old` serves on untouched. Only a built generation
// is ever forked (Master::startGeneration).
//
// Lifetime: the master holds the serving generation and, during a reload,
// the retiring one; a retiring generation is destroyed once its last
// worker is gone, closing its sockets last slot first (a SO_REUSEPORT
// group fills a closed socket's place with its last one, so this keeps
// the remaining sockets in slot order).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "common/config/config.h"
#include "common/ipc/channel.h"
#include "common/loop/handles.h"
#include "common/net/listener.h"
#include "common/result/result.h"

namespace keyloop {

// One worker of a generation, as the master sees it.
struct WorkerSlot {
  pid_t pid = -1;
  TimePoint startedAt{};
  int quickDeaths = 0;             // deaths soon after start, for the backoff
  std::unique_ptr<Timer> restart;  // a pending restart
  std::uint64_t restarts = 0;      // keyloop_worker_restarts_total
  UniqueFd control;                // the master's end of the worker's control socket
  UniqueFd workerEnd;              // the worker's end, until it is forked
  std::unique_ptr<IoWatcher> messages;  // reads `control` (ipc/messages.h)
  bool serving = false;            // said it serves (ready for systemd)
  std::uint64_t configVersion = 0;  // the last published config it applied
  bool handedOver = false;         // retiring: its keys are with the next generation
};

class Generation {
 public:
  using Opened = Result<std::unique_ptr<Generation>>;
  // `old` is the serving generation a reload replaces, or null at start.
  static Opened open(const Config& config, const Generation* old);
  ~Generation();
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  const Config& config() const { return config_; }
  // A settings reload: running workers took `next` (same sockets, same workers).
  void updateSettings(Config next) { config_ = std::move(next); }
  int workers() const { return static_cast<int>(slots_.size()); }
  // This generation's bank of metrics blocks (SharedMetrics): a retiring
  // generation keeps writing to its own while the next one starts.
  int bank() const { return bank_; }
  // Workers of the generation this one replaces (0: none, or gone).
  int guests() const { return guests_; }

  WorkerSlot& slot(int index) { return slots_[static_cast<std::size_t>(index)]; }
  const WorkerSlot& slot(int index) const { return slots_[static_cast<std::size_t>(index)]; }
  std::vector<WorkerSlot>& slots() { return slots_; }
  const std::vector<WorkerSlot>& slots() const { return slots_; }
  // [slot][listen entry], then (cluster.enabled) the slot's own cluster port
  std::vector<std::vector<OpenedListener>>& listeners() { return listeners_; }
  const std::vector<std::vector<OpenedListener>>& listeners() const { return listeners_; }
  bool hasClusterSocket(int slot) const {
    return config_.cluster.enabled && slot < workers() &&
           listeners_[static_cast<std::size_t>(slot)].size() > listening_.size();
  }
  // Where worker `slot` serves as a cluster node.
  ListenConfig clusterListen(int slot) const;
  // config().listen with the ports actually bound (port 0 resolved).
  const std::vector<ListenConfig>& listening() const { return listening_; }

  // From worker `from` to worker `to` of this generation.
  ipc::ChannelMemory* channel(int from, int to) const;
  // Between worker `old` of the replaced generation and worker `fresh` of
  // this one; `toNew` picks the direction.
  ipc::ChannelMemory* guestChannel(int old, int fresh, bool toNew) const;
  // A restart: a new control socket for `slot` (the old one went with the
  // dead worker). Or why not.
  Status renewControl(int slot);
  // The replaced generation is gone: the links to it go too.
  void dropGuests();
  // Empties worker `slot`'s incoming channels (its replacement must not
  // read what may have killed it).
  void discardInbox(int slot);

  bool anyAlive() const;

 private:
  Generation(const Config& config, int bank);
  Status openSockets(const Generation* old);
  Status openClusterSockets(const Generation* old);
  Status makeChannels(int guests);

  Config config_;
  int bank_;
  int guests_ = 0;
  std::vector<WorkerSlot> slots_;
  std::vector<std::vector<OpenedListener>> listeners_;
  std::vector<ListenConfig> listening_;
  std::vector<std::unique_ptr<ipc::ChannelMemory>> channels_;  // [from * workers + to]
  // [old * workers + new]: old -> new, then new -> old
  std::vector<std::unique_ptr<ipc::ChannelMemory>> guestChannels_;
};

// `workers` of a config: the number, or one per online CPU for `auto`.
int workerCount(const Config& config);
bool sameListen(const ListenConfig& a, const ListenConfig& b);

}  // namespace keyloop
