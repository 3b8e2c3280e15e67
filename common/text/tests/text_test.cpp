#include "common/text/text.h"

#include <gtest/gtest.h>

namespace keyloop {
namespace {

TEST(Args, IntegersAreAsStrictAsRedisString2ll) {
  EXPECT_EQ(parseInteger("0"), 0);
  EXPECT_EQ(parseInteger("-12"), -12);
  EXPECT_EQ(parseInteger("9223372036854775807"), 9223372036854775807LL);
  EXPECT_EQ(parseInteger("-9223372036854775808"), std::numeric_limits<long long>::min());
  for (const char* bad : {"", "-", "+1", " 1", "1 ", "01", "-0", "1.0", "9223372036854775808", "abc"}) {
    EXPECT_EQ(parseInteger(bad), std::nullopt) << bad;
  }
}

TEST(Args, LongDoublesFormatLikeRedis) {
  EXPECT_EQ(formatLongDouble(10.6L), "10.6");
  EXPECT_EQ(formatLongDouble(static_cast<long double>(10.6)), "10.59999999999999964");
  EXPECT_EQ(formatLongDouble(3.0L), "3");
  EXPECT_EQ(formatLongDouble(-0.0L), "0");
  EXPECT_EQ(formatLongDouble(5000.0L), "5000");
  EXPECT_EQ(parseLongDouble(" 1"), std::nullopt);
  EXPECT_EQ(parseLongDouble("nan"), std::nullopt);
  EXPECT_EQ(parseLongDouble("1e5000"), std::nullopt);
  EXPECT_EQ(parseLongDouble("2.5"), 2.5L);
}

TEST(Args, GlobMatchesLikeRedis) {
  EXPECT_TRUE(globMatch("h?llo", "hello"));
  EXPECT_TRUE(globMatch("h*llo", "heeeello"));
  EXPECT_TRUE(globMatch("h[ae]llo", "hallo"));
  EXPECT_FALSE(globMatch("h[^e]llo", "hello"));
  EXPECT_TRUE(globMatch("h[a-b]llo", "hbllo"));
  EXPECT_TRUE(globMatch("k\\[y\\]", "k[y]"));
  EXPECT_FALSE(globMatch("a*", "b"));
  EXPECT_TRUE(globMatch("SAVE", "save", true));
  EXPECT_FALSE(globMatch(std::string(50, '*') + "x", std::string(5000, 'a')));  // terminates
}

}  // namespace
}  // namespace keyloop
