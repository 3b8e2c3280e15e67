// FakeWorker: what handlers need of a worker (its config, stats, locks,
// pool), with no server around it, for tests that run real handlers on a
// Store of their own.
#pragma once

#include <map>
#include <memory>

#include "common/loop/lag_monitor.h"
#include "common/loop/thread_pool.h"
#include "worker/connection/client.h"
#include "worker/routing/key_locks.h"
#include "worker/execution/worker_services.h"

namespace keyloop {

class FakeWorker final : public WorkerServices {
 public:
  explicit FakeWorker(Loop& loop) : locks_(loop), pool_(loop, 1), lag_(loop) {}
  const Config& config() const override { return config_; }
  void applyConfig(const Config& next) override { config_ = next; }
  ServerStats& stats() override { return stats_; }
  KeyLocks& locks() override { return locks_; }
  ThreadPool& threadPool() override { return pool_; }
  TimePoint now() const override { return {}; }
  const std::map<std::uint64_t, std::unique_ptr<Client>>& clients() const override { return clients_; }
  const LagMonitor& lag() const override { return lag_; }
  std::uint16_t port() const override { return 0; }
  TimePoint startedAt() const override { return {}; }
  ServerStats totals() const override { return stats_; }
  const ring::Ring* ring() const override { return nullptr; }
  int self() const override { return 0; }

 private:
  Config config_;
  ServerStats stats_{};
  KeyLocks locks_;
  ThreadPool pool_;
  LagMonitor lag_;
  std::map<std::uint64_t, std::unique_ptr<Client>> clients_;
};

}  // namespace keyloop
