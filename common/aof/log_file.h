// The append-only log's incremental files as keyloop writes them: RESP
// records in batches, each after an annotation line
//
//   #keyloop <seq> <ms> <slot>/<workers> <bytes>
//
// (the log's sequence, the time its commands ran, which worker of how
// many wrote it, and the batch's length), so that replay merges every
// worker's file in the order things happened and knows a batch cut short
// by a crash. Plain records with no annotation (a file Redis wrote) are
// one batch. Both processes read them: the master cuts cut-short tails
// before its workers start, each worker replays (worker/aof/replay.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/aof/manifest.h"
#include "common/config/config.h"
#include "common/loop/mapped_file.h"
#include "common/result/result.h"

namespace keyloop::aof {

struct Batch {
  std::size_t file = 0;
  std::size_t begin = 0, end = 0;  // the records, in that file's bytes
  std::uint64_t seq = 0;           // 0: records no keyloop annotation covers (a file Redis wrote)
  std::int64_t ms = 0;
  int slot = 0, workers = 0;       // workers 0: unknown (then as now)
};

struct LogFile {
  std::string name;
  std::unique_ptr<MappedFile> map;
  std::size_t whole = 0;  // bytes of complete batches from the start
};

// The annotation line before a batch of `bytes` bytes.
std::string batchAnnotation(std::uint64_t seq, std::int64_t ms, int slot, int workers, std::size_t bytes);

// Splits one file into batches; `whole` ends up where a cut-short tail
// begins (the file's size when there is none). The reason if malformed.
Status scanFile(std::size_t index, LogFile& file, std::vector<Batch>& batches);

// Cuts a batch cut short by a crash off the end of each incremental file,
// before any worker reads them: the master calls it at start. A worker
// cuts its own file only when it starts alone (a restart), because at
// start every worker maps every file, and one that cut a file another
// still scans would make that one read zeros (or SIGBUS) where the tail
// was. What was cut, per file, goes to `cut`; the reason if a file
// cannot be read or cut. Malformed files are left for replay to refuse.
struct CutTail {
  std::string file;
  std::uint64_t bytes;
};
Status cutShortTails(const PersistenceConfig& config, const aof::Manifest& manifest, std::vector<CutTail>& cut);

}  // namespace keyloop::aof
