#include "common/metrics/shared_metrics.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <new>
#include <system_error>

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

SharedMetrics::SharedMetrics(int slots)
    : slots_(slots), bytes_(sizeof(WorkerMetrics) * static_cast<std::size_t>(slots)) {
  void* mapping = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
  blocks_ = static_cast<WorkerMetrics*>(mapping);
  for (int i = 0; i < slots_; ++i) new (&blocks_[i]) WorkerMetrics{};
}

SharedMetrics::~SharedMetrics() { ::munmap(blocks_, bytes_); }

std::uint64_t SharedMetrics::totalConnections() const {
  std::uint64_t total = 0;
  for (int i = 0; i < slots_; ++i) total += blocks_[i].connections.load(std::memory_order_relaxed);
  return total;
}

}  // namespace keyloop::metrics
