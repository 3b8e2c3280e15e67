#include "master/snapshots.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <utility>

#include "common/loop/unique_fd.h"
#include "common/loop/clock.h"
#include "common/rdb/checksum.h"
#include "common/rdb/format.h"

namespace keyloop {

namespace {

constexpr std::int64_t kRetryAfterFailureMs = 5000;  // Redis's CONFIG_BGSAVE_RETRY_DELAY

Failure failed(const std::string& what, const std::string& path) {
  return fail(what + " " + path + ": " + std::strerror(errno));
}

// The parts, in slot order, into `target` (through a temporary file in
// its directory); the reason if not. Runs on the assembler thread.
using Part = Snapshots::Part;

Status assemble(const std::string& dir, const std::string& target, const std::vector<Part>& parts,
                     std::int64_t nowSeconds) {
  std::uint64_t keys = 0, expires = 0, bytes = 0;
  for (const Part& p : parts) {
    keys += p.keys;
    expires += p.expires;
    bytes += p.bytes;
  }
  const std::string temporary = dir + "/temp-" + std::to_string(::getpid()) + ".rdb";
  UniqueFd out(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!out) return failed("Failed opening the temp RDB file", temporary);
  auto give_up = [&](Failure why) {
    ::unlink(temporary.c_str());
    return why;
  };
  const std::string head = rdb::fileHead(nowSeconds, bytes) + rdb::dbHead(keys, expires);
  std::uint64_t crc = rdb::crc64(0, head);
  if (!writeAll(out.get(), head)) return give_up(failed("Write error saving DB on disk:", temporary));
  std::string chunk(1 << 20, '\0');
  for (const Part& p : parts) {
    UniqueFd in(::open(p.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) return give_up(failed("Failed opening part", p.path));
    while (true) {
      const ssize_t n = ::read(in.get(), chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return give_up(failed("Failed reading part", p.path));
      if (n == 0) break;
      const std::string_view got(chunk.data(), static_cast<std::size_t>(n));
      crc = rdb::crc64(crc, got);
      if (!writeAll(out.get(), got)) return give_up(failed("Write error saving DB on disk:", temporary));
    }
  }
  if (!writeAll(out.get(), rdb::fileTail(crc))) return give_up(failed("Write error saving DB on disk:", temporary));
  if (::fsync(out.get()) != 0) return give_up(failed("fsync", temporary));
  out.reset();
  if (::rename(temporary.c_str(), target.c_str()) != 0) return give_up(failed("Error moving temp DB file on the final destination", target));
  const std::string targetDir = target.substr(0, target.rfind('/'));
  if (UniqueFd d(::open(targetDir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)); d) ::fsync(d.get());
  return {};
}

}  // namespace

// Whether every part has `flag` set (Part::begun, Part::written).
bool allParts(const std::vector<Part>& parts, bool Part::*flag) {
  return std::all_of(parts.begin(), parts.end(), [flag](const Part& p) { return p.*flag; });
}

Snapshots::Snapshots(Loop& loop, Log& log, metrics::SharedMetrics& metrics)
    : loop_(loop), log_(log), metrics_(metrics), assembled_(loop) {
  assembled_.unref();
  assembled_.start([this] { assembled(); });
}

Snapshots::~Snapshots() {
  if (assembler_.joinable()) assembler_.join();
}

bool Snapshots::start(const PersistenceConfig& config, int workers, const Send& send, Options options) {
  if (running()) return false;
  send_ = send;
  auto c = std::make_unique<Current>();
  c->id = nextId_++;
  c->config = config;
  if (options.target.empty()) options.target = config.snapshotPath();
  c->options = std::move(options);
  c->startedMs = unixMillis();
  c->changesAtStart = metrics_.totalChanges();
  lastAttemptMs_ = c->startedMs;
  const std::string stem = config.dir + "/temp-keyloop-" + std::to_string(::getpid()) + "-" + std::to_string(c->id);
  for (int slot = 0; slot < workers; ++slot) c->parts.push_back({stem + "-" + std::to_string(slot) + ".part"});
  current_ = std::move(c);
  const bool rewrite = rewriting();
  (rewrite ? metrics_.aof().rewriteStartMs : metrics_.snapshots().currentStartMs).store(current_->startedMs);
  log_.notice(rewrite ? "Background append only file rewriting started" : "Background saving started");
  for (int slot = 0; slot < workers; ++slot) {
    const auto at = static_cast<std::size_t>(slot);
    ipc::WriteSnapshot write{current_->id, current_->options.final, current_->parts[at].path, {}};
    if (at < current_->options.logFiles.size()) write.logFile = current_->options.logFiles[at];
    if (!send_(slot, write)) {
      fail("worker " + std::to_string(slot) + " is not running");
      return true;
    }
  }
  return true;
}

void Snapshots::whenDone(Finished finished) {
  if (!running()) return finished(fail("no snapshot is running"));
  current_->waiters.push_back(std::move(finished));
}

void Snapshots::whenBegun(Finished begun) {
  if (!running() || allParts(current_->parts, &Part::begun)) return begun({});
  current_->begunWaiters.push_back(std::move(begun));
}

void Snapshots::onBegun(int slot, const ipc::SnapshotBegun& begun) {
  if (!running() || begun.id != current_->id || slot < 0 || static_cast<std::size_t>(slot) >= current_->parts.size()) return;
  current_->parts[static_cast<std::size_t>(slot)].begun = true;
  if (!allParts(current_->parts, &Part::begun)) return;
  for (auto& f : std::exchange(current_->begunWaiters, {})) f({});
}

void Snapshots::onWritten(int slot, const ipc::SnapshotWritten& written) {
  if (!running() || written.id != current_->id || current_->assembling) return;
  if (slot < 0 || static_cast<std::size_t>(slot) >= current_->parts.size()) return;
  if (!written.error.empty()) return abandon("worker " + std::to_string(slot) + ": " + written.error);
  Part& part = current_->parts[static_cast<std::size_t>(slot)];
  if (part.written) return;
  part.written = true;
  part.keys = written.keys;
  part.expires = written.expires;
  part.bytes = written.bytes;
  if (!allParts(current_->parts, &Part::written)) return;
  current_->assembling = true;
  if (assembler_.joinable()) assembler_.join();
  Current* c = current_.get();
  assembler_ = std::thread([this, c] {
    c->assembled = assemble(c->config.dir, c->options.target, c->parts, c->startedMs / 1000);
    assembled_.send();
  });
}

void Snapshots::assembled() {
  if (!running() || !current_->assembling) return;
  if (assembler_.joinable()) assembler_.join();
  finish(current_->assembled);
}

void Snapshots::abandon(const std::string& why) {
  if (!running() || current_->assembling) return;  // the assembler decides now
  finish(fail(why));
}

void Snapshots::finish(const Status& outcome) {
  const std::string error = outcome ? std::string() : outcome.error();
  std::unique_ptr<Current> c = std::move(current_);
  for (const Part& p : c->parts) ::unlink(p.path.c_str());
  const std::int64_t tookMs = unixMillis() - c->startedMs;
  if (c->options.rewrite) {
    // A rewrite: the log's own status (the master's rewrite step updates the manifest).
    metrics::AofStatus& aof = metrics_.aof();
    aof.rewriteStartMs.store(0);
    aof.lastRewriteSeconds.store(tookMs / 1000);
    aof.lastRewriteOk.store(error.empty());
    if (!error.empty()) {
      for (std::size_t slot = 0; slot < c->parts.size(); ++slot) send_(static_cast<int>(slot), ipc::DropSnapshot{c->id});
      log_.warning("Background AOF rewrite failed: %s", error.c_str());
    }
    for (Finished& f : c->begunWaiters) f(fail(error.empty() ? "the rewrite ended before it began" : error));
    for (Finished& f : c->waiters) f(outcome);
    return;
  }
  metrics::SnapshotStatus& status = metrics_.snapshots();
  status.lastSeconds.store(tookMs / 1000);
  status.currentStartMs.store(0);
  status.lastOk.store(error.empty());
  if (error.empty()) {
    status.lastSaveUnix.store(c->startedMs / 1000);
    status.changesAtLastSave.store(c->changesAtStart);
    status.saves.store(status.saves.load() + 1);
    log_.notice("DB saved on disk (%s, %llu ms)", c->options.target.c_str(), static_cast<unsigned long long>(tookMs));
  } else {
    // Every worker drops its part (and a final snapshot's held writes run).
    for (std::size_t slot = 0; slot < c->parts.size(); ++slot) send_(static_cast<int>(slot), ipc::DropSnapshot{c->id});
    status.failures.store(status.failures.load() + 1);
    log_.warning("Background saving error: %s", error.c_str());
  }
  for (Finished& f : c->begunWaiters) f(fail(error.empty() ? "the snapshot ended before it began" : error));
  for (Finished& f : c->waiters) f(outcome);
}

bool Snapshots::due(const PersistenceConfig& config) const {
  if (running() || config.save.empty()) return false;
  const metrics::SnapshotStatus& status = metrics_.snapshots();
  const std::int64_t now = unixMillis();
  if (!status.lastOk.load() && now - lastAttemptMs_ < kRetryAfterFailureMs) return false;
  const std::uint64_t changes = metrics_.totalChanges() - status.changesAtLastSave.load();
  const std::int64_t since = now / 1000 - status.lastSaveUnix.load();
  for (const SaveRule& rule : config.save) {
    if (changes >= rule.changes && since > static_cast<std::int64_t>(rule.seconds)) return true;
  }
  return false;
}

}  // namespace keyloop
