// AofLog: this worker's append-only log: the writes it ran on its keys, as
// Redis commands (RESP arrays), appended to its own incremental file of the
// log (manifest.h). One file per worker: workers own disjoint keys, so they
// never write the same file's records, and nothing is shared but a counter.
//
// A loop iteration's records collect in a buffer, which goes to the file
// in one write (a batch), behind an annotation line that redis-check-aof
// skips as it skips Redis's own "#TS:" lines:
//
//   #keyloop <seq> <unix ms> <slot>/<workers> <bytes>
//
// <seq> is the next number of a counter in shared memory (every worker's
// batches draw from it), and a batch is written before the worker publishes
// its channel records (Router::setBeforePublish) and before a client's reply
// leaves. So a peer that acts on anything of ours (a lock's reply, a
// migrated key, a forwarded reply) logs it in a batch with a higher number,
// and replaying the batches of all files by <seq> (replay.h) redoes every
// key's history in the order it happened. <bytes> lets replay tell a batch
// cut short by a crash, which is dropped whole: a MULTI ... EXEC block (a
// script, a transaction, a cross-worker command) is never split across
// batches, so it replays all or nothing.
//
// Durability (appendfsync):
//   no        the batch is in the file (the page cache) before the replies go;
//   everysec  the same, and an fsync on the pool once a second;
//   always    the replies wait (holdReply, whenDurable) for the fsync, on the
//             pool, of the batch with their writes: one fsync in flight at a
//             time, covering everything written before it (group commit).
// A write that fails (ENOSPC) is cut back off the file (ftruncate), kept in
// the buffer and tried again each second; meanwhile writes are refused with
// Redis's -MISCONF (failing()) and replies are not held.
//
// Databases: a record of another database than the one before it in the
// file comes after a SELECT, as in Redis's AOF (a file is read with one
// connection's state, from database 0; a file appended to after a restart
// starts with a SELECT, since its end's state is not known).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/log/log.h"
#include "common/loop/handles.h"
#include "common/loop/thread_pool.h"
#include "common/loop/unique_fd.h"
#include "common/metrics/shared_metrics.h"
#include "worker/execution/change_feed.h"
#include "worker/keyspace/store.h"
#include "common/result/result.h"

namespace keyloop {

class AofLog final : public FeedConsumer {
 public:
  enum class Fsync : std::uint8_t { Always, EverySecond, No };
  static Fsync fsyncOf(std::string_view appendfsync);

  AofLog(Loop& loop, ThreadPool& pool, Log& log);
  ~AofLog() override;
  AofLog(const AofLog&) = delete;
  AofLog& operator=(const AofLog&) = delete;

  // Where batch numbers come from (shared memory); a counter of its own if never set.
  void setSequence(std::atomic<std::uint64_t>* sequence) { sequence_ = sequence; }
  void setMetrics(metrics::WorkerMetrics* metrics) { metrics_ = metrics; }
  // How a client whose reply waited is let go (holdReply).
  void setRelease(std::function<void(std::uint64_t clientId)> release) { release_ = std::move(release); }
  void setFsync(Fsync fsync);

  // Appends to `path` (made if missing) from now on, as worker `slot` of
  // `workers`; what was pending goes to the previous file first. The
  // reason if it cannot be opened (then nothing changes).
  Status open(const std::string& path, int slot, int workers);
  // Writes what is pending and stops logging (its file is fsynced).
  void close();
  bool active() const { return file_ != nullptr; }
  bool accepting() const override { return active(); }
  const std::string& path() const { return path_; }

  // A command against database `db`, as its arguments.
  void append(int db, std::span<const std::string_view> args) override;
  // What `key` is now: RESTORE key <abs-ttl> <payload> REPLACE ABSTTL, or
  // DEL key when `entry` is null.
  void appendState(int db, std::string_view key, const Store::Entry* entry) override;
  // Records between begin and end replay all or nothing (MULTI ... EXEC
  // around them when there are several). Nests.
  void beginAtomic() override;
  void endAtomic() override;

  // Bytes of records so far: a mark to tell whether a command logged any.
  std::uint64_t appended() const { return written_ + buffer_.size(); }
  // appendfsync always: replies wait for their writes' fsync.
  bool holdsReplies() const { return fsync_ == Fsync::Always; }

  // Writes the pending batch now (a no-op when there is none).
  void write();

  // Whether a reply made now must wait until the writes before it are as
  // durable as appendfsync asks; if so `clientId` is released later.
  bool holdReply(std::uint64_t clientId);
  // Runs `task` once what is appended so far is that durable (now if it is).
  void whenDurable(std::function<void()> task);

  // A write that failed and has not succeeded since: its reason (else empty).
  const std::string& failure() const { return failure_; }
  bool failing() const { return !failure_.empty(); }
  std::size_t pendingBytes() const { return buffer_.size(); }
  bool fsyncInFlight() const { return fsyncing_; }
  // Bytes appended since it opened (the buffer too), and of those, fsynced:
  // WAITAOF's offsets (Redis's master_repl_offset and fsynced_reploff).
  std::uint64_t appendedBytes() const { return written_ + buffer_.size(); }
  std::uint64_t fsyncedBytes() const { return synced_; }
  std::uint64_t fileSize() const { return fileSize_; }

 private:
  struct File;  // a descriptor shared with the fsync jobs
  struct Waiter {
    std::uint64_t need;  // bytes appended when it began to wait
    std::uint64_t clientId;
    std::function<void()> task;
  };
  // Before a record of database `db`: a SELECT if the file is elsewhere there.
  void noteRecord(int db);
  std::uint64_t durable() const { return fsync_ == Fsync::Always ? synced_ : written_; }
  void releaseDurable();
  void releaseSoon();
  void startFsync();
  void fsyncDone(std::uint64_t upTo, bool ok);

  Loop& loop_;
  ThreadPool& pool_;
  Log& log_;
  Fsync fsync_ = Fsync::EverySecond;
  std::atomic<std::uint64_t> ownSequence_{0};
  std::atomic<std::uint64_t>* sequence_ = &ownSequence_;
  metrics::WorkerMetrics* metrics_ = nullptr;
  std::function<void(std::uint64_t)> release_;

  std::shared_ptr<File> file_;
  std::vector<std::shared_ptr<File>> unsynced_;  // written since the last fsync began
  std::string path_;
  int slot_ = 0, workers_ = 1;
  std::uint64_t fileSize_ = 0;

  std::string buffer_;
  std::int64_t batchMs_ = 0;  // when the pending batch's first record came
  int atomicDepth_ = 0;
  std::size_t atomicStart_ = 0;  // where the open block's records begin in buffer_
  // The selected database (-1: unknown, the next record selects): at the
  // end of buffer_, where the open block begins, and at buffer_'s start
  // (the end of what the file has).
  int db_ = -1, blockDb_ = -1, bufferStartDb_ = -1;
  int atomicRecords_ = 0;

  // Bytes of records: appended (written_ + buffer_), written, fsynced.
  std::uint64_t written_ = 0, synced_ = 0;
  bool fsyncing_ = false;
  std::deque<Waiter> waiters_;
  std::string failure_;

  Prepare beforeSleep_;
  Check afterPoll_;
  Timer everySecond_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // pool callbacks check it
};

}  // namespace keyloop
