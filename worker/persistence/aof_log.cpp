#include "worker/persistence/aof_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/aof/log_file.h"
#include "worker/persistence/dump.h"

namespace keyloop {

namespace {

constexpr auto kEverySecond = std::chrono::seconds(1);

void appendBulk(std::string& out, std::string_view arg) {
  out += '$';
  out += std::to_string(arg.size());
  out += "\r\n";
  out.append(arg);
  out += "\r\n";
}

void appendCommand(std::string& out, std::initializer_list<std::string_view> args) {
  out += '*';
  out += std::to_string(args.size());
  out += "\r\n";
  for (std::string_view a : args) appendBulk(out, a);
}

}  // namespace

struct AofLog::File {
  UniqueFd fd;
};

AofLog::Fsync AofLog::fsyncOf(std::string_view appendfsync) {
  if (appendfsync == "always") return Fsync::Always;
  if (appendfsync == "no") return Fsync::No;
  return Fsync::EverySecond;
}

AofLog::AofLog(Loop& loop, ThreadPool& pool, Log& log)
    : loop_(loop), pool_(pool), log_(log), beforeSleep_(loop), afterPoll_(loop), everySecond_(loop) {
  beforeSleep_.unref();
  afterPoll_.unref();
  everySecond_.unref();
}

AofLog::~AofLog() {
  *alive_ = false;
  close();
}

void AofLog::setFsync(Fsync fsync) {
  fsync_ = fsync;
  releaseDurable();
  if (fsync_ == Fsync::Always) startFsync();
}

Status AofLog::open(const std::string& path, int slot, int workers) {
  auto file = std::make_shared<File>();
  file->fd = UniqueFd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!file->fd) return fail("Can't open the append-only file " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(file->fd.get(), &st) != 0) return fail("Can't stat the append-only file " + path + ": " + std::strerror(errno));
  write();
  // A new file is read from database 0 on; the end of one that has records
  // is in a database we do not know. What is still pending (a write that
  // failed) selects the database it was logged against.
  const int fileStart = st.st_size == 0 ? 0 : -1;
  if (buffer_.empty()) {
    db_ = fileStart;
  } else if (bufferStartDb_ >= 0 && bufferStartDb_ != fileStart) {
    std::string select;
    appendCommand(select, {"SELECT", std::to_string(bufferStartDb_)});
    buffer_.insert(0, select);
    if (atomicDepth_ > 0) atomicStart_ += select.size();
  }
  bufferStartDb_ = fileStart;
  if (file_) unsynced_.push_back(file_);  // its last batches still get their fsync
  file_ = std::move(file);
  path_ = path;
  slot_ = slot;
  workers_ = workers;
  fileSize_ = static_cast<std::uint64_t>(st.st_size);
  beforeSleep_.start([this] { write(); });
  afterPoll_.start([this] { write(); });
  everySecond_.start(kEverySecond, kEverySecond, [this] {
    write();  // a failed write is tried again
    if (fsync_ != Fsync::No) startFsync();
  });
  return {};
}

void AofLog::close() {
  if (!file_) return;
  write();
  // Stopping: the last fsync waits for the disk right here.
  for (const auto& f : unsynced_) ::fdatasync(f->fd.get());
  ::fdatasync(file_->fd.get());
  unsynced_.clear();
  synced_ = written_;
  releaseDurable();
  file_.reset();
  beforeSleep_.stop();
  afterPoll_.stop();
  everySecond_.stop();
}

void AofLog::noteRecord(int db) {
  if (buffer_.empty()) batchMs_ = unixMillis();
  if (atomicDepth_ > 0) ++atomicRecords_;
  if (db == db_) return;
  appendCommand(buffer_, {"SELECT", std::to_string(db)});
  db_ = db;
}

void AofLog::append(int db, std::span<const std::string_view> args) {
  if (!active()) return;
  noteRecord(db);
  buffer_ += '*';
  buffer_ += std::to_string(args.size());
  buffer_ += "\r\n";
  for (std::string_view a : args) appendBulk(buffer_, a);
}

void AofLog::appendState(int db, std::string_view key, const Store::Entry* entry) {
  if (!active()) return;
  noteRecord(db);
  if (entry == nullptr) return appendCommand(buffer_, {"DEL", key});
  const std::int64_t expireAt = Store::expireAt(entry);
  const std::string ttl = std::to_string(expireAt == kNoExpiry ? 0 : expireAt);
  appendCommand(buffer_, {"RESTORE", key, ttl, rdb::dumpPayload(entry), "REPLACE", "ABSTTL"});
}

void AofLog::beginAtomic() {
  if (atomicDepth_++ > 0) return;
  atomicStart_ = buffer_.size();
  blockDb_ = db_;
  atomicRecords_ = 0;
}

void AofLog::endAtomic() {
  if (atomicDepth_ == 0 || --atomicDepth_ > 0) return;
  if (atomicRecords_ < 2) return;  // one record is atomic by itself
  std::string multi;
  appendCommand(multi, {"MULTI"});
  buffer_.insert(atomicStart_, multi);
  appendCommand(buffer_, {"EXEC"});
}

void AofLog::write() {
  if (!active()) return;
  // An open block waits for its end: it never spans two batches.
  const std::size_t ready = atomicDepth_ > 0 ? atomicStart_ : buffer_.size();
  if (ready == 0) return;
  const std::uint64_t seq = sequence_->fetch_add(1, std::memory_order_relaxed) + 1;
  const std::string head = aof::batchAnnotation(seq, batchMs_, slot_, workers_, ready);
  const std::size_t total = head.size() + ready;
  std::size_t done = 0;
  while (done < total) {
    // What is left: the rest of the annotation, if any, then of the records.
    iovec rest[2];
    int count = 0;
    if (done < head.size()) rest[count++] = {const_cast<char*>(head.data()) + done, head.size() - done};
    const std::size_t recordsDone = done > head.size() ? done - head.size() : 0;
    rest[count++] = {buffer_.data() + recordsDone, ready - recordsDone};
    const ssize_t n = ::writev(file_->fd.get(), rest, count);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n == 0 ? ENOSPC : errno;
      // A partial batch would be a torn record: it goes, and the whole batch stays to be tried again.
      if (done > 0 && ::ftruncate(file_->fd.get(), static_cast<off_t>(fileSize_)) != 0) {
        log_.warning("Can't cut a partial write off the append-only file %s: %s", path_.c_str(), std::strerror(errno));
      }
      if (failure_.empty()) {
        log_.warning("Error writing to the AOF file: %s", std::strerror(error));
        if (metrics_) metrics::bump(metrics_->aofWriteErrors);
      }
      failure_ = std::strerror(error);
      if (metrics_) metrics_->aofWriteFailing.store(1, std::memory_order_relaxed);
      // Replies are not held while the disk refuses (writes get -MISCONF).
      return releaseSoon();
    }
    done += static_cast<std::size_t>(n);
  }
  if (!failure_.empty()) {
    log_.notice("AOF write error looks solved, Redis can write again.");
    failure_.clear();
    if (metrics_) metrics_->aofWriteFailing.store(0, std::memory_order_relaxed);
  }
  fileSize_ += total;
  written_ += ready;
  if (metrics_) metrics::bump(metrics_->aofBytes, total);
  buffer_.erase(0, ready);
  if (atomicDepth_ > 0) atomicStart_ -= ready;
  bufferStartDb_ = atomicDepth_ > 0 ? blockDb_ : db_;
  batchMs_ = buffer_.empty() ? 0 : unixMillis();
  if (unsynced_.empty() || unsynced_.back() != file_) unsynced_.push_back(file_);
  if (fsync_ == Fsync::Always) return startFsync();
  releaseSoon();
}

void AofLog::releaseSoon() {
  // Not from in here: write() runs inside a channel's publish, and a
  // released client runs its next commands.
  loop_.defer([this, alive = alive_] {
    if (*alive) releaseDurable();
  });
}

bool AofLog::holdReply(std::uint64_t clientId) {
  if (!active() || failing()) return false;
  const std::uint64_t appended = written_ + buffer_.size();
  if (appended <= durable()) return false;
  waiters_.push_back({appended, clientId, nullptr});
  return true;
}

void AofLog::whenDurable(std::function<void()> task) {
  const std::uint64_t appended = written_ + buffer_.size();
  if (!active() || failing() || appended <= durable()) return task();
  waiters_.push_back({appended, 0, std::move(task)});
}

void AofLog::releaseDurable() {
  const std::uint64_t level = failing() ? written_ + buffer_.size() : durable();
  while (!waiters_.empty() && waiters_.front().need <= level) {
    Waiter w = std::move(waiters_.front());
    waiters_.pop_front();
    if (w.task) w.task();
    else if (release_) release_(w.clientId);
  }
}

void AofLog::startFsync() {
  if (fsyncing_ || synced_ == written_ || unsynced_.empty()) return;
  fsyncing_ = true;
  const std::uint64_t upTo = written_;
  auto files = std::exchange(unsynced_, {});
  auto ok = std::make_shared<bool>(true);
  auto started = std::make_shared<TimePoint>(Clock::now());
  pool_.submit(
      [files, ok] {
        for (const auto& f : files) *ok = ::fdatasync(f->fd.get()) == 0 && *ok;
      },
      [this, alive = alive_, files, ok, started, upTo] {
        if (!*alive) return;
        if (metrics_) metrics_->aofFsync.observe(Clock::now() - *started);
        if (!*ok) {
          // Its files are fsynced again next time.
          unsynced_.insert(unsynced_.begin(), files.begin(), files.end());
        }
        fsyncDone(upTo, *ok);
      });
}

void AofLog::fsyncDone(std::uint64_t upTo, bool ok) {
  fsyncing_ = false;
  if (ok) {
    synced_ = std::max(synced_, upTo);
    if (metrics_) metrics::bump(metrics_->aofFsyncs);
  } else {
    log_.warning("Fsync of the append-only file %s failed: %s", path_.c_str(), std::strerror(errno));
  }
  releaseDurable();
  // More was written meanwhile: its waiters need the next one.
  if (ok && fsync_ == Fsync::Always) startFsync();
}

}  // namespace keyloop
