// LatencyHistogram: fixed Prometheus-style buckets for durations, 50 µs to
// 2.5 s, plus count, sum and max.
//
// Plain integers in a fixed array, no allocation: a worker can later keep it
// in the shared metrics segment and the master can copy it out as is.
// Buckets are stored non-cumulative; cumulative() gives Prometheus's view.
#pragma once

#include <array>
#include <cstdint>

#include "common/loop/clock.h"

namespace keyloop {

struct LatencyHistogram {
  // Upper bounds in seconds; an implicit +Inf bucket follows the last.
  static constexpr std::array<double, 15> kBounds = {
      50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3,
      25e-3, 50e-3,  100e-3, 250e-3, 500e-3, 1.0, 2.5};

  std::array<std::uint64_t, kBounds.size() + 1> buckets{};
  std::uint64_t count = 0;
  std::uint64_t sumNanos = 0;
  std::uint64_t maxNanos = 0;

  void observe(Duration d);
  // Count of observations <= kBounds[i] (i == kBounds.size() means +Inf).
  std::uint64_t cumulative(std::size_t i) const;
  double sumSeconds() const { return static_cast<double>(sumNanos) * 1e-9; }
  double maxSeconds() const { return static_cast<double>(maxNanos) * 1e-9; }
  // Estimate like PromQL's histogram_quantile (linear within a bucket),
  // but never above the observed max. 0 when empty.
  double quantile(double q) const;
};

}  // namespace keyloop
