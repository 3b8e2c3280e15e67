#include "common/metrics/shared_metrics.h"

#include <csignal>

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <new>
#include <cstring>

namespace keyloop::metrics {

void SharedHistogram::observe(Duration d) {
  const std::uint64_t nanos = d.count() > 0 ? static_cast<std::uint64_t>(d.count()) : 0;
  const double seconds = static_cast<double>(nanos) * 1e-9;
  const auto& bounds = LatencyHistogram::kBounds;
  const auto bucket = static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin());
  bump(buckets[bucket]);
  bump(sumNanos, nanos);
  bump(count);  // last: a reader that sees the count sees its bucket
}

Result<std::unique_ptr<SharedMetrics>> SharedMetrics::create(int slots) {
  const std::size_t bytes = sizeof(WorkerMetrics) * (1 + static_cast<std::size_t>(kBanks) * kMaxSlots);
  void* mapping = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) return fail(std::string("mmap: ") + std::strerror(errno));
  return std::unique_ptr<SharedMetrics>(new SharedMetrics(mapping, bytes, slots));
}

SharedMetrics::SharedMetrics(void* mapping, std::size_t bytes, int slots) : bytes_(bytes), mapping_(mapping) {
  static_assert(sizeof(Header) <= sizeof(WorkerMetrics));
  header_ = new (mapping_) Header{};
  // The header takes one block's room: the blocks stay cache-line aligned.
  blocks_ = static_cast<WorkerMetrics*>(mapping_) + 1;
  grow(slots);
}

SharedMetrics::~SharedMetrics() { ::munmap(mapping_, bytes_); }

void SharedMetrics::grow(int slots) {
  slots = std::min(slots, kMaxSlots);
  for (int s = size(); s < slots; ++s) {
    for (int bank = 0; bank < kBanks; ++bank) new (&blocks_[indexOf(bank, s)]) WorkerMetrics{};
  }
  header_->slots.store(std::max(slots, size()), std::memory_order_relaxed);
}

std::uint64_t SharedMetrics::totalConnections() const {
  std::uint64_t total = 0;
  for (int bank = 0; bank < kBanks; ++bank) {
    for (int s = 0; s < size(); ++s) total += at(bank, s).connections.load(std::memory_order_relaxed);
  }
  return total;
}

std::uint8_t SharedMetrics::busyScript(int except) const {
  if (header_->busyBlocks.load(std::memory_order_relaxed) == 0) return 0;
  for (int bank = 0; bank < kBanks; ++bank) {
    for (int s = 0; s < size(); ++s) {
      const WorkerMetrics& w = at(bank, s);
      const std::uint8_t kind = w.busyScript.load(std::memory_order_relaxed);
      if (kind == 0 || indexOf(bank, s) == except) continue;
      const auto pid = static_cast<pid_t>(w.pid.load(std::memory_order_relaxed));
      if (pid > 0 && ::kill(pid, 0) == 0) return kind;
    }
  }
  return 0;
}

bool SharedMetrics::queuedForScriptReach(int except) const {
  for (int bank = 0; bank < kBanks; ++bank) {
    for (int s = 0; s < size(); ++s) {
      const WorkerMetrics& w = at(bank, s);
      if (!w.reachQueued.load(std::memory_order_acquire) || indexOf(bank, s) == except) continue;
      const auto pid = static_cast<pid_t>(w.pid.load(std::memory_order_relaxed));
      if (pid > 0 && ::kill(pid, 0) == 0) return true;
    }
  }
  return false;
}

bool SharedMetrics::takeScriptReach(std::int64_t holder, int index) {
  std::int64_t now = header_->scriptReach.load(std::memory_order_acquire);
  if (now != 0 && ::kill(static_cast<pid_t>(now < 0 ? -now : now), 0) == 0) return false;
  // A transaction (index -1) is short and does not queue: it goes when it is free.
  const bool queued = index < 0 || blocks_[index].reachQueued.load(std::memory_order_acquire);
  // The last holder may take it again a few times in a row (a handoff to
  // another worker costs a wake-up on a busy machine), then lets the queue go.
  const bool last = header_->scriptReachLast.load(std::memory_order_acquire) == holder;
  const int streak = last ? header_->scriptReachStreak.load(std::memory_order_relaxed) : 0;
  if ((!queued || streak >= kScriptReachStreak) && queuedForScriptReach(index)) return false;
  if (!header_->scriptReach.compare_exchange_strong(now, holder, std::memory_order_acq_rel)) return false;
  header_->scriptReachStreak.store(streak + 1, std::memory_order_relaxed);
  return true;
}

bool SharedMetrics::takeBarrier(std::int64_t holder) {
  std::int64_t now = header_->barrier.load(std::memory_order_acquire);
  if (now == holder) return true;
  if (now != 0 && ::kill(static_cast<pid_t>(now), 0) == 0) return false;
  return header_->barrier.compare_exchange_strong(now, holder, std::memory_order_acq_rel);
}

void SharedMetrics::releaseScriptReach(std::int64_t holder) {
  header_->scriptReachLast.store(holder, std::memory_order_release);
  header_->scriptReach.compare_exchange_strong(holder, 0, std::memory_order_acq_rel);
}

void SharedMetrics::setBusyScript(int index, std::uint8_t kind) {
  const std::uint8_t was = blocks_[index].busyScript.exchange(kind, std::memory_order_relaxed);
  if ((was == 0) != (kind == 0)) header_->busyBlocks.fetch_add(kind != 0 ? 1 : -1, std::memory_order_relaxed);
}

std::uint64_t SharedMetrics::totalChanges() const {
  std::uint64_t total = 0;
  for (int bank = 0; bank < kBanks; ++bank) {
    for (int s = 0; s < size(); ++s) total += at(bank, s).changes.load(std::memory_order_relaxed);
  }
  return total;
}

}  // namespace keyloop::metrics
