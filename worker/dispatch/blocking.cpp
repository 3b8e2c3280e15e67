#include "worker/dispatch/blocking.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>

#include "common/resp/reply_reader.h"
#include "common/text/text.h"
#include "worker/connection/client.h"
#include "worker/execution/command_table.h"
#include "worker/connection/connections.h"
#include "worker/dispatch/cross_worker.h"
#include "worker/dispatch/dispatch.h"
#include "worker/routing/key_locks.h"
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

std::size_t timeoutIndex(const BlockingSpec& b, std::size_t argc) {
  return b.timeoutAt < 0 ? argc - static_cast<std::size_t>(-b.timeoutAt) : static_cast<std::size_t>(b.timeoutAt);
}

// The timeout as the handler accepted it (it replied an error otherwise),
// at most a century: the steady clock counts nanoseconds, which a longer
// wait would overflow.
long long timeoutMillis(std::string_view arg) {
  constexpr long long kCentury = 100LL * 365 * 24 * 3600 * 1000;
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
  std::vector<std::string> command;
  bool offered = false;  // an answer from its worker is awaited
};

bool isNullReply(std::string_view reply) { return reply == "*-1\r\n" || reply == "$-1\r\n" || reply == "_\r\n"; }

std::vector<std::string> restrictToKey(const CommandSpec& spec, std::span<const std::string_view> args,
                                       std::string_view key) {
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

void Blocking::start(Client& client, const CommandSpec& spec, std::span<const std::string_view> args,
                     const RoutePlan& plan) {
  const std::uint64_t place = client.reserveReply();
  client.holdUntilFilled(place);
  std::vector<std::string> copy(args.begin(), args.end());
  attempt(client, place, spec, args, plan, [this, clientId = client.id(), place, &spec, copy](std::string_view reply) {
    Client* c = dispatch_.connections().find(clientId);
    if (c == nullptr) return;
    if (!isNullReply(reply)) return c->fillReply(place, reply);
    // A wait that times out answers a null array, whatever the attempt
    // answered (BLMOVE's is a null bulk), as Redis's
    // replyToBlockedClientTimedOut does.
    block(*c, place, spec, copy, c->reply().protocol() == resp::Protocol::Resp3 ? "_\r\n" : "*-1\r\n");
  });
}

void Blocking::attempt(Client& client, std::uint64_t place, const CommandSpec& spec,
                       std::span<const std::string_view> args, const RoutePlan& plan,
                       std::function<void(std::string_view reply)> then) {
  if (plan.kind == RoutePlan::Kind::Here) return then(dispatch_.runNow(args, client.reply().protocol()));
  runAcrossThen(dispatch_, client, place, spec, args, plan, std::move(then));
}

void Blocking::block(Client& client, std::uint64_t place, const CommandSpec& spec, std::vector<std::string> args,
                     std::string nullReply) {
  Router* router = dispatch_.router();
  auto wait = std::make_unique<Wait>();
  wait->id = ++nextWaitId_;
  wait->clientId = client.id();
  wait->place = place;
  wait->spec = &spec;
  wait->args = std::move(args);
  wait->nullReply = std::move(nullReply);
  wait->protocol = client.reply().protocol();
  const std::vector<std::string_view> views = viewsOf(wait->args);
  // The wait keys by owner: one registration each.
  std::map<int, std::vector<std::string_view>> byOwner;
  forEachKey(waitKeysOf(spec), views, [&](std::size_t i, std::size_t) {
    auto& keys = byOwner[router ? router->ownerOf(views[i]) : 0];
    if (std::find(keys.begin(), keys.end(), views[i]) == keys.end()) keys.push_back(views[i]);
    return true;
  });
  for (auto& [owner, keys] : byOwner) {
    wait->owners.push_back(owner);
    const peer::Block block{wait->id, router ? router->self() : 0, wait->protocol, spec.blocking->waitsFor, keys, views};
    if (router) router->notify(owner, peer::encode(block).args());
  }
  const long long ms = timeoutMillis(views[timeoutIndex(*spec.blocking, views.size())]);
  if (ms > 0) {
    wait->timer = std::make_unique<Timer>(loop_);
    wait->deadline = loop_.now() + std::chrono::milliseconds(ms);
    wait->timer->start(std::chrono::milliseconds(ms), [this, id = wait->id] {
      auto it = waits_.find(id);
      if (it == waits_.end()) return;
      if (it->second->reserved) {
        it->second->expired = true;  // the outcome of the offer decides
      } else {
        finish(id, it->second->nullReply);
      }
    });
  }
  waitOfClient_[wait->clientId] = wait->id;
  waits_.emplace(wait->id, std::move(wait));
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
  if (Client* c = dispatch_.connections().find(wait->clientId)) c->fillReply(wait->place, reply);
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

bool Blocking::reserve(std::uint64_t waitId) {
  auto it = waits_.find(waitId);
  if (it == waits_.end() || it->second->reserved || it->second->expired) return false;
  if (dispatch_.connections().find(it->second->clientId) == nullptr) return false;
  it->second->reserved = true;
  return true;
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
  attempt(*c, 0, *wait.spec, args, dispatch_.planFor(*wait.spec, args, c->clusterNode()),
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
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(wait.deadline - loop_.now()).count();
    args[timeoutIndex(*wait.spec->blocking, args.size())] =
        printed("%.3f", static_cast<double>(std::max<long long>(left, 1)) / 1000.0);
  }
  std::string request = encodeRequest(args);
  finish(wait.id, {});
  return request;
}

// ---- a key's owner ----

void Blocking::addWaiter(std::uint64_t waitId, int worker, resp::Protocol protocol, std::uint8_t type,
                         std::span<const std::string_view> keys, std::span<const std::string_view> command) {
  auto waiter = std::make_shared<Waiter>(Waiter{waitId, worker, protocol, type, {command.begin(), command.end()}});
  std::vector<std::string>& mine = keysOfWaiter_[waitId];
  for (std::string_view key : keys) {
    waitersByKey_[std::string(key)].push_back(waiter);
    mine.emplace_back(key);
  }
  // A push may have come between the attempt and this registration.
  for (std::string_view key : keys) noteReady(key);
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
      if (w->waitId == waitId) w->offered = false;
    }
    noteReady(key);
  }
  serveReady();
}

void Blocking::noteWrite(const CommandSpec& spec, std::span<const std::string_view> args) {
  if (waitersByKey_.empty()) return;
  forEachKey(spec, args, [&](std::size_t i, std::size_t) {
    noteReady(args[i]);
    return true;
  });
  serveReady();
}

void Blocking::noteReady(std::string_view key) {
  if (waitersByKey_.contains(std::string(key))) ready_.emplace_back(key);
}

void Blocking::serveReady() {
  if (serving_) return;  // the outer call serves what this one noted
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

void Blocking::serveKey(const std::string& key) {
  if (offering_.contains(key)) return;  // picked up again when the answer comes
  KeyLocks& locks = dispatch_.services().locks();
  if (locks.isLocked(key)) {
    // A cross-worker transaction holds it (it read the value and will
    // commit it): nothing is popped under it; look again once it is done.
    locks.park([this, key] {
      noteReady(key);
      serveReady();
    });
    return;
  }
  Router* router = dispatch_.router();
  const int self = router ? router->self() : 0;
  std::size_t i = 0;
  while (true) {
    auto it = waitersByKey_.find(key);
    if (it == waitersByKey_.end() || i >= it->second.size()) return;
    const Store::Entry* e = dispatch_.store().find(key, unixMillis());
    if (e == nullptr) return;
    const WaiterPtr waiter = it->second[i];
    if (waiter->offered || static_cast<std::uint8_t>(typeOf(Store::kind(e))) != waiter->type) {
      ++i;
      continue;
    }
    const std::vector<std::string_view> command = viewsOf(waiter->command);
    const ResolvedCommand resolved = resolveCommand(command);
    const std::vector<std::string> restricted = restrictToKey(*resolved.spec, command, key);
    const std::vector<std::string_view> args = viewsOf(restricted);
    if (!allKeysHere(args)) {
      // Its other keys live elsewhere: the client's worker runs it.
      waiter->offered = true;
      if (waiter->worker == self) retry(waiter->waitId);
      else if (router) router->notify(waiter->worker, peer::waitMessage(peer::Kind::Retry, waiter->waitId).args());
      ++i;
      continue;
    }
    if (waiter->worker == self) {
      if (!reserve(waiter->waitId)) {
        removeWaiter(waiter->waitId);
        continue;
      }
      const std::string reply = dispatch_.runNow(args, waiter->protocol);
      served(waiter->waitId, reply);
      if (!isNullReply(reply)) removeWaiter(waiter->waitId);
      else ++i;
      continue;
    }
    // A client elsewhere: the key is locked while its worker is asked, so
    // nothing takes the element meanwhile.
    const std::string transaction = "wake." + std::to_string(waiter->waitId);
    const std::string_view lockKey = key;
    locks.lock(transaction, {&lockKey, 1});
    offering_.insert(key);
    waiter->offered = true;
    router->call(waiter->worker, peer::waitMessage(peer::Kind::Wake, waiter->waitId).args(), resp::Protocol::Resp2,
                 [this, key, transaction, waiter, restricted](std::string_view answer) {
                   if (answer == ":1\r\n") {
                     const std::vector<std::string_view> args = viewsOf(restricted);
                     const std::string reply = dispatch_.runNow(args, waiter->protocol);
                     // The pop reaches the client once it is logged as appendfsync asks.
                     dispatch_.afterLogged([router = dispatch_.router(), worker = waiter->worker,
                                            wait = waiter->waitId, reply] {
                       router->notify(worker, peer::encode(peer::Served{wait, reply}).args());
                     });
                     if (!isNullReply(reply)) removeWaiter(waiter->waitId);
                     else waiter->offered = false;
                   } else {
                     removeWaiter(waiter->waitId);
                   }
                   offering_.erase(key);
                   dispatch_.services().locks().unlock(transaction);
                   noteReady(key);
                   serveReady();
                 });
    return;  // one offer at a time per key
  }
}

}  // namespace keyloop
