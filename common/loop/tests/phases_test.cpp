// Phase order within one iteration, and the deferred (microtask) queue.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/loop/handles.h"
#include "common/loop/tests/test_util.h"

namespace keyloop {
namespace {

using Log = std::vector<std::string>;

// Like Node's setTimeout(0) / setImmediate / process.nextTick from the main
// script: the microtask first, then the timer (due at the first iteration),
// then the check callback. Queued in mixed order on purpose. Like Node's
// setImmediate, an Idle keeps poll from blocking while the check is pending
// (a Check alone lets poll sleep until some other event).
TEST(Phases, TimerCheckDeferredFromOutsideTheLoop) {
  Loop loop;
  Log log;
  Check check(loop);
  Idle keepPolling(loop);
  Timer timer(loop);
  keepPolling.start([] {});
  check.start([&] {
    log.push_back("check");
    check.stop();
    keepPolling.stop();
  });
  timer.start(Duration::zero(), [&] { log.push_back("timer"); });
  loop.defer([&] { log.push_back("deferred"); });
  loop.run();
  EXPECT_EQ(log, (Log{"deferred", "timer", "check"}));
}

// From inside an I/O callback the check phase comes before the next
// iteration's timers (Node: setImmediate before setTimeout inside I/O).
TEST(Phases, TimerCheckDeferredFromAnIoCallback) {
  Loop loop;
  Log log;
  test::SocketPair pair;
  IoWatcher io(loop, pair.a.get());
  Check check(loop);
  Timer timer(loop);
  io.start(kReadable, [&](std::uint32_t) {
    io.stop();
    timer.start(Duration::zero(), [&] { log.push_back("timer"); });
    check.start([&] {
      log.push_back("check");
      check.stop();
    });
    loop.defer([&] { log.push_back("deferred"); });
    log.push_back("io");
  });
  test::writeAll(pair.b.get(), "x");
  loop.run();
  EXPECT_EQ(log, (Log{"io", "deferred", "check", "timer"}));
}

TEST(Phases, OneIterationRunsEveryPhaseInLibuvOrder) {
  Loop loop;
  Log log;
  test::SocketPair pair;
  Timer timer(loop);
  Idle idle(loop);
  Prepare prepare(loop);
  Check check(loop);
  IoWatcher io(loop, pair.a.get());
  Timer closed(loop);

  timer.start(Duration::zero(), [&] { log.push_back("timer"); });
  loop.queuePending([&] { log.push_back("pending"); });
  idle.start([&] { log.push_back("idle"); });
  prepare.start([&] { log.push_back("prepare"); });
  io.start(kReadable, [&](std::uint32_t) { log.push_back("poll"); });
  check.start([&] { log.push_back("check"); });
  closed.close([&] { log.push_back("close"); });
  test::writeAll(pair.b.get(), "x");

  EXPECT_EQ(loop.run(RunMode::NoWait), 1u);
  EXPECT_EQ(log, (Log{"timer", "pending", "idle", "prepare", "poll", "check", "close"}));
}

TEST(Phases, DeferredQueueDrainsAfterEveryCallback) {
  Loop loop;
  Log log;
  Timer first(loop), second(loop);
  first.start(Duration::zero(), [&] {
    log.push_back("first");
    loop.defer([&] {
      log.push_back("task");
      loop.defer([&] { log.push_back("nested task"); });
    });
  });
  second.start(Duration::zero(), [&] { log.push_back("second"); });
  loop.run();
  EXPECT_EQ(log, (Log{"first", "task", "nested task", "second"}));
}

TEST(Phases, PendingTasksQueuedDuringAnIterationRunInTheNext) {
  Loop loop;
  Log log;
  loop.queuePending([&] {
    log.push_back("pending 1");
    loop.queuePending([&] { log.push_back("pending 2"); });
  });
  EXPECT_EQ(loop.run(RunMode::NoWait), 1u);
  EXPECT_EQ(log, (Log{"pending 1"}));
  loop.run(RunMode::NoWait);
  EXPECT_EQ(log, (Log{"pending 1", "pending 2"}));
}

// The starvation guard: a task that re-queues itself forever must not keep
// I/O from being polled.
TEST(Phases, SelfRequeueingTaskDoesNotStarveIo) {
  Loop loop;
  test::SocketPair pair;
  std::size_t spins = 0;
  bool ioRan = false;
  std::function<void()> spin = [&] {
    ++spins;
    if (!ioRan) loop.defer(spin);
  };
  IoWatcher io(loop, pair.a.get());
  io.start(kReadable, [&](std::uint32_t) {
    ioRan = true;
    io.stop();
  });
  test::writeAll(pair.b.get(), "x");
  loop.defer(spin);
  std::size_t iterations = loop.run(std::size_t{1000});
  EXPECT_TRUE(ioRan);
  EXPECT_GT(spins, Loop::kDeferredBudget);
  EXPECT_LT(iterations, 1000u);  // the loop ended once the spinning stopped
}

TEST(Phases, ClosingAHandleRunsItsCallbackOnceInTheClosePhase) {
  Loop loop;
  int closes = 0;
  auto* timer = new Timer(loop);
  timer->start(std::chrono::hours(1), [] { FAIL() << "closed timer fired"; });
  timer->close([&, timer] {
    ++closes;
    delete timer;  // the loop never touches a handle after its close callback
  });
  timer->close([&] { ++closes; });  // a second close is ignored
  loop.run();
  EXPECT_EQ(closes, 1);
}

}  // namespace
}  // namespace keyloop
