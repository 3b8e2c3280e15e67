#include "master/master.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>

#include "common/ipc/control.h"
#include "master/control.h"
#include "master/notify.h"
#include "master/process_title.h"
#include "common/ipc/worker_start.h"
#include "common/loop/clock.h"

namespace keyloop {

namespace {

constexpr auto kHealthyLifetime = std::chrono::seconds(10);
constexpr auto kMaxBackoff = std::chrono::seconds(5);

std::string describeExit(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + ::strsignal(WTERMSIG(status));
  return "stopped";
}

}  // namespace

Status makeDirectory(const std::string& path) {
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (error) return fail(path + ": " + error.message());
  return {};
}

std::string counted(std::size_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

UniqueFd Master::openReserve() { return UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC)); }

Master::Master(Config config, Log& log)
    : startConfig_(std::move(config)),
      log_(log),
      signals_(loop_),
      forceStop_(loop_),
      masterPid_(::getpid()),
      reserve_(openReserve()),
      stepDeadline_(loop_),
      statusTimer_(loop_),
      saveRules_(loop_) {}

Master::~Master() = default;

int Master::run() {
  // Blocked before any fork: workers inherit the mask and read these
  // signals from signalfds of their own.
  signals_.start({SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGCHLD}, [this](int signo) { onSignal(signo); });
  auto opened = Generation::open(startConfig_, nullptr);
  if (!opened) {
    log_.warning("%s", opened.error().c_str());
    return 1;
  }
  serving_ = std::move(*opened);
  for (std::size_t k = 0; k < serving_->listening().size(); ++k) {
    log_.notice("Ready to accept connections tcp on %s", serving_->listeners().front()[k].address.c_str());
  }
  for (int slot = 0; serving_->hasClusterSocket(slot); ++slot) {
    log_.notice("Worker %d serves as cluster node on %s", slot, serving_->listeners()[static_cast<std::size_t>(slot)].back().address.c_str());
  }
  auto metrics = metrics::SharedMetrics::create(serving_->workers());
  auto text = ipc::SharedText::create();
  for (const std::string* error : {metrics ? nullptr : &metrics.error(), text ? nullptr : &text.error()}) {
    if (error == nullptr) continue;
    log_.warning("shared memory: %s", error->c_str());
    return 1;
  }
  metrics_ = std::move(*metrics);
  configText_ = std::move(*text);
  if (Status made = makeDirectory(config().persistence.dir); !made) {
    log_.warning("persistence.dir: %s", made.error().c_str());
    return 1;
  }
  snapshots_ = std::make_unique<Snapshots>(loop_, log_, *metrics_);
  metrics_->snapshots().lastSaveUnix.store(unixMillis() / 1000);  // Redis's lastsave starts at the start
  if (Status prepared = prepareLog(config().persistence, serving_->workers()); !prepared) {
    log_.warning("persistence.aof: %s", prepared.error().c_str());
    return 1;
  }
  if (Status started = startMetrics(config()); !started) {
    log_.warning("metrics: %s", started.error().c_str());
    return 1;
  }
  if (!config().pidFile.empty()) {
    std::ofstream(config().pidFile, std::ios::trunc) << masterPid_ << "\n";
  }
  setProcessTitle("keyloop: master process -c " + config().path);
  for (int slot = 0; slot < serving_->workers(); ++slot) spawn(slot);
  log_.notice("keyloop %s started: master pid %d, %s, config %s", KEYLOOP_VERSION, static_cast<int>(masterPid_),
              counted(static_cast<std::size_t>(serving_->workers()), "worker").c_str(), config().path.c_str());
  saveRules_.unref();
  saveRules_.start(std::chrono::seconds(1), std::chrono::seconds(1), [this] { checkSaveRules(); });
  statusTimer_.unref();
  statusTimer_.start(std::chrono::seconds(5), std::chrono::seconds(5),
                     [this] { notifySystemd("STATUS=" + statusLine()); });
  loop_.run();
  if (!config().pidFile.empty()) {
    std::remove(config().pidFile.c_str());
    std::remove(reloadStatusPath(config().pidFile).c_str());
  }
  log_.notice("keyloop is now ready to exit, bye bye...");
  return exitCode_;
}

Status Master::startMetrics(const Config& config) {
  if (!config.metricsEnabled) {
    metricsHttp_.reset();
    return {};
  }
  auto opened = openListener(config.metricsListen, /*reusePort=*/false);
  if (!opened) return fail(opened.error());
  auto& listener = *opened;
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
  view.configGeneration = configGeneration_;
  view.reloadsOk = reloadsOk_;
  view.reloadsFailed = reloadsFailed_;
  view.lastReloadSeconds = lastReloadSeconds_;
  view.lastPauseSeconds = lastPauseSeconds_;
  view.migratedKeys = migratedKeys_;
  for (ReloadStep step : {ReloadStep::Idle, ReloadStep::ApplyingSettings, ReloadStep::FinishingPrevious,
                          ReloadStep::HandingOver}) {
    view.reloadSteps.emplace_back(nameOf(step), step == step_);
  }
  view.slots = std::max(serving_->workers(), retiring_ ? retiring_->workers() : 0);
  for (const WorkerSlot& s : serving_->slots()) {
    view.workerPids.push_back(s.pid);
    view.workerRestarts.push_back(s.restarts);
  }
  if (retiring_) {
    view.retiringPids.assign(static_cast<std::size_t>(retiring_->workers()), -1);
    for (int slot = 0; slot < retiring_->workers(); ++slot) {
      const pid_t pid = retiring_->slot(slot).pid;
      if (pid <= 0) continue;
      view.retiringPids[static_cast<std::size_t>(slot)] = pid;
      view.drainingConnections += metrics_->at(metricsIndex(*retiring_, slot)).connections.load(std::memory_order_relaxed);
    }
  }
  const auto& listeners = serving_->listeners();
  for (std::size_t slot = 0; slot < listeners.size(); ++slot) {
    for (const OpenedListener& l : listeners[slot]) view.listeners.push_back({l.fd.get(), l.address, static_cast<int>(slot)});
  }
  return view;
}

void Master::checkReady() {
  // Ready once every slot's current worker said it serves.
  for (const WorkerSlot& s : serving_->slots()) {
    if (s.pid <= 0 || !s.serving) return;
  }
  if (std::exchange(ready_, true)) return;
  notifySystemd("READY=1\nSTATUS=" + statusLine());
}

std::string Master::statusLine() const {
  std::string line = "generation " + std::to_string(configGeneration_) + ", " +
                     counted(static_cast<std::size_t>(serving_->workers()), "worker") + ", " +
                     counted(static_cast<std::size_t>(metrics_->totalConnections()), "client");
  if (retiring_) {
    const auto alive = std::count_if(retiring_->slots().begin(), retiring_->slots().end(),
                                     [](const WorkerSlot& s) { return s.pid > 0; });
    line += ", " + counted(static_cast<std::size_t>(alive), "retiring worker");
  }
  if (step_ != ReloadStep::Idle) line += std::string(", reload: ") + nameOf(step_);
  return line;
}

Status Master::forkWorker(Generation& generation, int slot, int handOvers) {
  WorkerSlot& s = generation.slot(slot);
  if (!s.workerEnd) {  // a restart: the old control socket went with the dead worker
    if (Status renewed = generation.renewControl(slot); !renewed) return renewed;
  }
  const pid_t pid = ::fork();
  if (pid < 0) return fail(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) becomeWorker(generation, slot, handOvers);
  s.workerEnd.reset();
  s.pid = pid;
  s.startedAt = loop_.now();
  s.serving = false;
  watchControl(generation, slot);
  log_.verbose("Started worker %d, pid %d", slot, static_cast<int>(pid));
  return {};
}

void Master::spawn(int slot) {
  const Status forked = forkWorker(*serving_, slot, /*handOvers=*/0);
  if (forked) return;
  WorkerSlot& s = serving_->slot(slot);
  ++s.quickDeaths;  // a start that fails backs off like one that dies at once
  log_.warning("Could not start worker %d: %s; retrying with backoff", slot, forked.error().c_str());
  scheduleRestart(slot);
}

void Master::watchControl(Generation& generation, int slot) {
  WorkerSlot& s = generation.slot(slot);
  s.messages = std::make_unique<IoWatcher>(loop_, s.control.get());
  s.messages->unref();  // the master's loop lives as long as workers do, not sockets
  s.messages->start(kReadable, [this, &generation, slot](std::uint32_t) { readControl(generation, slot); });
}

void Master::readControl(Generation& generation, int slot) {
  WorkerSlot& s = generation.slot(slot);
  bool closed = false;
  while (auto m = ipc::receiveControl(s.control.get(), closed)) {
    auto message = ipc::decodeControl(m->bytes);
    if (!message) {
      log_.warning("Worker %d sent a malformed control message; ignored", slot);
      continue;
    }
    onMessage(generation, slot, *message, m->fds);
    if (closed) break;
  }
  if (closed && s.messages) s.messages->stop();
}

void Master::onMessage(Generation& generation, int slot, ipc::ControlMessage& message, std::vector<UniqueFd>& fds) {
  if (&generation == serving_.get() && onSnapshotMessage(slot, message)) return;
  WorkerSlot& s = generation.slot(slot);
  if (std::holds_alternative<ipc::Serving>(message)) {
    s.serving = true;
    if (&generation == serving_.get()) checkReady();
    checkHandOver();
  } else if (auto* applied = std::get_if<ipc::ConfigApplied>(&message)) {
    s.configVersion = applied->version;
    checkSettingsApplied();
  } else if (auto* done = std::get_if<ipc::HandedOver>(&message)) {
    s.handedOver = true;
    migratedKeys_ += done->keys;
    lastPauseSeconds_ = std::max(lastPauseSeconds_, std::chrono::duration<double>(Duration(done->heldNanos)).count());
    checkHandOver();
  } else if (auto* pass = std::get_if<ipc::PassClient>(&message); pass != nullptr && fds.size() == 1) {
    const std::string adopt = ipc::encode(ipc::AdoptClient{pass->state});
    const int fd[] = {fds[0].get()};
    bool passed = false;
    for (int tries = 0; tries < serving_->workers() && !passed; ++tries) {
      const WorkerSlot& next = serving_->slot(static_cast<int>(nextAdopter_++ % serving_->slots().size()));
      passed = next.pid > 0 && ipc::sendControl(next.control.get(), adopt, fd);
    }
    if (!passed) log_.warning("No worker could take over a client connection; it is closed");
  }
}

void Master::becomeWorker(Generation& generation, int slot, int handOvers) {
  // Never return into the master's stack, never touch its loop: the epoll
  // instance is shared with the parent until we close our descriptor.
  // SIGKILL, the one signal a worker can neither block nor handle: a worker
  // deep in a script, a snapshot or a big DEL never outlives its master.
  // Nothing is lost by it: a write is in the log's file before its reply
  // goes out, and the master does every final save.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != masterPid_) ::_exit(0);  // the master died meanwhile
  ::close(loop_.epollFd());
  metricsHttp_.reset();  // the master's (the epoll it was registered with is closed above)
  ::close(reserve_.release());
  log_.setRole('W');
  setProcessTitle("keyloop: worker process " + std::to_string(slot));
  if (generation.config().pinWorkers) {
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    CPU_SET(static_cast<unsigned>(slot) % static_cast<unsigned>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN))), &cpus);
    ::sched_setaffinity(0, sizeof cpus, &cpus);
  }
  // Not ours: every other worker's sockets and control ends, in every
  // generation the master holds (other slots' queues are not ours to drain).
  for (Generation* g : {serving_.get(), retiring_.get(), &generation}) {
    if (g == nullptr) continue;
    for (int other = 0; other < g->workers(); ++other) {
      const bool ours = g == &generation && other == slot;
      WorkerSlot& s = g->slot(other);
      ::close(s.control.release());
      if (!ours) ::close(s.workerEnd.release());
      if (ours) continue;
      for (OpenedListener& l : g->listeners()[static_cast<std::size_t>(other)]) ::close(l.fd.release());
    }
  }
  WorkerSetup setup;
  setup.slot = slot;
  setup.metrics = metrics_.get();
  setup.metricsIndex = metricsIndex(generation, slot);
  setup.configText = configText_.get();
  setup.control = generation.slot(slot).workerEnd.release();
  const auto& mine = generation.listeners()[static_cast<std::size_t>(slot)];
  for (std::size_t k = 0; k < mine.size(); ++k) {
    setup.listenFds.push_back(mine[k].fd.get());
    if (k < generation.listening().size()) setup.port = mine[k].port;  // INFO's tcp_port: not the cluster port
  }
  for (int peer = 0; peer < generation.workers(); ++peer) {
    setup.links.push_back({generation.channel(slot, peer), generation.channel(peer, slot)});
  }
  // From the retiring generation (if one is still around): it forwards to us.
  for (int old = 0; old < generation.guests(); ++old) {
    setup.guests.push_back({generation.guestChannel(old, slot, /*toNew=*/false),
                            generation.guestChannel(old, slot, /*toNew=*/true)});
  }
  setup.handOvers = handOvers;
  setup.setTitle = [](const std::string& title) { setProcessTitle(title); };
  int code = 1;
  try {
    code = runWorker(generation.config(), setup, log_);
  } catch (const std::exception& e) {
    // A worker that cannot get its resources (an epoll, an eventfd) says
    // why and exits; the master restarts it with backoff.
    log_.warning("Worker %d cannot run: %s", slot, e.what());
  }
  ::_exit(code);
}

void Master::onSignal(int signo) {
  switch (signo) {
    case SIGCHLD:
      reapChildren();
      break;
    case SIGHUP:
      if (step_ != ReloadStep::Idle) reloadAgain_ = true;
      else if (!stopping_) reload();
      break;
    case SIGQUIT:
      log_.notice("Received SIGQUIT, draining workers");
      notifySystemd("STOPPING=1\nSTATUS=draining");
      stopping_ = true;
      drained_.assign(static_cast<std::size_t>(serving_->workers()), false);  // with save rules: then the final save
      signalWorkers(SIGQUIT);
      forceStop_.start(std::chrono::milliseconds(config().drainTimeoutMs) + std::chrono::seconds(5),
                       [this] { signalWorkers(SIGKILL); });
      break;
    default:
      log_.notice("Received %s, shutting down", signo == SIGINT ? "SIGINT" : "SIGTERM");
      stopping_ = true;
      stopAfterSaving(saveOnExit(), /*force=*/false, [](const Status&) {});
      break;
  }
  if (stopping_ && !anyWorkerAlive()) {
    forceStop_.stop();
    signals_.stop();
    statusTimer_.stop();
    stepDeadline_.stop();
  }
}

void Master::reapChildren() {
  int status = 0;
  pid_t pid;
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
    for (int slot = 0; retiring_ && slot < retiring_->workers(); ++slot) {
      if (retiring_->slot(slot).pid != pid) continue;
      log_.verbose("Retired worker %d (pid %d) %s", slot, static_cast<int>(pid), describeExit(status).c_str());
      readControl(*retiring_, slot);  // its last words may still be in the socket
      retiringWorkerGone(slot);
      break;
    }
    for (int slot = 0; slot < serving_->workers(); ++slot) {
      if (serving_->slot(slot).pid == pid) workerDied(slot, status);
    }
  }
}

void Master::workerDied(int slot, int status) {
  WorkerSlot& s = serving_->slot(slot);
  s.pid = -1;
  s.serving = false;
  s.messages.reset();
  s.control.reset();
  metrics_->at(metricsIndex(*serving_, slot)).connections.store(0);  // its clients died with it
  snapshots_->abandon("worker " + std::to_string(slot) + " " + describeExit(status));
  if (rewrite_) abandonRewrite("worker " + std::to_string(slot) + " " + describeExit(status));  // it waited for its hold
  if (WIFEXITED(status) && WEXITSTATUS(status) == kExitDataRefused && !stopping_) {
    log_.warning("Worker %d could not load its data (see above): keyloop stops rather than serve part of it", slot);
    exitCode_ = 1;
    return stopWorkers();
  }
  if (stopping_) {
    log_.verbose("Worker %d %s", slot, describeExit(status).c_str());
    return;
  }
  log_.warning("Worker %d %s; restarting it", slot, describeExit(status).c_str());
  s.quickDeaths = loop_.now() - s.startedAt < kHealthyLifetime ? s.quickDeaths + 1 : 0;
  ++s.restarts;
  serving_->discardInbox(slot);
  scheduleRestart(slot);
  checkSettingsApplied();  // a dead worker no longer holds a settings reload up
}

void Master::scheduleRestart(int slot) {
  WorkerSlot& s = serving_->slot(slot);
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

void Master::signalWorkers(int signo, bool retiringToo) {
  for (Generation* g : {serving_.get(), retiringToo ? retiring_.get() : nullptr}) {
    if (g == nullptr) continue;
    for (const WorkerSlot& s : g->slots()) {
      if (s.pid > 0) ::kill(s.pid, signo);
    }
  }
}

bool Master::anyWorkerAlive() const { return serving_->anyAlive() || (retiring_ && retiring_->anyAlive()); }

}  // namespace keyloop
