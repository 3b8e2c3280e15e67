#include "common/loop/latency_histogram.h"

#include <algorithm>

namespace keyloop {

void LatencyHistogram::observe(Duration d) {
  const std::uint64_t nanos = d.count() > 0 ? static_cast<std::uint64_t>(d.count()) : 0;
  const double seconds = static_cast<double>(nanos) * 1e-9;
  auto bound = std::lower_bound(kBounds.begin(), kBounds.end(), seconds);
  ++buckets[static_cast<std::size_t>(bound - kBounds.begin())];
  ++count;
  sumNanos += nanos;
  maxNanos = std::max(maxNanos, nanos);
}

std::uint64_t LatencyHistogram::cumulative(std::size_t i) const {
  std::uint64_t total = 0;
  for (std::size_t b = 0; b <= i && b < buckets.size(); ++b) total += buckets[b];
  return total;
}

double LatencyHistogram::quantile(double q) const {
  if (count == 0) return 0;
  const double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(count);
  std::uint64_t below = 0;
  for (std::size_t b = 0; b < buckets.size(); ++b) {
    const std::uint64_t upto = below + buckets[b];
    if (buckets[b] > 0 && static_cast<double>(upto) >= rank) {
      const double lower = b == 0 ? 0.0 : kBounds[b - 1];
      const double upper = b < kBounds.size() ? kBounds[b] : maxSeconds();
      const double fraction = (rank - static_cast<double>(below)) / static_cast<double>(buckets[b]);
      return std::min(lower + (upper - lower) * fraction, maxSeconds());
    }
    below = upto;
  }
  return maxSeconds();
}

}  // namespace keyloop
