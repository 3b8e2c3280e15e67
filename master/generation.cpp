#include "master/generation.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/ipc/control.h"

namespace keyloop {

int workerCount(const Config& config) {
  if (config.workers > 0) return config.workers;
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  return cpus > 0 ? static_cast<int>(cpus) : 1;
}

bool sameListen(const ListenConfig& a, const ListenConfig& b) { return a.address == b.address && a.port == b.port; }

Generation::Generation(const Config& config, int bank)
    : config_(config), bank_(bank), slots_(static_cast<std::size_t>(workerCount(config))) {}

Generation::~Generation() {
  // Last slot first (see the header).
  while (!listeners_.empty()) listeners_.pop_back();
}

Generation::Opened Generation::open(const Config& config, const Generation* old) {
  std::unique_ptr<Generation> next(new Generation(config, old != nullptr ? 1 - old->bank_ : 0));
  if (Status step = next->openSockets(old); !step) return fail(step.error());
  if (Status step = next->openClusterSockets(old); !step) return fail(step.error());
  if (Status step = next->makeChannels(old != nullptr ? old->workers() : 0); !step) return fail(step.error());
  for (int slot = 0; slot < next->workers(); ++slot) {
    if (Status step = next->renewControl(slot); !step) return fail(step.error());
  }
  return next;
}

Status Generation::openSockets(const Generation* old) {
  // A listen entry the old generation has keeps its sockets (and their
  // queues); slots beyond the old count get new sockets in the same
  // SO_REUSEPORT group; new addresses get new groups.
  listeners_.resize(slots_.size());
  const std::size_t oldEntries = old != nullptr ? old->listening_.size() : 0;
  for (const ListenConfig& entry : config_.listen) {
    std::size_t kept = oldEntries;
    for (std::size_t k = 0; k < oldEntries; ++k) {
      if (sameListen(old->config_.listen[k], entry)) kept = k;
    }
    ListenConfig bound = entry;
    if (kept < oldEntries) {
      bound.port = old->listening_[kept].port;
    } else {
      auto port = claimPort(entry);
      if (!port) return fail(port.error());
      bound.port = *port;
    }
    listening_.push_back(bound);
    for (int slot = 0; slot < workers(); ++slot) {
      if (kept < oldEntries && slot < old->workers()) {
        const OpenedListener& reused = old->listeners_[static_cast<std::size_t>(slot)][kept];
        UniqueFd copy(::dup(reused.fd.get()));
        if (!copy) return fail(reused.address + ": dup: " + std::strerror(errno));
        ::listen(copy.get(), entry.backlog);  // a changed backlog applies to the open socket
        listeners_[static_cast<std::size_t>(slot)].push_back({std::move(copy), reused.port, reused.address});
        continue;
      }
      auto opened = openListener(bound, /*reusePort=*/true);
      if (!opened) return fail(opened.error());
      listeners_[static_cast<std::size_t>(slot)].push_back(std::move(*opened));
    }
  }
  return {};
}

ListenConfig Generation::clusterListen(int slot) const {
  const ListenConfig& first = config_.listen.front();
  return {first.address, static_cast<std::uint16_t>(config_.cluster.port + slot), first.backlog};
}

Status Generation::openClusterSockets(const Generation* old) {
  if (!config_.cluster.enabled) return {};
  if (config_.cluster.port + workers() - 1 > 65535) {
    return fail("cluster.port " + std::to_string(config_.cluster.port) + " + " + std::to_string(workers() - 1) +
           " workers is past port 65535");
  }
  for (int slot = 0; slot < workers(); ++slot) {
    const ListenConfig entry = clusterListen(slot);
    for (const ListenConfig& l : listening_) {
      if (sameListen(l, entry)) return fail("cluster port " + std::to_string(entry.port) + " is also a listen port");
    }
    auto& mine = listeners_[static_cast<std::size_t>(slot)];
    // Worker N's port of the old generation stays open: its clients and
    // their queue carry over, as the shared ports' do.
    if (old != nullptr && old->hasClusterSocket(slot) && sameListen(old->clusterListen(slot), entry)) {
      const OpenedListener& reused = old->listeners_[static_cast<std::size_t>(slot)].back();
      UniqueFd copy(::dup(reused.fd.get()));
      if (!copy) return fail(reused.address + ": dup: " + std::strerror(errno));
      mine.push_back({std::move(copy), reused.port, reused.address});
      continue;
    }
    auto opened = openListener(entry, /*reusePort=*/true);
    if (!opened) return fail(opened.error());
    mine.push_back(std::move(*opened));
  }
  return {};
}

Status Generation::makeChannels(int guests) {
  const int n = workers();
  for (int from = 0; from < n; ++from) {
    for (int to = 0; to < n; ++to) {
      if (from == to) {
        channels_.push_back(nullptr);
        continue;
      }
      auto made = ipc::ChannelMemory::create();
      if (!made) return fail("channel between workers: " + made.error());
      channels_.push_back(std::move(*made));
    }
  }
  for (int i = 0; i < 2 * guests * n; ++i) {
    auto made = ipc::ChannelMemory::create();
    if (!made) return fail("channel to the retiring workers: " + made.error());
    guestChannels_.push_back(std::move(*made));
  }
  guests_ = guests;
  return {};
}

Status Generation::renewControl(int slot) {
  auto made = ipc::makeControlPair();
  if (!made) return fail("control socket: " + made.error());
  auto& [ours, theirs] = *made;
  WorkerSlot& s = slots_[static_cast<std::size_t>(slot)];
  s.messages.reset();  // watched the old descriptor
  s.control = std::move(ours);
  s.workerEnd = std::move(theirs);
  return {};
}

ipc::ChannelMemory* Generation::channel(int from, int to) const {
  return channels_[static_cast<std::size_t>(from * workers() + to)].get();
}

ipc::ChannelMemory* Generation::guestChannel(int old, int fresh, bool toNew) const {
  // First every old -> new channel, then every new -> old one.
  const int half = workers() * guests_;
  return guestChannels_[static_cast<std::size_t>((toNew ? 0 : half) + old * workers() + fresh)].get();
}

void Generation::dropGuests() {
  guestChannels_.clear();
  guests_ = 0;
}

void Generation::discardInbox(int slot) {
  for (int peer = 0; peer < workers(); ++peer) {
    if (peer != slot) channel(peer, slot)->discardUnread();
  }
  for (int old = 0; old < guests_; ++old) guestChannel(old, slot, /*toNew=*/true)->discardUnread();
}

bool Generation::anyAlive() const {
  return std::any_of(slots_.begin(), slots_.end(), [](const WorkerSlot& s) { return s.pid > 0; });
}

}  // namespace keyloop
