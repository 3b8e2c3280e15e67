// The loop's notion of time: the monotonic clock, nanosecond durations.
#pragma once

#include <chrono>

namespace keyloop {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = std::chrono::nanoseconds;

inline double toSeconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace keyloop
