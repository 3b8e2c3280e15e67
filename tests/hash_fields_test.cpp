// Hash-field expiry (Redis 7.4's HEXPIRE family) against the real binary.
// Redis 7.0.15, the suite's reference server, lacks these commands, so the
// expected replies here are Redis 7.4.1's for the same commands (taken
// from a 7.4.1 server and its t_hash.c), and the payloads it DUMPs are
// embedded as it wrote them. Covered: every command's answers and errors
// on keys of both workers; expired fields vanish from reads at once and
// the active cycle deletes them (hexpired/del events, the hash with its
// last field); HINCRBY keeps a time, HSET drops it; times survive a SAVE
// and restart on another worker count, the append-only log, a reload and
// RESTORE both ways; a hash without times still DUMPs for Redis 7.0.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "common/ring/ring.h"
#include "tests/support/keyspace.h"
#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

std::string integers(const std::vector<long long>& values) {
  std::string out = "*" + std::to_string(values.size()) + "\r\n";
  for (long long v : values) out += ":" + std::to_string(v) + "\r\n";
  return out;
}

std::string error(const std::string& text) { return "-" + text + "\r\n"; }

// A key of worker `owner` of two.
std::string keyOn(int owner, const std::string& stem) {
  const ring::Ring ring(2);
  for (int i = 0;; ++i) {
    const std::string key = stem + std::to_string(i);
    if (ring.ownerOf(key) == owner) return key;
  }
}

std::string fromHex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

constexpr long long kFar = 4000000000;  // seconds: a time no test outlives

TEST(HashFields, CommandsAnswerAsRedis74OnEitherWorker) {
  KeyloopServer keyloop("workers: 2\n");
  RespConnection c(keyloop.port);
  for (int owner = 0; owner < 2; ++owner) {
    const std::string h = keyOn(owner, "hfe"), far = std::to_string(kFar);
    SCOPED_TRACE(h);
    ASSERT_EQ(c.command({"HSET", h, "a", "1", "b", "2", "c", "3"}), ":3\r\n");
    EXPECT_EQ(c.command({"HEXPIREAT", h, far, "FIELDS", "2", "a", "zz"}), integers({1, -2}));
    EXPECT_EQ(c.command({"HEXPIRETIME", h, "FIELDS", "3", "a", "b", "zz"}), integers({kFar, -1, -2}));
    EXPECT_EQ(c.command({"HPEXPIRETIME", h, "FIELDS", "1", "a"}), integers({kFar * 1000}));
    // NX: only a field without a time; GT/XX never one without; LT takes one without.
    EXPECT_EQ(c.command({"HEXPIREAT", h, far, "NX", "FIELDS", "2", "a", "b"}), integers({0, 1}));
    EXPECT_EQ(c.command({"HEXPIREAT", h, std::to_string(kFar - 5), "GT", "FIELDS", "2", "a", "c"}), integers({0, 0}));
    EXPECT_EQ(c.command({"HEXPIREAT", h, std::to_string(kFar - 5), "LT", "FIELDS", "2", "a", "c"}), integers({1, 1}));
    EXPECT_EQ(c.command({"HEXPIREAT", h, far, "XX", "FIELDS", "1", "a"}), integers({1}));
    EXPECT_EQ(c.command({"HEXPIRETIME", h, "FIELDS", "3", "a", "b", "c"}), integers({kFar, kFar, kFar - 5}));
    const std::vector<std::string> ttl = RespConnection::elements(c.command({"HTTL", h, "FIELDS", "1", "a"}));
    ASSERT_EQ(ttl.size(), 1u);
    // Seconds left, rounded up: kFar less this machine's clock, within its rounding.
    EXPECT_LE(std::abs(std::stoll(ttl[0].substr(1)) + static_cast<long long>(std::time(nullptr)) - kFar), 2);
    EXPECT_EQ(c.command({"OBJECT", "ENCODING", h}), "$10\r\nlistpackex\r\n");
    EXPECT_EQ(c.command({"HPERSIST", h, "FIELDS", "3", "a", "zz", "a"}), integers({1, -2, -1}));
    EXPECT_EQ(c.command({"HTTL", h, "FIELDS", "1", "a"}), integers({-1}));
    // A time past deletes the field (2); the hash goes with its last one.
    EXPECT_EQ(c.command({"HEXPIRE", h, "0", "FIELDS", "2", "b", "c"}), integers({2, 2}));
    EXPECT_EQ(c.command({"HGETALL", h}), "*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    EXPECT_EQ(c.command({"HPEXPIRE", h, "0", "FIELDS", "1", "a"}), integers({2}));
    EXPECT_EQ(c.command({"EXISTS", h}), ":0\r\n");
    // A missing key has no fields; another type is the wrong one.
    EXPECT_EQ(c.command({"HEXPIRE", h, "10", "FIELDS", "2", "a", "b"}), integers({-2, -2}));
    EXPECT_EQ(c.command({"HPTTL", h, "FIELDS", "1", "a"}), integers({-2}));
    EXPECT_EQ(c.command({"HPERSIST", h, "FIELDS", "1", "a"}), integers({-2}));
    ASSERT_EQ(c.command({"SET", h, "x"}), "+OK\r\n");
    EXPECT_EQ(c.command({"HTTL", h, "FIELDS", "1", "a"}),
              error("WRONGTYPE Operation against a key holding the wrong kind of value"));
    EXPECT_EQ(c.command({"HEXPIRE", h, "10", "FIELDS", "1", "a"}),
              error("WRONGTYPE Operation against a key holding the wrong kind of value"));
    ASSERT_EQ(c.command({"DEL", h}), ":1\r\n");
    ASSERT_EQ(c.command({"HSET", h, "a", "1"}), ":1\r\n");
    EXPECT_EQ(c.command({"HEXPIRE", h, "-1", "FIELDS", "1", "a"}), error("ERR invalid expire time, must be >= 0"));
    EXPECT_EQ(c.command({"HEXPIRE", h, "x", "FIELDS", "1", "a"}), error("ERR value is not an integer or out of range"));
    EXPECT_EQ(c.command({"HEXPIRE", h, "9999999999999999", "FIELDS", "1", "a"}),
              error("ERR invalid expire time in 'hexpire' command"));
    EXPECT_EQ(c.command({"HPEXPIREAT", h, "70368744177664", "FIELDS", "1", "a"}),
              error("ERR invalid expire time in 'hpexpireat' command"));
    EXPECT_EQ(c.command({"HEXPIRE", h, "10", "FIELDS", "0", "a"}),
              error("ERR Parameter `numFields` should be greater than 0"));
    EXPECT_EQ(c.command({"HEXPIRE", h, "10", "FIELDS", "2", "a"}),
              error("ERR The `numfields` parameter must match the number of arguments"));
    EXPECT_EQ(c.command({"HEXPIRE", h, "10", "NX", "NX", "1", "a"}),
              error("ERR Mandatory argument FIELDS is missing or not at the right position"));
    EXPECT_EQ(c.command({"HTTL", h, "FIELDS", "x", "a"}), error("ERR Number of fields must be a positive integer"));
    EXPECT_EQ(c.command({"HPERSIST", h, "FIELD", "1", "a"}),
              error("ERR Mandatory argument FIELDS is missing or not at the right position"));
    EXPECT_EQ(c.command({"HTTL", h, "FIELDS", "1"}), error("ERR wrong number of arguments for 'httl' command"));
    ASSERT_EQ(c.command({"DEL", h}), ":1\r\n");
  }
}

TEST(HashFields, ExpiredFieldsVanishAndTheActiveCycleDeletesThem) {
  KeyloopServer keyloop("workers: 2\n");
  RespConnection c(keyloop.port), events(keyloop.port);
  ASSERT_EQ(c.command({"CONFIG", "SET", "notify-keyspace-events", "Kgh"}), "+OK\r\n");
  const std::string h = keyOn(1, "gone"), kept = keyOn(0, "kept");
  ASSERT_EQ(events.command({"SUBSCRIBE", "__keyspace@0__:" + h}).substr(0, 4), "*3\r\n");
  ASSERT_EQ(c.command({"HSET", h, "a", "1", "b", "2", "n", "5"}), ":3\r\n");
  ASSERT_EQ(c.command({"HSET", kept, "a", "1"}), ":1\r\n");
  // HINCRBY keeps a field's time; HSET of a field drops it.
  ASSERT_EQ(c.command({"HEXPIRE", h, "100", "FIELDS", "1", "n"}), integers({1}));
  ASSERT_EQ(c.command({"HINCRBY", h, "n", "2"}), ":7\r\n");
  EXPECT_EQ(c.command({"HEXPIRETIME", h, "FIELDS", "1", "n"}).substr(0, 5), "*1\r\n:");
  EXPECT_NE(c.command({"HTTL", h, "FIELDS", "1", "n"}), integers({-1}));
  ASSERT_EQ(c.command({"HSET", kept, "a", "2"}), ":0\r\n");
  ASSERT_EQ(c.command({"HEXPIRE", kept, "100", "FIELDS", "1", "a"}), integers({1}));
  ASSERT_EQ(c.command({"HSET", kept, "a", "3"}), ":0\r\n");
  EXPECT_EQ(c.command({"HTTL", kept, "FIELDS", "1", "a"}), integers({-1}));

  ASSERT_EQ(c.command({"HPEXPIRE", h, "1", "FIELDS", "3", "a", "b", "n"}), integers({1, 1, 1}));
  // Reads leave an expired field out from its time on (the active cycle
  // may not have come yet), then the cycle deletes it and the hash.
  EXPECT_TRUE(waitUntil([&] { return c.command({"HGET", h, "a"}) == "$-1\r\n"; }));
  EXPECT_EQ(c.command({"HEXISTS", h, "b"}), ":0\r\n");
  EXPECT_TRUE(waitUntil([&] { return c.command({"EXISTS", h}) == ":0\r\n"; }));
  std::vector<std::string> seen;
  while (seen.size() < 6) {
    const auto m = events.readReply(std::chrono::seconds(10));
    if (!m) break;
    seen.push_back(RespConnection::elements(*m).back());
  }
  const std::vector<std::string> expected = {bulk("hset"),    bulk("hexpire"),  bulk("hincrby"),
                                             bulk("hexpire"), bulk("hexpired"), bulk("del")};
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(c.command({"HGETALL", kept}), "*2\r\n$1\r\na\r\n$1\r\n3\r\n");
}

TEST(HashFields, TimesSurviveSnapshotsTheLogAReloadAndRestore) {
  const std::string dir = freshDir("hash-fields");
  const std::string far = std::to_string(kFar);
  auto fill = [&](RespConnection& c) {
    for (int i = 0; i < 8; ++i) {
      const std::string h = "h" + std::to_string(i);
      ASSERT_EQ(c.command({"HSET", h, "a", "1", "b", "2"}), ":2\r\n");
      ASSERT_EQ(c.command({"HEXPIREAT", h, std::to_string(kFar + i), "FIELDS", "1", "a"}), integers({1}));
    }
    std::vector<std::string> big = {"HSET", "big"};
    for (int i = 0; i < 300; ++i) big.insert(big.end(), {"f" + std::to_string(i), std::to_string(i)});
    ASSERT_EQ(c.command(big), ":300\r\n");
    ASSERT_EQ(c.command({"HEXPIREAT", "big", far, "FIELDS", "2", "f7", "f200"}), integers({1, 1}));
  };
  auto check = [&](RespConnection& c) {
    for (int i = 0; i < 8; ++i) {
      EXPECT_EQ(c.command({"HEXPIRETIME", "h" + std::to_string(i), "FIELDS", "2", "a", "b"}), integers({kFar + i, -1}));
    }
    EXPECT_EQ(c.command({"HEXPIRETIME", "big", "FIELDS", "3", "f7", "f8", "f200"}), integers({kFar, -1, kFar}));
    EXPECT_EQ(c.command({"HLEN", "big"}), ":300\r\n");
  };
  {
    KeyloopServer k("workers: 2\npersistence:\n  dir: " + dir + "\n  snapshot:\n    save: \"\"\n");
    RespConnection c(k.port);
    fill(c);
    ASSERT_EQ(c.command({"SAVE"}), "+OK\r\n");
  }
  {
    KeyloopServer k("workers: 3\npersistence:\n  dir: " + dir + "\n  snapshot:\n    save: \"\"\n");
    RespConnection c(k.port);
    check(c);
  }
  // The log: HPEXPIREAT, HPERSIST and the cycle's HDEL replay.
  const std::string logged = freshDir("hash-fields-aof");
  {
    KeyloopServer k("workers: 2\npersistence:\n  dir: " + logged + "\n  aof:\n    enabled: yes\n");
    RespConnection c(k.port);
    fill(c);
    ASSERT_EQ(c.command({"HSET", "short", "x", "1", "y", "2"}), ":2\r\n");
    ASSERT_EQ(c.command({"HPEXPIRE", "short", "1", "FIELDS", "1", "x"}), integers({1}));
    ASSERT_EQ(c.command({"HPERSIST", "h3", "FIELDS", "1", "a"}), integers({1}));
    ASSERT_TRUE(waitUntil([&] { return c.command({"HLEN", "short"}) == ":1\r\n"; }));
    ASSERT_EQ(c.command({"HEXPIREAT", "h3", std::to_string(kFar + 3), "FIELDS", "1", "a"}), integers({1}));
  }
  {
    KeyloopServer k("workers: 2\npersistence:\n  dir: " + logged + "\n  aof:\n    enabled: yes\n");
    RespConnection c(k.port);
    check(c);
    EXPECT_EQ(c.command({"HGETALL", "short"}), "*2\r\n$1\r\ny\r\n$1\r\n2\r\n");
  }
  // A reload to three workers moves hashes with their times.
  ReloadableServer r("hash-fields-reload", "workers: 2\n");
  RespConnection before(r.server.port);
  fill(before);
  ASSERT_EQ(r.reloadWorkers(3).exitCode, 0);
  ASSERT_TRUE(r.settlesTo(3));
  RespConnection after(r.server.port);
  check(after);
}

TEST(HashFields, RestoreTakesRedis74PayloadsAndRedis70RefusesOnlyTimedOnes) {
  KeyloopServer keyloop("workers: 2\n");
  RedisServer redis;
  RespConnection c(keyloop.port), r(redis.port);
  // DUMPs of redis-server 7.4.1: a listpackex hash {x: 1, y: 2 until kFar+2}
  // and a hashtable one, f0..f5 with f1, f4 until kFar+3 and f5 until kFar+9.
  const std::string listpackEx = fromHex(
      "19d0479452a30300001d1d00000006008179020201f4d0479452a30300000981780201010001ff0c00805ea61b7c547a1d");
  const std::string table = fromHex(
      "18b84b9452a30300000600026630c00001026631c00101026634c0045771026635c00500026633c00300026632c0020c001c80ea7532701a89");
  ASSERT_EQ(c.command({"RESTORE", "small", "0", listpackEx}), "+OK\r\n");
  EXPECT_EQ(c.command({"HEXPIRETIME", "small", "FIELDS", "2", "x", "y"}), integers({-1, kFar + 2}));
  EXPECT_EQ(c.command({"HGET", "small", "y"}), "$1\r\n2\r\n");
  ASSERT_EQ(c.command({"RESTORE", "table", "0", table}), "+OK\r\n");
  EXPECT_EQ(c.command({"HEXPIRETIME", "table", "FIELDS", "4", "f0", "f1", "f4", "f5"}),
            integers({-1, kFar + 3, kFar + 3, kFar + 9}));
  EXPECT_EQ(c.command({"HLEN", "table"}), ":6\r\n");
  // Ours round-trips, and Redis 7.0 refuses a timed hash's payload as
  // from a newer version, but takes the same hash once its times are gone.
  const std::string dumped = c.command({"DUMP", "table"});
  const std::string payload = dumped.substr(dumped.find("\r\n") + 2, dumped.size() - dumped.find("\r\n") - 4);
  ASSERT_EQ(c.command({"RESTORE", "again", "0", payload}), "+OK\r\n");
  EXPECT_EQ(c.command({"HEXPIRETIME", "again", "FIELDS", "2", "f0", "f5"}), integers({-1, kFar + 9}));
  EXPECT_EQ(r.command({"RESTORE", "table", "0", payload}), error("ERR DUMP payload version or checksum are wrong"));
  ASSERT_EQ(c.command({"HPERSIST", "table", "FIELDS", "3", "f1", "f4", "f5"}), integers({1, 1, 1}));
  const std::string plain = c.command({"DUMP", "table"});
  EXPECT_EQ(r.command({"RESTORE", "table", "0", plain.substr(plain.find("\r\n") + 2, plain.size() - plain.find("\r\n") - 4)}),
            "+OK\r\n");
  EXPECT_EQ(r.command({"HLEN", "table"}), ":6\r\n");
  // A corrupt timed payload is refused and changes nothing.
  std::string corrupt = listpackEx;
  corrupt[3] = static_cast<char>(corrupt[3] ^ 0x40);
  EXPECT_EQ(c.command({"RESTORE", "bad", "0", corrupt}), error("ERR DUMP payload version or checksum are wrong"));
  EXPECT_EQ(c.command({"EXISTS", "bad"}), ":0\r\n");
}

}  // namespace
}  // namespace keyloop::test
