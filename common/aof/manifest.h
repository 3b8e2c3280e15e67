// Manifest: the list of the append-only log's files, in Redis 7.0's
// multi-part layout (appendonlydir/appendonly.aof.manifest), so that
// redis-check-aof reads keyloop's log as it reads Redis's:
//
//   file appendonly.aof.2.base.rdb seq 2 type b
//   file appendonly.aof.3.incr.aof seq 3 type i worker 0
//   file appendonly.aof.4.incr.aof seq 4 type i worker 1
//
// The base is an RDB snapshot (what a rewrite writes); each incremental
// file is the log of one worker slot since then. keyloop adds the pair
// `worker N` (Redis's loader skips pairs it does not know): the slot that
// appends to that file. A slot's file is the last line naming it; the
// earlier ones are older files still needed (a rewrite that failed).
//
// prepareAofFiles() is the master's step before it starts workers: the
// directory, and a manifest naming a file for every slot.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/config/config.h"
#include "common/result/result.h"

namespace keyloop::aof {

struct FileEntry {
  std::string name;
  std::uint64_t seq = 0;
  int worker = -1;  // incremental files: the slot that appends to it
  bool operator==(const FileEntry&) const = default;
};

struct Manifest {
  std::optional<FileEntry> base;
  std::vector<FileEntry> incremental;  // in seq order

  // The file slot `worker` appends to (nullptr: none yet).
  const FileEntry* fileOf(int worker) const;
  // Adds a new incremental file for `worker`, its seq the next one.
  const FileEntry& addFile(const PersistenceConfig& config, int worker);
  std::uint64_t lastSeq() const;
  std::string format() const;
  bool operator==(const Manifest&) const = default;
};

// The manifest's text as Redis writes and reads it; the reason if malformed.
Result<Manifest> parseManifest(std::string_view text);

// Names inside the log's directory, as Redis names them.
std::string manifestName(const PersistenceConfig& config);
std::string baseName(const PersistenceConfig& config, std::uint64_t seq);
std::string incrementalName(const PersistenceConfig& config, std::uint64_t seq);

// Reads dir/appenddirname/<manifest>: nullopt when there is none, or why
// it cannot be read or parsed.
Result<std::optional<Manifest>> readManifest(const PersistenceConfig& config);
// Writes it through a temporary file, fsynced and renamed, the directory
// fsynced; the reason if not.
Status writeManifest(const PersistenceConfig& config, const Manifest& manifest);

// Makes the directory and a manifest naming a file for each of `workers`
// slots; `newFiles`: a new one for every slot, even one that has a file (a
// reload's new workers never append to a file the retiring ones still
// write). A first log starts from the snapshot file when there is one (it
// becomes the base, hard-linked or copied), so that turning the log on
// keeps the data (Redis 7.0 would start empty). The reason if not.
Status prepareAofFiles(const PersistenceConfig& config, int workers, bool newFiles, std::optional<Manifest>& manifest);

}  // namespace keyloop::aof
