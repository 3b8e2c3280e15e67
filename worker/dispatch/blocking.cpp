#include "worker/dispatch/blocking.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <utility>
#include <random>

#include "common/resp/reply_reader.h"
#include "common/text/text.h"
#include "worker/connection/client.h"
#include "worker/execution/command_table.h"
#include "worker/connection/connections.h"
#include "worker/dispatch/cross_worker.h"
#include "worker/dispatch/dispatch.h"
#include "worker/routing/key_locks.h"
#include "worker/keyspace/databases.h"
#include "worker/keyspace/store.h"
#include "worker/execution/worker_services.h"

namespace keyloop {

namespace {

constexpr std::string_view kUnblockedError = "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n";

std::string encodeRequest(std::span<const std::string> args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

std::vector<std::string_view> viewsOf(const std::vector<std::string>& args) {
  return {args.begin(), args.end()};
}

std::size_t timeoutIndex(const BlockingSpec& b, std::span<const std::string_view> args) {
  if (b.optionalTimeoutAt != nullptr) return b.optionalTimeoutAt(args);
  const std::size_t argc = args.size();
  return b.timeoutAt < 0 ? argc - static_cast<std::size_t>(-b.timeoutAt) : static_cast<std::size_t>(b.timeoutAt);
}

// The timeout as the handler accepted it (it replied an error otherwise),
// at most a century: the steady clock counts nanoseconds, which a longer
// wait would overflow.
long long timeoutMillis(const BlockingSpec& b, std::string_view arg) {
  constexpr long long kCentury = 100LL * 365 * 24 * 3600 * 1000;
  if (b.optionalTimeoutAt != nullptr) return std::clamp(parseInteger(arg).value_or(0), 0LL, kCentury);
  const Result<long long> ms = parseBlockingTimeout(arg, unixMillis());
  return ms ? std::min(*ms, kCentury) : 0;
}

// The wait keys of a blocking command, as a spec of its own.
CommandSpec waitKeysOf(const CommandSpec& spec) {
  CommandSpec keys{};
  keys.keys = spec.blocking->waitKeys;
  return keys;
}

}  // namespace

struct Blocking::Wait {
  std::uint64_t id, clientId, place;
  int db;
  const CommandSpec* spec;
  std::vector<std::string> args;
  std::string nullReply;  // what a timeout replies
  std::vector<int> owners;
  resp::Protocol protocol;
  std::unique_ptr<Timer> timer;
  TimePoint deadline{};
  bool reserved = false, expired = false;
};

struct Blocking::Waiter {
  std::uint64_t waitId;
  int worker;
  resp::Protocol protocol;
  std::uint8_t type;
  int db;
  std::vector<std::string> command;
  bool offered = false;  // an answer from its worker is awaited
  // Its command found nothing since the key's last write (a stream whose
  // new entries were deleted): not offered again until the next write.
  bool dry = false;
};

bool isNullReply(std::string_view reply) { return reply == "*-1\r\n" || reply == "$-1\r\n" || reply == "_\r\n"; }

std::vector<std::string> restrictToKey(const CommandSpec& spec, std::span<const std::string_view> args,
                                       std::string_view key) {
  if (spec.blocking->restrictTo != nullptr) return spec.blocking->restrictTo(args, key);
  const KeySpec& w = spec.blocking->waitKeys;
  std::vector<std::string> out(args.begin(), args.end());
  if (w.numkeysAt > 0) {
    const auto at = static_cast<std::size_t>(w.numkeysAt);
    const auto n = static_cast<std::size_t>(parseInteger(args[at]).value_or(1));
    out.erase(out.begin() + static_cast<std::ptrdiff_t>(at) + 1, out.begin() + static_cast<std::ptrdiff_t>(at + 1 + n));
    out.insert(out.begin() + static_cast<std::ptrdiff_t>(at) + 1, std::string(key));
    out[at] = "1";
    return out;
  }
  if (w.last >= 0 && w.last == w.first) return out;  // one wait key (BLMOVE)
  const auto first = static_cast<std::size_t>(w.first);
  const std::size_t last = args.size() - static_cast<std::size_t>(-w.last);
  out.erase(out.begin() + static_cast<std::ptrdiff_t>(first), out.begin() + static_cast<std::ptrdiff_t>(last) + 1);
  out.insert(out.begin() + static_cast<std::ptrdiff_t>(first), std::string(key));
  return out;
}

Blocking::Blocking(Loop& loop, Dispatch& dispatch) : loop_(loop), dispatch_(dispatch) {
  std::random_device seed;
  nextWaitId_ = (static_cast<std::uint64_t>(seed()) << 20) & ((std::uint64_t{1} << 52) - 1);
}

Blocking::~Blocking() = default;

// ---- the client's worker ----

bool blocksNow(const CommandSpec& spec, std::span<const std::string_view> args) {
  return spec.blocking != nullptr && (spec.blocking->optionalTimeoutAt == nullptr || spec.blocking->optionalTimeoutAt(args) > 0);
}

void Blocking::start(Client& client, const CommandSpec& spec, std::span<const std::string_view> args,
                     const RoutePlan& plan) {
  const std::uint64_t place = client.reserveReply();
  client.holdUntilFilled(place);
  const int db = client.session().db;
  std::vector<std::pair<std::size_t, std::size_t>> marks;
  if (spec.blocking->newestMarks != nullptr) spec.blocking->newestMarks(args, marks);
  if (marks.empty()) return attemptThenBlock(client, place, db, spec, {args.begin(), args.end()}, plan);
  resolveNewest(client.id(), place, db, spec, {args.begin(), args.end()}, std::move(marks));
}

// Asks each owner of a marked key for its newest ID (peer::LastIds), puts
// them in, then tries the command: what comes after this moment serves it.
void Blocking::resolveNewest(std::uint64_t clientId, std::uint64_t place, int db, const CommandSpec& spec,
                             std::vector<std::string> args, std::vector<std::pair<std::size_t, std::size_t>> marks) {
  struct Pending {
    std::vector<std::string> args;
    std::size_t left;
  };
  auto pending = std::make_shared<Pending>(Pending{std::move(args), 0});
  Router* router = dispatch_.router();
  std::map<int, std::vector<std::pair<std::size_t, std::size_t>>> byOwner;
  for (const auto& mark : marks) byOwner[router ? router->ownerOf(pending->args[mark.first]) : 0].push_back(mark);
  pending->left = byOwner.size();
  for (auto& [owner, owned] : byOwner) {
    std::vector<std::string_view> keys;
    for (const auto& mark : owned) keys.emplace_back(pending->args[mark.first]);
    const peer::Message message = peer::lastIdsRequest(keys);
    auto answer = [this, pending, owned, clientId, place, db, &spec](std::string_view reply) {
      const auto ids = resp::replyElements(reply);
      for (std::size_t i = 0; i < owned.size(); ++i) {
        pending->args[owned[i].second] = i < ids.size() ? resp::replyBulk(ids[i]).value_or("0-0") : "0-0";
      }
      if (--pending->left > 0) return;
      Client* c = dispatch_.connections().find(clientId);
      if (c == nullptr) return;
      const std::vector<std::string_view> views = viewsOf(pending->args);
      attemptThenBlock(*c, place, db, spec, pending->args, dispatch_.planFor(spec, views, c->clusterNode()));
    };
    // This worker's streams at once: with one worker nothing comes between
    // the command's arrival and its wait, as in Redis.
    if (router == nullptr || owner == router->self()) answer(dispatch_.runNow(message.args(), resp::Protocol::Resp2, db));
    else router->call(owner, message.args(), resp::Protocol::Resp2, std::move(answer), db);
  }
}

void Blocking::attemptThenBlock(Client& client, std::uint64_t place, int db, const CommandSpec& spec,
                                std::vector<std::string> copy, const RoutePlan& plan) {
  const std::vector<std::string_view> args = viewsOf(copy);
  attempt(client, place, db, spec, args, plan, [this, clientId = client.id(), place, db, &spec, copy](std::string_view reply) {
    Client* c = dispatch_.connections().find(clientId);
    if (c == nullptr) return;
    if (!isNullReply(reply)) {
      dispatch_.countError(ResolvedCommand{&spec, &spec}, reply, 0, true);
      return c->fillReply(place, reply);
    }
    // A wait that times out answers a null array, whatever the attempt
    // answered (BLMOVE's is a null bulk), as Redis's
    // replyToBlockedClientTimedOut does.
    block(*c, place, db, spec, copy, c->reply().protocol() == resp::Protocol::Resp3 ? "_\r\n" : "*-1\r\n");
  });
}

void Blocking::attempt(Client& client, std::uint64_t place, int db, const CommandSpec& spec,
                       std::span<const std::string_view> args, const RoutePlan& plan,
                       std::function<void(std::string_view reply)> then) {
  if (plan.kind == RoutePlan::Kind::Here) return then(dispatch_.runNow(args, client.reply().protocol(), db));
  runAcrossThen(dispatch_, client, place, db, spec, args, plan, std::move(then));
}

void Blocking::block(Client& client, std::uint64_t place, int db, const CommandSpec& spec,
                     std::vector<std::string> args, std::string nullReply) {
  Router* router = dispatch_.router();
  auto wait = std::make_unique<Wait>();
  const std::uint64_t id = wait->id = ++nextWaitId_;
  wait->clientId = client.id();
  wait->place = place;
  wait->db = db;
  wait->spec = &spec;
  wait->args = args;
  wait->nullReply = std::move(nullReply);
  wait->protocol = client.reply().protocol();
  const std::vector<std::string_view> views = viewsOf(args);
  // The wait keys by owner: one registration each.
  std::map<int, std::vector<std::string_view>> byOwner;
  forEachKey(waitKeysOf(spec), views, [&](std::size_t i, std::size_t) {
    auto& keys = byOwner[router ? router->ownerOf(views[i]) : 0];
    if (std::find(keys.begin(), keys.end(), views[i]) == keys.end()) keys.push_back(views[i]);
    return true;
  });
  for (const auto& [owner, keys] : byOwner) wait->owners.push_back(owner);
  const long long ms = timeoutMillis(*spec.blocking, views[timeoutIndex(*spec.blocking, views)]);
  if (ms > 0) {
    wait->timer = std::make_unique<Timer>(loop_);
    wait->deadline = loop_.now() + std::chrono::milliseconds(ms);
    wait->timer->start(std::chrono::milliseconds(ms), [this, id] {
      auto it = waits_.find(id);
      if (it == waits_.end()) return;
      if (it->second->reserved) {
        it->second->expired = true;  // the outcome of the offer decides
      } else {
        finish(id, it->second->nullReply);
      }
    });
  }
  // Registered before the owners hear of it: an owner (this worker too)
  // may offer it an element at once.
  const resp::Protocol protocol = wait->protocol;
  waitOfClient_[wait->clientId] = id;
  waits_.emplace(id, std::move(wait));
  for (const auto& [owner, keys] : byOwner) {
    const peer::Block block{id, router ? router->self() : 0, protocol, spec.blocking->waitsFor, keys, views};
    if (router) router->notify(owner, peer::encode(block).args(), db);
  }
}

void Blocking::tellOwners(const Wait& wait, peer::Kind kind) {
  Router* router = dispatch_.router();
  if (router == nullptr) return;
  const peer::Message message = peer::waitMessage(kind, wait.id);
  for (int owner : wait.owners) router->notify(owner, message.args());
}

void Blocking::finish(std::uint64_t waitId, std::string_view reply) {
  auto it = waits_.find(waitId);
  if (it == waits_.end()) return;
  std::unique_ptr<Wait> wait = std::move(it->second);
  waits_.erase(it);
  waitOfClient_.erase(wait->clientId);
  tellOwners(*wait, peer::Kind::Unblock);
  if (Client* c = dispatch_.connections().find(wait->clientId)) {
    dispatch_.countError(ResolvedCommand{wait->spec, wait->spec}, reply, 0, true);
    c->fillReply(wait->place, reply);
  }
}

void Blocking::clientGone(std::uint64_t clientId) {
  auto it = waitOfClient_.find(clientId);
  if (it == waitOfClient_.end()) return;
  const std::uint64_t waitId = it->second;
  Wait& wait = *waits_.at(waitId);
  if (wait.reserved) {
    // Being served: the outcome still comes back and finishes it (the
    // element then goes to no one, as a Redis client served just before
    // it disconnected never reads it).
    wait.expired = true;
    return;
  }
  finish(waitId, {});
}

bool Blocking::unblock(std::uint64_t clientId, bool withError) {
  auto it = waitOfClient_.find(clientId);
  if (it == waitOfClient_.end()) return false;
  const std::uint64_t waitId = it->second;
  Wait& wait = *waits_.at(waitId);
  if (wait.reserved) return false;
  finish(waitId, withError ? kUnblockedError : std::string_view(wait.nullReply));
  return true;
}

Blocking::Reservation Blocking::reserve(std::uint64_t waitId) {
  auto it = waits_.find(waitId);
  if (it == waits_.end() || it->second->expired) return Reservation::Gone;
  if (dispatch_.connections().find(it->second->clientId) == nullptr) return Reservation::Gone;
  if (it->second->reserved) return Reservation::Busy;
  it->second->reserved = true;
  return Reservation::Reserved;
}

void Blocking::lookAgainSoon(const std::string& key) {
  lookAgain_.insert(key);
  if (!lookAgainTimer_) lookAgainTimer_ = std::make_unique<Timer>(loop_);
  lookAgainTimer_->start(std::chrono::milliseconds(1), [this] {
    for (const std::string& key : std::exchange(lookAgain_, {})) noteReady(key);
    serveReady();
  });
}

bool Blocking::served(std::uint64_t waitId, std::string_view reply) {
  auto it = waits_.find(waitId);
  if (it == waits_.end()) return false;
  Wait& wait = *it->second;
  wait.reserved = false;
  if (!reply.empty() && !isNullReply(reply)) return finish(waitId, reply), false;
  if (wait.expired) return finish(waitId, wait.nullReply), false;
  return true;
}

void Blocking::retry(std::uint64_t waitId) {
  auto it = waits_.find(waitId);
  if (it == waits_.end() || it->second->reserved) return;
  Wait& wait = *it->second;
  Client* c = dispatch_.connections().find(wait.clientId);
  if (c == nullptr) return;
  wait.reserved = true;
  const std::vector<std::string_view> args = viewsOf(wait.args);
  attempt(*c, 0, wait.db, *wait.spec, args, dispatch_.planFor(*wait.spec, args, c->clusterNode()),
          [this, waitId](std::string_view reply) {
            // The owner that sent Retry offers this wait nothing more until told.
            auto w = waits_.find(waitId);
            if (w != waits_.end() && served(waitId, reply)) tellOwners(*w->second, peer::Kind::Rewait);
          });
}

std::optional<std::string> Blocking::releaseForHandOver(std::uint64_t clientId) {
  auto it = waitOfClient_.find(clientId);
  if (it == waitOfClient_.end()) return std::nullopt;
  Wait& wait = *waits_.at(it->second);
  if (wait.reserved) return std::nullopt;
  std::vector<std::string> args = wait.args;
  if (wait.timer) {
    // What is left of the timeout, at least a millisecond.
    const auto left = std::max<long long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(wait.deadline - loop_.now()).count(), 1);
    const BlockingSpec& b = *wait.spec->blocking;
    args[timeoutIndex(b, viewsOf(args))] = b.optionalTimeoutAt != nullptr
                                               ? std::to_string(left)
                                               : printed("%.3f", static_cast<double>(left) / 1000.0);
  }
  std::string request = encodeRequest(args);
  finish(wait.id, {});
  return request;
}

// ---- a key's owner ----

void Blocking::addWaiter(std::uint64_t waitId, int worker, resp::Protocol protocol, std::uint8_t type, int db,
                         std::span<const std::string_view> keys, std::span<const std::string_view> command) {
  auto waiter = std::make_shared<Waiter>(Waiter{waitId, worker, protocol, type, db, {command.begin(), command.end()}});
  std::vector<std::string>& mine = keysOfWaiter_[waitId];
  for (std::string_view key : keys) {
    std::string name = keyInDatabase(db, key);
    waitersByKey_[name].push_back(waiter);
    mine.push_back(std::move(name));
  }
  // A push may have come between the attempt and this registration.
  for (const std::string& name : mine) noteReady(name);
  serveReady();
}

void Blocking::dropWaiter(const std::string& key, std::uint64_t waitId) {
  auto it = waitersByKey_.find(key);
  if (it == waitersByKey_.end()) return;
  auto& queue = it->second;
  queue.erase(std::remove_if(queue.begin(), queue.end(), [&](const WaiterPtr& w) { return w->waitId == waitId; }),
              queue.end());
  if (queue.empty()) waitersByKey_.erase(it);
}

void Blocking::removeWaiter(std::uint64_t waitId) {
  auto it = keysOfWaiter_.find(waitId);
  if (it == keysOfWaiter_.end()) return;
  for (const std::string& key : it->second) dropWaiter(key, waitId);
  keysOfWaiter_.erase(it);
}

void Blocking::rewait(std::uint64_t waitId) {
  auto it = keysOfWaiter_.find(waitId);
  if (it == keysOfWaiter_.end()) return;
  for (const std::string& key : it->second) {
    auto q = waitersByKey_.find(key);
    if (q == waitersByKey_.end()) continue;
    for (const WaiterPtr& w : q->second) {
      if (w->waitId == waitId) w->offered = w->dry = false;
    }
    noteReady(key);
  }
  serveReady();
}

void Blocking::noteWrite(int db, const CommandSpec& spec, std::span<const std::string_view> args) {
  if (waitersByKey_.empty()) return;
  if (spec.flags & kWipesKeyspace) return noteEverythingReady();  // FLUSHALL, FLUSHDB
  forEachKey(spec, args, [&](std::size_t i, std::size_t) {
    const std::string name = keyInDatabase(db, args[i]);
    if (auto it = waitersByKey_.find(name); it != waitersByKey_.end()) {
      for (const WaiterPtr& w : it->second) w->dry = false;
    }
    noteReady(name);
    return true;
  });
  serveReady();
}

void Blocking::noteEverythingReady() {
  for (auto& [key, waiters] : waitersByKey_) {
    for (const WaiterPtr& w : waiters) w->dry = false;
    ready_.push_back(key);
  }
  serveReady();
}

void Blocking::noteReady(int db, std::string_view key) {
  const std::string name = keyInDatabase(db, key);
  if (auto it = waitersByKey_.find(name); it != waitersByKey_.end()) {
    for (const WaiterPtr& w : it->second) w->dry = false;
  }
  noteReady(name);
  serveReady();
}

void Blocking::noteReady(const std::string& name) {
  if (waitersByKey_.contains(name)) ready_.push_back(name);
}

void Blocking::serveReady() {
  if (serving_ || holds_ > 0) return;  // the outer call (or the hold's end) serves what this one noted
  serving_ = true;
  while (!ready_.empty()) {
    std::vector<std::string> keys;
    keys.swap(ready_);
    for (const std::string& key : keys) serveKey(key);
  }
  serving_ = false;
}

bool Blocking::allKeysHere(std::span<const std::string_view> args) const {
  const Router* router = dispatch_.router();
  if (router == nullptr) return true;
  const ResolvedCommand command = resolveCommand(args);
  if (command.spec == nullptr) return false;
  bool here = true;
  forEachKey(*command.spec, args, [&](std::size_t i, std::size_t) {
    here = router->ownerOf(args[i]) == router->self();
    return here;
  });
  return here;
}

void Blocking::serveKey(const std::string& name) {
  if (offering_.contains(name)) return;  // picked up again when the answer comes
  const int db = databaseOf(name);
  const std::string_view key = keyOf(name);
  KeyLocks& locks = dispatch_.services().locks();
  if (locks.isLocked(key)) {
    // A cross-worker transaction holds it (it read the value and will
    // commit it): nothing is popped under it; look again once it is done.
    locks.park([this, name] {
      noteReady(name);
      serveReady();
    });
    return;
  }
  Router* router = dispatch_.router();
  const int self = router ? router->self() : 0;
  std::size_t i = 0;
  while (true) {
    auto it = waitersByKey_.find(name);
    if (it == waitersByKey_.end() || i >= it->second.size()) return;
    const Store::Entry* e = dispatch_.store(db).find(key, unixMillis());
    const WaiterPtr waiter = it->second[i];
    const std::vector<std::string_view> command = viewsOf(waiter->command);
    const ResolvedCommand resolved = resolveCommand(command);
    const bool present = e != nullptr && static_cast<std::uint8_t>(typeOf(Store::kind(e))) == waiter->type;
    if (waiter->offered || waiter->dry || (!present && resolved.spec->blocking->goneError.empty())) {
      ++i;
      continue;
    }
    const std::vector<std::string> restricted = restrictToKey(*resolved.spec, command, key);
    const std::vector<std::string_view> args = viewsOf(restricted);
    if (present && !allKeysHere(args)) {
      // Its other keys live elsewhere: the client's worker runs it.
      waiter->offered = true;
      if (waiter->worker == self) retry(waiter->waitId);
      else if (router) router->notify(waiter->worker, peer::waitMessage(peer::Kind::Retry, waiter->waitId).args());
      ++i;
      continue;
    }
    if (waiter->worker == self) {
      const Reservation reservation = reserve(waiter->waitId);
      if (reservation == Reservation::Gone) {
        removeWaiter(waiter->waitId);
        continue;
      }
      if (reservation == Reservation::Busy) {  // another owner is serving it: its outcome decides
        lookAgainSoon(name);
        ++i;
        continue;
      }
      const std::string reply = replyFor(*waiter, key, restricted);
      served(waiter->waitId, reply);
      if (!isNullReply(reply)) removeWaiter(waiter->waitId);
      else waiter->dry = true, ++i;
      continue;
    }
    // A client elsewhere: the key is locked while its worker is asked, so
    // nothing takes the element meanwhile.
    const std::string transaction = "wake." + std::to_string(waiter->waitId);
    const std::string_view lockKey = key;
    locks.lock(transaction, {&lockKey, 1});
    offering_.insert(name);
    waiter->offered = true;
    router->call(waiter->worker, peer::waitMessage(peer::Kind::Wake, waiter->waitId).args(), resp::Protocol::Resp2,
                 [this, name, transaction, waiter, restricted](std::string_view answer) {
                   const std::string_view key = keyOf(name);
                   if (answer == ":1\r\n") {
                     const std::string reply = replyFor(*waiter, key, restricted);
                     // The pop reaches the client once it is logged as appendfsync asks.
                     dispatch_.afterLogged([router = dispatch_.router(), worker = waiter->worker,
                                            wait = waiter->waitId, reply] {
                       router->notify(worker, peer::encode(peer::Served{wait, reply}).args());
                     });
                     if (!isNullReply(reply)) removeWaiter(waiter->waitId);
                     else waiter->offered = false, waiter->dry = true;
                   } else if (answer == ":2\r\n") {
                     // Being served (by this owner's last offer, whose outcome is on
                     // its way, or by another): look again once that is settled.
                     waiter->offered = false;
                     lookAgainSoon(name);
                   } else {
                     removeWaiter(waiter->waitId);
                   }
                   offering_.erase(name);
                   dispatch_.services().locks().unlock(transaction);
                   noteReady(name);
                   serveReady();
                 });
    return;  // one offer at a time per key
  }
}

std::string Blocking::replyFor(const Waiter& waiter, std::string_view key, const std::vector<std::string>& restricted) {
  const Store::Entry* e = dispatch_.store(waiter.db).find(key, unixMillis());
  if (e == nullptr || static_cast<std::uint8_t>(typeOf(Store::kind(e))) != waiter.type) {
    const std::vector<std::string_view> command = viewsOf(waiter.command);
    return "-" + std::string(resolveCommand(command).spec->blocking->goneError) + "\r\n";
  }
  return dispatch_.runNow(viewsOf(restricted), waiter.protocol, waiter.db);
}

}  // namespace keyloop
