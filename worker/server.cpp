#include "worker/server.h"

#include "common/metrics/process_memory.h"
#include "worker/execution/keyspace_events.h"

#include <sys/resource.h>
#include <time.h>

#include <utility>

namespace keyloop {

Server::Server(Loop& loop, Config config, Log& log)
    : loop_(loop),
      config_(std::move(config)),
      log_(log),
      locks_(loop),
      stats_(loop),
      dispatch_(loop, *this, databases_, locks_, stats_, connections_),
      blocking_(loop, dispatch_),
      connections_(loop, config_, log, stats_, dispatch_),
      expireTimer_(loop),
      threadPool_(loop, static_cast<std::size_t>(config_.threadPool)),
      startedAt_(loop.now()) {
  // Big values (a million-member set) are freed on a pool thread, so no
  // DEL, overwrite or expiry of one shows up as loop lag.
  databases_.setOffload([this](std::function<void()> work) { threadPool_.submit(std::move(work)); });
  databases_.setExpiredObserver([this](int db, std::string_view key) {
    // Replay then needs no clock: the key goes where it went.
    dispatch_.feed().recordState(db, key, nullptr);
    tracking_.keyChanged(key, 0);
    keyspace_events::notify(config_.notifyKeyspaceEvents, 'x', "expired", key, db,
                            [this](std::string_view channel, std::string_view message) { publishEvent(channel, message); });
  });
  databases_.setFieldsExpiredObserver(
      [this](int db, std::string_view key, std::span<const std::string> fields, bool keyGone) {
        // Redis 7.4 propagates HDEL (the hash goes with its last field).
        std::vector<std::string_view> hdel{"HDEL", key};
        hdel.insert(hdel.end(), fields.begin(), fields.end());
        dispatch_.feed().recordCommand(db, hdel);
        tracking_.keyChanged(key, 0);
        auto publish = [this](std::string_view channel, std::string_view message) { publishEvent(channel, message); };
        keyspace_events::notify(config_.notifyKeyspaceEvents, 'h', "hexpired", key, db, publish);
        if (keyGone) keyspace_events::notify(config_.notifyKeyspaceEvents, 'g', "del", key, db, publish);
      });
  dispatch_.setBlocking(&blocking_);
  dispatch_.setSessions(&sessions_);
  dispatch_.addObserver(std::make_unique<TrackingObserver>(tracking_));
  tracking_.setPost(
      [this](int worker, std::span<const std::string_view> args) {
        // notify: the reader's worker may sleep, and its client waits for this.
        if (Router* router = dispatch_.router()) router->notify(worker, args);
      },
      [this] { return self(); },
      [this] {
        const ring::Ring* r = ring();
        return r != nullptr ? r->workers() : 1;
      });
  tracking_.setMaxKeys(config_.trackingTableMaxKeys);
  applyMemoryLimit();
  startupMemory_ = peakMemory_ = heapBytesInUse();
}

Server::~Server() { shutdown(); }

void Server::serve(const std::vector<int>& listenFds, bool acceptNow) {
  connections_.listenOn(listenFds);
  if (acceptNow) connections_.startAccepting();
  connections_.applyConfig(/*newLimits=*/false);  // arms the idle timeout
  armExpireCycle();
  stats_.start(config_.metricsEnabled, [this] {
    const Router* router = dispatch_.router();
    return WorkerStats::Sample{databases_.keys(), databases_.expiredTotal(), router != nullptr ? router->forwarded() : 0};
  });
}

void Server::applyConfig(const Config& next) {
  const bool newLimits = next.protoMaxBulkLen != config_.protoMaxBulkLen;
  if (next.maxmemory.policy != config_.maxmemory.policy) dispatch_.eviction().forgetCandidates();
  if (next.persistence != config_.persistence) persistence_.settingsChanged(next.persistence);
  config_ = next;
  tracking_.setMaxKeys(config_.trackingTableMaxKeys);
  applyMemoryLimit();
  connections_.applyConfig(newLimits);
  armExpireCycle();
}

void Server::applyMemoryLimit() {
  const MemoryLimitConfig& m = config_.maxmemory;
  databases_.setLfu({usesLfu(m.policy), m.lfuLogFactor, m.lfuDecayMinutes});
  // A limit set now holds from the next write (as Redis's), not once the
  // writes' estimated growth alone crosses it.
  dispatch_.eviction().remeasure();
}

void Server::shutdown() {
  // Asked to stop from inside a script's hook (SHUTDOWN NOSAVE from any
  // worker, SIGTERM): the script ends at its next instruction, written or
  // not, as Redis's SHUTDOWN NOSAVE ends a busy one.
  // Its client goes when it has ended (the script writes its reply there).
  if (runningScript_ != nullptr) {
    killRequested_ = true;
    closeWhenScriptEnds_ = true;
  } else {
    connections_.closeAll();
  }
  expireTimer_.stop();
  stats_.stop();
}

void Server::setSharedMetrics(metrics::SharedMetrics* shared, int index) {
  stats_.useShared(shared, index);
  stats_.publishClientCount(connections_.all().size());  // a restarted worker starts from zero in its slot
}

void Server::noteLoaded(std::uint64_t keys, std::uint64_t expired) {
  loadedKeys_ = keys;
  loadExpiredKeys_ = expired;
  dispatch_.eviction().remeasure();  // what was loaded counts against maxmemory at once
}

void Server::armExpireCycle() {
  expireTimer_.unref();
  const auto period = std::chrono::milliseconds(1000 / std::max(1, config_.expireHz));
  expireTimer_.start(period, period, [this] { runExpireCycle(); });
}

void Server::runExpireCycle() {
  // Budget per tick (config: expiry.cycle_budget, default 1 ms at 10 Hz =
  // 1% of the loop): the sweep can never add more than that to loop lag.
  // Not between a script's commands (its worker polls while it is busy).
  if (runningScript_ != nullptr) return;
  // What pool threads freed meanwhile, and what grew unseen (the store's table).
  if (config_.maxmemory.limit != 0) dispatch_.eviction().remeasure();
  // CLIENT PAUSE stops the active cycle too (Redis: no key changes while paused).
  if (!activeExpire_ || dispatch_.clientPause().active()) return;
  const TimePoint started = Clock::now();
  const TimePoint deadline = started + std::chrono::microseconds(config_.expireBudgetMicros);
  const std::int64_t nowMs = unixMillis();
  // Database after database, from where the last cycle stopped, as Redis's
  // activeExpireCycle: a busy database cannot starve the others forever.
  const int count = databases_.count();
  for (int i = 0; i < count && Clock::now() < deadline; ++i) {
    const int db = (expireNextDb_ + i) % count;
    Store& store = databases_[db];
    if (store.volatileCount() == 0 && store.timedHashes() == 0) continue;
    const auto outOfTime = [deadline] { return Clock::now() >= deadline; };
    if (store.volatileCount() != 0) store.expireSome(nowMs, outOfTime);
    if (store.timedHashes() != 0 && !outOfTime()) store.expireFieldsSome(nowMs, outOfTime);
    expireNextDb_ = (db + 1) % count;
  }
  // The latency monitor's "expire-cycle" (big values are freed off the loop,
  // so a cycle rarely reaches a threshold: its budget bounds it).
  const auto ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
  const std::uint64_t threshold = config_.introspection.latencyMonitorThresholdMs;
  if (threshold != 0 && ms >= threshold) {
    stats_.metrics().latencyEvents[metrics::latencyEventIndex("expire-cycle")].add(nowMs / 1000, ms);
  }
}

const ring::Ring* Server::ring() const {
  const Router* router = dispatch_.router();
  return router != nullptr ? &router->ring() : nullptr;
}

int Server::self() const {
  const Router* router = dispatch_.router();
  return router != nullptr ? router->self() : 0;
}

ServerStats Server::totals() const {
  ServerStats all = stats_.counters();
  all[kConnectedClients] = connections_.all().size();
  all[kKeys] = databases_.keys();
  all[kExpires] = databases_.volatileKeys();
  all[kExpiredKeys] = databases_.expiredTotal();
  for (int db = 0; db < databases_.count(); ++db) {
    all[kKeysByDb + static_cast<std::size_t>(db)] = databases_[db].size();
    all[kExpiresByDb + static_cast<std::size_t>(db)] = databases_[db].volatileCount();
    all[kTableBytesByDb + static_cast<std::size_t>(db)] = databases_[db].tableBytes();
    all[kExpiresBytesByDb + static_cast<std::size_t>(db)] = databases_[db].volatileSetBytes();
  }
  all[kUsedMemory] = heapBytesInUse();
  peakMemory_ = std::max<std::uint64_t>(peakMemory_, all[kUsedMemory]);
  all[kPeakMemory] = peakMemory_;
  all[kStartupMemory] = startupMemory_;
  for (const auto& [id, client] : connections_.all()) all[kClientsMemory] += client->memoryBytes();
  if (const AofLog* log = persistence_.log()) all[kAofBuffer] = log->pendingBytes();
  all[kResidentBytes] = residentBytes();
  auto micros = [](const timeval& t) { return static_cast<std::uint64_t>(t.tv_sec) * 1000000 + static_cast<std::uint64_t>(t.tv_usec); };
  rusage self{}, loopThread{};
  ::getrusage(RUSAGE_SELF, &self);
  ::getrusage(RUSAGE_THREAD, &loopThread);  // INFO runs on the loop thread
  all[kCpuSysMicros] = micros(self.ru_stime);
  all[kCpuUserMicros] = micros(self.ru_utime);
  all[kCpuSysMainMicros] = micros(loopThread.ru_stime);
  all[kCpuUserMainMicros] = micros(loopThread.ru_utime);
  all[kLazyfreePending] = threadPool_.outstanding();
  all[kLazyfreedObjects] = databases_.offloadedTotal();
  all[kBlockedClients] = blocking_.blockedClients() + dispatch_.clientPause().postponedCount();
  all[kPubsubChannels] = channels_.names(Channels::Channel, "").size();
  all[kTrackingClients] = tracking_.clients();
  all[kTrackingKeys] = tracking_.keys();
  all[kTrackingItems] = tracking_.items();
  // Every worker knows every prefix: the first counts them for all.
  all[kTrackingPrefixes] = Server::self() <= 0 ? tracking_.prefixes() : 0;
  all[kPubsubPatterns] = channels_.patternCount();
  all[kLoadedKeys] = loadedKeys_;
  all[kLoadExpiredKeys] = loadExpiredKeys_;
  return all;
}

bool Server::holdForBarrier() {
  if (barrierHold_) return true;
  if (dispatch_.holding()) return false;  // a reload's or a rewrite's: the barrier tries again later
  barrierHold_ = true;
  dispatch_.hold(/*routedToo=*/false);  // peers' requests still run: they make every worker quiet
  return true;
}

void Server::endBarrierHold() {
  if (!std::exchange(barrierHold_, false)) return;
  dispatch_.release();
}

void Server::postToPeers(std::span<const std::string_view> args) {
  Router* router = dispatch_.router();
  if (router == nullptr) return;
  // notify, not post: a sleeping peer wakes for it (an EVALSHA may be next).
  for (int w = 0; w < router->workers(); ++w) {
    if (w != router->self()) router->notify(w, args);
  }
}

void Server::publishEvent(std::string_view channel, std::string_view message) {
  channels_.publish(Channels::Channel, channel, message);
  postToPeers(peer::encode(peer::Deliver{channel, message}).args());
}

// A script waits for another worker (script_reach.h): the loop runs, but
// from now until the script ends this worker's clients are not read and
// peers' requests wait (Dispatch's script wait), so nothing but the script
// touches its keys. A released permission wakes the queued (ReachFree);
// a 2 ms timer makes the loop look again anyway (a holder that died
// sends nothing).
bool Server::waitInScript(const std::function<bool()>& done, const LockGrant& grants) {
  if (done()) return true;
  scriptGrants_ = grants;
  if (!scriptWaited_) {
    scriptWaited_ = true;
    connections_.pauseReading(true);
    dispatch_.beginScriptWait(&scriptGrants_);
  }
  // This script may run from a resume of parked work: what is parked
  // behind it (a lock the permission's holder waits for) gets its try now.
  locks().resumeSoon();
  Timer tick(loop_);
  tick.start(std::chrono::milliseconds(2), std::chrono::milliseconds(2), [] {});
  while (!done()) {
    if (killRequested_) return false;
    loop_.run(RunMode::Once);
  }
  return true;
}

void Server::endScriptWait() {
  if (!scriptWaited_) return;
  scriptWaited_ = false;
  dispatch_.endScriptWait();
  connections_.pauseReading(false);
}

std::string Server::callPeerFromScript(int owner, std::span<const std::string_view> args, const LockGrant& grants,
                                       int db) {
  Router* router = dispatch_.router();
  if (router == nullptr) return "";
  std::optional<std::string> reply;
  router->call(owner, args, resp::Protocol::Resp2, [&reply](std::string_view r) { reply.emplace(r); }, db);
  waitInScript([&reply] { return reply.has_value(); }, grants);
  return reply.value_or("");
}

void Server::postPeerFromScript(int owner, std::span<const std::string_view> args, int db) {
  if (Router* router = dispatch_.router()) router->notify(owner, args, db);
}

void Server::journalScratch(int db, Store& scratch, std::span<const std::string_view> keys, std::int64_t nowMs) {
  if (Router* router = dispatch_.router()) router->journal(db, scratch, keys, nowMs);
}

void Server::releaseScriptReach(bool transaction) {
  stats_.releaseScriptReach(transaction);
  // Those that wait for it wake now, not at their next look.
  if (stats_.scriptReachQueued()) postToPeers(peer::Message(peer::Kind::ReachFree).args());
}

void Server::scriptStarted(ScriptCall* call) {
  if (call == nullptr) endScriptWait();
  if (call == nullptr && std::exchange(closeWhenScriptEnds_, false)) {
    loop_.defer([this] { connections_.closeAll(); });  // after the reply is placed
  }
  runningScript_ = call;
  killRequested_ = false;
  scriptStarted_ = Clock::now();
  if (call == nullptr && busy_) {
    busy_ = false;
    log_.notice("Slow script finished: serving every command again");
    stats_.publishBusyScript(0);
    dispatch_.setBusy(std::nullopt);
    connections_.setBusy(false);
  }
}

// The script's instruction hook. Past busy-reply-threshold the worker goes
// on with its other duties between the script's instructions: one loop
// iteration per poll, in which other clients get -BUSY (SCRIPT KILL
// runs), peers' requests wait for the script's end, channels and timers
// run. The running client is not read meanwhile (Client::onEvents).
const ScriptCall* Server::runningScript(long long* ms) const {
  if (ms != nullptr) {
    *ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - scriptStarted_).count();
  }
  return runningScript_;
}

bool Server::scriptShouldStop() {
  const long long threshold = config_.busyReplyThresholdMs;
  if (runningScript_ != nullptr && threshold > 0 && Clock::now() - scriptStarted_ > std::chrono::milliseconds(threshold)) {
    if (!busy_) {
      busy_ = true;
      log_.warning("Slow script detected: still in execution after %lld milliseconds. You can try killing the script "
                   "using the %s command.", threshold, runningScript_->function ? "FUNCTION KILL" : "SCRIPT KILL");
      stats_.publishBusyScript(runningScript_->function ? 2 : 1);  // every worker's keyless commands see it
      dispatch_.setBusy(std::string(busyScriptError(runningScript_->function)));
      connections_.setBusy(true);
      // From now on -BUSY keeps everyone off its keys, and SCRIPT KILL
      // must get through: clients are read again.
      endScriptWait();
    }
    loop_.run(RunMode::NoWait);
  }
  return killRequested_;
}

Status Server::killScript(bool eval) {
  if (runningScript_ == nullptr) return fail("NOTBUSY No scripts in execution right now.");
  if (eval == runningScript_->function) return fail(std::string(busyScriptError(runningScript_->function)));
  if (runningScript_->wrote) {
    return fail("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait "
           "the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
  }
  killRequested_ = true;
  return {};
}

}  // namespace keyloop
