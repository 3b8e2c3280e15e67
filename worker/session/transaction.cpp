#include "worker/session/transaction.h"
#include "worker/session/tracking.h"

#include "worker/dispatch/blocking.h"
#include "worker/execution/command_families.h"

#include <map>
#include <memory>
#include <deque>
#include <optional>
#include <set>
#include <utility>

#include "common/resp/reply_reader.h"
#include "common/text/text.h"
#include "worker/routing/atomic.h"
#include "worker/connection/client.h"
#include "worker/execution/command_table.h"
#include "worker/commands/commands.h"
#include "worker/connection/connections.h"
#include "worker/dispatch/dispatch.h"
#include "worker/routing/key_locks.h"
#include "worker/execution/keyspace_events.h"
#include "worker/persistence/persistence.h"
#include "worker/session/monitors.h"
#include "worker/session/pubsub.h"
#include "worker/keyspace/store.h"
#include "worker/execution/watches.h"

namespace keyloop::transaction {

namespace {

using Args = std::vector<std::string>;

// Whether this worker answers for `key` now (its owner, nothing locked or held).
bool localKey(Dispatch& dispatch, std::string_view key) {
  const Router* router = dispatch.router();
  if (dispatch.holding()) return false;
  if (router != nullptr && router->workers() > 1 && router->ownerOf(key) != router->self()) return false;
  return !dispatch.services().locks().isLocked(key);
}

// The watched keys, grouped by owner and database.
using OwnerAndDb = std::pair<int, int>;
std::map<OwnerAndDb, Args> byOwner(Dispatch& dispatch, const std::vector<WatchedKey>& keys) {
  std::map<OwnerAndDb, Args> groups;
  for (const WatchedKey& w : keys) {
    const int owner = dispatch.router() != nullptr ? dispatch.router()->ownerOf(w.key) : 0;
    groups[{owner, w.db}].push_back(w.key);
  }
  return groups;
}

void dropWatches(Dispatch& dispatch, std::vector<WatchedKey>& watched) {
  if (watched.empty()) return;
  for (auto& [where, keys] : byOwner(dispatch, watched)) {
    const auto [owner, db] = where;
    if (dispatch.router() == nullptr || owner == dispatch.router()->self()) {
      for (const std::string& k : keys) dispatch.watches().unwatch(db, k);
      continue;
    }
    dispatch.router()->post(owner, peer::keysMessage(peer::Kind::Unwatch, keys).args(), db);
  }
  watched.clear();
}

bool alreadyWatched(const Session& s, int db, std::string_view key) {
  for (const WatchedKey& w : s.watched) {
    if (w.db == db && w.key == key) return true;
  }
  return false;
}

// The database each queued command runs against, from `db` (the
// connection's at EXEC) through the block's SELECTs, as they will answer;
// and the one the connection has after it.
struct BlockDatabases {
  std::vector<int> ofCommand;
  int after = 0;
};
BlockDatabases databasesOf(Dispatch& dispatch, const std::vector<QueuedCommand>& queued, int db) {
  BlockDatabases out;
  const Config& config = dispatch.services().config();
  for (const QueuedCommand& q : queued) {
    out.ofCommand.push_back(db);
    if (!(q.spec->flags & kSelectsDatabase) || q.args.size() != 2) continue;
    const auto index = parseInteger(q.args[1]);
    if (index && *index >= 0 && *index < config.databases && (*index == 0 || !config.cluster.enabled)) {
      db = static_cast<int>(*index);
    }
  }
  out.after = db;
  return out;
}

// The one database every key of the block (its commands' and its watched
// ones) is in; -1 when they are in several (or there are none: `fallback`).
int oneDatabase(const std::vector<QueuedCommand>& queued, const std::vector<WatchedKey>& watched,
                const BlockDatabases& dbs, int fallback) {
  int db = -1;
  bool one = true;
  auto note = [&](int d) {
    if (db == -1) db = d;
    one = one && db == d;
  };
  for (const WatchedKey& w : watched) note(w.db);
  for (std::size_t i = 0; i < queued.size(); ++i) {
    const QueuedCommand& q = queued[i];
    std::vector<std::string_view> views(q.args.begin(), q.args.end());
    if (!keysOf(*q.spec, views).empty()) note(dbs.ofCommand[i]);
  }
  if (!one) return -1;
  return db == -1 ? fallback : db;
}

// Whether every queued command and every watched key can be run and
// checked on this worker, now.
bool allHere(Dispatch& dispatch, const Client& client, const std::vector<QueuedCommand>& queued,
             const std::vector<WatchedKey>& watched) {
  for (const WatchedKey& w : watched) {
    if (!localKey(dispatch, w.key)) return false;
  }
  for (const QueuedCommand& q : queued) {
    std::vector<std::string_view> views(q.args.begin(), q.args.end());
    if (dispatch.planFor(*q.spec, views, client.clusterNode()).kind != RoutePlan::Kind::Here) return false;
  }
  return true;
}

// Whether the watched keys are as WATCH saw them (`storeOf` a database's keys).
template <typename VersionOf, typename StoreOf>
bool unchanged(const std::vector<WatchedKey>& watched, VersionOf versionOf, StoreOf storeOf, std::int64_t nowMs) {
  for (const WatchedKey& w : watched) {
    if (versionOf(w) != w.version) return false;
    if (w.existed && storeOf(w.db).find(w.key, nowMs) == nullptr) return false;  // expired or deleted since
  }
  return true;
}

std::string nullArrayIn(resp::Protocol protocol) {
  std::string out;
  resp::Reply(out, protocol).nullArray();
  return out;
}

// The one worker that owns every queued and watched key, when the block
// can run there whole (no command that needs this connection or every
// worker); -1 otherwise.
int singleOwner(Dispatch& dispatch, const std::vector<QueuedCommand>& queued, const std::vector<WatchedKey>& watched) {
  const Router* router = dispatch.router();
  if (router == nullptr || dispatch.holding()) return -1;
  int owner = -1;
  auto note = [&](std::string_view key) {
    const int o = router->ownerOf(key);
    if (owner == -1) owner = o;
    return owner == o;
  };
  for (const WatchedKey& w : watched) {
    if (!note(w.key)) return -1;
  }
  for (const QueuedCommand& q : queued) {
    const bool selects = (q.spec->flags & kSelectsDatabase) != 0;  // the owner follows it (execHere)
    if (q.spec->handler == nullptr || broadcasts(q.spec->cross) || ((q.spec->flags & kConnection) && !selects)) {
      return -1;
    }
    std::vector<std::string_view> views(q.args.begin(), q.args.end());
    for (std::string_view k : keysOf(*q.spec, views)) {
      if (!note(k)) return -1;
    }
  }
  return owner;
}

// The block goes to its owner whole (the peer message Exec): one hop, no locks.
// Like any forwarded command it holds nothing back: what the client sends
// next to that owner follows it on the same channel.
void execOnOwner(Dispatch& dispatch, Client& client, int owner, int db, std::vector<QueuedCommand> queued,
                 std::vector<WatchedKey> watched) {
  const std::uint64_t place = client.reserveReply();
  std::vector<peer::WatchCheck> checks;
  for (const WatchedKey& w : watched) checks.push_back({w.key, w.version, w.existed, w.db});
  peer::Message request = peer::execOf(checks, queued.size());
  for (const QueuedCommand& q : queued) peer::addCommand(request, q.args);
  auto state = std::make_shared<std::vector<WatchedKey>>(std::move(watched));
  dispatch.router()->call(
      owner, request.args(), client.reply().protocol(),
      [&dispatch, id = client.id(), place, state](std::string_view reply) {
        dropWatches(dispatch, *state);
        if (Client* c = dispatch.connections().find(id)) c->fillReply(place, reply);
      },
      db, trackedTag(client));
}

struct Pending {
  std::vector<QueuedCommand> queued;
  std::vector<WatchedKey> watched;
  std::uint64_t clientId;
  resp::Protocol protocol;
};

// The commands run by the multi-owner executor against the locked keys.
void execAcross(Dispatch& dispatch, Client& client, int db, std::vector<QueuedCommand> queued,
                std::vector<WatchedKey> watched) {
  const std::uint64_t place = client.reserveReply();
  client.holdUntilFilled(place);
  auto pending = std::make_shared<Pending>(
      Pending{std::move(queued), std::move(watched), client.id(), client.reply().protocol()});
  std::vector<std::string_view> keys, read;
  bool writes = false;
  for (const QueuedCommand& q : pending->queued) {
    std::vector<std::string_view> views(q.args.begin(), q.args.end());
    for (std::string_view k : keysOf(*q.spec, views)) {
      keys.push_back(k);
      if (remembersWhatItNames(*q.spec)) read.push_back(k);
    }
    writes = writes || (q.spec->flags & (kWrite | kMayWrite));
  }
  // Client tracking: the owners remember what the block reads before it locks.
  if (Tracking* tracking = dispatch.services().tracking(); tracking != nullptr && !read.empty()) {
    tracking->rememberAhead(dispatch, client, read);
  }
  for (const WatchedKey& w : pending->watched) keys.push_back(w.key);
  auto verify = [pending](const KeyVersions& versions, Store& scratch, std::int64_t nowMs) {
    auto versionOf = [&versions](const WatchedKey& w) {
      auto it = versions.find(w.key);
      return it == versions.end() ? Watches::kUnwatched : it->second;
    };
    return unchanged(pending->watched, versionOf, [&scratch](int) -> Store& { return scratch; }, nowMs);
  };
  auto locked = std::make_shared<std::set<std::string, std::less<>>>(keys.begin(), keys.end());
  auto events = std::make_shared<KeyEvents>();
  auto run = [&dispatch, pending, locked, events, db](Store& scratch, std::int64_t nowMs) {
    const auto collect = collectInto(*events);
    std::string out;
    resp::Reply encoder(out, pending->protocol);
    // Scripts in the block may reach exactly the locked keys.
    const std::function<bool(std::string_view)> readable = [&locked](std::string_view k) { return locked->contains(k); };
    encoder.array(pending->queued.size());
    Client* c = dispatch.connections().find(pending->clientId);
    for (const QueuedCommand& q : pending->queued) {
      if (broadcasts(q.spec->cross) || q.spec->handler == nullptr) {
        encoder.error("ERR '" + ResolvedCommand{q.topLevel, q.spec}.fullName() +
                      "' cannot run in a transaction whose keys live on several workers");
        continue;
      }
      std::vector<std::string_view> views(q.args.begin(), q.args.end());
      CommandContext ctx{dispatch.services(), c, encoder, scratch, views, nowMs};
      ctx.db = db;  // a SELECT in the block answers, and the keys are all this database's
      ctx.readable = &readable;
      ctx.events = &collect;
      scratch.tick(nowMs);
      keyspace_events::runRecorded(*q.spec, ctx);
    }
    return out;
  };
  auto reply = [&dispatch, pending, place](std::string_view bytes) {
    dropWatches(dispatch, pending->watched);
    Client* c = dispatch.connections().find(pending->clientId);
    if (c == nullptr) return;
    c->fillReply(place, bytes.empty() ? std::string_view(nullArrayIn(pending->protocol)) : bytes);
  };
  runAtomically(*dispatch.router(), db, keys, writes, std::move(run), std::move(reply), std::move(verify), events);
}

}  // namespace

void queue(Client& client, const ResolvedCommand& command, std::span<const std::string_view> args) {
  client.session().queued.push_back({command.topLevel, command.spec, Args(args.begin(), args.end())});
  client.reply().simple("QUEUED");
}

void refused(Client& client) {
  if (client.session().inMulti) client.session().multiAborted = true;
}

void forget(Dispatch& dispatch, Client& client) {
  Session& s = client.session();
  s.inMulti = s.multiAborted = false;
  s.queued.clear();
  dropWatches(dispatch, s.watched);
}

void multi(Dispatch&, Client& client, std::span<const std::string_view>) {
  Session& s = client.session();
  if (s.inMulti) return client.reply().error("ERR MULTI calls can not be nested");
  s.inMulti = true;
  client.reply().ok();
}

void discard(Dispatch& dispatch, Client& client, std::span<const std::string_view>) {
  if (!client.session().inMulti) return client.reply().error("ERR DISCARD without MULTI");
  forget(dispatch, client);
  client.reply().ok();
}

void unwatch(Dispatch& dispatch, Client& client, std::span<const std::string_view>) {
  dropWatches(dispatch, client.session().watched);
  client.reply().ok();
}

void watch(Dispatch& dispatch, Client& client, std::span<const std::string_view> args) {
  Session& s = client.session();
  if (s.inMulti) return client.reply().error("ERR WATCH inside MULTI is not allowed");
  const int db = s.db;
  std::vector<WatchedKey> fresh;
  for (std::string_view key : args.subspan(1)) {
    bool seen = alreadyWatched(s, db, key);
    for (const WatchedKey& w : fresh) seen = seen || w.key == key;
    if (!seen) fresh.push_back({db, std::string(key), 0, false});
  }
  bool here = true;
  for (const WatchedKey& w : fresh) here = here && localKey(dispatch, w.key);
  if (here) {
    const std::int64_t nowMs = unixMillis();
    for (WatchedKey& w : fresh) {
      w.version = dispatch.watches().watch(db, w.key);
      w.existed = dispatch.store(db).find(w.key, nowMs) != nullptr;
      s.watched.push_back(std::move(w));
    }
    return client.reply().ok();
  }
  // The owners register them; nothing after WATCH runs before they have
  // (a pipelined EXEC must find the versions).
  const std::uint64_t place = client.reserveReply();
  client.holdUntilFilled(place);
  struct State {
    std::size_t remaining;
    std::uint64_t clientId;
  };
  const std::map<OwnerAndDb, Args> groups = byOwner(dispatch, fresh);
  auto state = std::make_shared<State>(State{groups.size(), client.id()});
  for (const auto& [where, keys] : groups) {
    dispatch.router()->call(
        where.first, peer::keysMessage(peer::Kind::Watch, keys).args(), resp::Protocol::Resp2,
        [&dispatch, state, keys, place, db](std::string_view reply) {
          Client* c = dispatch.connections().find(state->clientId);
          const auto states = peer::decodeWatchReply(reply, keys.size(), Watches::kUnwatched);
          for (std::size_t i = 0; i < keys.size(); ++i) {
            std::vector<WatchedKey> one{{db, keys[i], states[i].version, states[i].existed}};
            // A client gone meanwhile: the owner's watch goes again.
            if (c == nullptr) dropWatches(dispatch, one);
            else c->session().watched.push_back(std::move(one.front()));
          }
          if (--state->remaining == 0 && c != nullptr) c->fillReply(place, "+OK\r\n");
        },
        db);
  }
}

// Redis's clearClientConnectionState: what the connection chose goes back
// to a new one's (CLIENT SETINFO's library name stays, as in Redis).
void reset(Dispatch& dispatch, Client& client, std::span<const std::string_view>) {
  Session& s = client.session();
  forget(dispatch, client);
  pubsub::forget(dispatch, client);
  if (Monitors* monitors = dispatch.services().monitors(); monitors != nullptr && s.monitoring) {
    monitors->remove(client.id());
  }
  s.monitoring = false;
  if (Tracking* tracking = dispatch.services().tracking()) tracking->disable(client);
  s.db = 0;
  s.noEvict = s.noTouch = false;
  s.repliesOff = s.skipNext = false;
  client.setName({});
  client.reply().setProtocol(resp::Protocol::Resp2);
  client.setAuthenticated(dispatch.services().config().requirePass.empty());
  client.reply().simple("RESET");
}

void exec(Dispatch& dispatch, Client& client, std::span<const std::string_view> args) {
  Session& s = client.session();
  // MONITOR sees the block's commands, then EXEC (its row skips the feed
  // at dispatch), in the order Redis runs and feeds them.
  if (s.inMulti && !s.multiAborted) {
    for (const QueuedCommand& q : s.queued) {
      const std::vector<std::string_view> views(q.args.begin(), q.args.end());
      dispatch.feedMonitors(&client, *q.spec, views);
    }
  }
  dispatch.feedMonitors(&client, *resolveCommand(args).spec, args);
  if (!s.inMulti) return client.reply().error("ERR EXEC without MULTI");
  if (s.multiAborted) {
    forget(dispatch, client);
    return client.reply().error("EXECABORT Transaction discarded because of previous errors.");
  }
  std::vector<QueuedCommand> queued = std::move(s.queued);
  std::vector<WatchedKey> watched = std::move(s.watched);
  forget(dispatch, client);
  if (!allHere(dispatch, client, queued, watched)) {
    // The block's SELECTs hold for the connection after it, as in Redis.
    const BlockDatabases dbs = databasesOf(dispatch, queued, s.db);
    const int startDb = std::exchange(s.db, dbs.after);
    if (const int owner = singleOwner(dispatch, queued, watched); owner >= 0) {
      return execOnOwner(dispatch, client, owner, startDb, std::move(queued), std::move(watched));
    }
    const int db = oneDatabase(queued, watched, dbs, startDb);
    if (db < 0) {
      dropWatches(dispatch, watched);
      s.db = startDb;
      return client.reply().error("ERR keyloop runs a transaction over several databases only when its keys "
                                  "live on one worker");
    }
    return execAcross(dispatch, client, db, std::move(queued), std::move(watched));
  }
  const std::int64_t nowMs = unixMillis();
  const bool ok = unchanged(
      watched, [&dispatch](const WatchedKey& w) { return dispatch.watches().version(w.db, w.key); },
      [&dispatch](int db) -> Store& { return dispatch.store(db); }, nowMs);
  dropWatches(dispatch, watched);
  if (!ok) return client.reply().nullArray();
  client.reply().array(queued.size());
  FeedBlock block(&dispatch.feed());  // one block of the feed: replayed all or nothing
  const Blocking::Hold hold(dispatch.blocking());  // blocked clients see the block's outcome only
  client.session().inExec = true;
  for (const QueuedCommand& q : queued) {
    std::vector<std::string_view> views(q.args.begin(), q.args.end());
    dispatch.runQueued(client, ResolvedCommand{q.topLevel, q.spec}, views);
  }
  client.session().inExec = false;
}

}  // namespace keyloop::transaction

namespace keyloop::commands {

void execHere(CommandContext& ctx) {
  const auto exec = peer::decodeExec(ctx.args);
  if (!exec) return ctx.reply.error("ERR malformed Exec message");
  const Watches* watches = ctx.worker.watches();
  Databases* databases = ctx.worker.databases();
  auto storeOf = [&](int db) -> Store& { return databases != nullptr ? (*databases)[db] : ctx.store; };
  for (const peer::WatchCheck& w : exec->watches) {
    if (databases != nullptr && !databases->valid(w.db)) return ctx.reply.nullArray();
    if (watches == nullptr || watches->version(w.db, w.key) != w.version) return ctx.reply.nullArray();
    if (w.existed && storeOf(w.db).find(w.key, ctx.nowMs) == nullptr) return ctx.reply.nullArray();
  }
  ctx.reply.array(exec->commands.size());
  int db = ctx.db;  // the block's SELECTs move it, for the commands after them
  for (std::span<const std::string_view> command : exec->commands) {
    const ResolvedCommand resolved = resolveCommand(command);
    CommandContext inner{ctx.worker, nullptr, ctx.reply, storeOf(db), command, ctx.nowMs};
    inner.db = db;
    inner.selects = &db;
    inner.caller = ctx.caller;  // client tracking: the block's reads are its client's
    inner.noTouch = ctx.noTouch;
    ctx.worker.runNested(resolved, inner);
  }
}

void watchKeys(CommandContext& ctx) {
  Watches* watches = ctx.worker.watches();
  const auto keys = peer::decodeKeys(ctx.args);
  ctx.reply.array(keys.size());
  for (std::string_view key : keys) {
    peer::replyWatched(ctx.reply,
                       {watches != nullptr ? watches->watch(ctx.db, key) : 0, lookupQuietly(ctx, key) != nullptr});
  }
}

void unwatchKeys(CommandContext& ctx) {
  if (Watches* watches = ctx.worker.watches()) {
    for (std::string_view key : peer::decodeKeys(ctx.args)) watches->unwatch(ctx.db, key);
  }
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> transactionCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "peer-exec", .arity = 0, .flags = kMayWrite | kCarriesRequest,
       .keys = {.find = peer::execKeyIndices}, .handler = execHere, .peer = peer::Kind::Exec},
      {.name = "peer-unwatch", .arity = 0, .flags = kHoldsLocks,
       .keys = {1, -1, 1}, .cross = CrossWorker::Keyed, .handler = unwatchKeys, .peer = peer::Kind::Unwatch},
      {.name = "peer-watch", .arity = 0, .flags = kCarriesRequest,
       .keys = {1, -1, 1}, .cross = CrossWorker::Keyed, .handler = watchKeys, .peer = peer::Kind::Watch},
      {.name = "discard", .arity = 1, .flags = kFast | kNoScript | kRunsInMulti | kAllowBusy, .acl = acl::kTransaction,
       .session = transaction::discard},
      {.name = "exec", .arity = 1, .flags = kNoScript | kRunsInMulti | kAbortsWhenRefused | kSkipSlowlog | kSkipMonitor | kRunsTheBlock, .acl = acl::kTransaction,
       .session = transaction::exec},
      {.name = "multi", .arity = 1, .flags = kFast | kNoScript | kRunsInMulti | kAllowBusy, .acl = acl::kTransaction,
       .session = transaction::multi},
      {.name = "reset", .arity = 1, .flags = kNoAuth | kFast | kNoScript | kConnection | kRunsInMulti | kSubscribedOk | kAllowBusy | kMonitoredAfter, .acl = acl::kConnection,
       .session = transaction::reset},
      {.name = "unwatch", .arity = 1, .flags = kFast | kNoScript | kAllowBusy, .acl = acl::kTransaction,
       .session = transaction::unwatch},
      {.name = "watch", .arity = -2, .flags = kFast | kNoScript | kRunsInMulti | kAllowBusy, .acl = acl::kTransaction,
       .keys = {1, -1, 1}, .keyFlags = "RO", .session = transaction::watch},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
