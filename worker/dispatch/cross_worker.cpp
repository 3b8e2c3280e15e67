#include "worker/dispatch/cross_worker.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "common/resp/reply_reader.h"
#include "common/text/text.h"
#include "worker/connection/client.h"
#include "worker/connection/connections.h"
#include "worker/dispatch/dispatch.h"
#include "worker/keyspace/store.h"
#include "worker/execution/worker_services.h"
#include "worker/routing/atomic.h"
#include "worker/session/tracking.h"
#include "worker/execution/keyspace_events.h"

namespace keyloop {

namespace {

constexpr int kWorkerBits = 10;  // SCAN cursor: (inner << 10) | worker
using Args = std::vector<std::string>;
using Replies = std::vector<std::string>;

// Runs `parts` (owner, command) and calls finish with the replies in the
// same order once all are in. Local parts run inline.
// `tracked`: the tracking client they run for (session/tracking.h), or 0.
void gather(Dispatch& dispatch, resp::Protocol protocol, int db, std::vector<std::pair<int, Args>> parts,
            std::function<void(Replies&)> finish, std::uint64_t tracked = 0) {
  if (parts.empty()) {
    Replies none;
    return finish(none);
  }
  struct State {
    std::size_t remaining;
    Replies replies;
    std::function<void(Replies&)> finish;
  };
  auto state = std::make_shared<State>(State{parts.size(), Replies(parts.size()), std::move(finish)});
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::vector<std::string_view> views(parts[i].second.begin(), parts[i].second.end());
    dispatch.router()->call(
        parts[i].first, views, protocol,
        [state, i](std::string_view reply) {
          state->replies[i].assign(reply);
          if (--state->remaining == 0) state->finish(state->replies);
        },
        db, tracked);
  }
}

const std::string* firstError(const Replies& replies) {
  for (const std::string& r : replies) {
    if (resp::isError(r)) return &r;
  }
  return nullptr;
}

std::string integerReply(long long n) { return ":" + std::to_string(n) + "\r\n"; }

// Keys grouped by owner, each group a command `name key...`.
std::map<int, Args> splitByOwner(Dispatch& dispatch, const CommandSpec& spec, std::span<const std::string_view> args) {
  std::map<int, Args> groups;
  forEachKey(spec, args, [&](std::size_t i, std::size_t) {
    Args& group = groups[dispatch.router()->ownerOf(args[i])];
    if (group.empty()) group.emplace_back(args[0]);
    group.emplace_back(args[i]);
    return true;
  });
  return groups;
}

std::vector<std::pair<int, Args>> toParts(std::map<int, Args> groups) {
  return {std::make_move_iterator(groups.begin()), std::make_move_iterator(groups.end())};
}

std::vector<std::pair<int, Args>> everyWorker(Dispatch& dispatch, std::span<const std::string_view> args) {
  std::vector<std::pair<int, Args>> parts;
  for (int w = 0; w < dispatch.router()->workers(); ++w) parts.emplace_back(w, Args(args.begin(), args.end()));
  return parts;
}

std::string arrayOf(const std::vector<std::string_view>& elements) {
  std::string out = "*" + std::to_string(elements.size()) + "\r\n";
  for (std::string_view e : elements) out += e;
  return out;
}

using Reply = std::function<void(std::string_view)>;

long long sumOf(const Replies& replies) {
  long long total = 0;
  for (const std::string& r : replies) total += resp::replyInteger(r).value_or(0);
  return total;
}

void sumOverOwners(Dispatch& dispatch, resp::Protocol protocol, int db, const CommandSpec& spec,
                   std::span<const std::string_view> args, Reply reply, std::uint64_t tracked) {
  gather(
      dispatch, protocol, db, toParts(splitByOwner(dispatch, spec, args)),
      [reply](Replies& replies) {
        if (const std::string* e = firstError(replies)) return reply(*e);
        reply(integerReply(sumOf(replies)));
      },
      tracked);
}

// One SCAN page across workers: worker by worker, each from its own
// cursor. A worker whose keys are all seen hands the rest of the page to
// the next while fewer keys than COUNT came back, so a small database
// comes back in one page with cursor 0, as from one redis-server.
struct ScanPage {
  Args inner;  // SCAN with the worker's own cursor
  int worker = 0;
  int db = 0;
  std::size_t count = 10;
  std::vector<std::string> keys;  // raw frames
};

std::size_t scanCount(std::span<const std::string_view> args) {
  for (std::size_t i = 2; i + 1 < args.size(); i += 2) {
    if (!equalsIgnoreCase(args[i], "count")) continue;
    const std::optional<long long> n = parseInteger(args[i + 1]);
    return n && *n > 0 ? static_cast<std::size_t>(*n) : 10;
  }
  return 10;
}

void scanWorker(Dispatch& dispatch, resp::Protocol protocol, ScanPage page, Reply reply) {
  const int workers = dispatch.router()->workers();
  const int worker = page.worker;
  Args inner = page.inner;
  const int db = page.db;
  gather(dispatch, protocol, db, {{worker, std::move(inner)}},
         [&dispatch, protocol, page = std::move(page), workers, reply](Replies& replies) mutable {
           if (resp::isError(replies[0])) return reply(replies[0]);
           const auto parts = resp::replyElements(replies[0]);
           if (parts.size() != 2) return reply(replies[0]);
           for (std::string_view key : resp::replyElements(parts[1])) page.keys.emplace_back(key);
           const unsigned long long next =
               std::strtoull(std::string(resp::replyBulk(parts[0]).value_or("0")).c_str(), nullptr, 10);
           unsigned long long outer = 0;
           if (next != 0) {
             outer = (next << kWorkerBits) | static_cast<unsigned long long>(page.worker);
           } else if (page.worker + 1 < workers) {
             if (page.keys.size() < page.count) {
               ++page.worker;
               page.inner[1] = "0";
               return scanWorker(dispatch, protocol, std::move(page), reply);
             }
             outer = static_cast<unsigned long long>(page.worker + 1);
           }
           const std::string c = std::to_string(outer);
           reply("*2\r\n$" + std::to_string(c.size()) + "\r\n" + c + "\r\n" +
                 arrayOf(std::vector<std::string_view>(page.keys.begin(), page.keys.end())));
         });
}

void scanAcross(Dispatch& dispatch, resp::Protocol protocol, int db, std::span<const std::string_view> args, Reply reply) {
  const std::optional<std::uint64_t> parsed = parseScanCursor(args[1]);
  if (!parsed) return reply("-ERR invalid cursor\r\n");
  const std::uint64_t cursor = *parsed;
  const int worker = static_cast<int>(cursor & ((1u << kWorkerBits) - 1));
  ScanPage page{Args(args.begin(), args.end()), worker, db, scanCount(args), {}};
  page.inner[1] = std::to_string(cursor >> kWorkerBits);
  if (worker >= dispatch.router()->workers()) {
    // No worker's cursor: an empty last page, once worker 0 has checked
    // the options (a syntax error is still one).
    page.inner[1] = "0";
    gather(dispatch, protocol, db, {{0, page.inner}}, [reply](Replies& replies) {
      reply(resp::isError(replies[0]) ? replies[0] : std::string("*2\r\n$1\r\n0\r\n*0\r\n"));
    });
    return;
  }
  scanWorker(dispatch, protocol, std::move(page), std::move(reply));
}

// GatherTotals: the row's handler runs here with every worker's counters
// (INFO sums connected_clients, keys, total_commands_processed...; the
// rest of its text is this worker's).
void runWithTotals(Dispatch& dispatch, Client& client, const CommandSpec& spec, std::span<const std::string_view> args,
                   Reply reply) {
  Args copy(args.begin(), args.end());
  gather(dispatch, resp::Protocol::Resp2, 0, everyWorker(dispatch, peer::totalsRequest().args()),
         [&dispatch, id = client.id(), handler = spec.handler, copy, reply](Replies& replies) {
           std::vector<ServerStats> workers(replies.size(), ServerStats{});
           for (std::size_t w = 0; w < replies.size(); ++w) peer::decodeTotalsReply(replies[w], workers[w]);
           Client* c = dispatch.connections().find(id);
           if (c == nullptr) return;
           std::string out;
           resp::Reply encoder(out, c->reply().protocol());
           std::vector<std::string_view> views(copy.begin(), copy.end());
           const int db = c->session().db;
           CommandContext ctx{dispatch.services(), c, encoder, dispatch.store(db), views, unixMillis(), workers};
           ctx.db = db;
           runGuarded(handler, ctx);
           reply(out);
         });
}

// SLOWLOG GET: the newest `count` (-1: all) of every worker's entries (each
// reply holds its newest, at most `count`), by their shared ids, as one log
// of at most `kept` entries would hold them.
std::vector<std::string_view> newestOf(const Replies& replies, long long count, std::size_t kept) {
  std::vector<std::pair<long long, std::string_view>> entries;
  for (const std::string& r : replies) {
    for (std::string_view e : resp::replyElements(r)) {
      const auto fields = resp::replyElements(e);
      entries.emplace_back(fields.empty() ? 0 : resp::replyInteger(fields[0]).value_or(0), e);
    }
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  const std::size_t wanted = count < 0 ? kept : std::min(kept, static_cast<std::size_t>(count));
  if (entries.size() > wanted) entries.resize(wanted);
  std::vector<std::string_view> newest;
  for (const auto& [id, e] : entries) newest.push_back(e);
  return newest;
}

// One reply out of every worker's, by the command's declared kind.
std::string merge(CrossWorker kind, const Replies& replies, std::span<const std::string_view> args,
                  const Config& config) {
  switch (kind) {
    case CrossWorker::BroadcastNewest:
      return arrayOf(newestOf(replies, args.size() > 2 ? parseInteger(args[2]).value_or(10) : 10,
                              config.introspection.slowlogMaxLen));
    case CrossWorker::BroadcastNewestCount:
      return integerReply(static_cast<long long>(newestOf(replies, -1, config.introspection.slowlogMaxLen).size()));
    case CrossWorker::BroadcastSum:
      return integerReply(sumOf(replies));
    case CrossWorker::BroadcastConcat: {
      std::vector<std::string_view> all;
      for (const std::string& r : replies) {
        for (std::string_view e : resp::replyElements(r)) all.push_back(e);
      }
      return arrayOf(all);
    }
    case CrossWorker::BroadcastUnion:
    case CrossWorker::BroadcastCountUnion: {
      std::set<std::string_view> distinct;
      std::vector<std::string_view> all;
      for (const std::string& r : replies) {
        for (std::string_view e : resp::replyElements(r)) {
          if (distinct.insert(e).second) all.push_back(e);
        }
      }
      return kind == CrossWorker::BroadcastUnion ? arrayOf(all) : integerReply(static_cast<long long>(all.size()));
    }
    case CrossWorker::BroadcastPairSums: {
      // Every worker names the same channels in the same order.
      std::vector<long long> sums;
      std::vector<std::string_view> names;
      for (const std::string& r : replies) {
        const auto e = resp::replyElements(r);
        sums.resize(e.size() / 2);
        names.resize(e.size() / 2);
        for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
          names[i / 2] = e[i];
          sums[i / 2] += resp::replyInteger(e[i + 1]).value_or(0);
        }
      }
      std::string out = "*" + std::to_string(names.size() * 2) + "\r\n";  // flat in RESP3 too, as Redis 7.0
      for (std::size_t i = 0; i < names.size(); ++i) out += std::string(names[i]) + integerReply(sums[i]);
      return out;
    }
    case CrossWorker::BroadcastKill: {
      // The worker running a script answers +OK or why not; the others NOTBUSY.
      for (const std::string& r : replies) {
        if (r.rfind("-NOTBUSY", 0) != 0) return r;
      }
      return replies.front();
    }
    case CrossWorker::BroadcastLines: {
      // Lines that begin "id=N": in id order, as one server lists them.
      std::vector<std::pair<unsigned long long, std::string_view>> lines;
      for (const std::string& r : replies) {
        for (std::string_view line : splitOn(resp::replyBulk(r).value_or(""), '\n')) {
          lines.emplace_back(std::strtoull(std::string(line.substr(line.find('=') + 1)).c_str(), nullptr, 10), line);
        }
      }
      std::sort(lines.begin(), lines.end());
      std::string text;
      for (const auto& [id, line] : lines) text.append(line).append("\n");
      const bool verbatim = !replies.empty() && !replies.front().empty() && replies.front()[0] == '=';
      const std::string body = verbatim ? "txt:" + text : text;
      return (verbatim ? "=" : "$") + std::to_string(body.size()) + "\r\n" + body + "\r\n";
    }
    case CrossWorker::BroadcastRandom: {
      std::vector<const std::string*> found;
      for (const std::string& r : replies) {
        if (!resp::isNull(r)) found.push_back(&r);
      }
      if (found.empty()) return replies.front();
      static std::mt19937 rng(std::random_device{}());
      return *found[rng() % found.size()];
    }
    default:
      return replies.front();  // BroadcastSame: every worker answers alike (FLUSHDB's +OK)
  }
}

void broadcast(Dispatch& dispatch, resp::Protocol protocol, int db, const CommandSpec& spec,
               std::span<const std::string_view> args, Reply reply) {
  gather(dispatch, protocol, db, everyWorker(dispatch, args),
         [&dispatch, kind = spec.cross, reply, copy = Args(args.begin(), args.end())](Replies& replies) {
           const std::vector<std::string_view> views(copy.begin(), copy.end());
           const Config& config = dispatch.services().config();
           if (kind == CrossWorker::BroadcastKill) return reply(merge(kind, replies, views, config));
           if (const std::string* e = firstError(replies)) return reply(*e);
           reply(merge(kind, replies, views, config));
         });
}

// SWAPDB: every worker's clients held and nothing of any worker in flight
// or locked, then the command on every worker, then the clients go. One
// coordinator at a time (the shared permission); a step that cannot go on
// yet (the permission taken, a reload's hold, a worker not yet quiet)
// looks again a millisecond later.
struct Barrier : std::enable_shared_from_this<Barrier> {
  Barrier(Dispatch& d, Args a, resp::Protocol p, int number, Reply r)
      : dispatch(d), args(std::move(a)), protocol(p), db(number), reply(std::move(r)) {}
  Dispatch& dispatch;
  Args args;
  resp::Protocol protocol;
  int db;
  Reply reply;

  void take() {
    if (!dispatch.services().takeBarrier()) return later(&Barrier::take);
    askEveryWorker(peer::BarrierStep::Hold, /*self=*/true, [self = shared_from_this()](Replies& replies) {
      if (firstError(replies) == nullptr) return self->waitUntilQuiet();
      self->letGo();  // a reload holds one of them: after it, again
      self->later(&Barrier::take);
    });
  }
  // This worker is asked last, here: its own questions in flight are not
  // work of its clients.
  void waitUntilQuiet() {
    askEveryWorker(peer::BarrierStep::Ready, /*self=*/false, [self = shared_from_this()](Replies& replies) {
      const bool quiet = std::all_of(replies.begin(), replies.end(), [](const std::string& r) { return r == ":1\r\n"; });
      if (!quiet || !self->dispatch.services().quietForBarrier()) return self->later(&Barrier::waitUntilQuiet);
      const std::vector<std::string_view> views(self->args.begin(), self->args.end());
      gather(self->dispatch, self->protocol, self->db, everyWorker(self->dispatch, views), [self](Replies& done) {
        self->letGo();
        const std::string* e = firstError(done);
        self->reply(e != nullptr ? *e : done.front());
      });
    });
  }
  void letGo() {
    const peer::Message release = peer::barrierMessage(peer::BarrierStep::Release);
    // notify, not post: a sleeping worker wakes for it (its clients wait).
    for (int w = 0; w < dispatch.router()->workers(); ++w) dispatch.router()->notify(w, release.args());
    dispatch.services().releaseBarrier();
  }
  void askEveryWorker(peer::BarrierStep step, bool withSelf, std::function<void(Replies&)> then) {
    const peer::Message message = peer::barrierMessage(step);
    std::vector<std::pair<int, Args>> parts = everyWorker(dispatch, message.args());
    if (!withSelf) std::erase_if(parts, [&](const auto& part) { return part.first == dispatch.router()->self(); });
    gather(dispatch, resp::Protocol::Resp2, 0, std::move(parts), std::move(then));
  }
  void later(void (Barrier::*step)()) {
    dispatch.router()->later([self = shared_from_this(), step] { ((*self).*step)(); });
  }
};

void runBehindBarrier(Dispatch& dispatch, resp::Protocol protocol, int db, std::span<const std::string_view> args,
                      Reply reply) {
  std::make_shared<Barrier>(dispatch, Args(args.begin(), args.end()), protocol, db, std::move(reply))->take();
}

// One run of `spec` by the atomic executor against its scratch store of the
// locked keys, of which it may read those `readable` allows; its keyspace
// notifications are kept in `events` until the commit. Its reply.
std::string runOnLocked(Dispatch& dispatch, const CommandSpec& spec, const Args& args, resp::Protocol protocol, int db,
                        const std::function<bool(std::string_view)>& readable, KeyEvents& events, Store& scratch,
                        std::int64_t nowMs) {
  std::string out;
  resp::Reply encoder(out, protocol);
  const std::vector<std::string_view> views(args.begin(), args.end());
  const auto collect = collectInto(events);
  CommandContext ctx{dispatch.services(), nullptr, encoder, scratch, views, nowMs};
  ctx.db = db;
  ctx.readable = &readable;
  ctx.events = &collect;
  ctx.discovers = spec.cross == CrossWorker::Discovering;  // runDiscovering runs it again
  scratch.tick(nowMs);
  keyspace_events::runRecorded(spec, ctx);
  return out;
}

// Several owners: the atomic executor runs the command's own handler
// against what its keys held (atomic.h).
void runAtomic(Dispatch& dispatch, Client& client, std::uint64_t place, int db, const CommandSpec& spec,
               std::span<const std::string_view> args, Reply reply) {
  // Its reads and writes happen when the locks are taken and committed:
  // the client's next command must wait for that, not overtake it.
  if (place != 0) client.holdUntilFilled(place);
  const std::vector<std::string_view> keys = keysOf(spec, args);
  if ((spec.flags & kReadonly) && dispatch.services().tracking() != nullptr) {
    dispatch.services().tracking()->rememberAhead(dispatch, client, keys);
  }
  auto events = std::make_shared<KeyEvents>();
  auto run = [&dispatch, &spec, copy = Args(args.begin(), args.end()), protocol = client.reply().protocol(), db,
              events](Store& scratch, std::int64_t nowMs) {
    // A script may reach exactly the keys locked for it.
    const std::vector<std::string_view> views(copy.begin(), copy.end());
    const auto declared = keysOf(spec, views);
    const std::set<std::string_view> locked(declared.begin(), declared.end());
    return runOnLocked(dispatch, spec, copy, protocol, db, [&locked](std::string_view k) { return locked.contains(k); },
                       *events, scratch, nowMs);
  };
  runAtomically(*dispatch.router(), db, keys, (spec.flags & (kWrite | kMayWrite)) != 0, std::move(run),
                std::move(reply), nullptr, events);
}

// Discovering (SORT): the atomic executor over the declared keys and the
// ones earlier runs asked for; a run that names more (a push reply) is
// run again with those locked too.
void runDiscovering(Dispatch& dispatch, Client& client, std::uint64_t place, int db, const CommandSpec& spec,
                    std::span<const std::string_view> args, Reply reply, std::set<std::string> extra = {},
                    int attempt = 0) {
  if (place != 0) client.holdUntilFilled(place);
  auto locked = std::make_shared<std::set<std::string, std::less<>>>(extra.begin(), extra.end());
  for (std::string_view k : keysOf(spec, args)) locked->emplace(k);
  const std::vector<std::string_view> keys(locked->begin(), locked->end());
  auto events = std::make_shared<KeyEvents>();
  auto run = [&dispatch, &spec, copy = Args(args.begin(), args.end()), protocol = client.reply().protocol(), db,
              locked, events](Store& scratch, std::int64_t nowMs) {
    return runOnLocked(dispatch, spec, copy, protocol, db, [locked](std::string_view k) { return locked->contains(k); },
                       *events, scratch, nowMs);
  };
  auto done = [&dispatch, &spec, id = client.id(), place, db, copy = Args(args.begin(), args.end()), reply, extra,
               attempt](std::string_view bytes) mutable {
    if (bytes.empty() || bytes[0] != '>') return reply(bytes);
    // The elements changed between two runs more often than is sane.
    if (attempt >= 8) return reply("-TRYAGAIN the keys SORT reads kept changing\r\n");
    std::string asArray(bytes);
    asArray[0] = '*';
    for (std::string_view k : resp::replyElements(asArray)) extra.emplace(resp::replyBulk(k).value_or(""));
    Client* c = dispatch.connections().find(id);
    if (c == nullptr) return;
    std::vector<std::string_view> views(copy.begin(), copy.end());
    runDiscovering(dispatch, *c, place, db, spec, views, std::move(reply), std::move(extra), attempt + 1);
  };
  runAtomically(*dispatch.router(), db, keys, (spec.flags & kWrite) != 0, std::move(run), std::move(done), nullptr,
                events);
}

// Runs `spec` for `client`, whose reply goes to `place` (or to `then`).
void route(Dispatch& dispatch, Client& client, std::uint64_t place, int db, const CommandSpec& spec,
           std::span<const std::string_view> args, RoutePlan plan, Reply then = nullptr) {
  const resp::Protocol protocol = client.reply().protocol();
  const std::uint64_t tracked = trackedTag(client);
  if (plan.kind == RoutePlan::Kind::Owner && !then && spec.cross != CrossWorker::Discovering) {  // the hot path
    return dispatch.router()->forward(plan.owner, args, protocol, {client.id(), place}, db, tracked);
  }
  Reply reply = then ? std::move(then) : Reply([&dispatch, id = client.id(), place](std::string_view bytes) {
    if (Client* c = dispatch.connections().find(id)) c->fillReply(place, bytes);
  });
  const IntrospectionConfig& settings = dispatch.services().config().introspection;
  if (plan.kind != RoutePlan::Kind::Owner && plan.kind != RoutePlan::Kind::Here &&
      (settings.slowlogLogSlowerThanMicros >= 0 || settings.latencyMonitorThresholdMs != 0 || settings.latencyTracking)) {
    // Several workers' work for one command: the slow log has it whole.
    reply = [&dispatch, &spec, id = client.id(), copy = Args(args.begin(), args.end()), started = Clock::now(),
             reply = std::move(reply)](std::string_view bytes) {
      const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
      const std::vector<std::string_view> views(copy.begin(), copy.end());
      dispatch.noteSlowRun(spec, views, static_cast<std::uint64_t>(micros), id);
      reply(bytes);
    };
  }
  if (spec.cross == CrossWorker::Discovering && plan.kind != RoutePlan::Kind::Here) {
    return runDiscovering(dispatch, client, place, db, spec, args, std::move(reply));
  }
  switch (plan.kind) {
    case RoutePlan::Kind::Owner:
      return dispatch.router()->call(plan.owner, args, protocol, std::move(reply), db, tracked);
    case RoutePlan::Kind::CrossSlot:
    case RoutePlan::Kind::Moved:  // planned again after a hold: the slot moved meanwhile
      return reply("-" + dispatch.redirection(plan) + "\r\n");
    case RoutePlan::Kind::Split:
      return sumOverOwners(dispatch, protocol, db, spec, args, std::move(reply), tracked);
    case RoutePlan::Kind::Atomic:
      return runAtomic(dispatch, client, place, db, spec, args, std::move(reply));
    case RoutePlan::Kind::Broadcast:
      if (spec.cross == CrossWorker::GatherTotals) return runWithTotals(dispatch, client, spec, args, std::move(reply));
      if (spec.cross == CrossWorker::BroadcastScan) return scanAcross(dispatch, protocol, db, args, std::move(reply));
      if (spec.cross == CrossWorker::BroadcastBarrier) return runBehindBarrier(dispatch, protocol, db, args, std::move(reply));
      return broadcast(dispatch, protocol, db, spec, args, std::move(reply));
    case RoutePlan::Kind::Here:
      // Planned again after a hold, and local now: it still owes its
      // reserved place a reply, so it runs through the local executor.
      return dispatch.router()->call(dispatch.router()->self(), args, protocol, std::move(reply), db, tracked);
  }
}

}  // namespace

// PUBLISH: this worker's subscribers get it first and at once (a RESP3
// client subscribed to its own channel sees the message before the
// reply, as in Redis), then every other worker's; the counts are summed.
void publishEverywhere(Dispatch& dispatch, Client& client, std::span<const std::string_view> args) {
  const std::string here = dispatch.runNow(args, client.reply().protocol(), 0);
  const std::uint64_t place = client.reserveReply();
  std::vector<std::pair<int, Args>> parts;
  for (int w = 0; w < dispatch.router()->workers(); ++w) {
    if (w != dispatch.router()->self()) parts.emplace_back(w, Args(args.begin(), args.end()));
  }
  gather(dispatch, resp::Protocol::Resp2, 0, std::move(parts), [&dispatch, id = client.id(), place, here](Replies& replies) {
    replies.push_back(here);
    Client* c = dispatch.connections().find(id);
    if (c == nullptr) return;
    const std::string* e = firstError(replies);
    c->fillReply(place, e != nullptr ? *e : integerReply(sumOf(replies)));
  });
}

void askEveryWorker(Dispatch& dispatch, std::span<const std::string_view> args,
                    std::function<void(const std::vector<std::string>& replies)> done, resp::Protocol protocol) {
  if (dispatch.router() == nullptr) {  // alone (a unit test's Server): this worker is every worker
    return done({dispatch.runNow(args, protocol, 0)});
  }
  gather(dispatch, protocol, 0, everyWorker(dispatch, args),
         [done = std::move(done)](Replies& replies) { done(replies); });
}

void answerFromEveryWorker(Dispatch& dispatch, Client& client, std::span<const std::string_view> args,
                           std::function<std::string(const std::vector<std::string>& replies)> merge, bool holdsLater) {
  const std::uint64_t place = client.reserveReply();
  if (holdsLater) client.holdUntilFilled(place);
  askEveryWorker(dispatch, args, [&dispatch, id = client.id(), place, merge = std::move(merge)](const Replies& replies) {
    if (Client* c = dispatch.connections().find(id)) c->fillReply(place, merge(replies));
  }, client.reply().protocol());
}

void runAcross(Dispatch& dispatch, Client& client, const CommandSpec& spec, std::span<const std::string_view> args,
               RoutePlan plan) {
  // The database as of now: a SELECT after it in the pipeline must not move it.
  const int db = client.session().db;
  if (plan.kind == RoutePlan::Kind::Broadcast && (spec.flags & kEveryNode) && !dispatch.holding() &&
      dispatch.router()->self() >= 0) {
    return publishEverywhere(dispatch, client, args);
  }
  const std::uint64_t place = client.reserveReply();
  if (!dispatch.holding()) return route(dispatch, client, place, db, spec, args, plan);
  // Held until the migration ends; its place in the reply stream is kept,
  // so the client's replies still leave in request order. The plan is made
  // again then: by that time the keys may have another owner.
  dispatch.holdCommand([&dispatch, id = client.id(), place, db, &spec, copy = Args(args.begin(), args.end())] {
    Client* c = dispatch.connections().find(id);
    if (c == nullptr) return;
    std::vector<std::string_view> views(copy.begin(), copy.end());
    route(dispatch, *c, place, db, spec, views, dispatch.planFor(spec, views, c->clusterNode()));
  });
}

void runAcrossThen(Dispatch& dispatch, Client& client, std::uint64_t place, int db, const CommandSpec& spec,
                   std::span<const std::string_view> args, RoutePlan plan, std::function<void(std::string_view)> then) {
  if (!dispatch.holding()) return route(dispatch, client, place, db, spec, args, plan, std::move(then));
  dispatch.holdCommand([&dispatch, id = client.id(), place, db, &spec, copy = Args(args.begin(), args.end()),
                        then = std::move(then)]() mutable {
    Client* c = dispatch.connections().find(id);
    if (c == nullptr) return;
    std::vector<std::string_view> views(copy.begin(), copy.end());
    route(dispatch, *c, place, db, spec, views, dispatch.planFor(spec, views, c->clusterNode()), std::move(then));
  });
}

}  // namespace keyloop
