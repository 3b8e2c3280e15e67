#include "common/aof/log_file.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/resp/request_parser.h"

namespace keyloop::aof {

namespace {

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

}  // namespace

std::string batchAnnotation(std::uint64_t seq, std::int64_t ms, int slot, int workers, std::size_t bytes) {
  return "#keyloop " + std::to_string(seq) + " " + std::to_string(ms) + " " + std::to_string(slot) + "/" +
         std::to_string(workers) + " " + std::to_string(bytes) + "\r\n";
}

// Splits one file into batches; `whole` ends up where a cut-short tail
// begins (the file's size when there is none). The reason if malformed.
Status scanFile(std::size_t index, LogFile& file, std::vector<Batch>& batches) {
  const std::string_view bytes = file.map->bytes();
  std::size_t pos = 0;
  resp::RequestParser parser;
  while (pos < bytes.size()) {
    file.whole = pos;
    if (bytes[pos] == '#') {
      const std::size_t eol = bytes.find("\r\n", pos);
      if (eol == std::string_view::npos) return {};  // cut inside the annotation
      Batch b;
      b.file = index;
      std::size_t length = 0;
      if (!parseAnnotation(bytes.substr(pos, eol - pos), b, length)) {
        pos = eol + 2;  // another annotation (Redis's #TS:): skipped, as Redis skips it
        continue;
      }
      b.begin = eol + 2;
      b.end = b.begin + length;
      if (b.end > bytes.size()) return {};  // cut short
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
        if (status == resp::ParseStatus::Error) return fail("Bad file format reading the append only file " + file.name);
        pos += parser.consumed();
        file.whole = pos;
      }
      b.end = pos;
      if (b.end > b.begin) batches.push_back(b);
      if (pos < bytes.size() && bytes[pos] == '*') return {};  // cut inside a record
    } else {
      return fail("Bad file format reading the append only file " + file.name + " (at byte " + std::to_string(pos) +
                  ")");
    }
  }
  file.whole = bytes.size();
  return {};
}

Status cutShortTails(const PersistenceConfig& config, const aof::Manifest& manifest, std::vector<CutTail>& cut) {
  const std::string dir = config.aofPath() + "/";
  for (const aof::FileEntry& entry : manifest.incremental) {
    std::uint64_t size = 0, whole = 0;
    {
      auto mapped = MappedFile::open(dir + entry.name);
      if (!mapped) return fail(mapped.error());
      LogFile f{entry.name, std::make_unique<MappedFile>(std::move(*mapped)), 0};
      if (!f.map->exists()) continue;  // replay says it is missing
      std::vector<Batch> batches;
      if (!scanFile(0, f, batches)) continue;  // malformed: replay refuses it
      size = f.map->bytes().size();
      whole = f.whole;
    }
    if (whole == size) continue;
    if (::truncate((dir + entry.name).c_str(), static_cast<off_t>(whole)) != 0) {
      return fail("Can't truncate the append only file " + entry.name + ": " + std::strerror(errno));
    }
    cut.push_back({entry.name, size - whole});
  }
  return {};
}

}  // namespace keyloop::aof
