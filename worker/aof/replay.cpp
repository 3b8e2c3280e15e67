#include "worker/aof/replay.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <vector>

#include "common/resp/request_parser.h"
#include "worker/command_table.h"
#include "worker/mapped_file.h"
#include "worker/store.h"

namespace keyloop {

namespace {

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

template <typename T>
bool number(std::string_view text, T& out) {
  const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

// "#keyloop <seq> <ms> <slot>/<workers> <bytes>"; false if not one.
bool parseAnnotation(std::string_view line, Batch& b, std::size_t& bytes) {
  constexpr std::string_view kPrefix = "#keyloop ";
  if (line.substr(0, kPrefix.size()) != kPrefix) return false;
  line.remove_prefix(kPrefix.size());
  std::string_view field[4];
  for (int i = 0; i < 4; ++i) {
    const std::size_t space = line.find(' ');
    field[i] = line.substr(0, space);
    line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  }
  const std::size_t slash = field[2].find('/');
  return slash != std::string_view::npos && number(field[0], b.seq) && number(field[1], b.ms) &&
         number(field[2].substr(0, slash), b.slot) && number(field[2].substr(slash + 1), b.workers) &&
         number(field[3], bytes) && b.workers > 0;
}

// Splits one file into batches; `whole` ends up where a cut-short tail
// begins (the file's size when there is none). The reason if malformed.
std::optional<std::string> scanFile(std::size_t index, LogFile& file, std::vector<Batch>& batches) {
  const std::string_view bytes = file.map->bytes();
  std::size_t pos = 0;
  resp::RequestParser parser;
  while (pos < bytes.size()) {
    file.whole = pos;
    if (bytes[pos] == '#') {
      const std::size_t eol = bytes.find("\r\n", pos);
      if (eol == std::string_view::npos) return std::nullopt;  // cut inside the annotation
      Batch b;
      b.file = index;
      std::size_t length = 0;
      if (!parseAnnotation(bytes.substr(pos, eol - pos), b, length)) {
        pos = eol + 2;  // another annotation (Redis's #TS:): skipped, as Redis skips it
        continue;
      }
      b.begin = eol + 2;
      b.end = b.begin + length;
      if (b.end > bytes.size()) return std::nullopt;  // cut short
      batches.push_back(b);
      pos = b.end;
    } else if (bytes[pos] == '*') {
      // Plain records (no annotation): one batch up to the next annotation.
      Batch b;
      b.file = index;
      b.begin = pos;
      while (pos < bytes.size() && bytes[pos] == '*') {
        const resp::ParseStatus status = parser.parse(bytes.substr(pos));
        if (status == resp::ParseStatus::NeedMore) break;
        if (status == resp::ParseStatus::Error) return "Bad file format reading the append only file " + file.name;
        pos += parser.consumed();
        file.whole = pos;
      }
      b.end = pos;
      if (b.end > b.begin) batches.push_back(b);
      if (pos < bytes.size() && bytes[pos] == '*') return std::nullopt;  // cut inside a record
    } else {
      return "Bad file format reading the append only file " + file.name + " (at byte " + std::to_string(pos) + ")";
    }
  }
  file.whole = bytes.size();
  return std::nullopt;
}

// The records of one batch, run where they belong.
std::optional<std::string> applyBatch(const Batch& b, const LogFile& file, const ReplayTarget& target,
                                      ReplayCounts& counts) {
  std::string_view records = file.map->bytes().substr(b.begin, b.end - b.begin);
  resp::RequestParser parser;
  const std::int64_t nowMs = b.ms > 0 ? b.ms : unixMillis();
  while (!records.empty()) {
    if (records[0] != '*' || parser.parse(records) != resp::ParseStatus::Complete) {
      return "Bad file format reading the append only file " + file.name;
    }
    const std::vector<std::string_view> args = parser.args();
    records.remove_prefix(parser.consumed());
    if (args.empty()) continue;
    ++counts.records;
    const ResolvedCommand command = resolveCommand(args);
    if (command.spec == nullptr) {
      return "Unknown command '" + std::string(args[0]) + "' reading the append only file " + file.name;
    }
    const CommandSpec& spec = *command.spec;
    if (spec.handler == nullptr) continue;  // MULTI, EXEC, SELECT: the blocks are whole batches
    std::optional<std::string_view> key;
    forEachKey(spec, args, [&](std::size_t i, std::size_t) {
      key = args[i];
      return false;
    });
    if (!key && (spec.flags & kWipesKeyspace)) {
      target.flushOwnedBy(b.slot, b.workers);
    } else if (key ? target.owns(*key) : b.slot == 0) {
      target.run(args, nowMs);
      ++counts.applied;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> cutShortTails(const PersistenceConfig& config, const aof::Manifest& manifest,
                                         std::vector<CutTail>& cut) {
  const std::string dir = config.aofPath() + "/";
  for (const aof::FileEntry& entry : manifest.incremental) {
    std::uint64_t size = 0, whole = 0;
    {
      std::string error;
      LogFile f{entry.name, std::make_unique<MappedFile>(dir + entry.name, error), 0};
      if (!error.empty()) return error;
      if (!f.map->exists()) continue;  // replay says it is missing
      std::vector<Batch> batches;
      if (scanFile(0, f, batches)) continue;  // malformed: replay refuses it
      size = f.map->bytes().size();
      whole = f.whole;
    }
    if (whole == size) continue;
    if (::truncate((dir + entry.name).c_str(), static_cast<off_t>(whole)) != 0) {
      return "Can't truncate the append only file " + entry.name + ": " + std::strerror(errno);
    }
    cut.push_back({entry.name, size - whole});
  }
  return std::nullopt;
}

std::optional<std::string> replayLog(const PersistenceConfig& config, const aof::Manifest& manifest,
                                     const ReplayTarget& target, ReplayCounts& counts) {
  const std::string dir = config.aofPath() + "/";
  if (manifest.base) {
    const std::string path = dir + manifest.base->name;
    if (path.size() < 4 || path.substr(path.size() - 4) != ".rdb") {
      return "The AOF base " + manifest.base->name + " is not an RDB file (keyloop reads only an RDB base)";
    }
    std::string error;
    MappedFile base(path, error);
    if (!error.empty()) return error;
    if (!base.exists()) return "The AOF base " + path + " is missing";
    if (auto failed = target.loadBase(base.bytes())) return "Bad file format reading the AOF base " + path + ": " + *failed;
  }
  std::vector<LogFile> files;
  std::vector<Batch> batches;
  for (const aof::FileEntry& entry : manifest.incremental) {
    LogFile& f = files.emplace_back(LogFile{entry.name, nullptr, 0});
    std::string error;
    f.map = std::make_unique<MappedFile>(dir + entry.name, error);
    if (!error.empty()) return error;
    if (!f.map->exists()) return "The append only file " + dir + entry.name + " is missing";
    if (auto bad = scanFile(files.size() - 1, f, batches)) return bad;
  }
  std::stable_sort(batches.begin(), batches.end(), [](const Batch& a, const Batch& b) { return a.seq < b.seq; });
  counts.batches = batches.size();
  for (const Batch& b : batches) {
    if (auto bad = applyBatch(b, files[b.file], target, counts)) return bad;
  }
  // A cut-short tail: dropped; this worker's own file loses it for good.
  const aof::FileEntry* own = manifest.fileOf(target.self);
  for (std::size_t i = 0; i < files.size(); ++i) {
    const std::size_t cut = files[i].map->bytes().size() - files[i].whole;
    if (cut == 0 || own == nullptr || files[i].name != own->name) continue;
    if (!target.loadTruncated) {
      return "Unexpected end of file reading the append only file " + files[i].name +
             ". You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. "
             "2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.";
    }
    if (::truncate((dir + files[i].name).c_str(), static_cast<off_t>(files[i].whole)) != 0) {
      return "Can't truncate the append only file " + files[i].name + ": " + std::strerror(errno);
    }
    counts.truncatedBytes += cut;
  }
  return std::nullopt;
}

}  // namespace keyloop
