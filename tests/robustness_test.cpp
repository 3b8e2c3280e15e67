// Bad input and hostile clients: each gets Redis's error or a disconnect;
// the server stays up and other clients never notice.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <random>
#include <map>
#include <vector>
#include <thread>

#include "common/ring/ring.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Sends `bytes` while a second thread drains replies, until all is sent or
// the server closes; returns true if the server closed the connection.
bool sendDraining(RespConnection& c, const std::string& bytes) {
  std::atomic<bool> closed{false};
  std::thread reader([&] { closed = c.closedByPeer(seconds(60)); });
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(c.fd(), bytes.data() + sent, std::min<std::size_t>(1 << 20, bytes.size() - sent),
                       MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  ::shutdown(c.fd(), SHUT_WR);
  reader.join();
  return closed;
}

std::string randomBytes(std::size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  return bytes;
}

TEST(Robustness, OversizedBulkLengthGetsTheProtocolErrorAndOnlyThatClientCloses) {
  KeyloopServer server("limits:\n  proto_max_bulk_len: 1mb\n");
  RespConnection other(server.port);
  RespConnection bad(server.port);
  bad.send("*2\r\n$3\r\nGET\r\n$2000000\r\n");
  EXPECT_EQ(bad.readReply(), "-ERR Protocol error: invalid bulk length\r\n");
  EXPECT_TRUE(bad.closedByPeer());
  EXPECT_EQ(other.command({"PING"}), "+PONG\r\n");
}

TEST(Robustness, AHundredMegabytesOfGarbageEndsInACloseAndNothingElse) {
  KeyloopServer server;
  RespConnection watcher(server.port);
  ASSERT_EQ(watcher.command({"SET", "safe", "value"}), "+OK\r\n");
  for (unsigned seed : {1u, 2u}) {
    std::string garbage = randomBytes(50u << 20, seed);
    if (seed == 2) garbage[0] = '*';  // one run as a broken multibulk header
    RespConnection bad(server.port);
    EXPECT_TRUE(sendDraining(bad, garbage)) << "seed " << seed;
  }
  EXPECT_EQ(watcher.command({"GET", "safe"}), "$5\r\nvalue\r\n");
  EXPECT_EQ(watcher.command({"DBSIZE"}), ":1\r\n");
}

TEST(Robustness, GarbageLinesAreAnsweredAsUnknownCommandsWithoutHarm) {
  KeyloopServer server;
  RespConnection c(server.port);
  c.send("\x01\x02 nonsense\r\nGET\r\n   \r\nPING\r\n");
  EXPECT_EQ(c.readReply(), "-ERR unknown command '\x01\x02', with args beginning with: 'nonsense' \r\n");
  EXPECT_EQ(c.readReply(), "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_EQ(c.readReply(), "+PONG\r\n");
}

TEST(Robustness, QueryBufferLimitClosesTheClient) {
  KeyloopServer server("limits:\n  client_query_buffer_limit: 1mb\n");
  RespConnection bad(server.port);
  // A legal header announcing a 5 MB bulk, then the bytes: over the limit.
  EXPECT_TRUE(sendDraining(bad, "*2\r\n$3\r\nSET\r\n$1\r\nk\r\n$5000000\r\n" + std::string(5000000, 'x')));
  RespConnection other(server.port);
  EXPECT_EQ(other.command({"EXISTS", "k"}), ":0\r\n");
}

TEST(Robustness, AClientThatNeverReadsStallsOnlyItself) {
  KeyloopServer server;
  RespConnection writer(server.port);
  ASSERT_EQ(writer.command({"SETRANGE", "big", "1048575", "x"}), ":1048576\r\n");  // 1 MB
  // 300 pipelined GETs of 1 MB, never read: 300 MB of replies wanted.
  RespConnection greedy(server.port);
  std::string requests;
  for (int i = 0; i < 300; ++i) requests += RespConnection::encode({"GET", "big"});
  std::thread sender([&] { greedy.send(requests); });  // blocks once the server stops reading
  // However the test ends (a failed ASSERT returns early), the sender is
  // unblocked and joined: a joinable thread at exit would abort the run.
  struct Unblock {
    RespConnection& greedy;
    std::thread& sender;
    ~Unblock() {
      ::shutdown(greedy.fd(), SHUT_RDWR);
      if (sender.joinable()) sender.join();
    }
  } unblock{greedy, sender};
  std::this_thread::sleep_for(milliseconds(500));
  RespConnection other(server.port);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(other.command({"INCR", "counter"}), ":" + std::to_string(i + 1) + "\r\n");
  const std::string info = other.command({"INFO", "clients"});
  const auto field = info.find("client_recent_max_output_buffer:");
  ASSERT_NE(field, std::string::npos);
  // Back-pressure: the greedy client's unsent output stays bounded: 1 MB
  // before reading pauses, plus at most 16 forwarded 1 MB replies that were
  // in flight (Client::kMaxReservedReplies), far from the 300 MB it asked for.
  EXPECT_LT(std::stoull(info.substr(field + 32)), 20u << 20) << info;
  ::shutdown(greedy.fd(), SHUT_RDWR);
  sender.join();
  EXPECT_EQ(other.command({"PING"}), "+PONG\r\n");
}

// Reading pauses at 1 MB of unsent output; when the kernel then takes all
// of it at once (loopback does), the requests read before the pause must
// still run: no EPOLLOUT will come to resume them.
TEST(Robustness, APipelineWhoseRepliesPassAMegabyteIsAnsweredInFull) {
  KeyloopServer server("workers: 1\n");
  RespConnection c(server.port);
  const std::string value(100 * 1024, 'v');
  ASSERT_EQ(c.command({"SET", "big", value}), "+OK\r\n");
  std::string requests;
  for (int i = 0; i < 200; ++i) requests += RespConnection::encode({"GET", "big"});
  c.send(requests);  // 4 KB of requests, read in one go: 20 MB of replies
  int whole = 0;
  for (int i = 0; i < 200; ++i) {
    const auto reply = c.readReply(std::chrono::seconds(5));
    if (!reply) break;
    whole += *reply == "$102400\r\n" + value + "\r\n";
  }
  EXPECT_EQ(whole, 200);
}

TEST(Robustness, OutputBufferLimitDisconnectsASlowReader) {
  KeyloopServer server("limits:\n  client_output_buffer_limit: 64kb\n");
  RespConnection writer(server.port);
  ASSERT_EQ(writer.command({"SETRANGE", "big", "33554431", "x"}), ":33554432\r\n");  // 32 MB
  RespConnection slow(server.port);
  slow.sendCommand({"GET", "big"});
  std::this_thread::sleep_for(milliseconds(500));
  // The reply could not fit in the socket buffers: the server gave up on us.
  const std::optional<std::size_t> received = slow.bytesUntilClosed(seconds(20));
  ASSERT_TRUE(received.has_value()) << "the slow reader was never disconnected";
  EXPECT_LT(*received, 32u << 20);
  EXPECT_EQ(writer.command({"PING"}), "+PONG\r\n");
}

// The pid of the worker a connection landed on (INFO runs where it arrives).
long workerPid(RespConnection& c) {
  const std::string info = c.command({"INFO", "server"});
  const std::size_t at = info.find("process_id:");
  return at == std::string::npos ? -1 : std::atol(info.c_str() + at + 11);
}

// A key of `worker` (of 2).
std::string keyOf(int worker) {
  const ring::Ring ring(2);
  for (int i = 0;; ++i) {
    std::string key = "big:" + std::to_string(i);
    if (ring.ownerOf(key) == worker) return key;
  }
}

// The limit holds whoever makes the reply: the connection's own worker,
// the other one (a forwarded reply), both (MGET's fan-out), a script on
// either. Each request is sent from a connection on each worker in turn,
// by a client that reads at once: as in Redis, a reply over the hard
// limit closes the connection as it is added, before a byte of it is sent
// (redis-server, asked the same, does the same).
TEST(Robustness, OutputBufferLimitHoldsOnEveryReplyPath) {
  constexpr std::size_t kLimit = 64 * 1024;
  KeyloopServer server("workers: 2\nlimits:\n  client_output_buffer_limit: 64kb\n");
  RedisServer redis;
  RespConnection writer(server.port), redisWriter(redis.port);
  ASSERT_EQ(redisWriter.command({"CONFIG", "SET", "client-output-buffer-limit", "normal 65536 0 0"}), "+OK\r\n");
  const std::string keys[2] = {keyOf(0), keyOf(1)};
  for (const std::string& key : keys) {
    ASSERT_EQ(writer.command({"SETRANGE", key, "8388607", "x"}), ":8388608\r\n");  // 8 MB each
    ASSERT_EQ(redisWriter.command({"SETRANGE", key, "8388607", "x"}), ":8388608\r\n");
  }
  const std::vector<std::vector<std::string>> requests = {
      {"GET", keys[0]}, {"GET", keys[1]}, {"MGET", keys[0], keys[1]},
      {"EVAL", "return redis.call('GET', KEYS[1])", "1", keys[0]},
      {"EVAL", "return redis.call('GET', KEYS[1])", "1", keys[1]}};
  for (const std::vector<std::string>& request : requests) {
    RespConnection reference(redis.port);
    reference.sendCommand(request);
    const std::optional<std::size_t> received = reference.bytesUntilClosed(seconds(20));
    ASSERT_TRUE(received.has_value()) << "redis-server kept the connection of " << request[0];
    EXPECT_LT(*received, kLimit) << "redis-server, " << request[0];
  }
  // One connection per request on each worker, all opened first.
  std::map<long, std::vector<std::unique_ptr<RespConnection>>> onWorker;
  for (int attempt = 0; attempt < 400; ++attempt) {
    auto c = std::make_unique<RespConnection>(server.port);
    auto& pool = onWorker[workerPid(*c)];
    if (pool.size() < requests.size()) pool.push_back(std::move(c));
    if (onWorker.size() == 2 && onWorker.begin()->second.size() == requests.size() &&
        onWorker.rbegin()->second.size() == requests.size()) {
      break;
    }
  }
  ASSERT_EQ(onWorker.size(), 2u) << "no connection landed on one of the workers";
  for (auto& [worker, pool] : onWorker) {
    ASSERT_EQ(pool.size(), requests.size()) << "too few connections landed on worker " << worker;
    for (std::size_t i = 0; i < requests.size(); ++i) {
      const std::vector<std::string>& request = requests[i];
      const std::string what = request[0] + " " + request.back() + " from worker " + std::to_string(worker);
      pool[i]->sendCommand(request);
      const std::optional<std::size_t> received = pool[i]->bytesUntilClosed(seconds(20));
      ASSERT_TRUE(received.has_value()) << what << ": still open";
      EXPECT_LT(*received, kLimit) << what;
    }
  }
  EXPECT_EQ(writer.command({"PING"}), "+PONG\r\n");
}

TEST(Robustness, MaxClientsRejectsWithRedisError) {
  KeyloopServer server("limits:\n  maxclients: 2\n");
  std::this_thread::sleep_for(milliseconds(200));  // let the start-up probe connection go
  RespConnection a(server.port), b(server.port);
  EXPECT_EQ(a.command({"PING"}), "+PONG\r\n");
  EXPECT_EQ(b.command({"PING"}), "+PONG\r\n");
  RespConnection c(server.port);
  EXPECT_EQ(c.readReply(), "-ERR max number of clients reached\r\n");
  EXPECT_TRUE(c.closedByPeer());
  EXPECT_EQ(a.command({"PING"}), "+PONG\r\n");
}

TEST(Robustness, IdleTimeoutClosesIdleClientsOnly) {
  KeyloopServer server("limits:\n  timeout: 1s\n");
  RespConnection idle(server.port), busy(server.port);
  const auto until = std::chrono::steady_clock::now() + milliseconds(2500);
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_EQ(busy.command({"PING"}), "+PONG\r\n");
    std::this_thread::sleep_for(milliseconds(200));
  }
  EXPECT_TRUE(idle.closedByPeer(seconds(3)));
  EXPECT_EQ(busy.command({"PING"}), "+PONG\r\n");
}

TEST(Robustness, HalfClosedClientStillGetsItsReplies) {
  KeyloopServer server;
  RespConnection c(server.port);
  c.send("SET a 1\r\nGET a\r\n");
  ::shutdown(c.fd(), SHUT_WR);
  EXPECT_EQ(c.readReply(), "+OK\r\n");
  EXPECT_EQ(c.readReply(), "$1\r\n1\r\n");
}

TEST(Robustness, AuthIsRequiredWhenConfigured) {
  KeyloopServer server("requirepass: s3cret\n");
  RespConnection c(server.port);
  EXPECT_EQ(c.command({"GET", "a"}), "-NOAUTH Authentication required.\r\n");
  EXPECT_EQ(c.command({"AUTH", "wrong"}),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  EXPECT_EQ(c.command({"AUTH", "s3cret"}), "+OK\r\n");
  EXPECT_EQ(c.command({"GET", "a"}), "$-1\r\n");
  RespConnection h(server.port);
  EXPECT_EQ(h.command({"HELLO", "3", "AUTH", "default", "s3cret"}).substr(0, 3), "%7\r");
  EXPECT_EQ(h.command({"GET", "a"}), "_\r\n");
}

// A count the client chose never sizes an allocation: the random-member
// commands with a count near -LONG_MAX (which once killed a worker with
// bad_alloc, losing its keys) produce their reply as they go, and the
// connection is closed once it passes the output limit, as Redis closes
// it; both workers keep running with their keys.
TEST(Robustness, ClientSizedRepliesStopAtTheOutputLimitAndNoWorkerDies) {
  KeyloopServer server("workers: 2\nlimits:\n  client_output_buffer_limit: 64kb\n");
  const std::map<int, pid_t> before = workerPidsBySlot(server.process.pid(), 2);
  ASSERT_EQ(before.size(), 2u);
  RespConnection writer(server.port);
  const std::string keys[2] = {keyOf(0), keyOf(1)};
  for (const std::string& key : keys) {
    ASSERT_EQ(writer.command({"SADD", key + ":s", "a"}), ":1\r\n");
    ASSERT_EQ(writer.command({"HSET", key + ":h", "f", "v"}), ":1\r\n");
    ASSERT_EQ(writer.command({"ZADD", key + ":z", "1", "m"}), ":1\r\n");
    ASSERT_EQ(writer.command({"SET", key, "kept"}), "+OK\r\n");
  }
  for (const std::string& key : keys) {
    EXPECT_EQ(writer.command({"SRANDMEMBER", key + ":s", "-9223372036854775808"}),
              "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n");
    const std::vector<std::vector<std::string>> requests = {
        {"SRANDMEMBER", key + ":s", "-9223372036854775807"},
        {"HRANDFIELD", key + ":h", "-9223372036854775807"},
        {"HRANDFIELD", key + ":h", "-4611686018427387903", "WITHVALUES"},
        {"ZRANDMEMBER", key + ":z", "-9223372036854775807"},
        {"ZRANDMEMBER", key + ":z", "-4611686018427387903", "WITHSCORES"}};
    for (const std::vector<std::string>& request : requests) {
      RespConnection c(server.port);
      c.sendCommand(request);
      const std::optional<std::size_t> received = c.bytesUntilClosed(seconds(30));
      ASSERT_TRUE(received.has_value()) << request[0] << " " << request[2] << " was never cut off";
      EXPECT_LT(*received, 2u << 20) << request[0];
    }
  }
  EXPECT_EQ(workerPidsBySlot(server.process.pid(), 2), before) << "a worker was restarted";
  for (const std::string& key : keys) EXPECT_EQ(writer.command({"GET", key}), "$4\r\nkept\r\n");
}

}  // namespace
}  // namespace keyloop::test
