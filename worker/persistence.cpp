#include "worker/persistence.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/loop/unique_fd.h"
#include "worker/client.h"
#include "worker/rdb/rdb_file.h"
#include "worker/server.h"

namespace keyloop {

namespace {

// A read-only mapping of a whole file, unmapped on scope exit.
class MappedFile {
 public:
  // Empty if the file does not exist; `error` says why it cannot be read.
  MappedFile(const std::string& path, std::string& error) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      if (errno != ENOENT) error = path + ": " + std::strerror(errno);
      return;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
      error = path + ": " + std::strerror(errno);
      return;
    }
    exists_ = true;
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ == 0) return;
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (p == MAP_FAILED) {
      error = path + ": mmap: " + std::strerror(errno);
      return;
    }
    data_ = p;
    ::madvise(p, size_, MADV_SEQUENTIAL);
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(data_, size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  bool exists() const { return exists_; }
  std::string_view bytes() const { return {static_cast<const char*>(data_), data_ ? size_ : 0}; }

 private:
  bool exists_ = false;
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace

Persistence::Persistence(Server& server, Log& log)
    : server_(server), log_(log), snapshot_(server.loop(), server.store(), server.threadPool()) {}

std::optional<std::string> Persistence::loadAtStart(const std::function<bool(std::string_view key)>& owns) {
  const PersistenceConfig& config = server_.config().persistence;
  const std::string path = config.snapshotPath();
  std::string error;
  MappedFile file(path, error);
  if (!error.empty()) return error;
  if (!file.exists()) return std::nullopt;
  const TimePoint started = Clock::now();
  rdb::LoadTarget target{server_.store(), rdb::limitsOf(server_.config().encoding), owns, nullptr, true, unixMillis()};
  // Every worker loads the libraries: each has its own interpreter.
  target.onLibrary = [this](std::string_view code) -> std::optional<std::string> {
    std::string why;
    server_.functions()->load(code, /*replace=*/true, why);
    if (!why.empty()) return why;
    return std::nullopt;
  };
  // Worker 0 checks the checksum; the others parse the same bytes.
  target.verifyChecksum = slot_ == 0;
  rdb::LoadCounts counts;
  if (auto failed = rdb::loadFile(file.bytes(), target, counts)) {
    server_.store().clear();
    return "Short read or bad format loading " + path + ": " + *failed;
  }
  server_.noteLoaded(counts.loaded, counts.expired);
  log_.notice("Worker %d: DB loaded from disk: %llu keys (%llu expired) in %.3f seconds", slot_,
              static_cast<unsigned long long>(counts.loaded), static_cast<unsigned long long>(counts.expired),
              std::chrono::duration<double>(Clock::now() - started).count());
  return std::nullopt;
}

bool Persistence::onControl(const ipc::ControlMessage& message) {
  if (auto* write = std::get_if<ipc::WriteSnapshot>(&message)) {
    if (write->final && !holdingForFinal_) {
      holdingForFinal_ = true;
      server_.dispatch().hold(/*routedToo=*/false);
    }
    std::string libraries;
    if (slot_ == 0) {
      for (const auto& [name, library] : server_.functions()->libraries()) rdb::appendFunctionLibrary(libraries, library.code);
    }
    const std::uint64_t id = write->id;
    std::string error = snapshot_.start(write->path, std::move(libraries), [this, id](const Snapshot::Result& r) {
      if (tell_) tell_(ipc::SnapshotWritten{id, r.keys, r.expires, r.bytes, r.error});
    });
    if (tell_) tell_(error.empty() ? ipc::ControlMessage(ipc::SnapshotBegun{id}) : ipc::SnapshotWritten{id, 0, 0, 0, error});
  } else if (std::holds_alternative<ipc::DropSnapshot>(message)) {
    snapshot_.abandon();
    if (std::exchange(holdingForFinal_, false)) server_.dispatch().release();
  } else if (auto* reply = std::get_if<ipc::SaveReply>(&message)) {
    auto waiting = waiting_.find(reply->token);
    if (waiting == waiting_.end()) return true;
    if (Client* c = server_.connections().find(waiting->second.clientId)) c->fillReply(waiting->second.place, reply->reply);
    waiting_.erase(waiting);
  } else {
    return false;
  }
  return true;
}

void Persistence::settingsChanged(const PersistenceConfig& next) {
  if (slot_ == 0 && tell_) tell_(ipc::SaveRulesSet{formatSaveRules(next.save), next.stopWritesOnError});
}

void Persistence::ask(Client& client, ipc::SaveKind kind, bool force) {
  const std::uint64_t place = client.reserveReply();
  if (!tell_) return client.fillReply(place, "-ERR no master to save through\r\n");
  const std::uint64_t token = nextToken_++;
  waiting_[token] = {client.id(), place};
  tell_(ipc::SaveAsked{token, kind, force});
}

}  // namespace keyloop
