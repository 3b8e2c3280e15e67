// LagMonitor: measures event-loop lag, the reason keyloop exists.
//
// A one-shot timer re-armed every `interval`; each firing records how late it
// ran (real clock at the callback minus its deadline) into a histogram. A
// callback that hogs the loop for 200 ms shows up as a ~200 ms observation.
// The timer is unreferenced: monitoring never keeps a loop alive by itself.
#pragma once

#include <functional>

#include "common/loop/handles.h"
#include "common/loop/latency_histogram.h"

namespace keyloop {

class LagMonitor {
 public:
  using Observer = std::function<void(Duration lag)>;
  static constexpr Duration kDefaultInterval = std::chrono::milliseconds(10);

  explicit LagMonitor(Loop& loop, Duration interval = kDefaultInterval);

  void start();
  void stop() { timer_.stop(); }
  // Called with every observation, e.g. to mirror it into shared metrics.
  void setObserver(Observer observer) { observer_ = std::move(observer); }

  const LatencyHistogram& histogram() const { return histogram_; }
  double p50() const { return histogram_.quantile(0.50); }
  double p99() const { return histogram_.quantile(0.99); }
  double maxSeconds() const { return histogram_.maxSeconds(); }

 private:
  void onTimer();

  Timer timer_;
  Duration interval_;
  LatencyHistogram histogram_;
  Observer observer_;
};

}  // namespace keyloop
