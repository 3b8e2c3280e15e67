// The observers of writes every worker registers at start (effects.h has
// the pipeline that calls them). Each does one job with what a run did:
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
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "worker/effects.h"

namespace keyloop {

class Blocking;
class ChangeFeed;
class Eviction;
class Watches;
class WorkerServices;

// What migration hears of every write (Dispatch::setWriteObserver).
using WriteCallback = std::function<void(std::span<const std::string_view> args, const CommandSpec& spec)>;

// The observers, in the order Dispatch registers them. `hook` and
// `blocking` are read at each write (set later, or changed by a reload).
std::unique_ptr<CommandObserver> makeKeyspaceNotifications(WorkerServices& services);
std::unique_ptr<CommandObserver> makeWatchedKeys(Watches& watches);
std::unique_ptr<CommandObserver> makeSnapshotKeeper(WorkerServices& services);
std::unique_ptr<CommandObserver> makeChangeCounter(WorkerServices& services);
std::unique_ptr<CommandObserver> makeFeedWriter(ChangeFeed& feed);
std::unique_ptr<CommandObserver> makeMemoryGrowth(WorkerServices& services, Eviction& eviction);
std::unique_ptr<CommandObserver> makeWriteHook(const WriteCallback& hook);
std::unique_ptr<CommandObserver> makeBlockedClients(Blocking* const& blocking);

}  // namespace keyloop
