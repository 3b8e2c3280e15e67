// Persistence: a worker's side of durability.
//   - At start, loadAtStart() reads the snapshot file (rdb/rdb_file.h) and
//     keeps the keys this worker owns: every worker reads the same file in
//     parallel, so a worker count that changed between runs is fine.
//   - WriteSnapshot from the master: its part of a snapshot (snapshot.h);
//     a final one (the server stops after it) holds writes first.
//   - SAVE, BGSAVE and SHUTDOWN of its clients go to the master
//     (SaveAsked), which answers each (SaveReply).
// LASTSAVE and INFO persistence read the master's status in shared
// memory (metrics::SnapshotStatus).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "common/config/config.h"
#include "common/ipc/messages.h"
#include "common/log/log.h"
#include "common/ring/ring.h"
#include "worker/snapshot.h"

namespace keyloop {

class Client;
class Server;

// Redis's shared.bgsaveerr, without the '-'.
inline constexpr std::string_view kDiskErrorRefusal =
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that "
    "may modify the data set are disabled, because this instance is configured to report errors during writes if RDB "
    "snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB "
    "error.";

class Persistence {
 public:
  using TellMaster = std::function<void(const ipc::ControlMessage&)>;

  Persistence(Server& server, Log& log);

  void setSlot(int slot, TellMaster tell) {
    slot_ = slot;
    tell_ = std::move(tell);
  }
  // The keys of the snapshot file that `owns` accepts go into the store;
  // the reason the file cannot be loaded, if so (no file: nothing to load).
  std::optional<std::string> loadAtStart(const std::function<bool(std::string_view key)>& owns);
  // Snapshot messages from the master; false if not one.
  bool onControl(const ipc::ControlMessage& message);
  // CONFIG SET changed the save rules: worker 0 tells the master, which runs them.
  void settingsChanged(const PersistenceConfig& next);
  // A client's SAVE / BGSAVE / SHUTDOWN: answered when the master answers.
  void ask(Client& client, ipc::SaveKind kind, bool force);
  bool connected() const { return tell_ != nullptr; }
  Snapshot& snapshot() { return snapshot_; }
  // Before a write runs on the real store (Dispatch::run).
  void beforeWrite(std::string_view key) { snapshot_.preserve(key); }

 private:
  struct Waiting {
    std::uint64_t clientId, place;
  };
  Server& server_;
  Log& log_;
  Snapshot snapshot_;
  int slot_ = 0;
  TellMaster tell_;
  std::uint64_t nextToken_ = 1;
  std::map<std::uint64_t, Waiting> waiting_;
  bool holdingForFinal_ = false;
};

}  // namespace keyloop
