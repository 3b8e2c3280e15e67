// RequestParser: any split of the input gives the same requests; garbage
// gives Redis's protocol errors and never a crash.
#include "common/resp/request_parser.h"

#include <gtest/gtest.h>

#include <array>
#include <random>

namespace keyloop::resp {
namespace {

using Requests = std::vector<std::vector<std::string>>;

// Feeds `input` in the given chunk sizes, as a connection would, and returns
// the requests found; stops at an error and reports it in `error`.
Requests feed(const std::string& input, const std::vector<std::size_t>& chunks, std::string* error = nullptr) {
  RequestParser parser;
  Requests out;
  std::string buffer;
  std::size_t start = 0, fed = 0, chunk = 0;
  while (fed < input.size()) {
    const std::size_t n = std::min(chunks.empty() ? input.size() : chunks[chunk++ % chunks.size()], input.size() - fed);
    buffer.append(input, fed, n);
    fed += n;
    for (;;) {
      ParseStatus status = parser.parse(std::string_view(buffer).substr(start));
      if (status == ParseStatus::NeedMore) break;
      if (status == ParseStatus::Error) {
        if (error) *error = parser.error();
        return out;
      }
      if (!parser.args().empty()) {
        out.emplace_back(parser.args().begin(), parser.args().end());
      }
      start += parser.consumed();
      if (start == buffer.size()) break;
    }
  }
  return out;
}

std::string multibulk(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

TEST(RequestParser, MultibulkAndInlineInOnePipeline) {
  const std::string input = multibulk({"SET", "k", "v\r\nwith crlf"}) + "GET k\r\n" + "PING\n";
  EXPECT_EQ(feed(input, {}), (Requests{{"SET", "k", "v\r\nwith crlf"}, {"GET", "k"}, {"PING"}}));
}

TEST(RequestParser, EveryByteByByteSplitGivesTheSameRequests) {
  const std::string input = multibulk({"SET", "key", std::string(100, 'x')}) + "ECHO \"a b\"\r\n" +
                            multibulk({"", "empty first"});
  const Requests whole = feed(input, {});
  ASSERT_EQ(whole.size(), 3u);
  EXPECT_EQ(feed(input, {1}), whole);
  EXPECT_EQ(feed(input, {2, 3, 5, 7}), whole);
}

TEST(RequestParser, RandomSplitsOfALongPipeline) {
  std::mt19937 rng(1);
  std::string input;
  Requests expected;
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::string> args{"SET", "key:" + std::to_string(i), std::string(rng() % 300, 'a' + i % 26)};
    expected.push_back(args);
    input += multibulk(args);
  }
  for (int trial = 0; trial < 5; ++trial) {
    std::vector<std::size_t> chunks;
    for (int c = 0; c < 50; ++c) chunks.push_back(1 + rng() % 4000);
    EXPECT_EQ(feed(input, chunks), expected);
  }
}

// What the real parser finds in the whole requests at the start of `input`
// (at most `limit`): the second argument of each, and the bytes they span.
std::pair<std::vector<std::string>, std::size_t> parsedSeconds(std::string_view input, std::size_t limit) {
  RequestParser parser;
  std::vector<std::string> seconds;
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < limit && bytes < input.size() && input[bytes] == '*'; ++i) {
    if (parser.parse(input.substr(bytes)) != ParseStatus::Complete) break;
    if (parser.args().size() > kLookaheadMaxArguments) break;
    if (parser.args().size() > 1) seconds.emplace_back(parser.args()[1]);
    bytes += parser.consumed();
  }
  return {seconds, bytes};
}

TEST(Lookahead, AgreesWithTheParserOnEveryPrefixOfAPipeline) {
  std::mt19937 rng(5);
  std::string input;
  for (int i = 0; i < 40; ++i) {
    std::vector<std::string> args{i % 7 == 0 ? "PING" : "GET"};
    for (std::size_t a = rng() % (i % 5 == 4 ? 8 : 4); a > 0; --a) {  // some past the limit
      args.push_back("k" + std::string(rng() % 20, 'a' + i % 26) + "\r\n");
    }
    input += multibulk(args);
  }
  std::array<std::string_view, 16> keys;
  for (std::size_t end = 0; end <= input.size(); ++end) {
    const std::string prefix = input.substr(0, end);  // exact size, so ASan sees over-reads
    const Lookahead found = peekSecondArguments(prefix, keys);
    const auto [expected, bytes] = parsedSeconds(prefix, keys.size());
    ASSERT_EQ(std::vector<std::string>(keys.begin(), keys.begin() + found.keys), expected) << end;
    ASSERT_EQ(found.bytes, bytes) << end;
  }
}

TEST(Lookahead, StopsAtAnythingButAPlainMultibulkRequest) {
  std::array<std::string_view, 4> keys;
  const std::string get = multibulk({"GET", "a"});
  EXPECT_EQ(peekSecondArguments(get + "GET b\r\n" + get, keys).bytes, get.size());
  for (const std::string bad : {"*x\r\n", "*-1\r\n", "*1\r\n$-1\r\n", "*2\r\n$3\rGET", "*1\r\n:1\r\n"}) {
    EXPECT_EQ(peekSecondArguments(get + bad, keys).bytes, get.size()) << bad;
  }
  std::string many;
  for (int i = 0; i < 10; ++i) many += get;
  const Lookahead found = peekSecondArguments(many, keys);
  EXPECT_EQ(found.keys, keys.size());
  EXPECT_EQ(found.bytes, keys.size() * get.size());
}

TEST(RequestParser, InlineQuotingFollowsRedisCli) {
  std::vector<std::string> args;
  ASSERT_TRUE(splitInlineArgs(R"(set "a b" 'c d' "\x41\n\t" 'it\'s' plain)", args));
  EXPECT_EQ(args, (std::vector<std::string>{"set", "a b", "c d", "A\n\t", "it's", "plain"}));
  args.clear();
  EXPECT_FALSE(splitInlineArgs(R"(set "unterminated)", args));
  EXPECT_FALSE(splitInlineArgs(R"(set "a"b)", args));
  EXPECT_FALSE(splitInlineArgs(R"(set 'a)", args));
}

struct BadInput {
  std::string bytes;
  std::string error;
};

TEST(RequestParser, MalformedFramesGiveRedisProtocolErrors) {
  const std::vector<BadInput> cases = {
      {"*abc\r\n", "Protocol error: invalid multibulk length"},
      {"*3000000000\r\n", "Protocol error: invalid multibulk length"},
      {"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$abc\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n$600000000\r\n", "Protocol error: invalid bulk length"},
      {"*1\r\n:1\r\n", "Protocol error: expected '$', got ':'"},
      {"ECHO \"open\r\n", "Protocol error: unbalanced quotes in request"},
      {std::string(70000, 'a'), "Protocol error: too big inline request"},
      {"*" + std::string(70000, '1'), "Protocol error: too big mbulk count string"},
      {"*1\r\n$" + std::string(70000, '1'), "Protocol error: too big bulk count string"},
  };
  for (const BadInput& c : cases) {
    std::string error;
    feed(c.bytes, {}, &error);
    EXPECT_EQ(error, c.error) << c.bytes.substr(0, 40);
  }
}

TEST(RequestParser, RandomGarbageNeverCrashes) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    std::string garbage(1 + rng() % 2000, '\0');
    const std::string alphabet = "*$\r\n0123456789-abc \"'\\x";
    for (char& c : garbage) c = alphabet[rng() % alphabet.size()];
    std::string error;
    feed(garbage, {1 + rng() % 64}, &error);  // must return, ASan-clean
    EXPECT_TRUE(error.empty() || error.rfind("Protocol error: ", 0) == 0) << error;
  }
}

}  // namespace
}  // namespace keyloop::resp
