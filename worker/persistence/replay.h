// Replay: the append-only log into this worker's store at start.
//   1. The base (an RDB file, persistence/rdb_file.h): the keys this worker owns.
//   2. The batches (aof_log.h) of every incremental file of the manifest,
//      merged by their sequence numbers, so each key's history replays in
//      the order it happened whichever workers wrote it. Each file is read
//      with its own selected database (SELECT, as Redis reads a file with
//      one connection's state, from database 0). A record runs here
//      if the key it names is this worker's; a keyless one either empties
//      the keys its writer owned (FLUSHALL, FLUSHDB; SWAPDB swaps them: the
//      batch says which worker of how many wrote it) or, written by every worker alike (FUNCTION
//      LOAD), runs from slot 0's batches only.
// Every worker reads every file: a worker count that changed since is fine.
//
// A batch cut short (a crash during its write) is dropped whole; in this
// worker's own file it is also cut off before the worker appends after it
// (Redis's aof-load-truncated). Anything else malformed, or an unknown
// command, refuses the start, as Redis refuses it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/config/config.h"
#include "common/aof/manifest.h"
#include "common/result/result.h"

namespace keyloop {

struct ReplayTarget {
  int self = 0;
  std::function<bool(std::string_view key)> owns;
  // Loads the base's keys (an RDB file's bytes); the reason if it cannot.
  std::function<Status(std::string_view rdb)> loadBase;
  // Runs a record against database `db` as of `nowMs` (when it was logged).
  std::function<void(std::span<const std::string_view> args, std::int64_t nowMs, int db)> run;
  // Removes this worker's keys that worker `slot` of `workers` owned, of
  // database `db` (-1: of every database).
  std::function<void(int slot, int workers, int db)> flushOwnedBy;
  // SWAPDB as worker `slot` of `workers` logged it: the two databases
  // change places for the keys that worker owned.
  std::function<void(int slot, int workers, std::span<const std::string_view> args, std::int64_t nowMs)> swapOwnedBy;
  int databases = 16;  // a SELECT beyond them refuses the file
  bool loadTruncated = true;
};

struct ReplayCounts {
  std::uint64_t batches = 0, records = 0, applied = 0, truncatedBytes = 0;
};

// The reason the log cannot be loaded, if so.
Status replayLog(const PersistenceConfig& config, const aof::Manifest& manifest, const ReplayTarget& target,
                 ReplayCounts& counts);

}  // namespace keyloop
