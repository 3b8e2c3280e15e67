// I/O watchers on socketpairs: readiness, peer close, removal mid-dispatch.
#include <gtest/gtest.h>

#include <memory>

#include "common/loop/handles.h"
#include "common/loop/tests/test_util.h"

namespace keyloop {
namespace {

TEST(Io, ReadableCallbackReceivesTheData) {
  Loop loop;
  test::SocketPair pair;
  IoWatcher io(loop, pair.a.get());
  std::string got;
  io.start(kReadable, [&](std::uint32_t events) {
    EXPECT_TRUE(events & kReadable);
    got += test::readSome(pair.a.get());
    if (got.size() >= 5) io.stop();
  });
  test::writeAll(pair.b.get(), "hello");
  loop.run();
  EXPECT_EQ(got, "hello");
}

TEST(Io, PeerCloseIsReportedAsHangupWithEndOfFile) {
  Loop loop;
  test::SocketPair pair;
  IoWatcher io(loop, pair.a.get());
  std::uint32_t seen = 0;
  ssize_t lastRead = -1;
  io.start(kReadable, [&](std::uint32_t events) {
    seen = events;
    char c;
    lastRead = ::read(pair.a.get(), &c, 1);
    io.stop();
  });
  pair.b.reset();
  loop.run();
  EXPECT_TRUE(seen & kHangup);
  EXPECT_EQ(lastRead, 0);
}

TEST(Io, WritableInterestCanBeTurnedOnAndOff) {
  Loop loop;
  test::SocketPair pair;
  IoWatcher io(loop, pair.a.get());
  int writableCalls = 0;
  io.start(kReadable | kWritable, [&](std::uint32_t events) {
    if (events & kWritable) {
      ++writableCalls;
      test::writeAll(pair.a.get(), "reply");
      io.setInterest(kReadable);  // nothing left to write: stop asking
    }
    if (events & kReadable) io.stop();
  });
  loop.run(RunMode::NoWait);
  loop.run(RunMode::NoWait);
  EXPECT_EQ(writableCalls, 1);
  EXPECT_EQ(io.interest(), static_cast<std::uint32_t>(kReadable));
  EXPECT_EQ(test::readSome(pair.b.get()), "reply");
  test::writeAll(pair.b.get(), "x");
  loop.run();
  EXPECT_FALSE(io.active());
}

// Both watchers are ready in the same poll; whichever runs first destroys the
// other, which must then not be called (ASan catches a use after free).
TEST(Io, DestroyingAnotherReadyWatcherDuringDispatchIsSafe) {
  Loop loop;
  test::SocketPair first, second;
  std::unique_ptr<IoWatcher> watchers[2];
  int calls = 0;
  for (int i = 0; i < 2; ++i) {
    int fd = (i == 0 ? first : second).a.get();
    watchers[i] = std::make_unique<IoWatcher>(loop, fd);
    watchers[i]->start(kReadable, [&, i](std::uint32_t) {
      ++calls;
      watchers[1 - i].reset();
      watchers[i]->stop();
    });
  }
  test::writeAll(first.b.get(), "x");
  test::writeAll(second.b.get(), "y");
  loop.run();
  EXPECT_EQ(calls, 1);
}

TEST(Io, DestroyingTheWatcherInsideItsOwnCallbackIsSafe) {
  Loop loop;
  test::SocketPair pair;
  auto io = std::make_unique<IoWatcher>(loop, pair.a.get());
  int calls = 0;
  io->start(kReadable, [&](std::uint32_t) {
    ++calls;
    io.reset();
  });
  test::writeAll(pair.b.get(), "x");
  loop.run();
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(loop.alive());
}

TEST(Io, ClosingDuringDispatchDefersTheCloseCallback) {
  Loop loop;
  test::SocketPair pair;
  IoWatcher io(loop, pair.a.get());
  Check check(loop);
  std::vector<std::string> log;
  io.start(kReadable, [&](std::uint32_t) {
    log.push_back("io");
    io.close([&] { log.push_back("closed"); });
    check.start([&] {
      log.push_back("check");
      check.stop();
    });
  });
  test::writeAll(pair.b.get(), "x");
  loop.run();
  EXPECT_EQ(log, (std::vector<std::string>{"io", "check", "closed"}));
  EXPECT_EQ(io.start(kReadable, [](std::uint32_t) {}), -EBADF);  // closed for good
}

TEST(Io, EdgeTriggeredReportsEachArrivalOnce) {
  Loop loop;
  test::SocketPair pair;
  IoWatcher io(loop, pair.a.get());
  int calls = 0;
  io.start(kReadable, [&](std::uint32_t) { ++calls; }, Trigger::Edge);
  test::writeAll(pair.b.get(), "x");
  loop.run(RunMode::NoWait);
  loop.run(RunMode::NoWait);  // unread data, but no new edge
  EXPECT_EQ(calls, 1);
  test::writeAll(pair.b.get(), "y");
  loop.run(RunMode::NoWait);
  EXPECT_EQ(calls, 2);
}

TEST(Io, LevelTriggeredReportsUnreadDataAgain) {
  Loop loop;
  test::SocketPair pair;
  IoWatcher io(loop, pair.a.get());
  int calls = 0;
  io.start(kReadable, [&](std::uint32_t) { ++calls; });
  test::writeAll(pair.b.get(), "x");
  loop.run(RunMode::NoWait);
  loop.run(RunMode::NoWait);
  EXPECT_EQ(calls, 2);
}

TEST(Io, StartOnABadDescriptorReturnsTheError) {
  Loop loop;
  IoWatcher io(loop, 1 << 20);
  EXPECT_EQ(io.start(kReadable, [](std::uint32_t) {}), -EBADF);
  EXPECT_FALSE(io.active());
  EXPECT_FALSE(loop.alive());
}

}  // namespace
}  // namespace keyloop
