// The master's part of the append-only log: its files before workers
// start, BGREWRITEAOF, the automatic rewrite and the log's size.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/ipc/control.h"
#include "master/master.h"
#include "common/aof/log_file.h"

namespace keyloop {

namespace {

std::uint64_t sizeOf(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

// The base's bytes and everything's (base and increments).
std::pair<std::uint64_t, std::uint64_t> logSizes(const PersistenceConfig& config, const aof::Manifest& m) {
  const std::string dir = config.aofPath() + "/";
  const std::uint64_t base = m.base ? sizeOf(dir + m.base->name) : 0;
  std::uint64_t all = base;
  for (const aof::FileEntry& f : m.incremental) all += sizeOf(dir + f.name);
  return {base, all};
}

}  // namespace

bool Master::sendToWorker(int slot, const ipc::ControlMessage& message) {
  const WorkerSlot& s = serving_->slot(slot);
  return s.pid > 0 && s.control && ipc::sendControl(s.control.get(), ipc::encode(message));
}

Status Master::prepareLog(const PersistenceConfig& config, int workers) {
  if (!config.aofEnabled) return {};
  const bool first = !logManifest_;
  // A reload's new generation: files of its own (replay merges every file by sequence).
  if (Status prepared = aof::prepareAofFiles(config, workers, !first, logManifest_); !prepared) return prepared;
  if (first && config.aofLoadTruncated) {
    // A batch cut short by a crash goes before any worker maps the files
    // (common/aof/log_file.h: cutShortTails says why not in the workers).
    std::vector<aof::CutTail> cut;
    if (Status cutDone = aof::cutShortTails(config, *logManifest_, cut); !cutDone) return cutDone;
    for (const aof::CutTail& tail : cut) {
      log_.warning("!!! Warning: short read while loading the AOF file %s !!! AOF loaded anyway because "
                   "aof-load-truncated is enabled (%llu bytes cut off)", tail.file.c_str(),
                   static_cast<unsigned long long>(tail.bytes));
    }
  }
  logOn_ = true;
  metrics_->aof().enabled.store(true);
  const auto [base, all] = logSizes(config, *logManifest_);
  metrics_->aof().baseSize.store(base);
  metrics_->aof().currentSize.store(all);
  if (first) logBaseSize_ = all;  // as Redis: the size at load is the base of the growth rule
  return {};
}

void Master::readManifestOnce(const PersistenceConfig& config) {
  if (logManifest_) return;
  // Unreadable: the rewrite numbers its files from 1, as with none.
  if (auto read = aof::readManifest(config)) logManifest_ = std::move(read).value();
}

Status Master::startRewrite(Begun begun) {
  const PersistenceConfig& config = this->config().persistence;
  if (rewrite_ || snapshots_->rewriting()) return fail("ERR Background append only file rewriting already in progress");
  if (step_ != ReloadStep::Idle) return fail("ERR keyloop is reloading; BGREWRITEAOF again once the reload is done");
  metrics_->aof().rewriteScheduled.store(false);
  if (!config.aofEnabled) {
    // The log is off: as Redis, a base and a manifest naming only it (no
    // worker moves to a file; nothing is held).
    if (::mkdir(config.aofPath().c_str(), 0755) != 0 && errno != EEXIST) {
      return fail("ERR Can't create the AOF directory " + config.aofPath() + ": " + std::strerror(errno));
    }
    readManifestOnce(config);
    writeBase(logManifest_.value_or(aof::Manifest{}).lastSeq() + 1, {}, {}, std::move(begun));
    return {};
  }
  rewrite_ = Rewrite{nextRewriteId_++, std::vector<bool>(static_cast<std::size_t>(serving_->workers()), false),
                     std::move(begun)};
  for (int slot = 0; slot < serving_->workers(); ++slot) {
    if (!sendToWorker(slot, ipc::HoldWrites{rewrite_->id})) {
      log_.warning("Can't rewrite the append only file: worker %d is not running", slot);
      abandonRewrite("worker " + std::to_string(slot) + " is not running");
      return {};
    }
  }
  return {};
}

void Master::abandonRewrite(const std::string& why) {
  for (int s = 0; s < serving_->workers(); ++s) sendToWorker(s, ipc::DropSnapshot{0});  // their holds end
  const Begun begun = std::move(rewrite_->begun);
  rewrite_.reset();
  begun(fail(why));
}

void Master::onWritesHeld(int slot, const ipc::WritesHeld& held) {
  if (!rewrite_ || held.id != rewrite_->id || slot < 0 || static_cast<std::size_t>(slot) >= rewrite_->held.size()) return;
  rewrite_->held[static_cast<std::size_t>(slot)] = true;
  if (std::find(rewrite_->held.begin(), rewrite_->held.end(), false) != rewrite_->held.end()) return;
  // Every worker is still: the new files go into the manifest before anything is written to them.
  const PersistenceConfig& config = this->config().persistence;
  aof::Manifest during = logManifest_.value_or(aof::Manifest{});
  aof::Manifest after;
  std::vector<std::string> logFiles;
  for (int s = 0; s < serving_->workers(); ++s) {
    const aof::FileEntry& file = during.addFile(config, s);
    logFiles.push_back(config.aofPath() + "/" + file.name);
    after.incremental.push_back(file);
  }
  // Turning the log on, the manifest waits for the base: until then the
  // data is where it was (the snapshot), as in Redis.
  if (logOn_) {
    if (Status written = aof::writeManifest(config, during); !written) {
      log_.warning("Background AOF rewrite failed: %s", written.error().c_str());
      return abandonRewrite(written.error());
    }
    logManifest_ = during;
  }
  const Begun begun = std::move(rewrite_->begun);
  rewrite_.reset();
  writeBase(during.lastSeq() + 1, std::move(after), std::move(logFiles), begun);
}

void Master::writeBase(std::uint64_t seq, aof::Manifest after, std::vector<std::string> logFiles, Begun begun) {
  const PersistenceConfig& config = this->config().persistence;
  after.base = aof::FileEntry{aof::baseName(config, seq), seq};
  Snapshots::Options options;
  options.rewrite = true;
  options.target = config.aofPath() + "/" + after.base->name;
  options.logFiles = std::move(logFiles);
  snapshots_->start(config, serving_->workers(), [this](int s, const ipc::ControlMessage& m) { return sendToWorker(s, m); },
                    options);
  snapshots_->whenDone([this, after](const Status& written) { rewriteDone(written, after); });
  snapshots_->whenBegun(std::move(begun));
}

void Master::rewriteDone(const Status& written, const aof::Manifest& next) {
  metrics::AofStatus& status = metrics_->aof();
  const PersistenceConfig& config = this->config().persistence;
  if (!written || !aof::writeManifest(config, next)) {
    status.lastRewriteOk.store(false);
    status.consecutiveFailures.store(status.consecutiveFailures.load() + 1);
    if (next.base) ::unlink((config.aofPath() + "/" + next.base->name).c_str());  // a base no manifest names
    return;
  }
  // The older files are history now: the new base holds what they did.
  const aof::Manifest old = logManifest_.value_or(aof::Manifest{});
  logManifest_ = next;
  if (!logOn_ && config.aofEnabled) {
    logOn_ = true;
    status.enabled.store(true);
    log_.notice("Background append only file rewriting finished: the append only file is on");
  }
  const std::string dir = config.aofPath() + "/";
  if (old.base) ::unlink((dir + old.base->name).c_str());
  for (const aof::FileEntry& f : old.incremental) {
    if (std::find(next.incremental.begin(), next.incremental.end(), f) == next.incremental.end()) ::unlink((dir + f.name).c_str());
  }
  status.rewrites.store(status.rewrites.load() + 1);
  status.consecutiveFailures.store(0);
  const auto [base, all] = logSizes(config, next);
  status.baseSize.store(base);
  status.currentSize.store(all);
  logBaseSize_ = all;
  log_.notice("Background AOF rewrite finished successfully");
}

void Master::checkLogRules() {
  const PersistenceConfig& config = this->config().persistence;
  if (!config.aofEnabled && logOn_) {
    logOn_ = false;  // the workers closed their files (appendonly no)
    metrics_->aof().enabled.store(false);
    log_.notice("The append only file is off");
  }
  if (!config.aofEnabled || stopping_ || finalSnapshot_) return;
  if (!logOn_) {
    // appendonly yes: the files, then the first rewrite's base.
    if (rewrite_ || snapshots_->running() || step_ != ReloadStep::Idle) return;
    if (::mkdir(config.aofPath().c_str(), 0755) != 0 && errno != EEXIST) {
      return log_.warning("Can't create the AOF directory %s: %s", config.aofPath().c_str(), std::strerror(errno));
    }
    readManifestOnce(config);  // older files: their seqs go on, they go
    log_.notice("The append only file is on: writing its base");
    (void)startRewrite([](const Status&) {});
    return;
  }
  if (!logManifest_) return;
  const auto [base, all] = logSizes(config, *logManifest_);
  metrics_->aof().currentSize.store(all);
  if (rewrite_ || snapshots_->running() || step_ != ReloadStep::Idle) return;
  const std::uint64_t from = logBaseSize_ > 0 ? logBaseSize_ : 1;
  const bool grown = config.autoRewritePercentage > 0 && all >= config.autoRewriteMinSize &&
                     (all > from ? (all - from) * 100 / from : 0) >= static_cast<std::uint64_t>(config.autoRewritePercentage);
  if (!metrics_->aof().rewriteScheduled.load() && !grown) return;
  if (grown) {
    log_.notice("Starting automatic rewriting of AOF on %llu%% growth",
                static_cast<unsigned long long>(all > from ? (all - from) * 100 / from : 0));
  }
  (void)startRewrite([](const Status&) {});
}

}  // namespace keyloop
