#include "master/master.h"

#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <fstream>

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

// The settings a reload cannot hand to running workers, by name ("" if
// none changed).
std::string coldChanges(const Config& now, const Config& next) {
  std::string changed;
  auto check = [&](bool same, const char* name) {
    if (!same) changed += (changed.empty() ? "" : ", ") + std::string(name);
  };
  auto sameListen = [](const std::vector<ListenConfig>& a, const std::vector<ListenConfig>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (a[i].address != b[i].address || a[i].port != b[i].port || a[i].backlog != b[i].backlog) return false;
    }
    return true;
  };
  check(sameListen(now.listen, next.listen), "listen");
  check(now.workers == next.workers, "workers");
  check(now.pinWorkers == next.pinWorkers, "cpu_affinity");
  check(now.threadPool == next.threadPool, "thread_pool");
  check(now.metricsEnabled == next.metricsEnabled && now.metricsListen.address == next.metricsListen.address &&
            now.metricsListen.port == next.metricsListen.port, "metrics");
  check(now.pidFile == next.pidFile, "pidfile");
  check(now.logFile == next.logFile, "log.file");
  return changed;
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
      readyCheck_(loop_),
      statusTimer_(loop_),
      reloadWait_(loop_) {}

Master::~Master() = default;

std::string Master::openSockets() {
  listeners_.resize(static_cast<std::size_t>(workers_));
  for (ListenConfig entry : config_.listen) {
    auto port = claimPort(entry);
    if (auto* error = std::get_if<std::string>(&port)) return *error;
    entry.port = std::get<std::uint16_t>(port);
    for (int slot = 0; slot < workers_; ++slot) {
      auto opened = openListener(entry, /*reusePort=*/true);
      if (auto* error = std::get_if<std::string>(&opened)) return *error;
      auto& listener = std::get<OpenedListener>(opened);
      if (slot == 0) log_.notice("Ready to accept connections tcp on %s", listener.address.c_str());
      listeners_[static_cast<std::size_t>(slot)].push_back(std::move(listener));
    }
  }
  metrics_ = std::make_unique<metrics::SharedMetrics>(workers_);
  configText_ = std::make_unique<ipc::SharedText>();
  for (int from = 0; from < workers_; ++from) {
    for (int to = 0; to < workers_; ++to) {
      channels_.push_back(from == to ? nullptr : std::make_unique<ipc::ChannelMemory>());
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
  if (std::string error = startMetrics(); !error.empty()) {
    log_.warning("metrics: %s", error.c_str());
    return 1;
  }
  if (!config_.pidFile.empty()) {
    std::ofstream(config_.pidFile, std::ios::trunc) << masterPid_ << "\n";
  }
  setProcessTitle("keyloop: master process -c " + config_.path);
  slots_.resize(static_cast<std::size_t>(workers_));
  for (int slot = 0; slot < workers_; ++slot) spawn(slot);
  log_.notice("keyloop %s started: master pid %d, %d workers, config %s", KEYLOOP_VERSION,
              static_cast<int>(masterPid_), workers_, config_.path.c_str());
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

std::string Master::startMetrics() {
  if (!config_.metricsEnabled) return {};
  auto opened = openListener(config_.metricsListen, /*reusePort=*/false);
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
  for (const Slot& s : slots_) {
    view.workerPids.push_back(s.pid);
    view.workerRestarts.push_back(s.restarts);
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
    if (pid <= 0 || metrics_->at(static_cast<int>(slot)).pid.load(std::memory_order_relaxed) != pid) return;
  }
  readyCheck_.stop();
  if (ready_) return;
  ready_ = true;
  notifySystemd("READY=1\nSTATUS=" + statusLine());
}

std::string Master::statusLine() const {
  return "generation " + std::to_string(generation_) + ", " + std::to_string(workers_) + " workers, " +
         std::to_string(metrics_->totalConnections()) + " clients";
}

void Master::reload() {
  notifySystemd("RELOADING=1\nSTATUS=reloading " + config_.path);
  log_.notice("Received SIGHUP, reloading %s", config_.path.c_str());
  std::string text;  // handed to the workers exactly as validated here
  ConfigResult loaded = loadConfig(config_.path, &text);
  if (auto* error = std::get_if<ConfigError>(&loaded)) return answerReload(false, error->message);
  Config next = std::get<Config>(std::move(loaded));
  next.path = config_.path;
  if (std::string cold = coldChanges(config_, next); !cold.empty()) {
    return answerReload(false, config_.path + ": " + cold +
                                   " cannot change on reload yet (it needs new workers); restart keyloop to apply it");
  }
  if (!configText_->publish(text)) return answerReload(false, config_.path + ": too large to hand to the workers");
  config_ = std::move(next);
  log_.configure(config_.logLevel, config_.logFile);
  signalWorkers(SIGHUP);  // they read the text published above
  ++generation_;
  awaitWorkers(configText_->version(), "generation " + std::to_string(generation_) + " serving " + config_.path);
}

void Master::awaitWorkers(std::uint64_t version, std::string answer) {
  reloading_ = true;
  const TimePoint deadline = loop_.now() + std::chrono::seconds(5);
  reloadWait_.start(Duration::zero(), std::chrono::milliseconds(5), [this, version, deadline, answer] {
    bool all = true;
    for (std::size_t slot = 0; slot < slots_.size(); ++slot) {
      // A worker forked after the publish has the new settings already.
      all = all && (slots_[slot].pid <= 0 ||
                    metrics_->at(static_cast<int>(slot)).configVersion.load() >= version);
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
  if (std::exchange(reloadAgain_, false) && !stopping_) reload();
}

void Master::spawn(int slot) {
  const pid_t pid = ::fork();
  if (pid < 0) {
    log_.warning("fork failed for worker %d: %s", slot, std::strerror(errno));
    scheduleRestart(slot);
    return;
  }
  if (pid == 0) becomeWorker(slot);
  Slot& s = slots_[static_cast<std::size_t>(slot)];
  s.pid = pid;
  s.startedAt = loop_.now();
  log_.verbose("Started worker %d, pid %d", slot, static_cast<int>(pid));
}

void Master::becomeWorker(int slot) {
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
  WorkerSetup setup;
  setup.slot = slot;
  setup.metrics = metrics_.get();
  setup.configText = configText_.get();
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
  }
}

void Master::reapChildren() {
  int status = 0;
  pid_t pid;
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
    for (std::size_t slot = 0; slot < slots_.size(); ++slot) {
      Slot& s = slots_[slot];
      if (s.pid != pid) continue;
      s.pid = -1;
      metrics_->at(static_cast<int>(slot)).connections.store(0);  // its clients died with it
      if (stopping_) {
        log_.verbose("Worker %zu (pid %d) %s", slot, static_cast<int>(pid), describeExit(status).c_str());
      } else {
        log_.warning("Worker %zu (pid %d) %s; restarting it", slot, static_cast<int>(pid),
                     describeExit(status).c_str());
        s.quickDeaths = loop_.now() - s.startedAt < kHealthyLifetime ? s.quickDeaths + 1 : 0;
        ++s.restarts;
        scheduleRestart(static_cast<int>(slot));
      }
    }
  }
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
    if (!stopping_) spawn(slot);
  });
}

void Master::signalWorkers(int signo) {
  for (const Slot& s : slots_) {
    if (s.pid > 0) ::kill(s.pid, signo);
  }
}

bool Master::anyWorkerAlive() const {
  for (const Slot& s : slots_) {
    if (s.pid > 0) return true;
  }
  return false;
}

}  // namespace keyloop
