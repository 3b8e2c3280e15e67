// WAITAOF (Redis 7.2; the reference redis-server 7.0 lacks it, so the
// texts are 7.2's replication.c): its errors, a wait for replicas that
// lasts its timeout with the connection's next reply behind it, and a
// wait for the fsync of writes that went to every worker's log.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>

#include "tests/support/keyspace.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

std::string pair(long long local, long long replicas) {
  return "*2\r\n:" + std::to_string(local) + "\r\n:" + std::to_string(replicas) + "\r\n";
}

TEST(WaitAof, AnswersAsRedis72) {
  KeyloopServer plain("workers: 2\n");
  RespConnection c(plain.port);
  EXPECT_EQ(c.command({"WAITAOF", "0", "0", "0"}), pair(0, 0));  // no log: nothing local
  EXPECT_EQ(c.command({"WAITAOF", "1", "0", "0"}),
            "-ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.\r\n");
  EXPECT_EQ(c.command({"WAITAOF", "2", "0", "0"}), "-ERR value is out of range, value must between 0 and 1\r\n");
  EXPECT_EQ(c.command({"WAITAOF", "x", "0", "0"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(c.command({"WAITAOF", "0", "-1", "0"}), "-ERR value is out of range, must be positive\r\n");
  EXPECT_EQ(c.command({"WAITAOF", "0", "0", "-1"}), "-ERR timeout is negative\r\n");
  EXPECT_EQ(c.command({"WAITAOF", "0", "0", "1.5"}), "-ERR timeout is not an integer or out of range\r\n");
  EXPECT_EQ(c.command({"WAITAOF", "0", "0"}), "-ERR wrong number of arguments for 'waitaof' command\r\n");
  EXPECT_EQ(c.command({"EVAL", "return redis.call('waitaof', 0, 0, 0)", "0"}).rfind("-ERR This Redis command is not allowed from script", 0), 0u);
  // No replica acknowledges: a wait for one lasts its timeout, and the
  // connection's next reply waits behind it.
  c.send(RespConnection::encode({"WAITAOF", "0", "1", "50"}) + RespConnection::encode({"PING"}));
  EXPECT_EQ(c.readReply(), pair(0, 0));
  EXPECT_EQ(c.readReply(), "+PONG\r\n");
}

TEST(WaitAof, WaitsForTheFsyncOfWritesOnEveryWorker) {
  const std::string dir = freshDir("waitaof");
  KeyloopServer server("workers: 2\npersistence:\n  dir: " + dir + "\n  aof:\n    enabled: yes\n    fsync: everysec\n");
  RespConnection client(server.port);
  for (int i = 0; i < 40; ++i) {
    const std::string key = "w" + std::to_string(i);
    ASSERT_EQ(client.command({"SET", key, "v"}), "+OK\r\n");
  }
  // everysec: answered once the next fsync of both workers' logs covers them.
  EXPECT_EQ(client.command({"WAITAOF", "1", "0", "0"}), pair(1, 0));
  EXPECT_EQ(client.command({"WAITAOF", "0", "0", "0"}), pair(1, 0));
  // A wait without a timeout for a replica holds until the connection goes;
  // the worker goes on serving others meanwhile.
  RespConnection blocked(server.port);
  blocked.sendCommand({"WAITAOF", "1", "1", "0"});
  EXPECT_EQ(blocked.readReply(std::chrono::milliseconds(300)), std::nullopt);
  EXPECT_EQ(client.command({"SET", "after", "1"}), "+OK\r\n");
  EXPECT_EQ(client.command({"WAITAOF", "1", "0", "0"}), pair(1, 0));
  ::shutdown(blocked.fd(), SHUT_RDWR);
  EXPECT_EQ(client.command({"PING"}), "+PONG\r\n");
  // appendfsync always: fsynced as it is acknowledged.
  ASSERT_EQ(client.command({"CONFIG", "SET", "appendfsync", "always"}), "+OK\r\n");
  ASSERT_EQ(client.command({"SET", "w1", "again"}), "+OK\r\n");
  EXPECT_EQ(client.command({"WAITAOF", "1", "0", "100000"}), pair(1, 0));
}

}  // namespace
}  // namespace keyloop::test
