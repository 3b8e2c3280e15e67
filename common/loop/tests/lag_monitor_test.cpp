// LagMonitor and its histogram.
#include <gtest/gtest.h>

#include "common/loop/lag_monitor.h"

namespace keyloop {
namespace {

using std::chrono::milliseconds;

TEST(LatencyHistogram, BucketsCountsSumMaxAndQuantiles) {
  LatencyHistogram h;
  EXPECT_EQ(h.quantile(0.99), 0);
  for (int i = 0; i < 98; ++i) h.observe(std::chrono::microseconds(30));  // <= 50 µs
  h.observe(milliseconds(3));                                             // <= 5 ms
  h.observe(std::chrono::seconds(4));                                     // +Inf
  EXPECT_EQ(h.count, 100u);
  EXPECT_EQ(h.buckets[0], 98u);
  EXPECT_EQ(h.cumulative(5), 98u);  // <= 2.5 ms
  EXPECT_EQ(h.cumulative(6), 99u);  // <= 5 ms
  EXPECT_EQ(h.cumulative(LatencyHistogram::kBounds.size()), 100u);
  EXPECT_DOUBLE_EQ(h.maxSeconds(), 4.0);
  EXPECT_NEAR(h.sumSeconds(), 98 * 30e-6 + 3e-3 + 4.0, 1e-9);
  EXPECT_LE(h.quantile(0.5), 50e-6);
  EXPECT_GT(h.quantile(0.99), 2.5e-3);
  EXPECT_LE(h.quantile(0.99), 5e-3);
  EXPECT_DOUBLE_EQ(h.quantile(1.0), 4.0);
}

TEST(LagMonitor, ABusyCallbackShowsUpAsLag) {
  Loop loop;
  LagMonitor monitor(loop);  // default 10 ms interval
  Duration worst{};
  monitor.setObserver([&](Duration lag) { worst = std::max(worst, lag); });
  monitor.start();
  Timer hog(loop), end(loop);
  hog.start(milliseconds(25), [] {
    auto until = Clock::now() + milliseconds(200);
    while (Clock::now() < until) {
    }
  });
  end.start(milliseconds(300), [] {});
  loop.run();  // the monitor is unreferenced: run ends with `end`
  const LatencyHistogram& h = monitor.histogram();
  EXPECT_GE(monitor.maxSeconds(), 0.150);
  EXPECT_GE(toSeconds(worst), 0.150);
  EXPECT_GE(h.count, 5u);
  EXPECT_GE(h.count - h.cumulative(10), 1u);  // at least one above 100 ms
  EXPECT_GE(monitor.p99(), 0.1);
  EXPECT_LT(monitor.p50(), 0.1);
}

}  // namespace
}  // namespace keyloop
