#include "worker/dispatch/dispatch.h"

#include <algorithm>
#include <array>
#include <utility>

#include "common/resp/reply_reader.h"
#include "common/resp/request_parser.h"
#include "worker/dispatch/blocking.h"
#include "worker/connection/client.h"
#include "worker/routing/cluster.h"
#include "worker/connection/connections.h"
#include "worker/execution/command_table.h"
#include "worker/dispatch/cross_worker.h"
#include "worker/routing/key_locks.h"
#include "worker/persistence/persistence.h"
#include "worker/execution/keyspace_events.h"
#include "worker/keyspace/databases.h"
#include "worker/keyspace/store.h"
#include "worker/execution/worker_services.h"
#include "worker/execution/worker_stats.h"
#include "worker/dispatch/write_observers.h"
#include "worker/session/tracking.h"

namespace keyloop {

namespace {

bool debugAllowed(const Config& config, const Client& client) {
  if (config.enableDebugCommand == "yes") return true;
  if (config.enableDebugCommand != "local") return false;
  const std::string& peer = client.peer();
  return peer.rfind("127.", 0) == 0 || peer.rfind("[::1]", 0) == 0 || peer.rfind("::1", 0) == 0;
}

}  // namespace

Dispatch::Dispatch(Loop& loop, WorkerServices& services, Databases& databases, KeyLocks& locks, WorkerStats& stats,
                   Connections& connections)
    : loop_(loop),
      services_(services),
      databases_(databases),
      locks_(locks),
      stats_(stats),
      connections_(connections),
      pause_(loop, [this] { runPostponed(); }) {
  slowlog_.setIdSource([this] { return stats_.takeSlowlogId(); });
}

void Dispatch::setRouter(Router* router) {
  router_ = router;
  if (router_ == nullptr) return;
  router_->setPlaceSink([this](Router::ReplyPlace to, std::string_view reply) {
    if (Client* c = connections_.find(to.client)) c->fillReply(to.place, reply);
  });
  router_->setPrefetch([this](std::string_view key, int db) {
    if (databases_.valid(db)) databases_[db].prefetch({&key, 1});
  });
  // Work parked behind a lock waits for a commit, which is posted (no wake
  // of its own): while any is parked, every record wakes us.
  router_->setWaitsForAny([this] { return locks_.parked() > 0; });
  router_->setScriptReach([this] { return services_.takeScriptReach(true); },
                          [this] { services_.releaseScriptReach(true); });
}

Store& Dispatch::store(int db) { return databases_[db]; }

RoutePlan Dispatch::planFor(const CommandSpec& spec, std::span<const std::string_view> args, int clusterNode) const {
  RouteView view;
  if (router_ != nullptr) {
    view.self = router_->self();
    view.ring = &router_->ring();
  }
  view.locks = &locks_;
  view.holding = holdClients_;
  view.clusterNode = clusterNode;
  return planRoute(spec, args, view);
}

void Dispatch::execute(Client& client, std::span<const std::string_view> args) {
  resp::Reply& reply = client.reply();
  const std::size_t replyStart = reply.buffer().size();
  const ResolvedCommand command = resolveCommand(args);
  Session& session = client.session();
  // CLIENT CACHING yes|no holds for one command, or one transaction (Redis's
  // resetClient), whichever way this one returns.
  struct CachingReset {
    Session& session;
    bool keeps;
    ~CachingReset() {
      if (!session.inMulti && !keeps) session.tracking.caching = false;
    }
  } cachingReset{session, command.topLevel != nullptr && (command.topLevel->flags & kKeepsCaching)};
  // CLIENT REPLY OFF / SKIP (a forwarded command's reply is not silenced).
  const bool skipped = std::exchange(session.skipThis, false);
  bool ran = false;  // errors before the handler are Redis's "rejected", not "failed", calls
  if (command.spec == nullptr) {
    reply.error(command.unknownError(args));
  } else if (!arityAllows(*command.spec, args.size())) {
    reply.error(arityError(command));
  } else if (!client.authenticated() && !(command.spec->flags & kNoAuth)) {
    reply.error("NOAUTH Authentication required.");
  } else if ((command.spec->flags & kDebug) && !debugAllowed(services_.config(), client)) {
    reply.error("ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run "
                "it from a local connection, otherwise you need to set this option in the configuration file, and "
                "then restart the server.");
  } else if (busy_ && !(command.spec->flags & kAllowBusy)) {
    reply.error(*busy_);
  } else if (const std::uint8_t elsewhere = busyElsewhere(*command.spec)) {
    reply.error(busyScriptError(elsewhere == 2));
  } else if ((command.spec->flags & (kWrite | kDiskErrorRefuses)) && services_.diskErrorRefusesWrites()) {
    reply.error(kDiskErrorRefusal);
  } else if ((command.spec->flags & (kWrite | kDiskErrorRefuses)) && appendLog() != nullptr && appendLog()->failing()) {
    reply.error("MISCONF Errors writing to the AOF file: " + appendLog()->failure());
  } else if (session.inMulti && (command.spec->flags & kNoMulti)) {
    reply.error("ERR Command not allowed inside a transaction");
  } else if (hasOverlongKey(*command.spec, args)) {
    reply.error("ERR key too long: keyloop keeps keys under 256 MB");
  } else if (session.subscribed() && reply.protocol() == resp::Protocol::Resp2 &&
             !(command.spec->flags & kSubscribedOk)) {
    reply.error("ERR Can't execute '" + command.fullName() +
                "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context");
  } else if (pause_.holds(*command.spec, args, session, services_)) {
    return postpone(client, args);  // it runs, checked again, when the pause ends
  } else if (session.inMulti && !(command.spec->flags & kRunsInMulti) && !roomLeft(unixMillis())) {
    // Queued commands take memory without limit: over maxmemory none is
    // queued (Redis's processCommand), and EXEC will abort.
    reply.error("OOM command not allowed when used memory > 'maxmemory'.");
  } else if (session.inMulti && !(command.spec->flags & kRunsInMulti) && sessions_ != nullptr) {
    sessions_->queue(client, command, args);
  } else {
    const CommandSpec& spec = *command.spec;
    client.setLastCommand(command.topLevel, command.spec);
    count(command);
    // SELECT's line names the database it chose (Redis feeds it after it ran).
    const bool monitorAfter = (spec.flags & kMonitoredAfter) != 0;
    if (!(spec.flags & kSkipMonitor) && !monitorAfter) feedMonitors(&client, spec, args);
    const RoutePlan plan = planFor(spec, args, client.clusterNode());
    if (plan.kind == RoutePlan::Kind::CrossSlot || plan.kind == RoutePlan::Kind::Moved) {
      reply.error(redirection(plan));
    } else if (spec.session != nullptr) {
      spec.session(*this, client, args);  // may answer later, in order
      ran = true;
    } else if (blocksNow(spec, args) && blocking_ != nullptr) {
      return blocking_->start(client, spec, args, plan);  // the reply comes when something is there
    } else if (plan.kind != RoutePlan::Kind::Here) {
      return runAcross(*this, client, spec, args, plan);  // the reply comes later, in order
    } else {
      CommandContext ctx{services_, &client, reply, databases_[session.db], args, unixMillis()};
      ctx.db = session.db;
      ctx.selects = &session.db;
      ctx.discovers = true;
      TrackingCaller caller;
      applyTag(ctx, caller, trackedTag(client), services_.self());
      run(spec, ctx, commandIndex(*command.topLevel), Logged::Yes);
      ran = true;
      if (monitorAfter) feedMonitors(&client, spec, args);
      if (spec.cross == CrossWorker::Discovering && reply.buffer().size() > replyStart &&
          reply.buffer()[replyStart] == '>') {
        // It must read keys of other workers (SORT BY/GET): the long way.
        reply.buffer().resize(replyStart);
        return runAcross(*this, client, spec, args, RoutePlan{RoutePlan::Kind::Atomic});
      }
    }
  }
  if (!ran && reply.buffer().size() > replyStart && reply.buffer()[replyStart] == '-') {
    if (command.spec != nullptr && (command.spec->flags & kAbortsWhenRefused)) {
      // Redis's execCommandAbort: the reason, and the transaction (if one
      // was open) is gone; EXEC refused outside MULTI says it the same way.
      std::string reason = reply.buffer().substr(replyStart + 1);
      reply.buffer().resize(replyStart);
      while (!reason.empty() && (reason.back() == '\n' || reason.back() == '\r')) reason.pop_back();
      // Redis words a refusal it formats itself (arity, unknown command)
      // without the ERR code here; a shared error (-OOM, -NOAUTH) keeps its code.
      if (reason.rfind("ERR ", 0) == 0) reason.erase(0, 4);
      reply.error("EXECABORT Transaction discarded because of: " + reason);
      if (sessions_ != nullptr) sessions_->endTransaction(client);
    } else if (sessions_ != nullptr) {
      sessions_->refused(client);
    }
  }
  countError(command, reply.buffer(), replyStart, ran);
  // Silenced as the reply is made (Redis's check when adding it): CLIENT
  // REPLY ON's own +OK goes out, OFF's nothing.
  const bool turnedOn = std::exchange(session.replyTurnedOn, false);
  const bool silenced = session.repliesOff || (skipped && !turnedOn);
  if (silenced && !(command.spec != nullptr && (command.spec->flags & kPushReply))) reply.buffer().resize(replyStart);
  // CLIENT REPLY SKIP silences the command after it, and only that one.
  session.skipThis = std::exchange(session.skipNext, false);
  if (client.hasReservedReplies()) client.queueLocalReply(replyStart);
}

void Dispatch::postpone(Client& client, std::span<const std::string_view> args) {
  const std::uint64_t place = client.reserveReply();
  client.holdUntilFilled(place);  // none of its later commands overtakes it
  pause_.postpone({client.id(), place, std::vector<std::string>(args.begin(), args.end())});
}

void Dispatch::runPostponed() {
  for (const ClientPause::Postponed& p : pause_.takePostponed()) {
    Client* client = connections_.find(p.client);
    if (client == nullptr) continue;
    // Its reply goes after the held place (queued: places are reserved),
    // then the empty place lets it and the client's next commands go.
    const std::vector<std::string_view> views(p.args.begin(), p.args.end());
    execute(*client, views);
    client->fillReply(p.place, "");
  }
}

void Dispatch::count(const ResolvedCommand& command) {
  const std::size_t index = commandIndex(*command.topLevel);
  ++stats_.counters()[kCommandsProcessed];
  ++stats_.counters()[kCallsByCommand + index];
  metrics::bump(stats_.metrics().commands[index]);
}

void Dispatch::countError(const ResolvedCommand& command, std::string_view buffer, std::size_t from, bool ran) {
  if (buffer.size() <= from || buffer[from] != '-') return;
  ServerStats& counters = stats_.counters();
  ++counters[kCommandErrors];
  ++counters[kErrorsByCode + errorCodeIndex(buffer.substr(from + 1))];
  if (command.topLevel != nullptr) {
    ++counters[(ran ? kFailuresByCommand : kRejectionsByCommand) + commandIndex(*command.topLevel)];
  }
  metrics::bump(stats_.metrics().commandErrors);
}

void Dispatch::feedMonitors(const Client* client, const CommandSpec& spec, std::span<const std::string_view> args,
                            int db) {
  if (!stats_.monitorsAnywhere() || sessions_ == nullptr || (spec.flags & kAdmin)) return;
  if (db < 0) db = client != nullptr ? client->session().db : 0;
  sessions_->feedMonitors(client, spec, args, db, stats_.monitorsElsewhere());
}

void Dispatch::runNested(const ResolvedCommand& command, CommandContext& ctx) {
  count(command);
  run(*command.spec, ctx, commandIndex(*command.topLevel));
}

void Dispatch::runQueued(Client& client, const ResolvedCommand& command, std::span<const std::string_view> args) {
  resp::Reply& reply = client.reply();
  const std::size_t start = reply.buffer().size();
  count(command);
  if (command.spec->session != nullptr) {
    command.spec->session(*this, client, args);
  } else {
    const int db = client.session().db;
    CommandContext ctx{services_, &client, reply, databases_[db], args, unixMillis()};
    ctx.db = db;
    ctx.selects = &client.session().db;
    TrackingCaller caller;
    applyTag(ctx, caller, trackedTag(client), services_.self());
    run(*command.spec, ctx, commandIndex(*command.topLevel), Logged::Yes);
  }
  countError(command, reply.buffer(), start, true);
}

bool Dispatch::hasOverlongKey(const CommandSpec& spec, std::span<const std::string_view> args) {
  // A request is at most proto-max-bulk-len per argument: only a setting
  // above 256 MB lets a key through that the store could not hold.
  if (services_.config().protoMaxBulkLen <= Store::kMaxKeyLength) return false;
  bool overlong = false;
  forEachKey(spec, args, [&](std::size_t i, std::size_t) {
    overlong = args[i].size() > Store::kMaxKeyLength;
    return !overlong;
  });
  return overlong;
}

std::string Dispatch::redirection(const RoutePlan& plan) const {
  if (plan.kind == RoutePlan::Kind::CrossSlot) return "CROSSSLOT Keys in request don't hash to the same slot";
  const ClusterNodes nodes(services_.config());
  return "MOVED " + std::to_string(plan.slot) + " " + nodes.address() + ":" + std::to_string(nodes.portOf(plan.owner));
}

void Dispatch::applyTag(CommandContext& ctx, TrackingCaller& storage, std::uint64_t tag, int worker) {
  ctx.caller = callerFromTag(tag, worker, storage);
  ctx.noTouch = touchesNothing(tag);
}

void Dispatch::executeRouted(std::span<const std::string_view> args, resp::Protocol protocol, int db, Router::Done done,
                             Router::Origin origin) {
  if (!databases_.valid(db)) return done("-ERR DB index is out of range\r\n");
  // A peer message (peer_messages.h), or a client's command.
  const CommandSpec* peerRow = args.empty() ? nullptr : findPeerMessage(args[0]);
  const ResolvedCommand command = peerRow != nullptr ? ResolvedCommand{peerRow, peerRow} : resolveCommand(args);
  const CommandSpec* spec = command.spec;
  if (spec == nullptr || spec->handler == nullptr) return done("-ERR unknown command routed from a peer worker\r\n");
  if (scriptWait_ != nullptr && peerRow != nullptr && peerRow->peer == peer::Kind::Lock) {
    const auto lock = peer::decodeLock(args);
    if (!lock || !(*scriptWait_)(lock->transaction, lock->keys)) return done(peer::kLockRefusedForScript);
  } else if (scriptWait_ != nullptr && (peerRow == nullptr || (spec->flags & kCarriesRequest))) {
    return heldForScript_.push_back(deferRouted(args, protocol, db, std::move(done), origin));
  }
  if (holdRouted_) return held_.push_back(deferRouted(args, protocol, db, std::move(done), origin));
  if (busy_ && !(spec->flags & kAllowBusy)) {
    // A client's command gets what the client would get here: -BUSY. The
    // workers' own messages (commits, notifications) wait for the script.
    if (peerRow == nullptr || (spec->flags & kCarriesRequest)) return done("-" + *busy_ + "\r\n");
    return heldWhileBusy_.push_back(deferRouted(args, protocol, db, std::move(done), origin));
  }
  if (touchesLockedKeys(*spec, args)) {
    if (peerRow != nullptr && peerRow->peer == peer::Kind::Lock) {
      // The script allowed to reach other workers' keys does not wait for a transaction.
      const auto lock = peer::decodeLock(args);
      const std::int64_t holder = services_.scriptReachHolder();
      if (lock && holder != 0 && KeyLocks::coordinatorOf(lock->transaction).pid == (holder < 0 ? -holder : holder)) {
        revokeLocks(lock->keys);
      }
    }
    locks_.park(deferRouted(args, protocol, db, std::move(done), origin));
    // A revoke of this worker's own transaction may have freed the keys already.
    if (!touchesLockedKeys(*spec, args)) locks_.resumeSoon();
    return;
  }
  // The reply buffer is kept between calls (no allocation per command);
  // the handler (serving a blocked client posts to this worker) or done()
  // (a client resumes its pipeline) may lead back in here, and the nested
  // call then takes a buffer of its own.
  std::string nested;
  std::string& out = routedDepth_ == 0 ? routedReply_ : nested;
  out.clear();
  ++routedDepth_;
  resp::Reply reply(out, protocol);
  CommandContext ctx{services_, nullptr, reply, databases_[db], args, unixMillis()};
  ctx.db = db;
  TrackingCaller caller;
  applyTag(ctx, caller, origin.tracked, origin.worker);
  AofLog* log = appendLog();
  const std::uint64_t logged = log != nullptr ? log->appended() : 0;
  // A client's command forwarded to its keys' owner is logged here, where
  // it ran; a part of one that runs on several workers is not.
  const bool whole = peerRow == nullptr && (spec->cross == CrossWorker::None || spec->cross == CrossWorker::Keyed);
  run(*spec, ctx, commandIndex(*command.topLevel), whole ? Logged::Yes : Logged::No);
  // The call is counted by the worker the client talks to; its error (the
  // handler's: errorstats, failed_calls), which only this worker sees, here.
  if (whole) countError(command, out, 0, true);
  if (log != nullptr && log->appended() != logged && log->holdsReplies()) {
    afterLogged([done = std::move(done), reply = out] { done(reply); });
  } else {
    done(out);
  }
  --routedDepth_;
  if (out.capacity() > 64 * 1024) std::string().swap(out);  // a big GET's buffer is not kept
}

bool Dispatch::touchesLockedKeys(const CommandSpec& spec, std::span<const std::string_view> args) const {
  if (locks_.empty() || (spec.flags & kHoldsLocks)) return false;
  // A read of the whole keyspace (KEYS, DBSIZE, SCAN...) touches every key,
  // the locked ones too: a transaction's reply leaves once its commits are
  // posted, so a client may already look from another connection, through
  // another worker's channel, which the commit does not precede.
  // Not SCRIPT KILL and the others a busy script lets through: the script
  // that holds the locks may be the one they are for.
  if (broadcasts(spec.cross) && spec.cross != CrossWorker::GatherTotals && !(spec.flags & kAllowBusy)) return true;
  bool locked = false;
  forEachKey(spec, args, [&](std::size_t i, std::size_t) { return !(locked = locks_.isLocked(args[i])); });
  return locked;
}

Task Dispatch::deferRouted(std::span<const std::string_view> args, resp::Protocol protocol, int db, Router::Done done,
                           Router::Origin origin) {
  return [this, copy = std::vector<std::string>(args.begin(), args.end()), protocol, db, done = std::move(done),
          origin]() mutable {
    std::vector<std::string_view> views(copy.begin(), copy.end());
    executeRouted(views, protocol, db, std::move(done), origin);
  };
}

std::size_t Dispatch::prefetchKeys(std::string_view pending, int db) {
  // A lone request gains nothing: its misses have nothing to overlap with.
  std::array<std::string_view, 16> keys;
  const resp::Lookahead ahead = resp::peekSecondArguments(pending, keys);
  if (ahead.keys > 1 && databases_.valid(db)) databases_[db].prefetch({keys.data(), ahead.keys});
  return ahead.bytes;
}

std::uint8_t Dispatch::busyElsewhere(const CommandSpec& spec) const {
  // What speaks for the whole server (PING, INFO, DBSIZE, KEYS, FLUSHALL,
  // SCRIPT and FUNCTION management: the keyless commands) answers -BUSY
  // while a script keeps any worker busy, as one redis-server would;
  // commands on keys of the other workers are served. EXEC asks the
  // owners of its keys, and a busy one refuses it.
  if (spec.keys.any() || (spec.flags & (kAllowBusy | kAbortsWhenRefused))) return 0;
  return services_.busyScriptElsewhere();
}

void Dispatch::setBusy(std::optional<std::string> error) {
  busy_ = std::move(error);
  if (busy_) return;
  // What peers sent meanwhile runs now, in arrival order (after the script's reply).
  std::vector<Task> waiting = std::move(heldWhileBusy_);
  heldWhileBusy_.clear();
  connections_.loop().defer([waiting = std::move(waiting)]() mutable {
    for (Task& work : waiting) work();
  });
}

void Dispatch::beginScriptWait(const WorkerServices::LockGrant* grants) { scriptWait_ = grants; }

void Dispatch::revokeLocks(std::span<const std::string_view> keys) {
  if (router_ == nullptr) return;
  std::vector<std::string> revoked;
  for (std::string_view key : keys) {
    const std::string_view by = locks_.lockedBy(key);
    if (by.empty() || KeyLocks::coordinatorOf(by).script) continue;
    if (std::find(revoked.begin(), revoked.end(), by) != revoked.end()) continue;
    revoked.emplace_back(by);
  }
  for (const std::string& transaction : revoked) {
    const int slot = KeyLocks::coordinatorOf(transaction).slot;
    if (slot >= 0 && slot < router_->workers()) router_->notify(slot, peer::encode(peer::Revoke{transaction}).args());
  }
}

void Dispatch::endScriptWait() {
  scriptWait_ = nullptr;
  if (heldForScript_.empty()) return;
  // After the script's reply, in arrival order.
  connections_.loop().defer([waiting = std::exchange(heldForScript_, {})]() mutable {
    for (Task& work : waiting) work();
  });
}

void Dispatch::hold(bool routedToo) {
  holdClients_ = true;
  holdRouted_ = holdRouted_ || routedToo;
}

void Dispatch::release() {
  holdClients_ = holdRouted_ = false;
  std::vector<Task> waiting = std::move(held_);
  held_.clear();
  for (Task& work : waiting) work();
}

bool Dispatch::makeRoom(const CommandSpec& spec, CommandContext& ctx) {
  if (spec.peer != peer::Kind::None || ctx.fromScript) return true;
  if (!(spec.flags & kWrite) || (spec.flags & kNeverGrows)) {
    // Redis evicts before any command while over maxmemory (what client
    // tracking's readers hear before its reply); it refuses only writes.
    const MemoryLimitConfig& m = services_.config().maxmemory;
    if (m.limit != 0 && m.policy != EvictionPolicy::NoEviction) roomLeft(ctx.nowMs);
    return true;
  }
  return roomLeft(ctx.nowMs);
}

bool Dispatch::roomLeft(std::int64_t nowMs) {
  const MemoryLimitConfig& m = services_.config().maxmemory;
  if (m.limit == 0) return true;
  const ring::Ring* ring = services_.ring();
  const std::size_t budget = m.limit / static_cast<std::size_t>(ring != nullptr ? ring->workers() : 1);
  return eviction_.makeRoom(m, budget, nowMs, [&](int db, std::string_view key) { evict(db, key, nowMs); });
}

void Dispatch::evict(int db, std::string_view key, std::int64_t nowMs) {
  const std::string name(key);  // `key` lives in the entry that goes
  Store& store = databases_[db];
  if (Persistence* persistence = services_.persistence()) persistence->beforeWrite(store, name);
  feed_.recordState(db, name, nullptr);
  if (watches_.version(db, name) != Watches::kUnwatched && store.find(name, nowMs) != nullptr) watches_.touch(db, name);
  store.erase(name);
  if (Tracking* tracking = services_.tracking()) tracking->evicted(name);
  ++stats_.counters()[kEvictedKeys];
  metrics::bump(stats_.metrics().evictedKeys);
  keyspace_events::notify(services_.config().notifyKeyspaceEvents, 'e', "evicted", name, db,
                          [this](std::string_view channel, std::string_view message) { services_.publishEvent(channel, message); });
}

void Dispatch::noteDuration(const CommandSpec& spec, std::span<const std::string_view> args, std::uint64_t micros,
                            std::int64_t nowMs, const Client* client) {
  const IntrospectionConfig& settings = services_.config().introspection;
  // Once per client command, as Redis counts its calls: a subcommand by its own row (config|set).
  if (settings.latencyTracking) stats_.metrics().commandLatency[spec.index].observe(micros);
  const std::uint64_t ms = micros / 1000;
  if (settings.latencyMonitorThresholdMs != 0 && ms >= settings.latencyMonitorThresholdMs) {
    const std::size_t event = metrics::latencyEventIndex((spec.flags & kFast) ? "fast-command" : "command");
    stats_.metrics().latencyEvents[event].add(nowMs / 1000, ms);
  }
  slowlog_.consider(spec, args, micros, nowMs, client != nullptr ? std::string_view(client->peer()) : std::string_view(),
                    client != nullptr ? std::string_view(client->name()) : std::string_view(),
                    settings.slowlogLogSlowerThanMicros, settings.slowlogMaxLen);
}

void Dispatch::noteSlowRun(const CommandSpec& spec, std::span<const std::string_view> args, std::uint64_t micros,
                           std::uint64_t clientId) {
  noteDuration(spec, args, micros, unixMillis(), connections_.find(clientId));
}

void Dispatch::run(const CommandSpec& spec, CommandContext& ctx, std::size_t index, Logged logged) {
  ctx.store.tick(ctx.nowMs);
  // Not a scratch store of a cross-worker run: the worker's own keys.
  const CommandRun call{spec, ctx, databases_.valid(ctx.db) && &ctx.store == &databases_[ctx.db], replaying_};
  if (call.ownStore && !call.replaying && !makeRoom(spec, ctx)) {
    return ctx.reply.error("OOM command not allowed when used memory > 'maxmemory'.");
  }
  const TimePoint started = Clock::now();
  const Blocking::Hold hold(blocking_);  // a script's writes serve blocked clients once it is done
  // The pipeline (effects.h): observers before, the handler, its effects,
  // observers after: the built-in ones (write_observers.h), then any added.
  const bool builtIn = (spec.flags & WriteObservers::kFlags) != 0;
  const bool added = observers_.watch(spec.flags);
  WriteObservers::RunState state;
  if (builtIn) writeObservers_.before(call, state);
  if (added) observers_.before(call);
  Effects effects = runHandler(spec, ctx);
  const auto micros = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count());
  stats_.counters()[kMicrosByCommand + index] += micros;
  if (logged == Logged::Yes && !replaying_) noteDuration(spec, ctx.args, micros, ctx.nowMs, ctx.client);
  if (builtIn) {
    writeObservers_.settle(effects, state);
    writeObservers_.after(call, effects, state);
  }
  if (added) observers_.after(call, effects);
}

std::string Dispatch::runNow(std::span<const std::string_view> args, resp::Protocol protocol, int db) {
  return runAt(args, unixMillis(), protocol, db);
}

std::string Dispatch::runAt(std::span<const std::string_view> args, std::int64_t nowMs, resp::Protocol protocol, int db) {
  ResolvedCommand command = resolveCommand(args);
  if (command.spec == nullptr && !args.empty()) {
    if (const CommandSpec* message = findPeerMessage(args[0])) command = {message, message};  // one for this worker
  }
  if (command.spec == nullptr || command.spec->handler == nullptr) return "-ERR unknown command\r\n";
  std::string out;
  resp::Reply reply(out, protocol);
  CommandContext ctx{services_, nullptr, reply, databases_[db], args, nowMs};
  ctx.db = db;
  run(*command.spec, ctx, commandIndex(*command.topLevel));
  return out;
}

void Dispatch::replay(std::span<const std::string_view> args, std::int64_t nowMs, int db) {
  replaying_ = true;
  runAt(args, nowMs, resp::Protocol::Resp2, db);
  replaying_ = false;
}

void Dispatch::afterLogged(std::function<void()> tell) {
  AofLog* log = appendLog();
  if (log == nullptr || !log->holdsReplies()) return tell();
  log->whenDurable(std::move(tell));
}

AofLog* Dispatch::appendLog() {
  Persistence* persistence = services_.persistence();
  return persistence != nullptr ? persistence->log() : nullptr;
}

void Dispatch::resubscribe(Client& client, std::span<const std::vector<std::string>> subscriptions) {
  if (sessions_ != nullptr) sessions_->resubscribe(client, subscriptions);
}

std::string Dispatch::trackingState(const Client& client) const { return Tracking::encodeMode(client.session().tracking); }

void Dispatch::resumeTracking(Client& client, std::string_view state) {
  if (Tracking* tracking = services_.tracking(); tracking != nullptr && !state.empty()) tracking->adopt(client, state);
}

bool Dispatch::blocked(std::uint64_t clientId) const { return blocking_ && blocking_->blocks(clientId); }

void Dispatch::clientGone(std::uint64_t clientId) {
  if (Client* client = connections_.find(clientId)) {
    if (sessions_ != nullptr) sessions_->clientGone(*client);
  }
  if (blocking_) blocking_->clientGone(clientId);
}

std::optional<std::string> Dispatch::releaseBlocked(std::uint64_t clientId) {
  return blocking_ ? blocking_->releaseForHandOver(clientId) : std::nullopt;
}

bool Dispatch::quiet() const { return (router_ == nullptr || router_->inFlight() == 0) && locks_.parked() == 0; }

}  // namespace keyloop
