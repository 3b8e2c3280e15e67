// Real clients against the real binary: hiredis, redis-cli (one-shot and
// --pipe mass insertion), redis-benchmark and redis-py must all just work.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <fstream>
#include <map>
#include <thread>
#include <memory>

#include "tests/support/command.h"
#include "tests/support/hiredis.h"
#include "tests/support/keyspace.h"
#include "tests/support/node_clients.h"
#include "tests/support/newer_commands.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

Reply command(redisContext* c, const char* fmt, const std::string& a = "", const std::string& b = "") {
  return Reply(static_cast<redisReply*>(redisCommand(c, fmt, a.c_str(), b.c_str())));
}

TEST(Clients, HiredisCommandsAndADeepPipeline) {
  KeyloopServer server;
  Context c = connect(server.port);
  Reply r = command(c.get(), "SET %s %s", "greeting", "hello world");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, REDIS_REPLY_STATUS);
  EXPECT_STREQ(r->str, "OK");
  r = command(c.get(), "GET %s", "greeting");
  EXPECT_EQ(std::string(r->str, r->len), "hello world");

  constexpr int kDepth = 10000;
  for (int i = 0; i < kDepth; ++i) {
    redisAppendCommand(c.get(), "SET key:%d %d", i, i);
    redisAppendCommand(c.get(), "INCR key:%d", i);
  }
  for (int i = 0; i < kDepth; ++i) {
    void* raw = nullptr;
    ASSERT_EQ(redisGetReply(c.get(), &raw), REDIS_OK);
    Reply set(static_cast<redisReply*>(raw));
    ASSERT_EQ(set->type, REDIS_REPLY_STATUS);
    ASSERT_EQ(redisGetReply(c.get(), &raw), REDIS_OK);
    Reply incr(static_cast<redisReply*>(raw));
    ASSERT_EQ(incr->type, REDIS_REPLY_INTEGER);
    ASSERT_EQ(incr->integer, i + 1) << "replies out of order at " << i;
  }
  r = command(c.get(), "DBSIZE");
  EXPECT_EQ(r->integer, kDepth + 1);
}

TEST(Clients, ManyConnectionsTouchingTheSameKeys) {
  KeyloopServer server;
  std::vector<Context> clients;
  for (int i = 0; i < 50; ++i) clients.push_back(connect(server.port));
  for (int round = 0; round < 20; ++round) {
    for (auto& c : clients) Reply(command(c.get(), "INCR %s", "shared"));
  }
  Reply r = command(clients[7].get(), "GET %s", "shared");
  EXPECT_EQ(std::string(r->str, r->len), "1000");
  r = command(clients[3].get(), "INFO %s", "clients");
  EXPECT_NE(std::string(r->str, r->len).find("connected_clients:50\r\n"), std::string::npos);
}

// Keys with a TTL disappear without being touched (the active expire cycle),
// and INFO's keyspace line follows.
TEST(Clients, ActiveExpiryRemovesUntouchedKeys) {
  KeyloopServer server;
  Context c = connect(server.port);
  for (int i = 0; i < 2000; ++i) redisAppendCommand(c.get(), "SET ttl:%d v PX 1500", i);
  for (int i = 0; i < 2000; ++i) redisAppendCommand(c.get(), "SET keep:%d v", i);
  for (int i = 0; i < 4000; ++i) {
    void* raw = nullptr;
    ASSERT_EQ(redisGetReply(c.get(), &raw), REDIS_OK);
    freeReplyObject(raw);
  }
  Reply info = command(c.get(), "INFO %s", "keyspace");
  EXPECT_NE(std::string(info->str, info->len).find("db0:keys=4000,expires=2000,"), std::string::npos);
  // Only DBSIZE and INFO from here on: neither touches a key.
  long long size = -1;
  for (int attempt = 0; attempt < 100 && size != 2000; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    size = command(c.get(), "DBSIZE")->integer;
  }
  EXPECT_EQ(size, 2000);
  info = command(c.get(), "INFO %s", "stats");
  EXPECT_NE(std::string(info->str, info->len).find("expired_keys:2000\r\n"), std::string::npos);
}

// A big FLUSHALL frees its keys on the thread pool; for clients they are
// gone at once and the server keeps serving.
TEST(Clients, BigFlushallIsImmediateForClients) {
  KeyloopServer server;
  Context c = connect(server.port);
  for (int i = 0; i < 50000; ++i) redisAppendCommand(c.get(), "SET key:%d %d", i, i);
  for (int i = 0; i < 50000; ++i) {
    void* raw = nullptr;
    ASSERT_EQ(redisGetReply(c.get(), &raw), REDIS_OK);
    freeReplyObject(raw);
  }
  EXPECT_EQ(command(c.get(), "DBSIZE")->integer, 50000);
  EXPECT_STREQ(command(c.get(), "FLUSHALL")->str, "OK");
  EXPECT_EQ(command(c.get(), "DBSIZE")->integer, 0);
  EXPECT_EQ(command(c.get(), "GET %s", "key:7")->type, REDIS_REPLY_NIL);
  EXPECT_STREQ(command(c.get(), "SET %s %s", "key:7", "again")->str, "OK");
  EXPECT_EQ(command(c.get(), "DBSIZE")->integer, 1);
}

TEST(Clients, RedisCliOneShotCommands) {
  KeyloopServer server;
  const std::string cli = "redis-cli -p " + std::to_string(server.port) + " ";
  EXPECT_EQ(runCommand(cli + "set a b").output, "OK\n");
  EXPECT_EQ(runCommand(cli + "get a").output, "b\n");
  EXPECT_EQ(runCommand(cli + "incrby n 5").output, "5\n");
  EXPECT_EQ(runCommand(cli + "get nothing").output, "\n");
  EXPECT_EQ(runCommand(cli + "--no-raw get nothing").output, "(nil)\n");
  EXPECT_EQ(runCommand(cli + "bogus").output, "ERR unknown command 'bogus', with args beginning with: \n\n");
  EXPECT_EQ(runCommand(cli + "ping").output, "PONG\n");
}

// redis-cli builds its help and interactive hints from COMMAND DOCS.
TEST(Clients, RedisCliHelpComesFromCommandDocs) {
  KeyloopServer server;
  const std::string cli = "redis-cli -p " + std::to_string(server.port) + " ";
  CommandResult set = runCommand(cli + "help set");
  EXPECT_NE(set.output.find("key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|"
                            "PXAT unix-time-milliseconds|KEEPTTL]"), std::string::npos) << set.output;
  EXPECT_NE(set.output.find("string"), std::string::npos) << set.output;  // the group (colour codes around it)
  CommandResult mset = runCommand(cli + "help mset");
  EXPECT_NE(mset.output.find("key value [key value ...]"), std::string::npos) << mset.output;
  CommandResult client = runCommand(cli + "help client setname");
  EXPECT_NE(client.output.find("CLIENT SETNAME"), std::string::npos) << client.output;
  EXPECT_NE(client.output.find("connection-name"), std::string::npos) << client.output;
}

TEST(Clients, RedisCliPipeMassInsertion) {
  KeyloopServer server;
  const std::string input = server.configPath + ".pipe";
  {
    std::ofstream out(input);
    for (int i = 0; i < 20000; ++i) {
      const std::string key = "mass:" + std::to_string(i), value = std::to_string(i * 3);
      out << "*3\r\n$3\r\nSET\r\n$" << key.size() << "\r\n" << key << "\r\n$" << value.size() << "\r\n"
          << value << "\r\n";
    }
  }
  const std::string cli = "redis-cli -p " + std::to_string(server.port);
  CommandResult r = runCommand(cli + " --pipe < " + input);
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("errors: 0, replies: 20000"), std::string::npos) << r.output;
  EXPECT_EQ(runCommand(cli + " dbsize").output, "20000\n");
  EXPECT_EQ(runCommand(cli + " get mass:19999").output, "59997\n");
}

TEST(Clients, RedisBenchmarkRunsEveryTest) {
  KeyloopServer server;
  CommandResult r = runCommand("redis-benchmark -p " + std::to_string(server.port) +
                               " -t set,get,incr,mset,ping -n 100000 -q", 600);
  EXPECT_EQ(r.exitCode, 0) << r.output;
  for (const char* test : {"SET: ", "GET: ", "INCR: ", "MSET (10 keys): ", "PING_INLINE: ", "PING_MBULK: "}) {
    EXPECT_NE(r.output.find(test), std::string::npos) << test << " missing in:\n" << r.output;
  }
  EXPECT_EQ(r.output.find("ERR"), std::string::npos) << r.output;
}

TEST(Clients, RedisPy) {
  KeyloopServer server;
  const std::string script =
      "import redis\n"
      "r = redis.Redis(port=" + std::to_string(server.port) + ", decode_responses=True)\n"
      "assert r.ping()\n"
      "assert r.set(\"k\", \"v\", ex=100)\n"
      "assert r.get(\"k\") == \"v\"\n"
      "assert 95 <= r.ttl(\"k\") <= 100\n"
      "assert r.incrbyfloat(\"f\", 1.5) == 1.5\n"
      "p = r.pipeline(transaction=False)\n"
      "for i in range(1000): p.set(f\"p{i}\", i)\n"
      "p.execute()\n"
      "assert sorted(r.scan_iter(match=\"p*\", count=100)) == sorted(f\"p{i}\" for i in range(1000))\n"
      "assert r.mget(\"p1\", \"p2\", \"nope\") == [\"1\", \"2\", None]\n"
      "assert r.client_setname(\"py\") and r.client_getname() == \"py\"\n"
      "assert r.info()[\"connected_clients\"] >= 1\n"
      "print(\"redis-py ok\")\n";
  const std::string path = server.configPath + ".py";
  std::ofstream(path) << script;
  CommandResult r = runCommand("/usr/bin/python3 " + path);  // Debian python3-redis
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("redis-py ok"), std::string::npos) << r.output;
}

// Queue-style use of lists and sorted sets by real clients, with the
// queues' keys on different workers: consumers block first (BRPOP), a
// producer pushes, every job arrives once and in order; delayed jobs come
// out of a sorted set by score.
TEST(Clients, QueuesOfRealClientsAcrossWorkers) {
  KeyloopServer server("workers: 4\n");
  const std::string port = std::to_string(server.port);
  const CommandResult py = runCommand("/usr/bin/python3 " + sourceDir() + "/tests/clients/queue_client.py " + port + " 2>&1", 90);
  EXPECT_EQ(py.exitCode, 0) << py.output;
  EXPECT_NE(py.output.find("ok"), std::string::npos) << py.output;
  const std::string modules = nodeClientModules();
  for (const char* client : {"ioredis", "redis"}) {
    const std::string script = sourceDir() + "/tests/clients/queue_client.js";
    const CommandResult node = runCommand("node " + script + " " + client + " " + modules + " " + port + " 2>&1", 90);
    EXPECT_EQ(node.exitCode, 0) << client << ": " << node.output;
    EXPECT_NE(node.output.find("ok"), std::string::npos) << client << ": " << node.output;
  }
}

// Streams as a durable queue through real clients: redis-py consumers in a
// group with one that dies holding jobs (XAUTOCLAIM takes them over) while
// keyloop reloads from 2 workers to 3 half-way; then ioredis and node-redis.
// Every job is processed exactly once and nothing stays pending.
TEST(Clients, StreamConsumerGroupsOfRealClientsAcrossAReload) {
  ReloadableServer s("streams-clients", "workers: 2\n");
  const std::string port = std::to_string(s.server.port);
  CommandResult py;
  std::thread client([&] {
    py = runCommand("/usr/bin/python3 " + sourceDir() + "/tests/clients/stream_client.py " + port + " 2>&1", 120);
  });
  RespConnection control(s.server.port);
  const bool half = waitUntil([&] { return control.command({"GET", "py:phase"}) == "$4\r\nhalf\r\n"; });
  if (half) {
    const CommandResult r = s.reloadWorkers(3);
    EXPECT_EQ(r.exitCode, 0) << r.output;
    EXPECT_TRUE(s.settlesTo(3));
    RespConnection after(s.server.port);
    after.command({"SET", "py:reloaded", "1"});
  }
  client.join();
  ASSERT_TRUE(half) << py.output;
  EXPECT_EQ(py.exitCode, 0) << py.output;
  EXPECT_NE(py.output.find("ok"), std::string::npos) << py.output;
  const std::string modules = nodeClientModules();
  for (const char* which : {"ioredis", "redis"}) {
    const std::string script = sourceDir() + "/tests/clients/stream_client.js";
    const CommandResult node = runCommand("node " + script + " " + which + " " + modules + " " + port + " 2>&1", 90);
    EXPECT_EQ(node.exitCode, 0) << which << ": " << node.output;
    EXPECT_NE(node.output.find("ok"), std::string::npos) << which << ": " << node.output;
  }
}

// Transactions, scripts and pub/sub as applications use them through real
// clients (redis-py, ioredis, node-redis), keys on 4 workers.
TEST(Clients, TransactionsScriptsAndPubSubOfRealClients) {
  KeyloopServer server("workers: 4\n");
  const std::string port = std::to_string(server.port);
  const CommandResult py = runCommand("/usr/bin/python3 " + sourceDir() + "/tests/clients/app_client.py " + port + " 2>&1", 90);
  EXPECT_EQ(py.exitCode, 0) << py.output;
  EXPECT_NE(py.output.find("ok"), std::string::npos) << py.output;
  const std::string modules = nodeClientModules();
  for (const char* client : {"ioredis", "redis"}) {
    const std::string script = sourceDir() + "/tests/clients/app_client.js";
    const CommandResult node = runCommand("node " + script + " " + client + " " + modules + " " + port + " 2>&1", 90);
    EXPECT_EQ(node.exitCode, 0) << client << ": " << node.output;
    EXPECT_NE(node.output.find("ok"), std::string::npos) << client << ": " << node.output;
  }
}

}  // namespace
}  // namespace keyloop::test

namespace keyloop::test {
namespace {

std::string firstBulkText(const std::string& frame) {
  const std::vector<std::string> parts = RespConnection::elements(frame);
  if (parts.empty()) return "";
  const std::string& bulk = parts[0];
  const std::size_t eol = bulk.find("\r\n");
  return bulk.substr(eol + 2, bulk.size() - eol - 4);
}

// Sub-entries (COMMAND INFO's field 9, or COMMAND DOCS' "subcommands"
// map as pairs) by full name. Redis lists them in its hash tables' order,
// which changes from run to run: they are compared by name.
std::map<std::string, std::string> byName(const std::string& aggregate, bool pairs) {
  std::map<std::string, std::string> out;
  const std::vector<std::string> parts = RespConnection::elements(aggregate);
  for (std::size_t i = 0; i < parts.size(); i += pairs ? 2 : 1) {
    if (pairs) out[firstBulkText("*1\r\n" + parts[i])] = parts[i + 1];
    else out[firstBulkText(parts[i])] = parts[i];
  }
  return out;
}

void expectSameEntries(const std::map<std::string, std::string>& mine, const std::map<std::string, std::string>& theirs,
                       const std::string& what) {
  for (const auto& [name, entry] : mine) {
    if (kNewerThanRedis70.contains(name)) continue;
    const auto found = theirs.find(name);
    if (found == theirs.end()) {
      ADD_FAILURE() << what << ": keyloop lists " << name << ", redis-server does not";
      continue;
    }
    EXPECT_EQ(entry, found->second) << what << " of " << name;
  }
}

// COMMAND INFO and COMMAND DOCS of every command keyloop has, byte for byte
// against redis-server, in RESP2 and RESP3: flags (movablekeys, pubsub...),
// key specs, tips, ACL categories, documentation. Only subcommands keyloop
// does not have yet may be missing; what keyloop has of later versions is
// left out (tests/support/newer_commands.h).
TEST(Command, InfoAndDocsMatchRedisForEveryCommand) {
  RedisServer redis;
  KeyloopServer keyloop("workers: 2\n");
  for (const int protocol : {2, 3}) {
    RespConnection toRedis(redis.port), toKeyloop(keyloop.port);
    toRedis.command({"HELLO", std::to_string(protocol)});
    toKeyloop.command({"HELLO", std::to_string(protocol)});
    const std::vector<std::string> commands = RespConnection::elements(toKeyloop.command({"COMMAND"}));
    ASSERT_GT(commands.size(), 200u);
    for (const std::string& listed : commands) {
      const std::string name = firstBulkText(listed);
      if (kNewerThanRedis70.contains(name)) continue;
      const std::string where = name + " (RESP" + std::to_string(protocol) + ")";
      const std::vector<std::string> mine = RespConnection::elements(listed);
      const std::vector<std::string> theirs =
          RespConnection::elements(RespConnection::elements(toRedis.command({"COMMAND", "INFO", name}))[0]);
      ASSERT_EQ(theirs.size(), 10u) << "redis-server has no " << where;
      ASSERT_EQ(mine.size(), 10u) << where;
      for (std::size_t field = 0; field < 9; ++field) EXPECT_EQ(mine[field], theirs[field]) << where << " field " << field;
      expectSameEntries(byName(mine[9], false), byName(theirs[9], false), "COMMAND INFO " + where);

      const std::vector<std::string> myDocs =
          RespConnection::elements(RespConnection::elements(toKeyloop.command({"COMMAND", "DOCS", name}))[1]);
      const std::vector<std::string> theirDocs =
          RespConnection::elements(RespConnection::elements(toRedis.command({"COMMAND", "DOCS", name}))[1]);
      std::string mySubcommands, theirSubcommands;
      auto withoutSubcommands = [](const std::vector<std::string>& pairs, std::string& subcommands) {
        std::vector<std::string> rest;
        for (std::size_t i = 0; i + 1 < pairs.size(); i += 2) {
          if (pairs[i] == "$11\r\nsubcommands\r\n") subcommands = pairs[i + 1];
          else rest.insert(rest.end(), {pairs[i], pairs[i + 1]});
        }
        return rest;
      };
      EXPECT_EQ(withoutSubcommands(myDocs, mySubcommands), withoutSubcommands(theirDocs, theirSubcommands))
          << "COMMAND DOCS " << where;
      expectSameEntries(byName(mySubcommands, true), byName(theirSubcommands, true), "COMMAND DOCS " + where);
    }
  }
}

}  // namespace
}  // namespace keyloop::test
