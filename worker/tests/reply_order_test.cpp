// ReplyOrder: replies leave in request order whatever order they are
// computed in, including local replies queued behind forwarded ones and a
// pipeline long enough that the queue compacts itself on the way.
#include "worker/connection/reply_order.h"

#include <gtest/gtest.h>

#include <random>

namespace keyloop {
namespace {

TEST(ReplyOrder, RepliesLeaveInRequestOrder) {
  std::string output;
  ReplyOrder order(output);
  const std::uint64_t first = order.reserve(), second = order.reserve();
  output += "+local\r\n";
  order.queueLocal(0);  // behind the two forwarded ones
  EXPECT_EQ(output, "");
  EXPECT_FALSE(order.fill(second, ":2\r\n"));  // waits for the first
  EXPECT_EQ(output, "");
  EXPECT_TRUE(order.fill(first, ":1\r\n"));
  EXPECT_EQ(output, ":1\r\n:2\r\n+local\r\n");
  EXPECT_TRUE(order.empty());
}

TEST(ReplyOrder, ABarrierHoldsUntilItsPlaceIsFilled) {
  std::string output;
  ReplyOrder order(output);
  const std::uint64_t place = order.reserve();
  order.holdUntilFilled(place);
  EXPECT_TRUE(order.barrierUp());
  order.fill(place, "+OK\r\n");
  EXPECT_FALSE(order.barrierUp());
  EXPECT_EQ(output, "+OK\r\n");
}

// Thousands of places, local and forwarded mixed, the forwarded filled in
// a shuffled order a few at a time and never letting the queue run empty:
// every reply comes out once, in order.
TEST(ReplyOrder, ALongPipelineThatNeverRunsEmptyStaysInOrder) {
  std::string output;
  ReplyOrder order(output);
  std::mt19937 random(7);
  std::vector<std::pair<std::uint64_t, std::string>> open;
  std::string expected;
  for (int i = 0; i < 5000; ++i) {
    const std::string reply = "+" + std::to_string(i) + std::string(static_cast<std::size_t>(i % 40), 'x') + "\r\n";
    expected += reply;
    if (random() % 3 == 0 && !order.empty()) {
      const std::size_t from = output.size();
      output += reply;
      order.queueLocal(from);
    } else {
      open.emplace_back(order.reserve(), reply);
    }
    // Fill some of the open places, in any order, but keep one open.
    while (open.size() > 1 && random() % 2 == 0) {
      const std::size_t pick = random() % (open.size() - 1) + 1;  // never the oldest open one
      order.fill(open[pick].first, open[pick].second);
      open.erase(open.begin() + static_cast<std::ptrdiff_t>(pick));
    }
    if (open.size() > 8) {  // the oldest too, now and then
      order.fill(open.front().first, open.front().second);
      open.erase(open.begin());
    }
  }
  while (!open.empty()) {
    order.fill(open.front().first, open.front().second);
    open.erase(open.begin());
  }
  EXPECT_TRUE(order.empty());
  EXPECT_EQ(output, expected);
}

}  // namespace
}  // namespace keyloop
