// ChangeFeed: every change this worker makes to its keys, in the order it
// made them, as the commands that redo it: the one place the append-only
// log (its first consumer) and, next, the replication stream take them
// from. Producers: the pipeline's feed observer (write_observers.h) for a
// command's run, expiry and eviction (a key gone: DEL; hash fields gone:
// HDEL), and the atomic
// executor's coordinator (what a cross-worker command left in each key).
//
// What a consumer may assume (docs/architecture.md, "The change feed"):
//   - per key, records come in execution order;
//   - a block (a script, a transaction, a cross-worker command, a command
//     whose propagated form is several commands) arrives between
//     beginAtomic and endAtomic, never split; blocks nest, the outermost
//     counts;
//   - a write to keys of one slot comes as its propagated form (effects.h,
//     Redis 7.0's rules), a write over keys of several slots as what each
//     written key holds afterwards (RESTORE ... REPLACE ABSTTL, or DEL), so
//     any worker that owns a key then can redo its part alone;
//   - nothing comes for a write that changed nothing, nor while the log is
//     replayed at start.
// Across workers, a consumer orders what it took by the shared sequence
// it stamps its batches with (the log's: aof_log.h) before anything of
// ours can reach a peer; merged by it, the feeds read as one history that
// some serial execution could have produced.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "worker/execution/effects.h"
#include "worker/keyspace/store.h"

namespace keyloop {

class FeedConsumer {
 public:
  virtual ~FeedConsumer() = default;
  // Whether it takes records now (the log: while its file is open).
  virtual bool accepting() const = 0;
  // A command against database `db` (a consumer says SELECT where the
  // database changes, as Redis's feeds do).
  virtual void append(int db, std::span<const std::string_view> command) = 0;
  // What `key` holds now: RESTORE key <abs-ttl> <payload> REPLACE ABSTTL, or DEL key.
  virtual void appendState(int db, std::string_view key, const Store::Entry* entry) = 0;
  virtual void beginAtomic() = 0;
  virtual void endAtomic() = 0;
};

class ChangeFeed {
 public:
  // Adds `consumer` unless it is there already.
  void addConsumer(FeedConsumer* consumer);
  // Whether any consumer takes records now (else producing costs nothing).
  bool active() const { return !consumers_.empty() && anyAccepting(); }

  // A run of a write on this worker's keys, with what it did.
  void record(const CommandRun& run, const Effects& effects);
  // A command that redoes a change of no command's (expired hash fields: HDEL).
  void recordCommand(int db, std::span<const std::string_view> command);
  // What `key` holds now (null: it is gone).
  void recordState(int db, std::string_view key, const Store::Entry* entry);
  void beginAtomic();
  void endAtomic();

 private:
  bool anyAccepting() const;
  std::vector<FeedConsumer*> consumers_;
};

// RAII for ChangeFeed::beginAtomic / endAtomic (a null feed: nothing).
class FeedBlock {
 public:
  explicit FeedBlock(ChangeFeed* feed) : feed_(feed != nullptr && feed->active() ? feed : nullptr) {
    if (feed_) feed_->beginAtomic();
  }
  ~FeedBlock() {
    if (feed_) feed_->endAtomic();
  }
  FeedBlock(const FeedBlock&) = delete;
  FeedBlock& operator=(const FeedBlock&) = delete;

 private:
  ChangeFeed* feed_;
};

}  // namespace keyloop
