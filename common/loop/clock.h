// The loop's notion of time: the monotonic clock, nanosecond durations;
// and the wall clock in Unix milliseconds, which expiry times, snapshots'
// stamps and the log's batches are kept in.
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>

namespace keyloop {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = std::chrono::nanoseconds;

inline double toSeconds(Duration d) { return std::chrono::duration<double>(d).count(); }

inline std::int64_t unixMillis() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

inline std::int64_t unixMicros() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

}  // namespace keyloop
