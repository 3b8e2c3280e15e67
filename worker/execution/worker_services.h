// WorkerServices: what a command handler may use of the worker it runs on,
// and nothing more (a handler sees this, never the Server): settings,
// counters, key locks, the clients (CLIENT LIST, INFO), the thread pool
// for work too big for the loop, and the facts INFO reports.
//
// Server implements it; the unit tests of the atomic executor run the real
// lock and commit handlers against a small fake of it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/config/config.h"
#include "common/ring/ring.h"
#include "common/loop/clock.h"
#include "common/config/version.h"
#include "common/metrics/shared_metrics.h"
#include "worker/execution/stats.h"
#include "common/result/result.h"

namespace keyloop {

class Blocking;
class Databases;
class Store;
class Persistence;
class FunctionLibraries;
class LuaEngine;
struct CommandContext;
struct CommandSpec;
struct ResolvedCommand;
struct ScriptCall;
class Channels;
class Watches;
class Client;
class KeyLocks;
class LagMonitor;
class ThreadPool;
class Slowlog;
class Monitors;
class ClientPause;
class Tracking;
class AofWaits;
class WorkerStats;

// What a busy worker answers (Redis's slowscripterr / slowfunctionerr).
inline std::string_view busyScriptError(bool function) {
  return function ? "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
                  : "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
}

class WorkerServices {
 public:
  virtual ~WorkerServices() = default;
  virtual const Config& config() const = 0;
  // Runs with new settings from now on (CONFIG SET; a reload too).
  virtual void applyConfig(const Config& next) = 0;
  virtual ServerStats& stats() = 0;
  // This worker's numbered keyspaces (SELECT, MOVE, SWAPDB); null in unit
  // tests that run handlers against one store.
  virtual Databases* databases() { return nullptr; }
  virtual KeyLocks& locks() = 0;
  virtual ThreadPool& threadPool() = 0;
  // The loop's time (what idle times and uptime are measured in).
  virtual TimePoint now() const = 0;
  virtual const std::map<std::uint64_t, std::unique_ptr<Client>>& clients() const = 0;
  virtual const LagMonitor& lag() const = 0;
  virtual std::uint16_t port() const = 0;
  virtual TimePoint startedAt() const = 0;
  // The counters plus this worker's gauges (clients, keys, ...).
  virtual ServerStats totals() const = 0;
  // Which worker owns which slot (null: this worker is alone, a test's
  // Server), and this worker's index in it (-1: retired, owns no slot).
  virtual const ring::Ring* ring() const = 0;
  virtual int self() const = 0;
  // Blocked clients and the waits on this worker's keys (null: none).
  virtual Blocking* blocking() { return nullptr; }
  // The keys clients WATCH on this worker (watches.h) and the channels its
  // clients subscribe to (pubsub.h); null: none (a test's fake).
  virtual Watches* watches() { return nullptr; }
  virtual Channels* channels() { return nullptr; }
  // This worker's slow log, and its numbers with every worker's shared
  // block (latency tracking and the latency monitor); null: none.
  virtual Slowlog* slowlog() { return nullptr; }
  // This worker's MONITOR clients (session/monitors.h); null: none.
  virtual Monitors* monitors() { return nullptr; }
  // Client tracking's tables and modes on this worker (session/tracking.h); null: none.
  virtual Tracking* tracking() { return nullptr; }
  // The connections blocked in WAITAOF (session/aof_waits.h); null: none can block.
  virtual AofWaits* aofWaits() { return nullptr; }
  // CLIENT PAUSE on this worker (dispatch/client_pause.h); null: none.
  virtual ClientPause* clientPause() { return nullptr; }
  // A script's command in database `db`, as MONITOR shows it ("[0 lua]").
  virtual void feedMonitorsFromScript(const CommandSpec& spec, std::span<const std::string_view> args, int db) {
    (void)spec, (void)args, (void)db;
  }
  virtual WorkerStats* workerStats() { return nullptr; }

  // Scripts (scripting/): this worker's interpreter (null: none), a command
  // a script calls run here (counted, its writes seen by WATCH and blocked
  // clients), a message to every other worker (no reply), and the running
  // script's life: which one runs, whether it must stop, SCRIPT KILL.
  // DEBUG's switches (commands/debug.cpp).
  enum class DebugSwitch { ActiveExpire, DenyScriptsDisabled };
  virtual void setDebugSwitch(DebugSwitch which, bool on) { (void)which, (void)on; }
  virtual bool denyScriptsDisabled() const { return false; }
  // A keyspace notification, to the subscribers of every worker.
  virtual void publishEvent(std::string_view channel, std::string_view message) { (void)channel, (void)message; }
  virtual LuaEngine* lua() { return nullptr; }
  // What INFO says of the script cache: the interpreter's memory, scripts.
  struct ScriptCacheFigures {
    std::size_t memoryBytes = 0, scripts = 0;
  };
  virtual ScriptCacheFigures scriptCache() const { return {}; }
  virtual FunctionLibraries* functions() { return nullptr; }
  virtual void runNested(const ResolvedCommand& command, CommandContext& ctx);
  virtual void postToPeers(std::span<const std::string_view> args) { (void)args; }
  virtual void scriptStarted(ScriptCall* call) { (void)call; }
  // The script running now (its instruction hook polls the loop) and for
  // how long, in ms; null: none.
  virtual const ScriptCall* runningScript(long long* ms) const {
    (void)ms;
    return nullptr;
  }
  virtual bool scriptShouldStop() { return false; }
  // A running script's reach into keys it did not declare
  // (scripting/script_reach.h). While it waits, the loop runs with this
  // worker's clients held and peers' requests deferred; peers' locks are
  // refused (their transactions retry) unless `grants` lets one through
  // (the script allowed to reach keys asks for keys this one has not
  // touched); commits and notifications run.
  using LockGrant = std::function<bool(std::string_view transaction, std::span<const std::string_view> keys)>;
  // Runs the loop that way until `done()` is true; false when it cannot
  // (no loop to run: a test's fake) or the script is to stop (SCRIPT KILL,
  // SHUTDOWN NOSAVE, SIGTERM).
  virtual bool waitInScript(const std::function<bool()>& done, const LockGrant& grants) {
    (void)grants;
    return done();
  }
  // A peer message to `owner` (this worker too) and its reply, waited for
  // that way; "" when there is no owner to ask or the wait was cut short.
  virtual std::string callPeerFromScript(int owner, std::span<const std::string_view> args, const LockGrant& grants,
                                         int db) {
    (void)owner, (void)args, (void)grants, (void)db;
    return "";
  }
  virtual void postPeerFromScript(int owner, std::span<const std::string_view> args, int db) {
    (void)owner, (void)args, (void)db;
  }
  // The transactions that locked `keys` here give them up (Dispatch::revokeLocks).
  virtual void revokeLocks(std::span<const std::string_view> keys) { (void)keys; }
  // The one permission to lock keys of other workers mid-script (stats);
  // and what the scratch store's `keys` hold now, into the change feed.
  // `transaction`: for a cross-worker transaction, not a script.
  // A script that waits for it queues (queueForScriptReach): the queued go
  // before anyone who is not.
  virtual bool takeScriptReach(bool transaction) {
    (void)transaction;
    return true;
  }
  virtual void queueForScriptReach(bool queued) { (void)queued; }
  virtual void releaseScriptReach(bool transaction) { (void)transaction; }
  virtual std::int64_t scriptReachHolder() const { return 0; }
  // SWAPDB's barrier (dispatch/cross_worker.h: runBehindBarrier): the
  // permission one coordinator holds at a time, and this worker's part:
  // hold its clients' commands (false: a reload or a rewrite holds them
  // already), whether nothing of it is in flight or locked, let them go.
  virtual bool takeBarrier() { return true; }
  virtual void releaseBarrier() {}
  virtual bool holdForBarrier() { return true; }
  virtual bool quietForBarrier() const { return true; }
  virtual void endBarrierHold() {}
  virtual void journalScratch(int db, Store& scratch, std::span<const std::string_view> keys, std::int64_t nowMs) {
    (void)db, (void)scratch, (void)keys, (void)nowMs;
  }
  // A script past busy-reply-threshold keeps another worker busy: 1 EVAL's,
  // 2 a function's, 0 none (the shared metrics say).
  virtual std::uint8_t busyScriptElsewhere() const { return 0; }
  // The running script was told to stop, or Redis's error why not.
  virtual Status killScript(bool eval) {
    (void)eval;
    return fail("NOTBUSY No scripts in execution right now.");
  }

  // Persistence (persistence.h): snapshots and SAVE/BGSAVE/SHUTDOWN (null:
  // none, a test's fake), the master's snapshot status (null: no master),
  // and the writes that changed keys (what save rules count).
  virtual Persistence* persistence() { return nullptr; }
  virtual const metrics::SnapshotStatus* snapshotStatus() const { return nullptr; }
  virtual metrics::AofStatus* aofStatus() const { return nullptr; }
  virtual void noteChanges(std::uint64_t changes) { (void)changes; }
  virtual std::uint64_t changesEverywhere() const { return 0; }
  // -MISCONF: the last snapshot failed, save rules exist and
  // stop-writes-on-bgsave-error is on.
  bool diskErrorRefusesWrites() const {
    const metrics::SnapshotStatus* status = snapshotStatus();
    const PersistenceConfig& p = config().persistence;
    return status != nullptr && p.stopWritesOnError && !p.save.empty() && !status->lastOk.load(std::memory_order_relaxed);
  }
};

}  // namespace keyloop
