// The work every loop benchmark does, written once per event loop so that
// keyloop and libuv run exactly the same scenario in the same process.
#pragma once

#include <cstdint>

namespace bench {

// Starts and stops one timer among `background` armed timers, `n` times.
void keyloopTimerStartStop(std::int64_t n, int background);
void uvTimerStartStop(std::int64_t n, int background);

// `n` one-byte round trips over a socketpair, both ends on one loop.
void keyloopPingPong(std::int64_t n, bool edgeTriggered);
void uvPingPong(std::int64_t n);

// `n` round trips of async wake-ups between two loops on two threads.
void keyloopAsyncPingPong(std::int64_t n);
void uvAsyncPingPong(std::int64_t n);

}  // namespace bench
