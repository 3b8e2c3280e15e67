// WorkerStats: a worker's numbers. The INFO counters (ServerStats), its
// block of the shared metrics the master exports (a private block when the
// worker runs on its own), the event-loop lag and iteration histograms,
// and the publication of gauges four times a second.
//
// Single writer: only this worker's loop writes its block; the master and
// the other workers only read (maxclients sums every block's connections).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <functional>

#include "common/loop/handles.h"
#include "common/loop/lag_monitor.h"
#include "common/metrics/shared_metrics.h"
#include "worker/execution/stats.h"

namespace keyloop {

class WorkerStats {
 public:
  explicit WorkerStats(Loop& loop);

  ServerStats& counters() { return counters_; }
  const ServerStats& counters() const { return counters_; }
  metrics::WorkerMetrics& metrics() { return *metrics_; }
  // The master's snapshot status (null without shared metrics).
  const metrics::SnapshotStatus* snapshotStatus() const { return shared_ ? &shared_->snapshots() : nullptr; }
  metrics::AofStatus* aofStatus() const { return shared_ ? &shared_->aof() : nullptr; }
  // The next client id: from the shared counter when there is one.
  std::uint64_t takeClientId() { return shared_ ? shared_->takeClientId() : nextLocalClientId_++; }
  // MONITOR clients: this worker's count changes by `delta`; whether any
  // worker has one, and whether one other than this worker does.
  void addMonitors(std::int64_t delta) {
    ownMonitors_ += delta;
    if (shared_ != nullptr) shared_->addMonitors(delta);
  }
  bool monitorsAnywhere() const { return (shared_ ? shared_->monitors() : ownMonitors_) > 0; }
  bool monitorsElsewhere() const { return shared_ != nullptr && shared_->monitors() > ownMonitors_; }
  std::uint64_t takeSlowlogId() { return shared_ ? shared_->takeSlowlogId() : nextLocalSlowlogId_++; }
  // Every worker's block that may hold figures (both banks: a reload's
  // retired workers' too); this worker's alone without shared metrics.
  template <typename Visit>
  void forEachBlock(Visit visit) const {
    if (shared_ == nullptr) return visit(*metrics_);
    for (int bank = 0; bank < metrics::kBanks; ++bank) {
      for (int slot = 0; slot < shared_->size(); ++slot) visit(shared_->at(bank, slot));
    }
  }
  // This worker's slot in both banks (its retired predecessor's figures
  // go too, as a server's would): what CONFIG RESETSTAT and LATENCY RESET
  // clear on each worker.
  template <typename Visit>
  void forOwnSlot(Visit visit) {
    if (shared_ == nullptr) return visit(*metrics_);
    const int slot = index_ % metrics::kMaxSlots;
    for (int bank = 0; bank < metrics::kBanks; ++bank) visit(shared_->at(metrics::SharedMetrics::indexOf(bank, slot)));
  }
  std::uint64_t changesEverywhere() const { return shared_ ? shared_->totalChanges() : metrics_->changes.load(); }
  // A script keeps this worker busy (1 EVAL, 2 a function, 0 no longer),
  // and whether one keeps another worker busy (the same numbers).
  void publishBusyScript(std::uint8_t kind) {
    if (shared_ != nullptr) shared_->setBusyScript(index_, kind);
  }
  std::uint8_t busyScriptElsewhere() const { return shared_ ? shared_->busyScript(index_) : 0; }
  // The one script at a time that reaches other workers' keys (alone, a
  // worker always may): SharedMetrics::takeScriptReach, by this pid (a
  // transaction's by its negative).
  bool takeScriptReach(bool transaction) {
    return shared_ == nullptr || shared_->takeScriptReach(transaction ? -::getpid() : ::getpid(), transaction ? -1 : index_);
  }
  bool scriptReachQueued() const { return shared_ != nullptr && shared_->queuedForScriptReach(index_); }
  void queueForScriptReach(bool queued) {
    if (shared_ != nullptr) shared_->queueForScriptReach(index_, queued);
  }
  void releaseScriptReach(bool transaction) {
    if (shared_ != nullptr) shared_->releaseScriptReach(transaction ? -::getpid() : ::getpid());
  }
  std::int64_t scriptReachHolder() const { return shared_ ? shared_->scriptReachHolder() : 0; }
  // SWAPDB's barrier (SharedMetrics::takeBarrier), by this pid.
  bool takeBarrier() { return shared_ == nullptr || shared_->takeBarrier(::getpid()); }
  void releaseBarrier() {
    if (shared_ != nullptr) shared_->releaseBarrier(::getpid());
  }
  const LagMonitor& lag() const { return lag_; }

  // This worker's block of the shared metrics (null: keep the private one).
  void useShared(metrics::SharedMetrics* shared, int index);
  void publishClientCount(std::size_t clients);
  // Open clients of every worker (only `mine` without shared metrics).
  std::uint64_t clientsEverywhere(std::size_t mine) const;

  // What the periodic publication reads from the worker.
  struct Sample {
    std::size_t keys = 0;
    std::uint64_t expiredTotal = 0, forwardedTotal = 0;
  };
  // Starts the lag monitor and, with `observeLoop` (metrics enabled), the
  // lag and iteration histograms and the gauges, read from `sample`.
  void start(bool observeLoop, std::function<Sample()> sample);
  void stop();

 private:
  void publish();

  metrics::SharedMetrics* shared_ = nullptr;
  int index_ = -1;
  std::uint64_t nextLocalClientId_ = 1;
  std::uint64_t nextLocalSlowlogId_ = 0;
  std::int64_t ownMonitors_ = 0;
  metrics::WorkerMetrics own_;
  metrics::WorkerMetrics* metrics_ = &own_;
  ServerStats counters_{};
  LagMonitor lag_;
  Check afterPoll_;
  Prepare beforePoll_;
  TimePoint iterationStart_{};
  Timer publishTimer_;
  std::function<Sample()> sample_;
  std::uint64_t publishedExpired_ = 0, publishedForwarded_ = 0;
};

}  // namespace keyloop
