#include "common/aof/manifest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/loop/unique_fd.h"

namespace keyloop::aof {

namespace {

Failure because(const std::string& what, const std::string& path) {
  return fail(what + " " + path + ": " + std::strerror(errno));
}

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

bool writeFile(const std::string& path, std::string_view text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  return fd && writeAll(fd.get(), text) && ::fsync(fd.get()) == 0;
}

void syncDirectory(const std::string& dir) {
  if (UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)); d) ::fsync(d.get());
}

// The snapshot file as the log's first base: a hard link when the
// directory is on the same filesystem, else a copy.
Status adoptSnapshot(const PersistenceConfig& config, const std::string& base) {
  const std::string from = config.snapshotPath();
  if (::link(from.c_str(), base.c_str()) == 0) return {};
  if (errno != EXDEV && errno != EPERM) return because("Can't link the snapshot into the log's directory as", base);
  // Streamed, not read whole: a snapshot can be as big as the data.
  const std::string temporary = base + ".tmp";
  std::error_code copied;
  std::filesystem::copy_file(from, temporary, std::filesystem::copy_options::overwrite_existing, copied);
  UniqueFd written(copied ? -1 : ::open(temporary.c_str(), O_RDONLY | O_CLOEXEC));
  if (!written || ::fsync(written.get()) != 0 || ::rename(temporary.c_str(), base.c_str()) != 0) {
    Failure why = copied ? fail("Can't copy the snapshot to " + base + ": " + copied.message())
                         : because("Can't copy the snapshot to", base);
    ::unlink(temporary.c_str());
    return why;
  }
  return {};
}

}  // namespace

const FileEntry* Manifest::fileOf(int worker) const {
  for (auto it = incremental.rbegin(); it != incremental.rend(); ++it) {
    if (it->worker == worker) return &*it;
  }
  return nullptr;
}

std::uint64_t Manifest::lastSeq() const {
  std::uint64_t seq = base ? base->seq : 0;
  for (const FileEntry& f : incremental) seq = std::max(seq, f.seq);
  return seq;
}

const FileEntry& Manifest::addFile(const PersistenceConfig& config, int worker) {
  const std::uint64_t seq = lastSeq() + 1;
  return incremental.emplace_back(FileEntry{incrementalName(config, seq), seq, worker});
}

std::string Manifest::format() const {
  std::string out;
  if (base) out += "file " + base->name + " seq " + std::to_string(base->seq) + " type b\n";
  for (const FileEntry& f : incremental) {
    out += "file " + f.name + " seq " + std::to_string(f.seq) + " type i";
    if (f.worker >= 0) out += " worker " + std::to_string(f.worker);
    out += "\n";
  }
  return out;
}

Result<Manifest> parseManifest(std::string_view text) {
  Manifest m;
  int line = 0;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view row = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line;
    if (!row.empty() && row[0] == '#') continue;  // comments, as Redis skips them
    const auto w = words(row);
    const std::string where = "line " + std::to_string(line) + ": ";
    if (w.size() < 6 || w.size() % 2 != 0) return fail(where + "Invalid AOF manifest file format");
    FileEntry f;
    char type = 0;
    for (std::size_t i = 0; i < w.size(); i += 2) {
      const std::string value(w[i + 1]);
      if (w[i] == "file") {
        if (value.find('/') != std::string::npos) return fail(where + "File can't be a path, just a filename");
        f.name = value;
      } else if (w[i] == "seq") {
        f.seq = std::strtoull(value.c_str(), nullptr, 10);
      } else if (w[i] == "type") {
        type = value[0];
      } else if (w[i] == "worker") {
        f.worker = std::atoi(value.c_str());
      }
    }
    if (f.name.empty() || f.seq == 0 || type == 0) return fail(where + "Invalid AOF manifest file format");
    if (type == 'b') {
      if (m.base) return fail(where + "Found duplicate base file information");
      m.base = f;
    } else if (type == 'i') {
      if (!m.incremental.empty() && f.seq <= m.incremental.back().seq) return fail(where + "Found a non-monotonic sequence number");
      m.incremental.push_back(f);
    } else if (type != 'h') {  // history: files Redis is about to delete
      return fail(where + "Unknown AOF file type");
    }
  }
  if (line == 0) return fail("Found an empty AOF manifest");
  return m;
}

std::string manifestName(const PersistenceConfig& config) { return config.aofFile + ".manifest"; }
std::string baseName(const PersistenceConfig& config, std::uint64_t seq) {
  return config.aofFile + "." + std::to_string(seq) + ".base.rdb";
}
std::string incrementalName(const PersistenceConfig& config, std::uint64_t seq) {
  return config.aofFile + "." + std::to_string(seq) + ".incr.aof";
}

Result<std::optional<Manifest>> readManifest(const PersistenceConfig& config) {
  const std::string path = config.aofPath() + "/" + manifestName(config);
  std::ifstream in(path, std::ios::binary);
  if (!in && errno == ENOENT) return std::optional<Manifest>();
  if (!in) return because("Can't open the AOF manifest file", path);
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = parseManifest(text.str());
  if (!parsed) return fail(path + ": " + parsed.error());
  return std::optional<Manifest>(std::move(parsed).value());
}

Status writeManifest(const PersistenceConfig& config, const Manifest& manifest) {
  const std::string dir = config.aofPath();
  const std::string path = dir + "/" + manifestName(config);
  const std::string temporary = dir + "/temp-" + manifestName(config);
  if (!writeFile(temporary, manifest.format())) {
    Failure why = because("Can't write the AOF manifest", temporary);
    ::unlink(temporary.c_str());
    return why;
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) return because("Can't rename the AOF manifest to", path);
  syncDirectory(dir);
  return {};
}

Status prepareAofFiles(const PersistenceConfig& config, int workers, bool newFiles, std::optional<Manifest>& manifest) {
  const std::string dir = config.aofPath();
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return because("Can't create the AOF directory", dir);
  auto read = readManifest(config);
  if (!read) return fail(read.error());
  manifest = std::move(read).value();
  Manifest next = manifest.value_or(Manifest{});
  if (!manifest) {
    struct stat st {};
    if (::stat(config.snapshotPath().c_str(), &st) == 0) {
      next.base = FileEntry{baseName(config, 1), 1};
      if (Status adopted = adoptSnapshot(config, dir + "/" + next.base->name); !adopted) return adopted;
    }
  }
  for (int slot = 0; slot < workers; ++slot) {
    if (!newFiles && next.fileOf(slot) != nullptr) continue;
    // Made now, empty: every file the manifest names exists (redis-check-aof opens each).
    const std::string path = dir + "/" + next.addFile(config, slot).name;
    if (!UniqueFd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644))) return because("Can't create", path);
  }
  if (manifest && next == *manifest) return {};
  if (Status written = writeManifest(config, next); !written) return written;
  syncDirectory(config.dir);
  manifest = std::move(next);
  return {};
}

}  // namespace keyloop::aof
