// Channel: records cross in order, in batches, across threads and across
// fork (or to a running process that got its descriptors over a control
// socket), and a full ring applies back-pressure instead of losing records.
#include "common/ipc/channel.h"
#include "common/ipc/control.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstring>
#include <thread>

namespace keyloop::ipc {
namespace {

// The tests' channels: a refusal here is a broken test machine, not a test result.
std::unique_ptr<ChannelMemory> newChannel(std::size_t capacity = 1 << 20) {
  auto made = ChannelMemory::create(capacity);
  if (!made) ADD_FAILURE() << made.error();
  return std::move(*made);
}

std::pair<UniqueFd, UniqueFd> newControlPair() {
  auto made = makeControlPair();
  if (!made) ADD_FAILURE() << made.error();
  return std::move(*made);
}

std::string recordFor(int i) { return "record-" + std::to_string(i) + std::string(static_cast<std::size_t>(i % 300), 'x'); }

// Producer and consumer loops on two threads; a small ring forces wrap-
// around and overflow many times over.
TEST(Channel, RecordsArriveInOrderAcrossThreadsThroughASmallRing) {
  auto channel = newChannel(4096);
  ChannelMemory& memory = *channel;
  constexpr int kRecords = 20000;
  int received = 0;
  bool inOrder = true;
  std::thread consumer([&] {
    Loop loop;
    Timer stopper(loop);
    Receiver receiver(loop, memory, [&](std::string_view r) {
      inOrder = inOrder && r == recordFor(received);
      if (++received == kRecords) stopper.start(Duration::zero(), [] {});
    });
    // Keep the loop alive until everything arrived (the receiver is unref'd).
    Timer keepAlive(loop);
    keepAlive.start(std::chrono::seconds(60), [] {});
    stopper.start(std::chrono::seconds(60), [] {});
    while (received < kRecords && loop.run(RunMode::Once) > 0) {
    }
  });
  Loop loop;
  Sender sender(loop, memory);
  Idle producer(loop);
  int sent = 0;
  producer.start([&] {
    for (int batch = 0; batch < 50 && sent < kRecords; ++batch) sender.send(recordFor(sent++));
    if (sent == kRecords && sender.overflowed() == 0) producer.stop();
  });
  Timer keepAlive(loop);
  keepAlive.start(std::chrono::seconds(60), [] {});
  while ((sent < kRecords || sender.overflowed() > 0) && loop.run(RunMode::Once) > 0) {
  }
  loop.run(RunMode::NoWait);  // the last flush
  consumer.join();
  EXPECT_EQ(received, kRecords);
  EXPECT_TRUE(inOrder);
}

// Sender and Receiver of one channel on one loop (the single-thread tests).
class ChannelOnOneLoop : public ::testing::Test {
 protected:
  explicit ChannelOnOneLoop(std::size_t capacity = 1 << 20)
      : channel(newChannel(capacity)), memory(*channel), sender(loop, memory),
        receiver(loop, memory, [this](std::string_view r) { got.emplace_back(r); }), keepAlive(loop) {
    keepAlive.start(std::chrono::seconds(60), [] {});  // channel handles are unreferenced
  }
  std::unique_ptr<ChannelMemory> channel;
  ChannelMemory& memory;
  Loop loop;
  Sender sender;
  std::vector<std::string> got;
  Receiver receiver;
  Timer keepAlive;
};
class ChannelWithASmallRing : public ChannelOnOneLoop {
 protected:
  ChannelWithASmallRing() : ChannelOnOneLoop(4096) {}
};

std::uint64_t takeWakeUps(int eventFd) {
  std::uint64_t value = 0;
  return ::read(eventFd, &value, sizeof value) == static_cast<ssize_t>(sizeof value) ? value : 0;
}

// An awake receiver (it has not gone into epoll_wait) is not woken: it
// finds the batch itself after its next poll. A sleeping one is woken once
// per batch, however many records the batch holds.
TEST_F(ChannelOnOneLoop, OnlyASleepingReceiverIsWokenAndOncePerBatch) {
  for (int i = 0; i < 100; ++i) sender.send(recordFor(i));
  EXPECT_TRUE(got.empty());  // nothing before the flush
  sender.flush();
  EXPECT_EQ(takeWakeUps(memory.dataReadyFd()), 0u);  // awake: no system call
  loop.run(RunMode::NoWait);  // its check phase drains
  ASSERT_EQ(got.size(), 100u);
  EXPECT_EQ(got[99], recordFor(99));

  memory.header().consumerSleeping.store(kSleeping);  // as the receiver's loop does before epoll_wait
  for (int i = 0; i < 100; ++i) sender.send(recordFor(i));
  sender.flush();
  EXPECT_EQ(takeWakeUps(memory.dataReadyFd()), 1u);
}

// A record sent without wakeIfAsleep wakes a receiver only if it sleeps
// "for any" record (it has work waiting), or if the same batch has a
// record that wakes; either way it arrives, in order.
TEST_F(ChannelOnOneLoop, ARecordThatDoesNotWakeArrivesWithTheNextWakeUp) {
  const auto sendQuietly = [&](std::string_view r) {
    sender.sendInPlace(r.size(), [&](char* out) { std::memcpy(out, r.data(), r.size()); }, /*wakeIfAsleep=*/false);
  };
  memory.header().consumerSleeping.store(kSleeping);
  sendQuietly("quiet");
  sender.flush();
  EXPECT_EQ(takeWakeUps(memory.dataReadyFd()), 0u);
  memory.header().consumerSleeping.store(kSleepingForAny);
  sendQuietly("quiet, but awaited");
  sender.flush();
  EXPECT_EQ(takeWakeUps(memory.dataReadyFd()), 1u);
  memory.header().consumerSleeping.store(kSleeping);
  sendQuietly("quiet, with company");
  sender.send("loud");
  sender.flush();
  EXPECT_EQ(takeWakeUps(memory.dataReadyFd()), 1u);
  loop.run(RunMode::NoWait);
  EXPECT_EQ(got, (std::vector<std::string>{"quiet", "quiet, but awaited", "quiet, with company", "loud"}));
}

// The race the sleep flag must win: the consumer decides to sleep just as
// the producer publishes. One record at a time, each answered before the
// next is sent, so every record finds the other side about to sleep or
// asleep; a lost wake-up would stall the ping-pong until the 60 s guard
// timer, and the test fails on the count instead of hanging.
TEST(Channel, APingPongAcrossThreadsNeverLosesAWakeUp) {
  auto there = newChannel(), back = newChannel();
  constexpr int kRounds = 20000;
  std::thread echo([&] {
    Loop loop;
    Sender reply(loop, *back);
    int seen = 0;
    Receiver requests(loop, *there, [&](std::string_view r) {
      reply.send(r);
      ++seen;
    });
    Timer guard(loop);
    guard.start(std::chrono::seconds(60), [] {});
    while (seen < kRounds && loop.run(RunMode::Once) > 0) {
    }
    loop.run(RunMode::NoWait);  // the last reply's flush
  });
  Loop loop;
  Sender ask(loop, *there);
  int received = 0;
  bool inOrder = true;
  Receiver answers(loop, *back, [&](std::string_view r) {
    inOrder = inOrder && r == recordFor(received);
    if (++received < kRounds) ask.send(recordFor(received));
  });
  ask.send(recordFor(0));
  Timer guard(loop);
  bool timedOut = false;
  guard.start(std::chrono::seconds(60), [&] { timedOut = true; });
  while (received < kRounds && !timedOut && loop.run(RunMode::Once) > 0) {
  }
  if (timedOut) ADD_FAILURE() << "stalled after " << received << " rounds";
  echo.join();
  EXPECT_EQ(received, kRounds);
  EXPECT_TRUE(inOrder);
}

// The lookahead sees the records of a batch, a window at a time, before
// each is delivered (what the owner's prefetch of a batch's keys rides on).
TEST_F(ChannelOnOneLoop, TheLookaheadSeesRecordsBeforeTheyAreDelivered) {
  std::vector<std::string>& events = got;  // deliveries, with the looks in between
  receiver.setLookahead([&](std::string_view r) { events.push_back("look " + std::string(r)); });
  const int records = static_cast<int>(Receiver::kLookahead) + 2;
  for (int i = 0; i < records; ++i) sender.send("deliver " + std::to_string(i));
  sender.flush();
  loop.run(RunMode::NoWait);
  ASSERT_EQ(events.size(), 2u * static_cast<std::size_t>(records));
  for (std::size_t i = 0; i < Receiver::kLookahead; ++i) EXPECT_EQ(events[i], "look deliver " + std::to_string(i));
  EXPECT_EQ(events[Receiver::kLookahead], "deliver 0");
  // The second window is looked at when delivery reaches it.
  const auto second = std::find(events.begin(), events.end(), "look deliver " + std::to_string(Receiver::kLookahead));
  const auto delivered = std::find(events.begin(), events.end(), "deliver " + std::to_string(Receiver::kLookahead - 1));
  EXPECT_TRUE(second != events.end() && delivered < second);
}

// A record many times the ring's size (a big GET reply) arrives whole and
// in order between small ones, fragment by fragment as the ring drains.
TEST_F(ChannelWithASmallRing, RecordsLargerThanTheRingArriveWhole) {
  std::string big(100000, 'x');
  for (std::size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>('a' + i % 26);
  sender.send("before");
  sender.send(big);
  sender.send("after");
  for (int i = 0; i < 10000 && got.size() < 3; ++i) loop.run(RunMode::Once);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "before");
  EXPECT_EQ(got[1], big);
  EXPECT_EQ(got[2], "after");
}

// A child's side: echo every record back, upper-cased, until "quit".
[[noreturn]] void echoUntilQuit(ChannelMemory& in, ChannelMemory& out) {
  Loop loop;
  Sender back(loop, out);
  bool done = false;
  Receiver receiver(loop, in, [&](std::string_view r) {
    if (r == "quit") done = true;
    std::string echoed(r);
    for (char& c : echoed) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    back.send(echoed);
  });
  Timer keepAlive(loop);
  keepAlive.start(std::chrono::seconds(30), [] {});
  while (!done && loop.run(RunMode::Once) > 0) {
  }
  loop.run(RunMode::NoWait);
  ::_exit(0);
}

// The parent's side: three records out, their echoes back, the child reaped.
void expectEchoes(ChannelMemory& toChild, ChannelMemory& toParent, pid_t child) {
  Loop loop;
  Sender out(loop, toChild);
  std::vector<std::string> echoes;
  Receiver in(loop, toParent, [&](std::string_view r) { echoes.emplace_back(r); });
  out.send("hello");
  out.send("world");
  out.send("quit");
  Timer keepAlive(loop);
  keepAlive.start(std::chrono::seconds(30), [] {});
  while (echoes.size() < 3 && loop.run(RunMode::Once) > 0) {
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_EQ(echoes, (std::vector<std::string>{"HELLO", "WORLD", "QUIT"}));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(Channel, WorksAcrossFork) {
  auto toChildChannel = newChannel(), toParentChannel = newChannel();
  ChannelMemory &toChild = *toChildChannel, &toParent = *toParentChannel;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) echoUntilQuit(toChild, toParent);
  expectEchoes(toChild, toParent, child);
}

// What a reload does: channels made after the child was forked reach it as
// descriptors over its control socket (SCM_RIGHTS) and work the same.
TEST(Channel, ChannelsMadeLaterReachARunningChildOverItsControlSocket) {
  auto [parentEnd, childEnd] = newControlPair();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    parentEnd.reset();
    pollfd p{childEnd.get(), POLLIN, 0};
    ::poll(&p, 1, 10000);
    bool closed = false;
    auto m = receiveControl(childEnd.get(), closed);
    if (!m || m->bytes != "link" || m->fds.size() != 6) ::_exit(3);
    auto in = ChannelMemory::attach(std::move(m->fds[0]), std::move(m->fds[1]), std::move(m->fds[2]));
    auto out = ChannelMemory::attach(std::move(m->fds[3]), std::move(m->fds[4]), std::move(m->fds[5]));
    if (!in || !out) ::_exit(4);
    echoUntilQuit(**in, **out);
  }
  childEnd.reset();
  auto toChildChannel = newChannel(), toParentChannel = newChannel();  // made after the fork
  ChannelMemory &toChild = *toChildChannel, &toParent = *toParentChannel;
  const auto a = toChild.descriptors(), b = toParent.descriptors();
  const int fds[] = {a[0], a[1], a[2], b[0], b[1], b[2]};
  ASSERT_TRUE(sendControl(parentEnd.get(), "link", fds));
  expectEchoes(toChild, toParent, child);
}

// Out of descriptors: an error value naming the call, never an exception.
TEST(Channel, ExhaustedDescriptorsAreAnErrorValue) {
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  std::vector<UniqueFd> filler;
  rlimit low = saved;
  low.rlim_cur = 64;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  while (true) {
    UniqueFd fd(::eventfd(0, EFD_CLOEXEC));
    if (!fd) break;
    filler.push_back(std::move(fd));
  }
  auto channel = ChannelMemory::create();
  auto pair = makeControlPair();
  filler.clear();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(!channel.ok());
  EXPECT_NE(channel.error().find("Too many open files"), std::string::npos) << channel.error();
  ASSERT_TRUE(!pair.ok());
  EXPECT_NE(pair.error().find("socketpair"), std::string::npos);
  EXPECT_TRUE(ChannelMemory::create().ok());  // room again
}

TEST(Control, ReportsAClosedPeerAndNoMessage) {
  auto [one, other] = newControlPair();
  bool closed = false;
  EXPECT_FALSE(receiveControl(one.get(), closed).has_value());
  EXPECT_FALSE(closed);  // nothing yet, still open
  other.reset();
  EXPECT_FALSE(receiveControl(one.get(), closed).has_value());
  EXPECT_TRUE(closed);
  EXPECT_FALSE(sendControl(one.get(), "to nobody"));
}

}  // namespace
}  // namespace keyloop::ipc
