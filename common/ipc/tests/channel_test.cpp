// Channel: records cross in order, in batches, across threads and across
// fork, and a full ring applies back-pressure instead of losing records.
#include "common/ipc/channel.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/wait.h>

#include <thread>

namespace keyloop::ipc {
namespace {

std::string recordFor(int i) { return "record-" + std::to_string(i) + std::string(static_cast<std::size_t>(i % 300), 'x'); }

// Producer and consumer loops on two threads; a small ring forces wrap-
// around and overflow many times over.
TEST(Channel, RecordsArriveInOrderAcrossThreadsThroughASmallRing) {
  ChannelMemory memory(4096);
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

TEST(Channel, OneFlushWakesTheReceiverOnceForAWholeBatch) {
  ChannelMemory memory;
  Loop loop;
  Sender sender(loop, memory);
  std::vector<std::string> got;
  int wakeups = 0;
  Receiver receiver(loop, memory, [&](std::string_view r) { got.emplace_back(r); });
  for (int i = 0; i < 100; ++i) sender.send(recordFor(i));
  EXPECT_TRUE(got.empty());  // nothing before the flush
  sender.flush();
  std::uint64_t value = 0;
  ASSERT_EQ(::read(memory.dataReadyFd(), &value, sizeof value), static_cast<ssize_t>(sizeof value));
  wakeups = static_cast<int>(value);
  EXPECT_EQ(wakeups, 1);
  ::eventfd_write(memory.dataReadyFd(), 1);  // give the wake-up back to the receiver
  Timer keepAlive(loop);  // channel handles are unreferenced
  keepAlive.start(std::chrono::seconds(60), [] {});
  loop.run(RunMode::NoWait);
  ASSERT_EQ(got.size(), 100u);
  EXPECT_EQ(got[99], recordFor(99));
}

// A record many times the ring's size (a big GET reply) arrives whole and
// in order between small ones, fragment by fragment as the ring drains.
TEST(Channel, RecordsLargerThanTheRingArriveWhole) {
  ChannelMemory memory(4096);
  Loop loop;
  Sender sender(loop, memory);
  std::vector<std::string> got;
  Receiver receiver(loop, memory, [&](std::string_view r) { got.emplace_back(r); });
  std::string big(100000, 'x');
  for (std::size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>('a' + i % 26);
  sender.send("before");
  sender.send(big);
  sender.send("after");
  Timer keepAlive(loop);
  keepAlive.start(std::chrono::seconds(60), [] {});
  for (int i = 0; i < 10000 && got.size() < 3; ++i) loop.run(RunMode::Once);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "before");
  EXPECT_EQ(got[1], big);
  EXPECT_EQ(got[2], "after");
}

TEST(Channel, WorksAcrossFork) {
  ChannelMemory toChild, toParent;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Echo every record back, upper-cased, then exit when told.
    Loop loop;
    Sender back(loop, toParent);
    bool done = false;
    Receiver in(loop, toChild, [&](std::string_view r) {
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

}  // namespace
}  // namespace keyloop::ipc
