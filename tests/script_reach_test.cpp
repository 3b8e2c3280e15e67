// Scripts that build their keys inside (none declared), as BullMQ's and
// many others' do, against the real binary with 1, 2 and 4 workers: eight
// connections run them at once (two scripts that touch the same keys in
// opposite orders, and a function by FCALL) while a reader checks that it
// never sees part of one; every increment lands once; a script that
// reached another worker's key and runs past busy-reply-threshold is
// killed by SCRIPT KILL and leaves every key usable (aof_test.cpp
// replays one's writes from the log). Waits are for conditions (a reply, a
// value), never for a fixed time.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/ring/ring.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

using namespace std::chrono_literals;

constexpr int kKeys = 10;
constexpr int kConnections = 8;
constexpr int kRounds = 40;
// A script that waits its turn behind every other connection's (each one
// a few round trips between workers) on a busy 2-core machine under the
// sanitizers: far more than it takes, far less than ctest's timeout.
constexpr auto kReplyDeadline = 60s;

const char* const kForward = "for i = 0, 9 do redis.call('INCR', 'reach:' .. i) end return 1";
const char* const kBackward = "for i = 9, 0, -1 do redis.call('INCRBY', 'reach:' .. i, 1) end return 2";
const char* const kLibrary =
    "#!lua name=reach\n"
    "redis.register_function('bump', function(keys, args)\n"
    "  for i = 0, 9 do redis.call('INCR', 'reach:' .. i) end\n"
    "  return 3\n"
    "end)";

std::vector<std::string> mgetAll() {
  std::vector<std::string> mget{"MGET"};
  for (int i = 0; i < kKeys; ++i) mget.push_back("reach:" + std::to_string(i));
  return mget;
}

// The number a bulk reply holds; -1 for a nil, -2 for anything else.
long long numberIn(const std::string& frame) {
  if (frame == "$-1\r\n") return -1;
  if (frame.empty() || frame[0] != '$') return -2;
  const std::size_t start = frame.find("\r\n");
  return std::stoll(frame.substr(start + 2, frame.size() - start - 4));
}

class ScriptsBuildingKeys : public ::testing::TestWithParam<int> {};

TEST_P(ScriptsBuildingKeys, RunWholeOnAnyWorkerWhileOthersRunAtOnce) {
  KeyloopServer keyloop("workers: " + std::to_string(GetParam()) + "\n");
  RespConnection control(keyloop.port);
  ASSERT_EQ(control.command({"FUNCTION", "LOAD", kLibrary}), "$5\r\nreach\r\n");

  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int c = 0; c < kConnections; ++c) {
    writers.emplace_back([&, c] {
      RespConnection w(keyloop.port);
      // Three forward, three backward, two by FCALL.
      const std::vector<std::string> call = c < 3   ? std::vector<std::string>{"EVAL", kForward, "0"}
                                            : c < 6 ? std::vector<std::string>{"EVAL", kBackward, "0"}
                                                    : std::vector<std::string>{"FCALL", "bump", "0"};
      const std::string expected = c < 3 ? ":1\r\n" : c < 6 ? ":2\r\n" : ":3\r\n";
      for (int round = 0; round < kRounds; ++round) {
        w.sendCommand(call);
        const auto reply = w.readReply(kReplyDeadline);
        if (reply != expected) {
          ++failures;
          ADD_FAILURE() << "connection " << c << " round " << round << ": " << reply.value_or("(no reply in time)");
          return;
        }
      }
    });
  }

  // Every read sees the same count in every key: never part of a script.
  // (No ASSERT before the writers are joined: the reader stops instead.)
  RespConnection reader(keyloop.port);
  const long long total = static_cast<long long>(kConnections) * kRounds;
  long long last = 0;
  int reads = 0;
  const auto readWhole = [&] {
    reader.sendCommand(mgetAll());
    const auto reply = reader.readReply(kReplyDeadline);
    if (!reply) return ::testing::AssertionFailure() << "MGET got no reply in time";
    const auto values = RespConnection::elements(*reply);
    if (values.size() != static_cast<std::size_t>(kKeys)) return ::testing::AssertionFailure() << *reply;
    for (const auto& v : values) {
      if (v != values.front()) return ::testing::AssertionFailure() << "a read saw part of a script: " << *reply;
    }
    last = std::max(0LL, numberIn(values.front()));
    ++reads;
    return ::testing::AssertionSuccess();
  };
  while (last < total && failures == 0) {
    const auto read = readWhole();
    EXPECT_TRUE(read);
    if (!read) break;
  }
  for (auto& t : writers) t.join();
  ASSERT_EQ(failures, 0);
  EXPECT_GT(reads, 0);
  const auto values = RespConnection::elements(control.command(mgetAll()));
  ASSERT_EQ(values.size(), static_cast<std::size_t>(kKeys));
  for (const auto& v : values) EXPECT_EQ(numberIn(v), total) << "an increment was lost or made twice";
}

INSTANTIATE_TEST_SUITE_P(Workers, ScriptsBuildingKeys, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return std::to_string(info.param) + "Workers"; });

std::string keyOn(int worker, int workers) {
  const ring::Ring ring(workers);
  for (int i = 0;; ++i) {
    std::string key = "held:" + std::to_string(i);
    if (ring.ownerOf(key) == worker) return key;
  }
}

TEST(ScriptsBuildingKeys, OneKilledPastItsLimitLeavesEveryKeyUsable) {
  KeyloopServer keyloop("workers: 2\nbusy_reply_threshold: 50ms\n");
  const std::string a = keyOn(0, 2);
  const std::string b = keyOn(1, 2);
  RespConnection runner(keyloop.port);
  ASSERT_EQ(runner.command({"MSET", a, "1", b, "2"}), "+OK\r\n");
  // Whichever worker runs it, one of the two keys is the other's; then it
  // loops without writing, so it can be killed.
  runner.sendCommand({"EVAL",
                      "redis.call('GET', '" + a + "') redis.call('GET', '" + b +
                          "') local i = 0 while true do i = i + 1 end",
                      "0"});
  RespConnection killer(keyloop.port);
  std::string kill;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  do {
    kill = killer.command({"SCRIPT", "KILL"});
  } while (kill.rfind("-NOTBUSY", 0) == 0 && std::chrono::steady_clock::now() < deadline);
  ASSERT_EQ(kill, "+OK\r\n");
  const auto killed = runner.readReply(kReplyDeadline);
  ASSERT_TRUE(killed.has_value());
  EXPECT_EQ(killed->rfind("-ERR Script killed by user with SCRIPT KILL...", 0), 0u) << *killed;
  // Its keys are free: plain commands and another reaching script use them.
  RespConnection after(keyloop.port);
  EXPECT_EQ(after.command({"SET", a, "10"}), "+OK\r\n");
  EXPECT_EQ(after.command({"SET", b, "20"}), "+OK\r\n");
  EXPECT_EQ(after.command({"EVAL", "return redis.call('INCR', '" + a + "') + redis.call('INCR', '" + b + "')", "0"}),
            ":32\r\n");
}

}  // namespace
}  // namespace keyloop::test
