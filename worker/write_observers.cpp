#include "worker/write_observers.h"

#include <optional>
#include <utility>
#include <vector>

#include "worker/blocking.h"
#include "worker/change_feed.h"
#include "worker/command_table.h"
#include "worker/eviction.h"
#include "worker/keyspace_events.h"
#include "worker/persistence.h"
#include "worker/store.h"
#include "worker/watches.h"
#include "worker/worker_services.h"

namespace keyloop {

namespace {

class KeyspaceNotifications final : public CommandObserver {
 public:
  explicit KeyspaceNotifications(WorkerServices& services) : services_(services) {}
  std::uint32_t flags() const override { return kWrite; }
  std::uint32_t beforeFlags() const override { return kWrite; }
  void before(const CommandRun& run) override {
    // A log record at start notifies nobody (as Redis loads).
    const std::uint32_t notify = run.replaying ? 0 : services_.config().notifyKeyspaceEvents;
    recorders_.push_back(notify == 0 ? nullptr : std::make_unique<keyspace_events::Recorder>(notify, run.spec, run.ctx));
  }
  void after(const CommandRun&, const Effects& effects) override {
    std::unique_ptr<keyspace_events::Recorder> recorder = std::move(recorders_.back());
    recorders_.pop_back();
    if (recorder == nullptr) return;
    recorder->finish(effects, [this](std::string_view channel, std::string_view message) {
      services_.publishEvent(channel, message);
    });
  }

 private:
  WorkerServices& services_;
  std::vector<std::unique_ptr<keyspace_events::Recorder>> recorders_;  // a stack: runs nest
};

class WatchedKeys final : public CommandObserver {
 public:
  explicit WatchedKeys(Watches& watches) : watches_(watches) {}
  std::uint32_t flags() const override { return kWrite | kWipesKeyspace; }
  std::uint32_t beforeFlags() const override { return kWrite | kWipesKeyspace; }
  void before(const CommandRun& run) override {
    runs_.push_back(watched_.size());
    if (watches_.empty()) return;  // what most writes find: nothing more to do
    CommandContext& ctx = run.ctx;
    if (run.spec.flags & kWipesKeyspace) watches_.touchExisting(ctx.store, ctx.nowMs);
    if (!(run.spec.flags & kWrite)) return;
    // The watched keys a write names, and whether each existed: one that
    // neither existed nor exists afterwards did not change (DEL of a missing key).
    forEachKey(run.spec, ctx.args, [&](std::size_t i, std::size_t) {
      if (watches_.version(ctx.args[i]) != Watches::kUnwatched) {
        watched_.emplace_back(ctx.args[i], ctx.store.find(ctx.args[i], ctx.nowMs) != nullptr);
      }
      return true;
    });
  }
  void after(const CommandRun& run, const Effects& effects) override {
    const std::size_t from = runs_.back();
    runs_.pop_back();
    if (watched_.size() == from) return;
    if (effects.changed()) {
      for (std::size_t i = from; i < watched_.size(); ++i) {
        const auto& [key, existed] = watched_[i];
        if (existed || run.ctx.store.find(key, run.ctx.nowMs) != nullptr) watches_.touch(key);
      }
    }
    watched_.resize(from);
  }

 private:
  Watches& watches_;
  // The watched keys of every run under way, nested runs' after their
  // outer's; runs_ holds where each run's begin (a stack: runs nest).
  std::vector<std::pair<std::string_view, bool>> watched_;
  std::vector<std::size_t> runs_;
};

class SnapshotKeeper final : public CommandObserver {
 public:
  explicit SnapshotKeeper(WorkerServices& services) : services_(services) {}
  std::uint32_t flags() const override { return 0; }  // nothing to do after
  std::uint32_t beforeFlags() const override { return kWrite; }
  void before(const CommandRun& run) override {
    Persistence* persistence = run.ownStore ? services_.persistence() : nullptr;
    if (persistence == nullptr || !persistence->snapshot().active()) return;
    // A snapshot being written keeps the keys as they were: first theirs.
    if (run.spec.flags & kWipesKeyspace) persistence->snapshot().saveRemainingNow();
    forEachKey(run.spec, run.ctx.args, [&](std::size_t i, std::size_t) {
      persistence->beforeWrite(run.ctx.args[i]);
      return true;
    });
  }
  void after(const CommandRun&, const Effects&) override {}

 private:
  WorkerServices& services_;
};

class ChangeCounter final : public CommandObserver {
 public:
  explicit ChangeCounter(WorkerServices& services) : services_(services) {}
  std::uint32_t flags() const override { return kWrite; }
  void after(const CommandRun& run, const Effects& effects) override {
    if (run.ownStore && !run.replaying && effects.dirty > 0) services_.noteChanges(effects.dirty);
  }

 private:
  WorkerServices& services_;
};

class FeedWriter final : public CommandObserver {
 public:
  explicit FeedWriter(ChangeFeed& feed) : feed_(feed) {}
  std::uint32_t flags() const override { return kWrite | kMayWrite; }
  std::uint32_t beforeFlags() const override { return kMayWrite; }
  void before(const CommandRun& run) override {
    // The commands a script or a transaction runs here come as one block.
    const bool block = run.ownStore && feed_.active();
    if (block) feed_.beginAtomic();
    blocks_.push_back(block);
  }
  void after(const CommandRun& run, const Effects& effects) override {
    if (run.spec.flags & kMayWrite) {
      if (blocks_.back()) feed_.endAtomic();
      blocks_.pop_back();
    }
    if ((run.spec.flags & kWrite) && effects.changed() && run.ownStore && !(run.spec.flags & kInternal) &&
        feed_.active()) {
      feed_.record(run, effects);
    }
  }

 private:
  ChangeFeed& feed_;
  std::vector<bool> blocks_;  // a stack: runs nest
};

class MemoryGrowth final : public CommandObserver {
 public:
  MemoryGrowth(WorkerServices& services, Eviction& eviction) : services_(services), eviction_(eviction) {}
  std::uint32_t flags() const override { return kWrite; }
  void after(const CommandRun& run, const Effects&) override {
    if (services_.config().maxmemory.limit == 0 || !run.ownStore) return;
    std::size_t bytes = 64;
    for (std::string_view a : run.ctx.args) bytes += a.size();
    eviction_.noteGrowth(bytes);
  }

 private:
  WorkerServices& services_;
  Eviction& eviction_;
};

class WriteHook final : public CommandObserver {
 public:
  explicit WriteHook(const WriteCallback& hook) : hook_(hook) {}
  std::uint32_t flags() const override { return kWrite; }
  void after(const CommandRun& run, const Effects&) override {
    if (hook_) hook_(run.ctx.args, run.spec);
  }

 private:
  const WriteCallback& hook_;
};

class BlockedClients final : public CommandObserver {
 public:
  explicit BlockedClients(Blocking* const& blocking) : blocking_(blocking) {}
  std::uint32_t flags() const override { return kWrite; }
  void after(const CommandRun& run, const Effects&) override {
    if (blocking_ != nullptr) blocking_->noteWrite(run.spec, run.ctx.args);
  }

 private:
  Blocking* const& blocking_;
};

}  // namespace

std::unique_ptr<CommandObserver> makeKeyspaceNotifications(WorkerServices& services) {
  return std::make_unique<KeyspaceNotifications>(services);
}
std::unique_ptr<CommandObserver> makeWatchedKeys(Watches& watches) { return std::make_unique<WatchedKeys>(watches); }
std::unique_ptr<CommandObserver> makeSnapshotKeeper(WorkerServices& services) {
  return std::make_unique<SnapshotKeeper>(services);
}
std::unique_ptr<CommandObserver> makeChangeCounter(WorkerServices& services) {
  return std::make_unique<ChangeCounter>(services);
}
std::unique_ptr<CommandObserver> makeFeedWriter(ChangeFeed& feed) { return std::make_unique<FeedWriter>(feed); }
std::unique_ptr<CommandObserver> makeMemoryGrowth(WorkerServices& services, Eviction& eviction) {
  return std::make_unique<MemoryGrowth>(services, eviction);
}
std::unique_ptr<CommandObserver> makeWriteHook(const WriteCallback& hook) { return std::make_unique<WriteHook>(hook); }
std::unique_ptr<CommandObserver> makeBlockedClients(Blocking* const& blocking) {
  return std::make_unique<BlockedClients>(blocking);
}

}  // namespace keyloop
