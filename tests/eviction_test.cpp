// maxmemory against the real binary: under each allkeys policy the data
// stays within 5% of the limit while three times the limit is written;
// volatile policies take only keys with a TTL (volatile-ttl the soonest
// first) and refuse writes with Redis's -OOM once none is left; LRU keeps
// the keys in use and LFU the keys used most; noeviction refuses writes
// (byte for byte as redis-server) but not deletes; evictions are counted
// and notified.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

constexpr std::size_t kLimit = 16 * 1024 * 1024;

std::string config(const std::string& policy, int workers = 2) {
  return "workers: " + std::to_string(workers) + "\nmaxmemory:\n  limit: " + std::to_string(kLimit) +
         "\n  policy: " + policy + "\nnotify_keyspace_events: Ee\n";
}

std::uint64_t field(RespConnection& c, const std::string& section, const std::string& name) {
  const std::string info = c.command({"INFO", section});
  const std::size_t at = info.find("\r\n" + name + ":");
  if (at == std::string::npos) return 0;
  return std::stoull(info.substr(at + name.size() + 3));
}

// Writes `bytes` of 200-byte values under `prefix`, pipelined; returns how
// many writes were refused.
std::size_t write(RespConnection& c, const std::string& prefix, std::size_t bytes, const std::string& ttl = "") {
  const std::size_t n = bytes / 200;
  const std::string value(200 - 32, 'v');
  std::size_t refused = 0;
  for (std::size_t from = 0; from < n; from += 1000) {
    const std::size_t to = std::min(n, from + 1000);
    for (std::size_t i = from; i < to; ++i) {
      if (ttl.empty()) c.sendCommand({"SET", prefix + std::to_string(i), value});
      else c.sendCommand({"SET", prefix + std::to_string(i), value, "EX", ttl});
    }
    for (std::size_t i = from; i < to; ++i) {
      const auto reply = c.readReply();
      if (!reply || (*reply)[0] == '-') ++refused;
    }
  }
  return refused;
}

// How many of prefix0..prefix<count-1> exist (EXISTS does not touch them, as in Redis).
std::size_t existing(RespConnection& c, const std::string& prefix, std::size_t count) {
  std::size_t found = 0;
  for (std::size_t i = 0; i < count; ++i) c.sendCommand({"EXISTS", prefix + std::to_string(i)});
  for (std::size_t i = 0; i < count; ++i) found += c.readReply() == ":1\r\n";
  return found;
}

// Reads each of them (an access: their LRU clock and LFU counter move);
// how many were there.
std::size_t accessed(RespConnection& c, const std::string& prefix, std::size_t count) {
  std::size_t found = 0;
  for (std::size_t i = 0; i < count; ++i) c.sendCommand({"STRLEN", prefix + std::to_string(i)});
  for (std::size_t i = 0; i < count; ++i) found += c.readReply() != ":0\r\n";
  return found;
}

TEST(Eviction, EveryAllkeysPolicyStaysWithinFivePercentOfTheLimit) {
  for (const std::string policy : {"allkeys-lru", "allkeys-lfu", "allkeys-random"}) {
    KeyloopServer k(config(policy));
    RespConnection c(k.port);
    for (int round = 0; round < 3; ++round) {
      EXPECT_EQ(write(c, "r" + std::to_string(round) + ":", kLimit), 0u) << policy;
      const std::uint64_t used = field(c, "memory", "used_memory");
      EXPECT_LE(used, kLimit + kLimit / 20) << policy << " round " << round;
    }
    EXPECT_GE(field(c, "memory", "used_memory"), kLimit - kLimit / 5) << policy;  // it filled up, then evicted
    EXPECT_GT(field(c, "stats", "evicted_keys"), 10000u) << policy;
    EXPECT_EQ(c.command({"CONFIG", "GET", "maxmemory-policy"}), "*2\r\n$16\r\nmaxmemory-policy\r\n$" +
                                                                    std::to_string(policy.size()) + "\r\n" + policy + "\r\n");
  }
}

TEST(Eviction, NoevictionRefusesWritesAsRedisDoesButNotDeletes) {
  KeyloopServer k(config("noeviction"));
  RespConnection c(k.port);
  EXPECT_GT(write(c, "k:", kLimit * 2), 0u);
  const std::string refused = c.command({"SET", "one-more", "value"});
  RedisServer redis;
  RespConnection r(redis.port);
  ASSERT_EQ(r.command({"CONFIG", "SET", "maxmemory", "1"}), "+OK\r\n");
  EXPECT_EQ(refused, r.command({"SET", "one-more", "value"}));
  EXPECT_EQ(refused, "-OOM command not allowed when used memory > 'maxmemory'.\r\n");
  EXPECT_EQ(c.command({"DEL", "k:1"}), ":1\r\n");  // deletes (no denyoom in Redis) still run
  EXPECT_EQ(c.command({"GET", "k:2"}), "$168\r\n" + std::string(168, 'v') + "\r\n");
  EXPECT_EQ(field(c, "stats", "evicted_keys"), 0u);
  // Room again once the limit is raised at runtime.
  ASSERT_EQ(c.command({"CONFIG", "SET", "maxmemory", "1gb"}), "+OK\r\n");
  EXPECT_EQ(c.command({"SET", "one-more", "value"}), "+OK\r\n");
}

// A limit set at runtime below what is held applies to the next write, as
// in Redis (keyloop once counted only the growth of writes made after it).
TEST(Eviction, ALimitLoweredAtRuntimeHoldsFromTheNextWrite) {
  KeyloopServer k("workers: 1\nmaxmemory:\n  policy: noeviction\n");
  RespConnection c(k.port);
  EXPECT_EQ(write(c, "k:", kLimit / 2), 0u);
  ASSERT_EQ(c.command({"CONFIG", "SET", "maxmemory", "1mb"}), "+OK\r\n");
  const std::string refused = c.command({"SET", "one-more", "value"});
  RedisServer redis;
  RespConnection r(redis.port);
  ASSERT_EQ(r.command({"CONFIG", "SET", "maxmemory", "1"}), "+OK\r\n");
  EXPECT_EQ(refused, r.command({"SET", "one-more", "value"}));
}

TEST(Eviction, VolatilePoliciesTakeOnlyKeysWithATtl) {
  for (const std::string policy : {"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"}) {
    KeyloopServer k(config(policy));
    RespConnection c(k.port);
    const std::size_t persistent = kLimit / 4 / 200;
    ASSERT_EQ(write(c, "keep:", kLimit / 4), 0u);
    EXPECT_EQ(write(c, "ttl:", kLimit, "10000"), 0u) << policy;
    EXPECT_EQ(existing(c, "keep:", persistent), persistent) << policy;
    EXPECT_GT(field(c, "stats", "evicted_keys"), 0u) << policy;
    // Nothing with a TTL left to take: writes are refused.
    EXPECT_GT(write(c, "more:", kLimit), 0u) << policy;
    EXPECT_EQ(existing(c, "keep:", persistent), persistent) << policy;
  }
}

TEST(Eviction, VolatileTtlTakesTheSoonestToExpireFirst) {
  KeyloopServer k(config("volatile-ttl"));
  RespConnection c(k.port);
  ASSERT_EQ(write(c, "late:", kLimit / 2, "100000"), 0u);
  ASSERT_EQ(write(c, "soon:", kLimit / 2, "1000"), 0u);
  const std::size_t late = kLimit / 2 / 200;
  ASSERT_EQ(write(c, "new:", kLimit / 4, "50000"), 0u);
  // The pool of 16 candidates from samples of 5 picks the soonest nearly always.
  EXPECT_GE(existing(c, "late:", late), late * 95 / 100);
  EXPECT_LE(existing(c, "soon:", late), late * 70 / 100);
}

// Waits until OBJECT IDLETIME of `key` is at least `seconds` (the access clock has 1 s steps, as Redis's).
bool idleFor(RespConnection& c, const std::string& key, int seconds) {
  for (int i = 0; i < 1000; ++i) {
    const std::string r = c.command({"OBJECT", "IDLETIME", key});
    if (r.size() > 1 && r[0] == ':' && std::stoi(r.substr(1)) >= seconds) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(Eviction, LruKeepsTheKeysInUse) {
  KeyloopServer k(config("allkeys-lru"));
  RespConnection c(k.port);
  ASSERT_EQ(write(c, "cold:", kLimit * 8 / 10), 0u);
  ASSERT_EQ(write(c, "hot:", 200 * 500), 0u);
  ASSERT_TRUE(idleFor(c, "cold:0", 2));
  EXPECT_EQ(accessed(c, "hot:", 500), 500u);
  ASSERT_EQ(write(c, "new:", kLimit / 2), 0u);
  // Approximated, as Redis's: a sample may hold no idle key, and then the
  // best candidate at hand goes.
  EXPECT_GE(existing(c, "hot:", 500), 450u);
  EXPECT_LE(existing(c, "cold:", kLimit * 8 / 10 / 200), kLimit * 8 / 10 / 200 * 8 / 10);
}

TEST(Eviction, LfuKeepsTheKeysUsedMost) {
  KeyloopServer k(config("allkeys-lfu"));
  RespConnection c(k.port);
  ASSERT_EQ(write(c, "cold:", kLimit * 8 / 10), 0u);
  ASSERT_EQ(write(c, "hot:", 200 * 500), 0u);
  for (int round = 0; round < 30; ++round) accessed(c, "hot:", 500);
  const std::string freq = c.command({"OBJECT", "FREQ", "hot:7"});
  ASSERT_EQ(freq[0], ':') << freq;
  EXPECT_GT(std::stoi(freq.substr(1)), 5);
  EXPECT_EQ(c.command({"OBJECT", "IDLETIME", "hot:7"}).rfind("-ERR An LFU maxmemory policy is selected", 0), 0u);
  ASSERT_EQ(write(c, "new:", kLimit / 2), 0u);
  EXPECT_GE(existing(c, "hot:", 500), 495u);
}

TEST(Eviction, EvictionsAreNotifiedAndCounted) {
  KeyloopServer k(config("allkeys-random", 2));
  RespConnection sub(k.port), c(k.port);
  ASSERT_EQ(sub.command({"SUBSCRIBE", "__keyevent@0__:evicted"}),
            "*3\r\n$9\r\nsubscribe\r\n$22\r\n__keyevent@0__:evicted\r\n:1\r\n");
  ASSERT_EQ(write(c, "k:", kLimit * 2), 0u);
  const std::uint64_t evicted = field(c, "stats", "evicted_keys");
  ASSERT_GT(evicted, 0u);
  for (std::uint64_t i = 0; i < evicted; ++i) {
    const auto message = sub.readReply();
    ASSERT_TRUE(message) << "notification " << i << " of " << evicted;
    ASSERT_EQ(message->rfind("*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:evicted\r\n", 0), 0u) << *message;
  }
}

}  // namespace
}  // namespace keyloop::test
