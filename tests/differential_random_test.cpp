// Random differential test: seeded random commands of the implemented set,
// with arguments drawn from values that hit the edges (bad numbers, huge
// offsets, options in wrong places, wrong arities), go to a real
// redis-server and to keyloop (4 workers, so multi-key commands cross
// workers); every reply must be byte-identical, and so must the values of
// every key, checked every few commands. The scripted differential test
// covers what a person thought of; this one found SETRANGE's offset
// overflow that crashed a worker. Streams take explicit IDs only.
//
// TTLs are long (no reply depends on the clock); a failure prints the seed
// and the last commands, and the same seed replays the same commands.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "common/resp/reply_reader.h"

#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

struct CommandShape {
  std::string name;
  std::vector<std::string> words;  // options and numbers that suit it
  bool unordered = false;          // an array reply in hash-table order (set algebra): compared as a multiset
};

const std::vector<CommandShape>& commandShapes() {
  static const std::vector<CommandShape> shapes = {
      {"SET", {"EX", "PX", "EXAT", "PXAT", "NX", "XX", "KEEPTTL", "GET", "100000", "0", "-1"}},
      {"GET", {}}, {"GETSET", {}}, {"GETDEL", {}},
      {"GETEX", {"EX", "PX", "EXAT", "PXAT", "PERSIST", "100000", "0", "-5"}},
      {"SETNX", {}}, {"SETEX", {"100000", "0", "-1", "abc"}}, {"PSETEX", {"100000000", "0"}},
      {"MGET", {}}, {"MSET", {}}, {"MSETNX", {}}, {"APPEND", {}}, {"STRLEN", {}},
      {"SETRANGE", {"0", "5", "-1", "536870911", "9223372036854775807", "abc"}},
      {"GETRANGE", {"0", "-1", "5", "-100", "9223372036854775807", "abc"}},
      {"INCR", {}}, {"DECR", {}},
      {"INCRBY", {"1", "-1", "9223372036854775807", "-9223372036854775808", "abc", "1.5"}},
      {"DECRBY", {"1", "-9223372036854775808", "9223372036854775807"}},
      {"INCRBYFLOAT", {"1.5", "-0.1", "1e3", "inf", "-inf", "nan", "abc", "5.0e3", "0x10", " 1", "1.0000000000000001"}},
      {"DEL", {}}, {"UNLINK", {}}, {"EXISTS", {}}, {"TYPE", {}}, {"RENAME", {}}, {"RENAMENX", {}},
      {"TOUCH", {}}, {"DBSIZE", {}},
      {"EXPIRE", {"100000", "0", "-1", "NX", "XX", "GT", "LT", "abc", "9223372036854775807"}},
      {"PEXPIRE", {"100000000", "NX", "GT", "LT", "-9223372036854775808"}},
      {"EXPIREAT", {"4102444800", "1", "NX", "XX", "LT", "GT"}},
      {"PEXPIREAT", {"4102444800000", "GT", "XX"}},
      {"TTL", {}}, {"PERSIST", {}}, {"PING", {"hello"}}, {"ECHO", {"x"}}, {"SELECT", {"0", "1", "abc"}},
      // hashes
      {"HSET", {"f", "g", "1"}}, {"HSETNX", {"f", "g"}}, {"HGET", {"f", "g"}}, {"HMGET", {"f", "g"}},
      {"HDEL", {"f", "g"}}, {"HLEN", {}}, {"HSTRLEN", {"f"}}, {"HEXISTS", {"f", "g"}},
      {"HINCRBY", {"f", "1", "-3", "9223372036854775807", "abc"}}, {"HINCRBYFLOAT", {"f", "1.5", "inf", "abc"}},
      {"HKEYS", {}}, {"HVALS", {}}, {"HGETALL", {}}, {"HMSET", {"f", "g"}},
      // sets (small string sets are hash tables in Redis 7.0: their order is its own)
      {"SADD", {"m", "1", "2", "-3"}}, {"SREM", {"m", "1"}}, {"SISMEMBER", {"m", "1"}},
      {"SMISMEMBER", {"m", "1", "2"}}, {"SCARD", {}}, {"SMEMBERS", {}, true},
      {"SMOVE", {"m", "1", "2"}}, {"SINTER", {}, true}, {"SUNION", {}, true}, {"SDIFF", {}, true},
      {"SINTERSTORE", {}}, {"SUNIONSTORE", {}}, {"SDIFFSTORE", {}}, {"SINTERCARD", {"1", "2", "LIMIT", "0"}},
      // bitmaps, HyperLogLog, LCS, COPY
      {"SETBIT", {"0", "7", "100", "1", "-1"}}, {"GETBIT", {"0", "7", "100"}},
      {"BITCOUNT", {"0", "-1", "1", "BIT", "BYTE"}}, {"BITPOS", {"0", "1", "2", "-1", "BIT"}},
      {"BITOP", {"AND", "OR", "XOR", "NOT"}}, {"BITFIELD", {"GET", "SET", "INCRBY", "u8", "i5", "0", "#1", "OVERFLOW", "SAT"}},
      {"PFADD", {"a", "b", "c"}}, {"PFCOUNT", {}}, {"PFMERGE", {}},
      {"LCS", {"LEN", "IDX", "WITHMATCHLEN", "MINMATCHLEN", "1"}}, {"COPY", {"REPLACE"}},
      {"LPUSH", {"a", "b", "1"}}, {"RPUSH", {"a", "c", "2"}}, {"LPUSHX", {"a"}}, {"RPUSHX", {"b"}},
      {"LPOP", {"1", "2", "0", "-1"}}, {"RPOP", {"2", "abc"}}, {"LLEN", {}}, {"LRANGE", {"0", "-1", "1", "-2", "abc"}},
      {"LINDEX", {"0", "-1", "2"}}, {"LSET", {"0", "-1", "x"}}, {"LINSERT", {"BEFORE", "AFTER", "a", "z"}},
      {"LREM", {"0", "1", "-1", "a"}}, {"LTRIM", {"0", "1", "-1", "5"}}, {"LPOS", {"a", "RANK", "-1", "COUNT", "0"}},
      {"LMOVE", {"LEFT", "RIGHT"}}, {"RPOPLPUSH", {}}, {"LMPOP", {"1", "2", "LEFT", "RIGHT", "COUNT", "3"}},
      {"ZADD", {"1", "2.5", "-inf", "m", "n", "NX", "XX", "GT", "CH", "INCR"}}, {"ZINCRBY", {"1", "m", "-2.5"}},
      {"ZREM", {"m", "n"}}, {"ZCARD", {}}, {"ZSCORE", {"m"}}, {"ZMSCORE", {"m", "n"}}, {"ZRANK", {"m"}},
      {"ZREVRANK", {"n"}}, {"ZCOUNT", {"-inf", "+inf", "(1", "2"}}, {"ZLEXCOUNT", {"-", "+", "[m", "(n"}},
      {"ZRANGE", {"0", "-1", "WITHSCORES", "BYSCORE", "REV", "(1", "+inf", "LIMIT", "1"}},
      {"ZRANGEBYSCORE", {"-inf", "+inf", "WITHSCORES", "LIMIT", "0", "1"}}, {"ZREVRANGE", {"0", "-1", "WITHSCORES"}},
      {"ZRANGEBYLEX", {"-", "+", "[m"}}, {"ZREMRANGEBYRANK", {"0", "1", "-1"}}, {"ZREMRANGEBYSCORE", {"-inf", "(2"}},
      {"ZPOPMIN", {"1", "2"}}, {"ZPOPMAX", {"1"}}, {"ZMPOP", {"1", "2", "MIN", "MAX", "COUNT", "2"}},
      {"ZUNION", {"2", "WITHSCORES", "AGGREGATE", "MAX"}}, {"ZINTER", {"2", "WEIGHTS", "1", "2"}}, {"ZDIFF", {"2"}},
      {"ZUNIONSTORE", {"2"}}, {"ZINTERSTORE", {"2", "AGGREGATE", "MIN"}}, {"ZDIFFSTORE", {"1"}}, {"ZINTERCARD", {"2"}},
      {"ZRANGESTORE", {"0", "-1"}},
      {"SORT", {"ALPHA", "DESC", "LIMIT", "0", "2"}},  // no BY: it may keep a set's own order
      // streams: explicit IDs only ("*" is the clock), no reply that shows idle times or tree sizes
      {"XADD", {"1-1", "2-*", "5", "9-9", "NOMKSTREAM", "MAXLEN", "MINID", "~", "=", "1", "LIMIT", "f", "v"}},
      {"XLEN", {}}, {"XRANGE", {"-", "+", "(1-1", "5", "COUNT", "2", "0"}}, {"XREVRANGE", {"+", "-", "(9-9", "COUNT", "1"}},
      {"XDEL", {"1-1", "5-0", "bad"}}, {"XTRIM", {"MAXLEN", "MINID", "~", "=", "1", "0", "LIMIT", "5-0"}},
      {"XREAD", {"COUNT", "1", "STREAMS", "0", "$", "1-1"}}, {"XSETID", {"9-9", "5", "ENTRIESADDED", "MAXDELETEDID", "3"}},
      {"XGROUP", {"CREATE", "SETID", "DESTROY", "CREATECONSUMER", "DELCONSUMER", "g", "0", "$", "MKSTREAM"}},
      {"XREADGROUP", {"GROUP", "g", "c", "COUNT", "1", "STREAMS", ">", "0", "NOACK"}}, {"XACK", {"g", "1-1", "5-0"}},
      {"XCLAIM", {"g", "c", "0", "1-1", "JUSTID", "FORCE"}}, {"XAUTOCLAIM", {"g", "c", "0", "0-0", "COUNT", "1", "JUSTID"}},
  };
  return shapes;
}

// Keys on different workers and two sharing a hash tag.
const std::vector<std::string> kKeys = {"k1", "k2", "{t}a", "{t}b", "n", "s", "h"};
const std::vector<std::string> kValues = {"v", "", "100000", "-5", "9223372036854775806", "1.5", "abc", "3.0e2", "  7"};

std::vector<std::string> randomCommand(std::mt19937& rng) {
  auto pick = [&rng](const std::vector<std::string>& from) { return from[rng() % from.size()]; };
  const CommandShape& shape = commandShapes()[rng() % commandShapes().size()];
  std::vector<std::string> command{shape.name};
  if (rng() % 5 == 0) {  // command names are case-insensitive
    for (char& c : command[0]) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  const std::size_t arguments = std::vector<std::size_t>{0, 1, 1, 2, 2, 3, 4, 5}[rng() % 8];
  for (std::size_t i = 0; i < arguments; ++i) {
    const unsigned roll = rng() % 10;
    if (i == 0 && roll < 8) command.push_back(pick(kKeys));
    else if (roll < 4 && !shape.words.empty()) command.push_back(pick(shape.words));
    else if (roll < 7) command.push_back(pick(kValues));
    else command.push_back(pick(kKeys));
  }
  return command;
}

bool unorderedReply(const std::vector<std::string>& command) {
  for (const CommandShape& shape : commandShapes()) {
    if (!shape.unordered || shape.name.size() != command[0].size()) continue;
    if (std::equal(shape.name.begin(), shape.name.end(), command[0].begin(),
                   [](char a, char b) { return std::toupper(static_cast<unsigned char>(a)) == std::toupper(static_cast<unsigned char>(b)); })) {
      return true;
    }
  }
  return false;
}

// A reply's top-level elements, sorted (an error or scalar stays as it is).
std::vector<std::string> sortedElements(const std::string& reply) {
  std::vector<std::string> elements;
  for (std::string_view e : resp::replyElements(reply)) elements.emplace_back(e);
  if (elements.empty()) elements.push_back(reply);
  std::sort(elements.begin(), elements.end());
  return elements;
}

std::string describe(const std::vector<std::string>& command) {
  std::string text;
  for (const std::string& word : command) text += (text.empty() ? "" : " ") + ("'" + word + "'");
  return text;
}

TEST(DifferentialRandom, RandomCommandsGiveTheSameRepliesAndLeaveTheSameValues) {
  RedisServer redis;
  KeyloopServer keyloop("workers: 4\n");
  RespConnection toRedis(redis.port), toKeyloop(keyloop.port);
  std::vector<std::string> mget{"MGET"};
  mget.insert(mget.end(), kKeys.begin(), kKeys.end());
  auto sameValues = [&] {
    if (toKeyloop.command(mget) != toRedis.command(mget)) return false;
    for (const std::string& key : kKeys) {
      const std::string type = toRedis.command({"TYPE", key});
      if (toKeyloop.command({"TYPE", key}) != type) return false;
      if (type == "+hash\r\n" && toKeyloop.command({"HGETALL", key}) != toRedis.command({"HGETALL", key})) return false;
      if (type == "+list\r\n" && toKeyloop.command({"LRANGE", key, "0", "-1"}) != toRedis.command({"LRANGE", key, "0", "-1"})) {
        return false;
      }
      if (type == "+zset\r\n" && toKeyloop.command({"ZRANGE", key, "0", "-1", "WITHSCORES"}) !=
                                       toRedis.command({"ZRANGE", key, "0", "-1", "WITHSCORES"})) {
        return false;
      }
      if (type == "+stream\r\n" && toKeyloop.command({"XRANGE", key, "-", "+"}) != toRedis.command({"XRANGE", key, "-", "+"})) {
        return false;
      }
      if (type == "+set\r\n" && sortedElements(toKeyloop.command({"SMEMBERS", key})) !=
                                      sortedElements(toRedis.command({"SMEMBERS", key}))) {
        return false;
      }
    }
    return true;
  };
  int compared = 0;
  for (const unsigned seed : {1u, 2u, 3u}) {
    ASSERT_EQ(toRedis.command({"FLUSHALL"}), toKeyloop.command({"FLUSHALL"}));
    std::mt19937 rng(seed);
    std::vector<std::string> recent;
    for (int i = 0; i < 4000; ++i) {
      const std::vector<std::string> command = randomCommand(rng);
      recent.push_back(describe(command));
      if (recent.size() > 20) recent.erase(recent.begin());
      auto history = [&] {
        std::string text = "seed " + std::to_string(seed) + ", command " + std::to_string(i) + "; last commands:";
        for (const std::string& line : recent) text += "\n  " + line;
        return text;
      };
      const std::string expected = toRedis.command(command);
      if (unorderedReply(command)) {
        ASSERT_EQ(sortedElements(toKeyloop.command(command)), sortedElements(expected)) << history();
      } else {
        ASSERT_EQ(toKeyloop.command(command), expected) << history();
      }
      ++compared;
      if (i % 10 == 0) {
        ASSERT_TRUE(sameValues()) << "values differ: " << history();
      }
    }
  }
  EXPECT_EQ(compared, 12000);
}

}  // namespace
}  // namespace keyloop::test
