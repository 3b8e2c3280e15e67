// Snapshot: this worker's part of an RDB snapshot (persistence/rdb_file.h): every
// key as of the moment start() ran, written to a file of its own while the
// worker keeps serving, with no copy of the keyspace.
//
// How a point in time survives writes without fork(): a write first calls
// preserve() for each key it names (Dispatch::run), which writes the key's
// record if the snapshot does not have it yet; an idle-phase walk
// (Store::scanUnsaved) writes the others, a slice of buckets per loop
// iteration. Each entry's snapshot bit says which it is (store.h), so a key
// is written once, as it was at the start, and a key born later not at all.
//
// Every database is walked, one after the other; a record of another
// database than the one before it in the part comes after a SELECTDB
// (Redis reads SELECTDB anywhere, so the master may join the parts). The
// databases are numbered as they were at start() (SWAPDB moves stores).
//
// Records are batched in 1 MB buffers that pool threads write, each at its
// own offset: the loop never waits for the disk. At most a few buffers are
// in flight; the walk pauses while they are. The part is not fsynced (the
// master fsyncs the file it makes of the parts). The first error (ENOSPC,
// EIO) abandons the snapshot with that reason.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/loop/handles.h"
#include "common/loop/thread_pool.h"
#include "common/loop/unique_fd.h"
#include "worker/keyspace/databases.h"
#include "worker/keyspace/store.h"
#include "common/result/result.h"

namespace keyloop {

class Snapshot {
 public:
  struct Result {
    std::string error;  // empty: the part is complete and on disk
    std::uint64_t keys = 0, expires = 0, bytes = 0;
  };
  using Done = std::function<void(const Result&)>;

  Snapshot(Loop& loop, Databases& databases, ThreadPool& pool);
  ~Snapshot();

  // Creates `path` and begins; `prefix` goes first (the function
  // libraries). An error (the file cannot be made) is the reason; else
  // done() runs once the part is written, or failed.
  Status start(const std::string& path, std::string prefix, Done done);
  bool active() const { return done_ != nullptr; }
  // Before a write changes `key` of `store` (one of the databases).
  void preserve(Store& store, std::string_view key);
  // Writes everything left now (FLUSHALL is about to empty the store).
  void saveRemainingNow();
  // Stops (the master gave up on this snapshot) and removes the part;
  // done() is not called.
  void abandon();

 private:
  struct Writer;  // the file and the first error, shared with pool jobs
  void step();
  // One slice of the walk; true once it is over (the last buffer is on its way).
  bool walkSlice();
  void save(int db, Store::Entry* e);
  // The database a store was at start() (-1: none of them).
  int numberAtStart(const Store& store) const;
  void flushBuffer();
  void markAllSaved();
  void finish(const Status& outcome);

  Loop& loop_;
  Databases& databases_;
  ThreadPool& pool_;
  std::vector<Store*> stores_;  // by database number, as at start()
  std::size_t walking_ = 0;     // the database the walk is in
  int partDb_ = -1;             // the last SELECTDB in the part
  Idle walk_;
  std::shared_ptr<Writer> writer_;
  std::string path_;
  std::string buffer_;
  std::uint64_t cursor_ = 0;
  bool walked_ = false;
  int inFlight_ = 0;
  Result result_;
  Done done_;
};

}  // namespace keyloop
