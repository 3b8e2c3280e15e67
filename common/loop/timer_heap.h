// TimerHeap: a binary min-heap of timer nodes ordered by (deadline, seq).
//
// Intrusive: each node stores its own heap index, so removing an arbitrary
// timer is O(log n) with no search. `seq` breaks deadline ties in start order,
// which keeps firing order deterministic (libuv's heap-inl.h does the same).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/loop/clock.h"

namespace keyloop {

struct TimerNode {
  static constexpr std::size_t kNotInHeap = static_cast<std::size_t>(-1);
  TimePoint due{};
  std::uint64_t seq = 0;
  std::size_t heapIndex = kNotInHeap;

  bool inHeap() const { return heapIndex != kNotInHeap; }
};

class TimerHeap {
 public:
  void push(TimerNode* node);
  void remove(TimerNode* node);  // no-op when the node is not in the heap
  TimerNode* top() const { return nodes_.empty() ? nullptr : nodes_.front(); }
  bool empty() const { return nodes_.empty(); }
  std::size_t size() const { return nodes_.size(); }

 private:
  static bool before(const TimerNode* a, const TimerNode* b) {
    return a->due != b->due ? a->due < b->due : a->seq < b->seq;
  }
  void place(std::size_t index, TimerNode* node);
  void siftUp(std::size_t index);
  void siftDown(std::size_t index);

  std::vector<TimerNode*> nodes_;
};

}  // namespace keyloop
