// WorkerPersistence: a worker's side of durability (persistence/persistence.h
// is what the layers below the worker see of it).
//   - At start, loadAtStart() reads the append-only log when it is on
//     (persistence/replay.h), else the snapshot file (persistence/rdb_file.h), and keeps the
//     keys this worker owns: every worker reads the same files in parallel,
//     so a worker count that changed between runs is fine.
//   - The log (persistence/aof_log.h): startLog() opens this worker's file; the
//     master's rewrite (BGREWRITEAOF) first holds every worker's writes
//     until none is in flight anywhere (HoldWrites -> WritesHeld), then
//     each moves to a new file as its part of the new base begins.
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
#include "worker/persistence/persistence.h"
#include "common/result/result.h"

namespace keyloop {

class Server;

class WorkerPersistence final : public Persistence {
 public:
  using TellMaster = std::function<void(const ipc::ControlMessage&)>;

  WorkerPersistence(Server& server, Log& log);

  void setSlot(int slot, TellMaster tell) {
    slot_ = slot;
    tell_ = std::move(tell);
  }
  // The keys of the snapshot file that `owns` accepts go into the store;
  // the reason the file cannot be loaded, if so (no file: nothing to load).
  Status loadAtStart(const std::function<bool(std::string_view key)>& owns);
  // With the log on: appends to this worker's file of it (as worker
  // `slot` of `workers`); the reason if it cannot.
  Status startLog(int workers);
  // Whether the log is on and its manifest names the files (not while
  // appendonly yes writes the first base).
  bool logEstablished() const;
  // Snapshot messages from the master; false if not one.
  bool onControl(const ipc::ControlMessage& message);
  // CONFIG SET changed the save rules: worker 0 tells the master, which runs them.
  void settingsChanged(const PersistenceConfig& next);
  void ask(Client& client, ipc::SaveKind kind, bool force) override;
  bool connected() const { return tell_ != nullptr; }

 private:
  struct Waiting {
    std::uint64_t clientId, place;
  };
  Status loadSnapshot(const std::function<bool(std::string_view key)>& owns);
  Status loadLog(const std::function<bool(std::string_view key)>& owns);
  // persistence/rdb_file.h's loader over `bytes` into the store.
  Status loadRdb(std::string_view bytes, const std::function<bool(std::string_view key)>& owns,
                                     bool keepExpired, std::uint64_t& loaded, std::uint64_t& expired);
  // The keys worker `slot` of `workers` owned, of database `db` (-1: of all).
  void flushOwnedBy(int slot, int workers, int db);
  void flushOwnedBy(int slot, int workers, Store& store);
  void clearAll();  // a load that failed leaves nothing behind
  // A logged SWAPDB of worker `slot` of `workers`, for the keys it owned.
  void swapOwnedBy(int slot, int workers, std::span<const std::string_view> args, std::int64_t nowMs);
  Status openLog(const std::string& path, int workers);
  // Replies wait for the log, channel records follow it, expiries and
  // cross-worker runs are logged (aof_log.h).
  void connectLog();
  // A rewrite's hold: told to the master once nothing of ours is in flight.
  void holdForRewrite(std::uint64_t id);
  Server& server_;
  Log& log_;
  Check quietWatch_;
  bool holdingForRewrite_ = false;
  int slot_ = 0;
  TellMaster tell_;
  std::uint64_t nextToken_ = 1;
  std::map<std::uint64_t, Waiting> waiting_;
  bool holdingForFinal_ = false;
};

}  // namespace keyloop
