#include "worker/server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "worker/args.h"
#include "worker/command_table.h"

namespace keyloop {

namespace {

constexpr int kAcceptsPerWakeup = 64;  // then let other events in

std::string formatAddress(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(addr);
    ::inet_ntop(AF_INET, &a.sin_addr, host, sizeof host);
    port = ntohs(a.sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  const auto& a = reinterpret_cast<const sockaddr_in6&>(addr);
  ::inet_ntop(AF_INET6, &a.sin6_addr, host, sizeof host);
  port = ntohs(a.sin6_port);
  return std::string(host) + ":" + std::to_string(port);
}

std::string sockName(int fd, bool peer) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                : ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return rc == 0 ? formatAddress(addr) : "?:0";
}

}  // namespace

std::int64_t unixMillis() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

Server::Server(Loop& loop, Config config, Log& log)
    : loop_(loop),
      config_(std::move(config)),
      log_(log),
      expireTimer_(loop),
      idleTimer_(loop),
      lag_(loop),
      threadPool_(loop, static_cast<std::size_t>(config_.threadPool)),
      startedAt_(loop.now()) {}

Server::~Server() { shutdown(); }

std::string Server::listen() {
  for (const ListenConfig& l : config_.listen) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(l.port);
    if (int rc = ::getaddrinfo(l.address.c_str(), port.c_str(), &hints, &found); rc != 0) {
      return "invalid listen address " + l.address + ": " + ::gai_strerror(rc);
    }
    UniqueFd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (found->ai_family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    const bool ok = fd && ::bind(fd.get(), found->ai_addr, found->ai_addrlen) == 0 &&
                    ::listen(fd.get(), l.backlog) == 0;
    const int error = errno;
    ::freeaddrinfo(found);
    if (!ok) {
      return "could not listen on " + l.address + ":" + port + ": " + std::strerror(error);
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len);
    boundPorts_.push_back(static_cast<std::uint16_t>(
        ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in&>(bound).sin_port
                                         : reinterpret_cast<sockaddr_in6&>(bound).sin6_port)));
    log_.notice("Ready to accept connections tcp on %s", formatAddress(bound).c_str());
    listeners_.push_back({std::move(fd), nullptr});
  }
  for (Listener& l : listeners_) {
    l.io = std::make_unique<IoWatcher>(loop_, l.fd.get());
    l.io->start(kReadable, [this, &l](std::uint32_t) { acceptFrom(l); });
  }
  expireTimer_.unref();
  const auto period = std::chrono::milliseconds(1000 / std::max(1, config_.expireHz));
  expireTimer_.start(period, period, [this] { runExpireCycle(); });
  if (config_.idleTimeoutSeconds > 0) {
    idleTimer_.unref();
    idleTimer_.start(std::chrono::seconds(1), std::chrono::seconds(1), [this] { closeIdleClients(); });
  }
  lag_.start();
  return {};
}

void Server::shutdown() {
  for (Listener& l : listeners_) l.io.reset();
  listeners_.clear();
  clients_.clear();
  expireTimer_.stop();
  idleTimer_.stop();
  lag_.stop();
}

void Server::acceptFrom(Listener& listener) {
  for (int i = 0; i < kAcceptsPerWakeup; ++i) {
    UniqueFd fd(::accept4(listener.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        log_.warning("Accepting client connection: %s", std::strerror(errno));
      }
      return;
    }
    ++stats_.connectionsReceived;
    if (clients_.size() >= config_.maxClients) {
      static constexpr std::string_view kFull = "-ERR max number of clients reached\r\n";
      ssize_t ignored = ::send(fd.get(), kFull.data(), kFull.size(), MSG_NOSIGNAL);
      (void)ignored;
      ++stats_.connectionsRejected;
      continue;
    }
    int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const std::uint64_t id = nextClientId_++;
    std::string peer = sockName(fd.get(), true), local = sockName(fd.get(), false);
    auto client = std::make_unique<Client>(*this, std::move(fd), id, std::move(peer), std::move(local));
    client->start();
    clients_.emplace(id, std::move(client));
  }
}

void Server::removeClient(std::uint64_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  // Freed after the current callback: the client may be deep in its own stack.
  Client* client = it->second.release();
  clients_.erase(it);
  loop_.defer([client] { delete client; });
}

void Server::execute(Client& client, std::span<const std::string_view> args) {
  resp::Reply& reply = client.reply();
  const std::size_t replyStart = reply.buffer().size();
  const CommandSpec* spec = findCommand(args[0]);
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
    } else {
      client.setLastCommand(fullName);
      CommandContext ctx{*this, client, reply, store_, args, unixMillis()};
      spec->handler(ctx);
      ++stats_.commandsProcessed;
    }
  }
  if (reply.buffer().size() > replyStart && reply.buffer()[replyStart] == '-') ++stats_.commandErrors;
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
