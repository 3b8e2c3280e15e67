// Timers: deadline order, cancellation, repetition, changes from callbacks.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

#include "common/loop/handles.h"

namespace keyloop {
namespace {

using std::chrono::milliseconds;

TEST(TimerHeap, PopsInDeadlineThenSequenceOrderUnderRandomRemovals) {
  std::mt19937 rng(7);
  std::vector<TimerNode> nodes(2000);
  TimerHeap heap;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].due = TimePoint(milliseconds(rng() % 100));
    nodes[i].seq = i;
    heap.push(&nodes[i]);
  }
  for (std::size_t i = 0; i < nodes.size(); i += 3) heap.remove(&nodes[i]);
  heap.remove(&nodes[0]);  // removing twice is harmless
  std::vector<const TimerNode*> popped;
  while (TimerNode* top = heap.top()) {
    popped.push_back(top);
    heap.remove(top);
  }
  EXPECT_EQ(popped.size(), nodes.size() - (nodes.size() + 2) / 3);
  EXPECT_TRUE(std::is_sorted(popped.begin(), popped.end(), [](auto* a, auto* b) {
    return a->due != b->due ? a->due < b->due : a->seq < b->seq;
  }));
}

TEST(Timer, TenThousandRandomTimersFireInDeadlineOrderAndCancelledNeverFire) {
  Loop loop;
  std::mt19937 rng(42);
  constexpr int kTimers = 10000;
  std::vector<std::unique_ptr<Timer>> timers;
  std::vector<bool> cancelled(kTimers, false);
  struct Firing {
    int index;
    TimePoint deadline;
    TimePoint firedAt;
  };
  std::vector<Firing> fired;
  for (int i = 0; i < kTimers; ++i) {
    timers.push_back(std::make_unique<Timer>(loop));
    Timer* t = timers.back().get();
    t->start(milliseconds(rng() % 50), [&fired, t, i] {
      fired.push_back({i, t->deadline(), Clock::now()});
    });
  }
  for (int i = 0; i < kTimers; i += 5) {
    timers[static_cast<std::size_t>(i)]->stop();
    cancelled[static_cast<std::size_t>(i)] = true;
  }
  loop.run();

  EXPECT_EQ(fired.size(), static_cast<std::size_t>(kTimers - kTimers / 5));
  for (std::size_t k = 0; k < fired.size(); ++k) {
    EXPECT_FALSE(cancelled[static_cast<std::size_t>(fired[k].index)]);
    EXPECT_GE(fired[k].firedAt, fired[k].deadline) << "timer fired early";
    if (k > 0) {
      const Firing& prev = fired[k - 1];
      // Same deadline: start order (all were started in index order).
      bool inOrder = prev.deadline < fired[k].deadline ||
                     (prev.deadline == fired[k].deadline && prev.index < fired[k].index);
      EXPECT_TRUE(inOrder) << "firing " << k;
    }
  }
}

TEST(Timer, RepeatingTimerFiresUntilStoppedAndKeepsItsInterval) {
  Loop loop;
  Timer timer(loop);
  std::vector<TimePoint> firings;
  timer.start(milliseconds(5), milliseconds(5), [&] {
    firings.push_back(Clock::now());
    if (firings.size() == 5) timer.stop();
  });
  loop.run();
  ASSERT_EQ(firings.size(), 5u);
  for (std::size_t i = 1; i < firings.size(); ++i) {
    EXPECT_GE(firings[i] - firings[i - 1], milliseconds(4));  // ms-granular poll
  }
}

TEST(Timer, StoppingAnotherDueTimerFromACallbackKeepsItFromFiring) {
  Loop loop;
  Timer first(loop), second(loop);
  bool secondFired = false;
  first.start(Duration::zero(), [&] { second.stop(); });
  second.start(Duration::zero(), [&] { secondFired = true; });
  loop.run();
  EXPECT_FALSE(secondFired);
}

TEST(Timer, DestroyingATimerInsideItsOwnCallbackIsSafe) {
  Loop loop;
  auto timer = std::make_unique<Timer>(loop);
  int fired = 0;
  timer->start(Duration::zero(), milliseconds(1), [&] {
    ++fired;
    timer.reset();
  });
  loop.run();
  EXPECT_EQ(fired, 1);
  EXPECT_FALSE(loop.alive());
}

TEST(Timer, ZeroTimeoutTimerRearmedFromItsCallbackRunsOncePerIteration) {
  Loop loop;
  Timer timer(loop);
  int fired = 0;
  timer.start(Duration::zero(), [&] {
    ++fired;
    timer.rearm(Duration::zero());
  });
  EXPECT_EQ(loop.run(std::size_t{10}), 10u);
  EXPECT_EQ(fired, 10);
}

TEST(Timer, RestartMovesTheDeadline) {
  Loop loop;
  Timer late(loop), early(loop);
  std::vector<int> order;
  late.start(milliseconds(1), [&] { order.push_back(1); });
  early.start(milliseconds(30), [&] { order.push_back(2); });
  late.start(milliseconds(60), [&] { order.push_back(1); });
  loop.run();
  EXPECT_EQ(order, (std::vector<int>{2, 1}));
}

}  // namespace
}  // namespace keyloop
