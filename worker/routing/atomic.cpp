#include "worker/routing/atomic.h"
#include "worker/execution/command_families.h"

#include <unistd.h>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "common/resp/reply_reader.h"
#include "common/text/text.h"
#include "worker/execution/worker_services.h"
#include "worker/keyspace/store.h"
#include "worker/routing/key_locks.h"
#include "worker/keyspace/image.h"
#include "worker/execution/watches.h"
#include "worker/execution/keyspace_events.h"

namespace keyloop {

namespace {

struct KeyState {
  std::string image;  // keyspace/image.h
  std::int64_t expireAt;
};

struct Transaction {
  Owners& owners;
  int db;  // its keys' database
  std::string id;
  bool writes;
  std::map<int, std::vector<std::string>> keysByOwner;  // ascending owner order, each key once
  std::map<std::string, std::optional<KeyState>, std::less<>> before;  // as locked
  KeyVersions versions;
  std::vector<int> locked;
  RunAgainst run;
  ReplyTo reply;
  Verify verify;
  std::shared_ptr<KeyEvents> events;
  int refusals = 0;         // locks refused by waiting scripts so far
  bool permission = false;  // it took the scripts' permission (tryScriptReach)
  bool lockInFlight = false;
  bool revoked = false;     // its locks were given up while one was in flight
  bool ran = false;
};
using TransactionPtr = std::shared_ptr<Transaction>;

// The transactions this worker coordinates, by id: a Revoke finds them.
std::map<std::string, std::weak_ptr<Transaction>, std::less<>>& inFlight() {
  static std::map<std::string, std::weak_ptr<Transaction>, std::less<>> transactions;
  return transactions;
}

// Its locks go (empty commits), its state is as before the first lock.
void releaseLocks(Transaction& tx) {
  for (int owner : tx.locked) tx.owners.post(owner, peer::commitOf(tx.id).args(), tx.db);
  tx.locked.clear();
  tx.before.clear();
  tx.versions.clear();
}

std::string newTransactionId(const Owners& owners) {
  // Unique across workers and their restarts: slot, pid, counter.
  static std::uint64_t counter = 0;
  return std::to_string(owners.self()) + "." + std::to_string(::getpid()) + "." + std::to_string(++counter);
}

// The Commit message of one transaction for each owner (peer_messages.h):
// views of the keys (the transaction's) and of the value images (kept here
// until the commits are posted).
struct Commits {
  std::map<int, peer::Message> byOwner;
  std::vector<std::string_view> changed;  // the keys, for the append-only log
  std::deque<std::string> kept;  // a deque: views of them stay valid as it grows
};

peer::Message& commitTo(Commits& commits, const Transaction& tx, int owner) {
  return commits.byOwner.try_emplace(owner, peer::commitOf(tx.id)).first->second;
}

// The keys whose state the run changed.
Commits changes(Transaction& tx, Store& scratch, std::int64_t nowMs) {
  Commits commits;
  if (!tx.writes) return commits;
  for (const auto& [key, was] : tx.before) {
    const Store::Entry* now = scratch.find(key, nowMs);
    std::string image = now != nullptr ? imageOf(now) : std::string();
    const bool same = now == nullptr ? !was.has_value()
                                     : was && was->image == image && was->expireAt == Store::expireAt(now);
    if (same) continue;
    commits.changed.push_back(key);
    peer::Message& out = commitTo(commits, tx, tx.owners.ownerOf(key));
    if (now != nullptr) {
      peer::addSet(out, key, commits.kept.emplace_back(std::move(image)), Store::expireAt(now));
    } else {
      peer::addDelete(out, key);
    }
  }
  return commits;
}

// Commits (none: just unlocks) on every locked owner; they apply it in
// channel order, before anything this worker sends them later.
void commitAll(const TransactionPtr& tx, const Commits& commits) {
  for (int owner : tx->locked) {
    auto mine = commits.byOwner.find(owner);
    tx->owners.post(owner, mine != commits.byOwner.end() ? mine->second.args() : peer::commitOf(tx->id).args(), tx->db);
  }
}

// Records one owner's reply to Lock; false if it is an error.
bool recordLocked(Transaction& tx, const std::vector<std::string>& keys, std::string_view reply) {
  const auto locked = peer::decodeLockReply(reply, keys.size());
  if (!locked) return false;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const peer::LockedKey& key = (*locked)[i];
    tx.versions[keys[i]] = key.version;
    std::optional<KeyState>& slot = tx.before[keys[i]];
    if (key.image) slot = KeyState{std::string(*key.image), key.expireAt};
    else slot.reset();
  }
  return true;
}

void finish(const TransactionPtr& tx, std::string_view reply) {
  inFlight().erase(tx->id);
  if (tx->permission) tx->owners.releaseScriptReach();
  tx->permission = false;
  tx->reply(reply);
}

void runLocked(const TransactionPtr& tx) {
  tx->ran = true;
  Store scratch(tx->before.size());
  for (const auto& [key, state] : tx->before) {
    if (state) restoreImage(scratch, key, state->image, state->expireAt);
  }
  const std::int64_t nowMs = unixMillis();
  if (tx->verify && !tx->verify(tx->versions, scratch, nowMs)) {
    commitAll(tx, Commits{});
    return finish(tx, "");
  }
  const std::string reply = tx->run(scratch, nowMs);
  Commits commits = changes(*tx, scratch, nowMs);
  if (tx->events) {
    for (const KeyEvent& e : *tx->events) {
      peer::addEvent(commitTo(commits, *tx, tx->owners.ownerOf(e.key)), e.channel, e.message);
    }
  }
  if (!commits.changed.empty()) tx->owners.journal(tx->db, scratch, commits.changed, nowMs);
  commitAll(tx, commits);
  finish(tx, reply);
}

void lockFrom(const TransactionPtr& tx, std::map<int, std::vector<std::string>>::iterator next) {
  if (next == tx->keysByOwner.end()) return runLocked(tx);
  const std::vector<std::string_view> keys(next->second.begin(), next->second.end());
  const int owner = next->first;
  tx->lockInFlight = true;
  tx->owners.send(owner, peer::encode(peer::Lock{tx->id, keys}).args(), [tx, next, owner](std::string_view reply) {
    tx->lockInFlight = false;
    if (std::exchange(tx->revoked, false)) {
      // A script wanted the locks it held: this one too goes, and it starts over.
      if (!resp::isError(reply)) tx->owners.post(owner, peer::commitOf(tx->id).args(), tx->db);
      return tx->owners.later([tx] { lockFrom(tx, tx->keysByOwner.begin()); });
    }
    if (reply == peer::kLockRefusedForScript) {
      // A script there reaches keys of other workers: let it finish, and
      // after a few refusals take the scripts' permission (it gives way).
      releaseLocks(*tx);
      if (tx->permission) {
        // A script that wrote already does not give way: let it have its turn.
        tx->owners.releaseScriptReach();
        tx->permission = false;
        tx->refusals = 0;
      } else if (++tx->refusals >= 3) {
        tx->permission = tx->owners.tryScriptReach();
      }
      return tx->owners.later([tx] { lockFrom(tx, tx->keysByOwner.begin()); });
    }
    if (!recordLocked(*tx, next->second, reply)) {
      const std::string error(resp::isError(reply) ? reply : "-ERR cross-worker lock failed\r\n");
      commitAll(tx, Commits{});
      return finish(tx, error);
    }
    tx->locked.push_back(owner);
    lockFrom(tx, std::next(next));
  }, tx->db);
}

}  // namespace

std::function<void(std::string_view, std::string_view)> collectInto(KeyEvents& events) {
  return [&events](std::string_view channel, std::string_view message) {
    events.push_back({std::string(keyspace_events::keyOf(channel, message)), std::string(channel), std::string(message)});
  };
}

void runAtomically(Owners& owners, int db, std::span<const std::string_view> keys, bool writes, RunAgainst run,
                   ReplyTo reply, Verify verify, std::shared_ptr<KeyEvents> events) {
  auto tx = std::make_shared<Transaction>(Transaction{owners, db, newTransactionId(owners), writes, {}, {}, {}, {},
                                                      std::move(run), std::move(reply), std::move(verify),
                                                      std::move(events)});
  inFlight()[tx->id] = tx;
  for (std::string_view key : keys) {
    std::vector<std::string>& group = tx->keysByOwner[owners.ownerOf(key)];
    if (std::find(group.begin(), group.end(), key) == group.end()) group.emplace_back(key);
  }
  lockFrom(tx, tx->keysByOwner.begin());
}

namespace commands {

void lockKeys(CommandContext& ctx) {
  // Runs only when none of the keys is locked (Dispatch::executeRouted
  // parks it until then).
  const auto lock = peer::decodeLock(ctx.args);
  if (!lock) return ctx.reply.error("ERR malformed Lock message");
  if (ctx.worker.locks().ended(lock->transaction)) return ctx.reply.error("ERR the transaction ended before its lock");
  const auto keys = lock->keys;
  const Watches* watches = ctx.worker.watches();
  ctx.reply.array(keys.size());
  for (std::string_view key : keys) {
    Store::Entry* e = ctx.store.find(key, ctx.nowMs);  // the lookup of a write: lazy expiry, access time
    if (e != nullptr) ctx.store.touch(e);
    const std::string image = e != nullptr ? imageOf(e) : std::string();
    peer::replyLocked(ctx.reply, {e != nullptr ? std::optional<std::string_view>(image) : std::nullopt,
                                  e != nullptr ? Store::expireAt(e) : kNoExpiry,
                                  watches != nullptr ? watches->version(ctx.db, key) : Watches::kUnwatched});
  }
  ctx.worker.locks().lock(std::string(lock->transaction), keys);
}

void revokeTransaction(CommandContext& ctx) {
  const auto revoke = peer::decodeRevoke(ctx.args);
  if (!revoke) return;
  const auto found = inFlight().find(revoke->transaction);
  const TransactionPtr tx = found != inFlight().end() ? found->second.lock() : nullptr;
  // One that ran already has its commits on the way, which unlock; one
  // between two tries holds nothing.
  if (tx == nullptr || tx->ran || !tx->lockInFlight) return;
  releaseLocks(*tx);
  tx->revoked = true;  // the lock in flight goes too when it comes, and it starts over
}

void noticeReachFree(CommandContext&) {}  // the wake-up was the point (Server::waitInScript looks again)

void commitKeys(CommandContext& ctx) {
  // A malformed op ends the ops: what was applied stays, the keys still unlock.
  const auto commit = peer::decodeCommit(ctx.args);
  if (!commit) return ctx.reply.error("ERR malformed Commit message");
  using Op = peer::CommitOp::Op;
  for (const peer::CommitOp& op : commit->ops) {
    if (op.op == Op::Set) restoreImage(ctx.store, op.key, op.value, op.expireAt);
    if (op.op == Op::Delete) ctx.store.erase(op.key);
  }
  ctx.worker.locks().unlock(std::string(commit->transaction));
  // The writes are in: now their notifications, from this owner.
  for (const peer::CommitOp& op : commit->ops) {
    if (op.op == Op::Event) ctx.worker.publishEvent(op.key, op.value);
  }
  ctx.reply.ok();
}

}  // namespace commands

}  // namespace keyloop

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> atomicCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "peer-commit", .arity = 0, .flags = kWrite | kHoldsLocks,
       .keys = {.find = peer::commitKeyIndices}, .handler = commitKeys, .peer = peer::Kind::Commit},
      {.name = "peer-lock", .arity = 0, .flags = kCarriesRequest,
       .keys = {2, -1, 1}, .cross = CrossWorker::Keyed, .handler = lockKeys, .peer = peer::Kind::Lock},
      {.name = "peer-revoke", .arity = 0, .flags = 0, .handler = revokeTransaction, .peer = peer::Kind::Revoke},
      {.name = "peer-reach-free", .arity = 0, .flags = 0, .handler = noticeReachFree, .peer = peer::Kind::ReachFree},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
