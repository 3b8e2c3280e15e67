// Run modes, stop(), references and the cached clock.
#include <gtest/gtest.h>

#include "common/loop/handles.h"
#include "common/loop/tests/test_util.h"

namespace keyloop {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(RunMode, DefaultReturnsAtOnceWithNothingToDo) {
  Loop loop;
  EXPECT_FALSE(loop.alive());
  EXPECT_EQ(loop.run(), 0u);
}

TEST(RunMode, NoWaitDoesNotBlockOnAFarTimer) {
  Loop loop;
  Timer timer(loop);
  bool fired = false;
  timer.start(seconds(30), [&] { fired = true; });
  auto before = Clock::now();
  EXPECT_EQ(loop.run(RunMode::NoWait), 1u);
  EXPECT_LT(Clock::now() - before, seconds(5));  // would be 30 s if it blocked
  EXPECT_FALSE(fired);
  EXPECT_TRUE(loop.alive());
}

TEST(RunMode, OnceBlocksForTheNextEventAndRunsOneIteration) {
  Loop loop;
  Timer timer(loop), later(loop);
  bool fired = false;
  timer.start(milliseconds(20), [&] { fired = true; });
  later.start(seconds(30), [] {});
  EXPECT_EQ(loop.run(RunMode::Once), 1u);
  EXPECT_TRUE(fired);
  EXPECT_EQ(loop.iterations(), 1u);
  EXPECT_TRUE(loop.alive());  // `later` is still pending
}

TEST(RunMode, OnceReturnsAfterOneIterationWhenIoIsReady) {
  Loop loop;
  test::SocketPair pair;
  IoWatcher io(loop, pair.a.get());
  int reads = 0;
  io.start(kReadable, [&](std::uint32_t) {
    ++reads;
    test::readSome(pair.a.get());
  });
  test::writeAll(pair.b.get(), "ping");
  EXPECT_EQ(loop.run(RunMode::Once), 1u);
  EXPECT_EQ(reads, 1);
}

TEST(RunMode, MaxTicksBoundsTheIterations) {
  Loop loop;
  Idle idle(loop);
  int calls = 0;
  idle.start([&] { ++calls; });
  EXPECT_EQ(loop.run(std::size_t{5}), 5u);
  EXPECT_EQ(calls, 5);
}

TEST(RunMode, StopFromACallbackEndsRunAfterThatIteration) {
  Loop loop;
  Idle idle(loop);
  Check check(loop);
  int idles = 0, checks = 0;
  idle.start([&] {
    if (++idles == 1) loop.stop();
  });
  check.start([&] { ++checks; });
  EXPECT_EQ(loop.run(), 1u);
  EXPECT_EQ(idles, 1);
  EXPECT_EQ(checks, 1);  // the iteration finished its phases
  EXPECT_EQ(loop.run(std::size_t{2}), 2u);  // the stop request was consumed
}

TEST(RunMode, UnreferencedHandlesDoNotKeepTheLoopAlive) {
  Loop loop;
  Timer background(loop), work(loop);
  bool backgroundFired = false, workFired = false;
  background.start(seconds(30), [&] { backgroundFired = true; });
  background.unref();
  work.start(milliseconds(1), [&] { workFired = true; });
  loop.run();
  EXPECT_TRUE(workFired);
  EXPECT_FALSE(backgroundFired);
  background.ref();
  EXPECT_TRUE(loop.alive());
}

TEST(RunMode, NowIsCachedWithinACallbackAndAdvancesBetweenIterations) {
  Loop loop;
  Timer timer(loop);
  TimePoint first{}, second{}, next{};
  timer.start(Duration::zero(), milliseconds(2), [&] {
    if (first == TimePoint{}) {
      first = loop.now();
      auto spinUntil = Clock::now() + milliseconds(3);
      while (Clock::now() < spinUntil) {
      }
      second = loop.now();
    } else {
      next = loop.now();
      timer.stop();
    }
  });
  loop.run();
  EXPECT_EQ(first, second);
  EXPECT_GT(next, first);
}

}  // namespace
}  // namespace keyloop
