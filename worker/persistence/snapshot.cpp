#include "worker/persistence/snapshot.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "worker/persistence/rdb_file.h"

namespace keyloop {

namespace {

constexpr std::size_t kBufferBytes = 1 << 20;
constexpr int kMostInFlight = 4;
constexpr std::size_t kBucketsPerStep = 256;  // per loop iteration: under load the walk shares the loop with requests

}  // namespace

struct Snapshot::Writer {
  UniqueFd fd;
  std::mutex mutex;
  std::string error;  // the first one

  void fail(const std::string& what) {
    std::lock_guard lock(mutex);
    if (error.empty()) error = what;
  }
  Status outcome() {
    std::lock_guard lock(mutex);
    if (error.empty()) return {};
    return keyloop::fail(error);
  }
  // At its own offset: buffers written by several pool threads at once
  // land in the order they were made.
  void write(std::string_view bytes, off_t at) {
    if (!outcome()) return;
    if (!writeAll(fd.get(), bytes, at)) fail(std::string("write: ") + std::strerror(errno));
  }
};

Snapshot::Snapshot(Loop& loop, Databases& databases, ThreadPool& pool)
    : loop_(loop), databases_(databases), pool_(pool), walk_(loop) {}

Snapshot::~Snapshot() = default;

Status Snapshot::start(const std::string& path, std::string prefix, Done done) {
  if (active()) return fail("a snapshot is already being written");
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return fail(path + ": " + std::strerror(errno));
  writer_ = std::make_shared<Writer>();
  writer_->fd = std::move(fd);
  path_ = path;
  buffer_ = std::move(prefix);
  cursor_ = 0;
  walked_ = false;
  inFlight_ = 0;
  result_ = Result{};
  done_ = std::move(done);
  stores_.clear();
  for (int db = 0; db < databases_.count(); ++db) {
    stores_.push_back(&databases_[db]);
    databases_[db].beginSnapshot();
  }
  walking_ = 0;
  partDb_ = -1;
  walk_.start([this] { step(); });
  return {};
}

int Snapshot::numberAtStart(const Store& store) const {
  for (std::size_t db = 0; db < stores_.size(); ++db) {
    if (stores_[db] == &store) return static_cast<int>(db);
  }
  return -1;
}

void Snapshot::save(int db, Store::Entry* e) {
  if (db != partDb_) {
    rdb::appendSelectDb(buffer_, static_cast<std::uint64_t>(db));
    partDb_ = db;
  }
  rdb::appendRecord(buffer_, e);
  ++result_.keys;
  if (Store::expireAt(e) != kNoExpiry) ++result_.expires;
  if (buffer_.size() >= kBufferBytes) flushBuffer();
}

void Snapshot::preserve(Store& store, std::string_view key) {
  if (!active() || walked_) return;
  Store::Entry* e = store.find(key, kNoExpiry);
  if (e == nullptr || store.saved(e)) return;
  const int db = numberAtStart(store);
  if (db < 0) return;
  save(db, e);
  store.markSaved(e);
}

bool Snapshot::walkSlice() {
  // Empty databases cost nothing; the walk moves on within the slice.
  while (walking_ < stores_.size() && cursor_ == 0 && stores_[walking_]->size() == 0) ++walking_;
  if (walking_ < stores_.size()) {
    const int db = static_cast<int>(walking_);
    Store& store = *stores_[walking_];
    cursor_ = store.scanUnsaved(cursor_, kBucketsPerStep, [this, db](Store::Entry* e) { save(db, e); });
    if (cursor_ == 0) ++walking_;
    if (walking_ < stores_.size()) return false;
  }
  walked_ = true;
  walk_.stop();
  flushBuffer();
  return true;
}

void Snapshot::step() {
  if (inFlight_ >= kMostInFlight) return walk_.stop();  // resumed when a write is done
  walkSlice();
}

void Snapshot::saveRemainingNow() {
  if (!active() || walked_) return;
  while (!walkSlice()) {
  }
}

void Snapshot::flushBuffer() {
  auto bytes = std::make_shared<std::string>(std::move(buffer_));
  buffer_.clear();
  buffer_.reserve(kBufferBytes + 4096);
  const auto at = static_cast<off_t>(result_.bytes);
  result_.bytes += bytes->size();
  ++inFlight_;
  std::shared_ptr<Writer> writer = writer_;
  // No fsync: a part is only read back by the master, which fsyncs the
  // file it makes of the parts.
  pool_.submit(
      [writer, bytes, at] { writer->write(*bytes, at); },
      [this, writer] {
        if (writer != writer_) return;  // an abandoned snapshot's write
        --inFlight_;
        if (Status written = writer->outcome(); !written) return finish(written);
        if (walked_ && inFlight_ == 0) return finish({});  // the last buffer was made: all are written
        if (!walked_ && !walk_.active()) walk_.start([this] { step(); });
      });
}

void Snapshot::finish(const Status& outcome) {
  if (!active()) return;
  if (!outcome) markAllSaved();
  walk_.stop();
  writer_.reset();
  result_.error = outcome ? std::string() : outcome.error();
  Done done = std::move(done_);
  done_ = nullptr;
  done(result_);
}

void Snapshot::markAllSaved() {
  for (Store* store : stores_) store->markAllSaved();
}

void Snapshot::abandon() {
  if (!active()) return;
  // The master may have removed the parts before this one was made.
  ::unlink(path_.c_str());
  markAllSaved();
  walk_.stop();
  writer_.reset();
  done_ = nullptr;
}

}  // namespace keyloop
