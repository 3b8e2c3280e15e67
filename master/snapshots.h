// Snapshots: the master's side of RDB snapshots (the workers' side is
// worker/persistence/snapshot.h). A snapshot asks every serving worker to write its
// keys to a part file of its own (WriteSnapshot); once every part is on
// disk (SnapshotWritten), a thread of the master assembles them into one
// RDB file (persistence/rdb_file.h: head, every part, checksum), written to a
// temporary name, fsynced, renamed over the snapshot file and the
// directory fsynced: the previous file stays whole until the new one is.
//
// Also: the save rules (due()), and the status every worker reads for
// LASTSAVE and INFO persistence (metrics::SnapshotStatus).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/config/config.h"
#include "common/ipc/messages.h"
#include "common/log/log.h"
#include "common/loop/handles.h"
#include "common/metrics/shared_metrics.h"
#include "common/result/result.h"

namespace keyloop {

class Snapshots {
 public:
  using Send = std::function<bool(int slot, const ipc::ControlMessage& message)>;
  using Finished = std::function<void(const Status& outcome)>;

  Snapshots(Loop& loop, Log& log, metrics::SharedMetrics& metrics);
  ~Snapshots();

  // One worker's part file.
  struct Part {
    std::string path;
    bool begun = false, written = false;
    std::uint64_t keys = 0, expires = 0, bytes = 0;
  };
  // What a snapshot is for. `final`: the server stops after it (the
  // workers hold writes). A rewrite of the append-only log writes the new
  // base to `target` and gives each worker slot its new log file
  // (`logFiles`); it leaves the RDB status (LASTSAVE...) alone.
  struct Options {
    bool final = false;
    std::string target;                 // empty: the snapshot file
    bool rewrite = false;               // the log's base (BGREWRITEAOF)
    std::vector<std::string> logFiles;  // by slot; empty: the workers keep theirs (the log is off)
  };
  // Begins a snapshot of `workers` workers; false if one is running (then
  // whenDone() waits for it).
  bool start(const PersistenceConfig& config, int workers, const Send& send, Options options);
  bool running() const { return current_ != nullptr; }
  bool rewriting() const { return current_ != nullptr && current_->options.rewrite; }
  // Runs `finished` when the running snapshot ends (at once, with an
  // error, if none runs).
  void whenDone(Finished finished);
  // Runs `begun` once every worker's part holds its keys as of now (at
  // once if none runs).
  // (With the error instead if it failed before that.)
  void whenBegun(Finished begun);
  void onBegun(int slot, const ipc::SnapshotBegun& begun);
  void onWritten(int slot, const ipc::SnapshotWritten& written);
  // A worker of the snapshot died, or its generation is retiring: the
  // snapshot fails with `why` (the other workers drop their parts).
  void abandon(const std::string& why);
  // Whether a save rule says a snapshot is due ("900 1": 900 s passed and
  // at least 1 change). After a failure, not before 5 s have passed, as in Redis.
  bool due(const PersistenceConfig& config) const;

 private:
  struct Current {
    std::uint64_t id = 0;
    PersistenceConfig config;
    Options options;
    std::vector<Part> parts;
    std::int64_t startedMs = 0;
    std::uint64_t changesAtStart = 0;
    std::vector<Finished> waiters;
    std::vector<Finished> begunWaiters;
    Status assembled;  // the assembler's outcome
    bool assembling = false;
  };
  void assembled();
  void finish(const Status& outcome);

  Loop& loop_;
  Log& log_;
  metrics::SharedMetrics& metrics_;
  Send send_;
  std::unique_ptr<Current> current_;
  std::uint64_t nextId_ = 1;
  std::int64_t lastAttemptMs_ = 0;
  Async assembled_;
  std::thread assembler_;
};

}  // namespace keyloop
