#include "worker/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <malloc.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/net/listener.h"
#include "worker/args.h"
#include "worker/fanout.h"
#include "worker/command_table.h"

namespace keyloop {

namespace {

constexpr int kAcceptsPerWakeup = 64;  // then let other events in

}  // namespace

std::size_t residentBytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<std::size_t>(resident) * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

std::size_t heapBytesInUse() {
  const struct mallinfo2 heap = ::mallinfo2();
  return heap.uordblks + heap.hblkhd;
}

std::int64_t unixMillis() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

Server::Server(Loop& loop, Config config, Log& log)
    : loop_(loop),
      config_(std::move(config)),
      log_(log),
      locks_(loop),
      expireTimer_(loop),
      idleTimer_(loop),
      lag_(loop),
      afterPoll_(loop),
      beforePoll_(loop),
      publishTimer_(loop),
      threadPool_(loop, static_cast<std::size_t>(config_.threadPool)),
      startedAt_(loop.now()) {}

Server::~Server() { shutdown(); }

void Server::applyConfig(const Config& next) {
  const bool newLimits = next.protoMaxBulkLen != config_.protoMaxBulkLen;
  config_ = next;
  if (newLimits) {
    for (auto& [id, client] : clients_) client->applyLimits();
  }
  armTimers();
}

void Server::armTimers() {
  expireTimer_.unref();
  const auto period = std::chrono::milliseconds(1000 / std::max(1, config_.expireHz));
  expireTimer_.start(period, period, [this] { runExpireCycle(); });
  if (draining_) return;  // the drain owns idleTimer_ now
  if (config_.idleTimeoutSeconds > 0) {
    idleTimer_.unref();
    idleTimer_.start(std::chrono::seconds(1), std::chrono::seconds(1), [this] { closeIdleClients(); });
  } else {
    idleTimer_.stop();
  }
}

void Server::serve(const std::vector<int>& listenFds, bool acceptNow) {
  listenFds_ = listenFds;
  if (acceptNow) startAccepting();
  armTimers();
  lag_.start();
  metrics_->pid.store(::getpid(), std::memory_order_relaxed);  // the master's readiness check
  if (!config_.metricsEnabled) return;  // counters still count: maxclients and INFO use them
  lag_.setObserver([this](Duration lag) { metrics_->lag.observe(lag); });
  // Busy time per iteration: from poll's return (check) to the next poll
  // (prepare). Time spent blocked in epoll_wait is not work.
  afterPoll_.unref();
  afterPoll_.start([this] { iterationStart_ = Clock::now(); });
  beforePoll_.unref();
  beforePoll_.start([this] {
    if (iterationStart_ != TimePoint{}) metrics_->iteration.observe(Clock::now() - iterationStart_);
  });
  publishTimer_.unref();
  publishTimer_.start(Duration::zero(), std::chrono::milliseconds(250), [this] { publishMetrics(); });
}

void Server::startAccepting() {
  if (!listeners_.empty() || draining_) return;
  for (int fd : listenFds_) {
    listeners_.push_back(std::make_unique<IoWatcher>(loop_, fd));
    listeners_.back()->start(kReadable, [this, fd](std::uint32_t) { acceptFrom(fd); });
  }
}

void Server::run(const CommandSpec& spec, CommandContext& ctx) {
  spec.handler(ctx);
  if (writeObserver_ && (spec.flags & kWrite)) writeObserver_(ctx.args, spec);
}

void Server::publishMetrics() {
  // Gauges are overwritten; the counters kept elsewhere advance by their
  // growth since the last publish (a new worker's start from zero).
  metrics_->keys.store(store_.size(), std::memory_order_relaxed);
  metrics_->memoryUsedBytes.store(heapBytesInUse(), std::memory_order_relaxed);
  metrics::bump(metrics_->expiredKeys, store_.expiredTotal() - publishedExpired_);
  publishedExpired_ = store_.expiredTotal();
  if (router_ != nullptr) {
    metrics::bump(metrics_->forwarded, router_->forwarded() - publishedForwarded_);
    publishedForwarded_ = router_->forwarded();
  }
}

void Server::finishClients() {
  for (const auto& [id, client] : clients_) client->finish();
}

void Server::closeLingerers() {
  std::vector<std::uint64_t> late;
  for (const auto& [id, client] : clients_) {
    const auto since = client->lingeringSince();
    if (since && loop_.now() - *since >= Client::kLinger) late.push_back(id);
  }
  for (std::uint64_t id : late) clients_.at(id)->close();
}

void Server::drain(bool closeIdle) {
  draining_ = true;
  if (!closeIdle) return;
  idleTimer_.ref();
  // Checked every 50 ms: a client with nothing buffered, nothing owed and no
  // request for the last 50 ms is idle and gets closed.
  idleTimer_.start(Duration::zero(), std::chrono::milliseconds(50), [this] {
    const TimePoint now = loop_.now();
    std::vector<std::uint64_t> idle;
    for (const auto& [id, client] : clients_) {
      if (client->queryBufferBytes() == 0 && client->outputBufferBytes() == 0 &&
          !client->hasReservedReplies() && now - client->lastActive() >= std::chrono::milliseconds(50)) {
        idle.push_back(id);
      }
    }
    for (std::uint64_t id : idle) clients_.at(id)->finish();
    closeLingerers();
  });
}

void Server::shutdown() {
  listeners_.clear();
  clients_.clear();
  expireTimer_.stop();
  idleTimer_.stop();
  lag_.stop();
  afterPoll_.stop();
  beforePoll_.stop();
  publishTimer_.stop();
}

void Server::acceptFrom(int listenFd) {
  for (int i = 0; i < kAcceptsPerWakeup; ++i) {
    UniqueFd fd(::accept4(listenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        log_.warning("Accepting client connection: %s", std::strerror(errno));
      }
      return;
    }
    ++stats_[kConnectionsReceived];
    metrics::bump(metrics_->connectionsAccepted);
    if (clientsEverywhere() >= config_.maxClients) {
      static constexpr std::string_view kFull = "-ERR max number of clients reached\r\n";
      ssize_t ignored = ::send(fd.get(), kFull.data(), kFull.size(), MSG_NOSIGNAL);
      (void)ignored;
      ++stats_[kConnectionsRejected];
      metrics::bump(metrics_->rejectedMaxclients);
      continue;
    }
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    addClient(std::move(fd));
  }
}

Client& Server::addClient(UniqueFd fd) {
  const std::uint64_t id = nextClientId_++;
  std::string peer = socketAddress(fd.get(), true), local = socketAddress(fd.get(), false);
  auto client = std::make_unique<Client>(*this, std::move(fd), id, std::move(peer), std::move(local));
  Client& added = *client;
  clients_.emplace(id, std::move(client));
  publishClientCount();
  added.start();
  return added;
}

void Server::handOverIdleClients(const std::function<bool(int fd, const ipc::ClientState&)>& send) {
  std::vector<Client*> idle;
  for (const auto& [id, client] : clients_) {
    if (client->atRequestBoundary()) idle.push_back(client.get());
  }
  for (Client* client : idle) {
    const ipc::ClientState state{static_cast<std::uint8_t>(client->reply().protocol() == resp::Protocol::Resp3 ? 3 : 2),
                                 client->authenticated(), client->name()};
    if (!send(client->fd(), state)) continue;
    log_.verbose("Handed client %s over to the new generation", client->peer().c_str());
    client->detach();  // the descriptor was duplicated into the message
  }
}

void Server::adoptClient(UniqueFd fd, const ipc::ClientState& state) {
  Client& client = addClient(std::move(fd));
  log_.verbose("Took over client %s from a retiring worker", client.peer().c_str());
  client.reply().setProtocol(state.protocol == 3 ? resp::Protocol::Resp3 : resp::Protocol::Resp2);
  client.setAuthenticated(state.authenticated);
  client.setName(state.name);
}

void Server::setSharedMetrics(metrics::SharedMetrics* shared, int slot) {
  if (shared == nullptr) return;
  shared_ = shared;
  metrics_ = &shared->at(slot);
  publishClientCount();  // a restarted worker starts from zero in its slot
}

void Server::publishClientCount() { metrics_->connections.store(clients_.size(), std::memory_order_relaxed); }

std::uint64_t Server::clientsEverywhere() const {
  return shared_ != nullptr ? shared_->totalConnections() : clients_.size();
}

void Server::removeClient(std::uint64_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  // Freed after the current callback: the client may be deep in its own stack.
  Client* client = it->second.release();
  clients_.erase(it);
  publishClientCount();
  loop_.defer([client] { delete client; });
}

std::size_t Server::prefetchKeys(std::string_view pending) {
  // A lone request gains nothing: its misses have nothing to overlap with.
  std::array<std::string_view, 16> keys;
  const resp::Lookahead ahead = resp::peekSecondArguments(pending, keys);
  if (ahead.keys > 1) store_.prefetch({keys.data(), ahead.keys});
  return ahead.bytes;
}

void Server::execute(Client& client, std::span<const std::string_view> args) {
  resp::Reply& reply = client.reply();
  const std::size_t replyStart = reply.buffer().size();
  const CommandSpec* spec = findCommand(args[0]);
  if (spec != nullptr && (spec->flags & kInternal)) spec = nullptr;
  const CommandSpec* topLevel = spec;
  std::string fullName;
  if (spec == nullptr) {
    std::string quoted;
    for (std::size_t i = 1; i < args.size() && quoted.size() < 128; ++i) {
      quoted += "'" + std::string(args[i].substr(0, 128 - quoted.size())) + "' ";
    }
    reply.error("ERR unknown command '" + std::string(args[0].substr(0, 128)) +
                "', with args beginning with: " + quoted);
  } else {
    fullName = spec->name;
    if (!spec->subcommands.empty() && args.size() >= 2) {
      const CommandSpec* sub = findSubcommand(*spec, args[1]);
      if (sub == nullptr) {
        reply.error("ERR unknown subcommand '" + std::string(args[1].substr(0, 128)) + "'. Try " +
                    toUpper(spec->name) + " HELP.");
        spec = nullptr;
      } else {
        fullName += "|" + std::string(sub->name);
        spec = sub;
      }
    }
  }
  if (spec != nullptr) {
    const int argc = static_cast<int>(args.size());
    if ((spec->arity > 0 && spec->arity != argc) || argc < -spec->arity) {
      reply.error("ERR wrong number of arguments for '" + fullName + "' command");
    } else if (!client.authenticated() && !(spec->flags & kNoAuth)) {
      reply.error("NOAUTH Authentication required.");
    } else if (needsFanOut(*this, *spec, args)) {
      client.setLastCommand(fullName);
      ++stats_[kCommandsProcessed];
      metrics::bump(metrics_->commands[commandIndex(*topLevel)]);
      fanOut(*this, client, *spec, args);
      return;  // the reply arrives later, in order
    } else {
      client.setLastCommand(fullName);
      CommandContext ctx{*this, &client, reply, store_, args, unixMillis()};
      run(*spec, ctx);
      ++stats_[kCommandsProcessed];
      metrics::bump(metrics_->commands[commandIndex(*topLevel)]);
    }
  }
  if (reply.buffer().size() > replyStart && reply.buffer()[replyStart] == '-') {
    ++stats_[kCommandErrors];
    metrics::bump(metrics_->commandErrors);
  }
  if (client.hasReservedReplies()) client.queueLocalReply(replyStart);
}

void Server::executeRouted(std::span<const std::string_view> args, resp::Protocol protocol, Router::Done done) {
  const CommandSpec* spec = findCommand(args.empty() ? std::string_view() : args[0]);
  if (spec != nullptr && !spec->subcommands.empty()) spec = nullptr;  // never routed
  if (spec == nullptr) return done("-ERR unknown command routed from a peer worker\r\n");
  if (holdRouted_) return held_.push_back(deferRouted(args, protocol, std::move(done)));
  if (!locks_.empty() && anyKey(*spec, args, [this](std::string_view key) { return locks_.isLocked(key); })) {
    return locks_.park(deferRouted(args, protocol, std::move(done)));
  }
  // The reply buffer is kept between calls (no allocation per command);
  // done() may lead back in here (a client resumes its pipeline), and the
  // nested call then takes a buffer of its own.
  std::string nested;
  std::string& out = routedDepth_ == 0 ? routedReply_ : nested;
  out.clear();
  resp::Reply reply(out, protocol);
  CommandContext ctx{*this, nullptr, reply, store_, args, unixMillis()};
  run(*spec, ctx);
  // Not counted here: the worker the client talks to counted it already.
  ++routedDepth_;
  done(out);
  --routedDepth_;
  if (out.capacity() > 64 * 1024) std::string().swap(out);  // a big GET's buffer is not kept
}

Task Server::deferRouted(std::span<const std::string_view> args, resp::Protocol protocol, Router::Done done) {
  return [this, copy = std::vector<std::string>(args.begin(), args.end()), protocol, done = std::move(done)]() mutable {
    std::vector<std::string_view> views(copy.begin(), copy.end());
    executeRouted(views, protocol, std::move(done));
  };
}

void Server::hold(bool routedToo) {
  holdClients_ = true;
  holdRouted_ = holdRouted_ || routedToo;
}

void Server::release() {
  holdClients_ = holdRouted_ = false;
  std::vector<Task> waiting = std::move(held_);
  held_.clear();
  for (Task& work : waiting) work();
}

bool Server::quiet() const { return (router_ == nullptr || router_->inFlight() == 0) && locks_.parked() == 0; }

void Server::stopAccepting(const std::vector<int>& keep) {
  std::erase_if(listeners_, [&keep](const std::unique_ptr<IoWatcher>& l) {
    return std::find(keep.begin(), keep.end(), l->fd()) == keep.end();
  });
}

std::size_t Server::acceptQueued() {
  const std::size_t before = clients_.size();
  for (const auto& l : listeners_) acceptFrom(l->fd());
  return clients_.size() - before;
}

ServerStats Server::totals() const {
  ServerStats all = stats_;
  all[kConnectedClients] = clients_.size();
  all[kKeys] = store_.size();
  all[kExpires] = store_.volatileCount();
  all[kExpiredKeys] = store_.expiredTotal();
  all[kUsedMemory] = heapBytesInUse();
  all[kResidentBytes] = residentBytes();
  return all;
}

void Server::sendSoon(std::uint64_t clientId) {
  toSend_.push_back(clientId);
  if (toSend_.size() > 1) return;  // already scheduled
  loop_.defer([this] {
    std::vector<std::uint64_t> batch;
    batch.swap(toSend_);
    for (std::uint64_t id : batch) {
      if (Client* c = findClient(id)) c->sendReleased();
    }
    if (toSend_.empty()) {  // keep the capacity for the next batch
      batch.clear();
      toSend_.swap(batch);
    }
  });
}

Client* Server::findClient(std::uint64_t id) {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second.get();
}

void Server::runExpireCycle() {
  // Budget per tick (config: expiry.cycle_budget, default 1 ms at 10 Hz =
  // 1% of the loop): the sweep can never add more than that to loop lag.
  const TimePoint deadline = Clock::now() + std::chrono::microseconds(config_.expireBudgetMicros);
  store_.expireSome(unixMillis(), [deadline] { return Clock::now() >= deadline; });
}

void Server::closeIdleClients() {
  const auto limit = std::chrono::seconds(config_.idleTimeoutSeconds);
  std::vector<std::uint64_t> idle;
  for (const auto& [id, client] : clients_) {
    if (loop_.now() - client->lastActive() > limit) idle.push_back(id);
  }
  for (std::uint64_t id : idle) {
    log_.verbose("Closing idle client");
    clients_.at(id)->close();
  }
}

}  // namespace keyloop
