#include "worker/execution/worker_stats.h"

#include <unistd.h>

#include "common/metrics/process_memory.h"

namespace keyloop {

std::size_t errorCodeIndex(std::string_view line) {
  const std::string_view code = line.substr(0, line.find(' '));
  for (std::size_t i = 0; i + 1 < kErrorCodeCount; ++i) {
    if (kErrorCodes[i] == code) return i;
  }
  return kErrorCodeCount - 1;
}

WorkerStats::WorkerStats(Loop& loop) : lag_(loop), afterPoll_(loop), beforePoll_(loop), publishTimer_(loop) {}

void WorkerStats::useShared(metrics::SharedMetrics* shared, int index) {
  if (shared == nullptr) return;
  shared_ = shared;
  index_ = index;
  metrics_ = &shared->at(index);
  shared->setBusyScript(index, 0);  // a predecessor that died busy
}

void WorkerStats::publishClientCount(std::size_t clients) {
  metrics_->connections.store(clients, std::memory_order_relaxed);
}

std::uint64_t WorkerStats::clientsEverywhere(std::size_t mine) const {
  return shared_ != nullptr ? shared_->totalConnections() : mine;
}

void WorkerStats::start(bool observeLoop, std::function<Sample()> sample) {
  lag_.start();
  metrics_->pid.store(::getpid(), std::memory_order_relaxed);
  if (!observeLoop) return;  // counters still count: maxclients and INFO use them
  sample_ = std::move(sample);
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
  publishTimer_.start(Duration::zero(), std::chrono::milliseconds(250), [this] { publish(); });
}

void WorkerStats::stop() {
  lag_.stop();
  afterPoll_.stop();
  beforePoll_.stop();
  publishTimer_.stop();
}

void WorkerStats::publish() {
  // Gauges are overwritten; counters kept elsewhere advance by their growth
  // since the last publish (a new worker starts from zero).
  const Sample now = sample_();
  metrics_->keys.store(now.keys, std::memory_order_relaxed);
  metrics_->memoryUsedBytes.store(heapBytesInUse(), std::memory_order_relaxed);
  metrics::bump(metrics_->expiredKeys, now.expiredTotal - publishedExpired_);
  publishedExpired_ = now.expiredTotal;
  metrics::bump(metrics_->forwarded, now.forwardedTotal - publishedForwarded_);
  publishedForwarded_ = now.forwardedTotal;
}

}  // namespace keyloop
