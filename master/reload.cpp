// The master's side of a reload (master.h): settings for the running
// workers, or a new generation that takes over the keys and connections.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <utility>

#include "common/ipc/control.h"
#include "master/control.h"
#include "master/master.h"
#include "master/notify.h"

namespace keyloop {

namespace {

constexpr auto kSettingsPatience = std::chrono::seconds(5);
constexpr auto kHandOverPatience = std::chrono::seconds(60);

// The settings a reload cannot apply at all (they need a restart), by
// name ("" if none changed).
std::string restartOnlyChanges(const Config& now, const Config& next) {
  std::string changed;
  auto check = [&](bool same, const char* name) {
    if (!same) changed += (changed.empty() ? "" : ", ") + std::string(name);
  };
  // `keyloop -s reload` finds the master through the new file's pidfile.
  check(now.pidFile == next.pidFile, "pidfile");
  // Every worker's stores are made at start, and clients hold their numbers.
  check(now.databases == next.databases, "databases");
  return changed;
}

// Settings that running workers cannot take: a new generation gets them.
bool needsNewGeneration(const Config& now, const Config& next) {
  bool sameSockets = now.listen.size() == next.listen.size();
  for (std::size_t i = 0; sameSockets && i < now.listen.size(); ++i) {
    sameSockets = sameListen(now.listen[i], next.listen[i]) && now.listen[i].backlog == next.listen[i].backlog;
  }
  // Workers decide at start whether they observe lag for the metrics.
  return !sameSockets || workerCount(next) != workerCount(now) || now.pinWorkers != next.pinWorkers ||
         now.threadPool != next.threadPool || now.logFile != next.logFile ||
         now.metricsEnabled != next.metricsEnabled || now.cluster != next.cluster;
}

}  // namespace

const char* Master::nameOf(ReloadStep step) {
  switch (step) {
    case ReloadStep::Idle: return "idle";
    case ReloadStep::ApplyingSettings: return "applying settings";
    case ReloadStep::FinishingPrevious: return "finishing the previous hand-over";
    case ReloadStep::HandingOver: return "handing over";
  }
  return "?";
}

void Master::enter(ReloadStep step) {
  if (step != ReloadStep::Idle) log_.verbose("Reload: %s", nameOf(step));
  step_ = step;
  if (step == ReloadStep::Idle && afterReload_) loop_.defer(std::exchange(afterReload_, nullptr));
}

void Master::reload() {
  notifySystemd("RELOADING=1\nSTATUS=reloading " + config().path);
  log_.notice("Received SIGHUP, reloading %s", config().path.c_str());
  std::string text;  // handed to the workers exactly as validated here
  ConfigResult loaded = withReserve([&] { return loadConfig(config().path, &text); });
  if (!loaded) return answerReload(false, loaded.error());
  Config next = std::move(loaded).value();
  next.path = config().path;
  if (std::string cold = restartOnlyChanges(config(), next); !cold.empty()) {
    return answerReload(false, config().path + ": " + cold + " cannot change on reload; restart keyloop to apply it");
  }
  if (text.size() > configText_->capacity()) {
    return answerReload(false, config().path + ": too large to hand to the workers");
  }
  // The metrics listener is the master's own: a new address is opened
  // before the old one closes, and a failure changes nothing.
  if (next.metricsEnabled != config().metricsEnabled || !sameListen(next.metricsListen, config().metricsListen)) {
    if (Status started = startMetrics(next); !started) {
      return answerReload(false, config().path + ": metrics: " + started.error());
    }
  }
  if (needsNewGeneration(config(), next)) return startGeneration(std::move(next), std::move(text));
  applySettings(std::move(next), text);
}

void Master::applyLogSettings() {
  // A log file that cannot be opened: the log stays where it was rather
  // than go nowhere.
  if (Status logging = log_.configure(config().logLevel, config().logFile); !logging) {
    log_.warning("log: %s; logging where it did", logging.error().c_str());
  }
}

void Master::applySettings(Config next, const std::string& text) {
  configText_->publish(text);
  serving_->updateSettings(std::move(next));
  applyLogSettings();
  signalWorkers(SIGHUP, /*retiringToo=*/false);  // they read the text published above
  ++configGeneration_;
  awaitedVersion_ = configText_->version();
  settingsAnswer_ = "generation " + std::to_string(configGeneration_) + " serving " + config().path;
  enter(ReloadStep::ApplyingSettings);
  stepDeadline_.start(kSettingsPatience, [this] {
    answerReload(true, settingsAnswer_ + " (not every worker confirmed it within 5 s)");
  });
  checkSettingsApplied();
}

void Master::checkSettingsApplied() {
  if (step_ != ReloadStep::ApplyingSettings) return;
  for (const WorkerSlot& s : serving_->slots()) {
    // A worker forked after the publish reports the new version at start.
    if (s.pid > 0 && s.configVersion < awaitedVersion_) return;
  }
  answerReload(true, settingsAnswer_);
}

void Master::startGeneration(Config next, std::string text) {
  // Its workers' keys are about to move: the save rules run it again after.
  snapshots_->abandon("a reload replaced the workers");
  if (retiring_) {
    // One retiring generation at a time: the older one's clients end at
    // their next request boundary (Client::finish); its last exit
    // (dropRetiringIfGone) starts this one.
    log_.notice("Ending the drain of the workers of the previous generation first");
    for (const WorkerSlot& s : retiring_->slots()) ipc::sendControl(s.control.get(), ipc::encode(ipc::FinishClients{}));
    pending_ = PendingGeneration{std::move(next), std::move(text)};
    return enter(ReloadStep::FinishingPrevious);
  }
  auto opened = Generation::open(next, serving_.get());
  if (!opened) return answerReload(false, config().path + ": " + opened.error());
  std::unique_ptr<Generation> fresh = std::move(*opened);
  // Every new worker has a file of the log of its own before it starts (a log turned
  // on by this reload begins with a rewrite after it: checkLogRules).
  if (Status prepared = logOn_ ? prepareLog(next.persistence, fresh->workers()) : Status(); !prepared) {
    return answerReload(false, config().path + ": persistence.aof: " + prepared.error());
  }
  metrics_->grow(fresh->workers());
  configText_->publish(text);
  // Forked before the serving generation hears of it: the new workers wait
  // for keys (they accept nothing yet), so a fork that fails here costs
  // nothing but killing the ones already forked.
  for (int slot = 0; slot < fresh->workers(); ++slot) {
    const Status forked = forkWorker(*fresh, slot, serving_->workers());
    if (forked) continue;
    for (const WorkerSlot& s : fresh->slots()) {
      if (s.pid > 0) ::kill(s.pid, SIGKILL);  // reaped as strangers (reapChildren)
    }
    return answerReload(false, config().path + ": worker " + std::to_string(slot) + ": " + forked.error());
  }
  retireServing(std::move(fresh));
}

void Master::retireServing(std::unique_ptr<Generation> fresh) {
  // Point of no return: generation g retires, g+1 serves.
  handOverStarted_ = loop_.now();
  lastPauseSeconds_ = 0;
  const Config& next = fresh->config();
  const int oldWorkers = serving_->workers(), newWorkers = fresh->workers();
  // Sockets of the serving generation that the new one does not use: their
  // retiring worker drains them, then they close with the old generation.
  // New connections are steered away from them first.
  std::vector<std::vector<std::int32_t>> keepAccepting(static_cast<std::size_t>(oldWorkers));
  for (std::size_t k = 0; k < serving_->listening().size(); ++k) {
    std::size_t kept = next.listen.size();  // its place in the new listen list
    for (std::size_t j = 0; j < next.listen.size(); ++j) {
      if (sameListen(config().listen[k], next.listen[j])) kept = j;
    }
    for (int slot = 0; slot < oldWorkers; ++slot) {
      if (kept < next.listen.size() && slot < newWorkers) continue;
      keepAccepting[static_cast<std::size_t>(slot)].push_back(serving_->listeners()[static_cast<std::size_t>(slot)][k].fd.get());
    }
    if (kept < next.listen.size() && newWorkers != oldWorkers) {
      // Growing: new connections stay on the old slots (their workers still
      // accept while they copy) until the hand-over is done.
      const int fd = fresh->listeners().front()[kept].fd.get();
      if (newWorkers > oldWorkers) steerWhenHandedOver_.push_back(fd);
      if (Status steered = steerToFirst(fd, std::min(newWorkers, oldWorkers)); !steered) {
        log_.warning("%s (connections may queue on retiring sockets until they close)", steered.error().c_str());
      }
    }
  }
  // A cluster port the new generation does not have stays with its
  // retiring worker until it is gone (its clients get -MOVED to the new ones).
  for (int slot = 0; slot < oldWorkers; ++slot) {
    if (!serving_->hasClusterSocket(slot)) continue;
    if (fresh->hasClusterSocket(slot) && sameListen(serving_->clusterListen(slot), fresh->clusterListen(slot))) continue;
    keepAccepting[static_cast<std::size_t>(slot)].push_back(serving_->listeners()[static_cast<std::size_t>(slot)].back().fd.get());
  }
  for (WorkerSlot& s : serving_->slots()) {
    if (s.restart) s.restart->stop();  // a retiring slot is not restarted
  }
  retiring_ = std::move(serving_);
  serving_ = std::move(fresh);
  applyLogSettings();
  ++configGeneration_;
  ready_ = false;
  enter(ReloadStep::HandingOver);
  stepDeadline_.start(kHandOverPatience, [this] { finishHandOver(/*complete=*/false); });

  // Link each retiring worker to every new one, then let it hand over.
  for (int old = 0; old < oldWorkers; ++old) {
    WorkerSlot& r = retiring_->slot(old);
    if (r.pid <= 0) continue;
    for (int slot = 0; slot < newWorkers; ++slot) {
      const auto out = serving_->guestChannel(old, slot, /*toNew=*/true)->descriptors();
      const auto in = serving_->guestChannel(old, slot, /*toNew=*/false)->descriptors();
      const int fds[] = {out[0], out[1], out[2], in[0], in[1], in[2]};
      ipc::sendControl(r.control.get(), ipc::encode(ipc::LinkNext{slot}), fds);
    }
    ipc::sendControl(r.control.get(),
                     ipc::encode(ipc::HandOver{newWorkers, std::move(keepAccepting[static_cast<std::size_t>(old)])}));
  }
  log_.notice("Generation %llu: %d workers replace %d; handing the keys over",
              static_cast<unsigned long long>(configGeneration_), newWorkers, oldWorkers);
  for (int old = 0; old < oldWorkers; ++old) {
    if (retiring_->slot(old).pid <= 0) retiringWorkerGone(old);  // died before it could be told
  }
  checkHandOver();
}

void Master::checkHandOver() {
  if (step_ != ReloadStep::HandingOver) return;
  for (const WorkerSlot& s : serving_->slots()) {
    if (s.pid <= 0 || !s.serving) return;
  }
  for (const WorkerSlot& r : retiring_->slots()) {
    if (!r.handedOver) return;
  }
  finishHandOver(/*complete=*/true);
}

void Master::finishHandOver(bool complete) {
  for (int fd : std::exchange(steerWhenHandedOver_, {})) {
    if (Status steered = steerToFirst(fd, serving_->workers()); !steered) log_.warning("%s", steered.error().c_str());
  }
  lastReloadSeconds_ = std::chrono::duration<double>(loop_.now() - handOverStarted_).count();
  char took[96];
  std::snprintf(took, sizeof took, "%.3f s (clients held %.1f ms)", lastReloadSeconds_, lastPauseSeconds_ * 1e3);
  answerReload(true, "generation " + std::to_string(configGeneration_) + ": " +
                         counted(static_cast<std::size_t>(serving_->workers()), "worker") + " serving " +
                         config().path + ", keys handed over in " + took + (complete ? "" : " (not finished within 60 s)"));
}

void Master::retiringWorkerGone(int slot) {
  WorkerSlot& r = retiring_->slot(slot);
  metrics::WorkerMetrics& m = metrics_->at(metricsIndex(*retiring_, slot));
  m.connections.store(0);  // gauges of a process that is gone
  m.keys.store(0);
  m.memoryUsedBytes.store(0);
  if (!r.handedOver) {
    // Whoever waits for its hand-over or its quiet notice waits no more.
    log_.warning("Retiring worker %d died before handing its keys over; they are lost", slot);
    const std::string gone = ipc::encode(ipc::RetireeGone{slot});
    for (Generation* g : {serving_.get(), retiring_.get()}) {
      for (const WorkerSlot& s : g->slots()) ipc::sendControl(s.control.get(), gone);
    }
    r.handedOver = true;
  }
  r.pid = -1;
  r.messages.reset();
  checkHandOver();
  dropRetiringIfGone();
}

void Master::dropRetiringIfGone() {
  if (!retiring_ || retiring_->anyAlive() || step_ == ReloadStep::HandingOver || dropQueued_) return;
  // After the current callback, which may be one of the retiring
  // generation's own watchers. It is gone before anything is forked again:
  // a worker forked while it lives would inherit its listening sockets and
  // keep them in their SO_REUSEPORT groups with nobody accepting.
  dropQueued_ = true;
  loop_.defer([this] {
    dropQueued_ = false;
    if (!retiring_ || retiring_->anyAlive() || step_ == ReloadStep::HandingOver) return;
    retiring_.reset();
    serving_->dropGuests();
    if (!pending_) return;
    PendingGeneration next = std::move(*pending_);
    pending_.reset();
    startGeneration(std::move(next.config), std::move(next.text));
  });
}

void Master::answerReload(bool ok, const std::string& text) {
  stepDeadline_.stop();
  ++(ok ? reloadsOk_ : reloadsFailed_);
  if (ok) log_.notice("Reload done: %s", text.c_str());
  else log_.warning("Reload failed, still serving the previous configuration: %s", text.c_str());
  withReserve([&] { writeReloadStatus(config().pidFile, {reloadsOk_ + reloadsFailed_, ok, text}); });
  notifySystemd("READY=1\nSTATUS=" + statusLine());
  enter(ReloadStep::Idle);
  dropRetiringIfGone();  // retiring workers that left while we waited
  if (std::exchange(reloadAgain_, false) && !stopping_ && step_ == ReloadStep::Idle) reload();
}

}  // namespace keyloop
