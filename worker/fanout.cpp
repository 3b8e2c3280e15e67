#include "worker/fanout.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>

#include "common/resp/reply_reader.h"
#include "worker/args.h"
#include "worker/commands/commands.h"
#include "worker/server.h"
#include "worker/transaction.h"

namespace keyloop {

namespace {

constexpr int kWorkerBits = 10;  // SCAN cursor: (inner << 10) | worker
using Args = std::vector<std::string>;
using Replies = std::vector<std::string>;

bool isBroadcast(std::string_view name) {
  return name == "dbsize" || name == "keys" || name == "flushdb" || name == "flushall" ||
         name == "randomkey" || name == "scan";
}

// Runs `parts` (owner, command) and calls finish with the replies in the
// same order once all are in. Local parts run inline.
void gather(Server& server, resp::Protocol protocol, std::vector<std::pair<int, Args>> parts,
            std::function<void(Replies&)> finish) {
  struct State {
    std::size_t remaining;
    Replies replies;
    std::function<void(Replies&)> finish;
  };
  auto state = std::make_shared<State>(State{parts.size(), Replies(parts.size()), std::move(finish)});
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::vector<std::string_view> views(parts[i].second.begin(), parts[i].second.end());
    server.router()->call(parts[i].first, views, protocol, [state, i](std::string_view reply) {
      state->replies[i].assign(reply);
      if (--state->remaining == 0) state->finish(state->replies);
    });
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
std::map<int, Args> splitByOwner(Server& server, std::string_view name, std::span<const std::string_view> args) {
  std::map<int, Args> groups;
  for (std::size_t i = 1; i < args.size(); ++i) {
    Args& group = groups[server.router()->ownerOf(args[i])];
    if (group.empty()) group.emplace_back(name);
    group.emplace_back(args[i]);
  }
  return groups;
}

std::vector<std::pair<int, Args>> toParts(std::map<int, Args> groups) {
  return {std::make_move_iterator(groups.begin()), std::make_move_iterator(groups.end())};
}

std::vector<std::pair<int, Args>> everyWorker(Server& server, std::span<const std::string_view> args) {
  std::vector<std::pair<int, Args>> parts;
  for (int w = 0; w < server.router()->workers(); ++w) parts.emplace_back(w, Args(args.begin(), args.end()));
  return parts;
}

std::string arrayOf(const std::vector<std::string_view>& elements) {
  std::string out = "*" + std::to_string(elements.size()) + "\r\n";
  for (std::string_view e : elements) out += e;
  return out;
}

using Reply = std::function<void(std::string_view)>;

void sumOverOwners(Server& server, resp::Protocol protocol, std::span<const std::string_view> args, Reply reply) {
  gather(server, protocol, toParts(splitByOwner(server, toUpper(args[0]), args)), [reply](Replies& replies) {
    if (const std::string* e = firstError(replies)) return reply(*e);
    long long total = 0;
    for (const std::string& r : replies) total += resp::replyInteger(r).value_or(0);
    reply(integerReply(total));
  });
}

void scanAcross(Server& server, resp::Protocol protocol, std::span<const std::string_view> args, Reply reply) {
  const std::optional<std::uint64_t> parsed = parseScanCursor(args[1]);
  if (!parsed) return reply("-ERR invalid cursor\r\n");
  const std::uint64_t cursor = *parsed;
  const int workers = server.router()->workers();
  const int worker = static_cast<int>(cursor & ((1u << kWorkerBits) - 1));
  if (worker >= workers) return reply("*2\r\n$1\r\n0\r\n*0\r\n");
  Args inner(args.begin(), args.end());
  inner[1] = std::to_string(cursor >> kWorkerBits);
  gather(server, protocol, {{worker, inner}}, [worker, workers, reply](Replies& replies) {
    if (resp::isError(replies[0])) return reply(replies[0]);
    const auto parts = resp::replyElements(replies[0]);
    if (parts.size() != 2) return reply(replies[0]);
    const unsigned long long next = std::strtoull(std::string(resp::replyBulk(parts[0]).value_or("0")).c_str(), nullptr, 10);
    unsigned long long outer = 0;
    if (next != 0) outer = (next << kWorkerBits) | static_cast<unsigned long long>(worker);
    else if (worker + 1 < workers) outer = static_cast<unsigned long long>(worker + 1);
    const std::string c = std::to_string(outer);
    reply("*2\r\n$" + std::to_string(c.size()) + "\r\n" + c + "\r\n" + std::string(parts[1]));
  });
}

// INFO with the numbers of all workers summed (connected_clients, keys,
// total_commands_processed, ...); the rest of the text is this worker's.
void info(Server& server, Client& client, std::span<const std::string_view> args, Reply reply) {
  static constexpr std::string_view kTotals[] = {"__totals"};
  Args copy(args.begin(), args.end());
  gather(server, resp::Protocol::Resp2, everyWorker(server, kTotals),
         [&server, id = client.id(), copy, reply](Replies& replies) {
           std::vector<ServerStats> workers(replies.size(), ServerStats{});
           for (std::size_t w = 0; w < replies.size(); ++w) {
             const auto values = resp::replyElements(replies[w]);
             for (std::size_t i = 0; i < values.size() && i < workers[w].size(); ++i) {
               workers[w][i] = static_cast<std::uint64_t>(resp::replyInteger(values[i]).value_or(0));
             }
           }
           Client* c = server.findClient(id);
           if (c == nullptr) return;
           std::string out;
           resp::Reply encoder(out, c->reply().protocol());
           std::vector<std::string_view> views(copy.begin(), copy.end());
           CommandContext ctx{server, c, encoder, server.store(), views, unixMillis(), workers};
           commands::info(ctx);
           reply(out);
         });
}

void broadcast(Server& server, resp::Protocol protocol, std::span<const std::string_view> args, Reply reply) {
  const std::string name = toLower(args[0]);
  gather(server, protocol, everyWorker(server, args), [name, reply](Replies& replies) {
    if (const std::string* e = firstError(replies)) return reply(*e);
    if (name == "dbsize") {
      long long total = 0;
      for (const std::string& r : replies) total += resp::replyInteger(r).value_or(0);
      return reply(integerReply(total));
    }
    if (name == "keys") {
      std::vector<std::string_view> all;
      for (const std::string& r : replies) {
        for (std::string_view e : resp::replyElements(r)) all.push_back(e);
      }
      return reply(arrayOf(all));
    }
    if (name == "randomkey") {
      std::vector<const std::string*> found;
      for (const std::string& r : replies) {
        if (!resp::isNull(r)) found.push_back(&r);
      }
      if (found.empty()) return reply(replies.front());
      static std::mt19937 rng(std::random_device{}());
      return reply(*found[rng() % found.size()]);
    }
    reply(replies.front());  // FLUSHDB / FLUSHALL: +OK from everyone
  });
}

void transact(Server& server, Client& client, std::uint64_t place, resp::Protocol protocol,
              std::span<const std::string_view> args, Reply reply) {
  // Its reads and writes happen when the locks are taken and committed:
  // the client's next command must wait for that, not overtake it.
  client.holdUntilFilled(place);
  const std::string_view name = findCommand(args[0])->name;
  if (name == "mget") {
    transactMget(server, protocol, Args(args.begin() + 1, args.end()), reply);
  } else if (name == "mset" || name == "msetnx") {
    if (args.size() % 2 == 0) return reply("-ERR wrong number of arguments for '" + std::string(name) + "' command\r\n");
    transactMset(server, Args(args.begin(), args.end()), name == "msetnx", reply);
  } else if (name == "rename" || name == "renamenx") {
    transactRename(server, std::string(args[1]), std::string(args[2]), name == "renamenx", reply);
  }
}

}  // namespace

bool needsFanOut(Server& server, const CommandSpec& spec, std::span<const std::string_view> args) {
  Router* router = server.router();
  if (router == nullptr) return false;
  // A reload is moving the keys (migration.h), or this worker has handed
  // its keys over: everything that touches the keyspace goes the long way.
  if ((server.holdingClients() || router->self() < 0) &&
      (isBroadcast(spec.name) || spec.name == "info" || anyKey(spec, args, [](std::string_view) { return true; }))) {
    return true;
  }
  // A locked key (a cross-worker transaction holds it): the command waits
  // for the commit, through the same path a forwarded command takes.
  KeyLocks& locks = server.locks();
  if (!locks.empty() && anyKey(spec, args, [&locks](std::string_view key) { return locks.isLocked(key); })) {
    return true;
  }
  if (router->workers() < 2) return false;
  if (isBroadcast(spec.name) || spec.name == "info") return true;
  return anyKey(spec, args, [router](std::string_view key) { return router->ownerOf(key) != router->self(); });
}

// Runs `spec` for `client`, whose reply goes to `place`.
void route(Server& server, Client& client, std::uint64_t place, const CommandSpec& spec,
           std::span<const std::string_view> args) {
  const resp::Protocol protocol = client.reply().protocol();
  Reply reply = [&server, id = client.id(), place](std::string_view bytes) {
    if (Client* c = server.findClient(id)) c->fillReply(place, bytes);
  };
  Router& router = *server.router();
  const std::string_view name = spec.name;
  std::vector<int> owners;
  anyKey(spec, args, [&](std::string_view key) {
    owners.push_back(router.ownerOf(key));
    return false;
  });
  const bool oneOwner = std::all_of(owners.begin(), owners.end(), [&](int o) { return o == owners.front(); });
  if (name == "info") {
    info(server, client, args, reply);
  } else if (isBroadcast(name)) {
    name == "scan" ? scanAcross(server, protocol, args, reply) : broadcast(server, protocol, args, reply);
  } else if (oneOwner) {
    router.call(owners.front(), args, protocol, std::move(reply));  // the hot path: one hop
  } else if (name == "mget" || name == "mset" || name == "msetnx" || name == "rename" || name == "renamenx") {
    transact(server, client, place, protocol, args, reply);
  } else {  // DEL, UNLINK, EXISTS, TOUCH
    sumOverOwners(server, protocol, args, reply);
  }
}


void fanOut(Server& server, Client& client, const CommandSpec& spec, std::span<const std::string_view> args) {
  const std::uint64_t place = client.reserveReply();
  if (!server.holdingClients()) return route(server, client, place, spec, args);
  // Held until the migration ends; its place in the reply stream is kept,
  // so the client's replies still leave in request order.
  server.holdCommand([&server, id = client.id(), place, &spec, copy = Args(args.begin(), args.end())] {
    Client* c = server.findClient(id);
    if (c == nullptr) return;
    std::vector<std::string_view> views(copy.begin(), copy.end());
    route(server, *c, place, spec, views);
  });
}

}  // namespace keyloop
