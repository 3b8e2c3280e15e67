#include "worker/worker_persistence.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/loop/mapped_file.h"
#include "common/text/text.h"
#include "worker/connection/client.h"
#include "worker/connection/connections.h"
#include "worker/routing/router.h"
#include "common/aof/manifest.h"
#include "worker/persistence/replay.h"
#include "worker/persistence/rdb_file.h"
#include "worker/server.h"

namespace keyloop {


WorkerPersistence::WorkerPersistence(Server& server, Log& log)
    : Persistence(server.loop(), server.keyspaces(), server.threadPool(), log),
      server_(server),
      log_(log),
      quietWatch_(server.loop()) {
  quietWatch_.unref();
}

bool WorkerPersistence::logEstablished() const {
  // The master's word (shared memory) over the config's: while appendonly
  // yes is still writing the log's first base, the data is in the snapshot.
  const metrics::AofStatus* status = server_.aofStatus();
  return server_.config().persistence.aofEnabled && (status == nullptr || status->enabled.load());
}

Status WorkerPersistence::loadAtStart(const std::function<bool(std::string_view key)>& owns) {
  return logEstablished() ? loadLog(owns) : loadSnapshot(owns);
}

Status WorkerPersistence::loadRdb(std::string_view bytes, const std::function<bool(std::string_view key)>& owns,
                                                bool keepExpired, std::uint64_t& loaded, std::uint64_t& expired) {
  // The log's base keeps keys that have expired since: what the log did to
  // them after the base was written replays against them (as Redis loads
  // an AOF's RDB preamble).
  rdb::LoadTarget target{server_.keyspaces(), rdb::limitsOf(server_.config().encoding), owns, nullptr, true,
                         keepExpired ? 0 : unixMillis()};
  // Every worker loads the libraries: each has its own interpreter.
  target.onLibrary = [this](std::string_view code) -> Status {
    auto loaded = server_.functions()->load(code, /*replace=*/true);
    if (!loaded) return fail(loaded.error());
    return {};
  };
  // Worker 0 checks the checksum; the others parse the same bytes.
  target.verifyChecksum = slot_ == 0;
  rdb::LoadCounts counts;
  if (Status failed = rdb::loadFile(bytes, target, counts); !failed) return failed;
  loaded += counts.loaded;
  expired += counts.expired;
  return {};
}

Status WorkerPersistence::loadSnapshot(const std::function<bool(std::string_view key)>& owns) {
  const std::string path = server_.config().persistence.snapshotPath();
  auto file = MappedFile::open(path);
  if (!file) return fail(file.error());
  if (!file->exists()) return {};
  const TimePoint started = Clock::now();
  std::uint64_t loaded = 0, expired = 0;
  if (Status failed = loadRdb(file->bytes(), owns, /*keepExpired=*/false, loaded, expired); !failed) {
    clearAll();
    return fail("Short read or bad format loading " + path + ": " + failed.error());
  }
  server_.noteLoaded(loaded, expired);
  log_.notice("Worker %d: DB loaded from disk: %llu keys (%llu expired) in %.3f seconds", slot_,
              static_cast<unsigned long long>(loaded), static_cast<unsigned long long>(expired),
              std::chrono::duration<double>(Clock::now() - started).count());
  return {};
}

Status WorkerPersistence::loadLog(const std::function<bool(std::string_view key)>& owns) {
  const PersistenceConfig& config = server_.config().persistence;
  auto read = aof::readManifest(config);
  if (!read) return fail(read.error());
  const std::optional<aof::Manifest>& manifest = *read;
  if (!manifest) return {};  // the master makes it before any worker starts
  const TimePoint started = Clock::now();
  std::uint64_t loaded = 0, expired = 0;
  ReplayTarget target;
  target.self = slot_;
  target.owns = owns;
  target.loadTruncated = config.aofLoadTruncated;
  target.loadBase = [&](std::string_view bytes) { return loadRdb(bytes, owns, /*keepExpired=*/true, loaded, expired); };
  target.run = [this](std::span<const std::string_view> args, std::int64_t nowMs, int db) {
    server_.dispatch().replay(args, nowMs, db);
  };
  target.flushOwnedBy = [this](int slot, int workers, int db) { flushOwnedBy(slot, workers, db); };
  target.swapOwnedBy = [this](int slot, int workers, std::span<const std::string_view> args, std::int64_t nowMs) {
    swapOwnedBy(slot, workers, args, nowMs);
  };
  target.databases = server_.keyspaces().count();
  ReplayCounts counts;
  if (Status replayed = replayLog(config, *manifest, target, counts); !replayed) {
    clearAll();
    return replayed;
  }
  if (counts.truncatedBytes > 0) {
    log_.warning("!!! Warning: short read while loading the AOF file of worker %d !!! AOF loaded anyway because "
                 "aof-load-truncated is enabled (%llu bytes cut off)", slot_, static_cast<unsigned long long>(counts.truncatedBytes));
  }
  server_.noteLoaded(server_.keyspaces().keys(), expired);
  log_.notice("Worker %d: DB loaded from append only file: %zu keys (%llu records of %llu batches run here) in %.3f seconds",
              slot_, server_.keyspaces().keys(), static_cast<unsigned long long>(counts.applied),
              static_cast<unsigned long long>(counts.batches), std::chrono::duration<double>(Clock::now() - started).count());
  return {};
}

void WorkerPersistence::clearAll() {
  server_.keyspaces().forEach([](int, Store& store) { store.clear(); });
}

void WorkerPersistence::flushOwnedBy(int slot, int workers, int db) {
  server_.keyspaces().forEach([&](int number, Store& store) {
    if (db < 0 || number == db) flushOwnedBy(slot, workers, store);
  });
}

void WorkerPersistence::flushOwnedBy(int slot, int workers, Store& store) {
  const ring::Ring* now = server_.ring();
  // Unknown (a record no keyloop batch names): all of it, as Redis's FLUSHALL.
  if (now == nullptr || workers <= 0 || (workers == now->workers() && slot == slot_)) return store.clear();
  if (workers == now->workers()) return;  // that worker's keys were never here
  const ring::Ring then(workers);
  std::vector<std::string> gone;
  store.forEach(unixMillis(), [&](const Store::Entry* e) {
    if (then.ownerOf(Store::key(e)) == slot) gone.emplace_back(Store::key(e));
  });
  for (const std::string& key : gone) store.erase(key);
}

void WorkerPersistence::swapOwnedBy(int slot, int workers, std::span<const std::string_view> args, std::int64_t nowMs) {
  const ring::Ring* now = server_.ring();
  // The same ring: that worker's record is ours to run, or of keys never here.
  if (now == nullptr || workers <= 0 || workers == now->workers()) {
    if (now == nullptr || workers <= 0 || slot == slot_) server_.dispatch().replay(args, nowMs, 0);
    return;
  }
  // Another worker count: the keys that worker owned change stores, one by one.
  Databases& databases = server_.keyspaces();
  const auto a = args.size() == 3 ? parseInteger(args[1]) : std::nullopt;
  const auto b = args.size() == 3 ? parseInteger(args[2]) : std::nullopt;
  if (!a || !b || !databases.valid(*a) || !databases.valid(*b) || *a == *b) return;
  Store& first = databases[static_cast<int>(*a)];
  Store& second = databases[static_cast<int>(*b)];
  const ring::Ring then(workers);
  auto ownedThen = [&](Store& store) {
    std::vector<std::string> keys;
    store.forEach(0, [&](const Store::Entry* e) {
      if (then.ownerOf(Store::key(e)) == slot) keys.emplace_back(Store::key(e));
    });
    return keys;
  };
  const std::vector<std::string> fromFirst = ownedThen(first), fromSecond = ownedThen(second);
  Store parked;  // the first's keys wait here while the second's move in
  for (const std::string& key : fromFirst) parked.adopt(first, first.find(key, 0), key);
  for (const std::string& key : fromSecond) first.adopt(second, second.find(key, 0), key);
  for (const std::string& key : fromFirst) second.adopt(parked, parked.find(key, 0), key);
}

Status WorkerPersistence::startLog(int workers) {
  const PersistenceConfig& config = server_.config().persistence;
  if (!logEstablished()) return {};  // a rewrite gives this worker its file (WriteSnapshot)
  auto read = aof::readManifest(config);
  if (!read) return fail(read.error());
  const std::optional<aof::Manifest>& manifest = *read;
  const aof::FileEntry* file = manifest ? manifest->fileOf(slot_) : nullptr;
  if (file == nullptr) return fail("the AOF manifest names no file for worker " + std::to_string(slot_));
  return openLog(config.aofPath() + "/" + file->name, workers);
}

Status WorkerPersistence::openLog(const std::string& path, int workers) {
  const PersistenceConfig& config = server_.config().persistence;
  aof_.setFsync(AofLog::fsyncOf(config.aofFsync));
  if (metrics::AofStatus* status = server_.aofStatus()) aof_.setSequence(&status->sequence);
  aof_.setMetrics(&server_.workerMetrics());
  if (Status opened = aof_.open(path, slot_, workers); !opened) return opened;
  connectLog();
  return {};
}

void WorkerPersistence::connectLog() {
  server_.dispatch().feed().addConsumer(&aof_);  // the log is the feed's first consumer
  Connections& connections = server_.connections();
  aof_.setRelease([&connections](std::uint64_t id) {
    if (Client* c = connections.find(id)) c->logCaughtUp();
  });
  connections.setReplyGate([this](std::uint64_t id) { return aof_.active() && aof_.holdReply(id); });
  Router* router = server_.dispatch().router();
  if (router == nullptr) return;
  router->setBeforePublish([this] { aof_.write(); });
  router->setJournal([this](int db, Store& scratch, std::span<const std::string_view> keys, std::int64_t nowMs) {
    ChangeFeed& feed = server_.dispatch().feed();
    if (!feed.active()) return;
    FeedBlock block(&feed);
    for (std::string_view key : keys) feed.recordState(db, key, scratch.find(key, nowMs));
  });
}

void WorkerPersistence::holdForRewrite(std::uint64_t id) {
  if (!holdingForRewrite_) {
    holdingForRewrite_ = true;
    server_.dispatch().hold(/*routedToo=*/false);
  }
  // Nothing of ours out at another worker: no transaction spans the moment
  // every worker moves to its new file.
  auto tell = [this, id] {
    quietWatch_.stop();
    if (tell_) tell_(ipc::WritesHeld{id});
  };
  if (server_.dispatch().quiet()) return tell();
  quietWatch_.start([this, tell] {
    if (server_.dispatch().quiet()) tell();
  });
}

bool WorkerPersistence::onControl(const ipc::ControlMessage& message) {
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
    if (!write->logFile.empty()) {
      // A rewrite: what comes after this moment goes to the new file.
      const ring::Ring* ring = server_.ring();
      if (Status opened = openLog(write->logFile, ring ? ring->workers() : 1); !opened) {
        log_.warning("%s", opened.error().c_str());
      }
      if (std::exchange(holdingForRewrite_, false)) server_.dispatch().release();
    }
    const Status started = snapshot_.start(write->path, std::move(libraries), [this, id](const Snapshot::Result& r) {
      if (tell_) tell_(ipc::SnapshotWritten{id, r.keys, r.expires, r.bytes, r.error});
    });
    if (tell_) {
      tell_(started ? ipc::ControlMessage(ipc::SnapshotBegun{id}) : ipc::SnapshotWritten{id, 0, 0, 0, started.error()});
    }
  } else if (auto* hold = std::get_if<ipc::HoldWrites>(&message)) {
    holdForRewrite(hold->id);
  } else if (std::holds_alternative<ipc::DropSnapshot>(message)) {
    snapshot_.abandon();
    quietWatch_.stop();
    if (std::exchange(holdingForRewrite_, false)) server_.dispatch().release();
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

void WorkerPersistence::settingsChanged(const PersistenceConfig& next) {
  aof_.setFsync(AofLog::fsyncOf(next.aofFsync));
  // appendonly no: the file is fsynced and closed (yes: the master's
  // rewrite gives this worker its file as its part of the base begins).
  if (!next.aofEnabled) aof_.close();
  if (slot_ == 0 && tell_) tell_(ipc::PersistenceSet{formatSaveRules(next.save), next.stopWritesOnError, next.aofEnabled});
}

void WorkerPersistence::ask(Client& client, ipc::SaveKind kind, bool force) {
  const std::uint64_t place = client.reserveReply();
  if (!tell_) return client.fillReply(place, "-ERR no master to save through\r\n");
  const std::uint64_t token = nextToken_++;
  waiting_[token] = {client.id(), place};
  tell_(ipc::SaveAsked{token, kind, force});
}

}  // namespace keyloop
