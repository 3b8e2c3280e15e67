// Async wake-ups from other threads, and signals through the loop.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <thread>
#include <vector>

#include "common/loop/handles.h"

namespace keyloop {
namespace {

TEST(Async, SendsFromFourThreadsWakeTheLoopThread) {
  Loop loop;
  Async async(loop);
  constexpr int kThreads = 4, kSendsEach = 10000;
  std::atomic<int> finishedThreads{0};
  int callbacks = 0;
  bool allOnLoopThread = true;
  const auto loopThread = std::this_thread::get_id();
  async.start([&] {
    ++callbacks;
    allOnLoopThread = allOnLoopThread && std::this_thread::get_id() == loopThread;
    if (finishedThreads.load() == kThreads) async.stop();
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kSendsEach; ++i) async.send();
      // The last send after the count is visible guarantees a final callback
      // that observes all threads finished.
      if (finishedThreads.fetch_add(1) + 1 == kThreads) async.send();
    });
  }
  loop.run();
  for (auto& t : threads) t.join();
  EXPECT_TRUE(allOnLoopThread);
  EXPECT_GE(callbacks, 1);
  EXPECT_LE(callbacks, kThreads * kSendsEach + 1);
}

TEST(Async, SendsBeforeTheLoopRunsCoalesceIntoOneCallback) {
  Loop loop;
  Async async(loop);
  int callbacks = 0;
  async.start([&] { ++callbacks; });
  for (int i = 0; i < 100; ++i) async.send();
  loop.run(RunMode::NoWait);
  loop.run(RunMode::NoWait);
  EXPECT_EQ(callbacks, 1);
  async.send();
  loop.run(RunMode::NoWait);
  EXPECT_EQ(callbacks, 2);
}

TEST(Signal, ASignalArrivesAsALoopEvent) {
  Loop loop;
  SignalWatcher signals(loop);
  std::vector<int> got;
  ASSERT_EQ(signals.start({SIGUSR1, SIGUSR2}, [&](int signo) {
    got.push_back(signo);
    if (got.size() == 2) signals.stop();
  }), 0);
  ::raise(SIGUSR1);  // blocked now, so it waits in the signalfd
  ::raise(SIGUSR2);
  loop.run();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{SIGUSR1, SIGUSR2}));
}

}  // namespace
}  // namespace keyloop
