#include "worker/connection/connections.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

#include "common/net/listener.h"

namespace keyloop {

namespace {

constexpr int kAcceptsPerWakeup = 64;  // then let other events in
// While draining, a client with nothing buffered, nothing owed and no
// request for this long is idle and gets finished.
constexpr auto kDrainIdle = std::chrono::milliseconds(50);

}  // namespace

Connections::Connections(Loop& loop, const Config& config, Log& log, WorkerStats& stats, RequestRunner& runner)
    : loop_(loop), config_(config), log_(log), stats_(stats), runner_(runner), idleTimer_(loop), acceptPause_(loop) {}

Connections::~Connections() { closeAll(); }

void Connections::startAccepting() {
  if (!listeners_.empty() || draining_) return;
  for (int fd : listenFds_) {
    listeners_.push_back(std::make_unique<IoWatcher>(loop_, fd));
    listeners_.back()->start(kReadable, [this, fd](std::uint32_t) { acceptFrom(fd); });
  }
}

void Connections::stopAccepting(const std::vector<int>& keep) {
  std::erase_if(listeners_, [&keep](const std::unique_ptr<IoWatcher>& l) {
    return std::find(keep.begin(), keep.end(), l->fd()) == keep.end();
  });
}

std::size_t Connections::acceptQueued() {
  const std::size_t before = clients_.size();
  for (const auto& l : listeners_) acceptFrom(l->fd());
  return clients_.size() - before;
}

void Connections::pauseAccepting(int error) {
  // Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS): the listener
  // stays readable, so accepting again at once would spin the loop. Like
  // nginx, stop watching the listeners for a while: the connections wait
  // in the backlog, the open clients are served; said once a second.
  const TimePoint now = loop_.now();
  if (!lastAcceptWarning_ || now - *lastAcceptWarning_ >= std::chrono::seconds(1)) {
    log_.warning("Accepting client connection: %s (not accepting for %lld ms)", std::strerror(error),
                 static_cast<long long>(kAcceptPause.count()));
    lastAcceptWarning_ = now;
  }
  // Stopped, not destroyed: this may be one of their callbacks.
  for (const auto& l : listeners_) l->stop();
  acceptPause_.start(kAcceptPause, [this] { resumeAccepting(); });
}

void Connections::resumeAccepting() {
  for (const auto& l : listeners_) {
    const int fd = l->fd();
    l->start(kReadable, [this, fd](std::uint32_t) { acceptFrom(fd); });
  }
}

void Connections::applyConfig(bool newLimits) {
  if (newLimits) {
    for (auto& [id, client] : clients_) client->applyLimits();
  }
  armIdleTimeout();
}

void Connections::armIdleTimeout() {
  if (draining_) return;  // the drain owns idleTimer_ now
  if (config_.idleTimeoutSeconds > 0) {
    idleTimer_.unref();
    idleTimer_.start(std::chrono::seconds(1), std::chrono::seconds(1), [this] { closeIdleClients(); });
  } else {
    idleTimer_.stop();
  }
}

void Connections::acceptFrom(int listenFd) {
  for (int i = 0; i < kAcceptsPerWakeup; ++i) {
    UniqueFd fd(::accept4(listenFd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) pauseAccepting(errno);
      return;
    }
    ++counters()[kConnectionsReceived];
    metrics::bump(stats_.metrics().connectionsAccepted);
    if (everywhere() >= config_.maxClients) {
      static constexpr std::string_view kFull = "-ERR max number of clients reached\r\n";
      ssize_t ignored = ::send(fd.get(), kFull.data(), kFull.size(), MSG_NOSIGNAL);
      (void)ignored;
      ++counters()[kConnectionsRejected];
      metrics::bump(stats_.metrics().rejectedMaxclients);
      continue;
    }
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    add(std::move(fd));
  }
}

Client& Connections::add(UniqueFd fd, std::uint64_t keptId) {
  const std::uint64_t id = keptId != 0 && !clients_.contains(keptId) ? keptId : stats_.takeClientId();
  std::string peer = socketAddress(fd.get(), true), local = socketAddress(fd.get(), false);
  auto client = std::make_unique<Client>(*this, std::move(fd), id, std::move(peer), std::move(local));
  Client& added = *client;
  clients_.emplace(id, std::move(client));
  stats_.publishClientCount(clients_.size());
  added.start();
  return added;
}

void Connections::remove(std::uint64_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  runner_.clientGone(id);
  // Freed after the current callback: the client may be deep in its own stack.
  Client* client = it->second.release();
  clients_.erase(it);
  stats_.publishClientCount(clients_.size());
  loop_.defer([client] { delete client; });
}

Client* Connections::find(std::uint64_t id) {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second.get();
}

void Connections::pauseReading(bool paused) {
  readingPaused_ = paused;
  if (paused || resumeAfterPause_.empty()) return;
  loop_.defer([this, waiting = std::exchange(resumeAfterPause_, {})] {
    for (std::uint64_t id : waiting) {
      if (Client* c = find(id)) c->sendReleased();  // flushes, then runs what it had read
    }
  });
}

void Connections::sendSoon(std::uint64_t clientId) {
  toSend_.push_back(clientId);
  if (toSend_.size() > 1) return;  // already scheduled
  loop_.defer([this] {
    std::vector<std::uint64_t> batch;
    batch.swap(toSend_);
    for (std::uint64_t id : batch) {
      if (Client* c = find(id)) c->sendReleased();
    }
    if (toSend_.empty()) {  // keep the capacity for the next batch
      batch.clear();
      toSend_.swap(batch);
    }
  });
}

void Connections::drain(bool closeIdle) {
  draining_ = true;
  if (!closeIdle) return;
  idleTimer_.ref();
  // Idleness is a matter of time: looked at every kDrainIdle.
  idleTimer_.start(Duration::zero(), kDrainIdle, [this] {
    const TimePoint now = loop_.now();
    std::vector<std::uint64_t> idle;
    for (const auto& [id, client] : clients_) {
      if (client->queryBufferBytes() == 0 && client->outputBufferBytes() == 0 && !client->hasReservedReplies() &&
          now - client->lastActive() >= kDrainIdle) {
        idle.push_back(id);
      }
    }
    for (std::uint64_t id : idle) clients_.at(id)->finish();
    closeLingerers();
  });
}

void Connections::finishClients() {
  for (const auto& [id, client] : clients_) client->finish();
}

void Connections::closeLingerers() {
  std::vector<std::uint64_t> late;
  for (const auto& [id, client] : clients_) {
    const auto since = client->lingeringSince();
    if (since && loop_.now() - *since >= Client::kLinger) late.push_back(id);
  }
  for (std::uint64_t id : late) clients_.at(id)->close();
}

void Connections::closeAll() {
  listeners_.clear();
  clients_.clear();
  idleTimer_.stop();
}

void Connections::handOverIdleClients(const std::function<bool(int fd, const ipc::ClientState&)>& send) {
  // A blocked client goes with its command, to block again over there.
  std::map<std::uint64_t, std::string> resume;
  for (const auto& [id, client] : clients_) {
    if (auto request = runner_.releaseBlocked(id)) resume[id] = std::move(*request);
  }
  std::vector<Client*> idle;
  for (const auto& [id, client] : clients_) {
    if (client->atRequestBoundary()) idle.push_back(client.get());
  }
  for (Client* client : idle) {
    ipc::ClientState state;
    state.protocol = static_cast<std::uint8_t>(client->reply().protocol() == resp::Protocol::Resp3 ? 3 : 2);
    state.authenticated = client->authenticated();
    state.name = client->name();
    state.monitoring = client->session().monitoring;
    state.db = static_cast<std::uint16_t>(client->session().db);
    state.id = client->id();
    state.tracking = runner_.trackingState(*client);
    if (auto it = resume.find(client->id()); it != resume.end()) state.resume = std::move(it->second);
    const Session& s = client->session();
    state.subscriptions[0].assign(s.channels.begin(), s.channels.end());
    state.subscriptions[1].assign(s.patterns.begin(), s.patterns.end());
    state.subscriptions[2].assign(s.shardChannels.begin(), s.shardChannels.end());
    if (!send(client->fd(), state)) continue;
    log_.verbose("Handed client %s over to the new generation", client->peer().c_str());
    client->detach();  // the descriptor was duplicated into the message
  }
}

void Connections::adoptClient(UniqueFd fd, const ipc::ClientState& state) {
  // It keeps its id (ids are unique across generations): a client that
  // redirects its tracking to it still finds it.
  Client& client = add(std::move(fd), state.id);
  log_.verbose("Took over client %s from a retiring worker", client.peer().c_str());
  client.reply().setProtocol(state.protocol == 3 ? resp::Protocol::Resp3 : resp::Protocol::Resp2);
  client.setAuthenticated(state.authenticated);
  client.setName(state.name);
  client.session().monitoring = state.monitoring;  // registered with the subscriptions
  client.session().db = state.db;
  runner_.resubscribe(client, state.subscriptions);
  runner_.resumeTracking(client, state.tracking);
  if (!state.resume.empty()) client.executeFirst(state.resume);
}

void Connections::closeIdleClients() {
  const auto limit = std::chrono::seconds(config_.idleTimeoutSeconds);
  std::vector<std::uint64_t> idle;
  for (const auto& [id, client] : clients_) {
    // Subscribers only listen: Redis never times them out.
    if (loop_.now() - client->lastActive() > limit && !client->session().subscribed() && !client->executing()) {
      idle.push_back(id);
    }
  }
  for (std::uint64_t id : idle) {
    log_.verbose("Closing idle client");
    clients_.at(id)->close();
  }
}

}  // namespace keyloop
