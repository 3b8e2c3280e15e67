#include "master/master.h"

#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "common/ipc/wire.h"
#include "master/control.h"
#include "master/notify.h"
#include "master/process_title.h"
#include "worker/worker_process.h"

namespace keyloop {

namespace {

constexpr auto kHealthyLifetime = std::chrono::seconds(10);
constexpr auto kMaxBackoff = std::chrono::seconds(5);

int workerCount(const Config& config) {
  if (config.workers > 0) return config.workers;
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  return cpus > 0 ? static_cast<int>(cpus) : 1;
}

// "1 worker", "2 workers": status lines people read.
std::string counted(std::size_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

bool sameListen(const ListenConfig& a, const ListenConfig& b) { return a.address == b.address && a.port == b.port; }

// The settings a reload cannot apply at all (they need a restart), by
// name ("" if none changed).
std::string restartOnlyChanges(const Config& now, const Config& next) {
  std::string changed;
  auto check = [&](bool same, const char* name) {
    if (!same) changed += (changed.empty() ? "" : ", ") + std::string(name);
  };
  // `keyloop -s reload` finds the master through the new file's pidfile.
  check(now.pidFile == next.pidFile, "pidfile");
  return changed;
}

// Settings that running workers cannot take: a new generation gets them.
bool needsNewGeneration(const Config& now, const Config& next, int workersNow) {
  bool sameSockets = now.listen.size() == next.listen.size();
  for (std::size_t i = 0; sameSockets && i < now.listen.size(); ++i) {
    sameSockets = sameListen(now.listen[i], next.listen[i]) && now.listen[i].backlog == next.listen[i].backlog;
  }
  // Workers decide at start whether they observe lag for the metrics.
  return !sameSockets || workerCount(next) != workersNow || now.pinWorkers != next.pinWorkers ||
         now.threadPool != next.threadPool || now.logFile != next.logFile ||
         now.metricsEnabled != next.metricsEnabled;
}

std::string describeExit(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + ::strsignal(WTERMSIG(status));
  return "stopped";
}

}  // namespace

Master::Master(Config config, Log& log)
    : config_(std::move(config)),
      log_(log),
      signals_(loop_),
      forceStop_(loop_),
      masterPid_(::getpid()),
      workers_(workerCount(config_)),
      retireeWait_(loop_),
      readyCheck_(loop_),
      statusTimer_(loop_),
      reloadWait_(loop_) {}

Master::~Master() = default;

std::string Master::openSockets() {
  std::vector<ListenConfig> resolved;
  if (std::string error = openGenerationSockets(config_, workers_, listeners_, resolved); !error.empty()) return error;
  listening_ = std::move(resolved);
  for (const OpenedListener& l : listeners_.front()) log_.notice("Ready to accept connections tcp on %s", l.address.c_str());
  metrics_ = std::make_unique<metrics::SharedMetrics>(workers_);
  configText_ = std::make_unique<ipc::SharedText>();
  makeChannels();
  return {};
}

void Master::makeChannels() {
  channels_.clear();
  for (int from = 0; from < workers_; ++from) {
    for (int to = 0; to < workers_; ++to) {
      channels_.push_back(from == to ? nullptr : std::make_unique<ipc::ChannelMemory>());
    }
  }
}

ipc::ChannelMemory* Master::guestChannel(int old, int fresh, bool toNew) const {
  // First every old -> new channel, then every new -> old one.
  const int half = workers_ * retiringWorkers_;
  return guestChannels_[static_cast<std::size_t>((toNew ? 0 : half) + old * workers_ + fresh)].get();
}

std::string Master::openGenerationSockets(const Config& next, int workers,
                                          std::vector<std::vector<OpenedListener>>& sockets,
                                          std::vector<ListenConfig>& resolved) {
  // A listen entry the running generation has keeps its sockets (and their
  // queues); slots beyond the running count get new sockets in the same
  // SO_REUSEPORT group; new addresses get new groups.
  sockets.clear();
  sockets.resize(static_cast<std::size_t>(workers));
  for (const ListenConfig& entry : next.listen) {
    std::size_t kept = listening_.size();
    for (std::size_t k = 0; k < config_.listen.size() && k < listening_.size(); ++k) {
      if (sameListen(config_.listen[k], entry)) kept = k;
    }
    ListenConfig bound = entry;
    if (kept < listening_.size()) {
      bound.port = listening_[kept].port;
    } else {
      auto port = claimPort(entry);
      if (auto* error = std::get_if<std::string>(&port)) return *error;
      bound.port = std::get<std::uint16_t>(port);
    }
    resolved.push_back(bound);
    for (int slot = 0; slot < workers; ++slot) {
      if (kept < listening_.size() && slot < static_cast<int>(listeners_.size())) {
        OpenedListener& reused = listeners_[static_cast<std::size_t>(slot)][kept];
        ::listen(reused.fd.get(), entry.backlog);  // a changed backlog applies to the open socket
        sockets[static_cast<std::size_t>(slot)].push_back(
            {UniqueFd(::dup(reused.fd.get())), reused.port, reused.address});
        continue;
      }
      auto opened = openListener(bound, /*reusePort=*/true);
      if (auto* error = std::get_if<std::string>(&opened)) return *error;
      sockets[static_cast<std::size_t>(slot)].push_back(std::move(std::get<OpenedListener>(opened)));
    }
  }
  return {};
}

int Master::run() {
  // Blocked before any fork: workers inherit the mask and read these
  // signals from signalfds of their own.
  signals_.start({SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD}, [this](int signo) { onSignal(signo); });
  if (std::string error = openSockets(); !error.empty()) {
    log_.warning("%s", error.c_str());
    return 1;
  }
  if (std::string error = startMetrics(config_); !error.empty()) {
    log_.warning("metrics: %s", error.c_str());
    return 1;
  }
  if (!config_.pidFile.empty()) {
    std::ofstream(config_.pidFile, std::ios::trunc) << masterPid_ << "\n";
  }
  setProcessTitle("keyloop: master process -c " + config_.path);
  slots_.resize(static_cast<std::size_t>(workers_));
  for (int slot = 0; slot < workers_; ++slot) spawn(slot);
  log_.notice("keyloop %s started: master pid %d, %s, config %s", KEYLOOP_VERSION, static_cast<int>(masterPid_),
              counted(static_cast<std::size_t>(workers_), "worker").c_str(), config_.path.c_str());
  readyCheck_.start(std::chrono::milliseconds(5), std::chrono::milliseconds(10), [this] { checkReady(); });
  statusTimer_.unref();
  statusTimer_.start(std::chrono::seconds(5), std::chrono::seconds(5),
                     [this] { notifySystemd("STATUS=" + statusLine()); });
  loop_.run();
  if (!config_.pidFile.empty()) {
    std::remove(config_.pidFile.c_str());
    std::remove(reloadStatusPath(config_.pidFile).c_str());
  }
  log_.notice("keyloop is now ready to exit, bye bye...");
  return 0;
}

std::string Master::startMetrics(const Config& config) {
  if (!config.metricsEnabled) {
    metricsHttp_.reset();
    return {};
  }
  auto opened = openListener(config.metricsListen, /*reusePort=*/false);
  if (auto* error = std::get_if<std::string>(&opened)) return *error;
  auto& listener = std::get<OpenedListener>(opened);
  log_.notice("Metrics on http://%s/metrics", listener.address.c_str());
  metricsHttp_ = std::make_unique<MetricsHttp>(
      loop_, std::move(listener.fd), [this] { return renderMetrics(metricsView()); },
      [this] { return anyWorkerAlive() ? std::string("ok\n") : std::string("no worker running\n"); });
  return {};
}

MasterView Master::metricsView() const {
  MasterView view;
  view.workers = metrics_.get();
  view.masterPid = masterPid_;
  view.configGeneration = generation_;
  view.reloadsOk = reloadsOk_;
  view.reloadsFailed = reloadsFailed_;
  view.lastReloadSeconds = lastReloadSeconds_;
  view.lastPauseSeconds = lastPauseSeconds_;
  view.migratedKeys = migratedKeys_;
  view.slots = std::max(workers_, retiringWorkers_ * !retirees_.empty());
  for (const Slot& s : slots_) {
    view.workerPids.push_back(s.pid);
    view.workerRestarts.push_back(s.restarts);
  }
  const int retiringBank = 1 - bank_;
  for (const Retiree& r : retirees_) {
    if (static_cast<int>(view.retiringPids.size()) <= r.slot) view.retiringPids.resize(static_cast<std::size_t>(r.slot) + 1, -1);
    view.retiringPids[static_cast<std::size_t>(r.slot)] = r.pid;
    view.drainingConnections += metrics_->at(retiringBank, r.slot).connections.load(std::memory_order_relaxed);
  }
  for (std::size_t slot = 0; slot < listeners_.size(); ++slot) {
    for (const OpenedListener& l : listeners_[slot]) {
      view.listeners.push_back({l.fd.get(), l.address, static_cast<int>(slot)});
    }
  }
  return view;
}

void Master::checkReady() {
  // Ready once every slot's current worker has started serving (it writes
  // its pid into its metrics block when it does).
  for (std::size_t slot = 0; slot < slots_.size(); ++slot) {
    const pid_t pid = slots_[slot].pid;
    if (pid <= 0 || metrics_->at(metricsIndex(static_cast<int>(slot))).pid.load(std::memory_order_relaxed) != pid) {
      return;
    }
  }
  readyCheck_.stop();
  if (ready_) return;
  ready_ = true;
  notifySystemd("READY=1\nSTATUS=" + statusLine());
}

std::string Master::statusLine() const {
  std::string line = "generation " + std::to_string(generation_) + ", " +
                     counted(static_cast<std::size_t>(workers_), "worker") + ", " +
                     counted(static_cast<std::size_t>(metrics_->totalConnections()), "client");
  if (!retirees_.empty()) line += ", " + counted(retirees_.size(), "retiring worker");
  return line;
}

void Master::reload() {
  notifySystemd("RELOADING=1\nSTATUS=reloading " + config_.path);
  log_.notice("Received SIGHUP, reloading %s", config_.path.c_str());
  reloading_ = true;
  std::string text;  // handed to the workers exactly as validated here
  ConfigResult loaded = loadConfig(config_.path, &text);
  if (auto* error = std::get_if<ConfigError>(&loaded)) return answerReload(false, error->message);
  Config next = std::get<Config>(std::move(loaded));
  next.path = config_.path;
  if (std::string cold = restartOnlyChanges(config_, next); !cold.empty()) {
    return answerReload(false, config_.path + ": " + cold + " cannot change on reload; restart keyloop to apply it");
  }
  if (text.size() > configText_->capacity()) {
    return answerReload(false, config_.path + ": too large to hand to the workers");
  }
  // The metrics listener is the master's own: a new address is opened
  // before the old one closes, and a failure changes nothing.
  if (next.metricsEnabled != config_.metricsEnabled || !sameListen(next.metricsListen, config_.metricsListen)) {
    if (std::string error = startMetrics(next); !error.empty()) {
      return answerReload(false, config_.path + ": metrics: " + error);
    }
  }
  if (needsNewGeneration(config_, next, workers_)) return startGeneration(std::move(next), std::move(text));
  configText_->publish(text);
  config_ = std::move(next);
  log_.configure(config_.logLevel, config_.logFile);
  signalWorkers(SIGHUP, /*retireesToo=*/false);  // they read the text published above
  ++generation_;
  awaitWorkers(configText_->version(), "generation " + std::to_string(generation_) + " serving " + config_.path);
}

void Master::startGeneration(Config next, std::string text) {
  if (!retirees_.empty()) {
    // One retiring generation at a time: the older one's clients end at
    // their next request boundary (Client::finish), then we go on.
    log_.notice("Ending the drain of %zu workers of the previous generation first", retirees_.size());
    for (const Retiree& r : retirees_) ipc::sendControl(r.control.get(), "F");
    retireeWait_.start(std::chrono::milliseconds(5), std::chrono::milliseconds(5),
                       [this, next = std::move(next), text = std::move(text)]() mutable {
                         if (!retirees_.empty()) return;
                         retireeWait_.stop();
                         startGeneration(std::move(next), std::move(text));
                       });
    return;
  }
  const TimePoint started = loop_.now();
  lastPauseSeconds_ = 0;
  const int oldWorkers = workers_, newWorkers = workerCount(next);
  std::vector<std::vector<OpenedListener>> sockets;
  std::vector<ListenConfig> resolved;
  if (std::string error = openGenerationSockets(next, newWorkers, sockets, resolved); !error.empty()) {
    return answerReload(false, error);  // nothing changed: what was opened closes with `sockets`
  }
  configText_->publish(text);

  // Sockets of the running generation that the new one does not use: they
  // are drained by their retiring worker, then closed. Steer new
  // connections away from them first.
  std::vector<std::vector<int>> keepAccepting(static_cast<std::size_t>(oldWorkers));
  for (std::size_t k = 0; k < listening_.size(); ++k) {
    std::size_t kept = next.listen.size();  // its place in the new listen list
    for (std::size_t j = 0; j < next.listen.size(); ++j) {
      if (sameListen(config_.listen[k], next.listen[j])) kept = j;
    }
    for (int slot = 0; slot < oldWorkers; ++slot) {
      if (kept < next.listen.size() && slot < newWorkers) continue;
      OpenedListener& l = listeners_[static_cast<std::size_t>(slot)][k];
      keepAccepting[static_cast<std::size_t>(slot)].push_back(l.fd.get());
      retiringListeners_.emplace_back(slot, std::move(l));
    }
    if (kept < next.listen.size() && newWorkers != oldWorkers) {
      // Growing: new connections stay on the old slots (their workers still
      // accept while they copy) until the hand-over is done.
      const int fd = sockets.front()[kept].fd.get();
      if (newWorkers > oldWorkers) steerWhenHandedOver_.push_back(fd);
      if (std::string error = steerToFirst(fd, std::min(newWorkers, oldWorkers)); !error.empty()) {
        log_.warning("%s (connections may queue on retiring sockets until they close)", error.c_str());
      }
    }
  }
  // The reused sockets were dup'ed into `sockets`; the old descriptors close here.
  listeners_ = std::move(sockets);
  listening_ = std::move(resolved);

  // The running generation retires; its channels are its own business now.
  metrics_->grow(newWorkers);
  for (std::size_t slot = 0; slot < slots_.size(); ++slot) {
    Slot& s = slots_[slot];
    if (s.restart) s.restart->stop();
    retirees_.push_back({s.pid, static_cast<int>(slot), std::move(s.control), s.pid <= 0, nullptr});
  }
  retiringWorkers_ = oldWorkers;
  workers_ = newWorkers;
  makeChannels();
  guestChannels_.clear();
  for (int i = 0; i < 2 * oldWorkers * newWorkers; ++i) guestChannels_.push_back(std::make_unique<ipc::ChannelMemory>());

  config_ = std::move(next);
  log_.configure(config_.logLevel, config_.logFile);
  bank_ = 1 - bank_;
  ++generation_;
  slots_.clear();
  slots_.resize(static_cast<std::size_t>(newWorkers));
  for (int slot = 0; slot < newWorkers; ++slot) spawn(slot, oldWorkers);

  // Link each retiring worker to every new one, then let it hand over.
  for (Retiree& r : retirees_) {
    if (r.pid <= 0) continue;
    r.messages = std::make_unique<IoWatcher>(loop_, r.control.get());
    r.messages->unref();
    r.messages->start(kReadable, [this, pid = r.pid](std::uint32_t) {
      for (Retiree& retiree : retirees_) {
        if (retiree.pid == pid) readRetiree(retiree);
      }
    });
    for (int fresh = 0; fresh < newWorkers; ++fresh) {
      std::string link = "L";
      ipc::put(link, static_cast<std::int32_t>(fresh));
      const auto out = guestChannel(r.slot, fresh, true)->descriptors();
      const auto in = guestChannel(r.slot, fresh, false)->descriptors();
      const int fds[] = {out[0], out[1], out[2], in[0], in[1], in[2]};
      ipc::sendControl(r.control.get(), link, fds);
    }
    std::string go = "G";
    ipc::put(go, static_cast<std::int32_t>(newWorkers));
    for (int fd : keepAccepting[static_cast<std::size_t>(r.slot)]) ipc::put(go, static_cast<std::int32_t>(fd));
    ipc::sendControl(r.control.get(), go);
  }
  for (const Retiree& r : retirees_) {
    if (r.pid <= 0) retireeGone(static_cast<std::size_t>(&r - retirees_.data()));
  }
  log_.notice("Generation %llu: %d workers replace %d; handing the keys over",
              static_cast<unsigned long long>(generation_), newWorkers, oldWorkers);
  ready_ = false;
  readyCheck_.start(std::chrono::milliseconds(5), std::chrono::milliseconds(10), [this] { checkReady(); });
  awaitHandOver(started);
}

void Master::awaitHandOver(TimePoint started) {
  const TimePoint deadline = started + std::chrono::seconds(60);
  reloadWait_.start(std::chrono::milliseconds(1), std::chrono::milliseconds(5), [this, started, deadline] {
    bool done = ready_;
    for (const Retiree& r : retirees_) done = done && r.handedOver;
    if (!done && loop_.now() < deadline) return;
    reloadWait_.stop();
    for (int fd : std::exchange(steerWhenHandedOver_, {})) {
      if (std::string error = steerToFirst(fd, workers_); !error.empty()) log_.warning("%s", error.c_str());
    }
    lastReloadSeconds_ = std::chrono::duration<double>(loop_.now() - started).count();
    char took[96];
    std::snprintf(took, sizeof took, "%.3f s (clients held %.1f ms)", lastReloadSeconds_, lastPauseSeconds_ * 1e3);
    answerReload(true, "generation " + std::to_string(generation_) + ": " +
                           counted(static_cast<std::size_t>(workers_), "worker") + " serving " + config_.path +
                           ", keys handed over in " + took +
                           (done ? "" : " (not finished within 60 s)"));
  });
}

void Master::readRetiree(Retiree& r) {
  bool closed = false;
  while (auto m = ipc::receiveControl(r.control.get(), closed)) {
    auto [type, payload] = ipc::typeAndPayload(m->bytes);
    std::uint64_t keys = 0;
    std::int64_t took = 0, held = 0;
    if (type == 'D' && ipc::take(payload, keys) && ipc::take(payload, took) && ipc::take(payload, held)) {
      r.handedOver = true;
      migratedKeys_ += keys;
      lastPauseSeconds_ = std::max(lastPauseSeconds_, std::chrono::duration<double>(Duration(held)).count());
    } else if (type == 'C' && m->fds.size() == 1) {
      const std::string adopt = "A" + std::string(payload);
      const int fds[] = {m->fds[0].get()};
      bool passed = false;
      for (std::size_t tries = 0; tries < slots_.size() && !passed; ++tries) {
        const Slot& s = slots_[nextAdopter_++ % slots_.size()];
        passed = s.pid > 0 && ipc::sendControl(s.control.get(), adopt, fds);
      }
      if (!passed) log_.warning("No worker could take over a client connection; it is closed");
    }
  }
  if (closed && r.messages) r.messages->stop();
}

void Master::retireeGone(std::size_t index) {
  Retiree& r = retirees_[index];
  metrics::WorkerMetrics& m = metrics_->at(metrics::SharedMetrics::indexOf(1 - bank_, r.slot));
  m.connections.store(0);  // gauges of a process that is gone
  m.keys.store(0);
  m.memoryUsedBytes.store(0);
  if (!r.handedOver) {
    // Whoever waits for its hand-over or its quiet signal waits no more.
    log_.warning("Retiring worker %d died before handing its keys over; they are lost", r.slot);
    std::string gone = "X";
    ipc::put(gone, static_cast<std::int32_t>(r.slot));
    for (const Slot& s : slots_) ipc::sendControl(s.control.get(), gone);
    for (const Retiree& other : retirees_) ipc::sendControl(other.control.get(), gone);
    r.handedOver = true;
  }
  r.pid = -1;
  if (r.messages) r.messages->stop();
  bool all = true;
  for (const Retiree& other : retirees_) all = all && other.pid <= 0;
  if (!all || reloadWait_.active()) return;
  retirees_.clear();
  guestChannels_.clear();
  // Last slot first: a REUSEPORT group fills a closed socket's place with
  // its last one, so this keeps the remaining sockets' order (= slots).
  std::sort(retiringListeners_.begin(), retiringListeners_.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  retiringListeners_.clear();
}

void Master::awaitWorkers(std::uint64_t version, std::string answer) {
  reloading_ = true;
  const TimePoint deadline = loop_.now() + std::chrono::seconds(5);
  reloadWait_.start(Duration::zero(), std::chrono::milliseconds(5), [this, version, deadline, answer] {
    bool all = true;
    for (std::size_t slot = 0; slot < slots_.size(); ++slot) {
      // A worker forked after the publish has the new settings already.
      all = all && (slots_[slot].pid <= 0 ||
                    metrics_->at(metricsIndex(static_cast<int>(slot))).configVersion.load() >= version);
    }
    if (!all && loop_.now() < deadline) return;
    reloadWait_.stop();
    answerReload(true, all ? answer : answer + " (not every worker confirmed it within 5 s)");
  });
}

void Master::answerReload(bool ok, const std::string& text) {
  ++(ok ? reloadsOk_ : reloadsFailed_);
  if (ok) log_.notice("Reload done: %s", text.c_str());
  else log_.warning("Reload failed, still serving the previous configuration: %s", text.c_str());
  writeReloadStatus(config_.pidFile, {reloadsOk_ + reloadsFailed_, ok, text});
  notifySystemd("READY=1\nSTATUS=" + statusLine());
  reloading_ = false;
  // Retirees that left while we waited: their sockets can close now.
  for (std::size_t i = 0; i < retirees_.size(); ++i) {
    if (retirees_[i].pid <= 0) {
      retireeGone(i);
      break;
    }
  }
  if (std::exchange(reloadAgain_, false) && !stopping_) reload();
}

void Master::spawn(int slot, int handOvers) {
  auto [ours, theirs] = ipc::makeControlPair();
  const pid_t pid = ::fork();
  if (pid < 0) {
    log_.warning("fork failed for worker %d: %s", slot, std::strerror(errno));
    scheduleRestart(slot);
    return;
  }
  if (pid == 0) becomeWorker(slot, handOvers, std::move(theirs));
  Slot& s = slots_[static_cast<std::size_t>(slot)];
  s.pid = pid;
  s.startedAt = loop_.now();
  s.control = std::move(ours);
  log_.verbose("Started worker %d, pid %d", slot, static_cast<int>(pid));
}

void Master::becomeWorker(int slot, int handOvers, UniqueFd control) {
  // Never return into the master's stack, never touch its loop: the epoll
  // instance is shared with the parent until we close our descriptor.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != masterPid_) ::_exit(0);  // the master died meanwhile
  ::close(loop_.epollFd());
  metricsHttp_.reset();  // the master's (the epoll it was registered with is closed above)
  log_.setRole('W');
  setProcessTitle("keyloop: worker process " + std::to_string(slot));
  if (config_.pinWorkers) {
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    CPU_SET(static_cast<unsigned>(slot) % static_cast<unsigned>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN))), &cpus);
    ::sched_setaffinity(0, sizeof cpus, &cpus);
  }
  // Not ours: other workers' sockets and control ends.
  for (Slot& s : slots_) ::close(s.control.release());
  for (Retiree& r : retirees_) ::close(r.control.release());
  for (auto& [retiringSlot, l] : retiringListeners_) ::close(l.fd.release());
  WorkerSetup setup;
  setup.slot = slot;
  setup.metrics = metrics_.get();
  setup.metricsIndex = metricsIndex(slot);
  setup.configText = configText_.get();
  setup.control = control.release();
  for (int other = 0; other < workers_; ++other) {
    for (OpenedListener& l : listeners_[static_cast<std::size_t>(other)]) {
      if (other == slot) {
        setup.listenFds.push_back(l.fd.get());
        setup.port = l.port;
      } else {
        ::close(l.fd.release());  // other slots' queues are not ours to drain
      }
    }
  }
  for (int peer = 0; peer < workers_; ++peer) {
    setup.links.push_back({channels_[static_cast<std::size_t>(slot * workers_ + peer)].get(),
                           channels_[static_cast<std::size_t>(peer * workers_ + slot)].get()});
  }
  // From the retiring generation (if one is still around): it forwards to us.
  if (!guestChannels_.empty()) {
    for (int old = 0; old < retiringWorkers_; ++old) {
      setup.guests.push_back({guestChannel(old, slot, /*toNew=*/false), guestChannel(old, slot, /*toNew=*/true)});
    }
  }
  setup.handOvers = handOvers;
  setup.setTitle = [](const std::string& title) { setProcessTitle(title); };
  ::_exit(runWorker(config_, setup, log_));
}

void Master::onSignal(int signo) {
  switch (signo) {
    case SIGCHLD:
      reapChildren();
      break;
    case SIGHUP:
      if (reloading_) reloadAgain_ = true;
      else if (!stopping_) reload();
      break;
    case SIGQUIT:
      log_.notice("Received SIGQUIT, draining workers");
      notifySystemd("STOPPING=1\nSTATUS=draining");
      stopping_ = true;
      signalWorkers(SIGQUIT);
      forceStop_.start(std::chrono::milliseconds(config_.drainTimeoutMs) + std::chrono::seconds(5),
                       [this] { signalWorkers(SIGKILL); });
      break;
    default:
      log_.notice("Received %s, shutting down", signo == SIGINT ? "SIGINT" : "SIGTERM");
      notifySystemd("STOPPING=1\nSTATUS=stopping");
      stopping_ = true;
      signalWorkers(SIGTERM);
      forceStop_.start(std::chrono::seconds(5), [this] { signalWorkers(SIGKILL); });
      break;
  }
  if (stopping_ && !anyWorkerAlive()) {
    forceStop_.stop();
    signals_.stop();
    readyCheck_.stop();
    statusTimer_.stop();
    reloadWait_.stop();
    retireeWait_.stop();
  }
}

void Master::reapChildren() {
  int status = 0;
  pid_t pid;
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
    for (std::size_t i = 0; i < retirees_.size(); ++i) {
      if (retirees_[i].pid != pid) continue;
      log_.verbose("Retired worker %d (pid %d) %s", retirees_[i].slot, static_cast<int>(pid), describeExit(status).c_str());
      readRetiree(retirees_[i]);  // its last words may still be in the socket
      retireeGone(i);
      break;
    }
    for (std::size_t slot = 0; slot < slots_.size(); ++slot) {
      Slot& s = slots_[slot];
      if (s.pid != pid) continue;
      s.pid = -1;
      metrics_->at(metricsIndex(static_cast<int>(slot))).connections.store(0);  // its clients died with it
      if (stopping_) {
        log_.verbose("Worker %zu (pid %d) %s", slot, static_cast<int>(pid), describeExit(status).c_str());
      } else {
        log_.warning("Worker %zu (pid %d) %s; restarting it", slot, static_cast<int>(pid),
                     describeExit(status).c_str());
        s.quickDeaths = loop_.now() - s.startedAt < kHealthyLifetime ? s.quickDeaths + 1 : 0;
        ++s.restarts;
        discardInbox(static_cast<int>(slot));
        scheduleRestart(static_cast<int>(slot));
      }
    }
  }
}

void Master::discardInbox(int slot) {
  for (int peer = 0; peer < workers_; ++peer) {
    if (peer != slot) channels_[static_cast<std::size_t>(peer * workers_ + slot)]->discardUnread();
  }
  if (guestChannels_.empty()) return;
  for (int old = 0; old < retiringWorkers_; ++old) guestChannel(old, slot, /*toNew=*/true)->discardUnread();
}

void Master::scheduleRestart(int slot) {
  Slot& s = slots_[static_cast<std::size_t>(slot)];
  // First death after a healthy run: at once. Dying again quickly: 100 ms,
  // 200 ms, ... up to 5 s, so a crash loop cannot eat the machine.
  Duration delay = Duration::zero();
  if (s.quickDeaths > 1) {
    delay = std::min<Duration>(std::chrono::milliseconds(100) * (1 << std::min(s.quickDeaths - 2, 6)), kMaxBackoff);
  }
  if (!s.restart) s.restart = std::make_unique<Timer>(loop_);
  s.restart->start(delay, [this, slot] {
    if (!stopping_) spawn(slot);  // a restart starts empty: nothing to wait for
  });
}

void Master::signalWorkers(int signo, bool retireesToo) {
  for (const Slot& s : slots_) {
    if (s.pid > 0) ::kill(s.pid, signo);
  }
  if (!retireesToo) return;
  for (const Retiree& r : retirees_) {
    if (r.pid > 0) ::kill(r.pid, signo);
  }
}

bool Master::anyWorkerAlive() const {
  for (const Slot& s : slots_) {
    if (s.pid > 0) return true;
  }
  for (const Retiree& r : retirees_) {
    if (r.pid > 0) return true;
  }
  return false;
}

}  // namespace keyloop
