// Scripts as applications write them, against the real binary and a real
// redis-server: cmsgpack and struct give the same bytes as Redis's for
// random nested values, random formats and random (often broken) input.
// Seeded: a failure prints the script, and the same seed replays it.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/resp_connection.h"

namespace keyloop::test {
namespace {

// A Lua expression for a random value: numbers at every encoding's edge,
// floats and doubles, binary strings, booleans, nil holes, arrays, maps
// and mixed tables, sometimes deeper than cmsgpack's 16 levels.
class LuaValues {
 public:
  explicit LuaValues(std::uint64_t seed) : rng_(seed) {}

  std::string value(int depth) {
    switch (pick(depth < 20 ? 7 : 5)) {
      case 0: return number();
      case 1: return string();
      case 2: return pick(2) ? "true" : "false";
      case 3: return pick(4) == 0 ? "nil" : number();
      case 4: return number();
      case 5: return array(depth + 1);
      default: return map(depth + 1);
    }
  }

  std::string number() {
    static const char* const kEdges[] = {
        "0", "1", "-1", "127", "128", "255", "256", "65535", "65536", "4294967295", "4294967296",
        "-32", "-33", "-128", "-129", "-32768", "-32769", "-2147483648", "-2147483649", "2^53", "-2^53",
        "2^63", "-2^63", "2^64", "0.5", "0.1", "-2.25", "1e300", "-1e-300", "1/0", "-1/0", "0/0", "-0.0",
        "3.4028234663852886e38", "3.4028235677973366e38", "1.401298464324817e-45"};
    if (pick(3) > 0) return kEdges[pick(std::size(kEdges))];
    if (pick(2)) return std::to_string(static_cast<std::int64_t>(rng_()) >> pick(64));
    return std::to_string(std::uniform_real_distribution<double>(-1e6, 1e6)(rng_));
  }

  // string.char(...) of random bytes, or a long run of one byte.
  std::string string() {
    static const std::size_t kLongs[] = {31, 32, 255, 256, 65535, 65536};
    if (pick(5) == 0) return "string.rep('x', " + std::to_string(kLongs[pick(std::size(kLongs))]) + ")";
    const std::size_t n = pick(12);
    if (n == 0) return "''";
    std::string text = "string.char(";
    for (std::size_t i = 0; i < n; ++i) text += (i ? "," : "") + std::to_string(pick(256));
    return text + ")";
  }

  std::string array(int depth) {
    std::string text = "{";
    for (std::size_t i = 0, n = pick(depth > 6 ? 2 : 6); i < n; ++i) text += value(depth) + ",";
    return text + "}";
  }

  std::string map(int depth) {
    std::string text = "{";
    for (std::size_t i = 0, n = pick(depth > 6 ? 2 : 5); i < n; ++i) {
      const std::string key = pick(2) ? "'k" + std::to_string(pick(8)) + "'" : number();
      // nil and NaN keys are Lua errors at construction: keep to real keys.
      if (key == "0/0") continue;
      text += "[" + key + "]=" + value(depth) + ",";
    }
    return text + "}";
  }

  // Bytes that look like MessagePack: real headers, lengths that lie,
  // types Redis does not decode (bin, ext), cut-off tails.
  std::string messagePackBytes() {
    static const unsigned char kHeads[] = {0x00, 0x7f, 0x80, 0x81, 0x8f, 0x90, 0x91, 0x9f, 0xa0, 0xa3, 0xbf,
                                           0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc7, 0xca, 0xcb, 0xcc, 0xcd, 0xce,
                                           0xcf, 0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd9, 0xda, 0xdb, 0xdc, 0xdd,
                                           0xde, 0xdf, 0xe0, 0xff};
    std::string bytes;
    for (std::size_t i = 0, n = 1 + pick(24); i < n; ++i) {
      bytes += static_cast<char>(pick(3) ? kHeads[pick(std::size(kHeads))] : pick(256));
    }
    return bytes;
  }

  std::string structFormat() {
    static const char* const kOptions[] = {"<", ">", "!", "!4", "!2", "!3", " ", "b", "B", "h", "H", "l", "L",
                                           "T", "i", "I", "i3", "I5", "i9", "I16", "i33", "f", "d", "c", "c2",
                                           "c0", "s", "x", "z", "9"};
    std::string format;
    for (std::size_t i = 0, n = 1 + pick(6); i < n; ++i) format += kOptions[pick(std::size(kOptions))];
    return format;
  }

  std::string bytes(std::size_t most) {
    std::string out;
    for (std::size_t i = 0, n = pick(most + 1); i < n; ++i) out += static_cast<char>(pick(4) ? pick(256) : 0);
    return out;
  }

  std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }

 private:
  std::mt19937_64 rng_;
};

struct LuaLibraries : ::testing::Test {
  RedisServer redis;
  KeyloopServer keyloop{"workers: 2\n"};
  RespConnection toRedis{redis.port};
  RespConnection toKeyloop{keyloop.port};

  // The same EVAL on both servers; the replies must be the same bytes.
  void expectSame(const std::string& script, const std::vector<std::string>& args = {}) {
    std::vector<std::string> call{"EVAL", script, "0"};
    call.insert(call.end(), args.begin(), args.end());
    const std::string theirs = toRedis.command(call);
    const std::string mine = toKeyloop.command(call);
    ASSERT_FALSE(theirs.empty()) << script;
    EXPECT_EQ(mine, theirs) << script;
  }
};

constexpr std::uint64_t kSeed = 3600;

TEST_F(LuaLibraries, CmsgpackPacksRandomValuesAsRedisDoes) {
  LuaValues values(kSeed);
  for (int i = 0; i < 400 && !HasFailure(); ++i) {
    std::string arguments = values.value(0);
    for (std::size_t n = values.pick(3); n > 0; --n) arguments += ", " + values.value(0);
    expectSame("return cmsgpack.pack(" + arguments + ")");
    // What comes back from unpacking packs to the same bytes again.
    expectSame("return cmsgpack.pack(cmsgpack.unpack(cmsgpack.pack(" + arguments + ")))");
  }
  // Past 16 levels a table packs as nil; a table that holds itself stops there.
  std::string deep = "1";
  for (int level = 0; level < 18; ++level) deep = "{" + deep + ", 'l" + std::to_string(level) + "'}";
  expectSame("return cmsgpack.pack(" + deep + ")");
  expectSame("local a = {1, {x = 2}} a[3] = a a[2].y = a return cmsgpack.pack(a)");
}

TEST_F(LuaLibraries, CmsgpackUnpacksRandomBytesAsRedisDoes) {
  LuaValues values(kSeed + 1);
  const std::string script =
      "local r = {pcall(cmsgpack.unpack, ARGV[1])} "
      "local one = {pcall(cmsgpack.unpack_one, ARGV[1], tonumber(ARGV[2]))} "
      "local some = {pcall(cmsgpack.unpack_limit, ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[2]))} "
      "return cmsgpack.pack(r, one, some)";
  for (int i = 0; i < 600 && !HasFailure(); ++i) {
    const std::string input = values.messagePackBytes();
    const std::string offset = std::to_string(static_cast<int>(values.pick(input.size() + 3)) - 1);
    const std::string limit = std::to_string(static_cast<int>(values.pick(5)) - 1);
    expectSame(script, {input, offset, limit});
  }
}

TEST_F(LuaLibraries, StructPacksUnpacksAndSizesRandomFormatsAsRedisDoes) {
  LuaValues values(kSeed + 2);
  for (int i = 0; i < 500 && !HasFailure(); ++i) {
    const std::string format = values.structFormat();
    std::string arguments;
    for (std::size_t n = values.pick(5); n > 0; --n) {
      arguments += ", " + (values.pick(3) ? values.number() : "ARGV[2]");
    }
    const std::string data = values.bytes(40);
    expectSame("return cmsgpack.pack({pcall(struct.pack, ARGV[1]" + arguments + ")}, "
               "{pcall(struct.unpack, ARGV[1], ARGV[3])}, {pcall(struct.unpack, ARGV[1], ARGV[3], 2)}, "
               "{pcall(struct.size, ARGV[1])})",
               {format, values.bytes(6), data});
  }
}

}  // namespace
}  // namespace keyloop::test
