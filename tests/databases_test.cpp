// Sixteen databases where one redis-server's tests cannot reach: blocked
// clients wait in their own database (SWAPDB serves them), a reload's
// hand-over keeps every database and each connection's SELECT, the log
// replays SELECT (and SWAPDB, FLUSHDB, MOVE) into another worker count,
// and cluster mode keeps to database 0 as Redis Cluster does. Replies are
// compared with what redis-server answers where it can answer.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "common/ring/ring.h"
#include "tests/support/command.h"
#include "tests/support/keyspace.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

// A key worker `owner` of `workers` owns, named after `stem`.
std::string keyOn(int owner, int workers, const std::string& stem) {
  const ring::Ring ring(workers);
  for (int i = 0;; ++i) {
    const std::string key = stem + std::to_string(i);
    if (ring.ownerOf(key) == owner) return key;
  }
}

bool blockedClients(RespConnection& c, int n) {
  return waitUntil([&] {
    return c.command({"INFO", "clients"}).find("blocked_clients:" + std::to_string(n) + "\r\n") != std::string::npos;
  });
}

// A BLPOP in database 1 is not served by a push to the same name in
// database 0 (on another worker's connection), and is by one in database 1.
TEST(Databases, ABlockedPopWaitsInItsOwnDatabase) {
  KeyloopServer keyloop("workers: 2\n");
  const std::string key = keyOn(1, 2, "queue");
  RespConnection waiter(keyloop.port), pusher(keyloop.port);
  ASSERT_EQ(waiter.command({"SELECT", "1"}), "+OK\r\n");
  waiter.sendCommand({"BLPOP", key, "0"});
  ASSERT_TRUE(blockedClients(pusher, 1));
  ASSERT_EQ(pusher.command({"RPUSH", key, "in-db-0"}), ":1\r\n");
  EXPECT_FALSE(waiter.readReply(std::chrono::milliseconds(200)).has_value()) << "served from another database";
  ASSERT_EQ(pusher.command({"SELECT", "1"}), "+OK\r\n");
  ASSERT_EQ(pusher.command({"RPUSH", key, "in-db-1"}), ":1\r\n");
  EXPECT_EQ(waiter.readReply(), "*2\r\n" + bulk(key) + bulk("in-db-1"));
  ASSERT_EQ(pusher.command({"SELECT", "0"}), "+OK\r\n");
  EXPECT_EQ(pusher.command({"LRANGE", key, "0", "-1"}), "*1\r\n" + bulk("in-db-0"));
}

// SWAPDB brings a list into a database where a client waits for it: it is
// served, as redis-server serves it (both servers, the same steps).
TEST(Databases, SwapdbServesAClientWaitingInEitherDatabase) {
  RedisServer redis;
  KeyloopServer keyloop("workers: 2\n");
  for (const std::uint16_t port : {redis.port, keyloop.port}) {
    SCOPED_TRACE(port == redis.port ? "redis-server" : "keyloop");
    RespConnection waiter(port), other(port);
    ASSERT_EQ(waiter.command({"SELECT", "2"}), "+OK\r\n");
    waiter.sendCommand({"BLPOP", "jobs", "0"});
    ASSERT_TRUE(blockedClients(other, 1));
    ASSERT_EQ(other.command({"SELECT", "5"}), "+OK\r\n");
    ASSERT_EQ(other.command({"RPUSH", "jobs", "j1", "j2"}), ":2\r\n");
    ASSERT_EQ(other.command({"SWAPDB", "2", "5"}), "+OK\r\n");
    EXPECT_EQ(waiter.readReply(), "*2\r\n" + bulk("jobs") + bulk("j1"));
    EXPECT_EQ(waiter.command({"LRANGE", "jobs", "0", "-1"}), "*1\r\n" + bulk("j2"));
    EXPECT_EQ(other.command({"EXISTS", "jobs"}), ":0\r\n");
  }
}

// SWAPDB runs behind a barrier: a cross-worker MGET in one of the two
// databases never sees one worker's key swapped and the other's not.
TEST(Databases, SwapdbIsAtomicAcrossWorkers) {
  KeyloopServer keyloop("workers: 2\n");
  const std::string a = keyOn(0, 2, "a"), b = keyOn(1, 2, "b");
  RespConnection setup(keyloop.port);
  for (const char* db : {"1", "2"}) {
    ASSERT_EQ(setup.command({"SELECT", db}), "+OK\r\n");
    ASSERT_EQ(setup.command({"MSET", a, db, b, db}), "+OK\r\n");
  }
  std::atomic<bool> done{false};
  std::atomic<int> refused{0};
  std::thread swapper([&] {
    RespConnection c(keyloop.port);
    for (int i = 0; i < 200; ++i) {
      if (c.command({"SWAPDB", "1", "2"}) != "+OK\r\n") ++refused;
    }
    done = true;
  });
  RespConnection reader(keyloop.port);
  ASSERT_EQ(reader.command({"SELECT", "1"}), "+OK\r\n");
  int reads = 0, mixed = 0;
  while (!done) {
    const std::vector<std::string> values = RespConnection::elements(reader.command({"MGET", a, b}));
    ++reads;
    if (values.size() != 2 || values[0] != values[1]) ++mixed;
  }
  swapper.join();
  EXPECT_EQ(refused, 0);
  EXPECT_GT(reads, 0);
  EXPECT_EQ(mixed, 0) << "of " << reads << " reads";
  // 200 swaps: each database has what it had.
  EXPECT_EQ(reader.command({"MGET", a, b}), "*2\r\n" + bulk("1") + bulk("1"));
}

// A script in database 4 that builds its keys (on both workers) writes
// them in database 4, locked and committed there.
TEST(Databases, AScriptReachesUndeclaredKeysOfItsOwnDatabase) {
  KeyloopServer keyloop("workers: 2\n");
  const std::string here = keyOn(0, 2, "built"), there = keyOn(1, 2, "built");
  RespConnection c(keyloop.port);
  ASSERT_EQ(c.command({"SET", there, "in db 0"}), "+OK\r\n");
  ASSERT_EQ(c.command({"SELECT", "4"}), "+OK\r\n");
  ASSERT_EQ(c.command({"SET", there, "in db 4"}), "+OK\r\n");
  EXPECT_EQ(c.command({"EVAL", "redis.call('set', ARGV[1], 'x') return redis.call('append', ARGV[2], '!')", "0", here,
                       there}),
            ":8\r\n");
  EXPECT_EQ(c.command({"MGET", here, there}), "*2\r\n" + bulk("x") + bulk("in db 4!"));
  ASSERT_EQ(c.command({"SELECT", "0"}), "+OK\r\n");
  EXPECT_EQ(c.command({"MGET", here, there}), "*2\r\n$-1\r\n" + bulk("in db 0"));
}

// A reload to another worker count moves every database's keys, and a
// connection handed over keeps the database it selected.
TEST(Databases, AReloadKeepsEveryDatabaseAndEachConnectionsSelection) {
  ReloadableServer k("databases-reload", "workers: 2\n");
  RespConnection fill(k.server.port), inFive(k.server.port);
  fillEveryType(fill);
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(fill.command({"SELECT", std::to_string(i % 16)}), "+OK\r\n");
    ASSERT_EQ(fill.command({"SET", "k" + std::to_string(i), "in db " + std::to_string(i % 16)}), "+OK\r\n");
  }
  const std::map<std::string, std::string> before = contents(fill);
  ASSERT_EQ(inFive.command({"SELECT", "5"}), "+OK\r\n");
  const CommandResult reloaded = k.reloadWorkers(3);
  ASSERT_EQ(reloaded.exitCode, 0) << reloaded.output;
  ASSERT_TRUE(k.settlesTo(3));
  RespConnection after(k.server.port);
  EXPECT_EQ(contents(after), before);
  EXPECT_EQ(inFive.command({"GET", "k5"}), bulk("in db 5")) << "the handed-over connection left database 5";
  EXPECT_EQ(inFive.command({"DBSIZE"}), ":13\r\n");
}

std::string logIn(const std::string& dir) {
  return "persistence:\n  dir: " + dir + "\n  snapshot:\n    save: \"\"\n  aof:\n    enabled: yes\n    fsync: always\n";
}

// The log says SELECT where the database changes; a restart with another
// worker count replays every database, SWAPDB and FLUSHDB included.
TEST(Databases, TheLogReplaysEveryDatabaseIntoAnotherWorkerCount) {
  const std::string dir = freshDir("databases-aof");
  std::map<std::string, std::string> before;
  {
    KeyloopServer k("workers: 2\n" + logIn(dir));
    RespConnection c(k.port);
    fillEveryType(c);
    sendAll(c, {{"SELECT", "7"},
                {"MSET", keyOn(0, 2, "a"), "1", keyOn(1, 2, "b"), "2", "{t}c", "3"},
                {"EXPIRE", "{t}c", "9000"},
                {"MOVE", "{t}c", "8"},
                {"SELECT", "9"},
                {"RPUSH", "doomed", "x"},
                {"FLUSHDB"},
                {"SET", "survivor", "1"},
                {"SWAPDB", "7", "9"},
                {"EVAL", "redis.call('select', 11) return redis.call('set', KEYS[1], 'by script')", "1", "scripted"}});
    ASSERT_EQ(c.command({"MULTI"}), "+OK\r\n");
    c.command({"SELECT", "12"});
    c.command({"INCR", "in-multi"});
    ASSERT_EQ(c.command({"EXEC"}), "*2\r\n+OK\r\n:1\r\n");
    before = contents(c);
    EXPECT_EQ(before.count("11/scripted"), 1u);
    EXPECT_EQ(before.count("8/{t}c"), 1u);
    EXPECT_EQ(before.count("7/survivor"), 1u);
  }
  const CommandResult check = runCommand("redis-check-aof " + dir + "/appendonlydir/appendonly.aof.manifest");
  EXPECT_EQ(check.exitCode, 0) << check.output;
  KeyloopServer again("workers: 3\n" + logIn(dir));
  RespConnection c(again.port);
  EXPECT_EQ(contents(c), before);
}

// Cluster mode has database 0 only, with Redis Cluster's errors.
TEST(Databases, ClusterModeKeepsToDatabaseZero) {
  RedisServer redis({"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"});
  const std::uint16_t base = freePortRange(2);
  KeyloopServer keyloop("workers: 2\ncluster:\n  enabled: yes\n  port: " + std::to_string(base) + "\n");
  RespConnection r(redis.port), k(keyloop.port);
  // The redis-server node serves every slot (else its keyed commands are CLUSTERDOWN).
  ASSERT_EQ(r.command({"CLUSTER", "ADDSLOTSRANGE", "0", "16383"}), "+OK\r\n");
  ASSERT_TRUE(waitUntil([&] { return r.command({"CLUSTER", "INFO"}).find("cluster_state:ok") != std::string::npos; }));
  for (const std::vector<std::string>& command : std::vector<std::vector<std::string>>{
           {"SELECT", "0"}, {"SELECT", "1"}, {"SELECT", "99"}, {"MOVE", "k", "1"}, {"SWAPDB", "0", "1"},
           {"COPY", "{k}1", "{k}2", "DB", "1"}, {"COPY", "{k}1", "{k}2", "DB", "0"}, {"CONFIG", "GET", "databases"}}) {
    EXPECT_EQ(k.command(command), r.command(command)) << command[0] << " " << command[1];
  }
}

}  // namespace
}  // namespace keyloop::test
