// Values of every type between keyloop and a real redis-server: a DUMP
// from either RESTOREs into the other with the same contents, for every
// encoding each side has (compressed strings, listpacks, intsets, hash
// tables); encodings convert at their thresholds both ways of CONFIG SET;
// and real clients (redis-py, ioredis, node-redis) use hashes and sets.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "common/resp/reply_reader.h"
#include "tests/support/command.h"
#include "tests/support/node_clients.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

// Every kind of value either side can hold, made the same way on both.
void makeValues(RespConnection& c) {
  std::vector<std::string> bigHash{"HSET", "hbig"}, bigSet{"SADD", "sbig"}, bigInts{"SADD", "sbigint"};
  std::vector<std::string> bigList{"RPUSH", "lbig"}, bigZset{"ZADD", "zbig"};
  for (int i = 0; i < 1000; ++i) {
    bigHash.insert(bigHash.end(), {"f" + std::to_string(i), "v" + std::to_string(i)});
    bigSet.push_back("m" + std::to_string(i));
    bigInts.push_back(std::to_string(i * 7));
    bigList.push_back(i % 3 == 0 ? std::to_string(i * 1000003) : "element:" + std::to_string(i));
    bigZset.insert(bigZset.end(), {i % 2 ? std::to_string(i) + ".25" : std::to_string(-i), "m" + std::to_string(i)});
  }
  const std::vector<std::vector<std::string>> commands = {
      {"SET", "str", "hello"}, {"SET", "int", "12345"}, {"SET", "neg", "-70000"}, {"SET", "long", std::string(100, 'x')},
      {"SET", "compressible", [] { std::string s; for (int i = 0; i < 200; ++i) s += "abc"; return s; }()},
      {"SET", "wide", "9223372036854775807"},
      {"HSET", "hsmall", "a", "1", "b", "hello", "c", "-5", "d", std::string(30, 'x'), "e", "100000", "f", "123456789012"},
      bigHash, bigSet, bigInts,
      {"SADD", "sint", "1", "2", "3", "-5", "100000", "1099511627776"},
      {"SADD", "sstr", "a", "b", "c"},
      {"PFADD", "hll", "a", "b", "c", "d"},
      bigList, bigZset,
      {"RPUSH", "lsmall", "a", "1", "-7", "hello", std::string(70, 'y'), "12345678901"},
      {"ZADD", "zsmall", "1", "a", "-2.5", "b", "1e100", "c", "inf", "d", "-inf", "e", "0.1", "f"},
  };
  for (const auto& command : commands) ASSERT_NE(c.command(command).substr(0, 1), "-") << command[0];
}

const std::vector<std::string> kKeys = {"str",  "int",  "neg",     "long", "compressible", "wide", "hsmall",
                                        "hbig", "sbig", "sbigint", "sint", "sstr",         "hll",  "lbig",
                                        "zbig", "lsmall", "zsmall"};

// A value's contents in an order-free form.
std::vector<std::string> contents(RespConnection& c, const std::string& key) {
  const std::string type = c.command({"TYPE", key});
  std::string reply;
  if (type == "+string\r\n") reply = c.command({"GET", key});
  else if (type == "+hash\r\n") reply = c.command({"HGETALL", key});
  else if (type == "+set\r\n") reply = c.command({"SMEMBERS", key});
  std::vector<std::string> out{type};
  // Lists and sorted sets have an order of their own: kept as it is.
  if (type == "+list\r\n") return out.push_back(c.command({"LRANGE", key, "0", "-1"})), out;
  if (type == "+zset\r\n") return out.push_back(c.command({"ZRANGE", key, "0", "-1", "WITHSCORES"})), out;
  const auto elements = resp::replyElements(reply);
  if (type == "+hash\r\n") {
    std::vector<std::string> pairs;
    for (std::size_t i = 0; i + 1 < elements.size(); i += 2) pairs.push_back(std::string(elements[i]) + "=" + std::string(elements[i + 1]));
    std::sort(pairs.begin(), pairs.end());
    out.insert(out.end(), pairs.begin(), pairs.end());
  } else if (!elements.empty()) {
    std::vector<std::string> sorted(elements.begin(), elements.end());
    std::sort(sorted.begin(), sorted.end());
    out.insert(out.end(), sorted.begin(), sorted.end());
  } else {
    out.push_back(reply);
  }
  return out;
}

void expectDumpsRestoreInto(RespConnection& from, RespConnection& to, const std::string& direction) {
  for (const std::string& key : kKeys) {
    const std::string dumped = from.command({"DUMP", key});
    const auto payload = resp::replyBulk(dumped);
    ASSERT_TRUE(payload.has_value()) << direction << " " << key;
    const std::string copy = key + ":copy";
    ASSERT_EQ(to.command({"RESTORE", copy, "0", std::string(*payload)}), "+OK\r\n") << direction << " " << key;
    EXPECT_EQ(contents(to, copy), contents(from, key)) << direction << " " << key;
    // The same payload restored on its own side: both must give it the
    // same encoding (a small string set aside: Redis 7.0 has no listpack
    // sets, keyloop has Redis 7.2's).
    ASSERT_EQ(from.command({"RESTORE", copy, "0", std::string(*payload)}), "+OK\r\n");
    if (key != "sstr") {
      EXPECT_EQ(to.command({"OBJECT", "ENCODING", copy}), from.command({"OBJECT", "ENCODING", copy})) << direction << " " << key;
    }
    to.command({"DEL", copy});
    from.command({"DEL", copy});
  }
}

TEST(Types, DumpsRestoreBothWaysBetweenKeyloopAndRedis) {
  RedisServer redis;
  KeyloopServer keyloop("workers: 2\n");
  RespConnection r(redis.port), k(keyloop.port);
  r.command({"CONFIG", "SET", "hash-max-listpack-entries", "128"});  // redis.conf's value, keyloop's default
  makeValues(r);
  makeValues(k);
  for (const std::string& key : kKeys) EXPECT_EQ(contents(k, key), contents(r, key)) << key;
  // A short string's payload is Redis's byte for byte; longer ones differ
  // only in that Redis compresses (keyloop writes them plain).
  EXPECT_EQ(k.command({"DUMP", "str"}), r.command({"DUMP", "str"}));
  EXPECT_EQ(k.command({"DUMP", "int"}), r.command({"DUMP", "int"}));
  EXPECT_EQ(k.command({"DUMP", "hll"}), r.command({"DUMP", "hll"}));
  // sstr's encoding differs by design: compare it with the others but say so.
  expectDumpsRestoreInto(r, k, "redis -> keyloop");
  expectDumpsRestoreInto(k, r, "keyloop -> redis");
}

TEST(Types, CorruptPayloadsAreRefusedAndChangeNothing) {
  KeyloopServer keyloop("workers: 1\n");
  RespConnection k(keyloop.port);
  k.command({"HSET", "h", "a", "1"});
  const std::string dumped = k.command({"DUMP", "h"});
  const std::string payload(resp::replyBulk(dumped).value_or(""));
  std::string flipped = payload;
  flipped[2] = static_cast<char>(flipped[2] ^ 0x40);
  EXPECT_EQ(k.command({"RESTORE", "x", "0", flipped}), "-ERR DUMP payload version or checksum are wrong\r\n");
  // A payload whose checksum is right but whose value is cut short.
  EXPECT_EQ(k.command({"RESTORE", "x", "0", std::string("\x04\x05", 2) + payload.substr(payload.size() - 10)}),
            "-ERR DUMP payload version or checksum are wrong\r\n");
  EXPECT_EQ(k.command({"EXISTS", "x"}), ":0\r\n");
  EXPECT_EQ(k.command({"RESTORE", "h", "0", payload, "REPLACE"}), "+OK\r\n");
  EXPECT_EQ(k.command({"HGET", "h", "a"}), "$1\r\n1\r\n");
}

// RESTORE's IDLETIME sets the access clock, which OBJECT IDLETIME reads in
// whole seconds: between the two commands the clock may pass a second
// boundary (or more, on a slow machine), never go back.
TEST(Types, RestoreIdletimeSetsTheIdleClock) {
  KeyloopServer keyloop("workers: 1\n");
  RespConnection k(keyloop.port);
  k.command({"SET", "s", "v"});
  const std::string dumped = k.command({"DUMP", "s"});
  const std::string payload(resp::replyBulk(dumped).value_or(""));
  const auto before = std::chrono::steady_clock::now();
  ASSERT_EQ(k.command({"RESTORE", "r", "0", payload, "IDLETIME", "100"}), "+OK\r\n");
  const std::string idle = k.command({"OBJECT", "IDLETIME", "r"});
  const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - before).count();
  ASSERT_EQ(idle.substr(0, 1), ":") << idle;
  const long long seconds = std::stoll(idle.substr(1));
  EXPECT_GE(seconds, 100);
  EXPECT_LE(seconds, 101 + elapsed);
  k.command({"GET", "r"});  // a touch: idle again from now
  const std::string touched = k.command({"OBJECT", "IDLETIME", "r"});
  EXPECT_LE(std::stoll(touched.substr(1)), 1 + std::chrono::duration_cast<std::chrono::seconds>(
                                                   std::chrono::steady_clock::now() - before).count());
}

TEST(Types, EncodingsConvertAtTheirThresholdsAsConfigured) {
  KeyloopServer keyloop("workers: 2\nencoding:\n  hash_max_listpack_entries: 4\n  set_max_intset_entries: 3\n");
  RespConnection k(keyloop.port);
  k.command({"HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4"});
  EXPECT_EQ(k.command({"OBJECT", "ENCODING", "h"}), "$8\r\nlistpack\r\n");
  k.command({"HSET", "h", "e", "5"});
  EXPECT_EQ(k.command({"OBJECT", "ENCODING", "h"}), "$9\r\nhashtable\r\n");
  k.command({"HDEL", "h", "a", "b", "c", "d"});
  EXPECT_EQ(k.command({"OBJECT", "ENCODING", "h"}), "$9\r\nhashtable\r\n") << "never back, as in Redis";
  k.command({"SADD", "s", "1", "2", "3"});
  EXPECT_EQ(k.command({"OBJECT", "ENCODING", "s"}), "$6\r\nintset\r\n");
  k.command({"SADD", "s", "4"});
  EXPECT_EQ(k.command({"OBJECT", "ENCODING", "s"}), "$8\r\nlistpack\r\n");
  ASSERT_EQ(k.command({"CONFIG", "SET", "set-max-listpack-entries", "4", "hash-max-listpack-entries", "100"}), "+OK\r\n");
  k.command({"SADD", "s", "x"});
  EXPECT_EQ(k.command({"OBJECT", "ENCODING", "s"}), "$9\r\nhashtable\r\n");
  k.command({"HSET", "h2", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"});
  EXPECT_EQ(k.command({"OBJECT", "ENCODING", "h2"}), "$8\r\nlistpack\r\n") << "CONFIG SET reached every worker";
  EXPECT_EQ(k.command({"SCARD", "s"}), ":5\r\n");
}

TEST(Types, RealClientsUseHashesAndSets) {
  KeyloopServer keyloop("workers: 2\n");
  const std::string port = std::to_string(keyloop.port);
  const CommandResult py = runCommand("/usr/bin/python3 " + sourceDir() + "/tests/types/redis_py_client.py " + port + " 2>&1", 60);
  EXPECT_EQ(py.exitCode, 0) << py.output;
  EXPECT_NE(py.output.find("ok"), std::string::npos) << py.output;
  const std::string modules = nodeClientModules();
  for (const char* client : {"ioredis", "redis"}) {
    const std::string script = sourceDir() + "/tests/types/node_client.js";
    const CommandResult node = runCommand("node " + script + " " + client + " " + modules + " " + port + " 2>&1", 60);
    EXPECT_EQ(node.exitCode, 0) << client << ": " << node.output;
    EXPECT_NE(node.output.find("ok"), std::string::npos) << node.output;
  }
}

}  // namespace
}  // namespace keyloop::test
