#include "common/metrics/latency_tracking.h"

#include <algorithm>
#include <bit>

namespace keyloop::metrics {

namespace {

constexpr std::uint64_t kFirstStepNanos = 1024;    // Redis's hdr_iter_log_init(…, 1024, 2)
constexpr std::uint64_t kHighestNanos = 1000000000;  // LATENCY_HISTOGRAM_MAX_VALUE

// An HDR histogram of 2 significant digits keeps values under 256 exactly
// and above that in 128 steps per power of two.
std::uint64_t lowestEquivalent(std::uint64_t v) {
  if (v < 256) return v;
  const int magnitude = std::bit_width(v) - 1;
  const std::uint64_t step = std::uint64_t{1} << (magnitude - 7);
  return v & ~(step - 1);
}

std::uint64_t highestEquivalent(std::uint64_t v) {
  if (v < 256) return v;
  const int magnitude = std::bit_width(v) - 1;
  return lowestEquivalent(v) + (std::uint64_t{1} << (magnitude - 7)) - 1;
}

void store(std::atomic<std::uint64_t>& a, std::uint64_t v) { a.store(v, std::memory_order_relaxed); }
std::uint64_t load(const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); }

}  // namespace

std::size_t commandLatencyBucket(std::uint64_t nanos) {
  const std::uint64_t v = lowestEquivalent(std::clamp<std::uint64_t>(nanos, 1, kHighestNanos));
  std::size_t bucket = 0;
  while (bucket + 1 < kCommandLatencyBuckets && v > (kFirstStepNanos << bucket)) ++bucket;
  return bucket;
}

std::uint64_t commandLatencyBoundNanos(std::size_t bucket) { return highestEquivalent(kFirstStepNanos << bucket); }

void CommandLatency::observe(std::uint64_t micros) {
  std::atomic<std::uint64_t>& b = buckets[commandLatencyBucket(micros * 1000)];
  store(b, load(b) + 1);
  store(sumMicros, load(sumMicros) + micros);
}

void CommandLatency::reset() {
  for (auto& b : buckets) store(b, 0);
  store(sumMicros, 0);
}

std::uint64_t LatencyCounts::calls() const {
  std::uint64_t total = 0;
  for (std::uint64_t b : buckets) total += b;
  return total;
}

void LatencyCounts::add(const CommandLatency& from) {
  for (std::size_t i = 0; i < kCommandLatencyBuckets; ++i) buckets[i] += load(from.buckets[i]);
  sumMicros += load(from.sumMicros);
}

std::uint64_t LatencyCounts::percentileNanos(double percentile) const {
  const std::uint64_t total = calls();
  if (total == 0) return 0;
  // As hdr_value_at_percentile: the first bucket holding that many calls.
  const double wanted = std::max(1.0, percentile / 100.0 * static_cast<double>(total));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kCommandLatencyBuckets; ++i) {
    seen += buckets[i];
    if (static_cast<double>(seen) >= wanted - 1e-9) return commandLatencyBoundNanos(i);
  }
  return commandLatencyBoundNanos(kCommandLatencyBuckets - 1);
}

std::size_t latencyEventIndex(std::string_view name) {
  for (std::size_t i = 0; i < kLatencyEvents.size(); ++i) {
    if (kLatencyEvents[i] == name) return i;
  }
  return kLatencyEvents.size();
}

void LatencySeries::add(std::int64_t unixSeconds, std::uint64_t ms) {
  // As Redis's latencyAddSample: a sample in the same second as the last
  // one raises it instead of taking a place.
  if (ms > load(max)) store(max, ms);
  const std::uint32_t at = next.load(std::memory_order_relaxed);
  std::atomic<std::uint64_t>& previous = samples[(at + kSamples - 1) % kSamples];
  const std::uint64_t last = load(previous);
  const auto second = static_cast<std::uint64_t>(unixSeconds);
  if (last != 0 && (last >> 32) == second) {
    if (ms > (last & 0xffffffffu)) store(previous, (second << 32) | std::min<std::uint64_t>(ms, 0xffffffffu));
    return;
  }
  store(samples[at], (second << 32) | std::min<std::uint64_t>(ms, 0xffffffffu));
  next.store((at + 1) % kSamples, std::memory_order_relaxed);
}

void LatencySeries::reset() {
  for (auto& s : samples) store(s, 0);
  next.store(0, std::memory_order_relaxed);
  store(max, 0);
}

void MergedSeries::add(const LatencySeries& from) {
  max = std::max(max, load(from.max));
  for (const auto& s : from.samples) {
    const std::uint64_t v = load(s);
    if (v == 0) continue;
    std::uint64_t& ms = samples[static_cast<std::int64_t>(v >> 32)];
    ms = std::max(ms, v & 0xffffffffu);
  }
  while (samples.size() > LatencySeries::kSamples) samples.erase(samples.begin());
}

}  // namespace keyloop::metrics
