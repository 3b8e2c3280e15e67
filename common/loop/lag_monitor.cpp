#include "common/loop/lag_monitor.h"

namespace keyloop {

LagMonitor::LagMonitor(Loop& loop, Duration interval) : timer_(loop), interval_(interval) {
  timer_.unref();
}

void LagMonitor::start() {
  timer_.start(interval_, [this] { onTimer(); });
}

void LagMonitor::onTimer() {
  // The real clock, not the loop's cached one: timers that ran before us in
  // this same phase made us later still, and that is lag too.
  const Duration lag = Clock::now() - timer_.deadline();
  histogram_.observe(lag);
  if (observer_) observer_(lag);
  // One-shot re-armed from loop.now(): lateness never accumulates.
  timer_.rearm(interval_);
}

}  // namespace keyloop
