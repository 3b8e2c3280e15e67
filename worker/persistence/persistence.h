// Persistence: what the layers above the keyspace ask of a worker's
// durability: the snapshot being written (a write first preserves the key
// it changes), the append-only log when this worker writes one, and the
// SAVE, BGSAVE and SHUTDOWN of its clients (answered by the master). The
// worker's own side of it (the load at start, the master's snapshot and
// rewrite messages, the log's wiring) is WorkerPersistence
// (worker/worker_persistence.h), which the worker builds.
#pragma once

#include <string_view>

#include "common/ipc/messages.h"
#include "common/log/log.h"
#include "worker/persistence/aof_log.h"
#include "worker/persistence/snapshot.h"

namespace keyloop {

class Client;

// Redis's shared.bgsaveerr, without the '-'.
inline constexpr std::string_view kDiskErrorRefusal =
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that "
    "may modify the data set are disabled, because this instance is configured to report errors during writes if RDB "
    "snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB "
    "error.";

class Persistence {
 public:
  Persistence(Loop& loop, Databases& databases, ThreadPool& pool, Log& log)
      : snapshot_(loop, databases, pool), aof_(loop, pool, log) {}
  virtual ~Persistence() = default;
  Persistence(const Persistence&) = delete;
  Persistence& operator=(const Persistence&) = delete;

  // The log, when this worker writes one (else null).
  AofLog* log() { return aof_.active() ? &aof_ : nullptr; }
  const AofLog* log() const { return aof_.active() ? &aof_ : nullptr; }
  Snapshot& snapshot() { return snapshot_; }
  // Before a write runs on the real store (Dispatch::run).
  void beforeWrite(Store& store, std::string_view key) { snapshot_.preserve(store, key); }
  // A client's SAVE / BGSAVE / SHUTDOWN: answered when the master answers.
  virtual void ask(Client& client, ipc::SaveKind kind, bool force) = 0;

 protected:
  Snapshot snapshot_;
  AofLog aof_;
};

}  // namespace keyloop
