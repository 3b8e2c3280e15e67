#include "worker/persistence/replay.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "common/resp/request_parser.h"
#include "common/text/text.h"
#include "worker/execution/command_table.h"
#include "common/aof/log_file.h"
#include "common/loop/mapped_file.h"
#include "worker/keyspace/store.h"

namespace keyloop {

namespace {

using aof::Batch;
using aof::LogFile;

// The records of one batch, run where they belong; `db` is the file's
// selected database.
Status applyBatch(const Batch& b, const LogFile& file, const ReplayTarget& target, ReplayCounts& counts, int& db) {
  std::string_view records = file.map->bytes().substr(b.begin, b.end - b.begin);
  resp::RequestParser parser;
  const std::int64_t nowMs = b.ms > 0 ? b.ms : unixMillis();
  while (!records.empty()) {
    if (records[0] != '*' || parser.parse(records) != resp::ParseStatus::Complete) {
      return fail("Bad file format reading the append only file " + file.name);
    }
    const std::vector<std::string_view> args = parser.args();
    records.remove_prefix(parser.consumed());
    if (args.empty()) continue;
    ++counts.records;
    const ResolvedCommand command = resolveCommand(args);
    if (command.spec == nullptr) {
      return fail("Unknown command '" + std::string(args[0]) + "' reading the append only file " + file.name);
    }
    const CommandSpec& spec = *command.spec;
    if (spec.flags & kSelectsDatabase) {
      const auto index = args.size() == 2 ? parseInteger(args[1]) : std::nullopt;
      if (!index || *index < 0 || *index >= target.databases) {
        return fail("Bad SELECT (database " + std::string(args.size() == 2 ? args[1] : "") +
                    " is out of range) reading the append only file " + file.name);
      }
      db = static_cast<int>(*index);
      continue;
    }
    if (spec.handler == nullptr) continue;  // MULTI, EXEC: the blocks are whole batches
    std::optional<std::string_view> key;
    forEachKey(spec, args, [&](std::size_t i, std::size_t) {
      key = args[i];
      return false;
    });
    if (!key && (spec.flags & kSwapsDatabases)) {
      target.swapOwnedBy(b.slot, b.workers, args, nowMs);
    } else if (!key && (spec.flags & kWipesKeyspace)) {
      target.flushOwnedBy(b.slot, b.workers, (spec.flags & kEveryDatabase) ? -1 : db);
    } else if (key ? target.owns(*key) : b.slot == 0) {
      target.run(args, nowMs, db);
      ++counts.applied;
    }
  }
  return {};
}

}  // namespace

Status replayLog(const PersistenceConfig& config, const aof::Manifest& manifest,
                                     const ReplayTarget& target, ReplayCounts& counts) {
  const std::string dir = config.aofPath() + "/";
  if (manifest.base) {
    const std::string path = dir + manifest.base->name;
    if (path.size() < 4 || path.substr(path.size() - 4) != ".rdb") {
      return fail("The AOF base " + manifest.base->name + " is not an RDB file (keyloop reads only an RDB base)");
    }
    auto base = MappedFile::open(path);
    if (!base) return fail(base.error());
    if (!base->exists()) return fail("The AOF base " + path + " is missing");
    if (Status failed = target.loadBase(base->bytes()); !failed) return fail("Bad file format reading the AOF base " + path + ": " + failed.error());
  }
  std::vector<LogFile> files;
  std::vector<Batch> batches;
  for (const aof::FileEntry& entry : manifest.incremental) {
    LogFile& f = files.emplace_back(LogFile{entry.name, nullptr, 0});
    auto mapped = MappedFile::open(dir + entry.name);
    if (!mapped) return fail(mapped.error());
    f.map = std::make_unique<MappedFile>(std::move(*mapped));
    if (!f.map->exists()) return fail("The append only file " + dir + entry.name + " is missing");
    if (Status bad = aof::scanFile(files.size() - 1, f, batches); !bad) return bad;
  }
  std::stable_sort(batches.begin(), batches.end(), [](const Batch& a, const Batch& b) { return a.seq < b.seq; });
  counts.batches = batches.size();
  std::vector<int> selected(files.size(), 0);
  for (const Batch& b : batches) {
    if (Status bad = applyBatch(b, files[b.file], target, counts, selected[b.file]); !bad) return bad;
  }
  // A cut-short tail: dropped; this worker's own file loses it for good.
  const aof::FileEntry* own = manifest.fileOf(target.self);
  for (std::size_t i = 0; i < files.size(); ++i) {
    const std::size_t cut = files[i].map->bytes().size() - files[i].whole;
    if (cut == 0 || own == nullptr || files[i].name != own->name) continue;
    if (!target.loadTruncated) {
      return fail("Unexpected end of file reading the append only file " + files[i].name +
             ". You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. "
             "2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.");
    }
    if (::truncate((dir + files[i].name).c_str(), static_cast<off_t>(files[i].whole)) != 0) {
      return fail("Can't truncate the append only file " + files[i].name + ": " + std::strerror(errno));
    }
    counts.truncatedBytes += cut;
  }
  return {};
}

}  // namespace keyloop
