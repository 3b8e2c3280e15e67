// Dispatch: runs requests. A client's parsed request is looked up in the
// command table, checked (arity, AUTH), planned (route_plan.h) and either
// run here against the store or sent the long way (cross_worker.h); a
// request a peer worker routed here runs against the store unless its keys
// are locked (key_locks.h) or a reload holds peers' work.
//
// During a reload's hand-over (migration.h) keyed work can be held: the
// clients' (hold) and also the peers' (hold with routedToo); release()
// runs what waited, in arrival order. Every write is shown to the write
// observer, which the retiring side uses to note the keys it must send
// again.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/loop/handles.h"
#include "worker/connection/request_runner.h"
#include "worker/execution/change_feed.h"
#include "worker/execution/effects.h"
#include "worker/dispatch/client_pause.h"
#include "worker/execution/slowlog.h"
#include "worker/keyspace/eviction.h"
#include "worker/routing/router.h"
#include "worker/routing/route_plan.h"
#include "worker/execution/watches.h"
#include "worker/dispatch/write_observers.h"

namespace keyloop {

class AofLog;
class Blocking;
class Client;
class Connections;
class Databases;
class KeyLocks;
class Store;
class WorkerServices;
class WorkerStats;
struct CommandContext;
struct CommandSpec;
struct ResolvedCommand;

// What Dispatch asks of the session layer above it (session/sessions.h:
// MULTI's queue, subscriptions), which the worker registers.
class SessionLayer {
 public:
  virtual ~SessionLayer() = default;
  // Inside MULTI: queues the request (+QUEUED).
  virtual void queue(Client& client, const ResolvedCommand& command, std::span<const std::string_view> args) = 0;
  // A request refused while MULTI is open: EXEC will abort.
  virtual void refused(Client& client) = 0;
  // The transaction ends with its watches (EXECABORT).
  virtual void endTransaction(Client& client) = 0;
  // The client is gone: its transaction, watches and subscriptions go too.
  virtual void clientGone(Client& client) = 0;
  // Subscriptions a connection brought from a retiring worker (no replies):
  // channels, patterns, shard channels.
  virtual void resubscribe(Client& client, std::span<const std::vector<std::string>> subscriptions) = 0;
  // MONITOR's line of a command (`client` null: a script's), to this
  // worker's monitors and, when `elsewhere`, to the other workers'.
  virtual void feedMonitors(const Client* client, const CommandSpec& spec, std::span<const std::string_view> args,
                            int db, bool elsewhere) = 0;
};

class Dispatch final : public RequestRunner {
 public:
  Dispatch(Loop& loop, WorkerServices& services, Databases& databases, KeyLocks& locks, WorkerStats& stats,
           Connections& connections);

  // Also makes it deliver forwarded replies to this worker's clients.
  void setRouter(Router* router);
  void setSessions(SessionLayer* sessions) { sessions_ = sessions; }
  Router* router() { return router_; }
  const Router* router() const { return router_; }
  Connections& connections() { return connections_; }
  WorkerServices& services() { return services_; }
  Loop& loop() { return loop_; }
  Databases& databases() { return databases_; }
  // Database `db` (a valid number), as a run against it sees it.
  Store& store(int db);

  // Runs one parsed request of `client` (the reply goes to its buffer, or
  // later in order when it takes the long way).
  void execute(Client& client, std::span<const std::string_view> args) override;
  // Runs a command routed here (by a peer, or locally by cross-worker
  // execution); done() gets the reply, later if its keys are locked.
  // `origin`: the tracking client it runs for, and where that one talks.
  void executeRouted(std::span<const std::string_view> args, resp::Protocol protocol, int db, Router::Done done,
                     Router::Origin origin = {});
  // Prefetches the keys of the next few whole requests in `pending` (a
  // pipeline) in database `db`; returns how many bytes of requests it looked at.
  std::size_t prefetchKeys(std::string_view pending, int db) override;
  // Where a request runs, from this worker's ring, locks and hold, and the
  // connection's cluster node (-1: a shared port).
  RoutePlan planFor(const CommandSpec& spec, std::span<const std::string_view> args, int clusterNode) const;

  // A CrossSlot or Moved plan's error, without the '-'.
  std::string redirection(const RoutePlan& plan) const;

  // Runs a command EXEC dequeued for `client`, here and now (its keys are
  // this worker's), counted as Redis counts the commands of a transaction.
  void runQueued(Client& client, const ResolvedCommand& command, std::span<const std::string_view> args);
  Watches& watches() { return watches_; }
  Eviction& eviction() { return eviction_; }
  Slowlog& slowlog() { return slowlog_; }
  // CLIENT PAUSE on this worker; the commands it holds run when it ends.
  ClientPause& clientPause() { return pause_; }
  const ClientPause& clientPause() const { return pause_; }
  // A command starts (`client` null: a script's): its line goes to every
  // monitor of every worker while there are any (not an admin command's).
  // A row with kSkipMonitor calls it itself.
  // `db`: the one the line names (-1: the client's selected one).
  void feedMonitors(const Client* client, const CommandSpec& spec, std::span<const std::string_view> args, int db = -1);
  // A client's command that ran as one piece of work on several workers
  // (split, atomic, broadcast): logged as a whole on the client's worker,
  // for the time from its start until its reply was complete.
  void noteSlowRun(const CommandSpec& spec, std::span<const std::string_view> args, std::uint64_t micros,
                   std::uint64_t clientId);
  // A command a script called, against ctx's store (counted, watched keys
  // and blocked clients told of its writes).
  void runNested(const ResolvedCommand& command, CommandContext& ctx);

  // Runs a command here and now, locks or not (blocking.h serves a waiting
  // client with it); returns the reply.
  std::string runNow(std::span<const std::string_view> args, resp::Protocol protocol, int db);
  // The append-only log this worker writes (null: none).
  AofLog* appendLog();
  // Every change this worker makes, for the log and (next) the replicas.
  ChangeFeed& feed() { return feed_; }
  // Runs `tell` (a write's outcome to another worker) now, or under
  // appendfsync always once what this worker logged so far is on disk.
  void afterLogged(std::function<void()> tell);
  // A record of the append-only log, as of `nowMs` (when it was logged):
  // no notification, no eviction, not counted as a change (as Redis loads).
  void replay(std::span<const std::string_view> args, std::int64_t nowMs, int db);
  // Blocking commands (blocking.h); without one they do not block.
  void setBlocking(Blocking* blocking) { blocking_ = blocking; }
  Blocking* blocking() const { return blocking_; }
  // Counts an error reply that starts at `from` in the buffer (errorstats,
  // failed_calls when it `ran`); a blocked command's reply is counted when
  // it is delivered.
  void countError(const ResolvedCommand& command, std::string_view buffer, std::size_t from, bool ran);
  // Its session ends here: watches and subscriptions go, and a wait.
  void clientGone(std::uint64_t clientId) override;
  // A handed-over connection's subscriptions (pubsub.h).
  void resubscribe(Client& client, std::span<const std::vector<std::string>> subscriptions) override;
  std::string trackingState(const Client& client) const override;
  void resumeTracking(Client& client, std::string_view state) override;
  bool blocked(std::uint64_t clientId) const override;
  std::optional<std::string> releaseBlocked(std::uint64_t clientId) override;

  // A script keeps this worker busy (`error`: what other clients get, as
  // Redis's -BUSY); peers' requests wait until it ends (nullopt).
  void setBusy(std::optional<std::string> error);
  // A script keeps another worker busy and `spec` speaks for the whole
  // server: 1 (EVAL's) or 2 (a function's); else 0.
  std::uint8_t busyElsewhere(const CommandSpec& spec) const;

  // A script of this worker waited for another worker (script_reach.h,
  // Server::waitInScript): until the script ends, peers' requests wait,
  // and their locks are refused at once (their transactions retry) unless
  // `grants` lets one through; commits and notifications run.
  void beginScriptWait(const WorkerServices::LockGrant* grants);
  void endScriptWait();
  // The script that may reach other workers' keys waits for `keys`: the
  // transactions that locked them give them up (peer::Revoke) unless they
  // ran already; a script's locks stay (it gives way itself).
  void revokeLocks(std::span<const std::string_view> keys);

  void hold(bool routedToo);
  void release();
  bool holding() const { return holdClients_; }
  void holdCommand(Task work) { held_.push_back(std::move(work)); }
  using WriteObserver = WriteCallback;
  void setWriteObserver(WriteObserver observer) { writeObserver_ = std::move(observer); }
  // One more observer of every run of a write (effects.h): replication,
  // client tracking. Registered once, at start.
  void addObserver(std::unique_ptr<CommandObserver> observer) { observers_.add(std::move(observer)); }
  // No request of ours is out at another worker and nothing waits for a
  // lock here: what the retiring side waits for before it tells its peers
  // it will send them nothing more.
  bool quiet() const;

 private:
  // Whether a routed command must wait for a cross-worker transaction's commit.
  bool touchesLockedKeys(const CommandSpec& spec, std::span<const std::string_view> args) const;
  Task deferRouted(std::span<const std::string_view> args, resp::Protocol protocol, int db, Router::Done done,
                   Router::Origin origin);
  // A run's tracking caller and NO-TOUCH, from the word its client's request
  // carries (session/tracking.h: trackedTag), coming from `worker`.
  static void applyTag(CommandContext& ctx, TrackingCaller& storage, std::uint64_t tag, int worker);
  // Whether a key argument is longer than the store takes.
  bool hasOverlongKey(const CommandSpec& spec, std::span<const std::string_view> args);
  // Whether a run is a client's command as the slow log and the latency
  // monitor count it (Redis's CMD_CALL_SLOWLOG): not a script's nested
  // call, a peer's message, a replayed record, or a part of a command that
  // runs on several workers (noteSlowRun logs that one whole).
  enum class Logged : bool { No, Yes };
  // Runs a handler through the pipeline of observers (effects.h); `index`
  // is its top-level command's (INFO commandstats, latency tracking).
  void run(const CommandSpec& spec, CommandContext& ctx, std::size_t index, Logged logged = Logged::No);
  // CLIENT PAUSE holds the client's command: a reply place with a barrier.
  void postpone(Client& client, std::span<const std::string_view> args);
  // The pause ended: the held commands run, oldest first.
  void runPostponed();
  // Latency tracking, the slow log and the latency monitor's "command" events.
  void noteDuration(const CommandSpec& spec, std::span<const std::string_view> args, std::uint64_t micros,
                    std::int64_t nowMs, const Client* client);
  // maxmemory: evicts for a write on the worker's store that may grow memory; false: -OOM.
  bool makeRoom(const CommandSpec& spec, CommandContext& ctx);
  // maxmemory: evicts what the policy lets go; false: still over this worker's budget.
  bool roomLeft(std::int64_t nowMs);
  void evict(int db, std::string_view key, std::int64_t nowMs);
  // runNow as of `nowMs`.
  std::string runAt(std::span<const std::string_view> args, std::int64_t nowMs, resp::Protocol protocol, int db);
  // Counts a call (total_commands_processed, commandstats, the metric).
  void count(const ResolvedCommand& command);

  Loop& loop_;
  WorkerServices& services_;
  Databases& databases_;
  KeyLocks& locks_;
  WorkerStats& stats_;
  Connections& connections_;
  Router* router_ = nullptr;
  Blocking* blocking_ = nullptr;
  SessionLayer* sessions_ = nullptr;  // null in unit tests: no MULTI, no subscriptions
  bool holdClients_ = false, holdRouted_ = false;
  const WorkerServices::LockGrant* scriptWait_ = nullptr;  // a script waits (beginScriptWait)
  std::vector<Task> heldForScript_;
  std::vector<Task> held_;
  std::optional<std::string> busy_;
  std::vector<Task> heldWhileBusy_;
  WriteObserver writeObserver_;
  Watches watches_;
  Slowlog slowlog_;
  ClientPause pause_;
  Eviction eviction_{databases_};
  ChangeFeed feed_;
  // After the members they observe with.
  WriteObservers writeObservers_{services_, watches_, eviction_, feed_, writeObserver_, blocking_};
  CommandObservers observers_;
  std::string routedReply_;  // executeRouted's reply buffer, reused
  int routedDepth_ = 0;
  bool replaying_ = false;  // replay() is running a record
};

}  // namespace keyloop
