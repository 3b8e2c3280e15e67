// keyloop's loop against libuv, same scenarios, same run (Google Benchmark).
// Run: loadtest/loop-bench (builds it and prints the ratio table).
#include <benchmark/benchmark.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdlib>
#include <string_view>
#include <thread>

#include "common/loop/handles.h"
#include "loadtest/loop/bench_shape.h"

namespace bench {

using keyloop::Duration;

void keyloopTimerStartStop(std::int64_t n, int background) {
  keyloop::Loop loop;
  std::vector<std::unique_ptr<keyloop::Timer>> armed;
  for (int i = 0; i < background; ++i) {
    armed.push_back(std::make_unique<keyloop::Timer>(loop));
    armed.back()->start(std::chrono::seconds(60 + i), [] {});
  }
  keyloop::Timer timer(loop);
  for (std::int64_t i = 0; i < n; ++i) {
    timer.start(std::chrono::seconds(30 + (i % 64)), [] {});
    timer.stop();
  }
}

namespace {
struct KeyloopEnd {
  keyloop::UniqueFd fd;
  std::unique_ptr<keyloop::IoWatcher> io;
};
}  // namespace

void keyloopPingPong(std::int64_t n, bool edgeTriggered) {
  keyloop::Loop loop;
  int fds[2];
  ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds);
  KeyloopEnd ends[2] = {{keyloop::UniqueFd(fds[0]), nullptr}, {keyloop::UniqueFd(fds[1]), nullptr}};
  std::int64_t trips = 0;
  auto trigger = edgeTriggered ? keyloop::Trigger::Edge : keyloop::Trigger::Level;
  for (int side = 0; side < 2; ++side) {
    ends[side].io = std::make_unique<keyloop::IoWatcher>(loop, ends[side].fd.get());
    ends[side].io->start(keyloop::kReadable, [&, side](std::uint32_t) {
      char c;
      if (::read(ends[side].fd.get(), &c, 1) != 1) return;
      if (side == 0 && ++trips == n) {
        ends[0].io->stop();
        ends[1].io->stop();
        return;
      }
      if (::write(ends[side].fd.get(), &c, 1) != 1) std::abort();
    }, trigger);
  }
  if (::write(ends[0].fd.get(), "x", 1) != 1) std::abort();
  loop.run();
}

void keyloopAsyncPingPong(std::int64_t n) {
  keyloop::Loop loopA, loopB;
  keyloop::Async asyncA(loopA), asyncB(loopB);
  std::int64_t trips = 0;  // loop A's thread only
  std::atomic<bool> finished{false};
  asyncA.start([&] {
    if (++trips == n) {
      finished = true;
      asyncA.stop();
    }
    asyncB.send();
  });
  asyncB.start([&] {
    if (finished) {
      asyncB.stop();
      return;
    }
    asyncA.send();
  });
  std::thread b([&] { loopB.run(); });
  asyncA.send();
  loopA.run();
  b.join();
}

}  // namespace bench

namespace {

constexpr int kBackgroundTimers = 10000;

void BM_TimerStartStop_keyloop(benchmark::State& s) {
  for (auto _ : s) bench::keyloopTimerStartStop(s.range(0), kBackgroundTimers);
  s.SetItemsProcessed(s.iterations() * s.range(0));
}
void BM_TimerStartStop_libuv(benchmark::State& s) {
  for (auto _ : s) bench::uvTimerStartStop(s.range(0), kBackgroundTimers);
  s.SetItemsProcessed(s.iterations() * s.range(0));
}
void BM_PingPong_keyloop_level(benchmark::State& s) {
  for (auto _ : s) bench::keyloopPingPong(s.range(0), false);
  s.SetItemsProcessed(s.iterations() * s.range(0));
}
void BM_PingPong_keyloop_edge(benchmark::State& s) {
  for (auto _ : s) bench::keyloopPingPong(s.range(0), true);
  s.SetItemsProcessed(s.iterations() * s.range(0));
}
void BM_PingPong_libuv(benchmark::State& s) {
  for (auto _ : s) bench::uvPingPong(s.range(0));
  s.SetItemsProcessed(s.iterations() * s.range(0));
}
void BM_AsyncPingPong_keyloop(benchmark::State& s) {
  for (auto _ : s) bench::keyloopAsyncPingPong(s.range(0));
  s.SetItemsProcessed(s.iterations() * s.range(0));
}
void BM_AsyncPingPong_libuv(benchmark::State& s) {
  for (auto _ : s) bench::uvAsyncPingPong(s.range(0));
  s.SetItemsProcessed(s.iterations() * s.range(0));
}

}  // namespace

// Interleaved, so both peers see the same machine conditions.
BENCHMARK(BM_TimerStartStop_keyloop)->Arg(200000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TimerStartStop_libuv)->Arg(200000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PingPong_keyloop_level)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PingPong_keyloop_edge)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PingPong_libuv)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AsyncPingPong_keyloop)->Arg(20000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AsyncPingPong_libuv)->Arg(20000)->Unit(benchmark::kMillisecond)->UseRealTime();

// `loop_bench --once SCENARIO N` runs one scenario once, outside Google
// Benchmark, for valgrind's instruction counts (repeatable on a noisy host).
int main(int argc, char** argv) {
  if (argc == 4 && std::string_view(argv[1]) == "--once") {
    const std::string_view scenario = argv[2];
    const std::int64_t n = std::atoll(argv[3]);
    if (scenario == "timer_keyloop") bench::keyloopTimerStartStop(n, kBackgroundTimers);
    else if (scenario == "timer_libuv") bench::uvTimerStartStop(n, kBackgroundTimers);
    else if (scenario == "pingpong_keyloop") bench::keyloopPingPong(n, false);
    else if (scenario == "pingpong_libuv") bench::uvPingPong(n);
    else if (scenario == "async_keyloop") bench::keyloopAsyncPingPong(n);
    else if (scenario == "async_libuv") bench::uvAsyncPingPong(n);
    else return 2;
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
