#include "worker/routing/atomic.h"
#include "worker/execution/command_families.h"

#include <unistd.h>

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>

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
};
using TransactionPtr = std::shared_ptr<Transaction>;

std::string newTransactionId(const Owners& owners) {
  // Unique across workers and their restarts: slot, pid, counter.
  static std::uint64_t counter = 0;
  return std::to_string(owners.self()) + "." + std::to_string(::getpid()) + "." + std::to_string(++counter);
}

// The `__commit` operations of one transaction, by owner: views of the
// keys (the transaction's) and of the value images and expiry times (kept
// here until the commits are posted).
struct Commits {
  std::map<int, std::vector<std::string_view>> byOwner;
  std::vector<std::string_view> changed;  // the keys, for the append-only log
  std::deque<std::string> kept;  // a deque: views of them stay valid as it grows
};

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
    std::vector<std::string_view>& out = commits.byOwner[tx.owners.ownerOf(key)];
    if (now != nullptr) {
      out.insert(out.end(), {"set", key, commits.kept.emplace_back(std::move(image)),
                             commits.kept.emplace_back(std::to_string(Store::expireAt(now)))});
    } else {
      out.insert(out.end(), {"del", key});
    }
  }
  return commits;
}

// Commits (none: just unlocks) on every locked owner; they apply it in
// channel order, before anything this worker sends them later.
void commitAll(const TransactionPtr& tx, const Commits& commits) {
  std::vector<std::string_view> args;
  for (int owner : tx->locked) {
    args.assign({"__commit", tx->id});
    if (auto mine = commits.byOwner.find(owner); mine != commits.byOwner.end()) {
      args.insert(args.end(), mine->second.begin(), mine->second.end());
    }
    tx->owners.post(owner, args);
  }
}

// Records one owner's `__lock` reply; false if it is an error.
bool recordLocked(Transaction& tx, const std::vector<std::string>& keys, std::string_view reply) {
  if (resp::isError(reply)) return false;
  const auto states = resp::replyElements(reply);
  if (states.size() != keys.size()) return false;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto parts = resp::replyElements(states[i]);
    std::optional<KeyState>& slot = tx.before[keys[i]];
    if (parts.empty()) return false;
    tx.versions[keys[i]] = static_cast<std::uint64_t>(resp::replyInteger(parts.back()).value_or(0));
    if (parts.size() == 3) {
      slot = KeyState{std::string(resp::replyBulk(parts[0]).value_or("")), resp::replyInteger(parts[1]).value_or(kNoExpiry)};
    } else {
      slot.reset();
    }
  }
  return true;
}

void runLocked(const TransactionPtr& tx) {
  Store scratch(tx->before.size());
  for (const auto& [key, state] : tx->before) {
    if (state) restoreImage(scratch, key, state->image, state->expireAt);
  }
  const std::int64_t nowMs = unixMillis();
  if (tx->verify && !tx->verify(tx->versions, scratch, nowMs)) {
    commitAll(tx, Commits{});
    return tx->reply("");
  }
  const std::string reply = tx->run(scratch, nowMs);
  Commits commits = changes(*tx, scratch, nowMs);
  if (tx->events) {
    for (const KeyEvent& e : *tx->events) {
      commits.byOwner[tx->owners.ownerOf(e.key)].insert(commits.byOwner[tx->owners.ownerOf(e.key)].end(),
                                                         {"event", e.channel, e.message});
    }
  }
  if (!commits.changed.empty()) tx->owners.journal(scratch, commits.changed, nowMs);
  commitAll(tx, commits);
  tx->reply(reply);
}

void lockFrom(const TransactionPtr& tx, std::map<int, std::vector<std::string>>::iterator next) {
  if (next == tx->keysByOwner.end()) return runLocked(tx);
  std::vector<std::string_view> args{"__lock", tx->id};
  args.insert(args.end(), next->second.begin(), next->second.end());
  const int owner = next->first;
  tx->owners.send(owner, args, [tx, next, owner](std::string_view reply) {
    if (!recordLocked(*tx, next->second, reply)) {
      const std::string error(resp::isError(reply) ? reply : "-ERR cross-worker lock failed\r\n");
      commitAll(tx, Commits{});
      return tx->reply(error);
    }
    tx->locked.push_back(owner);
    lockFrom(tx, std::next(next));
  });
}

// Walks __commit's operations: `set(keyIndex)` for `set key image
// expire-at`, `del(keyIndex)` for `del key`; stops at a malformed one.
// `event(channelIndex)` for `event channel message`.
template <typename Set, typename Del, typename Event>
void forEachCommitOp(std::span<const std::string_view> a, Set set, Del del, Event event) {
  for (std::size_t i = 2; i < a.size();) {
    if (a[i] == "set" && i + 3 < a.size()) {
      set(i + 1);
      i += 4;
    } else if (a[i] == "del" && i + 1 < a.size()) {
      del(i + 1);
      i += 2;
    } else if (a[i] == "event" && i + 2 < a.size()) {
      event(i + 1);
      i += 3;
    } else {
      return;
    }
  }
}

}  // namespace

std::function<void(std::string_view, std::string_view)> collectInto(KeyEvents& events) {
  return [&events](std::string_view channel, std::string_view message) {
    events.push_back({std::string(keyspace_events::keyOf(channel, message)), std::string(channel), std::string(message)});
  };
}

void commitKeyIndices(std::span<const std::string_view> args, std::vector<std::size_t>& indices) {
  auto note = [&indices](std::size_t key) { indices.push_back(key); };
  forEachCommitOp(args, note, note, [](std::size_t) {});
}

void runAtomically(Owners& owners, std::span<const std::string_view> keys, bool writes, RunAgainst run,
                   ReplyTo reply, Verify verify, std::shared_ptr<KeyEvents> events) {
  auto tx = std::make_shared<Transaction>(Transaction{owners, newTransactionId(owners), writes, {}, {}, {}, {},
                                                      std::move(run), std::move(reply), std::move(verify),
                                                      std::move(events)});
  for (std::string_view key : keys) {
    std::vector<std::string>& group = tx->keysByOwner[owners.ownerOf(key)];
    if (std::find(group.begin(), group.end(), key) == group.end()) group.emplace_back(key);
  }
  lockFrom(tx, tx->keysByOwner.begin());
}

namespace commands {

void lockKeys(CommandContext& ctx) {
  // Runs only when none of the keys is locked (Server::executeRouted parks
  // it until then).
  const auto keys = ctx.args.subspan(2);
  const Watches* watches = ctx.worker.watches();
  ctx.reply.array(keys.size());
  for (std::string_view key : keys) {
    Store::Entry* e = ctx.store.find(key, ctx.nowMs);  // the lookup of a write: lazy expiry, access time
    if (e != nullptr) ctx.store.touch(e);
    ctx.reply.array(e == nullptr ? 1 : 3);
    if (e != nullptr) {
      ctx.reply.bulk(imageOf(e));
      ctx.reply.integer(Store::expireAt(e));
    }
    ctx.reply.integer(static_cast<long long>(watches != nullptr ? watches->version(key) : Watches::kUnwatched));
  }
  ctx.worker.locks().lock(std::string(ctx.args[1]), keys);
}

void commitKeys(CommandContext& ctx) {
  const auto& a = ctx.args;
  // A malformed op ends the walk: what was applied stays, the keys still unlock.
  std::vector<std::size_t> events;
  forEachCommitOp(
      a, [&](std::size_t k) { restoreImage(ctx.store, a[k], a[k + 1], parseInteger(a[k + 2]).value_or(kNoExpiry)); },
      [&](std::size_t k) { ctx.store.erase(a[k]); }, [&](std::size_t e) { events.push_back(e); });
  ctx.worker.locks().unlock(std::string(a[1]));
  // The writes are in: now their notifications, from this owner.
  for (std::size_t e : events) ctx.worker.publishEvent(a[e], a[e + 1]);
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
      {.name = "__commit", .arity = -2, .flags = kInternal | kWrite | kHoldsLocks,
       .keys = {.find = commitKeyIndices}, .handler = commitKeys,
       .group = "keyspace", .summary = "Applies a cross-worker transaction's writes and unlocks.", .since = "0.1.0", .syntax = "transaction [op...]"},
      {.name = "__lock", .arity = -3, .flags = kInternal | kCarriesRequest,
       .keys = {2, -1, 1}, .cross = CrossWorker::Keyed, .handler = lockKeys,
       .group = "keyspace", .summary = "Locks keys for a cross-worker transaction; replies their values.", .since = "0.1.0", .syntax = "transaction key..."},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
