// The observers of writes every worker has from the start, in the order
// the pipeline (effects.h, Dispatch::run) calls them:
//
//   KeyspaceNotifications  publishes the keyspace events of a change
//   WatchedKeys            moves WATCH's version of a changed key
//   SnapshotKeeper         keeps a key as it was for a snapshot being written
//   ChangeCounter          counts changes for the save rules (server.dirty)
//   FeedWriter             puts the change on the change feed (change_feed.h:
//                          the append-only log reads it), a script's or
//                          transaction's writes as one block
//   MemoryGrowth           the maxmemory estimate of what a write may add
//   WriteHook              a reload's migration, which re-sends what changed
//   BlockedClients         serves clients blocked on a key a write filled
//
// Every write passes all of them, so they are called directly (WriteObservers
// holds them; no virtual call), and what most writes find (no watcher, no
// notification, no snapshot, no log, no limit) is one test each, as cheap as
// the inline checks they replaced. What one run keeps from before its
// handler to after lives in a RunState on the pipeline's stack, so nested
// runs (a script's commands) need no bookkeeping. An observer added later
// (replication, client tracking) registers as a CommandObserver instead.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "worker/execution/change_feed.h"
#include "worker/execution/command_table.h"
#include "worker/execution/effects.h"
#include "worker/execution/keyspace_events.h"
#include "worker/execution/watches.h"
#include "worker/execution/worker_services.h"

namespace keyloop {

class Blocking;
class Eviction;

// What migration hears of every write (Dispatch::setWriteObserver).
using WriteCallback = std::function<void(const CommandRun& run, const Effects& effects)>;

class KeyspaceNotifications {
 public:
  explicit KeyspaceNotifications(WorkerServices& services) : services_(services) {}
  using State = std::unique_ptr<keyspace_events::Recorder>;  // null: nothing to publish
  void before(const CommandRun& run, State& state) {
    // A log record at start notifies nobody (as Redis loads).
    const std::uint32_t notify = run.replaying ? 0 : services_.config().notifyKeyspaceEvents;
    if (notify != 0) state = std::make_unique<keyspace_events::Recorder>(notify, run.spec, run.ctx);
  }
  // The events the run raised go into its effects, for every observer.
  void raise(Effects& effects, const State& state) {
    if (state != nullptr) state->collect(effects, effects.events);
  }
  void after(const CommandRun& run, const Effects& effects, const State& state) {
    if (state != nullptr && !effects.events.empty()) publish(effects, state->flags(), run.ctx.db);
  }

 private:
  void publish(const Effects& effects, std::uint32_t flags, int db);
  WorkerServices& services_;
};

class WatchedKeys {
 public:
  WatchedKeys(WorkerServices& services, Watches& watches) : services_(services), watches_(watches) {}
  // The watched keys a write names, and whether each existed: one that
  // neither existed nor exists afterwards did not change (DEL of a missing key).
  using State = std::vector<std::pair<std::string_view, bool>>;
  void before(const CommandRun& run, State& state) {
    if (!watches_.empty()) note(run, state);  // what most writes find: nobody watches
  }
  void after(const CommandRun& run, const Effects& effects, const State& state) {
    if (!effects.changed()) return;
    if (!state.empty()) touch(run, state);
    for (const KeyInDatabase& k : effects.elsewhere) watches_.touch(k.db, k.key);
  }

 private:
  void note(const CommandRun& run, State& state);
  void touch(const CommandRun& run, const State& state);
  WorkerServices& services_;
  Watches& watches_;
};

class SnapshotKeeper {
 public:
  explicit SnapshotKeeper(WorkerServices& services) : services_(services) {}
  void before(const CommandRun& run);

 private:
  WorkerServices& services_;
};

class ChangeCounter {
 public:
  explicit ChangeCounter(WorkerServices& services) : services_(services) {}
  void after(const CommandRun& run, const Effects& effects) {
    if (run.ownStore && !run.replaying && effects.dirty > 0) services_.noteChanges(effects.dirty);
  }

 private:
  WorkerServices& services_;
};

class FeedWriter {
 public:
  explicit FeedWriter(ChangeFeed& feed) : feed_(feed) {}
  using State = bool;  // a block opened for a script or a transaction
  void before(const CommandRun& run, State& block) {
    // The commands a script or a transaction runs here come as one block.
    block = (run.spec.flags & kMayWrite) && run.ownStore && feed_.active();
    if (block) feed_.beginAtomic();
  }
  void after(const CommandRun& run, const Effects& effects, State block) {
    if (block) feed_.endAtomic();
    if ((run.spec.flags & kWrite) && effects.changed() && run.ownStore && run.spec.peer == peer::Kind::None &&
        feed_.active()) {
      feed_.record(run, effects);
    }
  }

 private:
  ChangeFeed& feed_;
};

class MemoryGrowth {
 public:
  MemoryGrowth(WorkerServices& services, Eviction& eviction) : services_(services), eviction_(eviction) {}
  void after(const CommandRun& run) {
    if (services_.config().maxmemory.limit != 0 && run.ownStore) note(run);
  }

 private:
  void note(const CommandRun& run);
  WorkerServices& services_;
  Eviction& eviction_;
};

class WriteHook {
 public:
  explicit WriteHook(const WriteCallback& hook) : hook_(hook) {}
  void after(const CommandRun& run, const Effects& effects) {
    if (hook_) hook_(run, effects);
  }

 private:
  const WriteCallback& hook_;  // set later (a reload's migration), read at each write
};

class BlockedClients {
 public:
  explicit BlockedClients(Blocking* const& blocking) : blocking_(blocking) {}
  // Only a write that changed something (a group read that found nothing
  // wrote nothing: serving it again would find nothing again).
  void after(const CommandRun& run, const Effects& effects);

 private:
  Blocking* const& blocking_;  // set once the worker's Blocking exists
};

// The built-in observers, called in the order of this file's header for
// runs of commands with any of kFlags.
class WriteObservers {
 public:
  static constexpr std::uint32_t kFlags = kWrite | kMayWrite | kWipesKeyspace;
  WriteObservers(WorkerServices& services, Watches& watches, Eviction& eviction, ChangeFeed& feed,
                 const WriteCallback& hook, Blocking* const& blocking)
      : notifications_(services), watched_(services, watches), snapshot_(services), counter_(services), feed_(feed),
        memory_(services, eviction), hook_(hook), blocked_(blocking) {}

  struct RunState {
    KeyspaceNotifications::State notifications;
    WatchedKeys::State watched;
    FeedWriter::State feedBlock = false;
  };
  void before(const CommandRun& run, RunState& state) {
    const std::uint32_t flags = run.spec.flags;
    if (flags & kWrite) notifications_.before(run, state.notifications);
    if (flags & (kWrite | kWipesKeyspace)) watched_.before(run, state.watched);
    if (flags & kWrite) snapshot_.before(run);
    feed_.before(run, state.feedBlock);
  }
  // Step 3 of the pipeline (effects.h): what only these observers knew
  // from before the run goes into its effects.
  void settle(Effects& effects, const RunState& state) { notifications_.raise(effects, state.notifications); }
  void after(const CommandRun& run, const Effects& effects, RunState& state) {
    // A script or transaction (not a write itself) only closes its block.
    if (!(run.spec.flags & kWrite)) return feed_.after(run, effects, state.feedBlock);
    notifications_.after(run, effects, state.notifications);
    watched_.after(run, effects, state.watched);
    counter_.after(run, effects);
    feed_.after(run, effects, state.feedBlock);
    memory_.after(run);
    hook_.after(run, effects);
    blocked_.after(run, effects);
  }

 private:
  KeyspaceNotifications notifications_;
  WatchedKeys watched_;
  SnapshotKeeper snapshot_;
  ChangeCounter counter_;
  FeedWriter feed_;
  MemoryGrowth memory_;
  WriteHook hook_;
  BlockedClients blocked_;
};

}  // namespace keyloop
