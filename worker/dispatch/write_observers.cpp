#include "worker/dispatch/write_observers.h"

#include "worker/dispatch/blocking.h"
#include "worker/keyspace/eviction.h"
#include "worker/persistence/persistence.h"
#include "worker/keyspace/databases.h"
#include "worker/keyspace/store.h"

namespace keyloop {

void KeyspaceNotifications::publish(const Effects& effects, std::uint32_t flags, int db) {
  keyspace_events::publishRaised(flags, effects.events, db, [this](std::string_view channel, std::string_view message) {
    services_.publishEvent(channel, message);
  });
}

void WatchedKeys::note(const CommandRun& run, State& state) {
  CommandContext& ctx = run.ctx;
  if (run.spec.flags & kWipesKeyspace) {
    Databases* databases = services_.databases();
    if ((run.spec.flags & kEveryDatabase) && databases != nullptr) {
      databases->forEach([&](int db, Store& store) { watches_.touchExisting(db, store, ctx.nowMs); });
    } else {
      watches_.touchExisting(ctx.db, ctx.store, ctx.nowMs);
    }
  }
  if (!(run.spec.flags & kWrite)) return;
  forEachKey(run.spec, ctx.args, [&](std::size_t i, std::size_t) {
    if (watches_.version(ctx.db, ctx.args[i]) != Watches::kUnwatched) {
      state.emplace_back(ctx.args[i], ctx.store.find(ctx.args[i], ctx.nowMs) != nullptr);
    }
    return true;
  });
}

void WatchedKeys::touch(const CommandRun& run, const State& state) {
  for (const auto& [key, existed] : state) {
    if (existed || run.ctx.store.find(key, run.ctx.nowMs) != nullptr) watches_.touch(run.ctx.db, key);
  }
}

void SnapshotKeeper::before(const CommandRun& run) {
  Persistence* persistence = run.ownStore ? services_.persistence() : nullptr;
  if (persistence == nullptr || !persistence->snapshot().active()) return;
  // A snapshot being written keeps the keys as they were: first theirs.
  if (run.spec.flags & kWipesKeyspace) persistence->snapshot().saveRemainingNow();
  forEachKey(run.spec, run.ctx.args, [&](std::size_t i, std::size_t) {
    persistence->beforeWrite(run.ctx.store, run.ctx.args[i]);
    return true;
  });
}

void MemoryGrowth::note(const CommandRun& run) {
  std::size_t bytes = 64;
  for (std::string_view a : run.ctx.args) bytes += a.size();
  eviction_.noteGrowth(bytes);
}

void BlockedClients::after(const CommandRun& run, const Effects& effects) {
  if (blocking_ == nullptr || !effects.changed()) return;
  blocking_->noteWrite(run.ctx.db, run.spec, run.ctx.args);
  for (const KeyInDatabase& k : effects.elsewhere) blocking_->noteReady(k.db, k.key);
}

}  // namespace keyloop
