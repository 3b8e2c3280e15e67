// What Redis 7 keeps of how long things take, in a form that lives in the
// shared metrics blocks (single writer, relaxed atomics), so that any worker
// answers for all of them and the master exports them:
//   CommandLatency  a command's runs by duration (LATENCY HISTOGRAM, INFO
//                   latencystats, keyloop_command_duration_seconds)
//   LatencySeries   the latency monitor's samples of one event (LATENCY
//                   LATEST / HISTORY / GRAPH / DOCTOR)
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string_view>

namespace keyloop::metrics {

// Bucket i counts the runs up to commandLatencyBoundNanos(i): about 2^i µs,
// exactly the value Redis's HDR histogram (1 ns to 1 s, 2 significant
// digits) reports for its i-th power-of-two step, so LATENCY HISTOGRAM
// names the buckets as Redis does. Longer runs count in the last one.
inline constexpr std::size_t kCommandLatencyBuckets = 21;
std::size_t commandLatencyBucket(std::uint64_t nanos);
std::uint64_t commandLatencyBoundNanos(std::size_t bucket);

struct CommandLatency {
  std::array<std::atomic<std::uint64_t>, kCommandLatencyBuckets> buckets{};
  std::atomic<std::uint64_t> sumMicros{0};
  void observe(std::uint64_t micros);
  void reset();
};

// Counts per bucket, summed over blocks.
struct LatencyCounts {
  std::array<std::uint64_t, kCommandLatencyBuckets> buckets{};
  std::uint64_t sumMicros = 0;
  std::uint64_t calls() const;
  void add(const CommandLatency& from);
  // The bound (ns) under which `percentile` (0..100) of the calls fall.
  std::uint64_t percentileNanos(double percentile) const;
};

// The latency monitor's events (Redis's names), an index each.
inline constexpr std::array<std::string_view, 6> kLatencyEvents = {
    "command", "fast-command", "expire-cycle", "eviction-cycle", "aof-fsync-always", "aof-write"};
std::size_t latencyEventIndex(std::string_view name);  // kLatencyEvents.size() when unknown

// Redis's LATENCY_TS_LEN samples, one per second at most (a second's
// samples keep the highest), each (unix seconds << 32 | milliseconds).
struct LatencySeries {
  static constexpr std::size_t kSamples = 160;
  std::array<std::atomic<std::uint64_t>, kSamples> samples{};
  std::atomic<std::uint32_t> next{0};
  std::atomic<std::uint64_t> max{0};  // milliseconds, since the last reset
  void add(std::int64_t unixSeconds, std::uint64_t ms);
  void reset();
  bool empty() const { return max.load(std::memory_order_relaxed) == 0 && samples[0].load(std::memory_order_relaxed) == 0; }
};

// Several workers' series of one event as one: a second's highest sample.
struct MergedSeries {
  std::map<std::int64_t, std::uint64_t> samples;  // unix second -> ms (the newest kSamples)
  std::uint64_t max = 0;
  void add(const LatencySeries& from);
  bool empty() const { return samples.empty(); }
};

}  // namespace keyloop::metrics
