// Blocking pops across workers (worker/dispatch/blocking.h), against the real
// binary with 4 workers: which key serves, who is served first, the races
// (a push while the client times out, two owners getting elements at
// once), BLMOVE to a third worker, CLIENT UNBLOCK, a disconnect, and a
// reload that retires the waiting client's worker; stream reads (XREAD
// BLOCK on streams of several workers, "$" meaning what comes after the
// client blocked, a consumer group's ">" served exactly once, a deleted
// stream ending a group read, a MULTI that adds and deletes waking no one).
// Every wait for the
// server is for a condition (INFO's blocked_clients, a reply), never a
// fixed time.
#include <gtest/gtest.h>

#include <thread>

#include "common/ring/ring.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

using namespace std::chrono_literals;

constexpr int kWorkers = 4;

std::string keyOn(int worker, int index = 0, int workers = kWorkers) {
  const ring::Ring ring(workers);
  for (int i = 0;; ++i) {
    std::string key = "q:" + std::to_string(i);
    if (ring.ownerOf(key) == worker && index-- == 0) return key;
  }
}

long long blockedClients(RespConnection& c) {
  const std::string info = c.command({"INFO", "clients"});
  const auto at = info.find("blocked_clients:");
  return at == std::string::npos ? -1 : std::atoll(info.c_str() + at + 16);
}

bool waitForBlocked(RespConnection& c, long long n, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (blockedClients(c) == n) return true;
    std::this_thread::sleep_for(2ms);
  }
  return false;
}

std::string bulk(const std::string& s) { return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n"; }
std::string pair(const std::string& key, const std::string& value) { return "*2\r\n" + bulk(key) + bulk(value); }

struct Blocking : ::testing::Test {
  KeyloopServer server{"workers: 4\n"};
  RespConnection control{server.port};
};

TEST_F(Blocking, TheKeyThatGetsAnElementServesAWaitOnKeysOfThreeWorkers) {
  const std::string k1 = keyOn(1), k2 = keyOn(2), k3 = keyOn(3);
  RespConnection waiter(server.port);
  waiter.sendCommand({"BLPOP", k1, k2, k3, "0"});
  ASSERT_TRUE(waitForBlocked(control, 1));
  ASSERT_EQ(control.command({"RPUSH", k2, "x"}), ":1\r\n");
  EXPECT_EQ(waiter.readReply(), pair(k2, "x"));
  EXPECT_TRUE(waitForBlocked(control, 0));
  // Its registrations on the other owners went with it.
  EXPECT_EQ(control.command({"RPUSH", k1, "y"}), ":1\r\n");
  EXPECT_EQ(control.command({"LLEN", k1}), ":1\r\n");
}

TEST_F(Blocking, TheLongestWaitingClientIsServedFirst) {
  const std::string key = keyOn(2);
  std::vector<std::unique_ptr<RespConnection>> waiters;
  for (int i = 0; i < 6; ++i) {
    waiters.push_back(std::make_unique<RespConnection>(server.port));
    waiters.back()->sendCommand({"BRPOP", key, "0"});
    ASSERT_TRUE(waitForBlocked(control, i + 1));
  }
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(control.command({"LPUSH", key, "v" + std::to_string(i)}), ":1\r\n");
    EXPECT_EQ(waiters[static_cast<std::size_t>(i)]->readReply(), pair(key, "v" + std::to_string(i))) << "waiter " << i;
  }
}

TEST_F(Blocking, APushRacingATimeoutIsDeliveredOnceOrKept) {
  // Either the waiter gets the element and the list is empty, or it times
  // out and the element stays: never both, never neither.
  RespConnection pusher(server.port);
  int served = 0, kept = 0;
  for (int round = 0; round < 60; ++round) {
    const std::string key = keyOn(round % kWorkers, round);
    RespConnection waiter(server.port);
    waiter.sendCommand({"BLPOP", key, "0.02"});
    std::this_thread::sleep_for(std::chrono::microseconds(round * 500 % 25000));  // spread pushes around the deadline
    ASSERT_EQ(pusher.command({"RPUSH", key, "x"}), ":1\r\n");
    const auto reply = waiter.readReply();
    ASSERT_TRUE(reply.has_value());
    const std::string left = pusher.command({"LLEN", key});
    if (*reply == pair(key, "x")) {
      EXPECT_EQ(left, ":0\r\n") << "served and kept";
      ++served;
    } else {
      EXPECT_EQ(*reply, "*-1\r\n");
      EXPECT_EQ(left, ":1\r\n") << "timed out and lost";
      ++kept;
    }
    pusher.command({"DEL", key});
  }
  EXPECT_EQ(served + kept, 60);
}

TEST_F(Blocking, TwoOwnersGettingElementsAtOnceServeTheWaitExactlyOnce) {
  for (int round = 0; round < 30; ++round) {
    const std::string k1 = keyOn(1, round), k3 = keyOn(3, round);
    RespConnection waiter(server.port), a(server.port), b(server.port);
    waiter.sendCommand({"BLPOP", k1, k3, "0"});
    ASSERT_TRUE(waitForBlocked(control, 1));
    a.sendCommand({"RPUSH", k1, "from1"});
    b.sendCommand({"RPUSH", k3, "from3"});
    ASSERT_EQ(a.readReply(), ":1\r\n");
    ASSERT_EQ(b.readReply(), ":1\r\n");
    const auto reply = waiter.readReply();
    ASSERT_TRUE(reply == pair(k1, "from1") || reply == pair(k3, "from3")) << reply.value_or("<none>");
    const long long left = std::atoll(control.command({"LLEN", k1}).c_str() + 1) +
                           std::atoll(control.command({"LLEN", k3}).c_str() + 1);
    EXPECT_EQ(left, 1) << "an element was taken twice or lost";
    control.command({"DEL", k1, k3});
    ASSERT_TRUE(waitForBlocked(control, 0));
  }
}

TEST_F(Blocking, BlmoveMovesToADestinationOnAThirdWorker) {
  const std::string source = keyOn(1), destination = keyOn(2);
  RespConnection waiter(server.port);
  waiter.sendCommand({"BLMOVE", source, destination, "LEFT", "RIGHT", "0"});
  ASSERT_TRUE(waitForBlocked(control, 1));
  ASSERT_EQ(control.command({"RPUSH", source, "job"}), ":1\r\n");
  EXPECT_EQ(waiter.readReply(), bulk("job"));
  EXPECT_EQ(control.command({"LRANGE", destination, "0", "-1"}), "*1\r\n" + bulk("job"));
  EXPECT_EQ(control.command({"EXISTS", source}), ":0\r\n");
}

TEST_F(Blocking, SortedSetPopsWaitToo) {
  const std::string key = keyOn(3);
  RespConnection waiter(server.port);
  waiter.sendCommand({"BZPOPMIN", key, "0"});
  ASSERT_TRUE(waitForBlocked(control, 1));
  ASSERT_EQ(control.command({"ZADD", key, "2", "b", "1", "a"}), ":2\r\n");
  EXPECT_EQ(waiter.readReply(), "*3\r\n" + bulk(key) + bulk("a") + bulk("1"));
  EXPECT_EQ(control.command({"ZCARD", key}), ":1\r\n");
}

TEST_F(Blocking, ClientUnblockReachesAClientOnAnyWorker) {
  RespConnection waiter(server.port);
  const std::string id = waiter.command({"CLIENT", "ID"}).substr(1);
  waiter.sendCommand({"BLPOP", keyOn(1), keyOn(2), "0"});
  ASSERT_TRUE(waitForBlocked(control, 1));
  EXPECT_EQ(control.command({"CLIENT", "UNBLOCK", id.substr(0, id.size() - 2), "ERROR"}), ":1\r\n");
  EXPECT_EQ(waiter.readReply(), "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
  waiter.sendCommand({"BLPOP", keyOn(3), "0"});
  ASSERT_TRUE(waitForBlocked(control, 1));
  EXPECT_EQ(control.command({"CLIENT", "UNBLOCK", id.substr(0, id.size() - 2)}), ":1\r\n");
  EXPECT_EQ(waiter.readReply(), "*-1\r\n");
  EXPECT_EQ(control.command({"CLIENT", "UNBLOCK", id.substr(0, id.size() - 2)}), ":0\r\n");
  EXPECT_EQ(control.command({"CLIENT", "UNBLOCK", "x"}), "-ERR value is not an integer or out of range\r\n");
}

TEST_F(Blocking, ADisconnectedWaiterTakesNothing) {
  const std::string key = keyOn(2);
  {
    RespConnection waiter(server.port);
    waiter.sendCommand({"BLPOP", key, "0"});
    ASSERT_TRUE(waitForBlocked(control, 1));
  }
  ASSERT_TRUE(waitForBlocked(control, 0));
  ASSERT_EQ(control.command({"RPUSH", key, "stays"}), ":1\r\n");
  EXPECT_EQ(control.command({"LRANGE", key, "0", "-1"}), "*1\r\n" + bulk("stays"));
}

TEST_F(Blocking, ATimeoutRunsOnTheClientsWorker) {
  RespConnection waiter(server.port);
  const auto started = std::chrono::steady_clock::now();
  waiter.sendCommand({"BLPOP", keyOn(1), keyOn(2), "0.2"});
  EXPECT_EQ(waiter.readReply(), "*-1\r\n");
  EXPECT_GE(std::chrono::steady_clock::now() - started, 200ms);
  EXPECT_TRUE(waitForBlocked(control, 0));
}

// An XREAD reply of one stream with one entry.
std::string oneEntry(const std::string& key, const std::string& id, const std::string& field, const std::string& value) {
  return "*1\r\n*2\r\n" + bulk(key) + "*1\r\n*2\r\n" + bulk(id) + "*2\r\n" + bulk(field) + bulk(value);
}

TEST_F(Blocking, XreadWaitsOnStreamsOfSeveralWorkersForWhatComesAfterIt) {
  const std::string s1 = keyOn(1), s2 = keyOn(2), s3 = keyOn(3);
  ASSERT_EQ(control.command({"XADD", s2, "5-1", "old", "x"}), bulk("5-1"));
  for (int round = 0; round < 20; ++round) {
    RespConnection reader(server.port);
    reader.sendCommand({"XREAD", "BLOCK", "0", "STREAMS", s1, s2, s3, "$", "$", "$"});
    ASSERT_TRUE(waitForBlocked(control, 1));
    const std::string id = std::to_string(10 + round) + "-1";
    ASSERT_EQ(control.command({"XADD", s2, id, "new", std::to_string(round)}), bulk(id));
    EXPECT_EQ(reader.readReply(), oneEntry(s2, id, "new", std::to_string(round)));
    ASSERT_TRUE(waitForBlocked(control, 0));
  }
  // An explicit ID: an entry after it serves at once, one before it waits.
  RespConnection reader(server.port);
  EXPECT_EQ(reader.command({"XREAD", "BLOCK", "0", "STREAMS", s2, "28-1"}), oneEntry(s2, "29-1", "new", "19"));
  reader.sendCommand({"XREAD", "BLOCK", "0", "STREAMS", s3, s1, "0", "0"});
  ASSERT_TRUE(waitForBlocked(control, 1));
  ASSERT_EQ(control.command({"XADD", s1, "1-1", "f", "v"}), bulk("1-1"));
  EXPECT_EQ(reader.readReply(), oneEntry(s1, "1-1", "f", "v"));
}

TEST_F(Blocking, XreadTimesOutWithANullAndAddThenDeleteInMultiWakesNoOne) {
  const std::string key = keyOn(2);
  RespConnection reader(server.port);
  EXPECT_EQ(reader.command({"XREAD", "BLOCK", "20", "STREAMS", key, "$"}), "*-1\r\n");
  reader.sendCommand({"XREAD", "BLOCK", "0", "STREAMS", key, "$"});
  ASSERT_TRUE(waitForBlocked(control, 1));
  ASSERT_EQ(control.command({"MULTI"}), "+OK\r\n");
  control.command({"XADD", key, "1-1", "old", "x"});
  control.command({"DEL", key});
  ASSERT_EQ(control.command({"EXEC"}), "*2\r\n$3\r\n1-1\r\n:1\r\n");
  ASSERT_EQ(control.command({"XADD", key, "2-1", "new", "y"}), bulk("2-1"));
  EXPECT_EQ(reader.readReply(), oneEntry(key, "2-1", "new", "y"));
}

TEST_F(Blocking, AGroupReadIsServedExactlyOnceAndEndsWhenTheStreamGoes) {
  const std::string key = keyOn(3);
  ASSERT_EQ(control.command({"XGROUP", "CREATE", key, "g", "$", "MKSTREAM"}), "+OK\r\n");
  std::vector<std::unique_ptr<RespConnection>> readers;
  for (int i = 0; i < 6; ++i) {
    readers.push_back(std::make_unique<RespConnection>(server.port));
    readers.back()->sendCommand({"XREADGROUP", "GROUP", "g", "c" + std::to_string(i), "COUNT", "1", "BLOCK", "0",
                                 "STREAMS", key, ">"});
  }
  ASSERT_TRUE(waitForBlocked(control, 6));
  for (int i = 1; i <= 4; ++i) {
    ASSERT_EQ(control.command({"XADD", key, std::to_string(i) + "-0", "n", std::to_string(i)}), bulk(std::to_string(i) + "-0"));
  }
  ASSERT_TRUE(waitForBlocked(control, 2));
  // Four entries went to four readers, each once; the group saw them all delivered.
  EXPECT_EQ(control.command({"XPENDING", key, "g"}).substr(0, 4), "*4\r\n");
  EXPECT_NE(control.command({"XPENDING", key, "g"}).find(":4\r\n"), std::string::npos);
  ASSERT_EQ(control.command({"DEL", key}), ":1\r\n");
  int served = 0, ended = 0;
  for (auto& r : readers) {
    const std::string reply = r->readReply().value_or("<none>");
    if (reply.rfind("-UNBLOCKED the stream key no longer exists", 0) == 0) ++ended;
    else if (reply.find("\r\nn\r\n") != std::string::npos) ++served;
  }
  EXPECT_EQ(served, 4);
  EXPECT_EQ(ended, 2);
}

TEST(BlockingReload, AWaitingClientsWorkerRetiresAndTheWaitGoesOn) {
  ReloadableServer s("blocking", "workers: 2\n");
  const std::string key = keyOn(1, 0, 3);
  RespConnection control(s.server.port);
  RespConnection waiter(s.server.port);
  waiter.sendCommand({"BLPOP", key, "0"});
  ASSERT_TRUE(waitForBlocked(control, 1));
  const CommandResult r = s.reloadWorkers(3);
  ASSERT_EQ(r.exitCode, 0) << r.output;
  ASSERT_TRUE(s.settlesTo(3)) << "the retiring workers did not leave";
  RespConnection fresh(s.server.port);
  ASSERT_TRUE(waitForBlocked(fresh, 1)) << "the wait did not move with the connection";
  ASSERT_EQ(fresh.command({"RPUSH", key, "after"}), ":1\r\n");
  EXPECT_EQ(waiter.readReply(), pair(key, "after"));
  EXPECT_EQ(fresh.command({"LLEN", key}), ":0\r\n");
  // A stream read waits across the next reload too, and its "$" still means what it meant.
  ASSERT_EQ(fresh.command({"XADD", key + ":s", "5-5", "old", "x"}), bulk("5-5"));
  waiter.sendCommand({"XREAD", "BLOCK", "0", "STREAMS", key + ":s", "$"});
  ASSERT_TRUE(waitForBlocked(fresh, 1));
  const CommandResult back = s.reloadWorkers(2);
  ASSERT_EQ(back.exitCode, 0) << back.output;
  ASSERT_TRUE(s.settlesTo(2)) << "the retiring workers did not leave";
  RespConnection after(s.server.port);
  ASSERT_TRUE(waitForBlocked(after, 1)) << "the stream wait did not move with the connection";
  ASSERT_EQ(after.command({"XADD", key + ":s", "6-6", "new", "y"}), bulk("6-6"));
  EXPECT_EQ(waiter.readReply(), oneEntry(key + ":s", "6-6", "new", "y"));
}

}  // namespace
}  // namespace keyloop::test
