#include "worker/scripting/script_reach.h"

#include <unistd.h>

#include <algorithm>
#include <deque>
#include <set>

#include "common/resp/reply_reader.h"
#include "worker/execution/peer_messages.h"
#include "worker/execution/worker_services.h"
#include "worker/keyspace/image.h"
#include "worker/routing/key_locks.h"

namespace keyloop {

namespace {

// What this worker learned of each script (SHA or function name): it
// reached keys of other workers, or it ran here once without. Bounded: a
// client that makes up a new script per call must not grow them forever
// (forgetting only costs a run with the permission).
using ScriptNames = std::set<std::string, std::less<>>;
constexpr std::size_t kScriptsKept = 10'000;
void remember(ScriptNames& names, const std::string& name) {
  if (names.size() >= kScriptsKept) names.clear();
  names.insert(name);
}
ScriptNames& reachingScripts() {
  static ScriptNames names;
  return names;
}
ScriptNames& localScripts() {
  static ScriptNames names;
  return names;
}

// Lock ids as the executor's (atomic.cpp): slot, pid, counter; "s" marks a
// script's, whose pid says which worker holds it.
std::string newScriptTransaction(int self) {
  static std::uint64_t counter = 0;
  return std::to_string(self) + "." + std::to_string(::getpid()) + ".s" + std::to_string(++counter);
}

std::string errorLine(std::string_view reply) {
  std::string line(reply.substr(reply.empty() ? 0 : 1));
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line.empty() ? std::string("TRYAGAIN the owner of a key did not answer") : line;
}

}  // namespace

ScriptReach::ScriptReach(CommandContext& ctx)
    : ctx_(ctx),
      transaction_(newScriptTransaction(ctx.worker.self())),
      collect_(collectInto(events_)),
      grant_([this](std::string_view transaction, std::span<const std::string_view> keys) {
        return grants(transaction, keys);
      }) {}

bool ScriptReach::mine(std::string_view key) const {
  const ring::Ring* ring = ctx_.worker.ring();
  return ring == nullptr || ring->workers() < 2 || ring->ownerOf(key) == ctx_.worker.self();
}

bool ScriptReach::grants(std::string_view transaction, std::span<const std::string_view> keys) {
  if (transaction.substr(0, transaction_.size()) == transaction_) return true;  // its own
  // Only the permission's holder (it waits for nobody, so nothing waits in
  // a circle): keys this script has not used, or any once this script
  // gives way (if it has not written here yet). Anyone else starts over.
  const std::int64_t holder = ctx_.worker.scriptReachHolder();
  if (holder == 0 || KeyLocks::coordinatorOf(transaction).pid != (holder < 0 ? -holder : holder)) return false;
  if (std::none_of(keys.begin(), keys.end(), [this](std::string_view k) { return touched_.count(k) > 0; })) return true;
  if (wroteHere_) return false;
  giveWay();
  return true;
}

void ScriptReach::giveWay() {
  // Nothing it did stays: its keys unlock unchanged (now: the holder may
  // want them), its notifications go; its commands fail from here on.
  for (auto& [key, was] : before_) {
    if (was.image) restoreImage(scratch(), key, *was.image, was.expireAt);
    else scratch().erase(key);
  }
  events_.clear();
  finish();
  touched_.clear();
  startOver_ = true;
}

void ScriptReach::startReaching(const std::string& name) {
  name_ = name;
  const ring::Ring* ring = ctx_.worker.ring();
  if (ring == nullptr || ring->workers() < 2 || permission_) return;
  // A script known to stay on its worker runs free; one that reached
  // before, or runs here for the first time, takes the permission first.
  if (reachingScripts().count(name) == 0 && localScripts().count(name) > 0) return;
  permission_ = takePermission();
}

bool ScriptReach::takePermission() {
  if (ctx_.worker.takeScriptReach(false)) return true;
  // In the queue, which goes first, until it has it (or gave way meanwhile).
  ctx_.worker.queueForScriptReach(true);
  bool taken = false;
  ctx_.worker.waitInScript([&] { return startOver_ || (taken = ctx_.worker.takeScriptReach(false)); }, grant_);
  ctx_.worker.queueForScriptReach(false);
  return taken;
}

void ScriptReach::startOver() {
  startOver_ = false;
  wroteHere_ = false;
  remember(reachingScripts(), name_);
  startReaching(name_);
}

Result<Store*> ScriptReach::reach(std::span<const std::string_view> keys, bool writes) {
  if (startOver_) return fail("TRYAGAIN the script gives way to another and runs again");
  for (std::string_view key : keys) touched_.emplace(key);
  // What the run can use as it is: its own worker's keys (or, against a
  // locked set, the keys in it), and the keys already in the scratch store.
  const auto usable = [this](std::string_view key) {
    return ctx_.readable != nullptr ? (*ctx_.readable)(key) : mine(key);
  };
  const bool toScratch =
      std::any_of(keys.begin(), keys.end(), [&](std::string_view k) { return heldHere(k) || !usable(k); });
  if (!toScratch) {
    if (ctx_.readable != nullptr) {
      wroteHere_ = wroteHere_ || writes;
      return &ctx_.store;
    }
    // This worker's keys, as always; one another transaction locked waits for its commit.
    KeyLocks& locks = ctx_.worker.locks();
    const auto unlocked = [&] {
      return std::none_of(keys.begin(), keys.end(), [&](std::string_view k) { return locks.isLocked(k); });
    };
    if (permission_ && !unlocked()) ctx_.worker.revokeLocks(keys);  // the holder waits for no transaction
    if (!ctx_.worker.waitInScript(unlocked, grant_)) return fail("ERR the script was stopped while it waited");
    if (startOver_) return fail("TRYAGAIN the script gives way to another and runs again");
    wroteHere_ = wroteHere_ || writes;
    return &ctx_.store;
  }
  // Against the executor's locked keys a write cannot be taken back.
  if (ctx_.readable != nullptr) wroteHere_ = wroteHere_ || writes;
  // Every key of the command goes to the scratch store: another worker's,
  // and (on the worker's own store) this worker's too.
  const ring::Ring* ring = ctx_.worker.ring();
  std::map<int, std::vector<std::string_view>> needed;
  bool remote = false;
  for (std::string_view key : keys) {
    if (heldHere(key) || (ctx_.readable != nullptr && usable(key))) continue;
    const int owner = ring != nullptr && ring->workers() > 1 ? ring->ownerOf(key) : ctx_.worker.self();
    std::vector<std::string_view>& group = needed[owner];
    if (std::find(group.begin(), group.end(), key) == group.end()) group.push_back(key);
    remote = remote || owner != ctx_.worker.self();
  }
  if (remote && !permission_) {
    permission_ = takePermission();
    if (!permission_) return fail("TRYAGAIN the script gives way to another and runs again");
  }
  if (remote && !reachedElsewhere_) {
    reachedElsewhere_ = true;
    remember(reachingScripts(), name_);
  }
  for (const auto& [owner, group] : needed) {
    if (Status locked = lockOn(owner, group); !locked) return fail(locked.error());
  }
  return &scratch();
}

Status ScriptReach::lockOn(int owner, std::span<const std::string_view> keys) {
  const std::string transaction = transaction_ + "." + std::to_string(++sent_);
  held_.push_back(Held{transaction, owner, {}});
  const std::string reply =
      ctx_.worker.callPeerFromScript(owner, peer::encode(peer::Lock{transaction, keys}).args(), grant_, ctx_.db);
  // It gave way while it waited: its commits (this lock's too) are posted
  // and held_ is empty.
  if (startOver_) return fail("TRYAGAIN the script gives way to another and runs again");
  const auto locked = peer::decodeLockReply(reply, keys.size());
  if (!locked) {
    // A lock that comes after all (its reply late) is released at once.
    ctx_.worker.postPeerFromScript(owner, peer::commitOf(transaction).args(), ctx_.db);
    held_.pop_back();
    if (reply == peer::kLockRefusedForScript && !wroteHere_) {
      // A script that waits for the permission wrote on the keys this one
      // wants: it cannot give way, this one can (nothing it did is kept).
      giveWay();
      return fail("TRYAGAIN the script gives way to another and runs again");
    }
    return fail(resp::isError(reply) ? errorLine(reply) : std::string("ERR cross-worker lock failed"));
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const peer::LockedKey& key = (*locked)[i];
    Before& was = before_[std::string(keys[i])];
    was.expireAt = key.expireAt;
    if (key.image) {
      was.image.emplace(*key.image);
      restoreImage(scratch(), keys[i], *key.image, key.expireAt);
    }
    held_.back().keys.emplace_back(keys[i]);
  }
  return {};
}

void ScriptReach::finish() {
  if (!held_.empty()) {
    std::vector<peer::Message> commits;
    std::deque<std::string> kept;  // the images the commits point into
    std::vector<std::string_view> changed;
    std::map<int, std::size_t> firstOf;  // an owner's first commit: its keys' notifications go there
    for (const Held& held : held_) {
      peer::Message& commit = commits.emplace_back(peer::commitOf(held.transaction));
      firstOf.try_emplace(held.owner, commits.size() - 1);
      for (const std::string& key : held.keys) {
        const Before& was = before_.find(key)->second;
        const Store::Entry* now = scratch().find(key, ctx_.nowMs);
        std::string image = now != nullptr ? imageOf(now) : std::string();
        const bool same = now == nullptr ? !was.image : was.image && *was.image == image && was.expireAt == Store::expireAt(now);
        if (same) continue;
        changed.push_back(key);
        if (now != nullptr) peer::addSet(commit, key, kept.emplace_back(std::move(image)), Store::expireAt(now));
        else peer::addDelete(commit, key);
      }
    }
    const ring::Ring* ring = ctx_.worker.ring();
    for (const KeyEvent& e : events_) {
      const int owner = ring != nullptr && ring->workers() > 1 ? ring->ownerOf(e.key) : ctx_.worker.self();
      if (const auto first = firstOf.find(owner); first != firstOf.end()) {
        peer::addEvent(commits[first->second], e.channel, e.message);
      }
    }
    // In the log first, as part of the script's block; then to the owners.
    if (!changed.empty()) ctx_.worker.journalScratch(ctx_.db, scratch(), changed, ctx_.nowMs);
    for (std::size_t i = 0; i < held_.size(); ++i) {
      ctx_.worker.postPeerFromScript(held_[i].owner, commits[i].args(), ctx_.db);
    }
    before_.clear();
    held_.clear();
  }
  if (permission_) ctx_.worker.releaseScriptReach(false);
  permission_ = false;
}

void ScriptReach::ranToTheEnd() {
  if (!name_.empty() && !reachedElsewhere_ && reachingScripts().count(name_) == 0) remember(localScripts(), name_);
}

}  // namespace keyloop
