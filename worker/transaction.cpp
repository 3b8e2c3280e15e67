#include "worker/transaction.h"

#include <unistd.h>

#include <map>
#include <memory>

#include "common/resp/reply_reader.h"
#include "worker/commands/commands.h"

namespace keyloop {

namespace {

struct Transaction {
  Server& server;
  std::string id;
  std::vector<std::string> keys;
  std::map<int, std::vector<std::string>> keysByOwner;  // ascending owner order
  std::map<std::string, std::optional<KeyValue>> seen;
  std::vector<int> locked;
  Decide decide;
  ReplyTo reply;
};
using TransactionPtr = std::shared_ptr<Transaction>;

std::string newTransactionId(Server& server) {
  // Unique across workers and their restarts: slot, pid, counter.
  static std::uint64_t counter = 0;
  return std::to_string(server.router()->self()) + "." + std::to_string(::getpid()) + "." +
         std::to_string(++counter);
}

void call(Server& server, int owner, const std::vector<std::string>& args, Router::Done done) {
  std::vector<std::string_view> views(args.begin(), args.end());
  server.router()->call(owner, views, resp::Protocol::Resp2, std::move(done));
}

// Commits `writes` (empty: just unlocks) on every locked owner, then calls
// finish once all have answered.
void commitAll(const TransactionPtr& tx, const std::vector<KeyWrite>& writes, std::function<void()> finish) {
  if (tx->locked.empty()) return finish();
  auto remaining = std::make_shared<std::size_t>(tx->locked.size());
  auto shared = std::make_shared<std::function<void()>>(std::move(finish));
  std::map<int, std::vector<std::string>> commits;  // one `__commit` per locked owner
  for (int owner : tx->locked) commits[owner] = {"__commit", tx->id};
  for (const KeyWrite& w : writes) {
    std::vector<std::string>& args = commits[tx->server.router()->ownerOf(w.key)];
    if (w.value) {
      args.insert(args.end(), {"set", w.key, w.value->value, std::to_string(w.value->expireAt)});
    } else {
      args.insert(args.end(), {"del", w.key});
    }
  }
  for (const auto& [owner, args] : commits) {
    call(tx->server, owner, args, [remaining, shared](std::string_view) {
      if (--*remaining == 0) (*shared)();
    });
  }
}

// Records one owner's `__lock` reply; false if it is an error.
bool recordSnapshot(Transaction& tx, const std::vector<std::string>& keys, std::string_view reply) {
  if (resp::isError(reply)) return false;
  const auto states = resp::replyElements(reply);
  if (states.size() != keys.size()) return false;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto parts = resp::replyElements(states[i]);
    if (parts.size() == 2) {
      tx.seen[keys[i]] = KeyValue{std::string(resp::replyBulk(parts[0]).value_or("")),
                                  resp::replyInteger(parts[1]).value_or(kNoExpiry)};
    } else {
      tx.seen[keys[i]] = std::nullopt;
    }
  }
  return true;
}

void lockFrom(const TransactionPtr& tx, std::map<int, std::vector<std::string>>::iterator next) {
  if (next == tx->keysByOwner.end()) {
    Snapshot snapshot;
    for (const std::string& key : tx->keys) snapshot.push_back(tx->seen[key]);
    auto outcome = std::make_shared<Outcome>(tx->decide(snapshot));
    return commitAll(tx, outcome->writes, [tx, outcome] { tx->reply(outcome->reply); });
  }
  std::vector<std::string> args{"__lock", tx->id};
  args.insert(args.end(), next->second.begin(), next->second.end());
  const int owner = next->first;
  call(tx->server, owner, args, [tx, next, owner](std::string_view reply) {
    if (!recordSnapshot(*tx, next->second, reply)) {
      const std::string error(resp::isError(reply) ? reply : "-ERR cross-worker lock failed\r\n");
      return commitAll(tx, {}, [tx, error] { tx->reply(error); });
    }
    tx->locked.push_back(owner);
    lockFrom(tx, std::next(next));
  });
}

}  // namespace

void runTransaction(Server& server, std::vector<std::string> keys, Decide decide, ReplyTo reply) {
  auto tx = std::make_shared<Transaction>(Transaction{server, newTransactionId(server), std::move(keys), {}, {}, {},
                                                      std::move(decide), std::move(reply)});
  for (const std::string& key : tx->keys) {
    std::vector<std::string>& group = tx->keysByOwner[server.router()->ownerOf(key)];
    if (std::find(group.begin(), group.end(), key) == group.end()) group.push_back(key);
  }
  lockFrom(tx, tx->keysByOwner.begin());
}

void transactMget(Server& server, resp::Protocol protocol, std::vector<std::string> keys, ReplyTo reply) {
  runTransaction(server, std::move(keys), [protocol](const Snapshot& snapshot) {
    Outcome outcome;
    resp::Reply out(outcome.reply, protocol);
    out.array(snapshot.size());
    for (const auto& state : snapshot) state ? out.bulk(state->value) : out.null();
    return outcome;
  }, std::move(reply));
}

void transactMset(Server& server, std::vector<std::string> args, bool onlyIfNoneExists, ReplyTo reply) {
  std::vector<std::string> keys;
  for (std::size_t i = 1; i < args.size(); i += 2) keys.push_back(args[i]);
  runTransaction(server, std::move(keys), [args = std::move(args), onlyIfNoneExists](const Snapshot& snapshot) {
    Outcome outcome;
    if (onlyIfNoneExists) {
      for (const auto& state : snapshot) {
        if (state) return Outcome{{}, ":0\r\n"};
      }
    }
    // A key given twice ends with its last value, as in Redis.
    for (std::size_t i = 1; i + 1 < args.size(); i += 2) {
      outcome.writes.push_back({args[i], KeyValue{args[i + 1], kNoExpiry}});
    }
    outcome.reply = onlyIfNoneExists ? ":1\r\n" : "+OK\r\n";
    return outcome;
  }, std::move(reply));
}

void transactRename(Server& server, std::string source, std::string destination, bool onlyIfAbsent, ReplyTo reply) {
  runTransaction(server, {source, destination}, [source, destination, onlyIfAbsent](const Snapshot& snapshot) {
    if (!snapshot[0]) return Outcome{{}, "-ERR no such key\r\n"};
    if (onlyIfAbsent && snapshot[1]) return Outcome{{}, ":0\r\n"};
    return Outcome{{{destination, snapshot[0]}, {source, std::nullopt}}, onlyIfAbsent ? ":1\r\n" : "+OK\r\n"};
  }, std::move(reply));
}

namespace commands {

void lockKeys(CommandContext& ctx) {
  // Runs only when none of the keys is locked (Server::executeRouted parks
  // it until then).
  const auto keys = ctx.args.subspan(2);
  ctx.reply.array(keys.size());
  for (std::string_view key : keys) {
    Store::Entry* e = lookupWrite(ctx, key);
    if (e == nullptr) {
      ctx.reply.nullArray();
      continue;
    }
    ctx.reply.array(2);
    ctx.reply.bulk(Store::value(e));
    ctx.reply.integer(Store::expireAt(e));
  }
  ctx.server.locks().lock(std::string(ctx.args[1]), keys);
}

void commitKeys(CommandContext& ctx) {
  const auto& a = ctx.args;
  for (std::size_t i = 2; i < a.size();) {
    if (a[i] == "set" && i + 3 < a.size()) {
      ctx.store.set(a[i + 1], a[i + 2], parseInteger(a[i + 3]).value_or(kNoExpiry));
      i += 4;
    } else if (a[i] == "del" && i + 1 < a.size()) {
      ctx.store.erase(a[i + 1]);
      i += 2;
    } else {
      break;  // malformed: keep what was applied, still unlock
    }
  }
  ctx.server.locks().unlock(std::string(a[1]));
  ctx.reply.ok();
}

}  // namespace commands

}  // namespace keyloop
