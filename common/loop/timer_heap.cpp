#include "common/loop/timer_heap.h"

namespace keyloop {

void TimerHeap::place(std::size_t index, TimerNode* node) {
  nodes_[index] = node;
  node->heapIndex = index;
}

void TimerHeap::push(TimerNode* node) {
  nodes_.push_back(node);
  node->heapIndex = nodes_.size() - 1;
  siftUp(node->heapIndex);
}

void TimerHeap::remove(TimerNode* node) {
  if (!node->inHeap()) return;
  std::size_t index = node->heapIndex;
  node->heapIndex = TimerNode::kNotInHeap;
  TimerNode* last = nodes_.back();
  nodes_.pop_back();
  if (last == node) return;
  place(index, last);
  // The moved node may belong above or below its new slot; only one applies.
  siftUp(index);
  siftDown(last->heapIndex);
}

void TimerHeap::siftUp(std::size_t index) {
  TimerNode* node = nodes_[index];
  while (index > 0) {
    std::size_t parent = (index - 1) / 2;
    if (!before(node, nodes_[parent])) break;
    place(index, nodes_[parent]);
    index = parent;
  }
  place(index, node);
}

void TimerHeap::siftDown(std::size_t index) {
  TimerNode* node = nodes_[index];
  const std::size_t n = nodes_.size();
  for (;;) {
    std::size_t child = 2 * index + 1;
    if (child >= n) break;
    if (child + 1 < n && before(nodes_[child + 1], nodes_[child])) ++child;
    if (!before(nodes_[child], node)) break;
    place(index, nodes_[child]);
    index = child;
  }
  place(index, node);
}

}  // namespace keyloop
